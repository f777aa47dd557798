"""Churn: features against hand-computed values, no leakage, honest validation, clear errors.

Independent references: a tiny shop whose every feature is worked out by hand below; numpy's
inverted-CDF quantile for the suggested horizon; the Mann-Whitney U statistic for ROC-AUC; a
simulated shop where churn depends on refunds and purchase rhythm, not on recency alone.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from pg import drop_tables, load_tables, postgres_url  # noqa: F401 (postgres_url is a fixture)
from scipy import stats
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }} import churn, data

CUTOFF = pd.Timestamp("2024-03-01", tz="UTC")


@pytest.fixture(autouse=True)
def one_thread():
    # Tests share a few cores with other jobs; OpenMP threads fighting over them are far slower.
    with threadpool_limits(limits=1):
        yield


# ----------------------------------------------------------------------------- a tiny shop


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def tiny_orders() -> pd.DataFrame:
    rows = [
        # customer A: three purchase days (two orders on Jan 11), one order after the cutoff
        ("o1", "A", "2024-01-01 10:00", 100.0, 0.0, False, "web", "mobile"),
        ("o2", "A", "2024-01-11 12:00", 50.0, 10.0, True, "app", "mobile"),
        ("o3", "A", "2024-01-11 18:00", 30.0, 0.0, False, "web", "desktop"),
        ("o4", "A", "2024-02-20 00:00", 20.0, 5.0, False, "web", "mobile"),
        ("o5", "A", "2024-03-05 00:00", 999.0, 0.0, True, "app", "tablet"),
        # customer B: one order long ago, discount unknown
        ("o6", "B", "2023-10-01 00:00", 40.0, None, False, "app", "tablet"),
        # customer C: first order exactly at the cutoff (counts as before it), back on day 10
        ("o7", "C", "2024-03-01 00:00", 60.0, 0.0, False, None, "desktop"),
        ("o8", "C", "2024-03-11 00:00", 70.0, 0.0, False, "web", "desktop"),
        # customer D: first order after the cutoff (not in the population)
        ("o9", "D", "2024-03-02 00:00", 10.0, 0.0, False, "web", "mobile"),
        # customer E: returns one second after a 10-day horizon ends
        ("o10", "E", "2024-02-01 00:00", 25.0, 0.0, False, "web", "mobile"),
        ("o11", "E", "2024-03-11 00:00:01", 25.0, 0.0, False, "web", "mobile"),
    ]
    columns = [
        "order_id",
        "customer_id",
        "ordered_at",
        "revenue",
        "discount",
        "is_refunded",
        "channel",
        "device",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="ISO8601", utc=True)
    return frame


def tiny_sessions() -> pd.DataFrame:
    rows = [
        ("s1", "A", "A", "2024-01-01 09:00", True),  # older than 30 days
        ("s2", "A", "A", "2024-02-15 08:00", True),
        ("s3", "A", None, "2024-02-25 00:00", False),  # logged out: visitor id is the customer's
        ("s4", "A", "A", "2024-03-03 00:00", True),  # after the cutoff
        ("s5", "C", "C", "2024-02-28 12:00", False),
        ("s6", "v9", None, "2024-02-28 12:00", True),  # an anonymous visitor, not a customer
    ]
    frame = pd.DataFrame(
        rows, columns=["session_id", "visitor_id", "customer_id", "started_at", "added_to_cart"]
    )
    frame["started_at"] = pd.to_datetime(frame["started_at"], format="ISO8601", utc=True)
    frame["device"] = "mobile"
    frame["source"] = "organic"
    for step in ("viewed_product", "started_checkout", "purchased"):
        frame[step] = False
    return frame


def test_features_match_values_worked_out_by_hand():
    features = churn.build_features(
        ibis.memtable(tiny_orders()), cutoff="2024-03-01", sessions=ibis.memtable(tiny_sessions())
    )
    assert list(features.index) == ["A", "B", "C", "E"]
    a, b, c = features.loc["A"], features.loc["B"], features.loc["C"]
    # A: orders Jan 1 10:00, Jan 11 (x2), Feb 20; cutoff Mar 1 (2024 is a leap year).
    assert a["recency_days"] == pytest.approx(10)
    assert a["tenure_days"] == pytest.approx(60 - 10 / 24)
    assert (a["frequency"], a["monetary"], a["avg_order_value"]) == (4, 200, 50)
    assert a["ipt_mean_days"] == pytest.approx(25)  # gaps of 10 and 40 days between purchase days
    assert a["ipt_std_days"] == pytest.approx(np.std([10, 40], ddof=1))
    assert a["orders_last_90d"] == 4 and np.isnan(a["order_trend_per_30d"])  # < 30 earlier days
    assert a["discount_share"] == pytest.approx(15 / 215)
    assert a["refund_rate"] == pytest.approx(1 / 4)
    assert (a["channel_share_web"], a["channel_share_app"]) == (0.75, 0.25)
    assert (a["device_share_mobile"], a["device_share_desktop"]) == (0.75, 0.25)
    assert (a["bgnbd_x"], a["bgnbd_t_x_days"], a["bgnbd_T_days"]) == (2, 50, 60)
    assert a["bgnbd_mean_repeat_spend"] == pytest.approx((80 + 20) / 2)
    assert a["revenue_last_365d"] == 200
    assert (a["sessions_30d"], a["add_to_cart_rate_30d"]) == (2, 0.5)
    assert a["days_since_last_session"] == pytest.approx(5)
    # B: one order on Oct 1, 152 days before the cutoff; none in the last 90 days.
    assert b["recency_days"] == b["tenure_days"] == pytest.approx(152)
    assert b["order_trend_per_30d"] == pytest.approx(0 - 1 / (152 - 90) * 30)
    assert b["discount_share"] == 0 and np.isnan(b["ipt_mean_days"])
    assert (b["bgnbd_x"], b["bgnbd_t_x_days"], b["bgnbd_T_days"]) == (0, 0, 152)
    assert b["sessions_30d"] == 0 and np.isnan(b["add_to_cart_rate_30d"])
    # C: first order at the cutoff instant; its order on Mar 11 is not seen.
    assert (c["recency_days"], c["tenure_days"], c["frequency"], c["bgnbd_T_days"]) == (0, 0, 1, 0)
    assert (c["channel_share_web"], c["channel_share_app"], c["device_share_desktop"]) == (0, 0, 1)
    assert (c["sessions_30d"], c["add_to_cart_rate_30d"]) == (1, 0)
    assert c["days_since_last_session"] == pytest.approx(1.5)


def test_labels_use_the_half_open_window_after_the_cutoff():
    labels = churn.build_labels(ibis.memtable(tiny_orders()), cutoff=CUTOFF, horizon_days=10)
    # A returns Mar 5; B never; C returns exactly at cutoff + 10 days (inside); E one second after.
    assert labels.to_dict() == {"A": 0, "B": 1, "C": 0, "E": 1}


def test_naive_and_aware_timestamps_and_date_cutoffs_agree():
    aware = tiny_orders()
    naive = aware.assign(ordered_at=aware["ordered_at"].dt.tz_localize(None))
    expected = churn.build_features(ibis.memtable(aware), cutoff=CUTOFF)
    for frame, cutoff in ((naive, dt.date(2024, 3, 1)), (aware, dt.datetime(2024, 3, 1))):
        got = churn.build_features(ibis.memtable(frame), cutoff=cutoff)
        pd.testing.assert_frame_equal(got, expected)


def test_optional_columns_add_features_only_when_they_hold_data():
    orders = tiny_orders().assign(discount=None)[
        ["customer_id", "ordered_at", "revenue", "discount"]
    ]
    features = churn.build_features(ibis.memtable(orders), cutoff=CUTOFF)
    assert "discount_share" not in features  # an empty column is no feature
    assert not any(c.startswith(churn.SHARE_PREFIXES) or c == "refund_rate" for c in features)


def test_min_history_and_max_recency_limit_the_population():
    orders = ibis.memtable(tiny_orders())
    kept = churn.build_features(orders, cutoff=CUTOFF, min_history_days=30, max_recency_days=100)
    assert list(kept.index) == ["A"]  # C is too new (0 days), E too (29 days), B lapsed (152)
    with pytest.raises(ValueError, match="lower min_history_days"):
        churn.build_features(orders, cutoff=CUTOFF, min_history_days=1000)
    with pytest.raises(ValueError, match="raise max_recency_days"):
        churn.build_features(orders, cutoff=CUTOFF + pd.Timedelta(days=400), max_recency_days=10)


# ------------------------------------------------------------------------------ leakage


def test_nothing_after_the_cutoff_changes_any_feature():
    orders, sessions = simulate_shop(400, seed=2)
    cutoff = stamp("2024-09-01")
    before = churn.build_features(
        ibis.memtable(orders), cutoff=cutoff, sessions=ibis.memtable(sessions)
    )
    later = orders["ordered_at"] > cutoff
    changed = orders.copy()
    changed.loc[later, "revenue"] *= 10
    changed.loc[later, "channel"] = "marketplace"
    changed.loc[later, "is_refunded"] = ~changed.loc[later, "is_refunded"]
    extra = changed[changed["ordered_at"] <= cutoff].sample(300, random_state=0)
    extra = extra.assign(
        order_id=lambda f: f["order_id"] + "-new",
        ordered_at=cutoff + pd.Timedelta(seconds=1),  # the earliest moment after the cutoff
    )
    newcomers = extra.head(50).assign(customer_id=lambda f: "new-" + f["order_id"])
    changed = pd.concat([changed, extra, newcomers], ignore_index=True)
    late_sessions = sessions.sample(200, random_state=1).assign(
        session_id=lambda f: f["session_id"] + "-new", started_at=cutoff + pd.Timedelta(hours=1)
    )
    after = churn.build_features(
        ibis.memtable(changed),
        cutoff=cutoff,
        sessions=ibis.memtable(pd.concat([sessions, late_sessions], ignore_index=True)),
    )
    pd.testing.assert_frame_equal(after, before)
    # The change is real: labels after the cutoff do move.
    old = churn.build_labels(ibis.memtable(orders), cutoff=cutoff, horizon_days=30)
    new = churn.build_labels(ibis.memtable(changed), cutoff=cutoff, horizon_days=30)
    assert (old != new).any()


# ------------------------------------------------------------------------------ horizon


def test_suggested_horizon_is_the_80th_percentile_gap_rounded_up_to_weeks():
    rng = np.random.default_rng(4)
    gaps = np.concatenate([rng.integers(3, 40, 400), rng.integers(40, 120, 100)])
    customers = np.repeat(np.arange(50), 10)  # 50 customers, 11 purchase days each
    first = pd.Timestamp("2023-01-01 12:00")
    rows = []
    for customer in range(50):
        days = np.concatenate([[0], np.cumsum(gaps[customers == customer])])
        rows += [(f"c{customer}", first + pd.Timedelta(days=int(d))) for d in days]
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at"]).assign(revenue=1.0)
    days, explanation = churn.suggest_horizon(ibis.memtable(orders), as_of="2030-01-01")
    percentile = np.quantile(gaps, 0.8, method="inverted_cdf")  # numpy's own definition
    assert days == 7 * int(np.ceil(percentile / 7))
    assert f"within {int(percentile)} days" in explanation and f"{days} days" in explanation


def test_suggested_horizon_needs_repeat_purchases():
    one_time = pd.DataFrame(
        {"customer_id": ["a", "b"], "ordered_at": [stamp("2024-01-01")] * 2, "revenue": 1.0}
    )
    with pytest.raises(ValueError, match="too few to suggest a horizon"):
        churn.suggest_horizon(ibis.memtable(one_time), as_of="2024-06-01")


# -------------------------------------------------------------------- a simulated shop


def simulate_shop(
    n: int, seed: int, days: int = 720, max_orders: int = 120
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders and sessions where leaving depends on refunds, not only on time since last order.

    Customers order as Poisson processes (rates vary widely) from a first order until they
    leave: after a refunded order (12% of orders) they leave with chance 0.7, after any other
    order with chance 0.02. A customer who just had a refund looks recent but is gone.
    """
    rng = np.random.default_rng(seed)
    start = stamp("2023-01-01")
    first = rng.uniform(0, days * 0.75, n)
    rate = rng.gamma(2.0, 1 / 40, n)
    gaps = rng.exponential(1 / rate[:, None], (n, max_orders))
    gaps[:, 0] = 0.0
    when = first[:, None] + np.cumsum(gaps, axis=1)
    refunded = rng.random((n, max_orders)) < 0.12
    leaves = rng.random((n, max_orders)) < np.where(refunded, 0.7, 0.02)
    last = np.where(leaves.any(axis=1), leaves.argmax(axis=1), max_orders - 1)
    placed = (np.arange(max_orders)[None, :] <= last[:, None]) & (when < days)
    who, k = np.nonzero(placed)
    revenue = rng.gamma(3.0, 20.0, who.size).round(2)
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(who.size)],
            "customer_id": [f"c{w:05d}" for w in who],
            "ordered_at": start + pd.to_timedelta(np.round(when[who, k] * 86400), unit="s"),
            "revenue": revenue,
            "discount": (revenue * rng.choice([0.0, 0.1], who.size)).round(2),
            "is_refunded": refunded[who, k],
            "channel": rng.choice(["web", "app"], who.size),
            "device": rng.choice(["desktop", "mobile"], who.size),
        }
    )
    visitor = rng.choice(who, 2 * who.size)  # about two visits per order, around the orders
    seen = np.clip(when[visitor, 0] + rng.uniform(0, days, visitor.size), 0, days - 1)
    sessions = pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(visitor.size)],
            "visitor_id": [f"c{v:05d}" for v in visitor],
            "customer_id": [f"c{v:05d}" for v in visitor],
            "started_at": start + pd.to_timedelta(np.round(seen * 86400), unit="s"),
            "added_to_cart": rng.random(visitor.size) < 0.3,
        }
    )
    return orders, sessions


@pytest.fixture(scope="module")
def shop() -> dict:
    orders, sessions = simulate_shop(2_500, seed=1)
    as_of = stamp("2023-01-01") + pd.Timedelta(days=720)
    split = churn.time_split(
        ibis.memtable(orders), as_of=as_of, horizon_days=60, max_recency_days=365
    )
    model = churn.train_model(split.X_train, split.y_train, random_state=0)
    return {"orders": orders, "as_of": as_of, "split": split, "model": model}


def test_time_split_cutoffs_sit_one_and_two_horizons_before_as_of(shop):
    split = shop["split"]
    assert split.eval_cutoff == shop["as_of"] - pd.Timedelta(days=60)
    assert split.train_cutoff == shop["as_of"] - pd.Timedelta(days=120)
    assert split.features_train["recency_days"].min() >= 0
    assert list(split.X_eval.columns) == list(split.X_train.columns)
    assert not set(churn.NON_MODEL_COLUMNS) & set(split.X_train.columns)


def test_model_beats_recency_alone_when_churn_depends_on_more(shop):
    split, model = shop["split"], shop["model"]
    p = churn.predict_churn(model, split.features_eval)
    result = churn.evaluate(split.y_eval, p)
    base = churn.baselines(split.features_eval, split.y_eval, horizon_days=60)
    assert result["roc_auc"] > base["recency_auc"] + 0.02, (result["roc_auc"], base)
    assert result["roc_auc"] > base["bgnbd_auc"] > 0.5, (result["roc_auc"], base)


def test_evaluation_metrics_match_independent_computations(shop):
    split = shop["split"]
    y = split.y_eval.to_numpy()
    p = churn.predict_churn(shop["model"], split.features_eval).to_numpy()
    value = split.features_eval["monetary"].to_numpy()
    result = churn.evaluate(y, p, revenue_value=value)
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert result["roc_auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    assert result["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert result["churn_rate"] == pytest.approx(y.mean())
    top = np.argsort(-p, kind="stable")[: int(np.ceil(len(p) / 10))]
    assert result["top_decile_lift"] == pytest.approx(y[top].mean() / y.mean())
    gains = result["gains"]
    assert gains["customers"].sum() == len(y) and gains["churners"].sum() == y.sum()
    assert gains["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1)
    assert gains["value"].sum() == pytest.approx(value.sum())
    assert result["calibration"]["predicted"].is_monotonic_increasing


def test_drivers_name_recency_and_refunds_in_plain_words(shop):
    split = shop["split"]
    table = churn.drivers(shop["model"], split.X_eval, split.y_eval, random_state=0)
    assert table["importance"].is_monotonic_decreasing and (table["importance"] > 0).all()
    # The planted causes of leaving come first: silence, and refunds.
    assert set(table["feature"].head(2)) == {"recency_days", "refund_rate"}
    sentences = dict(zip(table["feature"], table["sentence"], strict=True))
    assert sentences["refund_rate"] == (
        "Customers who had more of their orders refunded are more likely to churn."
    )
    assert sentences["recency_days"] == (
        "Customers who have not ordered for longer are more likely to churn."
    )


@pytest.mark.parametrize("n", [4_000, 30_000])  # 3-fold calibration, then one held-out quarter
def test_calibration_lowers_the_brier_score_on_held_out_customers(n):
    # Churn jumps from 10% to 85% at 90 days of recency: a logistic curve in log-recency cannot
    # follow the step, so its raw probabilities are off; isotonic calibration must repair them.
    # (Sigmoid calibration is itself a logistic curve, so it cannot, and is not tested here.)
    rng = np.random.default_rng(n)
    recency = rng.uniform(0, 300, 2 * n)
    X = pd.DataFrame({"recency_days": recency, "noise": rng.normal(size=2 * n)})
    y = pd.Series((rng.random(2 * n) < np.where(recency < 90, 0.10, 0.85)).astype(int))
    train, test = slice(0, n), slice(n, 2 * n)
    scores = {}
    for calibration in ("none", "isotonic"):
        model = churn.train_model(
            X[train], y[train], model="logistic", calibration=calibration, random_state=0
        )
        scores[calibration] = churn.evaluate(y[test], model.predict_proba(X[test])[:, 1])["brier"]
    assert scores["isotonic"] < scores["none"] - 0.005, scores


# ------------------------------------------------------------------------ value at risk


def test_revenue_at_risk_and_the_at_risk_list_by_hand(tmp_path):
    p = pd.Series([0.9, 0.6, 0.2, 0.5], index=["a", "b", "c", "d"])
    value = pd.Series([100.0, 10.0, 1000.0, 50.0], index=["a", "b", "c", "d"])
    by_threshold = churn.revenue_at_risk(p, value, threshold=0.5)
    assert by_threshold["revenue_at_risk"] == pytest.approx(0.9 * 100 + 0.6 * 10 + 0.5 * 50)
    assert by_threshold["customers_flagged"] == 3
    assert by_threshold["share_of_total"] == pytest.approx(121 / 321)
    assert churn.revenue_at_risk(p, value, top_n=2)["revenue_at_risk"] == pytest.approx(96)
    listed = churn.at_risk_list(p, value, threshold=0.5)
    assert list(listed["customer_id"]) == ["a", "d", "b"]  # highest value at risk first
    path = churn.export_at_risk(listed, tmp_path / "out" / "at_risk.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == [
        "customer_id",
        "churn_probability",
        "expected_value",
        "value_at_risk",
    ]
    assert back["value_at_risk"].tolist() == pytest.approx([90, 25, 6])


def test_recent_spend_value_by_hand():
    features = churn.build_features(ibis.memtable(tiny_orders()), cutoff=CUTOFF)
    value = churn.value_over_horizon(features, horizon_days=30)
    # A: 200 spent over 59.6 days of tenure (under a year) -> 200 / 59.58 * 30;
    # B: 40 over 152 days; C: 60 on its first day, counted over at least one horizon (30 days).
    assert value["A"] == pytest.approx(200 / (60 - 10 / 24) * 30)
    assert value["B"] == pytest.approx(40 / 152 * 30)
    assert value["C"] == pytest.approx(60)


def test_model_based_value_tracks_what_customers_spend_next(shop):
    split, orders = shop["split"], shop["orders"]
    features = split.features_eval
    value = churn.value_over_horizon(features, horizon_days=60, method="bgnbd_gamma_gamma")
    assert (value >= 0).all() and np.isfinite(value).all()
    next_horizon = orders[
        (orders["ordered_at"] > split.eval_cutoff) & (orders["ordered_at"] <= shop["as_of"])
    ]
    actual = next_horizon.groupby("customer_id")["revenue"].sum().reindex(features.index)
    actual = actual.fillna(0.0)
    # The simulated shop is BG/NBD-like but not BG/NBD (refunds drive dropout): the forecast
    # must rank customers by what they really spend next and get the total roughly right.
    assert np.corrcoef(value, actual)[0, 1] > 0.4
    assert value.sum() == pytest.approx(actual.sum(), rel=0.35)


# -------------------------------------------------------------------------- clear errors


def one_time_buyers() -> pd.DataFrame:
    days = np.arange(0, 720, 0.5)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(days.size)],
            "ordered_at": stamp("2023-01-01") + pd.to_timedelta(days, unit="D"),
            "revenue": 10.0,
        }
    )


def loyal_buyers() -> pd.DataFrame:
    days = np.arange(0, 720, 3)
    return pd.DataFrame(
        {
            "customer_id": np.repeat([f"c{i}" for i in range(30)], days.size),
            "ordered_at": np.tile(stamp("2023-01-01") + pd.to_timedelta(days, unit="D"), 30),
            "revenue": 10.0,
        }
    )


@pytest.mark.parametrize(
    ("orders", "as_of", "horizon", "message"),
    [
        (one_time_buyers, "2024-12-21", 60, "every one of the .* customers churned"),
        (loyal_buyers, "2024-12-21", 60, "nobody churned"),
        (loyal_buyers, "2023-05-01", 60, "history is too short for a 60-day horizon"),
        (loyal_buyers, "2026-01-01", 60, "customers would look churned only because"),
        (loyal_buyers, "2024-12-21", 0, "horizon_days must be a whole number"),
        (loyal_buyers, "2024-12-21", 2.5, "horizon_days must be a whole number"),
        (loyal_buyers, "not a date", 60, "as_of must be a date"),
    ],
)
def test_degenerate_splits_are_refused_with_a_clear_message(orders, as_of, horizon, message):
    with pytest.raises(ValueError, match=message):
        churn.time_split(ibis.memtable(orders()), as_of=as_of, horizon_days=horizon)


def test_bad_tables_are_refused_with_a_clear_message():
    orders = tiny_orders()
    with pytest.raises(ValueError, match="lacks the column.*revenue"):
        churn.build_features(ibis.memtable(orders.drop(columns="revenue")), cutoff=CUTOFF)
    as_text = orders.assign(ordered_at=orders["ordered_at"].astype(str))
    with pytest.raises(ValueError, match="must hold timestamps"):
        churn.build_features(ibis.memtable(as_text), cutoff=CUTOFF)
    with pytest.raises(ValueError, match="No orders on or before the cutoff 2020-01-01"):
        churn.build_features(ibis.memtable(orders), cutoff="2020-01-01")
    with pytest.raises(ValueError, match="orders table is empty"):
        churn.time_split(ibis.memtable(orders.head(0)), as_of="2024-06-01", horizon_days=30)
    with pytest.raises(ValueError, match="must be an Ibis table"):
        churn.build_features(orders, cutoff=CUTOFF)


def test_bad_model_arguments_are_refused_with_a_clear_message():
    X = pd.DataFrame({"recency_days": np.arange(40.0)})
    y = pd.Series([0, 1] * 20)
    with pytest.raises(ValueError, match="model must be one of"):
        churn.train_model(X, y, model="xgboost")
    with pytest.raises(ValueError, match="calibration must be one of"):
        churn.train_model(X, y, calibration="platt")
    with pytest.raises(ValueError, match="at least 10 churners"):
        churn.train_model(X.head(12), pd.Series([1] * 11 + [0]))
    with pytest.raises(ValueError, match="both churners and non-churners"):
        churn.evaluate([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="exactly one of threshold"):
        churn.revenue_at_risk(pd.Series([0.5]), pd.Series([1.0]))


# ------------------------------------------------------------------------ the sample shop


@pytest.mark.filterwarnings("ignore:Session features are left out")  # sessions cover 4 weeks
def test_the_sample_shop_through_the_loader_beats_recency_alone(sample_dir):
    con = data.connect(sample_dir)
    orders, sessions = data.table(con, "orders"), data.table(con, "sessions")
    as_of = data.as_of(con)
    horizon, explanation = churn.suggest_horizon(orders, as_of=as_of)
    assert horizon % 7 == 0 and str(horizon) in explanation
    split = churn.time_split(
        orders, as_of=as_of, horizon_days=horizon, sessions=sessions, max_recency_days=365
    )
    model = churn.train_model(split.X_train, split.y_train, random_state=0)
    result = churn.evaluate(split.y_eval, churn.predict_churn(model, split.features_eval))
    base = churn.baselines(split.features_eval, split.y_eval, horizon_days=horizon)
    assert result["roc_auc"] > max(0.7, base["recency_auc"])


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
def test_postgres_computes_the_same_features_and_labels_as_duckdb(postgres_url):  # noqa: F811
    orders, sessions = simulate_shop(300, seed=5)
    tables = {
        "churn_orders": pd.concat([orders, tiny_orders()], ignore_index=True),
        "churn_sessions": pd.concat([sessions, tiny_sessions()[sessions.columns]]),
    }
    load_tables(postgres_url, tables)
    try:
        con = ibis.connect(postgres_url)
        on_pg = [con.table(name) for name in tables]
        on_duckdb = [ibis.memtable(frame) for frame in tables.values()]
        for cutoff in ("2024-03-01", "2024-09-01 12:00"):
            pg_features = churn.build_features(on_pg[0], cutoff=cutoff, sessions=on_pg[1])
            duck_features = churn.build_features(on_duckdb[0], cutoff=cutoff, sessions=on_duckdb[1])
            pd.testing.assert_frame_equal(pg_features, duck_features, check_exact=False)
            pd.testing.assert_series_equal(
                churn.build_labels(on_pg[0], cutoff=cutoff, horizon_days=30),
                churn.build_labels(on_duckdb[0], cutoff=cutoff, horizon_days=30),
            )
        pd.testing.assert_frame_equal(
            churn.inter_purchase_days(on_pg[0], as_of="2025-01-01"),
            churn.inter_purchase_days(on_duckdb[0], as_of="2025-01-01"),
        )
    finally:
        drop_tables(postgres_url, list(tables))
