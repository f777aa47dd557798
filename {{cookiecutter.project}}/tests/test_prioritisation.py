"""Prioritisation: the backlog file, reach queries, the decision log, the Monte Carlo (against
closed forms), the capacity plan, the decision rules and the sample's planted truths."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from {{ cookiecutter.module_name }} import backlog, data, decision_log, sample
from {{ cookiecutter.module_name }} import prioritisation as P
from {{ cookiecutter.module_name }}.errors import UserError

HEADER = ",".join(backlog.REQUIRED_COLUMNS) + ",reach_guess"
END = pd.Timestamp("2026-07-01")


def row(
    name="A",
    kind="customer-facing",
    reach="1000",
    impact=(1, 2, 3),
    conf=(0.5, 0.6, 0.7),
    effort=(1, 2, 3),
    guess="",
):
    cells = [name, kind, reach, *map(str, impact), *map(str, conf), *map(str, effort), guess]
    return ",".join(cells)


def write(tmp_path, *rows: str):
    path = tmp_path / "backlog.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def table_of(*specs, end=END):
    """A resolved table from (name, type, reach, impact, confidence, effort) tuples."""
    items = [
        backlog.Item(
            n,
            k,
            r,
            None,
            None,
            tuple(map(float, i)),
            tuple(map(float, c)),
            tuple(map(float, e)),
            line,
        )
        for line, (n, k, r, i, c, e) in enumerate(specs, start=2)
    ]
    return items, P.resolve_reach(items, None, P.lookback_window(end, 13, 13))


NO_LOG = P.Calibration("no_log", 1.0, 0, 0)
EMPTY_HISTORY = P.History(pd.DataFrame(columns=list(decision_log.COLUMNS)), {})


# --------------------------------------------------------------------------------------------
# The backlog file


def test_a_valid_backlog_reads_back(tmp_path):
    items = backlog.read_backlog(
        write(tmp_path, row(), row("B", "operational", "weekly sessions reaching checkout"))
    )
    assert [i.initiative for i in items] == ["A", "B"]
    assert items[0].reach == 1000 and items[0].impact == (1, 2, 3)
    assert items[1].reach is None and items[1].reach_query == "weekly sessions reaching checkout"


def test_every_broken_row_and_field_is_named_at_once(tmp_path):
    path = write(
        tmp_path,
        row("A", kind="feature"),
        row("B", impact=(3, 2, 1)),
        row("C", conf=(0.5, 0.8, 80)),
        row("D", effort=(0, 1, 2), reach="lots"),
        row("A"),
        row(""),
    )
    with pytest.raises(UserError) as error:
        backlog.read_backlog(path)
    text = str(error.value)
    assert "line 2 (A), type: 'feature' is not one of customer-facing" in text
    assert "line 3 (B), impact_low/likely/high: 3, 2, 1 are not in order" in text
    assert (
        "line 4 (C), confidence_high: 80 is above 1; confidence is a share (write 0.8 for 80%)"
        in text
    )
    assert "line 5 (D), reach: 'lots' is neither a number nor a known reach query" in text
    assert "line 5 (D), effort_low: 0 person-weeks" in text
    assert "line 6 (A), initiative: 'A' is already on line 2" in text
    assert "line 7, initiative: empty" in text
    assert text.startswith(f"{path} has 7 problems")


def test_unknown_reach_query_suggests_the_closest_names(tmp_path):
    with pytest.raises(
        UserError, match="Did you mean 'weekly sessions reaching checkout on mobile'"
    ):
        backlog.read_backlog(
            write(tmp_path, row(reach="weekly sessions reaching checkout on mobil"))
        )


def test_missing_columns_and_missing_file_say_what_to_do(tmp_path):
    (tmp_path / "b.csv").write_text("initiative,type\nA,operational\n", encoding="utf-8")
    with pytest.raises(UserError, match="has no column reach, impact_low"):
        backlog.read_backlog(tmp_path / "b.csv")
    with pytest.raises(UserError, match="There is no backlog file at .*params/prioritisation.yaml"):
        backlog.read_backlog(tmp_path / "nowhere.csv")


def test_text_cells_are_read_as_typed_not_guessed(tmp_path):
    items = backlog.read_backlog(write(tmp_path, row(reach='"12,500"', guess="300")))
    assert items[0].reach == 12_500 and items[0].reach_guess == 300


# --------------------------------------------------------------------------------------------
# Reach queries: portable Ibis, checked against pandas on a small shop


@pytest.fixture()
def tiny_shop():
    rng = np.random.default_rng(5)
    n = 500
    sessions = pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(n)],
            "visitor_id": [f"v{i % 90}" for i in range(n)],
            "customer_id": [f"v{i % 90}" for i in range(n)],
            "started_at": pd.Timestamp("2026-06-03")
            + pd.to_timedelta(rng.uniform(0, 28, n), "D").floor("s"),
            "device": rng.choice(["desktop", "mobile", "tablet"], n),
            "source": "organic",
            "viewed_product": rng.random(n) < 0.8,
            "added_to_cart": rng.random(n) < 0.4,
            "started_checkout": rng.random(n) < 0.3,
            "purchased": rng.random(n) < 0.1,
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(200)],
            "customer_id": [f"v{i % 60}" for i in range(200)],
            "ordered_at": pd.Timestamp("2026-04-01")
            + pd.to_timedelta(rng.uniform(0, 90, 200), "D").floor("s"),
            "revenue": 10.0,
            "channel": rng.choice(["web", "app"], 200),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": [f"v{i}" for i in range(90)],
            "signed_up_at": pd.Timestamp("2025-01-01"),
            "country": ["US"] * 50 + ["DE"] * 40,
        }
    )
    con = ibis.duckdb.connect()
    for name, frame in (("sessions", sessions), ("orders", orders), ("customers", customers)):
        con.create_table(name, frame)
    return con, sessions, orders


def test_weekly_session_queries_match_pandas_and_scale_to_the_period(tiny_shop):
    con, sessions, _ = tiny_shop
    window = P.lookback_window(pd.Timestamp("2026-07-01"), 13, 13)
    reach = backlog.measure_reach(con, "Weekly sessions reaching checkout on  MOBILE", window)
    expected = ((sessions.device == "mobile") & sessions.started_checkout).sum()
    weeks = (pd.Timestamp("2026-07-01") - pd.Timestamp("2026-06-03")) / pd.Timedelta(days=7)
    assert reach.raw_count == expected
    assert reach.weeks_covered == pytest.approx(weeks)
    assert reach.value == pytest.approx(expected / weeks * 13)


def test_customer_and_order_queries_match_pandas(tiny_shop):
    con, _, orders = tiny_shop
    window = P.lookback_window(pd.Timestamp("2026-07-01"), 4, 13)
    recent = orders[orders.ordered_at >= pd.Timestamp("2026-07-01") - pd.Timedelta(weeks=4)]
    counts = recent.customer_id.value_counts()
    assert backlog.measure_reach(con, "active customers", window).value == len(counts)
    assert backlog.measure_reach(con, "repeat customers", window).value == (counts >= 2).sum()
    assert backlog.measure_reach(con, "customers in country DE", window).value == 40
    app = backlog.measure_reach(con, "weekly orders on app", window)
    assert app.raw_count == (recent.channel == "app").sum()


def test_segment_reach_counts_customers_as_the_segmentation_report_labels_them():
    # Six customers, one to five orders on consecutive days ending 1..6 days before the end of
    # the data. By hand, with rfm_scores' rule (n = 6: score = 1 + customers strictly worse,
    # capped at 5): R = 5 5 4 3 2 1 and F = 5 5 4 3 1 1, so the map gives Champions x2,
    # Loyal customers, Need attention, Hibernating and Lost.
    end = pd.Timestamp("2026-07-01")
    orders = pd.DataFrame(
        [
            {
                "order_id": f"c{c}-{k}",
                "customer_id": f"c{c}",
                "ordered_at": end - pd.Timedelta(days=c + 1 + k, hours=12),
                "revenue": 10.0,
            }
            for c, n_orders in enumerate((5, 4, 3, 2, 1, 1))
            for k in range(n_orders)
        ]
    )
    con = ibis.duckdb.connect()
    con.create_table("orders", orders)
    window = P.lookback_window(end, 13, 13)
    expected = {"Champions": 2, "loyal  CUSTOMERS": 1, "Need attention": 1, "Lost": 1, "At risk": 0}
    try:
        import {{ cookiecutter.module_name }}.segmentation  # noqa: F401
    except ImportError:  # baked without segmentation: the query says what to do instead
        with pytest.raises(UserError, match="baked without; give that initiative's reach"):
            backlog.measure_reach(con, "customers in segment Champions", window)
        return
    for segment, count in expected.items():
        reach = backlog.measure_reach(con, f"customers in segment {segment}", window)
        assert (reach.value, reach.weeks_covered) == (count, None), segment
    assert backlog.measure_reach(con, "customers in segment Lost", window).description == (
        "customers in segment Lost"
    )


def test_a_misspelt_segment_is_caught_when_the_backlog_is_read():
    with pytest.raises(UserError, match="'champs' is not an RFM segment. Did you mean 'Champions'"):
        backlog.reach_query("customers in segment champs")


QUERIES = (
    "weekly sessions",
    "weekly sessions reaching cart on desktop",
    "weekly sessions reaching purchase",
    "weekly orders",
    "weekly orders on web",
    "active customers",
    "repeat customers",
    "customers in country US",
)


@pytest.mark.postgres
def test_reach_queries_and_the_log_table_give_the_same_answers_on_postgres(
    tiny_shop,
    tmp_path,
    postgres_url,  # noqa: F811 (the session fixture from conftest)
):
    from pg import drop_tables, load_tables

    con, sessions, orders = tiny_shop
    customers = con.table("customers").execute()
    log = P.check_log(log_frame(), "x")
    tables = {"sessions": sessions, "orders": orders, "customers": customers, "decision_log": log}
    load_tables(postgres_url, tables)
    try:
        pg = ibis.connect(postgres_url)
        window = P.lookback_window(pd.Timestamp("2026-07-01"), 6, 13)
        for name in QUERIES:
            on_duckdb = backlog.measure_reach(con, name, window)
            on_postgres = backlog.measure_reach(pg, name, window)
            assert on_postgres.raw_count == on_duckdb.raw_count, name
            assert on_postgres.value == pytest.approx(on_duckdb.value), name
        history = P.load_history(pg, tmp_path / "no_file.csv")
        assert sorted(history.frame.review_id) == ["a", "b", "c"]
        pg.disconnect()
    finally:
        drop_tables(postgres_url, list(tables))


def test_a_query_on_a_missing_table_says_so():
    con = ibis.duckdb.connect()
    window = P.lookback_window(END, 13, 13)
    with pytest.raises(UserError, match="counts the sessions table, which the data does not have"):
        backlog.measure_reach(con, "weekly sessions", window)


# --------------------------------------------------------------------------------------------
# The decision log


def log_frame(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "review_id": ["a", "b", "c"],
            "decided_on": ["2026-01-05", "2026-02-05", "2026-03-05"],
            "hypothesis": ["x", "", "z"],
            "primary_metric": ["conversion"] * 3,
            "predicted_effect": ["0.10", "0.05", "0.04"],
            "measured_effect": ["0.05", "0.02", "0.03"],
            "measured_low": ["0.01", "-0.01", ""],
            "measured_high": ["0.09", "0.05", ""],
            "verdict": ["ship", "iterate", "ship"],
        }
    )
    for column, (i, value) in changes.items():
        frame.loc[i, column] = value
    return frame


def test_a_hand_edited_log_is_typed():
    checked = P.check_log(log_frame(), "data/decision_log.csv")
    assert checked.predicted_effect.tolist() == [0.10, 0.05, 0.04]
    assert checked.decided_on.iloc[0] == pd.Timestamp("2026-01-05")
    assert pd.isna(checked.measured_low.iloc[2])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"measured_effect": (1, "two")}, "line 3 (b), measured_effect: 'two' is not a number"),
        ({"decided_on": (0, "05/31/2026x")}, "line 2 (a), decided_on: '05/31/2026x' is not a date"),
        ({"decided_on": (2, "2099-01-01")}, "line 4 (c), decided_on: 2099-01-01 is in the future"),
        ({"review_id": (2, "a")}, "review_id 'a' appears more than once (line 2 (a), line 4 (a))"),
        ({"verdict": (1, "")}, "line 3 (b), verdict: empty"),
        ({"measured_low": (0, "0.2")}, "line 2 (a), measured_low/measured_effect/measured_high"),
    ],
)
def test_each_broken_log_row_is_named(changes, message):
    with pytest.raises(UserError) as error:
        P.check_log(log_frame(**changes), "data/decision_log.csv")
    assert message in str(error.value)


def test_history_joins_the_file_and_the_data_table_the_file_winning(tmp_path):
    con = ibis.duckdb.connect()
    table = P.check_log(log_frame(), "x")
    con.create_table("decision_log", table)
    path = tmp_path / "decision_log.csv"
    decision_log.upsert([{**log_frame().iloc[0].to_dict(), "measured_effect": 0.08}], path)
    history = P.load_history(con, path)
    assert sorted(history.frame.review_id) == ["a", "b", "c"]
    assert history.frame.set_index("review_id").at["a", "measured_effect"] == 0.08
    assert list(history.sources.values()) == [3, 1]
    assert P.load_history(None, tmp_path / "none.csv").frame.empty


def test_calibration_states():
    frame = P.check_log(log_frame(), "x")
    assert P.calibrate(frame.iloc[0:0]).status == "no_log"
    few = P.calibrate(frame, min_launches=4)
    assert (few.status, few.factor, few.n_launches) == ("too_few", 1.0, 3)
    shrink = P.calibrate(frame, min_launches=3, draws=2000)
    ratios = np.array([0.5, 0.4, 0.75])
    assert shrink.status == "shrink"
    assert shrink.factor == pytest.approx(np.median(ratios))
    assert (shrink.q25, shrink.q75) == pytest.approx(tuple(np.quantile(ratios, [0.25, 0.75])))
    # the per-draw factor is the median of a bootstrap resample: always one of the ratios here
    assert set(np.round(shrink.draws, 6)) <= set(np.round(ratios, 6))
    high = frame.assign(measured_effect=frame.predicted_effect * 1.3)
    kept = P.calibrate(high)
    assert (kept.status, kept.factor, round(kept.median_ratio, 6)) == ("as_predicted", 1.0, 1.3)


# --------------------------------------------------------------------------------------------
# The Monte Carlo, against closed forms


@pytest.mark.parametrize("distribution", ["pert", "triangular"])
def test_range_draws_have_the_closed_form_mean_and_bounds(distribution):
    low, likely, high = (
        np.array([1.0, 2.0, 5.0]),
        np.array([2.0, 2.0, 6.0]),
        np.array([6.0, 2.0, 10.0]),
    )
    rng = np.random.default_rng(1)
    x = P._draw(low, likely, high, 200_000, rng, distribution)
    assert (x >= low).all() and (x <= high).all()
    assert (x[:, 1] == 2.0).all()  # low == high: the value itself
    expected = P.mean_of_range(low, likely, high, distribution)
    sd = x.std(axis=0)
    assert np.abs(x.mean(axis=0) - expected).max() <= 4 * sd.max() / math.sqrt(200_000)
    if distribution == "pert":  # Beta(1 + 4(m-l)/(h-l), 1 + 4(h-m)/(h-l)) on (l, h)
        a, b = 1 + 4 * (2 - 1) / 5, 1 + 4 * (6 - 2) / 5
        assert np.median(x[:, 0]) == pytest.approx(1 + 5 * stats.beta.median(a, b), abs=0.02)


def test_lognormal_ranges_put_low_and_high_at_the_5th_and_95th_percentiles():
    x = P._draw(
        np.array([1.0]),
        np.array([2.0]),
        np.array([4.0]),
        200_000,
        np.random.default_rng(2),
        "lognormal",
    )
    assert np.quantile(x, [0.05, 0.5, 0.95]) == pytest.approx([1.0, 2.0, 4.0], rel=0.01)


def test_monte_carlo_p_greater_matches_the_lognormal_closed_form():
    _, table = table_of(
        ("A", "operational", 1000.0, (1, 2, 4), (0.5, 0.7, 0.9), (2, 3, 5)),
        ("B", "operational", 1500.0, (0.5, 1.5, 3), (0.6, 0.8, 0.95), (2, 4, 6)),
    )
    check = P.closed_form_check(table, 0, 1, draws=200_000, seed=3)
    # by hand: log score ~ N(ln R + ln I + ln C - ln E, sum of ((ln h - ln l) / 2z)^2)
    z = stats.norm.ppf(0.95)

    def params(reach, i, c, e):
        mu = math.log(reach) + math.log(i[1]) + math.log(c[1]) - math.log(e[1])
        var = sum(((math.log(r[2]) - math.log(r[0])) / (2 * z)) ** 2 for r in (i, c, e))
        return mu, math.sqrt(var)

    (ma, sa), (mb, sb) = (
        params(1000, (1, 2, 4), (0.5, 0.7, 0.9), (2, 3, 5)),
        params(1500, (0.5, 1.5, 3), (0.6, 0.8, 0.95), (2, 4, 6)),
    )
    exact = stats.norm.cdf((ma - mb) / math.sqrt(sa**2 + sb**2))
    assert check["closed_form"] == pytest.approx(exact, rel=1e-12)
    assert abs(check["simulated"] - exact) < 4 * check["se"]
    assert P.closed_form_p_greater(0.0, 1.0, 0.0, 1.0) == 0.5


def test_the_same_seed_gives_the_same_draws_and_ranks_are_a_permutation():
    _, table = table_of(
        ("A", "operational", 1000.0, (1, 2, 3), (0.5, 0.6, 0.7), (1, 2, 3)),
        ("B", "operational", 900.0, (1, 2, 3), (0.5, 0.6, 0.7), (1, 2, 3)),
        ("C", "operational", 100.0, (1, 2, 3), (0.5, 0.6, 0.7), (1, 2, 3)),
    )
    one = P.simulate(table, NO_LOG, draws=500, seed=9)
    two = P.simulate(table, NO_LOG, draws=500, seed=9)
    assert np.array_equal(one.values, two.values)
    assert (np.sort(one.ranks, axis=1) == [1, 2, 3]).all()
    assert P.ranks_of(np.array([[1.0, 3.0, 2.0]])).tolist() == [[3, 1, 2]]


def test_rice_and_ice_by_hand():
    inputs = {
        "impact": np.array([[2.0]]),
        "confidence": np.array([[0.5]]),
        "effort": np.array([[4.0]]),
    }
    assert P.scores(inputs, np.array([100.0]), np.ones((1, 1)), "rice")[0, 0] == 25.0
    assert P.scores(inputs, np.array([100.0]), np.full((1, 1), 0.5), "ice")[0, 0] == 0.125


# --------------------------------------------------------------------------------------------
# The capacity plan


def test_plan_reserves_the_platform_share_and_skips_what_does_not_fit():
    _, table = table_of(
        ("big", "customer-facing", 1e6, (1, 1, 1), (1, 1, 1), (9, 9, 9)),
        ("tech", "platform-tech-debt", 1.0, (1, 1, 1), (1, 1, 1), (2, 2, 2)),
        ("mid", "customer-facing", 1e5, (1, 1, 1), (1, 1, 1), (4, 4, 4)),
        ("small", "operational", 1e4, (1, 1, 1), (1, 1, 1), (1, 1, 1)),
        ("huge", "operational", 1e7, (1, 1, 1), (1, 1, 1), (30, 30, 30)),
    )
    effort = table.effort_likely
    plan = P.capacity_plan(table, table.reach / effort, effort, capacity=12, platform_share=0.25)
    # shared capacity 9: huge (30) never fits, big (9) takes it all; tech uses its reserve (3)
    assert plan.plan.tolist() == ["now", "now", "next", "next", "later"]
    assert plan.paid_from.tolist()[1] == "platform reserve"
    assert plan.paid_from.tolist()[4] == "larger than a period"
    assert plan.attrs["reserve_used"] == 2 and plan.attrs["shared_used"] == 9
    # with no uncertainty the per-draw plan is the same plan
    sim = P.simulate(table, NO_LOG, draws=100)
    chosen = P.plan_draws(
        sim.values, sim.inputs["effort"], (table.type == P.PLATFORM).to_numpy(), 12, 3
    )
    assert chosen.all(axis=0).tolist() == [True, True, False, False, False]
    with pytest.raises(UserError, match="tech_debt_share=1.5"):
        P.capacity_plan(table, effort, effort, capacity=12, platform_share=1.5)


# --------------------------------------------------------------------------------------------
# The decision rules (docs/decisions.md, Prioritisation)


def run(specs, history=EMPTY_HISTORY, **options):
    items, _ = table_of(*specs)
    return P.prioritise(items, None, history, end=END, draws=1000, **options)


CLEAR = [
    ("Lead", "customer-facing", 10_000.0, (2, 2, 2), (0.9, 0.9, 0.9), (2, 2, 2)),
    ("Second", "platform-tech-debt", 1_000.0, (1, 1, 1), (0.9, 0.9, 0.9), (2, 2, 2)),
    ("Third", "operational", 100.0, (1, 1, 1), (0.9, 0.9, 0.9), (5, 5, 5)),
]


def test_pr1_empty_backlog():
    decision = P.decide(run([]), backlog_path="data/raw/backlog.csv")
    assert (decision.verdict, decision.rule) == ("empty", "PR-1")
    assert "data/raw/backlog.csv" in decision.next_step


def test_pr2_nothing_fits():
    decision = P.decide(run(CLEAR, capacity_weeks=1))
    assert (decision.verdict, decision.rule) == ("split_work", "PR-2")
    assert "smallest needs about 2 person-weeks" in decision.reason


def test_pr3_commit_when_the_plan_is_settled_and_pr5_without_a_log():
    result = run(CLEAR, capacity_weeks=10, tech_debt_share=0.2)
    decision = P.decide(result)
    assert (decision.verdict, decision.rule) == ("commit", "PR-3")
    assert "Do now: **Lead**, **Second** and **Third** (9 of 10 person-weeks)" in decision.reason
    assert "**Lead** ranks first in 100% of 1,000 simulations" in decision.reason
    assert "no launch history in the decision log" in decision.reason
    assert "2 person-weeks are kept for platform" in decision.reason
    assert P.calibration_sentence(result.calibration)[0] == "PR-5"


def test_pr4_firm_up_names_the_shaky_item_and_its_lever():
    shaky = [
        ("Sure", "operational", 1000.0, (1, 1, 1), (1, 1, 1), (2, 2, 2)),
        ("Maybe", "operational", 100.0, (0.2, 1, 9), (0.9, 0.9, 0.9), (2, 2, 2)),
        ("Other", "operational", 90.0, (1, 1, 1), (1, 1, 1), (2, 2, 2)),
    ]
    decision = P.decide(run(shaky, capacity_weeks=4, tech_debt_share=0))
    assert (decision.verdict, decision.rule) == ("firm_up", "PR-4")
    assert decision.next_step.startswith("Start **Sure**; firm up the estimate of **Maybe**")
    assert "its impact moves it most" in decision.next_step


def test_unused_platform_reserve_is_said():
    decision = P.decide(run(CLEAR[:1], capacity_weeks=10, tech_debt_share=0.3))
    assert (
        "Only 0 of the 3 person-weeks kept for platform and tech-debt work are used"
        in decision.reason
    )


@pytest.mark.parametrize(
    ("launches", "rule", "words"),
    [
        (2, "PR-6", "2 launches with both a predicted and a measured effect, too few"),
        (5, "PR-8", "customer-facing impact estimates are scaled by 0.50"),
    ],
)
def test_calibration_sentences(launches, rule, words):
    frame = pd.DataFrame(
        {
            "review_id": [f"l{i}" for i in range(launches)],
            "predicted_effect": [0.1] * launches,
            "measured_effect": [0.05] * launches,
        }
    )
    calibration = P.calibrate(frame)
    assert P.calibration_sentence(calibration)[0] == rule
    assert words in P.calibration_sentence(calibration)[1]
    kept = P.calibrate(frame.assign(measured_effect=0.2))
    if launches >= 3:
        assert P.calibration_sentence(kept)[0] == "PR-7"
        assert "kept as given" in P.calibration_sentence(kept)[1]


def test_shrinkage_applies_to_the_calibrated_types_only():
    frame = pd.DataFrame(
        {"review_id": list("abcd"), "predicted_effect": [0.1] * 4, "measured_effect": [0.05] * 4}
    )
    history = P.History(frame, {"x": 4})
    result = run(CLEAR, history=history)
    factor = result.simulation.factor.mean(axis=0)
    assert factor.tolist() == [0.5, 1.0, 1.0]
    assert result.summary.set_index("initiative").calibrated.to_dict() == {
        "Lead": True,
        "Second": False,
        "Third": False,
    }
    with pytest.raises(UserError, match="calibrate_types holds 'features'"):
        run(CLEAR, calibrate_types=("features",))


def test_initiative_names_are_escaped_for_markdown():
    specs = [("Save $5 *now*", "operational", 10.0, (1, 1, 1), (1, 1, 1), (1, 1, 1))]
    decision = P.decide(run(specs, capacity_weeks=5))
    assert "Save \\$5 \\*now\\*" in decision.reason


# --------------------------------------------------------------------------------------------
# The sample's planted truths


@pytest.fixture(scope="module")
def sample_result(sample_dir, truth):
    con = data.connect(sample_dir)
    day = data.analysis_date(con, "")
    items = backlog.read_backlog(sample_dir / "backlog.csv")
    history = P.load_history(con, sample_dir / "no_project_log.csv")
    return P.prioritise(items, con, history, end=day.end), con, items, history, day


def test_sample_contract_tables_validate(sample_dir):
    report = data.validate(sample_dir, tables=["decision_log"], today="2026-07-01")
    assert report.ok, report.to_text()


def test_planted_reach_comes_from_the_sessions(sample_result, truth):
    result, *_ = sample_result
    planted = truth["prioritisation"]
    row = result.summary.set_index("initiative").loc[planted["leader_with_data_reach"]]
    assert row.reach_source == "data"
    assert row.reach == pytest.approx(
        planted["data_reach_per_week"] * planted["period_weeks"], rel=1e-9
    )


def test_planted_leader_dominates_only_with_reach_from_the_data(sample_result, truth):
    result, *_ = sample_result
    leader = result.summary.iloc[0]
    assert leader.initiative == truth["prioritisation"]["leader_with_data_reach"]
    assert leader.p_top1 > 0.6 and leader.p_top_n > 0.95
    assert leader.rank_median_guess > result.top_n and leader.p_top_n_guess < 0.05
    moved = P.reach_movers(result.summary, result.top_n)
    assert moved.initiative.iloc[0] == leader.initiative


def test_planted_launch_history_gives_half_the_predicted_effect(sample_result, truth):
    result, *_ = sample_result
    planted = truth["prioritisation"]
    c = result.calibration
    assert (c.status, c.n_launches) == ("shrink", planted["launches"])
    assert c.factor == pytest.approx(planted["launch_ratio_median"], rel=1e-9)
    assert abs(c.factor - planted["launch_ratio_planted"]) < 0.1


def test_planted_overtake_happens_only_with_calibration(sample_result, truth):
    result, con, items, _, day = sample_result
    passer, passed = truth["prioritisation"]["overtakes_with_calibration"]
    calibrated = result.summary.set_index("initiative").score_median
    assert calibrated[passer] > calibrated[passed]
    raw = P.prioritise(items, con, EMPTY_HISTORY, end=day.end).summary.set_index("initiative")
    assert raw.score_median[passer] < raw.score_median[passed]


def test_sample_decision_and_method_check(sample_result, truth):
    result, *_ = sample_result
    decision = P.decide(result)
    assert decision.rule in {"PR-3", "PR-4"}
    assert "Past launches delivered 0.50× their predicted effect" in decision.reason
    assert "reaches the top 3 only because of it" in decision.reason
    first, second = result.summary.index[:2]
    check = P.closed_form_check(result.simulation.table, first, second, draws=50_000)
    assert abs(check["simulated"] - check["closed_form"]) < 4 * check["se"]


def test_sample_backlog_is_the_planted_one(tmp_path, truth):
    rows = sample.backlog_rows(truth["prioritisation"])
    assert len(rows) == len(sample.BACKLOG)
    assert (rows.reach == sample.DATA_REACH_QUERY).sum() == 1
