"""Retention for the weekly review: monthly acquisition cohorts, repeat rate, time to the second
order, and new vs returning customers per week.

A customer's cohort is the calendar month of their first order; retention(c, k) is the share of
cohort c ordering in the k-th month after it (methods.md). A cell counts only once month c + k
is complete before the analysis end. Time to the second order is a Kaplan-Meier estimate: a
customer still waiting is censored at the end, so recent cohorts do not drag the median down.
Every aggregate is a portable Ibis expression; pandas sees tables of cohorts and days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from . import customer_orders, data, periods

SECONDS_PER_DAY = 86_400
CURVE_MONTHS = 6  # months since the first order shown in the pooled curve


def _month_start(index: pd.Series | np.ndarray | int) -> pd.Series:
    index = pd.Series(np.asarray(index, dtype=np.int64).reshape(-1))
    return pd.to_datetime(
        {"year": index // 12, "month": index % 12 + 1, "day": np.ones(len(index), dtype=int)}
    )


def cohort_counts(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Customers of each monthly cohort ordering k months after their first month (columns:
    cohort (month index = 12 x year + month - 1), k, customers)."""
    h = customer_orders.history(con, end)
    cohort = periods.month_index(h.first_at)
    h = h.mutate(cohort=cohort, k=h.month - cohort)
    counts = h.group_by(["cohort", "k"]).aggregate(
        customers=customer_orders.count(h.first_of_month)
    )
    frame = data.fetch(counts)
    return frame.astype({"cohort": "int64", "k": "int64", "customers": "int64"})


def _observed(cohort: np.ndarray, k: np.ndarray, end: pd.Timestamp) -> np.ndarray:
    """Whether month cohort + k is complete before ``end``."""
    return (_month_start(cohort + k + 1) <= end).to_numpy()


def cohort_table(counts: pd.DataFrame, end: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Retention heatmap data: rows cohort months (first day), columns months since the first
    order (0 = the first month, always 100%), values the share of the cohort ordering that
    month; NaN where that month is not complete yet. The last ``months`` + 1 cohorts."""
    if counts.empty:
        return pd.DataFrame()
    size = counts[counts.k == 0].set_index("cohort").customers
    share = counts.assign(share=counts.customers / counts.cohort.map(size))
    share = share[_observed(share.cohort.to_numpy(), share.k.to_numpy(), end) | (share.k == 0)]
    table = share.pivot_table(index="cohort", columns="k", values="share").sort_index()
    table = table.reindex(columns=range(0, months + 1)).iloc[-(months + 1) :]
    cohorts = table.index.to_numpy()
    for k in table.columns:  # a month not complete yet is unknown, not 0
        table.loc[~_observed(cohorts, np.full(len(cohorts), k), end), k] = np.nan
        table.loc[_observed(cohorts, np.full(len(cohorts), k), end) & table[k].isna(), k] = 0.0
    table.index = _month_start(cohorts).dt.strftime("%b %Y")
    table.index.name = "First order in"
    table.columns.name = "Months since the first order"
    return table


def pooled_curve(counts: pd.DataFrame, end: pd.Timestamp, months: int = CURVE_MONTHS) -> pd.Series:
    """Share of customers ordering k months after their first month, pooled over the cohorts
    whose month k is complete (k = 1..months)."""
    size = counts[counts.k == 0].set_index("cohort").customers
    out = {}
    for k in range(1, months + 1):
        reached = size[_observed(size.index.to_numpy(), np.full(len(size), k), end)]
        ordered = counts[(counts.k == k) & counts.cohort.isin(reached.index)].customers.sum()
        out[k] = float(ordered / reached.sum()) if reached.sum() else float("nan")
    return pd.Series(out, name="retention").rename_axis("months since the first order")


@dataclass(frozen=True)
class Repeat:
    """Repeat buying: observed share with a second order, and Kaplan-Meier time to it."""

    customers: int
    repeat_rate: float  # share with a second order before the end (not censoring-aware)
    median_days: float | None  # Kaplan-Meier median days to the second order; None: not reached
    within_90_days: float  # Kaplan-Meier chance of a second order within 90 days


def second_order_days(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Customers by whole days from the first order to the second (event=True) or to the end
    (event=False, still waiting): columns days, event, customers."""
    h = customer_orders.history(con, end)
    ranked = h.filter(h.order_number <= 1)
    t = ranked.ordered_at.epoch_seconds().cast("float64")
    per = ranked.group_by("customer_id").aggregate(
        first=t.min(), second=ibis.cases((ranked.order_number == 1, t)).max()
    )
    stop = per.second.fill_null(float(end.timestamp()))
    per = per.mutate(
        days=((stop - per.first) / SECONDS_PER_DAY).floor(), event=per.second.notnull()
    )
    frame = data.fetch(per.group_by(["days", "event"]).aggregate(customers=per.count()))
    return frame.astype({"days": "int64", "event": bool, "customers": "int64"})


def kaplan_meier(durations: pd.DataFrame) -> pd.Series:
    """Survival S(d) (still without a second order after d days) from counts of events and
    censored customers per day; censored at d count as at risk on day d."""
    if durations.empty:
        return pd.Series(dtype=float)
    by_day = durations.pivot_table(
        index="days", columns="event", values="customers", aggfunc="sum", fill_value=0
    ).reindex(columns=[False, True], fill_value=0)
    at_risk = by_day.sum(axis=1)[::-1].cumsum()[::-1]
    return (1 - by_day[True] / at_risk).cumprod().rename("survival")


def repeat_summary(durations: pd.DataFrame) -> Repeat:
    """Repeat rate, Kaplan-Meier median days to the second order and chance within 90 days."""
    total = int(durations.customers.sum())
    repeat = float(durations[durations.event].customers.sum() / total) if total else math.nan
    survival = kaplan_meier(durations)
    below = survival[survival <= 0.5]
    median = float(below.index[0]) if len(below) else None
    s90 = survival[survival.index < 90]
    return Repeat(total, repeat, median, float(1 - s90.iloc[-1]) if len(s90) else 0.0)


def new_vs_returning(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Per complete week: new customers (first order that week), returning buyers, and the
    revenue of each."""
    h = customer_orders.history(con, end)
    is_new = periods.week_start(h.first_at) == h.week  # an order of the customer's first week
    # a buyer is new in one week only, so returning = buyers - new
    frame = data.fetch(
        h.group_by("week").aggregate(
            buyers=customer_orders.count(h.first_of_week),
            new=customer_orders.count(h.order_number == 0),
            revenue=h.revenue.sum(),
            new_revenue=ibis.cases((is_new, h.revenue), else_=0.0).sum(),
        )
    )
    frame["week"] = pd.to_datetime(frame["week"])
    frame = frame[frame.week + pd.Timedelta(days=7) <= end].set_index("week").astype(float)
    out = pd.DataFrame(
        {
            "New customers": frame.new,
            "Returning customers": frame.buyers - frame.new,
            "Revenue from new": frame.new_revenue,
            "Revenue from returning": frame.revenue - frame.new_revenue,
        }
    ).fillna(0.0)
    return out.sort_index()


def retention_sentences(curve: pd.Series, repeat: Repeat) -> list[str]:
    """What the retention section says, from the pooled curve and the repeat summary."""
    points = []
    known = curve.dropna()  # k = 1 is known whenever any k is
    if len(known):
        later = (
            f"; {known.iloc[-1]:.0%} order in month {known.index[-1]} after it"
            if len(known) > 1
            else ""
        )
        points.append(
            f"{known.iloc[0]:.0%} of a month's new customers order again in the next calendar "
            f"month{later} (pooled over the cohorts observed that long)."
        )
    else:
        points.append("No cohort has a complete month after its first one yet.")
    if repeat.customers:
        if repeat.median_days is None:
            timing = (
                "fewer than half of them are expected to order a second time (Kaplan-Meier), "
                "so there is no median time to the second order"
            )
        else:
            timing = (
                f"half of all customers order a second time within {repeat.median_days:.0f} "
                "days of their first order (Kaplan-Meier, counting those still waiting)"
            )
        points.append(
            f"{repeat.repeat_rate:.0%} of {repeat.customers:,} customers have ordered more than "
            f"once; {timing}."
        )
    return points


def new_returning_sentence(weeks: pd.DataFrame, currency: str) -> str:
    """The last complete week's new vs returning split in one sentence."""
    from .formats import format_money

    if weeks.empty:
        return "No complete week of orders yet."
    last = weeks.iloc[-1]
    total = last["Revenue from new"] + last["Revenue from returning"]
    share = last["Revenue from new"] / total if total else 0.0
    return (
        f"Week of {weeks.index[-1]:%d %b %Y}: {last['New customers']:,.0f} new customers brought "
        f"{format_money(last['Revenue from new'], currency)} ({share:.0%} of revenue); "
        f"{last['Returning customers']:,.0f} returning customers brought "
        f"{format_money(last['Revenue from returning'], currency)}."
    )
