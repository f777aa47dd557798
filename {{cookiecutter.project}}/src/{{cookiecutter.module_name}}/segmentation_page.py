"""The segmentation page: the parameter readings, tables and charts the segmentation report shows.

The notebook computes with ``segmentation`` (features, RFM segments, clusters, every sentence and
the decision) and calls these functions to show the result (``tests/test_segmentation_page.py``).

- Parameters: ``features_to_group_on``, ``clusters_wanted``.
- Tables: ``group_summary``, ``group_table``, ``share_records``.
- Charts: ``share_chart``, ``mix_chart``, ``separation_chart``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from . import plots
from . import segmentation as seg
from .errors import UserError

CHANNEL_PREFIX = "channel_"  # cluster_profiles' share of each sales channel


def features_to_group_on(feature_set: str, features: pd.DataFrame) -> tuple[str, ...]:
    """The customer features named by ``feature_set``: a preset (``seg.FEATURE_SETS``) or a
    comma-separated list of numeric columns of ``features``."""
    named = seg.FEATURE_SETS.get(feature_set.strip()) or tuple(
        name.strip() for name in feature_set.split(",") if name.strip()
    )
    known = list(features.select_dtypes("number").columns)
    unknown = [name for name in named if name not in known]
    if unknown or not named:
        raise UserError(
            f"feature_set={feature_set!r}: {', '.join(unknown) or 'nothing'} is not a customer "
            f"feature. Use 'behaviour', 'rfm' or a comma-separated list of: {', '.join(known)}."
        )
    return named


def clusters_wanted(n_clusters: object) -> int | str:
    """``n_clusters`` as ``fit_clusters`` takes it: a whole number, or a word such as "auto"."""
    text = str(n_clusters).strip()
    return int(text) if text.isdigit() else text


def share_records(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Each group's share of customers and of revenue, as the run index records them."""
    return [
        {"name": name, "customers_share": row.customers_share, "revenue_share": row.revenue_share}
        for name, row in summary.iterrows()
    ]


def group_summary(profiles: pd.DataFrame, n_customers: int, total_revenue: float) -> pd.DataFrame:
    """Per behaviour group (index: its name): customers, revenue and their shares of all
    customers and all revenue (not only the grouped ones, so they add up with the RFM view),
    largest revenue first."""
    return (
        profiles.set_index("name")[["customers", "revenue"]]
        .assign(
            customers_share=lambda t: t.customers / n_customers,
            revenue_share=lambda t: t.revenue / total_revenue if total_revenue else 0.0,
        )
        .sort_values("revenue", ascending=False)
    )


def _channel_columns(profiles: pd.DataFrame) -> list[str]:
    return [c for c in profiles.columns if c.startswith(CHANNEL_PREFIX)]


def group_table(profiles: pd.DataFrame, n_customers: int, total_revenue: float) -> pd.DataFrame:
    """The behaviour groups' table: size, shares, averages, main channel, favourite category and
    how to talk to them, largest share of revenue first."""
    channels = _channel_columns(profiles)
    top_channel = (
        profiles[channels].idxmax(axis=1).str.removeprefix(CHANNEL_PREFIX)
        if channels
        else pd.Series("", index=profiles.index)
    )
    return pd.DataFrame(
        {
            "group": profiles["name"],
            "customers": profiles["customers"],
            "% of customers": profiles["customers"] / n_customers,
            "% of revenue": profiles["revenue"] / total_revenue if total_revenue else 0.0,
            "orders per customer": profiles["mean_frequency"],
            "avg order value": profiles["mean_aov"],
            "revenue per customer": profiles["mean_monetary"],
            "days since last order": profiles["mean_recency_days"],
            "main channel": top_channel,
            "favourite category": profiles.get("top_category", ""),
            "how to talk to them": profiles["action"],
        }
    ).sort_values("% of revenue", ascending=False)


def share_chart(summary: pd.DataFrame, title: str, lookback_days: int | None) -> plt.Figure:
    """Side-by-side bars: share of customers vs share of revenue per group."""
    shares = summary[["customers_share", "revenue_share"]].rename(
        columns={"customers_share": "Customers", "revenue_share": "Revenue"}
    )
    ax = shares.iloc[::-1].plot.barh(figsize=(8.5, 0.42 * len(shares) + 1.6), width=0.75)
    ax.set_title(title)
    ax.set_xlabel(f"Share of all customers / of all {seg.revenue_words(lookback_days)}")
    ax.set_ylabel("")
    plots.pct_axis(ax, axis="x")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax.figure


def mix_chart(profiles: pd.DataFrame, grouped: pd.DataFrame) -> plt.Figure | None:
    """Each behaviour group's orders by sales channel and customers by favourite category
    (``grouped``: one row per grouped customer with its ``group``); None when the data has
    neither."""
    channels = _channel_columns(profiles)
    mix = seg.category_mix(grouped, "group") if "top_category" in grouped else None
    panels = [p for p in (channels, mix) if p is not None and len(p)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 0.5 * len(profiles) + 2.4))
    axes = [axes] if len(panels) == 1 else list(axes)
    order = profiles.sort_values("revenue", ascending=False)
    group_order = order["name"].iloc[::-1].tolist()
    if channels:
        shares = order.set_index("name")[channels].loc[group_order]
        shares.columns = [c.removeprefix(CHANNEL_PREFIX).replace("_", " ") for c in channels]
        shares.plot.barh(stacked=True, ax=axes[0], width=0.7, legend=False)
        axes[0].set_title("Orders by sales channel")
        axes[0].set_xlabel("Share of the group's orders")
        axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, frameon=False)
    if mix is not None:
        ax = axes[-1]
        # Other colours than the channels, so the two legends cannot be confused.
        colours = sns.color_palette("Set2", mix.shape[1])
        mix.loc[group_order].plot.barh(stacked=True, ax=ax, width=0.7, legend=False, color=colours)
        ax.set_title("Favourite category")
        ax.set_xlabel("Share of the group's customers")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=5, frameon=False)
    for ax in axes:
        plots.pct_axis(ax, axis="x")
        ax.set_ylabel("")
        ax.set_xlim(0, 1)
    if len(axes) > 1:
        axes[-1].set_yticklabels([])  # same groups, same order as the left panel
    return fig


def _silhouette_panel(ax: plt.Axes, result: seg.ClusterResult) -> None:
    if result.k_scores is None:  # k was given: one bar for it
        ax.bar([result.k], [result.silhouette], color=plots.PALETTE[1], width=0.6)
        ax.set_title(f"Separation with the {result.k} groups asked for")
    else:
        scores = result.k_scores.dropna()
        ax.plot(scores["k"], scores["silhouette"], marker="o", color=plots.PALETTE[0])
        chosen = f"chosen: {result.k} groups"
        ax.scatter(
            [result.k], [result.silhouette], s=160, color=plots.PALETTE[1], zorder=3, label=chosen
        )
        if "noise" in scores:
            noise = seg.NOISE_MULTIPLE * scores["noise"]
            ax.errorbar(
                scores["k"], scores["silhouette"], yerr=noise, fmt="none", ecolor="grey", capsize=3
            )
        ax.legend(frameon=False)
        ax.set_title("How well separated are k groups?")
    ax.set_xlabel("Number of groups (k)")
    ax.set_ylabel("Silhouette (higher is better)")
    ax.set_ylim(0, 1)


def separation_chart(
    result: seg.ClusterResult, projection: pd.DataFrame, group_order: Sequence[str]
) -> plt.Figure:
    """The silhouette for each k tried (or for the k asked for) beside the 2-D map of a sample
    of customers (``seg.projection_2d``), coloured by group in ``group_order``."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.4]})
    _silhouette_panel(axes[0], result)
    explained = projection.attrs["explained_variance_ratio"]
    sns.scatterplot(
        data=projection,
        x="pc1",
        y="pc2",
        hue="cluster",
        hue_order=list(group_order),
        s=12,
        alpha=0.6,
        linewidth=0,
        ax=axes[1],
    )
    axes[1].set_title(f"Behaviour map of {len(projection):,} random customers")
    axes[1].set_xlabel(f"Main direction 1 ({plots.format_pct(explained[0], 0)} of the variation)")
    axes[1].set_ylabel(f"Main direction 2 ({plots.format_pct(explained[1], 0)})")
    axes[1].legend(title="", frameon=False, markerscale=2, fontsize=9, loc="best")
    return fig
