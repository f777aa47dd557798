"""The weekly review's operational metrics: hand-computed tiny cases (refund rate, late share,
median days to delivery, contacts per 100 orders), the sentences for absent tables and columns,
and on the sample shop plausible values, each usual in the last complete week (the generator
plants no operational anomaly)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, operations, weekly

END = pd.Timestamp("2026-01-12")  # a Monday: the last complete week is 5-11 Jan 2026
WEEK = pd.Timestamp("2026-01-05")
BEFORE = pd.Timestamp("2025-12-29")
T = pd.Timestamp


def _orders(refunds: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "order_id": ["o0", "o1", "o2", "o3", "o4", "o5"],
            "customer_id": ["c0", "c1", "c2", "c3", "c4", "c5"],
            "ordered_at": [
                T("2025-12-30"),
                T("2026-01-05 10:00"),
                T("2026-01-06 12:00"),
                T("2026-01-07"),
                T("2026-01-08"),
                T("2026-01-12 12:00"),  # after the end: not counted
            ],
            "revenue": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "is_refunded": [False, False, True, False, False, True],
        }
    )
    return frame if refunds else frame.drop(columns="is_refunded")


def _fulfilment(promise: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "order_id": ["o0", "o1", "o2", "o3", "o4"],
            "shipped_at": [
                T("2025-12-31"),
                T("2026-01-06"),
                T("2026-01-07"),
                pd.NaT,
                T("2026-01-08 12:00"),
            ],
            "delivered_at": [
                T("2026-01-02"),  # 3 days, on time
                T("2026-01-08 10:00"),  # 3 days, on time
                T("2026-01-11 12:00"),  # 5 days, after its promise
                pd.NaT,  # not arrived, its promise passed: late
                T("2026-01-09"),  # 1 day; promised after the end, so not judged yet
            ],
            "promised_at": [
                T("2026-01-03"),
                T("2026-01-09"),
                T("2026-01-10"),
                T("2026-01-11"),
                T("2026-01-13"),
            ],
        }
    )
    return frame if promise else frame.drop(columns="promised_at")


def _contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": ["t1", "t2", "t3"],
            "contacted_at": [T("2026-01-06 09:00"), T("2026-01-11 18:00"), T("2026-01-12 08:00")],
            "order_id": ["o1", "o2", "o3"],
            "reason": ["delivery", "refund", "delivery"],
        }
    )


def _duck(**tables: pd.DataFrame) -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.create_table(name, frame)
    return con


@pytest.fixture
def tiny():
    return _duck(orders=_orders(), fulfilment=_fulfilment(), support_contacts=_contacts())


def test_refund_rate_is_refunded_orders_over_orders(tiny):
    counts = operations.order_counts(tiny, END)
    rate = operations.refund_rate(counts)
    assert list(rate.index) == [BEFORE, WEEK]
    assert rate[WEEK] == pytest.approx(1 / 4) and rate[BEFORE] == 0


def test_late_share_counts_orders_by_the_week_of_their_promise(tiny):
    late = operations.late_share(tiny, END)
    assert late[WEEK] == pytest.approx(2 / 3)  # o2 arrived late, o3 never arrived; o4 not due
    assert late[BEFORE] == 0


def test_median_days_to_delivery_by_the_week_of_delivery(tiny):
    days = operations.delivery_days(tiny, END)
    assert days[WEEK] == pytest.approx(3.0)  # median of 3, 5 and 1 days
    assert days[BEFORE] == pytest.approx(3.0)


def test_support_contacts_per_100_orders(tiny):
    counts = operations.order_counts(tiny, END)
    per_100 = operations.contacts_per_100(tiny, END, counts.orders)
    assert per_100[WEEK] == pytest.approx(100 * 2 / 4)  # the contact on 12 Jan is after the end
    assert per_100[BEFORE] == 0


def test_with_two_weeks_every_metric_says_the_history_is_too_short(tiny):
    ops = operations.operations(tiny, END)
    assert ops.week == WEEK and not ops.missing
    assert list(ops.scores.index) == list(operations.METRICS)
    assert ops.scores.value.tolist() == pytest.approx([0.25, 2 / 3, 3.0, 50.0])
    points = operations.sentences(ops)
    assert points[0].startswith("Refund rate: 25.0% in the week of 05 Jan 2026")
    assert all("too little history" in p for p in points)
    assert operations.unusual(ops) == []


def test_absent_tables_and_columns_say_what_to_add():
    ops = operations.operations(_duck(orders=_orders(refunds=False)), END)
    assert ops.scores.empty and ops.series.empty
    points = operations.sentences(ops)
    assert len(points) == 3
    assert "orders.is_refunded" in points[0]
    assert "fulfilment table (order_id, shipped_at, delivered_at, promised_at)" in points[1]
    assert "support_contacts table (contact_id, contacted_at, order_id, reason)" in points[2]
    no_promise = _duck(orders=_orders(), fulfilment=_fulfilment(promise=False))
    ops = operations.operations(no_promise, END)
    assert list(ops.scores.index) == ["refund_rate", "delivery_days"]
    assert any("fulfilment.promised_at" in p for p in operations.sentences(ops))


def test_an_unusual_metric_is_said_with_its_robust_z():
    row = pd.Series({"value": 0.6, "baseline": 0.4, "z": 6.2, "seasonal": False})
    sentence = operations.metric_sentence("late_share", row, WEEK)
    assert sentence == (
        "Share of orders delivered later than promised: 60.0% in the week of 05 Jan 2026. "
        "Share of orders delivered later than promised rose 50% above its usual level "
        "(6.2 robust SDs)."
    )
    usual = operations.metric_sentence("contacts_per_100", row.replace(6.2, 1.0), WEEK)
    assert usual.endswith(
        "within its usual range though above its typical level (0.4): it swings from week to week."
    )


def test_a_jump_in_late_deliveries_is_unusual():
    weeks = pd.date_range("2025-01-06", periods=30, freq="7D")
    values = pd.Series(0.2 + 0.01 * (pd.Series(range(30)) % 3).to_numpy(), index=weeks)
    values.iloc[-1] = 0.4
    assert operations.score(values, weeks[-1])["z"] > weekly.ROBUST_Z


def test_on_the_sample_every_metric_is_plausible_and_usual(sample_dir, truth):
    planted = truth["weekly_review"]
    end = pd.Timestamp(planted["last_complete_week"]) + pd.Timedelta(days=7)
    ops = operations.operations(data.connect(sample_dir), end)
    assert not ops.missing and ops.week == pd.Timestamp(planted["last_complete_week"])
    s = ops.scores.value
    assert 0 < s.refund_rate < 0.15
    assert 0.2 < s.late_share < 0.7  # shipped after ~1.2 days, then 2-5 days on the way
    assert planted["promised_days"] - 2 < s.delivery_days < planted["promised_days"] + 1
    assert s.contacts_per_100 == pytest.approx(planted["contacts_per_100_orders"], rel=0.35)
    assert ops.scores.z.notna().all() and not ops.scores.unusual.any()
    assert all("within its usual range" in p for p in operations.sentences(ops))


@pytest.mark.postgres
def test_the_metrics_agree_on_postgresql(sample_dir, truth, postgres_url):
    from pg import drop_tables, load_tables

    names = ("orders", "fulfilment", "support_contacts")
    load_tables(postgres_url, {n: pd.read_parquet(sample_dir / f"{n}.parquet") for n in names})
    try:
        end = pd.Timestamp(truth["weekly_review"]["last_complete_week"]) + pd.Timedelta(days=7)
        on_pg = operations.operations(ibis.connect(postgres_url), end)
        on_duck = operations.operations(data.connect(sample_dir), end)
        pd.testing.assert_frame_equal(on_pg.series, on_duck.series, check_freq=False)
        assert operations.sentences(on_pg) == operations.sentences(on_duck)
    finally:
        drop_tables(postgres_url, list(names))


def test_a_usual_week_far_from_the_typical_level_says_the_metric_swings():
    row = pd.Series({"value": 0.043, "baseline": 0.025, "z": 2.1, "seasonal": True})
    said = operations.metric_sentence("refund_rate", row, pd.Timestamp("2026-06-22"))
    assert said == (
        "Refund rate: 4.3% in the week of 22 Jun 2026, within its usual range though above its "
        "typical level (2.5%): it swings from week to week."
    )
