"""The post-launch review's charts: each takes what ``post_launch`` and ``experiments`` computed
and returns a matplotlib figure (``tests/test_post_launch_charts.py``); numbers, sentences and
the verdict stay in ``post_launch`` and ``review_decision``.

- A/B test: ``metric_forest`` (change per metric), ``segment_forest`` (change per segment),
  ``lift_over_time_chart`` (cumulative lift), ``funnel_chart`` (funnel by variant).
- Before/after: ``pre_post_chart`` (both series around the launch), ``event_study_chart``.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import plots
from . import post_launch as pl

CLEAR, NOISE = plots.PALETTE[0], plots.PALETTE[5]  # a clear change, one within noise


def forest_plot(
    frame: pd.DataFrame,
    title: str,
    alpha: float,
    reference: float | None = None,
    ref_label: str = "",
) -> plt.Figure:
    """Relative lifts with their intervals, one row per line of ``frame`` (label, rel_lift,
    ci_low, ci_high, significant), top to bottom."""
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(frame) + 1.6))
    y = np.arange(len(frame))[::-1]
    colors = [CLEAR if s else NOISE for s in frame["significant"]]
    ax.hlines(y, frame["ci_low"], frame["ci_high"], color=colors, linewidth=3)
    ax.scatter(frame["rel_lift"], y, color=colors, s=55, zorder=3)
    ax.axvline(0, color="black", linewidth=1)
    if reference is not None:
        ax.axvline(
            reference, color=plots.PALETTE[1], linestyle="--", linewidth=1.2, label=ref_label
        )
    handles = [
        plt.Line2D([], [], color=CLEAR, marker="o", linewidth=3, label="clear change"),
        plt.Line2D([], [], color=NOISE, marker="o", linewidth=3, label="within noise"),
        *ax.get_legend_handles_labels()[0],
    ]
    below = (0.5, -0.18 - 0.6 / len(frame))
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=below, ncol=3, fontsize=9, frameon=False
    )
    ax.set_yticks(y, frame["label"])
    plots.pct_axis(ax, axis="x")
    ax.set_xlabel(f"Change, treatment vs control (relative, {1 - alpha:.0%} interval)")
    ax.set_title(title)
    return fig


def metric_forest(
    shown: pd.DataFrame, rows: list[dict], title: str, alpha: float, minimum_effect: float
) -> plt.Figure:
    """The change in each metric (``pl.metric_rows`` and its table ``pl.metrics_table``) against
    the smallest effect worth shipping."""
    frame = pd.DataFrame(
        {
            "label": shown["Metric"],
            "rel_lift": [m["rel_lift"] for m in rows],
            "ci_low": [m["rel_ci_low"] for m in rows],
            "ci_high": [m["rel_ci_high"] for m in rows],
            "significant": [m["significant"] for m in rows],
        }
    )
    label = f"smallest effect worth shipping ({minimum_effect:+.0%})"
    return forest_plot(frame, title, alpha, reference=minimum_effect, ref_label=label)


def segment_forest(
    cuts: pd.DataFrame, segments: pd.DataFrame, title: str, alpha: float
) -> plt.Figure | None:
    """The change in each tested segment (``pl.segment_table`` and the readout's ``segments``);
    None when fewer than two segments could be tested."""
    tested = segments.dropna(subset=["rel_lift"])
    if len(tested) < 2:
        return None
    frame = pd.DataFrame(
        {
            "label": cuts.loc[tested.index, "Segment"],
            "rel_lift": tested["rel_lift"],
            "ci_low": tested["ci_low"],
            "ci_high": tested["ci_high"],
            "significant": tested["significant"].astype(bool),
        }
    )
    return forest_plot(frame, title, alpha)


def lift_over_time_chart(
    over_time: pd.DataFrame, metric: str, alpha: float, minimum_effect: float
) -> plt.Figure:
    """The cumulative lift (``experiments.lift_over_time``) with its interval, day by day."""
    shown = over_time.dropna(subset=["rel_lift"])
    name = pl.label(metric).lower()
    fig, ax = plt.subplots()
    ax.fill_between(
        shown["date"],
        shown["ci_low"],
        shown["ci_high"],
        alpha=0.2,
        color=CLEAR,
        label=f"{1 - alpha:.0%} interval",
    )
    ax.plot(shown["date"], shown["rel_lift"], marker="o", color=CLEAR, label="lift so far")
    ax.axhline(0, color="black", linewidth=1)
    ax.axhline(
        minimum_effect,
        color=plots.PALETTE[1],
        linestyle="--",
        linewidth=1.2,
        label="smallest effect worth shipping",
    )
    plots.pct_axis(ax)
    ax.set_xlabel("Visitors enrolled up to (date)")
    ax.set_ylabel(f"Relative change in {name}")
    ax.set_title(f"Cumulative lift in {name}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=9, frameon=False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    return fig


def funnel_chart(funnel: pd.DataFrame) -> plt.Figure:
    """Share of each arm's visitors reaching each step (``pl.funnel_by_variant``)."""
    fig, ax = plt.subplots()
    steps = list(funnel.columns)
    width = 0.38
    x = np.arange(len(steps))
    for i, arm in enumerate(funnel.index):
        shares = funnel.loc[arm]
        bars = ax.bar(x + (i - 0.5) * width, shares, width, label=arm, color=plots.PALETTE[i])
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in shares], fontsize=8, padding=2)
    ax.set_xticks(x, steps)
    plots.pct_axis(ax)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("Funnel step")
    ax.set_ylabel("Share of visitors in the arm")
    ax.set_title("Funnel by variant")
    ax.legend(frameon=False)
    return fig


def pre_post_chart(review: pl.PrePostReview, currency: str) -> plt.Figure:
    """The treated and the comparison series, daily and as 7-day averages, around the launch."""
    plan = review.plan
    fig, ax = plt.subplots()
    for i, (group, part) in enumerate(review.series.groupby("group", sort=False)):
        part = part.set_index("date")[plan.series_metric]
        role = "treated" if group == str(plan.treated_series) else "comparison"
        ax.plot(part.index, part, color=plots.PALETTE[i], alpha=0.25, linewidth=1)
        smooth = part.rolling(7, min_periods=1).mean()
        label = f"{group} ({role}), 7-day average"
        ax.plot(part.index, smooth, color=plots.PALETTE[i], linewidth=2, label=label)
    launch = review.launch
    label = f"launch {launch:%d %b %Y}"
    ax.axvline(launch, color="black", linestyle="--", linewidth=1, label=label)
    if plan.series_metric == "orders":
        ax.set_ylabel("Orders per day")
    else:
        plots.money_axis(ax, currency)
        ax.set_ylabel(f"{review.metric_name} ({currency})")
    ax.set_xlabel("Date")
    ax.set_title(f"{review.metric_name} by {plan.series_column}, before and after the launch")
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    return fig


def event_study_chart(review: pl.PrePostReview, currency: str) -> plt.Figure:
    """The gap between the series week by week against week -1, with its intervals."""
    weeks = review.events.table
    metric = review.plan.series_metric
    fig, ax = plt.subplots()
    errors = [weeks["estimate"] - weeks["ci_low"], weeks["ci_high"] - weeks["estimate"]]
    ax.errorbar(
        weeks["period"],
        weeks["estimate"],
        yerr=errors,
        fmt="none",
        ecolor="grey",
        elinewidth=1.5,
        capsize=3,
    )
    for after, color, name in (
        (False, plots.PALETTE[0], "before"),
        (True, plots.PALETTE[1], "after"),
    ):
        part = weeks[(weeks["period"] >= 0) == after]
        ax.scatter(part["period"], part["estimate"], color=color, s=45, zorder=3, label=name)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    ax.axhline(0, color="black", linewidth=1)
    ax.axvline(-0.5, color="black", linestyle="--", linewidth=1)
    if metric != "orders":
        plots.money_axis(ax, currency)
    ax.set_xlabel("Weeks relative to launch (week -1 = reference)")
    ax.set_ylabel(f"Gap vs week -1 ({pl.series_unit(metric, currency)})")
    ax.set_title("Event study: the gap between the series, week by week")
    return fig
