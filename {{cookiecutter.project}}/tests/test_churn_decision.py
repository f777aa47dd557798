"""The churn decision: every row of its table in docs/decisions.md, and the statistics it reads.

Independent references: DeLong's structural components worked out pair by pair (O(n x m)) and a
paired bootstrap over customers (scipy); Newcombe's (1998) published interval for 56/70 vs
48/80; a holdout readout whose return rates are counted by hand; calibration gaps by hand.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from {{ cookiecutter.module_name }} import churn

ROOT = Path(__file__).resolve().parents[1]
DECISIONS_DOC = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------- AUC difference


def correlated_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    signal = y + rng.normal(0, 1.0, n)
    a = signal + rng.normal(0, 0.5, n)
    b = np.round(signal + rng.normal(0, 0.8, n), 1)  # ties, as recency in days has
    return y, a, b


def delong_by_hand(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """AUC difference and its DeLong variance from the pairwise kernel (slow, by definition)."""

    def components(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    auc_a, v10_a, v01_a = components(a)
    auc_b, v10_b, v01_b = components(b)
    d10, d01 = v10_a - v10_b, v01_a - v01_b
    variance = d10.var(ddof=1) / d10.size + d01.var(ddof=1) / d01.size
    return auc_a - auc_b, variance


def test_auc_difference_matches_delong_worked_out_pair_by_pair():
    y, a, b = correlated_scores(400, seed=3)
    result = churn.auc_difference(y, a, b)
    difference, variance = delong_by_hand(y, a, b)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a), rel=1e-12)
    assert result.auc_b == pytest.approx(roc_auc_score(y, b), rel=1e-12)
    assert result.difference == pytest.approx(difference, rel=1e-12)
    assert result.se == pytest.approx(math.sqrt(variance), rel=1e-10)
    z = stats.norm.ppf(0.975)
    assert result.low == pytest.approx(difference - z * math.sqrt(variance), rel=1e-10)
    assert result.high == pytest.approx(difference + z * math.sqrt(variance), rel=1e-10)


def test_auc_difference_interval_agrees_with_a_paired_bootstrap_over_customers():
    y, a, b = correlated_scores(3_000, seed=5)
    result = churn.auc_difference(y, a, b)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(400):
        i = rng.integers(0, y.size, y.size)  # the same customers for both scores: paired
        draws.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    low, high = np.quantile(draws, [0.025, 0.975])
    assert np.std(draws, ddof=1) == pytest.approx(result.se, rel=0.15)
    assert low == pytest.approx(result.low, abs=0.35 * result.se)
    assert high == pytest.approx(result.high, abs=0.35 * result.se)


def test_identical_scores_have_no_difference_and_bad_input_is_refused():
    y, a, _ = correlated_scores(200, seed=1)
    same = churn.auc_difference(y, a, a)
    assert same.difference == 0 and same.se == 0 and same.low == same.high == 0
    with pytest.raises(ValueError, match="one finite value per customer"):
        churn.auc_difference(y, a, a[:-1])
    with pytest.raises(ValueError, match="confidence"):
        churn.auc_difference(y, a, a, confidence=1.5)


def test_best_baseline_is_the_one_with_the_higher_auc():
    assert churn.best_baseline({"recency_auc": 0.8, "bgnbd_auc": 0.85}) == "bgnbd"
    assert churn.best_baseline({"recency_auc": 0.8, "bgnbd_auc": 0.75}) == "recency"
    assert churn.best_baseline({"recency_auc": 0.8, "bgnbd_auc": None}) == "recency"


# ---------------------------------------------------------------------------- calibration


def test_calibration_check_by_hand():
    # 20 customers, predicted 0.1 (first 10) and 0.6 (last 10); observed 1 of 10 and 9 of 10.
    p = np.r_[np.full(10, 0.1), np.full(10, 0.6)]
    y = np.r_[np.zeros(9), 1, np.zeros(1), np.ones(9)]
    check = churn.calibration_check(y, p, p_before=np.full(20, 0.5))
    assert check.brier == pytest.approx(np.mean((p - y) ** 2))
    assert check.brier_before == pytest.approx(0.25)
    assert check.brier_constant == pytest.approx(0.5 * 0.5)
    # 10 groups of 2: the first five hold observed 0,0,0,0,(0 and 1): gap |0.1 - mean|
    groups = np.arange(20) // 2
    observed = pd.Series(y).groupby(groups).mean()
    predicted = pd.Series(p).groupby(groups).mean()
    assert check.mean_gap == pytest.approx((observed - predicted).abs().mean())


# -------------------------------------------------------------------------------- holdout


def test_holdout_is_seeded_exact_and_independent_of_list_order():
    ids = [f"c{i:04d}" for i in range(1_000)]
    held = churn.assign_holdout(ids, share=0.1, seed=42)
    assert held.sum() == 100 and list(held.index) == ids
    shuffled = churn.assign_holdout(ids[::-1], share=0.1, seed=42)
    assert shuffled.reindex(ids).equals(held)
    assert not churn.assign_holdout(ids, share=0.1, seed=43).equals(held)
    assert churn.assign_holdout(ids[:3], share=0.1, seed=0).sum() == 1  # at least one
    assert churn.assign_holdout(ids, share=0.0, seed=0).sum() == 0
    with pytest.raises(ValueError, match="holdout_share"):
        churn.assign_holdout(ids, share=1.0, seed=0)


def test_export_carries_rank_holdout_and_nothing_a_crm_does_not_need(tmp_path):
    flagged = pd.DataFrame(
        {
            "customer_id": ["b", "a", "c"],
            "churn_probability": [0.5, 0.9, 0.2],
            "expected_value": [100.0, 10.0, 50.0],
            "value_at_risk": [50.0, 9.0, 10.0],
        }
    )
    listed = churn.at_risk_export(
        flagged, holdout_share=0.34, seed=1, listed_on="2026-06-29", scored_by="bgnbd"
    )
    assert list(listed.columns) == list(churn.EXPORT_COLUMNS)
    assert listed["rank"].tolist() == [1, 2, 3]
    assert listed["holdout"].sum() == 1
    assert set(listed["listed_on"]) == {"2026-06-29"} and set(listed["scored_by"]) == {"bgnbd"}
    written = churn.export_at_risk(listed, tmp_path / "exports" / "churn_at_risk.csv")
    back = churn.load_export(written)
    assert list(back.columns) == list(churn.EXPORT_COLUMNS)
    assert back["holdout"].dtype == bool and back["customer_id"].tolist() == ["b", "a", "c"]
    assert churn.load_export(tmp_path / "missing.csv") is None


# -------------------------------------------------------------------------------- readout


def readout_case(contacted: tuple[int, int], held: tuple[int, int], seed: int = 0):
    """A previous list with (returned, total) contacted and held-out customers, and orders:
    returners order two days after the list's day, everyone once before it."""
    rng = np.random.default_rng(seed)
    rows = []
    for holdout, (back, total) in ((False, contacted), (True, held)):
        flags = np.zeros(total, bool)
        flags[rng.choice(total, back, replace=False)] = True
        rows += [(f"{'h' if holdout else 'c'}{i}", holdout, f) for i, f in enumerate(flags)]
    listed = pd.DataFrame(rows, columns=["customer_id", "holdout", "returned"])
    listed["listed_on"] = "2026-05-01"
    before = pd.DataFrame(
        {"customer_id": listed["customer_id"], "ordered_at": pd.Timestamp("2026-04-01", tz="UTC")}
    )
    after = pd.DataFrame(
        {
            "customer_id": listed.loc[listed["returned"], "customer_id"],
            "ordered_at": pd.Timestamp("2026-05-03", tz="UTC"),
        }
    )
    # an order on the list's own day does not count as coming back
    same_day = pd.DataFrame(
        {"customer_id": ["c0", "h0"], "ordered_at": pd.Timestamp("2026-05-01 12:00", tz="UTC")}
    )
    orders = pd.concat([before, after, same_day], ignore_index=True)
    orders["revenue"] = 10.0
    return listed.drop(columns="returned"), ibis.memtable(orders)


def test_readout_counts_returns_and_matches_newcombes_published_interval():
    listed, orders = readout_case(contacted=(56, 70), held=(48, 80))
    end = pd.Timestamp("2026-06-01", tz="UTC")
    r = churn.holdout_readout(listed, orders, end=end)
    assert (r.contacted, r.contacted_returned, r.held_out, r.held_out_returned) == (70, 56, 80, 48)
    assert r.difference == pytest.approx(56 / 70 - 48 / 80)
    # Newcombe (1998), Statistics in Medicine 17:873, method 10: 0.0524 to 0.3339
    assert r.low == pytest.approx(0.0524, abs=5e-5)
    assert r.high == pytest.approx(0.3339, abs=5e-5)
    assert r.listed_on == "2026-05-01" and r.days == 30
    assert churn.readout_finding(r).rule == "CH-12"


def test_readout_states_without_a_usable_list():
    listed, orders = readout_case(contacted=(5, 10), held=(1, 2))
    end = pd.Timestamp("2026-06-01", tz="UTC")
    assert churn.holdout_readout(None, orders, end=end).status == "none"
    old = listed.drop(columns="holdout")
    r = churn.holdout_readout(old, orders, end=end)
    assert r.status == "unusable" and "holdout" in r.note
    early = churn.holdout_readout(listed, orders, end=pd.Timestamp("2026-05-02", tz="UTC"))
    assert early.status == "too_early"
    assert churn.holdout_readout(listed, orders, end=end).status == "measured"


# ------------------------------------------------------------------- the decision table


def edge(low: float, high: float) -> churn.AucDifference:
    mid = (low + high) / 2
    return churn.AucDifference(0.80 + mid, 0.80, mid, (high - low) / 3.92, low, high)


GOOD = churn.CalibrationCheck(brier=0.15, brier_constant=0.25, mean_gap=0.02, brier_before=0.16)
MEASURED = dict(listed_on="2026-05-01", days=30, contacted=900, held_out=100)


def evidence(
    *,
    low: float = 0.01,
    high: float = 0.03,
    baseline: str = "bgnbd",
    check: churn.CalibrationCheck = GOOD,
    readout: churn.HoldoutReadout | None = None,
    list_size: int = 1000,
    held_out: int = 100,
) -> churn.ChurnEvidence:
    return churn.ChurnEvidence(
        edge=edge(low, high),
        baseline=baseline,
        calibration={"model": check, "recency": check, "bgnbd": check},
        readout=readout or churn.HoldoutReadout("none"),
        list_size=list_size,
        held_out=held_out,
    )


@pytest.mark.parametrize(
    ("low", "high", "baseline", "rule", "verdict", "label", "phrase"),
    [
        (0.01, 0.03, "bgnbd", "CH-1", "model_list", "by the churn model", "ranked by the model"),
        (-0.03, -0.01, "recency", "CH-2", "baseline_list", "recency alone", "worse than"),
        (-0.004, 0.001, "bgnbd", "CH-3", "baseline_list", "BG/NBD", "no clear edge"),
        (0.0, 0.02, "recency", "CH-3", "baseline_list", "recency alone", "no clear edge"),
    ],
)
def test_which_list_is_sent(low, high, baseline, rule, verdict, label, phrase):
    decision = churn.decide(evidence(low=low, high=high, baseline=baseline))
    assert decision.rule.split(", ")[0] == rule
    assert decision.verdict == verdict
    assert label in decision.label
    assert phrase in decision.reason
    if verdict == "baseline_list":
        assert f"ranked by {churn.BASELINE_NAMES[baseline]}" in decision.reason
    assert f"{edge(low, high).difference:+.3f}" in decision.reason.replace("\\", "")


@pytest.mark.parametrize(
    ("check", "rule", "phrase"),
    [
        (churn.CalibrationCheck(0.17, 0.25, 0.02, brier_before=0.16), "CH-4", "made"),
        (churn.CalibrationCheck(0.26, 0.25, 0.02), "CH-5", "no closer"),
        (churn.CalibrationCheck(0.18, 0.25, 0.08), "CH-6", "off by 8.0 points"),
        (churn.CalibrationCheck(0.15, 0.25, 0.02, brier_before=0.16), "CH-7", "face value"),
        (churn.CalibrationCheck(0.15, 0.25, 0.05), "CH-7", "face value"),
    ],
)
def test_whether_probabilities_may_be_read_at_face_value(check, rule, phrase):
    decision = churn.decide(evidence(check=check))
    assert decision.rule.split(", ")[1] == rule
    assert phrase in decision.reason
    assert ("face value" in decision.reason) == (rule == "CH-7")


def test_face_value_is_judged_for_the_ranking_the_list_follows():
    bad = churn.CalibrationCheck(0.17, 0.25, 0.02, brier_before=0.16)
    found = churn.ChurnEvidence(
        edge=edge(-0.01, 0.01),
        baseline="recency",
        calibration={"model": bad, "recency": GOOD},
        readout=churn.HoldoutReadout("none"),
        list_size=10,
        held_out=1,
    )
    decision = churn.decide(found)
    assert decision.rule == "CH-3, CH-7, CH-8" and "Recency's probabilities" in decision.reason


@pytest.mark.parametrize(
    ("readout", "rule", "phrase"),
    [
        (churn.HoldoutReadout("none"), "CH-8", "no earlier at-risk list"),
        (churn.HoldoutReadout("unusable", note="it has no holdout column"), "CH-9", "no holdout"),
        (churn.HoldoutReadout("too_early", listed_on="2026-06-29"), "CH-10", "could have come"),
        (
            churn.HoldoutReadout("measured", listed_on="2026-05-01", contacted=900, held_out=10),
            "CH-11",
            "at least 20",
        ),
        (
            churn.HoldoutReadout(
                "measured",
                **MEASURED,
                contacted_returned=360,
                held_out_returned=20,
                difference=0.2,
                low=0.1,
                high=0.28,
            ),
            "CH-12",
            "brought customers back",
        ),
        (
            churn.HoldoutReadout(
                "measured",
                **MEASURED,
                contacted_returned=90,
                held_out_returned=30,
                difference=-0.2,
                low=-0.29,
                high=-0.11,
            ),
            "CH-13",
            "put people off",
        ),
        (
            churn.HoldoutReadout(
                "measured",
                **MEASURED,
                contacted_returned=270,
                held_out_returned=28,
                difference=0.02,
                low=-0.07,
                high=0.1,
            ),
            "CH-14",
            "cannot be told apart",
        ),
    ],
)
def test_what_the_previous_lists_holdout_says(readout, rule, phrase):
    decision = churn.decide(evidence(readout=readout))
    assert decision.rule.split(", ")[2] == rule
    assert phrase in decision.reason
    assert ("Review what the last campaign sent" in decision.next_step) == (rule == "CH-13")


def test_measured_readout_sentence_gives_both_rates_and_the_interval():
    r = churn.HoldoutReadout(
        "measured",
        **MEASURED,
        contacted_returned=360,
        held_out_returned=20,
        difference=0.2,
        low=0.1,
        high=0.28,
    )
    text = churn.readout_finding(r).sentence.replace("\\", "")
    assert "40.0% of 900 contacted" in text and "20.0% of 100 held out" in text
    assert "+20.0 points (95% interval +10.0 to +28.0)" in text and "30 days" in text


@pytest.mark.parametrize(
    ("size", "held", "phrase"),
    [
        (1000, 100, "the 900 customers"),
        (1000, 0, "No holdout is kept"),
        (0, 0, "Nobody is on the at-risk list"),
    ],
)
def test_next_step_sends_the_contacted_and_keeps_the_holdout(size, held, phrase):
    decision = churn.decide(evidence(list_size=size, held_out=held))
    assert phrase in decision.next_step
    assert "$" not in decision.reason + decision.next_step  # nothing MathJax would eat


@pytest.mark.parametrize(("size", "held"), [(1000, 100), (1000, 0), (0, 0)])
def test_next_step_points_to_the_one_crm_plan_not_the_list_alone(size, held):
    step = churn.decide(evidence(list_size=size, held_out=held)).next_step
    assert "data/exports/customer\\_actions.csv" in step
    if size:
        assert "exactly one recommended action" in step and "not the at-risk list alone" in step
        assert "A full run of the reports joins the 1,000 customers" in step
        assert ("get no contact (rule CA-1)" in step) == bool(held)
    assert "win-back campaign" not in step


def test_every_rule_is_in_the_decision_table_and_the_doc_names_the_export_columns():
    section = DECISIONS_DOC.split("## Churn prediction", 1)[1].split("\n## ", 1)[0]
    rules = set(re.findall(r"^\| (CH-\d+) \|", section, re.MULTILINE))
    assert rules == {f"CH-{i}" for i in range(1, 15)}
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert documented == set(churn.EXPORT_COLUMNS)


def test_decision_is_a_pure_function_of_the_evidence():
    found = evidence(low=-0.004, high=0.001)
    assert churn.decide(found) == churn.decide(found)
    assert churn.decide(found).report == "churn"
