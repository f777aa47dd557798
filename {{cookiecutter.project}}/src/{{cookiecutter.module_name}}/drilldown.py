"""The drill-down of the last complete week against the week before: which cuts moved it, and
whether by mix or by rate.

Two ratios are split by cut with the symmetric shift-share of ``weekly.mix_rate`` (exact: the
mix and rate parts of all cuts add up to the ratio's change):

- **conversion** (orders per session of the ``traffic`` table, else of ``sessions``) by device
  and traffic source: *mix* is traffic moving between cuts that convert differently, *rate* is
  conversion changing within a cut;
- **average order value** by sales channel (``orders.channel``), country
  (``customers.country``) and new vs returning customer (new: first order that week, as in
  ``retention.new_vs_returning``): *mix* is orders moving between cuts with different baskets,
  *rate* is baskets changing within a cut. Beside it, each cut's part of the revenue change.

The cut named as the driver is the one with the largest change (revenue for order cuts, its
part of the conversion change for traffic cuts). Every aggregate is a portable Ibis expression,
one query per cut kind over the two weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from . import customer_orders, data, periods, weekly

TRAFFIC_CUTS = {"device": ("device", "devices"), "source": ("traffic source", "sources")}
ORDER_CUTS = {  # kind -> (name of one cut kind, the cuts in a sentence)
    "channel": ("sales channel", "sales channels"),
    "country": ("country", "countries"),
    "customer": ("new vs returning", "new and returning customers"),
}
MAX_CUTS = 8  # more cuts than this: the smallest movers are summed into one row
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CutSplit:
    """One cut kind's split of the week's change."""

    kind: str  # a TRAFFIC_CUTS or ORDER_CUTS key
    metric: str  # "conversion" or "aov"
    before: float  # the ratio in the week before
    after: float  # the ratio in the last complete week
    table: pd.DataFrame  # per cut: volume/ratio before and after, mix, rate, total (+ revenue)

    @property
    def label(self) -> str:
        return {**TRAFFIC_CUTS, **ORDER_CUTS}[self.kind][0]

    @property
    def plural(self) -> str:
        return {**TRAFFIC_CUTS, **ORDER_CUTS}[self.kind][1]


def weeks(end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First days of the week before and of the last complete week before ``end``."""
    last = periods.last_complete_week(end)
    return last - pd.Timedelta(days=7), last


def _window(column: ibis.Value, end: pd.Timestamp) -> ibis.Value:
    before, last = weeks(end)
    return (column >= before.to_pydatetime()) & (
        column < (last + pd.Timedelta(days=7)).to_pydatetime()
    )


def traffic_counts(con: ibis.BaseBackend, end: pd.Timestamp, kind: str) -> pd.DataFrame:
    """Sessions and orders per (week, cut) of the two weeks; empty without visit data."""
    if data.has_table(con, "traffic"):
        t = data.table(con, "traffic")
        t = t.filter(_window(t.date, end)).mutate(week=periods.week_start(t.date))
        query = t.group_by(["week", kind]).aggregate(
            volume=t.sessions.sum(), numerator=t.purchases.sum()
        )
    elif data.has_table(con, "sessions"):
        s = data.table(con, "sessions")
        s = s.filter(_window(s.started_at, end)).mutate(week=periods.week_start(s.started_at))
        query = s.group_by(["week", kind]).aggregate(
            volume=s.count(), numerator=s.purchased.cast("int64").sum()
        )
    else:
        return pd.DataFrame(columns=["week", "cut", "volume", "numerator"])
    return _tidy(data.fetch(query.rename(cut=kind)))


def order_counts(con: ibis.BaseBackend, end: pd.Timestamp, kind: str) -> pd.DataFrame | None:
    """Orders and revenue per (week, cut) of the two weeks; None when the data has no such cut
    (no ``orders.channel``, no ``customers.country``)."""
    o = data.table(con, "orders")
    if kind == "channel" and "channel" not in o.columns:
        return None
    if kind == "country":
        if not data.has_table(con, "customers"):
            return None
        c = data.table(con, "customers")
        if "country" not in c.columns:
            return None
        o = o.left_join(c.select("customer_id", "country"), "customer_id")
    if kind == "customer":  # the two weeks end on or before end: their orders are all here
        h = customer_orders.history(con, end)
        o = h.filter(_window(h.ordered_at, end))
        o = o.mutate(cut=ibis.ifelse(periods.week_start(o.first_at) == o.week, "new", "returning"))
    else:
        o = o.filter(_window(o.ordered_at, end)).mutate(week=periods.week_start(o.ordered_at))
        o = o.mutate(cut=o[kind].cast("string"))
    query = o.group_by(["week", "cut"]).aggregate(volume=o.count(), numerator=o.revenue.sum())
    return _tidy(data.fetch(query))


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["week"] = pd.to_datetime(frame["week"])
    frame["cut"] = frame["cut"].fillna(UNKNOWN).astype(str)
    return frame.astype({"volume": float, "numerator": float})


def split(
    counts: pd.DataFrame, before: pd.Timestamp, last: pd.Timestamp, by: str = "numerator_change"
) -> pd.DataFrame:
    """Per cut: volume (sessions or orders) and ratio (numerator / volume) in both weeks, the
    mix and rate parts of the overall ratio's change (``weekly.mix_rate``) and the change of the
    numerator (orders or revenue). Ordered by the largest absolute ``by`` (the numerator's change,
    or ``total``: the cut's part of the ratio's change); cuts beyond ``MAX_CUTS`` are summed
    into one row (the parts are additive, so the totals still hold)."""
    wide = counts.pivot_table(
        index="cut", columns="week", values=["volume", "numerator"], aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(
        columns=pd.MultiIndex.from_product([["volume", "numerator"], [before, last]])
    )
    wide = wide.fillna(0.0)
    v0, v1 = wide["volume", before], wide["volume", last]
    n0, n1 = wide["numerator", before], wide["numerator", last]
    r0, r1 = (n0 / v0).where(v0 > 0), (n1 / v1).where(v1 > 0)
    parts = weekly.mix_rate(v0 / v0.sum(), r0, v1 / v1.sum(), r1)
    table = pd.DataFrame(
        {
            "volume_before": v0,
            "volume_after": v1,
            "ratio_before": r0,
            "ratio_after": r1,
            "numerator_change": n1 - n0,
        }
    ).join(parts)
    table = table.reindex(table[by].abs().sort_values(ascending=False, kind="stable").index)
    if len(table) > MAX_CUTS:
        head, tail = table.iloc[: MAX_CUTS - 1], table.iloc[MAX_CUTS - 1 :]
        folded = tail[["volume_before", "volume_after", "numerator_change", "mix", "rate", "total"]]
        rest = folded.sum().to_frame(f"{len(tail)} other cuts").T
        rest["ratio_before"] = (tail.ratio_before * tail.volume_before).sum() / rest.volume_before
        rest["ratio_after"] = (tail.ratio_after * tail.volume_after).sum() / rest.volume_after
        table = pd.concat([head, rest[table.columns]])
    table.index.name = "cut"
    return table


def drilldown(con: ibis.BaseBackend, end: pd.Timestamp) -> list[CutSplit]:
    """Every cut kind the data has, split for the last complete week against the week before."""
    before, last = weeks(end)
    out = []
    frames = {kind: traffic_counts(con, end, kind) for kind in TRAFFIC_CUTS}
    frames |= {kind: order_counts(con, end, kind) for kind in ORDER_CUTS}
    for kind, counts in frames.items():
        if counts is None or counts.empty or not {before, last} <= set(counts.week):
            continue
        traffic = kind in TRAFFIC_CUTS
        table = split(counts, before, last, by="total" if traffic else "numerator_change")
        overall = counts.groupby("week")[["numerator", "volume"]].sum()
        ratio = overall.numerator / overall.volume
        metric = "conversion" if traffic else "aov"
        out.append(CutSplit(kind, metric, float(ratio[before]), float(ratio[last]), table))
    return out


def cut_table(cut: CutSplit) -> pd.DataFrame:
    """One cut kind as the page shows it; ``pt``: percentage points of conversion (traffic cuts),
    money per order (order cuts)."""
    t = cut.table
    name = cut.label.capitalize()
    if cut.metric == "conversion":
        return pd.DataFrame(
            {
                name: t.index,
                "Sessions, last week": t.volume_after.to_numpy(),
                "Conversion, week before": t.ratio_before.to_numpy(),
                "Conversion, last week": t.ratio_after.to_numpy(),
                "Mix (pt)": 100 * t.mix.to_numpy(),
                "Rate (pt)": 100 * t.rate.to_numpy(),
                "Part of the change (pt)": 100 * t.total.to_numpy(),
            }
        )
    return pd.DataFrame(
        {
            name: t.index,
            "Revenue, last week": (t.ratio_after.fillna(0.0) * t.volume_after).to_numpy(),
            "Revenue change": t.numerator_change.to_numpy(),
            "Orders, last week": t.volume_after.to_numpy(),
            "AOV, week before": t.ratio_before.to_numpy(),
            "AOV, last week": t.ratio_after.to_numpy(),
            "AOV mix": t.mix.to_numpy(),
            "AOV rate": t.rate.to_numpy(),
        }
    )


def table_formats(cut: CutSplit) -> dict[str, Any]:
    """How ``plots.styled_table`` writes :func:`cut_table`'s columns."""
    if cut.metric == "conversion":
        points = {"Mix (pt)": 2, "Rate (pt)": 2, "Part of the change (pt)": 2}
        return {
            "pct": ["Conversion, week before", "Conversion, last week"],
            "decimals": {"Sessions, last week": 0, **points},
        }
    money = ["Revenue, last week", "Revenue change", "AOV, week before", "AOV, last week"]
    return {"money": [*money, "AOV mix", "AOV rate"], "decimals": {"Orders, last week": 0}}


def _signed_money(value: float, currency: str, decimals: int = 0) -> str:
    from .formats import format_money

    return ("+" if value >= 0 else "−") + format_money(abs(value), currency, decimals)


def _points(value: float) -> str:
    return f"{100 * value:+.2f} pt".replace("-", "−")


def sentence(cut: CutSplit, currency: str) -> str:
    """What one cut kind says: the ratio's change split into rate and mix, and the cut that
    moved most (by the rule in the module docstring) with its own rate and mix parts."""
    from .formats import format_money

    t = cut.table
    rate, mix = float(t.rate.sum()), float(t.mix.sum())
    top = t.iloc[0]
    if cut.metric == "conversion":
        moved = t.total
        head = (
            f"By {cut.label}: conversion went from {cut.before:.2%} to {cut.after:.2%} "
            f"({_points(cut.after - cut.before)}): {_points(rate)} from conversion changing "
            f"within {cut.plural}, {_points(mix)} from traffic moving between them"
        )
        most = (
            f"{t.index[0]} moved it most ({_points(top.total)}: "
            f"{_points(top.rate)} rate, {_points(top.mix)} mix)"
        )
    else:
        moved = t.numerator_change
        total = _signed_money(float(t.numerator_change.sum()), currency)
        head = (
            f"By {cut.label}: revenue changed {total}; average order value went from "
            f"{format_money(cut.before, currency, 2)} to {format_money(cut.after, currency, 2)}: "
            f"{_signed_money(rate, currency, 2)} from baskets changing within {cut.plural}, "
            f"{_signed_money(mix, currency, 2)} from orders moving between them"
        )
        most = f"{t.index[0]} moved revenue most ({_signed_money(top.numerator_change, currency)})"
    if moved.abs().max() == 0:
        return f"{head}; no {cut.label} moved it."
    return f"{head}; {most}."


def sentences(cuts: list[CutSplit], currency: str) -> list[str]:
    """The drill-down section's sentences, or why there is none."""
    if not cuts:
        return [
            "No drill-down: the data holds fewer than two complete weeks before the analysis date."
        ]
    return [sentence(cut, currency) for cut in cuts]
