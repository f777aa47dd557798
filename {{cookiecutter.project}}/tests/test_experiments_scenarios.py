"""The post-launch review's scenario battery: what the page decides, and tells the PM to do,
when an experiment goes the ways real ones go (built from the sample shop, see
scenarios_review.py); plus the planted before/after effect."""

from __future__ import annotations

import pytest
from scenarios_review import SCENARIOS, build

from {{ cookiecutter.module_name }} import data, post_launch


@pytest.fixture(scope="module")
def reviews(sample_dir, tmp_path_factory, monkeypatch_module):
    folder = tmp_path_factory.mktemp("plr_scenarios")
    found = {}
    for name in SCENARIOS:
        data_dir, plan, as_of = build(name, sample_dir, folder / name)
        found[name] = post_launch.review_experiment(data.connect(data_dir), plan, as_of)
    return found


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SHOP_DATA_URL", raising=False)
        yield patch


EXPECTED = {
    # scenario: (rule, verdict, words the reason holds, words the next step holds)
    "underpowered": (
        "PLR-5",
        "keep_running",
        ["of the 10,000 planned", "can only be read once"],
        ["Keep the experiment running", "more days", "do not ship before"],
    ),
    "enrolment_stopped": (
        "PLR-6",
        "keep_running",
        ["2,009 visitors per arm are in, 20% of the 10,000 planned"],
        ["No visitor has been enrolled since 08 Jun 2026: reopen enrolment", "7,991 per arm"],
    ),
    "guardrail_above_limit": (
        "PLR-7",
        "keep_running",
        ["refund rate +2", "limit +10.0%", "A ship needs every guardrail's interval below"],
        ["Do not ship yet: keep running until the guardrail settles"],
    ),
    "broken_split": (
        "PLR-2",
        "cannot_trust",
        ["does not match the plan (SRM p ="],
        ["Do not act on any metric", "restart the experiment"],
    ),
    "not_started": (
        "PLR-1",
        "not_started",
        ["had been enrolled by 20 May 2026", "first visitor was enrolled on 02 Jun 2026"],
        ["Nothing to decide yet: run this review again once the experiment has enrolled"],
    ),
    "strong_win": (
        "PLR-8",
        "ship",
        ["clearly raises conversion rate", "every guardrail cleared"],
        ["Roll the change out to all traffic"],
    ),
    "clear_loss": (
        "PLR-4",
        "roll_back",
        ["clearly lowers conversion rate"],
        ["Switch the change off"],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_gets_its_verdict_and_next_step(reviews, name):
    rule, verdict, reason_words, next_words = EXPECTED[name]
    decision = reviews[name].decision
    assert (decision.rule, decision.verdict) == (rule, verdict), decision
    for words in reason_words:
        assert words in decision.reason, (name, decision.reason)
    for words in next_words:
        assert words in decision.next_step, (name, decision.next_step)


def test_the_scenarios_measure_what_they_plant(reviews):
    guard = reviews["guardrail_above_limit"].result.guardrails["refund_rate"]
    assert guard.result.rel_lift > 0.10 and not guard.result.significant
    assert reviews["broken_split"].result.srm.flagged
    assert not reviews["strong_win"].result.srm.flagged
    assert reviews["strong_win"].result.guardrails["refund_rate"].status == "cleared"
    # the window ends on the analysis date: four days of enrolment, still going on
    assert reviews["underpowered"].evidence.last_enrolment.isoformat() == "2026-06-05"


def test_not_started_is_a_state_of_the_page_not_a_failure(reviews):
    review = reviews["not_started"]
    assert not review.started and review.result is None
    assert post_launch.log_entry(review) is None  # nothing decided, nothing logged
    points = post_launch.executive_points(review, show_chance_to_win=True)
    assert points[0].startswith("**Not applicable yet.**")


def test_the_decision_log_row_of_a_readout(reviews):
    row = post_launch.log_entry(reviews["strong_win"])
    assert row["verdict"] == "ship" and row["review_id"] == "checkout_redesign"
    assert row["measured_low"] < row["measured_effect"] < row["measured_high"]
    assert row["predicted_effect"] == 0.05


def test_an_unknown_experiment_is_a_user_error(sample_dir, monkeypatch_module):
    from {{ cookiecutter.module_name }}.errors import UserError

    plan = post_launch.ExperimentPlan("checkout_redesing")
    with pytest.raises(UserError, match="no experiment 'checkout_redesing'.*checkout_redesign"):
        post_launch.review_experiment(data.connect(sample_dir), plan)


@pytest.mark.parametrize("metric", ["aov", "revenue"])
def test_the_planted_before_after_effect_is_recovered_and_kept(
    sample_dir, truth, monkeypatch_module, metric
):
    planted = truth["pre_post"]
    plan = post_launch.PrePostPlan(
        launch_date=planted["launch_date"],
        series_metric=metric,
        treated_series=planted["treated"],
        comparison_series=[planted["comparison"]],
    )
    review = post_launch.review_pre_post(data.connect(sample_dir), plan)
    e = review.evidence
    # app order values x1.10 from the launch, web unchanged: +10% on AOV and on revenue
    assert e.rel_low <= planted["rel_lift_order_value"] <= e.rel_high
    assert (review.decision.rule, review.decision.verdict) == ("PP-3", "ship")


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "not_started"])
def test_every_sentence_of_the_page_reads_for_every_scenario(reviews, name):
    review = reviews[name]
    texts = [
        post_launch.split_sentence(review),
        post_launch.primary_sentence(review, show_chance_to_win=True),
        post_launch.guardrail_sentence(review),
        post_launch.segments_sentence(review),
        post_launch.sample_sentence(review),
        post_launch.money_sentence(review),
        post_launch.decomposition_sentence(review),
        *post_launch.executive_points(review, show_chance_to_win=True),
    ]
    for text in texts:
        assert "nan" not in text and "100.0%" not in text, text
        assert "$" not in text.replace("\\$", ""), f"unescaped money in: {text}"
    for table in (
        post_launch.metrics_table(post_launch.metric_rows(review.result), "USD"),
        post_launch.guardrail_table(review),
        post_launch.segment_table(review),
        post_launch.sample_table(review),
    ):
        assert not table.empty


def test_each_metric_row_comes_from_one_test(reviews):
    result = reviews["strong_win"].result
    for row in post_launch.metric_rows(result):
        # the difference's interval is the relative one times control: the same test
        assert row["ci_low"] == pytest.approx(row["rel_ci_low"] * row["control"])
        assert row["abs_diff"] == pytest.approx(row["rel_lift"] * row["control"])
        assert row["treatment"] == pytest.approx(row["control"] + row["abs_diff"])
        # an interval that excludes zero goes with a (raw) p-value below alpha, and back
        excludes_zero = row["rel_ci_low"] > 0 or row["rel_ci_high"] < 0
        raw = next(
            m
            for m in [*result.metrics.values(), *(g.result for g in result.guardrails.values())]
            if m.name == row["name"]
        )
        assert excludes_zero == (raw.p_value < 0.05), row["name"]
    cuped = [r for r in post_launch.metric_rows(result) if r["cuped_adjusted"]]
    assert {r["name"] for r in cuped} == {"revenue_per_visitor", "orders_per_user"}
    shown = post_launch.metrics_table(post_launch.metric_rows(result), "USD")
    assert shown["Metric"].str.contains("CUPED-adjusted").sum() == 2


def test_money_at_stake_is_the_revenue_difference_times_the_visitors(reviews):
    review = reviews["strong_win"]
    money = post_launch.money_at_stake(review)
    rpv = review.result.metrics["revenue_per_visitor"]
    window_days = (review.evidence.window_end - review.units["assigned_at"].min().date()).days + 1
    visitors = round(2 * min(review.result.units.values()) / window_days * 365)
    assert money.yearly_visitors == visitors
    assert money.yearly[0] == pytest.approx(rpv.abs_diff * visitors)
    assert money.yearly[1] == pytest.approx(rpv.ci_low * rpv.control * visitors)
    assert "a year in revenue" in post_launch.money_sentence(review)


def test_the_dropped_is_new_cut_is_named(reviews):
    sentence = post_launch.segments_sentence(reviews["strong_win"])
    assert "Not tested: `is_new` (every visitor has the same value (False)" in sentence
