"""The churn page's tables, charts and sentences (churn_page): each wording choice, branch by
branch, on small hand-built inputs, and the page's evidence end to end on a simulated shop.

The decision rows (CH-1..CH-14) are tested in test_churn_decision.py; here the page only shows
their sentences and reads their outcomes.
"""

from __future__ import annotations

import ibis
import matplotlib
import numpy as np
import pandas as pd
import pytest
from test_churn import simulate_shop, stamp
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }} import actions, churn
from {{ cookiecutter.module_name }} import churn_page as page
from {{ cookiecutter.module_name }}.errors import UserError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)


def edge(low: float, high: float) -> churn.AucDifference:
    return churn.AucDifference(0.80, 0.79, (low + high) / 2, 0.002, low, high)


def check(brier: float = 0.15, constant: float = 0.25, gap: float = 0.01, before=None):
    return churn.CalibrationCheck(brier, constant, gap, before)


def split_of(horizon: int = 30) -> churn.TimeSplit:
    """A hand-built split: 4 customers at each cutoff, half of the graded ones churned."""
    ids = pd.Index(["a", "b", "c", "d"], name="customer_id")
    features = pd.DataFrame({"recency_days": [5.0, 40.0, 80.0, 200.0]}, index=ids)
    return churn.TimeSplit(
        train_cutoff=stamp("2024-01-01"),
        eval_cutoff=stamp("2024-01-31"),
        horizon_days=horizon,
        features_train=features,
        y_train=pd.Series([0, 1, 0, 1], index=ids),
        features_eval=features,
        y_eval=pd.Series([0, 0, 1, 1], index=ids),
    )


def grading(low: float, high: float, bgnbd_auc: float | None = 0.79) -> page.Grading:
    rules = {
        "recency_auc": 0.75,
        "bgnbd_auc": bgnbd_auc,
        "bgnbd_params": None,
        "bgnbd_note": "" if bgnbd_auc else "BG/NBD baseline skipped: too_few repeat buyers",
    }
    baseline = "bgnbd" if bgnbd_auc else "recency"
    scores = {"roc_auc": 0.8, "pr_auc": 0.7, "top_decile_lift": 1.8}
    return page.Grading(
        p_eval=pd.Series(dtype=float),
        scores=scores,
        rules=rules,
        baseline=baseline,
        edge=edge(low, high),
        ranking=churn.list_finding(edge(low, high), baseline),
    )


def today_of(
    *,
    flag_by: str = "value",
    likeliest_recency: float = 300.0,
    cheap_likeliest: bool = True,
) -> page.Today:
    """Ten customers: x0-x4 nearly sure to churn, x5-x9 valuable at moderate risk. With
    ``cheap_likeliest`` the likeliest are worth little, so the money sits with the others."""
    ids = pd.Index([f"x{i}" for i in range(10)], name="customer_id")
    p_now = pd.Series([0.9] * 5 + [0.3] * 5, index=ids)
    value = pd.Series([10.0] * 5 + [1_000.0] * 5, index=ids)
    if not cheap_likeliest:
        value[:] = 100.0
    current = pd.DataFrame(
        {
            "recency_days": [likeliest_recency] * 5 + [20.0] * 5,
            "frequency": [1.0] * 5 + [8.0] * 5,
            "bgnbd_x": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            "bgnbd_mean_repeat_spend": [np.nan, 20, 20, 30, 30, 40, 40, 50, 50, 60],
        },
        index=ids,
    )
    at_stake = (p_now * value).sort_values(ascending=False, kind="stable").index[:3]
    lists = {
        "value": churn.at_risk_list(p_now.loc[at_stake], value, threshold=0.0),
        "probability": churn.at_risk_list(p_now, value, top_n=3),
    }
    return page.Today(current, p_now, value, lists, flag_by, 30, "model")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon_days": -1}, "horizon_days must be a number of days >= 0"),
        ({"flag_by": "money"}, "flag_by must be one of value, probability; got 'money'"),
        ({"holdout_share": 1.0}, "holdout_share must be from 0 to below 1"),
    ],
)
def test_bad_parameters_are_refused_in_plain_words(kwargs, message):
    given = {"horizon_days": 0, "flag_by": "value", "holdout_share": 0.1, **kwargs}
    with pytest.raises(UserError, match=message):
        page.check_parameters(**given)


def test_good_parameters_pass():
    page.check_parameters(horizon_days=45, flag_by="probability", holdout_share=0.0)


def test_quietly_returns_the_readers_warnings_and_drops_deprecations():
    import warnings

    def call(x):
        warnings.warn("Session features are left out", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
        return x + 1

    assert page.quietly(call, 1) == (2, ["Session features are left out"])


def test_steady_rounds_features_to_six_decimals():
    split = page.steady_split(split_of())
    assert split.features_eval.equals(split_of().features_eval.round(6))


# ----------------------------------------------------------------------------- horizon


def test_share_within_the_horizon_counts_repeat_purchases():
    gaps = pd.DataFrame({"gap_days": [5, 20, 40], "repeat_purchases": [6, 2, 2]})
    assert page.share_within(gaps, 20) == pytest.approx(0.8)
    assert page.share_within(gaps, 1) == 0.0


@pytest.mark.parametrize(
    ("horizon", "set_by_parameter", "phrase"),
    [
        (35, False, "This report uses the suggested **35 days**."),
        (60, True, "set by the `horizon_days` parameter (the data suggests 35 days)"),
        (35, True, "set by `horizon_days` as the data suggests"),
    ],
)
def test_horizon_sentence_names_the_parameter_only_when_it_was_set(
    horizon, set_by_parameter, phrase
):
    text = page.horizon_sentence(
        "The suggestion.",
        horizon=horizon,
        suggested_days=35,
        set_by_parameter=set_by_parameter,
        max_recency_days=365,
    )
    assert text.startswith("The suggestion.\n\n") and phrase in text
    assert f"no order in the {horizon} days after the date the customer is scored" in text


@pytest.mark.parametrize(("max_recency", "cut"), [(365, True), (0, False)])
def test_horizon_sentence_mentions_the_recency_cut_only_when_it_is_on(max_recency, cut):
    text = page.horizon_sentence(
        "S.", horizon=35, suggested_days=35, set_by_parameter=False, max_recency_days=max_recency
    )
    assert ("silent for more than 365 days" in text) == cut
    assert ("max_recency_days" in text) == cut


# -------------------------------------------------------------------------- time split


def test_split_table_gives_both_cutoffs_their_window_and_churn_rate():
    table = page.split_table(split_of())
    assert table["cutoff"].tolist() == ["01 Jan 2024", "31 Jan 2024"]
    assert table["churn window"].tolist() == ["01 Jan to 31 Jan 2024", "31 Jan to 01 Mar 2024"]
    assert table["customers"].tolist() == [4, 4]
    assert table["churned"].tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    ("notes", "visits", "note"),
    [
        ([], False, False),
        (["Session features are left out: the table starts too late."], True, False),
        (["Only 12 customers had max_recency_days on."], False, True),
    ],
)
def test_split_sentence_explains_missing_visits_in_plain_words(notes, visits, note):
    text = page.split_sentence(split_of(), notes)
    assert text.startswith("In the latest fully observed window, **50% of 4 customers churned**")
    assert "no order in the 30 days after 31 Jan 2024" in text
    assert ("Website visits are not used" in text) == visits
    assert "Session features" not in text  # said in plain words, not the package's message
    assert ("Note: Only 12 customers had max\\_recency\\_days on." in text) == note


# ------------------------------------------------------------------ model against baselines


@pytest.mark.parametrize(
    ("low", "high", "rule", "scorer"),
    [
        (0.01, 0.03, "CH-1", "model"),
        (-0.004, 0.002, "CH-3", "bgnbd"),
        (-0.03, -0.01, "CH-2", "bgnbd"),
    ],
)
def test_ranking_points_show_the_decision_tables_sentence(low, high, rule, scorer):
    g = grading(low, high)
    assert g.ranking.rule == rule and g.scorer == scorer
    assert page.ranking_points(g) == f"- {g.ranking.sentence}"


def test_ranking_points_say_why_bgnbd_is_missing():
    text = page.ranking_points(grading(-0.01, 0.01, bgnbd_auc=None))
    assert "ranked by recency alone" in text
    assert "- BG/NBD baseline skipped: too\\_few repeat buyers" in text


def test_grading_records_keep_the_run_index_names_in_page_order():
    recorded = page.grading_records(grading(0.01, 0.03))
    assert list(recorded) == [
        "model_edge",
        "auc_roc",
        "auc_pr",
        "top_decile_lift",
        "baseline_auc_recency",
        "baseline_auc_bgnbd",
    ]  # "bgnbd" only with a fit
    assert recorded["model_edge"] == {"value": 0.02, "low": 0.01, "high": 0.03, "baseline": "bgnbd"}


def test_quality_table_adds_the_random_order_for_reference():
    split = split_of()
    ranked = split.features_eval["recency_days"].rank(pct=True)
    table = page.quality_table(split.y_eval, {"Recency alone": ranked})
    assert table["method"].tolist() == ["Recency alone", "Random order (for reference)"]
    assert table["ROC-AUC"].tolist() == [1.0, 0.5]
    assert table["PR-AUC"].iloc[1] == 0.5  # the churn rate
    assert table["top-decile lift"].iloc[1] == 1.0


# -------------------------------------------------------------------------- calibration


@pytest.mark.parametrize(("scorer", "lines"), [("model", 1), ("recency", 2), ("bgnbd", 2)])
def test_probability_points_add_the_baseline_only_when_it_ranks_the_list(scorer, lines):
    checks = {"model": check(), "recency": check(gap=0.08), "bgnbd": check()}
    text = page.probability_points(checks, scorer)
    assert len(text.splitlines()) == lines
    assert text.startswith("- The churn model's probabilities matched")
    assert ("Recency's probabilities were off by 8.0 points" in text) == (scorer == "recency")


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (check(), True),  # CH-7
        (check(brier=0.16, before=0.15), False),  # CH-4: calibration made it worse
        (check(brier=0.26), False),  # CH-5: no better than the average rate
        (check(gap=0.06), False),  # CH-6: off by more than 5 points
    ],
)
def test_face_value_follows_the_probability_rows(found, expected):
    assert page.face_value({"model": found}, "model") is expected


# ----------------------------------------------------------------------------- today


def test_today_adds_up_revenue_at_risk_and_records_it():
    today = today_of()
    assert today.expected_churners == pytest.approx(6.0)
    assert today.total_at_risk == pytest.approx(5 * 9.0 + 5 * 300.0)
    assert today.revenue_at_risk == pytest.approx(900.0)
    assert page.today_records(today) == {
        "predicted_churn_rate": pytest.approx(0.6),
        "revenue_at_risk": pytest.approx(900.0),
        "customers_flagged": 3,
    }


@pytest.mark.parametrize(("face", "expected"), [(True, "We expect about"), (False, "rough")])
def test_expected_churners_are_expected_only_when_the_probabilities_hold(face, expected):
    text = page.risk_points(today_of(), None, "no fit", currency="USD", face_value=face)
    first = text.splitlines()[0]
    assert expected in first and "**6 of today's 10 customers** (60%)" in first
    assert ("We expect" in first) == face


def test_money_is_escaped_for_markdown():
    text = page.risk_points(today_of(), None, "", currency="USD", face_value=True)
    assert "\\$900 at risk" in text and " $" not in text


@pytest.mark.parametrize(
    ("flag_by", "recency", "cheap", "gone", "sits", "why"),
    [
        ("value", 300.0, True, True, True, "which is why the list ranks by revenue at risk"),
        ("probability", 300.0, True, True, True, "set `flag_by` to value"),
        ("value", 10.0, True, False, True, "which is why"),
        ("value", 300.0, False, False, False, None),
    ],
)
def test_where_the_money_sits_is_said_only_when_the_likeliest_hold_little(
    flag_by, recency, cheap, gone, sits, why
):
    today = today_of(flag_by=flag_by, likeliest_recency=recency, cheap_likeliest=cheap)
    text = page.risk_points(today, None, "", currency="USD", face_value=True)
    assert ("The money at risk sits with valuable customers" in text) == sits
    assert ("mostly gone already" in text) == gone
    if sits and not gone:
        assert "days ago: they spend little" in text
    if why:
        assert why in text
    rule = page.FLAG_RULES[flag_by]
    assert f"The at-risk list holds the **3 customers with {rule}**" in text


def test_lifetime_value_line_and_the_gamma_gamma_caveat():
    today = today_of()
    clv = pd.Series(np.arange(10.0) * 100, index=today.p_now.index)
    text = page.risk_points(today, clv, "", currency="USD", face_value=True)
    assert "Over the next 12 months the flagged customers are expected to spend" in text
    assert "Caveat: Gamma-Gamma" in text  # orders and spend per order rise together here
    flat = today.current.assign(bgnbd_mean_repeat_spend=[np.nan, 50, 10, 40, 20, 30, 60, 5, 45, 25])
    unlinked = page.Today(
        flat, *(getattr(today, f) for f in ("p_now", "value_now", "lists")), "value", 30, "model"
    )
    assert "Caveat" not in page.risk_points(unlinked, clv, "", currency="USD", face_value=True)


def test_lifetime_value_that_cannot_be_estimated_says_why(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise ValueError("too few repeat buyers for Gamma-Gamma")

    monkeypatch.setattr(churn, "value_over_horizon", refuse)
    clv, note = page.lifetime_value(today_of())
    assert clv is None
    text = page.risk_points(today_of(), clv, note, currency="USD", face_value=True)
    assert "The 12-month value could not be estimated: too few repeat buyers" in text


def test_value_table_compares_both_lists_with_everyone():
    today = today_of()
    table = page.value_table(today, None)
    assert table["customers flagged"].tolist() == [
        "3 with the most revenue at risk",
        "3 most likely to churn",
        "All current customers",
    ]
    assert table["revenue at risk"].iloc[0] == pytest.approx(900.0)
    assert table["% of all revenue at risk"].iloc[2] == pytest.approx(1.0)
    assert page.money_columns(table) == ["value if they stay (30 days)", "revenue at risk"]


# ---------------------------------------------------------------------------- drivers


def test_drivers_in_plain_words_or_none_stands_out():
    why = pd.DataFrame(
        {
            "feature": ["recency_days", "refund_rate"],
            "importance": [0.1, 0.02],
            "importance_std": [0.01, 0.005],
            "direction": [1, 1],
            "sentence": ["Customers who wait are more likely to churn.", "Refunds matter."],
        }
    )
    assert page.driver_points(why).splitlines() == [
        "1. Customers who wait are more likely to churn.",
        "2. Refunds matter.",
    ]
    assert (
        page.strongest_signal(why)
        == "Strongest signal: customers who wait are more likely to churn."
    )
    assert page.driver_records(why) == [
        {"feature": "recency_days", "importance": 0.1},
        {"feature": "refund_rate", "importance": 0.02},
    ]
    assert page.strongest_signal(why.head(0)) == "No single signal stands out."
    assert page.driver_points(why.head(0)).startswith("No single signal stands out")


# ----------------------------------------------------------------------------- export


def exported_list(size: int = 20, share: float = 0.1) -> pd.DataFrame:
    ids = pd.Index([f"c{i:02d}" for i in range(size)])
    flagged = churn.at_risk_list(
        pd.Series(np.linspace(0.9, 0.5, size), index=ids),
        pd.Series(100.0, index=ids),
        top_n=size,
    )
    return churn.at_risk_export(
        flagged, holdout_share=share, seed=1, listed_on="2024-06-01", scored_by="bgnbd"
    )


@pytest.mark.parametrize(("staged", "phrase"), [(True, "Only a full run"), (False, "Saved")])
def test_export_sentence_points_to_the_one_crm_plan(tmp_path, staged, phrase):
    target = tmp_path / "data" / "exports" / "churn_at_risk.csv"
    written = tmp_path / "data" / ".staging-x" / "exports" / target.name if staged else target
    text = page.export_sentence(exported_list(), written, target)
    assert phrase in text and "**20 customers**" in text and "2 of them are marked" in text
    assert "`data/exports/churn_at_risk.csv`" in text  # a code span, shown as written
    assert "`data/exports/customer_actions.csv`" in text
    assert "exactly one recommended action" in text
    assert "not the at-risk list alone" in text
    assert str(tmp_path) not in text  # never a server path


def test_export_sentence_without_a_holdout_promises_no_holdout(tmp_path):
    target = tmp_path / "churn_at_risk.csv"
    text = page.export_sentence(exported_list(share=0.0), target, target)
    assert "none of them is held out (`holdout_share` is 0)" in text
    assert "a retention action for every listed customer (rules CA-2 and CA-3" in text
    assert "no contact for the holdout" not in text


def test_the_crm_plan_gives_the_list_what_the_page_says():
    """The sentence's claim, in the code path: every listed customer once, the holdout no
    contact (CA-1), the others a retention action (CA-2 or CA-3)."""
    listed = exported_list(40)
    plan = actions.customer_actions(None, listed)
    assert len(plan) == plan["customer_id"].nunique() == 40
    held = plan["holdout"]
    assert set(plan.loc[held, "rule"]) == {"CA-1"}
    assert set(plan.loc[~held, "rule"]) <= {"CA-2", "CA-3"}
    assert set(plan.loc[~held, "action"]) <= {actions.RETAIN_PERSONAL, actions.RETAIN_REMINDER}


# ----------------------------------------------------------------------------- summary


@pytest.mark.parametrize(("face", "phrase"), [(True, "we expect 6 of"), (False, "roughly 6 of")])
def test_executive_points_follow_the_same_wording(face, phrase):
    why = pd.DataFrame({"sentence": ["Customers who wait are more likely to churn."]})
    g = grading(-0.004, 0.002)
    points = page.executive_points(
        churn_rate=0.52,
        today=today_of(),
        face_value=face,
        ranking=g.ranking,
        why=why,
        readout=churn.readout_finding(churn.HoldoutReadout("none")),
        currency="USD",
    )
    assert points[0].startswith("52% of customers churned in the last complete 30-day window; ")
    assert phrase in points[0]
    assert points[1] == g.ranking.sentence
    assert points[2].startswith("The 3 customers with the most revenue at risk put \\$900")
    assert points[3] == "Strongest signal: customers who wait are more likely to churn."
    assert points[4].startswith("There is no earlier at-risk list")


def test_summary_title_and_decision_line():
    assert page.summary_title(pd.Timestamp("2026-06-29").date(), 35) == (
        "Churn risk as of 29 Jun 2026 (35-day horizon)"
    )
    decision = churn.decide(
        churn.ChurnEvidence(
            edge=edge(-0.004, 0.002),
            baseline="bgnbd",
            calibration={"model": check(), "bgnbd": check()},
            readout=churn.HoldoutReadout("none"),
            list_size=1000,
            held_out=100,
        )
    )
    line = page.summary_decision(decision)
    assert line.startswith("Rank the at-risk list by BG/NBD. A full run of the reports joins")


# ------------------------------------------------------------------ end to end, simulated


@pytest.fixture(scope="module")
def simulated():
    """The page's evidence on a small simulated shop, as the notebook computes it."""
    with threadpool_limits(limits=1):
        orders, _sessions = simulate_shop(1_200, seed=2)
        table = ibis.memtable(orders)
        as_of = stamp("2023-01-01") + pd.Timedelta(days=720)
        split = page.steady_split(
            churn.time_split(table, as_of=as_of, horizon_days=60, max_recency_days=365)
        )
        fitted = churn.train_model(split.X_train, split.y_train, random_state=0)
        g = page.grade(fitted, split)
        cal = page.check_calibration(fitted, split, g, method="isotonic")
        today = page.score_today(
            table,
            sessions=None,
            split=split,
            fitted=fitted,
            scorer=g.scorer,
            min_history_days=0,
            max_recency_days=365,
            at_risk_size=100,
            flag_by="value",
        )
    return {"split": split, "fitted": fitted, "grading": g, "calibration": cal, "today": today}


def test_grading_compares_the_model_with_the_better_baseline(simulated):
    g, split = simulated["grading"], simulated["split"]
    assert g.baseline == churn.best_baseline(g.rules)
    assert g.edge.auc_a == pytest.approx(g.scores["roc_auc"])
    assert g.scorer in {"model", g.baseline}
    assert set(page.candidates(g, split, "logistic")) >= {
        "Churn model (logistic regression)",
        "Recency alone",
    }


def test_calibration_checks_the_model_before_and_after_and_each_baseline(simulated):
    cal = simulated["calibration"]
    assert cal.checks["model"].brier_before == pytest.approx(cal.raw_scores["brier"])
    assert cal.checks["model"].brier == pytest.approx(cal.scores["brier"])
    assert "recency" in cal.checks
    uncalibrated = churn.train_model(
        simulated["split"].X_train, simulated["split"].y_train, calibration="none"
    )
    assert churn.predict_uncalibrated(uncalibrated, simulated["split"].features_eval) is None


def test_today_scores_the_customers_the_list_is_drawn_from(simulated):
    today = simulated["today"]
    assert len(today.flagged) == 100
    assert today.p_now.between(0, 1).all()
    assert today.flagged["value_at_risk"].is_monotonic_decreasing
    # the value list holds the most revenue at risk there is among 100 customers
    assert today.revenue_at_risk == pytest.approx(
        today.risk_now.sort_values(ascending=False).head(100).sum()
    )


def test_every_chart_draws(simulated):
    split, g, today = simulated["split"], simulated["grading"], simulated["today"]
    gaps = pd.DataFrame({"gap_days": [5, 20, 40], "repeat_purchases": [6, 2, 2]})
    why = pd.DataFrame(
        {
            "feature": ["recency_days"],
            "importance": [0.1],
            "importance_std": [0.01],
            "direction": [1],
        }
    )
    figures = [
        page.horizon_chart(gaps, 20),
        page.timeline_chart(split),
        page.ranking_chart(split.y_eval, page.candidates(g, split, "hist_gradient_boosting")),
        page.calibration_chart(simulated["calibration"]),
        page.risk_band_chart(today, "EUR"),
        page.drivers_chart(why),
    ]
    assert all(isinstance(f, plt.Figure) and f.axes for f in figures)
    plt.close("all")
