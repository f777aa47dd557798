"""The post-launch decision tables (docs/decisions.md, "Post-launch review"), row by row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import review_decision as rd

DOCS = Path(__file__).resolve().parents[1] / "docs" / "decisions.md"
CLEARED = rd.GuardrailEvidence("refund rate", 0.0, -0.04, 0.05, 0.10)
OPEN = rd.GuardrailEvidence("refund rate", 0.08, -0.25, 0.40, 0.10, units_to_settle=60_000)
BREACHED = rd.GuardrailEvidence("refund rate", 0.40, 0.15, 0.65, 0.10)
WIN = {"rel_lift": 0.08, "rel_low": 0.03, "rel_high": 0.13, "p_value": 0.002}

BASE = rd.ExperimentEvidence(
    experiment_id="checkout_redesign",
    as_of=dt.date(2026, 6, 30),
    enrolled=True,
    srm_p=0.6,
    primary_label="conversion rate",
    minimum_effect=0.05,
    units_per_arm=10_000,
    planned_per_arm=8_000,
    enrolment_per_day=500.0,
    enrolment_per_open_day=500.0,
    last_enrolment=dt.date(2026, 6, 30),
    window_end=dt.date(2026, 6, 30),
    guardrails=(CLEARED,),
    **WIN,
)


def evidence(**changes) -> rd.ExperimentEvidence:
    return dataclasses.replace(BASE, **changes)


CASES = {
    "PLR-1": (evidence(enrolled=False, first_enrolment_after=dt.date(2026, 7, 3)), "not_started"),
    "PLR-2": (evidence(srm_p=1e-6, srm_flagged=True), "cannot_trust"),
    "PLR-3": (evidence(guardrails=(BREACHED,)), "roll_back"),
    "PLR-4": (evidence(rel_lift=-0.07, rel_low=-0.11, rel_high=-0.03, p_value=0.001), "roll_back"),
    "PLR-5": (evidence(units_per_arm=2_000), "keep_running"),
    "PLR-6": (
        evidence(
            units_per_arm=2_000, last_enrolment=dt.date(2026, 6, 8), enrolment_per_open_day=250.0
        ),
        "keep_running",
    ),
    "PLR-7": (evidence(guardrails=(OPEN,)), "keep_running"),
    "PLR-8": (evidence(), "ship"),
    "PLR-9": (evidence(rel_lift=0.02, rel_low=0.005, rel_high=0.035, p_value=0.01), "iterate"),
    "PLR-10": (evidence(rel_lift=0.01, rel_low=-0.02, rel_high=0.04, p_value=0.5), "iterate"),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_each_row_of_the_experiment_table(rule):
    given, verdict = CASES[rule]
    decision = rd.decide_experiment(given)
    assert (decision.rule, decision.verdict) == (rule, verdict)
    assert decision.label == rd.LABELS[verdict]
    for text in (decision.reason, decision.next_step):
        assert text.endswith(".") and "\n" not in text and "nan" not in text


def test_every_rule_in_the_code_is_a_row_of_the_written_table():
    written = set(re.findall(r"^\| (PLR-\d+|PP-\d+) \|", DOCS.read_text(encoding="utf-8"), re.M))
    assert written == set(CASES) | set(PP_CASES)


def test_rows_are_tried_in_order():
    # a broken split wins over a breached guardrail, which wins over a short sample
    worst = evidence(srm_flagged=True, srm_p=1e-5, guardrails=(BREACHED,), units_per_arm=10)
    assert rd.decide_experiment(worst).rule == "PLR-2"
    assert rd.decide_experiment(evidence(guardrails=(BREACHED,), units_per_arm=10)).rule == "PLR-3"
    # harm stops the test below plan; a win does not ship below plan
    loss = {"rel_lift": -0.07, "rel_low": -0.11, "rel_high": -0.03}
    assert rd.decide_experiment(evidence(units_per_arm=10, **loss)).rule == "PLR-4"
    assert rd.decide_experiment(evidence(units_per_arm=7_999)).verdict == "keep_running"
    # an open guardrail only blocks a ship: with no clear effect the test is over
    flat = {"rel_lift": 0.0, "rel_low": -0.03, "rel_high": 0.03, "p_value": 0.9}
    assert rd.decide_experiment(evidence(guardrails=(OPEN,), **flat)).rule == "PLR-10"


def test_keep_running_says_how_many_days_are_left():
    decision = rd.decide_experiment(evidence(units_per_arm=2_000))  # 6,000 short at 500 a day
    assert "6,000 per arm take about 12 more days" in decision.next_step
    assert "2,000 visitors per arm are in, 25% of the 8,000 planned" in decision.reason
    stopped = rd.decide_experiment(CASES["PLR-6"][0])  # 6,000 at 250 a day while it was open
    assert "since 08 Jun 2026" in stopped.next_step and "about 24 more days" in stopped.next_step
    derived = rd.decide_experiment(evidence(units_per_arm=2_000, plan_is_pre_registered=False))
    assert "needed to detect the +5.0% worth shipping with 80% power" in derived.reason


def test_an_open_guardrail_names_its_interval_and_the_sample_that_settles_it():
    decision = rd.decide_experiment(evidence(guardrails=(OPEN,)))
    assert "refund rate +8.0% (95% interval -25.0% to +40.0%, limit +10.0%)" in decision.reason
    assert "60,000 visitors per arm" in decision.next_step
    assert "100 more days" in decision.next_step  # (60,000 - 10,000) / 500


def test_guardrail_status_by_non_inferiority():
    assert [g.status for g in (CLEARED, OPEN, BREACHED)] == ["cleared", "not_ruled_out", "breached"]
    unknown = rd.GuardrailEvidence(
        "refund rate", math.nan, math.nan, math.nan, 0.1, estimable=False
    )
    assert unknown.status == "not_ruled_out"
    assert rd.decide_experiment(evidence(guardrails=(unknown,))).rule == "PLR-7"


def test_units_to_settle_halves_the_interval_at_four_times_the_sample():
    # half-width 0.2 at n, estimate 0.1 from the limit: the width must halve -> 4n
    assert rd.units_to_settle(1_000, 0.0, -0.2, 0.2, 0.1) == 4_000
    assert rd.units_to_settle(1_000, 0.0, -0.02, 0.02, 0.1) == 1_000  # already settled


def test_not_applicable_names_the_experiment_and_its_start():
    decision = rd.decide_experiment(CASES["PLR-1"][0])
    assert "checkout\\_redesign" in decision.reason  # Markdown-escaped
    assert "03 Jul 2026" in decision.reason


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.9974254, "99.7%"),
        (0.99995, ">99.9%"),
        (0.00001, "<0.1%"),
        (0.60918, "60.9%"),
        (0.5, "50.0%"),
    ],
)
def test_probabilities_keep_the_precision_they_have(p, shown):
    assert rd.format_probability(p) == shown


PP_BASE = rd.PrePostEvidence(
    metric_label="daily revenue",
    treated="app",
    comparison="web",
    launch=dt.date(2026, 6, 2),
    rel_effect=0.10,
    rel_low=0.04,
    rel_high=0.16,
    p_value=0.002,
    pre_trend_p=0.4,
    minimum_effect=0.05,
)
PP_CASES = {
    "PP-1": (dataclasses.replace(PP_BASE, pre_trend_p=0.01), "cannot_trust"),
    "PP-2": (
        dataclasses.replace(PP_BASE, rel_effect=-0.1, rel_low=-0.16, rel_high=-0.04),
        "roll_back",
    ),
    "PP-3": (PP_BASE, "ship"),
    "PP-4": (dataclasses.replace(PP_BASE, rel_effect=0.03, rel_low=0.01, rel_high=0.05), "iterate"),
    "PP-5": (
        dataclasses.replace(PP_BASE, rel_effect=0.03, rel_low=-0.02, rel_high=0.08),
        "iterate",
    ),
}


@pytest.mark.parametrize("rule", list(PP_CASES))
def test_each_row_of_the_before_after_table(rule):
    given, verdict = PP_CASES[rule]
    decision = rd.decide_pre_post(given)
    assert (decision.rule, decision.verdict) == (rule, verdict)
    assert "weaker than an experiment" in decision.label
    assert decision.reason.endswith(".") and decision.next_step.endswith(".")
