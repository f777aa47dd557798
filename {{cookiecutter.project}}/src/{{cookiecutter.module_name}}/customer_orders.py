"""Each customer's orders before the analysis end, in time order: the customer's first order,
each order's number, and whether it is the customer's first that day, week or month. Built
once per connection and end, then shared by the weekly review's sections.

Cohorts, the time to the second order, new vs returning buyers, buyers per week, the new
customers behind CAC, the LTV histories and the new/returning drill-down all start from "when
did this customer first order" or "how many distinct customers". Asked separately, each was a
pass grouping every order by customer and a join back or a distinct count, 2-4 s apiece at
12M orders. Here one window pass (partitioned by customer, ordered by time) computes it all
and the engine keeps the narrow result (Ibis ``Table.cache``: a temporary table on DuckDB and
PostgreSQL, a cached DataFrame on Spark); each query then scans it, and a distinct count
becomes a sum of a first-of-period flag. One end is kept per connection: a report asks for
one; asking for another replaces it.
"""

from __future__ import annotations

import ibis
import pandas as pd

from . import data, periods

COLUMNS = (
    "customer_id",
    "ordered_at",
    "revenue",
    "is_refunded",
    "day",
    "week",
    "month",
    "first_at",
    "order_number",
    "first_of_day",
    "first_of_week",
    "first_of_month",
)
_HELD = "_shop_customer_orders"  # the connection attribute holding (end, table)


def history(con: ibis.BaseBackend, end: pd.Timestamp) -> ibis.Table:
    """Orders before ``end`` (customer_id, ordered_at, revenue, is_refunded), each with: day
    (``periods.day_number``), week (its first day), month (``periods.month_index``),
    first_at (the customer's first order time), order_number (0 for the first order, 1 for
    the second, ...; orders at the same time in any order) and first_of_day / first_of_week /
    first_of_month (whether it is the customer's first order that day, week or month:
    summing them counts distinct customers without a distinct count)."""
    held = getattr(con, _HELD, None)
    if held is not None and held[0] == end:
        return held[1]
    o = data.table(con, "orders")
    o = o.filter(o.ordered_at < end.to_pydatetime())
    o = o.select(
        "customer_id",
        "ordered_at",
        "revenue",
        "is_refunded",
        day=periods.day_number(o.ordered_at),
        week=periods.week_start(o.ordered_at),
        month=periods.month_index(o.ordered_at),
    )
    in_time = ibis.window(group_by=o.customer_id, order_by=o.ordered_at)

    def first_of(period: ibis.Value) -> ibis.Value:  # the order before it is in another period
        return ibis.coalesce(period.lag().over(in_time) != period, True)

    numbered = o.mutate(
        first_at=o.ordered_at.min().over(in_time),  # ordered: the running min is the first
        order_number=ibis.row_number().over(in_time),
        first_of_day=first_of(o.day),
        first_of_week=first_of(o.week),
        first_of_month=first_of(o.month),
    )
    table = numbered.select(*COLUMNS).cache()
    setattr(con, _HELD, (end, table))
    return table


def first_orders(con: ibis.BaseBackend, end: pd.Timestamp) -> ibis.Table:
    """One row per customer with an order before ``end``: customer_id and first_at."""
    h = history(con, end)
    return h.filter(h.order_number == 0).select("customer_id", "first_at")


def count(flag: ibis.Value) -> ibis.Value:
    """How many rows have the flag set (PostgreSQL cannot cast a boolean to a bigint)."""
    return ibis.cases((flag, 1), else_=0).sum()
