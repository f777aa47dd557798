"""Weekly business review: the KPI tree, mix vs rate, seasonal anomalies and the decision.

Revenue = sessions x conversion (orders per session) x ... is written here as
``revenue = sessions x conversion x orders per buyer x AOV`` with conversion = buyers / sessions.
A change between two weeks is split with logarithms (methods.md): each factor's share is
``Δln(factor) / Δln(revenue)``, exact and adding up to 1. A ratio across cuts is split into mix
and rate with the symmetric shift-share. Engine-side queries are portable Ibis expressions.
``review`` also gathers the funnel step that moved (``funnel``, told with a KPI alert) and the
channels whose LTV:CAC is below 1 (``acquisition``, rule WBR-3); cohorts and repeat buying are
in ``retention``; refunds, deliveries and support contacts in ``operations``; the drill-down
of the change by device, traffic source, sales channel, country and new/returning (mix vs rate)
in ``drilldown``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from . import acquisition, customer_orders, data, drilldown, funnel
from . import operations as operations_
from .decisions import Decision
from .periods import week_start

FACTORS = ("sessions", "conversion", "orders_per_buyer", "aov")
FACTOR_LABELS = {
    "sessions": "sessions",
    "conversion": "conversion",
    "orders_per_buyer": "orders per buyer",
    "aov": "average order value",
}
ROBUST_Z = 4.0  # a week is unusual beyond 4 robust SDs of its own history (measured in tests)
LAGS = 8  # the baseline is the median of the previous 8 weeks
MIN_RESIDUALS = 8  # the spread needs at least 8 earlier residuals
HISTORY_WEEKS = LAGS + MIN_RESIDUALS + 1  # complete weeks before a KPI can be called (un)usual


def weekly_series(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Per week (index: first day): sessions, buyers, orders, revenue and the four factors.

    Sessions come from the ``traffic`` table, else from ``sessions``; only whole weeks before
    ``end`` count.
    """
    cut = end.to_pydatetime()
    o = customer_orders.history(con, end)
    orders = o.group_by("week").aggregate(
        orders=o.count(),
        buyers=customer_orders.count(o.first_of_week),
        revenue=o.revenue.sum(),
    )
    if data.has_table(con, "traffic"):
        t = data.table(con, "traffic")
        t = t.filter(t.date < cut).mutate(week=week_start(t.date))
        visits = t.group_by("week").aggregate(sessions=t.sessions.sum())
    else:
        s = data.table(con, "sessions")
        s = s.filter(s.started_at < cut).mutate(week=week_start(s.started_at))
        visits = s.group_by("week").aggregate(sessions=s.count())
    frame = data.fetch(orders).merge(data.fetch(visits), on="week", how="left")
    frame["week"] = pd.to_datetime(frame["week"])
    frame = frame.set_index("week").sort_index()
    frame = frame[frame.index + pd.Timedelta(days=7) <= end]
    return with_factors(frame)


def with_factors(frame: pd.DataFrame) -> pd.DataFrame:
    """Add conversion, orders per buyer and AOV to a frame of sessions, buyers, orders, revenue."""
    out = frame.astype(float).copy()
    out["conversion"] = out.buyers / out.sessions
    out["orders_per_buyer"] = out.orders / out.buyers
    out["aov"] = out.revenue / out.orders
    return out


@dataclass(frozen=True)
class TreeChange:
    """Revenue between two weeks, attributed to each factor of the KPI tree."""

    before: float
    after: float
    log_change: Mapping[str, float]  # Δln of each factor
    share: Mapping[str, float]  # Δln(factor) / Δln(revenue); sums to 1

    @property
    def relative(self) -> float:
        return self.after / self.before - 1


def kpi_tree(previous: Mapping[str, float], current: Mapping[str, float]) -> TreeChange:
    """Log decomposition of the revenue change: Δln(revenue) = Σ Δln(factor), exactly."""
    logs = {f: math.log(current[f] / previous[f]) for f in FACTORS}
    total = sum(logs.values())
    shares = {f: (logs[f] / total if total else float("nan")) for f in FACTORS}
    before = math.prod(previous[f] for f in FACTORS)
    after = math.prod(current[f] for f in FACTORS)
    return TreeChange(before, after, logs, shares)


def mix_rate(
    weight_before: pd.Series, rate_before: pd.Series, weight_after: pd.Series, rate_after: pd.Series
) -> pd.DataFrame:
    """Symmetric shift-share of R = Σ w_i r_i (w: shares that sum to 1): per cut, the mix part
    Δw_i · (r̄_i − R̄) and the rate part w̄_i · Δr_i; together they add up to ΔR exactly.

    The mix parts sum to Σ Δw_i · r̄_i (methods.md) because the shares' changes sum to zero; the
    overall average R̄ is taken off each cut so that traffic moving into a cut that converts like
    the shop as a whole is no effect, and a cut is named for mix only when it converts unlike the
    rest (without it, every cut that lost share would look like it pulled the ratio down)."""
    cuts = weight_before.index.union(weight_after.index)
    w0, w1 = weight_before.reindex(cuts, fill_value=0.0), weight_after.reindex(cuts, fill_value=0.0)
    r0, r1 = rate_before.reindex(cuts).fillna(0.0), rate_after.reindex(cuts).fillna(0.0)
    overall = ((w0 * r0).sum() + (w1 * r1).sum()) / 2
    out = pd.DataFrame(
        {"mix": (w1 - w0) * ((r0 + r1) / 2 - overall), "rate": (w0 + w1) / 2 * (r1 - r0)},
        index=cuts,
    )
    out["total"] = out.mix + out.rate
    return out.sort_values("total", key=np.abs, ascending=False)


def seasonal_scores(values: pd.Series, lags: int = LAGS, year: int = 52) -> pd.DataFrame:
    """Each point against a baseline that knows the season: the median of the previous ``lags``
    points (same weekday for a daily series given every 7th point), scaled by last year's ratio
    of the same point to its own median when a year of history exists; the robust spread is
    1.4826 x the MAD of the earlier log residuals. Returns baseline, residual, z (NaN while the
    history is too short) and seasonal (whether last year's ratio was applied)."""
    v = np.log(values.astype(float).clip(lower=1e-12)).to_numpy()
    n = len(v)
    base = np.full(n, np.nan)
    seasonal = np.zeros(n, dtype=bool)
    for t in range(lags, n):
        level = np.median(v[t - lags : t])
        seasonal[t] = t - year - lags >= 0
        if seasonal[t]:
            level += v[t - year] - np.median(v[t - year - lags : t - year])
        base[t] = level
    resid = v - base
    z = np.full(n, np.nan)
    for t in range(n):
        past = resid[max(0, t - 26) : t]
        past = past[~np.isnan(past)]
        if past.size >= MIN_RESIDUALS and not np.isnan(resid[t]):
            spread = 1.4826 * np.median(np.abs(past - np.median(past)))
            z[t] = resid[t] / spread if spread > 0 else 0.0
    return pd.DataFrame(
        {
            "value": values.to_numpy(),
            "baseline": np.exp(base),
            "residual": resid,
            "z": z,
            "seasonal": seasonal,
        },
        index=values.index,
    )


def anomaly_sentence(label: str, value: float, baseline: float, seasonal: bool = False) -> str:
    """'Mobile conversion fell 25% below its usual level' (+ 'for this time of year' only when
    last year's same week shaped the baseline)."""
    change = value / baseline - 1
    verb = "fell" if change < 0 else "rose"
    side = "below" if change < 0 else "above"
    season = " for this time of year" if seasonal else ""
    return f"{label} {verb} {abs(change):.0%} {side} its usual level{season}."


def too_short_sentence(weeks: int) -> str:
    """Said instead of 'within its usual range' while no baseline can be formed."""
    return (
        f"With {weeks} complete weeks of data, no KPI can be called usual or unusual yet "
        f"(the baseline needs {HISTORY_WEEKS})."
    )


def decide(
    tree: TreeChange | None,
    alerts: list[str],
    low_ltv_cac: list[str] | None = None,
    weeks: int = HISTORY_WEEKS,
    moved_step: str | None = None,
) -> Decision:
    """The review's verdict from docs/decisions.md (Weekly business review, WBR-1..WBR-4);
    ``weeks`` is the number of complete weeks the baseline had to work with; ``moved_step``
    the funnel's sentence on the step that moved (it explains an alert, never raises one)."""
    low_ltv_cac = low_ltv_cac or []
    if tree is None:
        return Decision(
            "weekly_business_review",
            "no_data",
            "No complete week",
            "The data holds no complete week before the analysis date.",
            "Check that the orders reach the analysis date, then run the review again.",
            "WBR-1",
        )
    if alerts:
        return Decision(
            "weekly_business_review",
            "investigate",
            "Investigate",
            " ".join([*alerts, *([moved_step] if moved_step else [])]),
            "Find the cause of the unusual value this week before anything else.",
            "WBR-2",
        )
    if low_ltv_cac:
        return Decision(
            "weekly_business_review",
            "rebalance_spend",
            "Rebalance acquisition spend",
            "A customer acquired through "
            + ", ".join(low_ltv_cac)
            + " is worth less than it costs.",
            "Move spend from " + ", ".join(low_ltv_cac) + " to channels whose LTV exceeds CAC.",
            "WBR-3",
        )
    top = max(FACTORS, key=lambda f: abs(tree.log_change[f]))
    usual = (
        "within its usual range"
        if weeks >= HISTORY_WEEKS
        else f"too little history to say whether that is usual ({weeks} of {HISTORY_WEEKS} weeks)"
    )
    return Decision(
        "weekly_business_review",
        "on_track",
        "On track",
        f"Revenue changed {tree.relative:+.1%} on the previous week, {usual}; "
        f"{FACTOR_LABELS[top]} moved most.",
        "No action needed; keep the weekly review on schedule.",
        "WBR-4",
    )


@dataclass(frozen=True)
class Review:
    """Everything the weekly review page shows, computed once."""

    series: pd.DataFrame  # one row per complete week
    tree: TreeChange | None  # last complete week against the previous one
    alerts: list[str]  # unusual KPIs of the last complete week, in plain words
    decision: Decision
    funnel_counts: pd.DataFrame = field(default_factory=pd.DataFrame)  # funnel.weekly_counts
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)  # funnel.last_week_scores
    economics: acquisition.Economics | None = None  # None: no spend or acquisition channels
    cuts: list[drilldown.CutSplit] = field(default_factory=list)  # the drill-down by cut
    operations: operations_.Operations | None = None  # refunds, deliveries, support contacts

    @property
    def funnel_sentence(self) -> str:
        return funnel.step_sentence(self.funnel, has_traffic=not self.funnel_counts.empty)


KPI_LABELS = {
    "revenue": "Revenue",
    "orders": "Orders",
    "buyers": "Buyers",
    "sessions": "Sessions",
    "conversion": "Conversion",
    "aov": "Average order value",
}


def device_conversion(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Orders per session by device and week (columns: devices), from the traffic table."""
    if not data.has_table(con, "traffic"):
        return pd.DataFrame()
    t = data.table(con, "traffic")
    t = t.filter(t.date < end.to_pydatetime()).mutate(week=week_start(t.date))
    frame = data.fetch(
        t.group_by(["week", "device"]).aggregate(s=t.sessions.sum(), p=t.purchases.sum())
    )
    frame["week"] = pd.to_datetime(frame["week"])
    frame = frame[frame.week + pd.Timedelta(days=7) <= end]
    return (frame.p / frame.s).groupby([frame.week, frame.device]).sum().unstack().sort_index()


def review(
    con: ibis.BaseBackend,
    end: pd.Timestamp,
    *,
    retention_channels: tuple[str, ...] | list[str] = ("email",),
    cac_window_weeks: int = 8,
    margin: float = 0.3,
    ltv_months: int = 12,
    annual_discount: float = 0.1,
) -> Review:
    """The KPI tree of the last complete week before ``end``, its unusual KPIs and operational
    metrics (each one a WBR-2 alert), the funnel, the drill-down by cut, the acquisition
    economics (``acquisition.economics`` with these parameters) and the verdict."""
    series = weekly_series(con, end)
    ops = operations_.operations(con, end)
    counts = funnel.weekly_counts(con, end)
    scores = funnel.last_week_scores(counts)
    econ = acquisition.economics(
        con,
        end,
        retention_channels=tuple(retention_channels),
        window_weeks=cac_window_weeks,
        margin=margin,
        months=ltv_months,
        annual_discount=annual_discount,
    )
    if len(series) < 2:
        return Review(series, None, [], decide(None, []), counts, scores, econ, [], ops)
    cuts = drilldown.drilldown(con, end)
    tree = kpi_tree(series.iloc[-2], series.iloc[-1])
    columns = {label: series[key] for key, label in KPI_LABELS.items()}
    for device, values in device_conversion(con, end).items():
        columns[f"{str(device).capitalize()} conversion"] = values
    alerts = []
    for label, values in columns.items():
        scored = seasonal_scores(values.dropna())
        last = scored.iloc[-1] if len(scored) else None
        if last is not None and abs(last.z) > ROBUST_Z:
            alerts.append(anomaly_sentence(label, last.value, last.baseline, last.seasonal))
    alerts += operations_.alerts(ops)
    moved = funnel.step_sentence(scores) if funnel.moved_step(scores) is not None else None
    low = econ.low_ltv_cac if econ is not None else []
    verdict = decide(tree, alerts, low, weeks=len(series), moved_step=moved)
    return Review(series, tree, alerts, verdict, counts, scores, econ, cuts, ops)


RANGE_WEEKS = 8  # the trailing range a week is read against
KPI_KINDS = {  # how each KPI is written
    "revenue": "money",
    "orders": "count",
    "buyers": "count",
    "sessions": "count",
    "conversion": "share",
    "aov": "money",
}


@dataclass(frozen=True)
class KpiWeek:
    """One KPI of the last complete week against the week before, the same week last year and
    the range of the ``RANGE_WEEKS`` weeks before it."""

    kpi: str
    value: float
    previous: float
    last_year: float | None  # None: the data does not reach back 52 weeks
    low: float | None  # None: fewer than RANGE_WEEKS earlier weeks
    high: float | None

    @property
    def position(self) -> str | None:
        """'within', 'above' or 'below' the trailing range (None without one)."""
        if self.low is None or self.high is None:
            return None
        return "above" if self.value > self.high else "below" if self.value < self.low else "within"


def kpi_weeks(series: pd.DataFrame) -> list[KpiWeek]:
    """Each KPI of the last row of ``weekly_series`` against the row before, the row 52 weeks
    earlier (same weekday, so the same week of the year within a day) and the range of the
    ``RANGE_WEEKS`` rows before it."""
    if len(series) < 2:
        return []
    week = series.index[-1]
    year_ago = week - pd.Timedelta(weeks=52)
    earlier = series.iloc[-1 - RANGE_WEEKS : -1] if len(series) > RANGE_WEEKS else None
    out = []
    for key in KPI_KINDS:
        values = series[key]
        last_year = float(values[year_ago]) if year_ago in values.index else None
        low = float(earlier[key].min()) if earlier is not None else None
        high = float(earlier[key].max()) if earlier is not None else None
        out.append(
            KpiWeek(key, float(values.iloc[-1]), float(values.iloc[-2]), last_year, low, high)
        )
    return out


def _written(value: float | None, kind: str, currency: str) -> str:
    from .formats import format_money

    if value is None or pd.isna(value):
        return "–"
    if kind == "money":
        return format_money(value, currency, 2 if abs(value) < 100 else 0)
    if kind == "share":
        return f"{value:.2%}"
    return f"{value:,.0f}"


def _relative(value: float, reference: float | None) -> str:
    if reference is None or not reference or pd.isna(reference):
        return "–"
    return f"{value / reference - 1:+.1%}"


def kpi_week_table(kpis: list[KpiWeek], currency: str) -> pd.DataFrame:
    """The KPIs as text for the page (they are written in different units)."""
    rows = []
    for k in kpis:
        kind = KPI_KINDS[k.kpi]
        rows.append(
            {
                "KPI": KPI_LABELS[k.kpi],
                "Last week": _written(k.value, kind, currency),
                "Week before": _written(k.previous, kind, currency),
                "Change": _relative(k.value, k.previous),
                "Same week last year": _written(k.last_year, kind, currency),
                "Change on last year": _relative(k.value, k.last_year),
                f"Range of the {RANGE_WEEKS} weeks before": "–"
                if k.low is None
                else f"{_written(k.low, kind, currency)} – {_written(k.high, kind, currency)}",
                "Against that range": k.position or "–",
            }
        )
    return pd.DataFrame(rows)


def north_star_sentence(series: pd.DataFrame, currency: str) -> str:
    """'Week of 22 Jun 2026: revenue $66.0k, -0.2% on the week before, +4.1% on the same week
    last year, within the range of the 8 weeks before ($58.1k – $71.9k).'"""
    revenue = next(k for k in kpi_weeks(series) if k.kpi == "revenue")
    parts = [
        f"Week of {series.index[-1]:%d %b %Y}: revenue "
        f"{_written(revenue.value, 'money', currency)}, "
        f"{_relative(revenue.value, revenue.previous)} on the week before"
    ]
    if revenue.last_year is None:
        parts.append("no data for the same week last year")
    else:
        parts.append(f"{_relative(revenue.value, revenue.last_year)} on the same week last year")
    if revenue.position is not None:
        span = f"{_written(revenue.low, 'money', currency)} – "
        span += _written(revenue.high, "money", currency)
        parts.append(f"{revenue.position} the range of the {RANGE_WEEKS} weeks before ({span})")
    return ", ".join(parts) + "."


def factor_table(tree: TreeChange) -> pd.DataFrame:
    """The KPI tree as a table: each factor's change and its share of the revenue change."""
    return pd.DataFrame(
        {
            "Change": [math.expm1(tree.log_change[f]) for f in FACTORS],
            "Share of the revenue change": [tree.share[f] for f in FACTORS],
        },
        index=[FACTOR_LABELS[f].capitalize() for f in FACTORS],
    )


def what_it_means(points: list[str]):
    """A section's closing sentences as Markdown, escaped so that money and channel names read
    as written."""
    from IPython.display import Markdown

    from .formats import md_escape

    return Markdown("**What this means**\n\n" + "\n".join(f"- {md_escape(p)}" for p in points))


def driver_sentence(tree: TreeChange) -> str:
    """Which factors of the KPI tree moved revenue. A share of the change is quoted only when
    every factor moved with revenue (shares between 0 and 100%); when factors pulled against
    each other the shares divide by a small net change (a factor "explaining" -700%), so the
    sentence names the largest rise and the largest fall instead."""

    def moved(factor: str) -> str:
        return f"{FACTOR_LABELS[factor]} ({math.expm1(tree.log_change[factor]):+.1%})"

    top = max(FACTORS, key=lambda f: abs(tree.log_change[f]))
    if all(0 <= tree.share[f] <= 1 for f in FACTORS):
        text = f"{moved(top)} moved most: {tree.share[top]:.0%} of the change in log terms."
        return text[0].upper() + text[1:]
    rise = max(FACTORS, key=lambda f: tree.log_change[f])
    fall = min(FACTORS, key=lambda f: tree.log_change[f])
    if tree.log_change[rise] <= 0 or tree.log_change[fall] >= 0:  # nothing moved at all
        return "No factor of revenue moved."
    text = (
        f"{moved(rise)} and {moved(fall)} pulled in opposite directions; "
        f"revenue moved {tree.relative:+.1%} net."
    )
    return text[0].upper() + text[1:]


def summary_points(result: Review, currency: str) -> list[str]:
    """The executive summary's sentences."""
    from .formats import md_escape

    if result.tree is None:
        return ["No complete week of data before the analysis date."]
    tree = result.tree
    points = [md_escape(north_star_sentence(result.series, currency)), driver_sentence(tree)]
    if result.alerts:
        points += result.alerts
        if funnel.moved_step(result.funnel) is not None:
            points.append(result.funnel_sentence)
    elif len(result.series) < HISTORY_WEEKS:
        points.append(too_short_sentence(len(result.series)))
    else:
        points.append("No KPI is outside its usual range.")
    low = result.economics.low_ltv_cac if result.economics is not None else []
    if low:
        points.append(
            f"A customer acquired through {', '.join(low)} is worth less than it costs "
            "(LTV:CAC below 1)."
        )
    return points
