"""Operational metrics for the weekly review: refunds, late deliveries, days to delivery and
support contacts, each week against its own seasonal robust baseline.

Per complete week (``periods.week_start``) before the analysis end:

- refund rate: orders flagged ``orders.is_refunded`` / orders, by the week of the order;
- late deliveries: the share of orders whose promised delivery (``fulfilment.promised_at``)
  fell in the week that arrived after it or had not arrived by the end (by the week of the
  promise, so every order counted has had its chance to be on time);
- days to delivery: the median days from the order to its delivery, by the week of delivery
  (an order still on its way is not counted until it arrives, so the week is never censored);
- support contacts per 100 orders: contacts that week (``support_contacts.contacted_at``) per
  100 orders that week.

The last complete week of each is compared with ``weekly.seasonal_scores`` (unusual beyond
``weekly.ROBUST_Z`` robust SDs). A metric whose table or column is absent is replaced by one
sentence saying what to add. Every aggregate is a portable Ibis expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from . import contract, customer_orders, data, periods, weekly

SECONDS_PER_DAY = 86_400
METRICS = {  # key -> (label, how the value is written: share, days or number)
    "refund_rate": ("Refund rate", "share"),
    "late_share": ("Share of orders delivered later than promised", "share"),
    "delivery_days": ("Median days from order to delivery", "days"),
    "contacts_per_100": ("Support contacts per 100 orders", "number"),
}


def _columns(table: str) -> str:
    return ", ".join(c.name for c in contract.TABLES[table].columns)


def missing_sentence(what: str) -> str:
    """What to add for a metric group: ``refunds``, ``fulfilment``, ``promise`` or ``support``."""
    if what == "refunds":
        return (
            "The refund rate needs the optional orders.is_refunded column (true for a refunded "
            "order); add it to see whether refunds are usual this week."
        )
    if what == "fulfilment":
        return (
            f"Late deliveries and days to delivery need the optional fulfilment table "
            f"({_columns('fulfilment')}); add it to see whether orders arrive on time."
        )
    if what == "promise":
        return (
            "The share of late deliveries needs fulfilment.promised_at (the latest delivery "
            "promised to the customer); add it to compare deliveries with the promise."
        )
    if what == "support":
        return (
            f"Support contacts per 100 orders need the optional support_contacts table "
            f"({_columns('support_contacts')}); add it to see whether customers need more help."
        )
    raise ValueError(f"Unknown metric group {what!r}.")


def _by_week(expr: ibis.Table, end: pd.Timestamp) -> pd.DataFrame:
    """Fetch a per-week aggregate: index the complete weeks before ``end``, sorted."""
    frame = data.fetch(expr)
    frame["week"] = pd.to_datetime(frame["week"])
    frame = frame.set_index("week").sort_index().astype(float)
    return frame[frame.index + pd.Timedelta(days=7) <= end]


def order_counts(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Per complete week: orders, orders with a refund flag (flagged) and refunded orders."""
    o = customer_orders.history(con, end)  # the review's orders, already in the engine's memory
    refunded = ibis.cases((o.is_refunded, 1), else_=0)
    return _by_week(
        o.group_by("week").aggregate(
            orders=o.count(), flagged=o.is_refunded.count(), refunded=refunded.sum()
        ),
        end,
    )


def refund_rate(counts: pd.DataFrame) -> pd.Series | None:
    """Refunded orders / orders per week; None when no order carries a refund flag."""
    if counts.empty or counts.flagged.sum() == 0:
        return None
    return counts.refunded / counts.orders


def late_share(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.Series | None:
    """Per week of the promise: the share of orders delivered after it or not yet delivered;
    None without fulfilment.promised_at."""
    f = data.table(con, "fulfilment")
    f = f.filter(f.promised_at.notnull() & (f.promised_at < end.to_pydatetime()))
    late = ibis.cases((f.delivered_at.isnull() | (f.delivered_at > f.promised_at), 1), else_=0)
    f = f.mutate(week=periods.week_start(f.promised_at), late=late)
    frame = _by_week(f.group_by("week").aggregate(promised=f.count(), late=f.late.sum()), end)
    if frame.empty:
        return None
    return frame.late / frame.promised


def delivery_days(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.Series:
    """Per week of delivery: the median days from the order to its delivery."""
    f = data.table(con, "fulfilment").select("order_id", "delivered_at")
    o = data.table(con, "orders").select("order_id", "ordered_at")
    j = f.inner_join(o, "order_id")
    j = j.filter(j.delivered_at.notnull() & (j.delivered_at < end.to_pydatetime()))
    seconds = j.delivered_at.epoch_seconds() - j.ordered_at.epoch_seconds()
    j = j.mutate(week=periods.week_start(j.delivered_at), days=seconds.cast("float64"))
    j = j.mutate(days=j.days / SECONDS_PER_DAY)
    frame = _by_week(j.group_by("week").aggregate(days=j.days.median()), end)
    return frame.days


def contacts_per_100(con: ibis.BaseBackend, end: pd.Timestamp, orders: pd.Series) -> pd.Series:
    """Support contacts per week per 100 orders that week."""
    s = data.table(con, "support_contacts")
    s = s.filter(s.contacted_at < end.to_pydatetime())
    s = s.mutate(week=periods.week_start(s.contacted_at))
    contacts = _by_week(s.group_by("week").aggregate(contacts=s.count()), end).contacts
    contacts = contacts.reindex(orders.index, fill_value=0.0)
    return 100 * contacts / orders.where(orders > 0)


@dataclass(frozen=True)
class Operations:
    """The operational metrics per week and the last complete week against its usual range."""

    week: pd.Timestamp  # first day of the last complete week
    series: pd.DataFrame  # one row per week, one column per available metric (METRICS keys)
    scores: pd.DataFrame  # one row per available metric: value, baseline, z, seasonal, unusual
    missing: list[str] = field(default_factory=list)  # what to add for the absent metrics


def score(series: pd.Series, week: pd.Timestamp) -> dict:
    """The value of ``week`` against its seasonal robust baseline (NaN when it has none)."""
    values = series.replace([np.inf, -np.inf], np.nan).dropna()
    values = values[values.index <= week]
    if week not in values.index:
        return {"value": np.nan, "baseline": np.nan, "z": np.nan, "seasonal": False}
    last = weekly.seasonal_scores(values).iloc[-1]
    return {
        "value": float(last.value),
        "baseline": float(last.baseline),
        "z": float(last.z),
        "seasonal": bool(last.seasonal),
    }


def operations(con: ibis.BaseBackend, end: pd.Timestamp) -> Operations:
    """Refunds, late deliveries, days to delivery and support contacts per complete week before
    ``end``, and the last complete week of each against its usual range."""
    counts = order_counts(con, end)
    columns: dict[str, pd.Series] = {}
    missing = []
    refunds = refund_rate(counts)
    if refunds is None:
        missing.append(missing_sentence("refunds"))
    else:
        columns["refund_rate"] = refunds
    if data.has_table(con, "fulfilment"):
        late = late_share(con, end)
        if late is None:
            missing.append(missing_sentence("promise"))
        else:
            columns["late_share"] = late
        columns["delivery_days"] = delivery_days(con, end)
    else:
        missing.append(missing_sentence("fulfilment"))
    if data.has_table(con, "support_contacts"):
        columns["contacts_per_100"] = contacts_per_100(con, end, counts.get("orders", pd.Series()))
    else:
        missing.append(missing_sentence("support"))
    week = periods.last_complete_week(end)
    series = pd.DataFrame(columns).sort_index() if columns else pd.DataFrame()
    rows = {key: score(values, week) for key, values in columns.items()}
    scores = pd.DataFrame.from_dict(
        rows, orient="index", columns=["value", "baseline", "z", "seasonal"]
    )
    scores["unusual"] = scores.z.abs() > weekly.ROBUST_Z
    return Operations(week, series, scores, missing)


def _written(value: float, kind: str) -> str:
    if kind == "share":
        return f"{value:.1%}"
    if kind == "days":
        return f"{value:.1f} days"
    return f"{value:.1f}"


SWINGS = 0.25  # a usual week more than 25% from the typical level is said to swing


def metric_sentence(key: str, row: pd.Series, week: pd.Timestamp) -> str:
    """'Refund rate: 4.2% in the week of 22 Jun 2026, within its usual range (usual level
    4.0%).' or the anomaly sentence with its robust z."""
    label, kind = METRICS[key]
    if pd.isna(row.value):
        return f"{label}: no value for the week of {week:%d %b %Y}."
    head = f"{label}: {_written(row.value, kind)} in the week of {week:%d %b %Y}"
    if pd.isna(row.z):
        return (
            f"{head}; too little history to say whether that is usual "
            f"(the baseline needs {weekly.HISTORY_WEEKS} complete weeks)."
        )
    if abs(row.z) > weekly.ROBUST_Z:
        moved = weekly.anomaly_sentence(label, row.value, row.baseline, bool(row.seasonal))
        return f"{head}. {moved[:-1]} ({abs(row.z):.1f} robust SDs)."
    level = _written(row.baseline, kind)
    if row.baseline and abs(row.value / row.baseline - 1) > SWINGS:
        # far from the typical level yet not unusual: say why, or "usual" reads as a contradiction
        side = "above" if row.value > row.baseline else "below"
        return (
            f"{head}, within its usual range though {side} its typical level ({level}): "
            "it swings from week to week."
        )
    return f"{head}, within its usual range (usual level {level})."


def sentences(ops: Operations) -> list[str]:
    """What the operations section says: one sentence per metric, then what to add."""
    points = [metric_sentence(key, row, ops.week) for key, row in ops.scores.iterrows()]
    return points + ops.missing


def alerts(ops: Operations) -> list[str]:
    """Each metric outside its usual range in the last complete week, in the words of the KPI
    alerts ("Refund rate rose 60% above its usual level."): they join the review's WBR-2."""
    return [
        weekly.anomaly_sentence(METRICS[key][0], row.value, row.baseline, bool(row.seasonal))
        for key, row in ops.scores[ops.scores.unusual].iterrows()
    ]


def unusual(ops: Operations) -> list[str]:
    """Labels of the metrics outside their usual range in the last complete week."""
    return [METRICS[key][0] for key in ops.scores.index[ops.scores.unusual]]


def scores_table(ops: Operations) -> pd.DataFrame:
    """The last complete week of each metric: value, usual level and robust z, as text for the
    page (the metrics are written in different units)."""
    rows = []
    for key, row in ops.scores.iterrows():
        label, kind = METRICS[key]
        rows.append(
            {
                "Metric": label,
                "Last complete week": _written(row.value, kind) if pd.notna(row.value) else "",
                "Usual level": _written(row.baseline, kind) if pd.notna(row.baseline) else "",
                "Robust z": f"{row.z:+.1f}" if pd.notna(row.z) else "",
                "Usual?": "" if pd.isna(row.z) else ("no" if row.unusual else "yes"),
            }
        )
    return pd.DataFrame(
        rows, columns=["Metric", "Last complete week", "Usual level", "Robust z", "Usual?"]
    )
