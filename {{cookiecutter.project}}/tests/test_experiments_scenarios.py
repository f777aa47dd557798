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
