"""The shared per-customer order history: its columns by hand, its cache, and the counts built on
its flags against distinct counts and pandas straight from the orders (a second method)."""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from {{ cookiecutter.module_name }} import (
    _project,
    acquisition,
    customer_orders,
    data,
    periods,
    retention,
    sample,
    weekly,
)

ORDERS = pd.DataFrame(
    {  # a: two orders on Monday 5 Jan, one on Wednesday 7 Jan, one in February; b: one order
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "customer_id": ["a", "a", "a", "a", "b"],
        "ordered_at": pd.to_datetime(
            [
                "2026-01-05 09:00",
                "2026-01-05 18:00",
                "2026-01-07 10:00",
                "2026-02-02 10:00",
                "2026-01-06 12:00",
            ]
        ),
        "revenue": [10.0, 20.0, 30.0, 40.0, 5.0],
    }
)


def _duck(orders: pd.DataFrame) -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    con.con.register("orders", pa.Table.from_pandas(orders, preserve_index=False))
    return con


def test_each_order_knows_its_place_in_the_customers_history():
    con = _duck(ORDERS)
    end = pd.Timestamp("2026-03-01")
    h = data.fetch(customer_orders.history(con, end)).sort_values("ordered_at")
    a = h[h.customer_id == "a"]
    assert list(a.order_number) == [0, 1, 2, 3]
    assert (a.first_at == pd.Timestamp("2026-01-05 09:00")).all()
    assert list(a.first_of_day) == [True, False, True, True]
    assert list(a.first_of_week) == [True, False, False, True]  # weeks start on Monday here
    assert list(a.first_of_month) == [True, False, False, True]
    assert list(a.month) == [2026 * 12, 2026 * 12, 2026 * 12, 2026 * 12 + 1]
    assert a.day.iloc[0] == (pd.Timestamp("2026-01-05") - pd.Timestamp("1970-01-01")).days
    b = h[h.customer_id == "b"].iloc[0]
    assert (b.order_number, b.first_of_week) == (0, True)
    firsts = data.fetch(customer_orders.first_orders(con, end)).set_index("customer_id")
    assert firsts.first_at.to_dict() == {
        "a": pd.Timestamp("2026-01-05 09:00"),
        "b": pd.Timestamp("2026-01-06 12:00"),
    }


def test_orders_from_the_end_on_are_left_out_and_one_end_is_kept_per_connection():
    con = _duck(ORDERS)
    february = pd.Timestamp("2026-02-01")
    before = customer_orders.history(con, february)
    assert customer_orders.history(con, february) is before  # built once
    assert before.count().execute() == 4  # the February order is after the end
    later = customer_orders.history(con, pd.Timestamp("2026-03-01"))
    assert later is not before and later.count().execute() == 5
    assert customer_orders.history(con, pd.Timestamp("2026-03-01")) is later


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("customer_orders")
    truth = sample.write_sample(out, customers=2000, seed=3)
    end = pd.Timestamp(truth["weekly_review"]["last_complete_week"]) + pd.Timedelta(days=7)
    orders = pd.read_parquet(out / "orders.parquet")
    return data.connect(out), end, orders[orders.ordered_at < end]


def _weeks(times: pd.Series) -> pd.Series:
    start = periods.WEEKDAYS.index(_project.WEEK_STARTS_ON)
    day = times.dt.normalize()
    return day - pd.to_timedelta((day.dt.day_of_week - start) % 7, unit="D")


def test_buyers_per_week_from_the_flags_equal_a_distinct_count(shop):
    con, end, orders = shop
    series = weekly.weekly_series(con, end)
    by_week = orders.assign(week=_weeks(orders.ordered_at)).groupby("week")
    expected = by_week.customer_id.nunique().reindex(series.index)
    assert (series.buyers == expected).all() and len(series) > 50
    weeks = retention.new_vs_returning(con, end)
    first = orders.groupby("customer_id").ordered_at.transform("min")
    new = orders[_weeks(first) == _weeks(orders.ordered_at)]
    new_by_week = new.assign(week=_weeks(new.ordered_at)).groupby("week")
    assert (weeks["New customers"] == new_by_week.customer_id.nunique().reindex(weeks.index)).all()
    revenue = new_by_week.revenue.sum().reindex(weeks.index).fillna(0.0)
    assert weeks["Revenue from new"].to_numpy() == pytest.approx(revenue.to_numpy())
    returning = by_week.customer_id.nunique().reindex(weeks.index) - weeks["New customers"]
    assert (weeks["Returning customers"] == returning).all()


def test_cohorts_and_ltv_histories_from_the_flags_equal_pandas(shop):
    con, end, orders = shop
    month = orders.ordered_at.dt.year * 12 + orders.ordered_at.dt.month - 1
    cohort = month.groupby(orders.customer_id).transform("min")
    expected = (
        orders.assign(cohort=cohort, k=month - cohort)
        .groupby(["cohort", "k"])
        .customer_id.nunique()
    )
    counts = retention.cohort_counts(con, end).set_index(["cohort", "k"]).customers.sort_index()
    assert counts.to_dict() == expected.to_dict()
    histories = acquisition.customer_histories(con, end)
    days = orders.ordered_at.dt.normalize()
    per_day = orders.groupby(["customer_id", days]).revenue.sum()
    visits = per_day.groupby(level=0).size()
    first_day = per_day.groupby(level=0).first()  # days are sorted within a customer
    assert sorted(histories.x) == sorted(visits - 1)
    assert sorted(histories.first_revenue) == pytest.approx(sorted(first_day.round(6)))
