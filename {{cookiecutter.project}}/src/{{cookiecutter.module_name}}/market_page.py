"""The market research page: evidence from the data, the tables, charts and sentences it shows.

The notebook calls these functions and displays what they return; every sentence is built here
from the computed values (and unit-tested), the statistics come from ``market`` and the go/no-go
from ``market.decide`` (docs/decisions.md, Market research). Money in Markdown always goes
through ``formats.md_escape`` (``market.md_money``), text from the data (segment names, product
names, search terms) through ``md_escape`` too.

- Parameters and data: ``check_parameters``, ``read_survey``, ``last_year_orders``.
- Market size: ``review_sizing`` -> :class:`SizingReview`; ``inputs_table``, ``sizes_table``,
  ``size_chart``, ``tornado_chart``, ``sizing_sentence``, ``size_record``.
- NPS: ``review_nps`` -> :class:`NPSReview`; ``nps_chart``, ``segment_table``,
  ``differences_table``, ``nps_sentence``, ``nps_record``.
- Likert: ``review_likert`` -> :class:`LikertReview`; ``likert_chart``, ``top2_table``,
  ``likert_sentence``.
- Price: ``review_price`` -> :class:`PriceReview`; ``price_chart``, ``price_sentence``,
  ``price_record``.
- Competitors: ``review_competitors`` -> :class:`CompetitorReview`; ``competitor_chart``,
  ``position_table``, ``outliers_sentence``, ``outliers_table``, ``unmatched_sentence``,
  ``unmatched_table``, ``competitor_sentence``, ``competitor_record``.
- Demand trends: ``review_trends`` -> :class:`TrendsReview`; ``trends_chart``,
  ``trends_sentence``.
- Sections without data: ``skipped``. The summary: ``summary_title``, ``summary_points``,
  ``summary_next_step``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import config, data, market, plots
from .decisions import Decision
from .errors import UserError
from .formats import format_money, format_pct, md_escape
from .market import md_money

MONEY_INPUTS = {"category_spend", "aov"}
SHARE_INPUTS = {"relevant_share", "serviceable_share", "attainable_share"}
SHARED_INPUTS = ("serviceable_share", "attainable_share")  # used by both approaches
PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
ANSWER_LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neutral",
    4: "Agree",
    5: "Strongly agree",
}
ANSWER_COLORS = {1: "#C0392B", 2: "#E8A09A", 3: "#CFCFCF", 4: "#9DB8E0", 5: "#2E5EAA"}
OVERALL = "All respondents"
UNMATCHED_SHOWN = 30  # products without a competitor price listed on the page at most
TREND_DAYS = 90  # recent search interest: the last 90 days


# --------------------------------------------------------------------------------------------
# Parameters, data and number formats
# --------------------------------------------------------------------------------------------


def check_parameters(vw_definition: str, vw_min_answers: int, planned_price: float) -> None:
    """Stop with a plain message for a parameter the brief cannot use."""
    if vw_definition not in ("original", "narrower"):
        raise UserError(f"vw_definition must be 'original' or 'narrower'; got {vw_definition!r}.")
    if vw_min_answers < 1:
        raise UserError(f"vw_min_answers must be at least 1; got {vw_min_answers!r}.")
    if planned_price < 0:
        raise UserError(f"planned_price must be 0 (not set) or a price; got {planned_price!r}.")


def _at(ts: pd.Timestamp) -> ibis.Value:
    return ibis.literal(ts.to_pydatetime(), type="timestamp")


def read_survey(
    con: ibis.BaseBackend, cutoff: pd.Timestamp, nps_column: str, segment_column: str
) -> pd.DataFrame:
    """The survey answers given before ``cutoff``; the named columns must exist."""
    responses = data.table(con, "survey_responses")
    survey = responses.filter(responses.responded_at < _at(cutoff)).to_pandas()
    for name, column in (("nps_column", nps_column), ("segment_column", segment_column)):
        if column and column not in survey.columns:
            raise UserError(
                f"{name} is {column!r}, but survey_responses has no such column. "
                f"Columns found: {', '.join(survey.columns)}."
            )
    return survey


def last_year_orders(con: ibis.BaseBackend, cutoff: pd.Timestamp) -> ibis.Table:
    """Our orders over the 12 months up to ``cutoff`` (the reality anchor and price weights)."""
    orders = data.table(con, "orders")
    return orders.filter(
        (orders.ordered_at >= _at(cutoff - pd.DateOffset(years=1)))
        & (orders.ordered_at < _at(cutoff))
    )


def level(confidence: float) -> str:
    """0.95 -> "95%"."""
    return f"{confidence:.0%}"


def short_number(value: float) -> str:
    """16.0M, 350k, 3.5: a count or rate without a currency."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"


def input_value(name: str, value: float, currency: str) -> str:
    """A sizing input as written in the tables: money, a share or a count."""
    if name in MONEY_INPUTS:
        return format_money(value, currency, 0)
    if name in SHARE_INPUTS:
        return format_pct(value, 1)
    return short_number(value)


def price(value: float | None, currency: str) -> str:
    """A price for a chart label (plain text, not Markdown)."""
    return "–" if value is None or math.isnan(value) else format_money(value, currency, 2)


def item_label(item: str) -> str:
    """likert_easy_to_find -> Easy to find."""
    text = str(item).removeprefix("likert_").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _quoted(text: str) -> str:
    return f"“{md_escape(text)}”"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _table(frame: pd.DataFrame, currency: str, **formats: Any) -> Any:
    """The house table (money and shares formatted, text from the data escaped)."""
    return plots.styled_table(frame, currency=currency, **formats)


# --------------------------------------------------------------------------------------------
# How big is the opportunity?
# --------------------------------------------------------------------------------------------


def sizing_params(
    *,
    category_spend: Any,
    relevant_share: Any,
    target_buyers: Any,
    purchases_per_year: Any,
    aov: Any,
    serviceable_share: Any,
    attainable_share: Any,
) -> dict[str, dict[str, Any]]:
    """The two approaches' inputs, as ``market.market_size`` takes them."""
    shared = {"serviceable_share": serviceable_share, "attainable_share": attainable_share}
    return {
        "top_down": {
            "category_spend": category_spend,
            "relevant_share": relevant_share,
            **shared,
        },
        "bottom_up": {
            "target_buyers": target_buyers,
            "purchases_per_year": purchases_per_year,
            "aov": aov,
            **shared,
        },
    }


@dataclass(frozen=True, eq=False)
class SizingReview:
    """Both sizings, their sensitivity, our own last 12 months and the decision's evidence."""

    params: Mapping[str, Mapping[str, Any]]
    inputs: pd.DataFrame  # market.sizing_inputs
    sizes: pd.DataFrame  # market.market_size
    tornados: Mapping[str, pd.DataFrame]  # approach -> market.tornado, biggest swing first
    own_revenue: float
    own_aov: float
    facts: market.MarketFacts
    currency: str

    @property
    def biggest(self) -> dict[str, str]:
        """Approach -> the input with the largest swing of SOM."""
        return {a: str(f["input"].iloc[0]) for a, f in self.tornados.items()}

    def level(self, market_level: str, approach: str = "top-down", scenario: str = "base") -> float:
        return float(self.sizes.loc[market_level, (approach, scenario)])


def sizing_review(
    params: Mapping[str, Mapping[str, Any]],
    own_revenue: float,
    own_orders: int,
    currency: str,
) -> SizingReview:
    """The sizing evidence from the inputs and our own revenue and order count (no data access)."""
    inputs = market.sizing_inputs(params)
    sizes = market.market_size(params)  # also checks TAM >= SAM >= SOM in every scenario
    tornados = {a: market.tornado(p, approach=a) for a, p in params.items()}
    own_aov = own_revenue / own_orders if own_orders else math.nan
    facts = market.market_facts(inputs, sizes, own_revenue, currency)
    return SizingReview(params, inputs, sizes, tornados, own_revenue, own_aov, facts, currency)


def review_sizing(
    year: ibis.Table, params: Mapping[str, Mapping[str, Any]], currency: str
) -> SizingReview:
    """``sizing_review`` with our revenue and orders over ``year`` (``last_year_orders``)."""
    own = year.aggregate(revenue=year.revenue.sum(), orders=year.count()).to_pandas().iloc[0]
    revenue = float(own["revenue"]) if pd.notna(own["revenue"]) else 0.0
    return sizing_review(params, revenue, int(own["orders"] or 0), currency)


def inputs_table(review: SizingReview) -> Any:
    """Every sizing input once (the shares both approaches use marked "both"), with its source."""
    shown = review.inputs.drop_duplicates("input").copy()
    shown.loc[shown["input"].isin(SHARED_INPUTS), "approach"] = "both"
    for scenario in market.SCENARIOS:
        shown[scenario] = [
            input_value(n, v, review.currency)
            for n, v in zip(shown["input"], shown[scenario], strict=True)
        ]
    shown["input"] = shown["input"].map(market.INPUT_LABELS).fillna(shown["input"])
    shown.columns = ["Approach", "Input", "Low", "Base", "High", "Source"]
    return _table(shown.reset_index(drop=True), review.currency)


def sizes_table(review: SizingReview) -> Any:
    """TAM, SAM and SOM by approach and scenario."""
    table = review.sizes.copy()
    table.columns = [f"{a.capitalize()} · {s}" for a, s in table.columns]
    table = table.reset_index().rename(columns={"market": "Market"})
    return _table(table, review.currency, money=table.columns[1:])


def size_chart(review: SizingReview) -> Figure:
    """TAM, SAM and SOM side by side for both approaches (bar = base, whisker = low to high)."""
    sizes, currency = review.sizes, review.currency
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.8))
    approaches = list(sizes.columns.get_level_values("approach").unique())
    x = np.arange(len(approaches))
    for ax, market_level in zip(axes, market.FUNNEL, strict=True):
        base, low, high = (
            [sizes.loc[market_level, (a, s)] for a in approaches] for s in ("base", "low", "high")
        )
        ax.bar(x, base, color=plots.PALETTE[: len(approaches)], width=0.6)
        ax.errorbar(
            x,
            base,
            yerr=[np.subtract(base, low), np.subtract(high, base)],
            fmt="none",
            ecolor="black",
            capsize=6,
            linewidth=1.2,
        )
        for xi, value in zip(x, base, strict=True):
            ax.annotate(
                format_money(value, currency),
                (xi, value),
                xytext=(8, 4),
                textcoords="offset points",
                fontsize=9,
            )
        ax.set_xticks(x, [a.capitalize() for a in approaches])
        plots.money_axis(ax, currency)
        ax.set_title(market_level)
        ax.set_ylim(0, max(high) * 1.15)
    axes[0].set_ylabel(f"Yearly market ({currency})")
    fig.suptitle(
        "Market size: top-down vs bottom-up (bar = base, whisker = low to high)",
        fontweight="bold",
    )
    return fig


def tornado_chart(review: SizingReview) -> Figure:
    """SOM when one input moves from its low to its high value, one panel per approach."""
    currency = review.currency
    fig, axes = plt.subplots(2, 1, figsize=(8.5, 6.2), sharex=False)
    for ax, (approach, frame) in zip(axes, review.tornados.items(), strict=True):
        frame = frame.iloc[::-1]  # biggest swing on top
        base = frame["som_base"].iloc[0]
        y = np.arange(len(frame))
        ax.barh(y, frame["som_low"] - base, left=base, color=plots.PALETTE[3], label="input at low")
        ax.barh(
            y, frame["som_high"] - base, left=base, color=plots.PALETTE[0], label="input at high"
        )
        ax.axvline(base, color="black", linewidth=1)
        labels = [
            f"{market.INPUT_LABELS.get(n, n)} "
            f"({input_value(n, lo, currency)} – {input_value(n, hi, currency)})"
            for n, lo, hi in zip(frame["input"], frame["low"], frame["high"], strict=True)
        ]
        ax.set_yticks(y, labels, fontsize=9)
        plots.money_axis(ax, currency, axis="x")
        ax.xaxis.set_major_locator(MaxNLocator(6))
        name = approach.replace("_", "-").capitalize()
        ax.set_title(f"{name}: SOM if one input moves (base {format_money(base, currency)})")
    axes[-1].set_xlabel(f"Obtainable market, SOM ({currency} per year)")
    axes[0].legend(frameon=False, fontsize=9, loc="lower right")
    return fig


def sizing_sentence(review: SizingReview) -> str:
    """The market-size section's "What this means" (``market.sizing_findings``)."""
    return market.sizing_findings(review.facts, review.sizes, review.biggest, review.own_aov)


def size_record(review: SizingReview) -> dict[str, Any]:
    """Both sizings for summary.json: approach -> tam/sam/som -> low/base/high."""
    sizes = review.sizes
    return {
        approach.replace("-", "_"): {
            m.lower(): {s: float(sizes.loc[m, (approach, s)]) for s in market.SCENARIOS}
            for m in market.FUNNEL
        }
        for approach in sizes.columns.get_level_values("approach").unique()
    }


def market_point(review: SizingReview) -> str:
    """The executive summary's market bullet."""
    f, c = review.facts, review.currency
    td = review.sizes["top-down"]
    agree = (
        "the two approaches agree."
        if f.approaches_agree
        else "⚠️ the two approaches disagree: reconcile the inputs."
    )
    return (
        f"**Market:** obtainable market of **{md_money(f.som_top_down, c)} a year** top-down "
        f"({md_money(td.loc['SOM', 'low'], c)} – {md_money(td.loc['SOM', 'high'], c)}), "
        f"{md_money(f.som_bottom_up, c)} bottom-up; {agree} "
        f"Our last 12 months: {md_money(f.own_revenue, c)}."
    )


# --------------------------------------------------------------------------------------------
# Would customers recommend us?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NPSReview:
    """The overall score, the segments' scores and their pairwise differences."""

    overall: market.NPSResult
    by_segment: pd.DataFrame  # market.nps_by_segment; empty unless two segments or more
    differences: pd.DataFrame  # one row per pair: a, b, difference, se, ci_low, ci_high, p_value
    gap: market.NPSDifference | None  # happiest minus least happy segment
    confidence: float

    @property
    def ranked(self) -> pd.DataFrame:
        """The segments with a score, least happy first."""
        if self.by_segment.empty:
            return self.by_segment
        return self.by_segment.dropna(subset=["nps"]).sort_values("nps")


def review_nps(
    survey: pd.DataFrame, nps_column: str, segment_column: str, confidence: float
) -> NPSReview:
    """NPS overall and, with ``segment_column``, by segment with every pair's difference."""
    overall = market.nps(survey[nps_column], confidence=confidence, name=nps_column)
    by_segment = (
        market.nps_by_segment(survey, segment_column, score_col=nps_column, confidence=confidence)
        if segment_column
        else pd.DataFrame()
    )
    if len(by_segment) < 2:  # one group (or none with a segment) is just the overall score
        return NPSReview(overall, pd.DataFrame(), pd.DataFrame(), None, confidence)
    answers = survey[nps_column]
    segments = survey[segment_column].astype("string").fillna(market.NO_SEGMENT)
    answered = [s for s, n in zip(by_segment["segment"], by_segment["n"], strict=True) if n > 0]

    def diff(a: str, b: str) -> market.NPSDifference:
        return market.nps_difference(
            answers[segments == a], answers[segments == b], confidence=confidence
        )

    rows = []
    for a, b in itertools.combinations(answered, 2):
        d = diff(a, b)
        rows.append(
            {
                "a": a,
                "b": b,
                "difference": d.difference,
                "se": d.se,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "p_value": d.p_value,
            }
        )
    review = NPSReview(overall, by_segment, pd.DataFrame(rows), None, confidence)
    ranked = review.ranked
    if len(ranked) >= 2:
        gap = diff(ranked.iloc[-1]["segment"], ranked.iloc[0]["segment"])
        review = NPSReview(overall, by_segment, review.differences, gap, confidence)
    return review


def nps_chart(review: NPSReview) -> Figure:
    """Each score as a dot with its interval: everyone first, then each segment."""
    overall, by_segment = review.overall, review.by_segment
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.55 * (len(by_segment) + 1)))
    rows = [(OVERALL, overall.value, overall.ci_low, overall.ci_high, overall.n)]
    if len(by_segment):
        rows += [
            (r.segment, r.nps, r.ci_low, r.ci_high, r.n) for r in by_segment.itertuples() if r.n
        ]
    y = np.arange(len(rows))[::-1]
    for yi, (name, value, low, high, n) in zip(y, rows, strict=True):
        color = plots.PALETTE[1] if name == OVERALL else plots.PALETTE[0]
        ax.hlines(yi, low, high, color=color, linewidth=3)
        ax.scatter(value, yi, color=color, s=60, zorder=3)
        ax.annotate(
            f"{value:+.0f}  (n={n:,})",
            (high, yi),
            xytext=(6, -4),
            textcoords="offset points",
            fontsize=9,
        )
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(min(-10, min(r[2] for r in rows) - 10), max(r[3] for r in rows) + 25)
    ax.set_xlabel(f"NPS (−100 to +100), with {level(review.confidence)} interval")
    ax.set_title("Net Promoter Score" + (", overall and by segment" if len(by_segment) else ""))
    return fig


def segment_table(review: NPSReview, currency: str) -> Any | None:
    """Each segment's score, interval and promoter / passive / detractor shares (None: no cuts)."""
    if review.by_segment.empty:
        return None
    shares = review.by_segment[
        ["segment", "n", "nps", "ci_low", "ci_high"]
        + ["promoter_share", "passive_share", "detractor_share"]
    ].copy()
    shares.columns = ["Segment", "Answers", "NPS", "Low", "High"] + [
        "Promoters",
        "Passives",
        "Detractors",
    ]
    return _table(
        shares,
        currency,
        pct=["Promoters", "Passives", "Detractors"],
        decimals={"NPS": 1, "Low": 1, "High": 1, "Answers": 0},
    )


def p_value_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def differences_table(review: NPSReview, currency: str) -> Any | None:
    """Every pair of segments: A − B with its standard error, interval and p-value."""
    d = review.differences
    if d.empty:
        return None
    name = f"{level(review.confidence)} interval"
    shown = pd.DataFrame(
        {
            "Segment A": d["a"],
            "Segment B": d["b"],
            "A − B (pts)": d["difference"],
            "SE (pts)": d["se"],
            name: [
                f"{lo:+.1f} to {hi:+.1f}" for lo, hi in zip(d["ci_low"], d["ci_high"], strict=True)
            ],
            "p-value": d["p_value"].map(p_value_text),
            "Clear difference": [
                "yes" if lo > 0 or hi < 0 else "no"
                for lo, hi in zip(d["ci_low"], d["ci_high"], strict=True)
            ],
        }
    )
    return _table(shown, currency, decimals={"A − B (pts)": 1, "SE (pts)": 1})


def nps_sentence(review: NPSReview) -> str:
    """The NPS section's "What this means": the balance, then the widest segment gap."""
    o = review.overall
    blank = f", {o.missing:,} left blank" if o.missing else ""
    balance = (
        "clearly more promoters than detractors."
        if o.ci_low > 0
        else "clearly more detractors than promoters."
        if o.ci_high < 0
        else "promoters and detractors are roughly balanced."
    )
    text = (
        f"**What this means:** overall NPS is **{o.value:+.0f}** ({level(review.confidence)} "
        f"interval {o.ci_low:+.0f} to {o.ci_high:+.0f}, {o.n:,} answers{blank}): {balance}"
    )
    if review.gap is None:
        return text
    worst, best, gap = review.ranked.iloc[0], review.ranked.iloc[-1], review.gap
    real = "a real difference, not noise." if gap.ci_low > 0 else "within the noise of this sample."
    return text + (
        f" {md_escape(best['segment'])} are the happiest ({best['nps']:+.0f}) and "
        f"{md_escape(worst['segment'])} the least happy ({worst['nps']:+.0f}): a gap of "
        f"{gap.difference:.0f} points (± {gap.ci_high - gap.difference:.0f}), {real}"
    )


def nps_record(review: NPSReview) -> dict[str, Any]:
    o = review.overall
    return {"value": o.value, "ci_low": o.ci_low, "ci_high": o.ci_high, "n": o.n}


def nps_point(review: NPSReview) -> str:
    """The executive summary's customers bullet."""
    o = review.overall
    text = (
        f"**Customers:** NPS {o.value:+.0f} ({level(review.confidence)} interval "
        f"{o.ci_low:+.0f} to {o.ci_high:+.0f}, n = {o.n:,})"
    )
    if review.gap is None:
        return text + "."
    worst, best = review.ranked.iloc[0], review.ranked.iloc[-1]
    return text + (
        f"; {md_escape(worst['segment'])} trail at {worst['nps']:+.0f} vs "
        f"{md_escape(best['segment'])} at {best['nps']:+.0f}."
    )


# --------------------------------------------------------------------------------------------
# What do customers like, and what not?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LikertReview:
    """The answer distribution and top-2-box share of each statement, weakest first."""

    distribution: pd.DataFrame  # market.likert_distribution, rows in the order of top2
    top2: pd.DataFrame  # market.likert_top2box sorted by share (weakest first)
    confidence: float


def likert_columns(survey: pd.DataFrame, items: Sequence[str]) -> list[str]:
    """The statements to show: ``items``, or every ``likert_*`` column of the survey."""
    return list(items) or [c for c in survey.columns if str(c).startswith("likert_")]


def review_likert(
    survey: pd.DataFrame, items: Sequence[str], confidence: float
) -> LikertReview | None:
    """The Likert statements' answers (None: the survey has none)."""
    columns = likert_columns(survey, items)
    if not columns:
        return None
    top2 = market.likert_top2box(survey, columns, confidence=confidence).sort_values("share")
    distribution = market.likert_distribution(survey, columns).loc[top2.index]
    return LikertReview(distribution, top2, confidence)


def likert_chart(review: LikertReview) -> Figure:
    """Diverging bars (disagree left of zero, agree right) with each top-2-box share."""
    bars = market.diverging_offsets(review.distribution)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(review.distribution)))
    for answer, part in bars.groupby("answer", sort=True):
        ax.barh(
            [item_label(i) for i in part["item"]],
            part["share"],
            left=part["left"],
            color=ANSWER_COLORS[answer],
            label=ANSWER_LABELS[answer],
            edgecolor="white",
        )
    right = bars.groupby("item")["right"].max()
    for item, row in review.top2.iterrows():
        ax.annotate(
            f"top-2: {format_pct(row['share'], 0)} "
            f"({format_pct(row['ci_low'], 0)}–{format_pct(row['ci_high'], 0)})",
            (right[item], item_label(item)),
            xytext=(6, -4),
            textcoords="offset points",
            fontsize=9,
        )
    ax.axvline(0, color="black", linewidth=1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{abs(v):.0%}"))
    lo, hi = bars["left"].min() - 0.05, bars["right"].max() + 0.45
    ax.set_xlim(lo, hi)
    ticks = np.arange(-1.0, 1.01, 0.2)
    ax.set_xticks(ticks[(ticks >= lo) & (ticks <= min(hi, 1.0))])
    ax.set_xlabel("Share of respondents (← disagree | agree →)")
    ax.set_title("How customers rate us", pad=28)
    ax.legend(ncol=5, fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.45, 1.0))
    return fig


def top2_table(review: LikertReview, currency: str) -> Any:
    shown = review.top2.reset_index()[["item", "n", "share", "ci_low", "ci_high"]]
    shown["item"] = shown["item"].map(item_label)
    shown.columns = ["Statement", "Answers", "Top-2-box", "Low", "High"]
    return _table(shown, currency, pct=["Top-2-box", "Low", "High"], decimals={"Answers": 0})


def _statement(item: str) -> str:
    return _quoted(item_label(item).lower())


def likert_sentence(review: LikertReview) -> str:
    """The Likert section's "What this means": the best and the weakest statement, and whether
    the weakest clearly stands out (its interval below the next one's)."""
    top2, lvl = review.top2, level(review.confidence)
    weakest = top2.iloc[0]
    interval = f"{format_pct(weakest['ci_low'], 0)}–{format_pct(weakest['ci_high'], 0)}"
    if len(top2) == 1:
        return (
            f"**What this means:** {format_pct(weakest['share'], 0)} agree with "
            f"{_statement(top2.index[0])} (top-2-box, {lvl} interval {interval})."
        )
    strongest = top2.iloc[-1]
    stands_out = (
        "The weakest statement's interval lies below the others': that is the clearest thing "
        "to fix."
        if weakest["ci_high"] < top2.iloc[1]["ci_low"]
        else "The weakest statements' intervals overlap: no single one clearly stands out."
    )
    return (
        f"**What this means:** customers agree most with {_statement(top2.index[-1])} "
        f"({format_pct(strongest['share'], 0)} top-2-box) and least with "
        f"{_statement(top2.index[0])} ({format_pct(weakest['share'], 0)}, {lvl} interval "
        f"{interval}). {stands_out}"
    )


def likert_point(review: LikertReview | None) -> str | None:
    """The executive summary's weakest-rating bullet (None without Likert items)."""
    if review is None or review.top2.empty:
        return None
    top2 = review.top2
    text = (
        f"**Weakest rating:** {_statement(top2.index[0])}, "
        f"{format_pct(top2.iloc[0]['share'], 0)} agree"
    )
    if len(top2) > 1:
        text += f" (best: {_statement(top2.index[-1])}, {format_pct(top2.iloc[-1]['share'], 0)})"
    return text + "."


def top2_record(review: LikertReview | None) -> dict[str, float]:
    return {} if review is None else review.top2["share"].to_dict()


# --------------------------------------------------------------------------------------------
# What price do customers expect?
# --------------------------------------------------------------------------------------------

CURVES = {
    "original": {
        "too_cheap": ("Too cheap", 3, "-"),
        "not_cheap": ("Not a bargain (1 − bargain)", 1, "--"),
        "not_expensive": ("Not expensive (1 − expensive)", 2, "--"),
        "too_expensive": ("Too expensive", 0, "-"),
    },
    "narrower": {
        "too_cheap": ("Too cheap", 3, "-"),
        "cheap": ("A bargain", 1, "--"),
        "expensive": ("Getting expensive", 2, "--"),
        "too_expensive": ("Too expensive", 0, "-"),
    },
}
DEFINITIONS = {
    "original": "PMC = “too cheap” meets “not a bargain”, PME = “too expensive” meets "
    "“not expensive” (the original definition)",
    "narrower": "PMC = “too cheap” meets “getting expensive”, PME = “too expensive” meets "
    "“a bargain” (the narrower definition)",
}


@dataclass(frozen=True, eq=False)
class PriceReview:
    """The Van Westendorp result (None: no price answers) for the product asked about."""

    vw: market.VWResult | None
    subject: market.PriceSubject
    planned_price: float
    currency: str


def review_price(
    survey: pd.DataFrame,
    columns: Sequence[str],
    *,
    definition: str,
    min_answers: int,
    subject: market.PriceSubject,
    planned_price: float,
    currency: str,
) -> PriceReview:
    """The price meter, or no result when the four price columns hold no complete answer.

    A misnamed column still reaches ``market.van_westendorp`` and stops with its message.
    """
    missing = [c for c in columns if c not in survey.columns]
    answered = bool(missing) or bool(survey[list(columns)].notna().all(axis=1).any())
    vw = (
        market.van_westendorp(
            survey, columns=columns, definition=definition, min_answers=min_answers
        )
        if answered
        else None
    )
    return PriceReview(vw, subject, planned_price, currency)


def price_chart(review: PriceReview) -> Figure | None:
    """The four cumulative curves with the price points, today's and the planned price (None:
    no published range)."""
    vw, subject, currency = review.vw, review.subject, review.currency
    if vw is None or not vw.published:
        return None
    curves = vw.curves
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for column, (name, color, style) in CURVES[vw.definition].items():
        ax.plot(
            curves["price"],
            curves[column],
            color=plots.PALETTE[color],
            linestyle=style,
            label=name,
            linewidth=1.8,
        )
    if not (math.isnan(vw.pmc) or math.isnan(vw.pme)):
        ax.axvspan(vw.pmc, vw.pme, color=plots.PALETTE[2], alpha=0.08, label="acceptable range")
    points = {"PMC": vw.pmc, "OPP": vw.opp, "IDP": vw.idp, "PME": vw.pme}
    on_curve = {
        "PMC": "too_cheap",
        "OPP": "too_cheap",
        "IDP": "not_cheap" if vw.definition == "original" else "cheap",
        "PME": "too_expensive",
    }
    # A dot where the two curves cross; labels stacked from the top, left to right, so that
    # close points (OPP and IDP often are) stay readable.
    marked = sorted((v, n) for n, v in points.items() if not math.isnan(v))
    for step, (value, name) in enumerate(marked):
        y_at = float(np.interp(value, curves["price"], curves[on_curve[name]]))
        ax.axvline(value, color="grey", linestyle=":", linewidth=1)
        ax.scatter([value], [y_at], color="black", s=22, zorder=4)
        ax.annotate(
            f"{name} {price(value, currency)}",
            (value, 0.95 - 0.08 * step),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=9,
            fontweight="bold",
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
        )
    planned = review.planned_price
    if planned > 0:
        ax.axvline(
            planned, color="black", linewidth=1.5, label=f"planned price {price(planned, currency)}"
        )
    low_x, high_x = curves["price"].quantile([0.01, 0.99])
    known = [v for v in (*points.values(), planned or math.nan) if not math.isnan(v)]
    ax.set_xlim(min([low_x, *known]) * 0.9, max([high_x, *known]) * 1.05)
    ax.set_ylim(0, 1.02)
    plots.money_axis(ax, currency, axis="x")
    plots.pct_axis(ax)
    ax.set_xlabel(f"Price ({currency})")
    ax.set_ylabel("Share of respondents")
    ax.set_title(f"Price sensitivity (Van Westendorp): {subject.name or 'surveyed product'}")
    if not math.isnan(subject.today):
        ax.axvline(
            subject.today,
            color=plots.PALETTE[4],
            linewidth=1.5,
            linestyle="-.",
            label=f"today {price(subject.today, currency)}",
        )
    ax.legend(fontsize=8, frameon=False, loc="center right")
    return fig


def definition_sentence(definition: str) -> str:
    """Which PMC / PME definition the range uses, and how to switch."""
    other = "narrower" if definition == "original" else "original"
    return (
        f"Definition used: {DEFINITIONS[definition]}; set `vw_definition` to “{other}” for the "
        "other one."
    )


def price_sentence(review: PriceReview) -> str:
    """The price section's "What this means" (``market.vw_findings``), or why it is empty."""
    vw = review.vw
    if vw is None:
        return skipped("price")
    if not vw.published:
        return market.vw_findings(vw, review.subject, currency=review.currency)
    findings = market.vw_findings(
        vw, review.subject, planned_price=review.planned_price, currency=review.currency
    )
    return f"{findings} {definition_sentence(vw.definition)}"


def price_record(review: PriceReview) -> dict[str, Any] | None:
    vw = review.vw
    if vw is None:
        return None
    if not vw.published:
        return {"opp": None, "published": False, "n_used": vw.n_used, "needed": vw.min_answers}
    return {
        "opp": vw.opp,
        "idp": vw.idp,
        "pmc": vw.pmc,
        "pme": vw.pme,
        "dropped": vw.dropped,
        "n_used": vw.n_used,
        "definition": vw.definition,
        "published": True,
        "today": review.subject.today,
    }


# --------------------------------------------------------------------------------------------
# Where do our prices sit against competitors?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompetitorReview:
    """Our price index today and over time, with the products behind it."""

    index: market.PriceIndexResult
    trend: pd.DataFrame  # market.price_index_trend
    products: pd.DataFrame  # sku (index), name, category, price
    freq: str
    currency: str

    @property
    def kept(self) -> pd.DataFrame:
        """The compared products, outliers left out."""
        return self.index.per_sku[~self.index.per_sku["outlier"]]

    @property
    def band(self) -> tuple[float, float]:
        t = self.index.tolerance
        return 100 * (1 - t), 100 * (1 + t)

    @property
    def moved(self) -> float:
        """Points the median index moved from the first to the last period."""
        median = self.trend["median_index"]
        return float(median.iloc[-1] - median.iloc[0]) if len(median) > 1 else 0.0


def review_competitors(
    con: ibis.BaseBackend,
    day: Any,
    year: ibis.Table | None,
    *,
    reference: str,
    tolerance: float,
    freq: str,
    currency: str,
) -> CompetitorReview:
    """The price index at the analysis day (weighted by the 12 months' revenue per SKU when
    ``year`` is given and order lines exist) and its trend up to then."""
    products = data.table(con, "products")
    observed = data.table(con, "competitor_prices")
    observed = observed.filter(observed.observed_at < _at(day.end))
    revenue = None
    if year is not None:
        lines = data.table(con, "order_lines")
        revenue = market.revenue_by_sku(lines.semi_join(year.select("order_id"), "order_id"))
    options = {"reference": reference, "tolerance": tolerance}
    index = market.price_index(products, observed, as_of=day.day, revenue=revenue, **options)
    trend = market.price_index_trend(products, observed, freq=freq, **options)
    names = products.select("sku", "name", "category", "price").to_pandas().set_index("sku")
    return CompetitorReview(index, trend, names, freq, currency)


def competitor_record(review: CompetitorReview) -> dict[str, Any]:
    index = review.index
    return {
        "median": index.median_index,
        "weighted": index.weighted_index,
        "weighting": index.weighting,
        "share_above": index.share_above,
        "share_at": index.share_at,
        "share_below": index.share_below,
        "n_matched": index.n_matched,
        "n_unmatched": len(index.unmatched),
        "n_outliers": len(index.outliers),
        "reference": index.reference,
    }


def competitor_chart(review: CompetitorReview) -> Figure:
    """Left: the index per product; right: the median index per period."""
    index, trend, band = review.index, review.trend, review.band
    tolerance = index.tolerance
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.1, 1]}
    )
    left.hist(review.kept["index"], bins=30, color=plots.PALETTE[0], alpha=0.85)
    left.axvspan(*band, color=plots.PALETTE[5], alpha=0.25, label=f"at market (±{tolerance:.0%})")
    left.axvline(
        index.median_index,
        color=plots.PALETTE[1],
        linewidth=2,
        label=f"median {index.median_index:.1f}",
    )
    left.set_xlabel(f"Price index (100 = competitors' {index.reference} price)")
    left.set_ylabel("Products (SKUs)")
    left.set_title("Our price vs competitors, per product")
    left.legend(frameon=False, fontsize=9)
    right.plot(
        trend["period"],
        trend["median_index"],
        marker="o",
        color=plots.PALETTE[0],
        label="median index",
    )
    right.axhspan(*band, color=plots.PALETTE[5], alpha=0.25, label="at market")
    right.axhline(100, color="black", linewidth=1)
    right.set_ylim(
        min(95, trend["median_index"].min() - 2), max(105, trend["median_index"].max() + 2)
    )
    right.set_xlabel(f"First day of the {PERIOD_NAMES.get(review.freq, review.freq)}")
    right.set_ylabel("Median price index")
    right.set_title("Price position over time")
    right.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    right.legend(frameon=False, fontsize=9)
    return fig


def position_table(review: CompetitorReview) -> Any:
    """How many compared products are above, at and below the market band."""
    index, kept = review.index, review.kept
    t = f"{index.tolerance:.0%}"
    position = pd.DataFrame(
        {
            "Position": [f"Above market (> +{t})", f"At market (±{t})", f"Below market (< −{t})"],
            "Products": [int((kept["position"] == p).sum()) for p in ("above", "at", "below")],
            "Share": [index.share_above, index.share_at, index.share_below],
        }
    )
    return _table(position, review.currency, pct=["Share"])


def outliers_sentence(review: CompetitorReview) -> str | None:
    """The heading of the products set aside (None: none)."""
    index = review.index
    if not len(index.outliers):
        return None
    low, high = index.outlier_range
    return (
        f"**Set aside as likely mismatches** (index outside {low:g}–{high:g}): check the product "
        "match or pack size."
    )


def outliers_table(review: CompetitorReview) -> Any | None:
    index = review.index
    if not len(index.outliers):
        return None
    shown = index.outliers.reset_index()[
        ["sku", "own_price", "reference_price", "index", "n_competitors"]
    ]
    shown.insert(1, "name", shown["sku"].map(review.products["name"]))
    shown.columns = ["SKU", "Product", "Our price", "Competitor price", "Index", "Competitors"]
    return _table(
        shown, review.currency, money=["Our price", "Competitor price"], decimals={"Index": 0}
    )


def unmatched_sentence(review: CompetitorReview) -> str | None:
    """The heading of our products without a competitor price (None: all matched)."""
    missing = len(review.index.unmatched)
    if not missing:
        return None
    listed = f" (the first {UNMATCHED_SHOWN} are listed)" if missing > UNMATCHED_SHOWN else ""
    return (
        f"**No competitor price found** for {missing:,} of our {len(review.products):,} "
        f"products{listed}: add them to the price tracking or confirm nobody else sells them."
    )


def unmatched_table(review: CompetitorReview) -> Any | None:
    if not review.index.unmatched:
        return None
    shown = review.products.loc[review.index.unmatched].reset_index().head(UNMATCHED_SHOWN)
    shown = shown[["sku", "name", "category", "price"]]
    shown.columns = ["SKU", "Product", "Category", "Our price"]
    return _table(shown, review.currency, money=["Our price"])


def competitor_sentence(review: CompetitorReview) -> str:
    """The competitor section's "What this means": where the median product sits, how the
    products split, how the position moved, and what was left out."""
    index, trend = review.index, review.trend
    weighting = (
        f"revenue-weighted index {index.weighted_index:.1f}"
        if index.weighting == "revenue"
        else f"equal-weight average {index.weighted_index:.1f}, as there is no order_lines table "
        "to weight by revenue"
    )
    moved = review.moved
    stable = " (stable)" if abs(moved) < 100 * index.tolerance else ""
    text = (
        f"**What this means:** on the median product we are **{index.median_index - 100:+.1f}%** "
        f"against the competitors' {index.reference} price ({weighting}); "
        f"{format_pct(index.share_above, 0)} of {index.n_matched:,} compared products are dearer "
        f"than the market, {format_pct(index.share_at, 0)} at market and "
        f"{format_pct(index.share_below, 0)} cheaper. Over the "
        f"{_plural(len(trend), 'period')} observed the median index moved {moved:+.1f} "
        f"points{stable}. The trend holds our current prices fixed (the data has no history of "
        "our own prices), so it shows how competitors moved."
    )
    left_out = []
    if len(index.outliers):
        n = len(index.outliers)
        left_out.append(
            f"{_plural(n, 'product')} {'was' if n == 1 else 'were'} set aside as likely mismatches"
        )
    if index.unmatched:
        n = len(index.unmatched)
        left_out.append(f"{n:,} {'has' if n == 1 else 'have'} no competitor price")
    if left_out:
        text += " " + "; ".join(left_out) + "."
    return text


def competitor_point(review: CompetitorReview | None) -> str | None:
    """The executive summary's competitors bullet (None without price tables)."""
    if review is None:
        return None
    index = review.index
    return (
        f"**Competitors:** we are {index.median_index - 100:+.1f}% vs the market on the median "
        f"product; {format_pct(index.share_above, 0)} of products dearer, "
        f"{format_pct(index.share_below, 0)} cheaper."
    )


# --------------------------------------------------------------------------------------------
# Is interest in the category growing?
# --------------------------------------------------------------------------------------------

BASIS_WORDS = {"year_ago": "the same months a year earlier", "start": "the start of the export"}


@dataclass(frozen=True, eq=False)
class TrendsReview:
    trends: pd.DataFrame  # market.read_trends_csv
    changes: pd.DataFrame  # market.interest_change


def review_trends(trends_csv: str | Path) -> TrendsReview:
    """The search-trends export named by ``trends_csv`` (relative paths from the project root)."""
    path = config.resolve(trends_csv)
    if not path.is_file():
        raise UserError(
            f"trends_csv is {str(trends_csv)!r}, but there is no such file. Give the path of the "
            "“Interest over time” CSV export, relative to the project folder (e.g. "
            "data/trends.csv), or leave trends_csv empty to skip the section."
        )
    trends = market.read_trends_csv(path)
    return TrendsReview(trends, market.interest_change(trends, days=TREND_DAYS))


def trends_chart(review: TrendsReview) -> Figure:
    fig, ax = plt.subplots()
    for i, (term, part) in enumerate(review.trends.groupby("term", sort=False)):
        ax.plot(
            part["date"],
            part["interest"],
            color=plots.PALETTE[i % len(plots.PALETTE)],
            label=term,
            linewidth=1.6,
        )
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_xlabel("Date")
    ax.set_ylabel("Search interest (0–100)")
    ax.set_title("Search interest over time")
    ax.legend(frameon=False, fontsize=9)
    return fig


def _change(change: float) -> str:
    return "not comparable (no interest earlier)" if math.isnan(change) else f"{change:+.0%}"


def trends_sentence(review: TrendsReview) -> str:
    """Each term's recent interest against a year earlier (or the start of the export)."""
    changes = review.changes
    bases = list(dict.fromkeys(changes["basis"]))
    if len(bases) == 1:
        terms = "; ".join(
            f"{_quoted(t)} {_change(c)}"
            for t, c in zip(changes["term"], changes["change"], strict=True)
        )
        return (
            f"**What this means:** interest over the last {TREND_DAYS} days compared with "
            f"{BASIS_WORDS[bases[0]]}: {terms}."
        )
    terms = "; ".join(
        f"{_quoted(t)} {_change(c)} (against {BASIS_WORDS[b]})"
        for t, c, b in zip(changes["term"], changes["change"], changes["basis"], strict=True)
    )
    return f"**What this means:** interest over the last {TREND_DAYS} days: {terms}."


def trends_record(review: TrendsReview) -> dict[str, float]:
    return dict(zip(review.changes["term"], review.changes["change"].astype(float), strict=True))


# --------------------------------------------------------------------------------------------
# Sections without data, and the executive summary
# --------------------------------------------------------------------------------------------

SKIPPED = {
    "likert": "No Likert items in the survey (no `likert_*` columns): section skipped.",
    "price": "No Van Westendorp answers in the survey (the four `vw_*` columns are empty): "
    "section skipped.",
    "competitors": "No `products` / `competitor_prices` tables in the data: section skipped.",
    "trends": "No search-trends export given (`trends_csv` is empty): section skipped. Download "
    "the “Interest over time” CSV for your category terms and set `trends_csv` to its path.",
}


def skipped(section: str) -> str:
    """The one line a section shows when the data it needs is not there (italic Markdown)."""
    return f"_{SKIPPED[section]}_"


def summary_title(sizing: SizingReview, opportunity: str) -> str:
    """ "Opportunity brief (DRAFT): …" while any sizing input is a placeholder."""
    draft = " (DRAFT)" if sizing.facts.placeholders else ""
    return f"Opportunity brief{draft}: {md_escape(opportunity)}"


def summary_points(
    sizing: SizingReview,
    nps: NPSReview,
    likert: LikertReview | None,
    price: PriceReview,
    competitors: CompetitorReview | None,
) -> list[str]:
    """The executive summary's bullets; the first says what to replace while it is a draft."""
    draft = market.draft_line(sizing.facts)
    points = [draft] if draft else []
    points += [market_point(sizing), nps_point(nps)]
    optional = (
        likert_point(likert),
        market.price_point(price.vw, price.subject, price.planned_price, price.currency),
        competitor_point(competitors),
    )
    return points + [p for p in optional if p]


def summary_next_step(decision: Decision, price: PriceReview) -> str:
    """The verdict's next step; with a Go, the pricing step too."""
    step = decision.next_step.rstrip(".")
    text = f"**{decision.label}:** {step}"
    pricing = market.price_step(price.vw, price.subject, price.planned_price, price.currency)
    if pricing and decision.verdict == "go":
        text += f"; {pricing}"
    return text + "."
