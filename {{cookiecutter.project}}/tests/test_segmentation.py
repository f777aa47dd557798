"""Segmentation: features in the engine, RFM scores and segments, clusters, export.

Every number is checked against an independent value: a hand-computed expectation, a second
implementation (plain pandas / a brute-force loop / scikit-learn called directly) or a planted
truth (simulated customer types that clustering must recover).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pg import drop_tables, load_tables
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }} import segmentation as seg

AS_OF = pd.Timestamp("2024-03-01")

# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def small_orders() -> pd.DataFrame:
    """A handful of orders covering refunds, discounts, ties, blanks and the as_of edge."""
    rows = [
        # order, customer, ordered_at, revenue, discount, refunded, channel, category
        ("o1", "c1", "2024-01-01 00:00", 100.0, 0.0, False, "web", "A"),
        ("o2", "c1", "2024-02-15 12:00", 50.0, 10.0, True, "app", "B"),
        ("o3", "c1", "2024-02-28 12:00", 30.0, 20.0, False, None, "B"),
        ("o4", "c1", "2024-03-05 00:00", 999.0, 0.0, False, "web", "A"),  # after as_of
        ("o5", "c2", "2024-02-29 00:00", 0.0, 0.0, False, "web", None),  # zero revenue
        ("o6", "c3", "2023-06-01 00:00", 80.0, 5.0, True, "web", "C"),  # only a refund
        ("o7", "c4", "2024-03-01 00:00", 20.0, 0.0, False, "app", "A"),  # exactly at as_of
        ("o8", "c4", "2024-03-01 00:00:01", 20.0, 0.0, False, "app", "A"),  # 1 s after
        ("o9", "c5", "2024-04-01 00:00", 70.0, 0.0, False, "web", "A"),  # only after as_of
        ("o10", "c6", "2024-02-01 00:00", 40.0, 0.0, False, "marketplace", "Z"),
        ("o11", "c6", "2024-02-10 00:00", 60.0, 0.0, False, "marketplace", "B"),  # tie: B wins
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "order_id",
            "customer_id",
            "ordered_at",
            "revenue",
            "discount",
            "is_refunded",
            "channel",
            "category",
        ],
    )
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="ISO8601")
    return frame


def features_by_pandas(
    orders: pd.DataFrame, as_of: pd.Timestamp, lookback_days: int | None = None, min_orders=1
) -> pd.DataFrame:
    """The second method: the same definitions written as a plain per-customer pandas loop."""
    kept_window = orders["ordered_at"] <= as_of
    if lookback_days is not None:
        kept_window &= orders["ordered_at"] > as_of - pd.Timedelta(days=lookback_days)
    window = orders[kept_window].copy()
    window["channel"] = window["channel"].fillna("unknown")
    channels = sorted(window["channel"].unique())
    rows = []
    for customer, group in window.groupby("customer_id"):
        if len(group) < min_orders:
            continue
        kept = group[~group["is_refunded"]]
        revenue, discount = kept["revenue"].sum(), kept["discount"].sum()
        categories = group["category"].dropna().value_counts()
        favourites = sorted(categories[categories == categories.max()].index)
        row = {
            "customer_id": customer,
            "recency_days": (as_of - group["ordered_at"].max()) / pd.Timedelta(days=1),
            "frequency": len(group),
            "monetary": revenue,
            "aov": revenue / len(kept) if len(kept) else 0.0,
            "tenure_days": (as_of - group["ordered_at"].min()) / pd.Timedelta(days=1),
            "refund_rate": group["is_refunded"].mean(),
            "discount_share": discount / (revenue + discount) if revenue + discount else 0.0,
        }
        shares = group["channel"].value_counts(normalize=True)
        row.update({f"channel_{c}": shares.get(c, 0.0) for c in channels})
        row["top_category"] = favourites[0] if favourites else None
        rows.append(row)
    return pd.DataFrame(rows)


def planted_orders(per_type: int = 150, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """Orders of four planted customer types with distinct behaviour, and each one's type."""
    rng = np.random.default_rng(seed)
    rows, types = [], {}

    def add(kind: str, customer: str, days_ago, basket: float, discount_share: float) -> None:
        types[customer] = kind
        for day in np.atleast_1d(days_ago):
            gross = basket * rng.lognormal(0, 0.25)
            discount = gross * discount_share * rng.uniform(0.7, 1.3)
            moment = (AS_OF - pd.Timedelta(days=float(day))).floor("s")
            rows.append((customer, moment, gross - discount, discount))

    for i in range(per_type):
        # frequent high spenders, still active: 8-20 orders over two years, one lately
        days = np.r_[rng.uniform(0, 20), rng.uniform(0, 700, rng.integers(7, 20))]
        add("regular", f"r{i:04d}", days, basket=150, discount_share=0)
        # occasional discount buyers: 2-4 orders, about 30% off, last one months ago
        days = np.r_[rng.uniform(40, 150), rng.uniform(150, 600, rng.integers(1, 4))]
        add("bargain", f"b{i:04d}", days, basket=40, discount_share=0.3)
        # one-time buyers long ago
        add("lapsed", f"l{i:04d}", rng.uniform(300, 700), basket=60, discount_share=0)
        # new buyers: 1-2 orders in the last 30 days
        days = rng.uniform(0, 30, rng.integers(1, 3))
        add("new", f"n{i:04d}", days, basket=70, discount_share=0)
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "revenue", "discount"])
    orders.insert(0, "order_id", [f"o{i}" for i in range(len(orders))])
    return orders, pd.Series(types, name="type")


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    orders, truth = planted_orders()
    features = seg.customer_features(ibis.memtable(orders), as_of=AS_OF)
    return features, truth


def rfm_frame(recency, frequency, monetary) -> pd.DataFrame:
    n = len(recency)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": np.asarray(recency, dtype=float),
            "frequency": np.asarray(frequency, dtype=int),
            "monetary": np.asarray(monetary, dtype=float),
        }
    )


# --------------------------------------------------------------------------------------------
# Customer features
# --------------------------------------------------------------------------------------------


def test_features_match_a_plain_pandas_computation_with_the_as_of_cut_off():
    orders = small_orders()
    got = seg.customer_features(ibis.memtable(orders), as_of=AS_OF)
    expected = features_by_pandas(orders, AS_OF)
    assert got["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c6"]  # c5: only later orders
    pd.testing.assert_frame_equal(
        got[expected.columns].reset_index(drop=True),
        expected,
        check_dtype=False,
        check_like=False,
    )


@pytest.mark.parametrize("max_columns", [seg.MAX_CATEGORY_COLUMNS, 2], ids=["counted", "ranked"])
def test_the_favourite_category_breaks_ties_a_to_z_whether_counted_or_ranked(
    monkeypatch, max_columns
):
    # With few categories they are counted in the main pass; with more, ranked in a second query.
    monkeypatch.setattr(seg, "MAX_CATEGORY_COLUMNS", max_columns)
    got = seg.customer_features(ibis.memtable(small_orders()), as_of=AS_OF)
    favourite = got.set_index("customer_id")["top_category"]
    assert favourite[["c1", "c3", "c4", "c6"]].tolist() == ["B", "C", "A", "B"]
    assert pd.isna(favourite["c2"])  # no order with a category


def test_features_hand_computed_for_one_customer():
    got = seg.customer_features(ibis.memtable(small_orders()), as_of="2024-03-01")
    c1 = got.set_index("customer_id").loc["c1"]
    assert c1["recency_days"] == pytest.approx(1.5)  # 28 Feb 12:00 -> 1 Mar 00:00 (leap year)
    assert c1["tenure_days"] == pytest.approx(60.0)  # 31 days of January + 29 of February
    assert c1["frequency"] == 3  # the refunded order counts as an order; the later one does not
    assert c1["monetary"] == pytest.approx(130.0)  # refunded revenue excluded
    assert c1["aov"] == pytest.approx(65.0)
    assert c1["refund_rate"] == pytest.approx(1 / 3)
    assert c1["discount_share"] == pytest.approx(20 / 150)
    assert (c1["channel_web"], c1["channel_app"], c1["channel_unknown"]) == pytest.approx(
        (1 / 3, 1 / 3, 1 / 3)
    )
    assert c1["top_category"] == "B"
    c4 = got.set_index("customer_id").loc["c4"]
    assert (c4["recency_days"], c4["frequency"]) == (0.0, 1)  # at as_of counts, 1 s later not


def test_features_lookback_window_and_min_orders_match_pandas():
    orders = small_orders()
    got = seg.customer_features(ibis.memtable(orders), as_of=AS_OF, lookback_days=30, min_orders=2)
    expected = features_by_pandas(orders, AS_OF, lookback_days=30, min_orders=2)
    assert got["customer_id"].tolist() == ["c1", "c6"]
    pd.testing.assert_frame_equal(
        got[expected.columns].reset_index(drop=True), expected, check_dtype=False
    )
    assert got.set_index("customer_id").loc["c1", "frequency"] == 2  # o1 is 60 days back


def test_features_default_as_of_is_the_latest_order():
    orders = small_orders()
    got = seg.customer_features(ibis.memtable(orders), as_of=None)
    expected = features_by_pandas(orders, orders["ordered_at"].max())
    pd.testing.assert_frame_equal(
        got[expected.columns].reset_index(drop=True), expected, check_dtype=False
    )


def test_features_with_only_the_required_columns():
    orders = small_orders()[["order_id", "customer_id", "ordered_at", "revenue"]]
    got = seg.customer_features(ibis.memtable(orders), as_of=AS_OF)
    assert (got["discount_share"] == 0).all() and (got["refund_rate"] == 0).all()
    assert not any(c.startswith("channel_") for c in got.columns)
    assert "top_category" not in got
    c3 = got.set_index("customer_id").loc["c3"]
    assert c3["monetary"] == 80.0  # without is_refunded every order counts as kept


@pytest.mark.parametrize(
    ("kwargs", "drop", "message"),
    [
        ({}, "revenue", "lacks the column"),
        ({"as_of": "not a date"}, None, "as_of='not a date'"),
        ({"as_of": "2020-01-01"}, None, "No customer has at least 1 order"),
        ({"min_orders": 0}, None, "min_orders must be a whole number"),
        ({"lookback_days": -5}, None, "lookback_days must be a whole number"),
    ],
)
def test_features_bad_input_says_what_to_fix(kwargs, drop, message):
    orders = small_orders()
    if drop:
        orders = orders.drop(columns=drop)
    with pytest.raises(ValueError, match=message):
        seg.customer_features(ibis.memtable(orders), **{"as_of": AS_OF, **kwargs})


def test_features_of_an_empty_orders_table_explain_themselves():
    empty = small_orders().iloc[:0]
    with pytest.raises(ValueError, match="no orders"):
        seg.customer_features(ibis.memtable(empty), as_of=None)


@pytest.mark.postgres
def test_features_on_postgresql_equal_duckdb(postgres_url):  # noqa: F811 (imported fixture)
    orders = small_orders()
    load_tables(postgres_url, {"segmentation_orders": orders})
    con = ibis.connect(postgres_url)
    try:
        on_postgres = seg.customer_features(
            con.table("segmentation_orders"), as_of=AS_OF, lookback_days=400
        )
    finally:
        con.disconnect()
        drop_tables(postgres_url, ["segmentation_orders"])
    on_duckdb = seg.customer_features(ibis.memtable(orders), as_of=AS_OF, lookback_days=400)
    pd.testing.assert_frame_equal(on_postgres, on_duckdb, check_dtype=False)


def test_repurchase_gaps_and_future_value_on_postgresql_equal_duckdb(postgres_url):  # noqa: F811
    orders = planted_orders(per_type=20)[0]
    load_tables(postgres_url, {"segmentation_gap_orders": orders})
    con = ibis.connect(postgres_url)
    try:
        table = con.table("segmentation_gap_orders")
        gaps_pg = seg.repurchase_gaps(table, as_of=AS_OF)
        value_pg = seg.future_value_by_segment(table, as_of=AS_OF, lapsed_after_days=60, days=90)
    finally:
        con.disconnect()
        drop_tables(postgres_url, ["segmentation_gap_orders"])
    local = ibis.memtable(orders)
    pd.testing.assert_frame_equal(gaps_pg, seg.repurchase_gaps(local, as_of=AS_OF))
    value_duckdb = seg.future_value_by_segment(local, as_of=AS_OF, lapsed_after_days=60, days=90)
    pd.testing.assert_frame_equal(
        value_pg.sort_index(), value_duckdb.sort_index(), check_dtype=False
    )


# --------------------------------------------------------------------------------------------
# RFM scores
# --------------------------------------------------------------------------------------------


def brute_force_score(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """1 + floor(5 x share of other customers strictly worse), capped at 5 - one by one."""
    n = len(values)
    if n == 1 or len(set(values)) == 1:
        return np.full(n, 3)
    scores = []
    for value in values:
        worse = sum((other < value) if higher_is_better else (other > value) for other in values)
        scores.append(min(1 + int(5 * worse / (n - 1) + 1e-9), 5))
    return np.array(scores)


def test_scores_of_five_distinct_customers_are_one_to_five():
    scored = seg.rfm_scores(rfm_frame([50, 40, 30, 20, 10], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1]))
    assert scored["r_score"].tolist() == [1, 2, 3, 4, 5]  # most recent = 5
    assert scored["f_score"].tolist() == [1, 2, 3, 4, 5]
    assert scored["m_score"].tolist() == [5, 4, 3, 2, 1]


def test_scores_with_heavy_ties_match_a_brute_force_count():
    rng = np.random.default_rng(3)
    recency = rng.integers(0, 20, 300)
    frequency = rng.choice([1, 1, 1, 1, 2, 2, 3, 5, 8], 300)
    monetary = rng.choice([0.0, 10.0, 25.0, 25.0, 99.0], 300)
    scored = seg.rfm_scores(rfm_frame(recency, frequency, monetary))
    np.testing.assert_array_equal(scored["r_score"], brute_force_score(recency, False))
    np.testing.assert_array_equal(scored["f_score"], brute_force_score(frequency))
    np.testing.assert_array_equal(scored["m_score"], brute_force_score(monetary))
    for value, group in scored.groupby("frequency"):  # equal values, equal scores
        assert group["f_score"].nunique() == 1, value


def test_one_order_and_zero_revenue_customers_score_one_even_as_a_majority():
    # 70% bought once and 20% spent nothing: they still get the bottom score, not F=2
    frequency = [1] * 7 + [2, 4, 9]
    monetary = [0.0, 0.0] + [30.0] * 8
    scored = seg.rfm_scores(rfm_frame(range(10), frequency, monetary))
    assert scored["f_score"].tolist()[:7] == [1] * 7
    assert scored["f_score"].iloc[-1] == 5
    assert scored["m_score"].tolist()[:2] == [1, 1]


@pytest.mark.parametrize(
    "frame",
    [rfm_frame([12.5], [1], [0.0]), rfm_frame([4.0] * 6, [2] * 6, [50.0] * 6)],
    ids=["a single customer", "all customers identical"],
)
def test_no_variation_gives_the_neutral_score_three(frame):
    scored = seg.assign_rfm_segment(seg.rfm_scores(frame))
    assert (scored[["r_score", "f_score", "m_score"]] == 3).all().all()
    assert (scored["rfm_segment"] == "Need attention").all()


def test_rfm_scores_reject_missing_values_naming_the_customer():
    frame = rfm_frame([1, 2], [1, 2], [5.0, np.nan])
    with pytest.raises(ValueError, match="'monetary'.*customer 'c1'"):
        seg.rfm_scores(frame)
    with pytest.raises(ValueError, match="lacks the column"):
        seg.rfm_scores(frame.drop(columns="frequency"))


# --------------------------------------------------------------------------------------------
# The named segment map
# --------------------------------------------------------------------------------------------


def test_every_r_f_combination_belongs_to_exactly_one_segment():
    cells = pd.DataFrame(list(itertools.product(range(1, 6), range(1, 6))), columns=["r", "f"])
    named = seg.assign_rfm_segment(cells.rename(columns={"r": "r_score", "f": "f_score"}))
    for (r, f), got in zip(cells.itertuples(index=False), named["rfm_segment"], strict=True):
        owners = [
            s.name
            for s in seg.RFM_SEGMENTS
            if s.recency[0] <= r <= s.recency[1] and s.frequency[0] <= f <= s.frequency[1]
        ]
        assert owners == [got], (r, f, owners)
    assert set(named["rfm_segment"]) == {s.name for s in seg.RFM_SEGMENTS}
    assert len(seg.RFM_SEGMENTS) == 11
    assert set(seg.SEGMENT_ACTIONS) == {s.name for s in seg.RFM_SEGMENTS} | {seg.LAPSED}


@pytest.mark.parametrize(
    ("r", "f", "segment"),
    [
        (5, 5, "Champions"),
        (5, 1, "New customers"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (1, 5, "Can't lose them"),
        (2, 3, "At risk"),
        (1, 1, "Lost"),
        (2, 2, "Hibernating"),
    ],
)
def test_landmark_cells_of_the_segment_map(r, f, segment):
    named = seg.assign_rfm_segment(pd.DataFrame({"r_score": [r], "f_score": [f]}))
    assert named["rfm_segment"].iloc[0] == segment
    grid = seg.rfm_segment_grid()
    assert grid.loc[r, f] == segment


def test_segment_assignment_rejects_scores_outside_one_to_five():
    with pytest.raises(ValueError, match="'f_score' must hold whole scores 1-5; found 6"):
        seg.assign_rfm_segment(pd.DataFrame({"r_score": [1], "f_score": [6]}))


def test_segment_table_lists_every_segment_with_its_action():
    table = seg.rfm_segment_table()
    assert table["segment"].tolist() == [s.name for s in seg.RFM_SEGMENTS]
    assert table.loc[table["segment"] == "Champions", "F scores"].item() == "4-5"
    assert table["action"].str.len().gt(10).all()


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def test_segment_summary_matches_a_direct_groupby(planted):
    features, _ = planted
    named = seg.assign_rfm_segment(seg.rfm_scores(features))
    summary = seg.segment_summary(named)
    direct = named.groupby("rfm_segment", observed=True)["monetary"].agg(["size", "sum"])
    assert summary["customers"].to_dict() == direct["size"].to_dict()
    np.testing.assert_allclose(summary["revenue"], direct.loc[summary.index, "sum"])
    assert summary["customers_share"].sum() == pytest.approx(1.0)
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    order = [s.name for s in seg.RFM_SEGMENTS if s.name in summary.index]
    assert summary.index.tolist() == order  # map order, not alphabetical
    assert summary.loc["Champions", "action"] == seg.SEGMENT_ACTIONS["Champions"]


def test_segment_summary_aov_is_revenue_per_kept_order():
    orders = small_orders()
    features = seg.customer_features(ibis.memtable(orders), as_of=AS_OF)
    features["segment"] = "everyone"
    summary = seg.segment_summary(features, by="segment")
    kept = orders[(orders["ordered_at"] <= AS_OF) & ~orders["is_refunded"]]
    assert summary.loc["everyone", "aov"] == pytest.approx(kept["revenue"].mean())
    assert summary.loc["everyone", "action"] == ""


def test_segment_summary_with_no_revenue_at_all():
    frame = rfm_frame([1, 2, 3], [1, 1, 2], [0.0, 0.0, 0.0])
    summary = seg.segment_summary(seg.assign_rfm_segment(seg.rfm_scores(frame)))
    assert (summary["revenue_share"] == 0).all() and (summary["aov"] == 0).all()


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------


def test_cluster_matrix_is_log1p_then_standardised():
    features = rfm_frame([0, 10, 100, 1000], [1, 2, 3, 50], [1.0, 5, 50, 500])
    features["discount_share"] = [0.0, 0.1, 0.5, 0.2]
    X = seg.cluster_matrix(features, ["recency_days", "discount_share"])
    for column, transform in (("recency_days", np.log1p), ("discount_share", lambda v: v)):
        values = transform(features[column].to_numpy(dtype=float))
        np.testing.assert_allclose(X[column], (values - values.mean()) / values.std())


def test_refund_only_customers_get_the_median_basket_for_clustering():
    features = rfm_frame([1, 2, 3, 4], [1, 2, 1, 3], [0.0, 20.0, 0.0, 300.0])
    features["aov"] = [0.0, 10.0, 0.0, 100.0]
    features["refund_rate"] = [1.0, 0.0, 0.0, 0.0]  # c0: every order refunded; c2: a free order
    X = seg.cluster_matrix(features, ["aov", "frequency"])
    defined = np.log1p([10.0, 0.0, 100.0])  # c1..c3 have a kept order (c2's was free)
    log_aov = np.r_[np.median(defined), defined]
    np.testing.assert_allclose(X["aov"], (log_aov - log_aov.mean()) / log_aov.std())


def test_cluster_matrix_rejects_negative_money_and_unknown_sets():
    features = rfm_frame([1, 2], [1, 2], [10.0, -5.0])
    with pytest.raises(ValueError, match="'monetary' must not be negative"):
        seg.cluster_matrix(features, "rfm")
    with pytest.raises(ValueError, match="feature_set='nope' is unknown"):
        seg.cluster_matrix(features, "nope")


def test_planted_customer_types_are_recovered(planted):
    features, truth = planted
    result = seg.fit_clusters(features, k="auto", random_state=0)
    assert result.k == 4  # auto-k finds the four planted types
    assert seg.adjusted_rand(result.labels, truth) >= 0.8
    assert isinstance(result.model, KMeans)
    assert result.k_scores.set_index("k")["silhouette"].idxmax() == 4


def test_planted_types_get_the_names_their_behaviour_deserves(planted):
    features, truth = planted
    result = seg.fit_clusters(features, k=4, random_state=0)
    named = seg.name_clusters(seg.cluster_profiles(features, result.labels))
    majority = pd.crosstab(features["customer_id"].map(truth), result.labels.to_numpy()).idxmax(1)
    names = named["name"]
    assert names[majority["regular"]] == "High-value regulars"
    assert names[majority["bargain"]] == "Discount-driven occasionals"
    assert names[majority["lapsed"]] == "Lapsed one-timers"
    assert names[majority["new"]] == "New customers"
    assert named["action"].str.len().gt(10).all()


def test_choose_k_scores_equal_sklearn_run_directly(planted):
    features, _ = planted
    X = seg.cluster_matrix(features)
    best, table = seg.choose_k(X, range(2, 6), random_state=1)
    for k, score in zip(table["k"], table["silhouette"], strict=True):
        with threadpool_limits(1, user_api="openmp"):  # fast on busy cores, same result
            labels = KMeans(k, n_init=seg.KMEANS_N_INIT, random_state=1).fit(X.to_numpy()).labels_
        assert score == pytest.approx(silhouette_score(X.to_numpy(), labels))
    assert best == int(table.loc[table["silhouette"].idxmax(), "k"])


def test_fitted_silhouette_equals_sklearn(planted):
    features, _ = planted
    result = seg.fit_clusters(features, k=3)
    expected = silhouette_score(result.X.to_numpy(), result.labels.to_numpy())
    assert result.silhouette == pytest.approx(expected)


def test_one_pass_silhouettes_equal_sklearn_with_a_singleton_cluster():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 4, [[30.0, 30, 30]]])
    labelings = [np.r_[np.zeros(150), np.ones(150), 7].astype(int), rng.integers(0, 4, len(X))]
    got = seg._silhouettes(X, labelings, chunk_rows=64)  # chunks that do not divide n
    np.testing.assert_allclose(got, [silhouette_score(X, labels) for labels in labelings])


def test_choose_k_on_a_sample_still_finds_the_planted_k(planted):
    features, _ = planted
    best, table = seg.choose_k(seg.cluster_matrix(features), sample_size=300, random_state=0)
    assert best == 4 and table["k"].tolist() == list(range(2, 9))


def test_choose_k_with_too_few_distinct_customers_says_so():
    features = rfm_frame([1, 1, 1, 1], [2, 2, 2, 2], [5.0, 5.0, 5.0, 5.0])
    features["aov"], features["discount_share"] = 2.5, 0.0
    with pytest.raises(ValueError, match="Only 1 customer"):
        seg.fit_clusters(features)


def test_same_seed_gives_identical_labels(planted):
    features, _ = planted
    for threshold in (10**9, 100):  # KMeans, then MiniBatchKMeans
        first = seg.fit_clusters(features, k=4, random_state=5, minibatch_threshold=threshold)
        second = seg.fit_clusters(features, k=4, random_state=5, minibatch_threshold=threshold)
        pd.testing.assert_series_equal(first.labels, second.labels)


def test_minibatch_is_used_above_the_threshold_and_agrees_with_kmeans(planted):
    features, truth = planted
    small = seg.fit_clusters(features, k=4, minibatch_threshold=len(features))
    large = seg.fit_clusters(features, k=4, minibatch_threshold=len(features) - 1)
    assert isinstance(small.model, KMeans) and not isinstance(small.model, MiniBatchKMeans)
    assert isinstance(large.model, MiniBatchKMeans)
    assert seg.adjusted_rand(large.labels, small.labels) >= 0.95
    assert seg.adjusted_rand(large.labels, truth) >= 0.8


def test_labels_are_numbered_by_size_and_predict_agrees(planted):
    features, _ = planted
    features = features.iloc[: len(features) - 40]  # make the planted sizes unequal
    result = seg.fit_clusters(features, k=4)
    sizes = result.labels.value_counts().sort_index()
    assert sizes.is_monotonic_decreasing
    np.testing.assert_array_equal(result.model.predict(result.X.to_numpy()), result.labels)
    assert np.isfinite(result.silhouette) and -1 <= result.silhouette <= 1


def test_cluster_profiles_add_up(planted):
    features, _ = planted
    result = seg.fit_clusters(features, k=4)
    features = features.assign(channel_web=1.0, top_category="Shoes")
    profiles = seg.cluster_profiles(features, result.labels)
    assert profiles["customers"].sum() == len(features)
    assert profiles["revenue"].sum() == pytest.approx(features["monetary"].sum())
    assert profiles["customers_share"].sum() == pytest.approx(1.0)
    assert (profiles["channel_web"] == 1.0).all()
    assert (profiles["top_category"] == "Shoes").all()
    assert (profiles["top_category_share"] == 1.0).all()
    by_hand = features.groupby(result.labels.to_numpy())["recency_days"].mean()
    np.testing.assert_allclose(profiles["mean_recency_days"], by_hand)


def test_category_mix_counts_customers_per_favourite_category():
    features = seg.customer_features(ibis.memtable(small_orders()), as_of=AS_OF)
    labels = np.array([0, 0, 1, 1, 1])  # c1 c2 | c3 c4 c6 ; top categories B None | C A B
    mix = seg.category_mix(features, labels)
    assert mix.loc[0].to_dict() == pytest.approx({"A": 0, "B": 0.5, "C": 0, "unknown": 0.5})
    assert mix.loc[1].to_dict() == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3, "unknown": 0})


def test_labels_that_do_not_fit_the_customers_are_refused():
    features = seg.customer_features(ibis.memtable(small_orders()), as_of=AS_OF)
    with pytest.raises(ValueError, match="Got 2 cluster labels for 5 customers"):
        seg.cluster_profiles(features, [0, 1])
    with pytest.raises(ValueError, match="no entry for customer 'c6'"):
        seg.cluster_profiles(features, pd.Series(0, index=["c1", "c2", "c3", "c4"]))
    with pytest.raises(ValueError, match="1 customer\\(s\\) have no segment"):
        seg.segment_summary(features.assign(segment=["a", "b", None, "a", "b"]), by="segment")


def profile(recency, frequency, aov, discount=0.0, tenure=400.0, customers=100):
    return {
        "customers": customers,
        "mean_recency_days": recency,
        "mean_frequency": frequency,
        "mean_aov": aov,
        "mean_discount_share": discount,
        "mean_tenure_days": tenure,
    }


def test_cluster_names_are_unique_even_for_look_alike_clusters():
    profiles = pd.DataFrame(
        [
            profile(400, 1.0, 30.0),  # lapsed one-timers, small baskets
            profile(420, 1.1, 90.0),  # lapsed one-timers, big baskets
            profile(20, 8.0, 60.0),
            profile(20, 8.0, 60.0),  # an exact twin
        ]
    )
    named = seg.name_clusters(profiles)
    assert named["name"].is_unique
    assert named["name"].iloc[0] == "Lapsed one-timers, smaller baskets"
    assert named["name"].iloc[1] == "Lapsed one-timers, bigger baskets"
    assert named["action"].iloc[0] == seg.CLUSTER_ACTIONS["Lapsed one-timers"]
    pd.testing.assert_frame_equal(seg.name_clusters(profiles), named)  # deterministic


# --------------------------------------------------------------------------------------------
# Chart data, export, agreement
# --------------------------------------------------------------------------------------------


def test_projection_matches_an_svd_of_the_sample(planted):
    features, _ = planted
    result = seg.fit_clusters(features, k=4)
    projected = seg.projection_2d(result.X, result.labels, sample_size=200, random_state=3)
    assert len(projected) == 200 and set(projected.columns) == {"pc1", "pc2", "cluster"}
    sample = result.X.to_numpy()[projected.index]
    singular = np.linalg.svd(sample - sample.mean(axis=0), compute_uv=False)
    ratios = singular**2 / (singular**2).sum()
    np.testing.assert_allclose(projected.attrs["explained_variance_ratio"], ratios[:2])
    np.testing.assert_array_equal(projected["cluster"], result.labels.to_numpy()[projected.index])


@pytest.mark.parametrize("name", ["out/members.parquet", "out/deeper/members.csv"])
def test_export_writes_only_ids_and_labels(tmp_path, planted, name):
    features, _ = planted
    named = seg.assign_rfm_segment(seg.rfm_scores(features))
    named["cluster"] = seg.fit_clusters(named, k=4).labels.to_numpy()
    path = seg.export_membership(named, tmp_path / name)
    assert path == tmp_path / name and path.is_file()
    written = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    assert written.columns.tolist() == ["customer_id", "rfm_segment", "cluster"]
    assert written["customer_id"].tolist() == named["customer_id"].tolist()
    assert written["rfm_segment"].astype(str).tolist() == named["rfm_segment"].astype(str).tolist()


def test_a_failed_export_leaves_the_previous_list_whole(tmp_path, planted, monkeypatch):
    # An activation tool may read the file at any time: never half a list, never a stray file.
    features, _ = planted
    named = seg.assign_rfm_segment(seg.rfm_scores(features))
    named["cluster"] = 0
    path = seg.export_membership(named, tmp_path / "members.csv")
    before = path.read_bytes()

    def half_a_file_then_fail(self, target, **kwargs):
        Path(target).write_text("customer_id,rfm_segment\nr0001,Champ", encoding="utf-8")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_a_file_then_fail)
    with pytest.raises(OSError, match="No space left"):
        seg.export_membership(named, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["members.csv"]


def test_export_explains_a_missing_column_or_unknown_format(tmp_path, planted):
    features, _ = planted
    named = seg.assign_rfm_segment(seg.rfm_scores(features))
    with pytest.raises(ValueError, match=r"lacks the column\(s\) cluster"):
        seg.export_membership(named, tmp_path / "m.csv")
    with pytest.raises(ValueError, match="end the name in .csv or .parquet"):
        seg.export_membership(named.assign(cluster=0), tmp_path / "m.xlsx")


def test_adjusted_rand_aligns_on_customer_id():
    truth = pd.Series(["a", "a", "b", "b", "c", "c"], index=[f"c{i}" for i in range(6)])
    renamed = truth.map({"a": 2, "b": 0, "c": 1}).iloc[::-1]  # other names, other order
    assert seg.adjusted_rand(renamed, truth) == pytest.approx(1.0)
    noisy = renamed.copy()
    noisy["c0"] = 1
    expected = adjusted_rand_score(truth.to_numpy(), noisy.loc[truth.index].to_numpy())
    frame = noisy.rename("cluster").rename_axis("customer_id").reset_index()
    assert seg.adjusted_rand(frame, truth) == pytest.approx(expected)
    with pytest.raises(ValueError, match="share 0 customer id"):
        seg.adjusted_rand(pd.Series([1, 2], index=["x", "y"]), truth)


@pytest.mark.slow
def test_a_million_customers_take_seconds_not_hours(tmp_path):
    rng = np.random.default_rng(0)
    n = 1_000_000
    customer = np.repeat(np.arange(n), rng.integers(1, 4, n))  # about 2M orders
    moments = np.datetime64("2026-06-30") - (rng.uniform(0, 730, customer.size) * 86_400).astype(
        "timedelta64[s]"
    )
    orders = pa.table(
        {
            "order_id": pa.array(np.arange(customer.size).astype(str)),
            "customer_id": pa.array(np.char.add("c", customer.astype(str))),
            "ordered_at": pa.array(moments.astype("datetime64[us]")),
            "revenue": pa.array(rng.lognormal(3.5, 0.8, customer.size)),
            "discount": pa.array(np.where(rng.random(customer.size) < 0.2, 5.0, 0.0)),
            "channel": pa.array(rng.choice(["web", "app", "marketplace"], customer.size)),
        }
    )
    started = time.perf_counter()
    features = seg.customer_features(ibis.memtable(orders), as_of="2026-06-30")
    named = seg.assign_rfm_segment(seg.rfm_scores(features))
    seg.segment_summary(named)
    result = seg.fit_clusters(named, k="auto")
    named["cluster"] = result.labels.to_numpy()
    seg.name_clusters(seg.cluster_profiles(named))
    seg.projection_2d(result.X, result.labels)
    seg.export_membership(named, tmp_path / "members.parquet")
    seconds = time.perf_counter() - started
    assert len(features) == n and isinstance(result.model, MiniBatchKMeans)
    assert seconds < 120, f"{seconds:.0f} s for a million customers"


# --------------------------------------------------------------------------------------------
# Absolute anchors, future value, k within noise and the decision (docs/decisions.md)
# --------------------------------------------------------------------------------------------


def gap_orders(gaps_per_customer: dict[str, list[int]]) -> pd.DataFrame:
    """Orders whose gaps between purchase days are planted: each customer's last order is at
    AS_OF minus 1 day, earlier ones at the cumulative gaps before it."""
    rows = []
    for customer, gaps in gaps_per_customer.items():
        day = AS_OF - pd.Timedelta(days=1)
        rows.append((customer, day, 10.0))
        for gap in gaps:
            day -= pd.Timedelta(days=gap)
            rows.append((customer, day, 10.0))
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "revenue"])


def test_repurchase_gaps_count_each_planted_gap_once():
    orders = gap_orders({"a": [3, 3, 10], "b": [200], "c": []})
    # a second order on the same day is not a repeat purchase
    extra = pd.DataFrame([("a", AS_OF - pd.Timedelta(hours=20), 5.0)], columns=orders.columns)
    gaps = seg.repurchase_gaps(ibis.memtable(pd.concat([orders, extra])), as_of=AS_OF)
    assert dict(zip(gaps["gap_days"], gaps["repeat_purchases"], strict=True)) == {
        3: 2,
        10: 1,
        200: 1,
    }


def test_lapse_threshold_is_the_99th_percentile_of_gaps_in_whole_weeks():
    # 99 gaps of 10 days and 1 of 60: the 99th percentile is 10 days -> 14 (two weeks);
    # the 80th percentile is 10 -> 14 as well.
    gaps = {f"c{i}": [10] for i in range(99)} | {"late": [60]}
    anchor = seg.recency_anchor(ibis.memtable(gap_orders(gaps)), as_of=AS_OF)
    assert (anchor.lapsed_after_days, anchor.cycle_days, anchor.source) == (14, 14, "data")
    assert anchor.repeat_purchases == 100
    # 97 of 10 days and 3 of 60: the 99th percentile moves to 60 -> 63 days.
    gaps = {f"c{i}": [10] for i in range(97)} | {f"late{i}": [60] for i in range(3)}
    assert seg.recency_anchor(ibis.memtable(gap_orders(gaps)), as_of=AS_OF).lapsed_after_days == 63
    assert "99% of this shop's 100 repeat purchases" in anchor.sentence()


def test_lapse_threshold_from_the_parameter_or_unknown_with_too_few_repeats():
    orders = ibis.memtable(gap_orders({"a": [5], "b": [7]}))
    unknown = seg.recency_anchor(orders, as_of=AS_OF)
    assert unknown.lapsed_after_days is None and unknown.source == "too_few_repeat_purchases"
    assert "too few" in unknown.sentence() and "lapsed_after_days" in unknown.sentence()
    given = seg.recency_anchor(orders, as_of=AS_OF, lapsed_after_days=90)
    assert (given.lapsed_after_days, given.source) == (90, "parameter")
    with pytest.raises(ValueError, match="lapsed_after_days"):
        seg.recency_anchor(orders, as_of=AS_OF, lapsed_after_days=-1)


def test_anchor_labels_everyone_silent_past_the_threshold_lapsed_and_nobody_else():
    scored = seg.assign_rfm_segment(
        seg.rfm_scores(rfm_frame([1, 5, 40, 100, 400], [5, 4, 3, 2, 1], [50, 40, 30, 20, 10]))
    )
    anchored = seg.anchor_segments(scored, 90)
    assert anchored["rfm_segment"].tolist()[-2:] == [seg.LAPSED, seg.LAPSED]
    assert anchored["rfm_segment"].tolist()[:3] == scored["rfm_segment"].tolist()[:3]
    assert (
        seg.anchor_segments(scored, None)["rfm_segment"].tolist() == scored["rfm_segment"].tolist()
    )


def test_future_value_is_what_the_same_segment_spent_in_the_following_year():
    # c1 and c2 were Lapsed a year ago (silent 400 days); c1 came back and spent 30, c2 not.
    # c3 ordered often until then and kept ordering (spent 100 in the year).
    rows = [
        ("c1", AS_OF - pd.Timedelta(days=765), 10.0),
        ("c1", AS_OF - pd.Timedelta(days=100), 30.0),
        ("c2", AS_OF - pd.Timedelta(days=765), 10.0),
    ]
    rows += [("c3", AS_OF - pd.Timedelta(days=366 + 7 * i), 20.0) for i in range(5)]
    rows += [("c3", AS_OF - pd.Timedelta(days=10 + 70 * i), 25.0) for i in range(4)]
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "revenue"])
    table = seg.future_value_by_segment(ibis.memtable(orders), as_of=AS_OF, lapsed_after_days=200)
    assert table.loc[seg.LAPSED, "customers_then"] == 2
    assert table.loc[seg.LAPSED, "future_value_per_customer"] == pytest.approx(15.0)
    others = table.drop(index=seg.LAPSED)
    assert others["customers_then"].sum() == 1
    assert others["future_value_per_customer"].iloc[0] == pytest.approx(100.0)
    short = orders[orders["ordered_at"] > AS_OF - pd.Timedelta(days=300)]
    assert (
        seg.future_value_by_segment(ibis.memtable(short), as_of=AS_OF, lapsed_after_days=200)
        is None
    )


def test_k_is_the_smallest_within_noise_of_the_best(planted):
    features, _ = planted
    X = seg.cluster_matrix(features)
    k, table = seg.choose_k(X, random_state=0)
    best = table.loc[table["silhouette"].idxmax()]
    assert best["noise"] == 0
    within = table["silhouette"] >= best["silhouette"] - seg.NOISE_MULTIPLE * table["noise"]
    assert table["within_noise"].tolist() == within.tolist()
    assert k == table.loc[within, "k"].min()
    assert (table.drop(index=best.name)["noise"] > 0).all()


def test_half_sample_noise_matches_the_spread_over_fresh_samples():
    """The half-sample standard error against an independent value: the spread of the same
    silhouette difference over fresh samples of the same population."""
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [3, 0], [0, 3.2]])

    def draw(n):
        return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2))

    base = draw(3000)
    models = {k: KMeans(k, n_init=4, random_state=0).fit(base) for k in (2, 3)}
    labelings = {k: models[k].labels_ for k in (2, 3)}
    table = pd.DataFrame({"k": [2, 3]})
    table["silhouette"] = seg._silhouettes(base, [labelings[2], labelings[3]])
    noise = seg._silhouette_noise(base, labelings, table, random_state=0)
    fresh = []
    for _ in range(25):
        sample = draw(3000)
        s2, s3 = seg._silhouettes(sample, [models[2].predict(sample), models[3].predict(sample)])
        fresh.append(s3 - s2)
    independent = float(np.std(fresh, ddof=1))
    assert 0.5 < noise[0] / independent < 2.0


@pytest.mark.parametrize(
    ("silhouettes", "within", "chosen_silhouette", "verdict", "rule"),
    [
        ([0.45, 0.449, 0.448], [True, True, True], 0.45, "flat", "SEG-K1"),
        ([0.20, 0.15, 0.10], [True, False, False], 0.20, "weak", "SEG-K2"),
        ([0.40, 0.30, 0.20], [True, False, False], 0.40, "overlapping", "SEG-K3"),
        ([0.60, 0.30, 0.20], [True, False, False], 0.60, "well_separated", "SEG-K4"),
    ],
)
def test_separation_rules(silhouettes, within, chosen_silhouette, verdict, rule):
    table = pd.DataFrame(
        {"k": [2, 3, 4], "silhouette": silhouettes, "noise": 0.01, "within_noise": within}
    )
    found = seg.separation(2, chosen_silhouette, table)
    assert (found.verdict, found.rule) == (verdict, rule)
    if verdict in ("flat", "weak"):
        assert "the groups are weakly separated" in found.sentence


def test_separation_says_when_a_smaller_k_was_preferred_to_the_best():
    table = pd.DataFrame(
        {"k": [2, 3], "silhouette": [0.4448, 0.4498], "noise": [0.004, 0], "within_noise": True}
    )
    sentence = seg.separation(2, 0.4448, table.assign(within_noise=[True, True])).sentence
    assert "smallest k within noise of the best silhouette (0.45 at k = 3)" in sentence
    assert "set by the n_clusters parameter" in seg.separation(3, 0.6, None).sentence


def facts(**changes) -> seg.SegmentFacts:
    base = {
        "customers": 1000,
        "lifetime_revenue": 1e5,
        "lapsed": 300,
        "lapsed_after_days": 112,
        "lapsing": 200,
        "lapsing_future_value": 22_500.0,
        "cycle_days": 35,
        "currency": "USD",
    }
    return seg.SegmentFacts(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "verdict", "rule", "words"),
    [
        ({"lapsed_after_days": None}, "relative_only", "SEG-1", "longer order history"),
        ({"lapsed": 500}, "ageing_base", "SEG-2", "acquiring new customers"),
        ({}, "win_back", "SEG-3", "\\$22.5k"),
        ({"lapsing_future_value": 0.0}, "keep_warm", "SEG-4", "no win-back"),
        ({"lapsing": 0}, "keep_warm", "SEG-4", "no win-back"),
    ],
)
def test_every_row_of_the_segmentation_decision_table(changes, verdict, rule, words):
    decision = seg.decide(facts(**changes))
    assert (decision.verdict, decision.rule) == (verdict, rule)
    assert words in decision.reason + decision.next_step
    assert "customer_actions.csv" in decision.next_step
    assert "$" not in decision.to_markdown().replace("\\$", "")


def ageing_cohort(cohort_share: float = 0.8, silent_days: int = 450, customers: int = 3000):
    """Scenario "ageing cohort", built from the sample generator: a seeded random 80% of the
    customers stop ordering 450 days before the analysis date (their later orders are removed).
    Planted truth: every cohort customer has been silent for at least 450 days."""
    from {{ cookiecutter.module_name }} import sample

    tables, truth = sample.generate(customers=customers, seed=11)
    orders = tables["orders"].to_pandas()
    as_of = pd.Timestamp(truth["as_of"])
    ids = np.asarray(tables["customers"]["customer_id"].to_pylist())
    rng = np.random.default_rng(11)
    cohort = set(rng.choice(ids, int(cohort_share * len(ids)), replace=False))
    stop = as_of - pd.Timedelta(days=silent_days)
    kept = orders[~orders["customer_id"].isin(cohort) | (orders["ordered_at"] <= stop)]
    return ibis.memtable(kept), cohort, as_of


def test_scenario_ageing_cohort_long_silent_customers_are_lapsed_not_about_to_sleep():
    orders, cohort, as_of = ageing_cohort()
    features = seg.customer_features(orders, as_of=as_of)
    relative = seg.assign_rfm_segment(seg.rfm_scores(features))
    anchor = seg.recency_anchor(orders, as_of=as_of)
    assert anchor.source == "data" and anchor.lapsed_after_days < 450
    anchored = seg.anchor_segments(relative, anchor)
    in_cohort = anchored["customer_id"].isin(cohort)
    assert in_cohort.sum() > 900
    assert (anchored.loc[in_cohort, "recency_days"] >= 450).all()  # the planted truth
    # The relative map alone calls some of them "About to sleep" (the bug); anchored, none.
    assert (relative.loc[in_cohort, "rfm_segment"] == "About to sleep").any()
    assert (anchored.loc[in_cohort, "rfm_segment"] == seg.LAPSED).all()
    silent = anchored["recency_days"] > anchor.lapsed_after_days
    assert not (anchored.loc[silent, "rfm_segment"] != seg.LAPSED).any()
    decision = seg.decide(seg.segment_facts(anchored, anchor))
    assert (decision.verdict, decision.rule) == ("ageing_base", "SEG-2")
    assert decision.next_step.startswith("Send Lapsed customers one low-cost win-back at most")


def test_scenario_default_sample_wins_back_the_customers_going_quiet(sample_dir):
    con_orders = ibis.read_parquet(sample_dir / "orders.parquet")
    as_of = pd.Timestamp("2026-06-30") - pd.Timedelta(microseconds=1)
    anchor = seg.recency_anchor(con_orders, as_of=as_of)
    features = seg.customer_features(con_orders, as_of=as_of)
    rfm = seg.anchor_segments(seg.assign_rfm_segment(seg.rfm_scores(features)), anchor)
    fv = seg.future_value_by_segment(
        con_orders, as_of=as_of, lapsed_after_days=anchor.lapsed_after_days
    )
    decision = seg.decide(seg.segment_facts(seg.with_future_value(rfm, fv), anchor))
    assert (decision.verdict, decision.rule) == ("win_back", "SEG-3")
    assert decision.next_step.startswith("Contact them this week")
