"""Post-launch review statistics, each checked against an independent value.

Independent values used: GrowthBook gbstats' published test vectors, scipy's Welch t-test on raw
data, statsmodels' Wald interval for two proportions and its power module, a Beta-posterior
integral, hand computations (Holm / BH, the 2x2 difference-in-differences, the RPV product) and
analytically known truths planted in simulations (ρ² variance reduction, coverage, error rates).
"""

import math
import types
from dataclasses import replace

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }} import experiments as ex

REL = 1e-4  # methods.md: vectors match to 1e-4 relative

WELCH = (1396.87, 52377.9767, 3407, 2422.7, 134698.29, 3461)
CUPED_CONTROL = ex.CupedSums(n=3001, y_sum=300, y_sum_sq=600, x_sum=210, x_sum_sq=415, xy_sum=-20)
CUPED_TREATMENT = ex.CupedSums(n=3000, y_sum=222, y_sum_sq=555, x_sum=120, x_sum_sq=405, xy_sum=-10)


# ------------------------------------------------------------------ published vectors (gbstats)


def _get(obj, path):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(
    ("compute", "expected", "rel"),
    [
        pytest.param(
            lambda: ex.mean_test(*WELCH, relative=True),
            {
                "rel_lift": 0.70732,
                "se": 0.37879,
                "ci_low": -0.03526,
                "ci_high": 1.44989,
                "p_value": 0.06191,
            },
            REL,
            id="welch-relative",
        ),
        pytest.param(
            lambda: ex.mean_test(*WELCH, relative=False),
            {
                "abs_diff": 0.29,
                "se": 0.12478,
                "ci_low": 0.04538,
                "ci_high": 0.53462,
                "p_value": 0.02016,
            },
            REL,
            id="welch-absolute",
        ),
        pytest.param(
            lambda: ex.proportion_test(14, 28, 16, 30, relative=True),
            {
                "rel_lift": 0.06667,
                "se": 0.2717,
                "ci_low": -0.47767,
                "ci_high": 0.61101,
                "p_value": 0.80707,
            },
            REL,
            id="proportion-relative",
        ),
        pytest.param(
            lambda: ex.cuped_test(CUPED_CONTROL, CUPED_TREATMENT),
            {"theta": -0.073212, "result.rel_lift": -0.281707154, "result.p_value": 0.003732549},
            REL,
            id="cuped",
        ),
        pytest.param(
            lambda: types.SimpleNamespace(value=ex.chance_to_win(49, 100, 51, 100)),
            {"value": 0.60918},
            REL,
            id="bayesian-chance-to-win-flat-prior",
        ),
        pytest.param(
            lambda: ex.srm_test(
                {"control": 600, "treatment": 400}, {"control": 0.5, "treatment": 0.5}
            ),
            {"p_value": 2.54e-10, "statistic": 40.0},
            2e-3,  # methods.md gives this p-value to three significant digits
            id="srm-600-vs-400",
        ),
    ],
)
def test_published_vector_is_reproduced(compute, expected, rel):
    result = compute()
    for path, value in expected.items():
        assert _get(result, path) == pytest.approx(value, rel=rel), path


def test_srm_flags_a_broken_split_in_plain_words():
    result = ex.srm_test({"control": 600, "treatment": 400}, {"control": 1, "treatment": 1})
    assert result.flagged
    assert "cannot be trusted" in result.message
    assert not ex.srm_test(
        {"control": 505, "treatment": 495}, {"control": 1, "treatment": 1}
    ).flagged


def test_srm_rejects_a_variant_missing_from_the_plan():
    with pytest.raises(ValueError, match="'holdout'.*not in the planned split"):
        ex.srm_test({"control": 10, "holdout": 3}, {"control": 0.5, "treatment": 0.5})


# ------------------------------------------------------------------ second methods


def test_mean_test_matches_scipy_welch_on_raw_data():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(3, 1, 400), rng.lognormal(3.1, 1, 520)
    ours = ex.mean_test(
        a.sum(), (a**2).sum(), a.size, b.sum(), (b**2).sum(), b.size, relative=False
    )
    scipy_result = stats.ttest_ind(b, a, equal_var=False)
    low, high = scipy_result.confidence_interval(0.95)
    assert ours.abs_diff == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert ours.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_proportion_test_matches_statsmodels_wald_interval_at_large_n():
    # statsmodels uses the normal distribution; with ~40,000 degrees of freedom t and normal
    # agree to well within 1e-3.
    ours = ex.proportion_test(1200, 20000, 1310, 20000, relative=False)
    low, high = sm_proportion.confint_proportions_2indep(1310, 20000, 1200, 20000, method="wald")
    p_value = sm_proportion.test_proportions_2indep(1310, 20000, 1200, 20000, method="wald").pvalue
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), rel=1e-3)
    assert ours.p_value == pytest.approx(p_value, rel=1e-3)


def test_ratio_test_with_one_order_per_unit_is_the_welch_test():
    rng = np.random.default_rng(2)
    a, b = rng.gamma(2, 30, 300), rng.gamma(2, 33, 350)
    ours = ex.ratio_test(
        ex.RatioSums.from_values(a, np.ones_like(a)),
        ex.RatioSums.from_values(b, np.ones_like(b)),
        relative=False,
    )
    scipy_result = stats.ttest_ind(b, a, equal_var=False)
    assert ours.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9)


def test_ratio_test_variance_matches_the_linearised_values():
    # Delta method: AOV's variance equals that of the mean of (revenue - AOV * orders) / mean
    # orders, computed here directly from the raw per-visitor values.
    rng = np.random.default_rng(3)

    def arm(n):
        orders = rng.poisson(1.2, n)
        return orders * rng.lognormal(3, 0.6, n), orders

    (rev_a, ord_a), (rev_b, ord_b) = arm(800), arm(900)
    ours = ex.ratio_test(
        ex.RatioSums.from_values(rev_a, ord_a),
        ex.RatioSums.from_values(rev_b, ord_b),
        relative=False,
    )

    def linearised_var(rev, orders):
        ratio = rev.sum() / orders.sum()
        return np.var((rev - ratio * orders) / orders.mean(), ddof=1) / rev.size

    assert ours.abs_diff == pytest.approx(rev_b.sum() / ord_b.sum() - rev_a.sum() / ord_a.sum())
    assert ours.se == pytest.approx(
        math.sqrt(linearised_var(rev_a, ord_a) + linearised_var(rev_b, ord_b)), rel=1e-9
    )


def _correlated(rng, n, rho, shift=0.0):
    x = rng.normal(10, 2, n)
    y = 5 + shift + rho * (x - 10) / 2 * 3 + math.sqrt(1 - rho**2) * 3 * rng.normal(size=n)
    return y, x


def test_cuped_absolute_equals_welch_on_theta_adjusted_values():
    rng = np.random.default_rng(4)
    (y_a, x_a), (y_b, x_b) = _correlated(rng, 700, 0.5), _correlated(rng, 650, 0.5, 0.3)
    ours = ex.cuped_test(
        ex.CupedSums.from_values(y_a, x_a), ex.CupedSums.from_values(y_b, x_b), relative=False
    )
    x, y = np.r_[x_a, x_b], np.r_[y_a, y_b]
    theta = np.cov(x, y)[0, 1] / np.var(x, ddof=1)  # pooled over both arms
    scipy_result = stats.ttest_ind(y_b - theta * x_b, y_a - theta * x_a, equal_var=False)
    assert ours.theta == pytest.approx(theta, rel=1e-9)
    assert ours.result.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9)
    assert ours.result.ci_low == pytest.approx(scipy_result.confidence_interval().low, rel=1e-9)


def test_cuped_variance_reduction_is_the_squared_correlation():
    rng = np.random.default_rng(5)
    rho = 0.6
    (y_a, x_a), (y_b, x_b) = _correlated(rng, 20000, rho), _correlated(rng, 20000, rho)
    adjusted = ex.cuped_test(
        ex.CupedSums.from_values(y_a, x_a), ex.CupedSums.from_values(y_b, x_b), relative=False
    )
    assert adjusted.variance_reduction == pytest.approx(rho**2, abs=0.02)


def test_cuped_without_a_varying_covariate_is_the_plain_mean_test():
    y_a, y_b = np.arange(50.0), np.arange(50.0) + 3
    adjusted = ex.cuped_test(
        ex.CupedSums.from_values(y_a, np.ones(50)), ex.CupedSums.from_values(y_b, np.ones(50))
    )
    plain = ex.mean_test(y_a.sum(), (y_a**2).sum(), 50, y_b.sum(), (y_b**2).sum(), 50)
    assert adjusted.theta == 0
    assert adjusted.result.p_value == pytest.approx(plain.p_value, rel=1e-12)
    assert adjusted.result.ci_low == pytest.approx(plain.ci_low, rel=1e-12)


def test_chance_to_win_agrees_with_the_beta_posterior():
    a_conv, b_conv, n = 500, 545, 5000

    def integrand(p):
        return stats.beta.pdf(p, b_conv + 1, n - b_conv + 1) * stats.beta.cdf(
            p, a_conv + 1, n - a_conv + 1
        )

    exact, _ = integrate.quad(integrand, 0, 1, points=[0.1])
    assert ex.chance_to_win(a_conv, n, b_conv, n) == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize(
    ("method", "expected"),
    [("holm", [0.03, 0.06, 0.06, 0.02]), ("fdr_bh", [0.02, 0.04, 0.04, 0.02])],
)
def test_adjust_pvalues_matches_a_hand_computation(method, expected):
    # Holm: sorted p × (4, 3, 2, 1), running max; BH: sorted p × 4 / rank, running min from top.
    assert ex.adjust_pvalues([0.01, 0.04, 0.03, 0.005], method) == pytest.approx(expected)


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjust_pvalues_matches_statsmodels(method):
    pvalues = np.random.default_rng(6).uniform(0, 0.2, 12) ** 2
    assert ex.adjust_pvalues(pvalues, method) == pytest.approx(
        multipletests(pvalues, method=method)[1], rel=1e-12
    )


def test_adjust_pvalues_names_the_allowed_methods():
    with pytest.raises(ValueError, match="holm"):
        ex.adjust_pvalues([0.1], "bonferonni")


# ------------------------------------------------------------------ planning


@pytest.mark.parametrize(("sd", "delta"), [(30.0, 0.5), (1.5, 0.2)])
def test_sample_size_for_a_mean_difference_matches_statsmodels(sd, delta):
    ours = ex.required_sample_size(10.0, delta, kind="mean", sd=sd, relative=False)
    theirs = NormalIndPower().solve_power(effect_size=delta / sd, alpha=0.05, power=0.8, ratio=1)
    assert abs(ours - theirs) <= 1
    mde = NormalIndPower().solve_power(nobs1=ours, alpha=0.05, power=0.8, ratio=1)
    assert ex.minimum_detectable_effect(
        ours, 10.0, kind="mean", sd=sd, relative=False
    ) == pytest.approx(mde * sd, rel=1e-3)


@pytest.mark.parametrize(("baseline", "delta"), [(0.05, 0.005), (0.3, -0.015), (0.6, 0.012)])
def test_sample_size_for_a_proportion_difference_is_close_to_statsmodels(baseline, delta):
    # statsmodels treats the standard error as known; ours also lets it vary with the data,
    # a small correction for an absolute difference (the simulation below checks the power)
    p_b = baseline + delta
    pooled_sd = math.sqrt((baseline * (1 - baseline) + p_b * (1 - p_b)) / 2)
    theirs = NormalIndPower().solve_power(
        effect_size=abs(delta) / pooled_sd, alpha=0.05, power=0.8, ratio=1
    )
    assert ex.required_sample_size(baseline, delta, relative=False) == pytest.approx(
        theirs, rel=0.01
    )


@pytest.mark.parametrize("n", [500, 4000, 60000])
@pytest.mark.parametrize(
    ("kind", "relative"), [("proportion", True), ("proportion", False), ("mean", True)]
)
def test_minimum_detectable_effect_inverts_required_sample_size(n, kind, relative):
    sd = 40.0 if kind == "mean" else None
    baseline = 0.08 if kind == "proportion" else 25.0
    mde = ex.minimum_detectable_effect(n, baseline, kind=kind, sd=sd, relative=relative)
    assert ex.required_sample_size(baseline, mde, kind=kind, sd=sd, relative=relative) in (n, n + 1)


def test_planning_inputs_are_checked():
    with pytest.raises(ValueError, match="sd"):
        ex.required_sample_size(10, 0.1, kind="mean")
    with pytest.raises(ValueError, match="between 0 and 1"):
        ex.required_sample_size(1.5, 0.1)


# ------------------------------------------------------------------ unit outcomes (engine)


def _tables():
    ts = pd.to_datetime
    assignments = pd.DataFrame(
        {
            "experiment_id": ["x", "x", "x", "x", "y"],
            "unit_id": ["u1", "u2", "u3", "u3", "u9"],
            "variant": ["control", "treatment", "control", "control", "treatment"],
            "assigned_at": ts(
                ["2026-06-01", "2026-06-02", "2026-06-05", "2026-06-03", "2026-06-01"]
            ),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": list("abcdefg"),
            "customer_id": ["u1", "u1", "u2", "u3", "u1", "u2", "u2"],
            "ordered_at": ts(
                [
                    "2026-05-20",
                    "2026-06-10",
                    "2026-06-03",
                    "2026-06-04",
                    "2026-04-01",
                    "2026-07-05",
                    "2026-06-20",
                ]
            ),
            "revenue": [10.0, 20.0, 30.0, 40.0, 5.0, 7.0, 12.5],
            "is_refunded": [False, True, False, False, False, False, True],
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": list("pqrst"),
            "visitor_id": ["u1", "u1", "u1", "u2", "u1"],
            "started_at": ts(
                ["2026-06-02", "2026-06-03", "2026-06-04", "2026-06-02", "2026-05-01"]
            ),
            "device": ["mobile", "desktop", "mobile", "tablet", "desktop"],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["u1", "u2", "u3"],
            "signed_up_at": ts(["2026-01-01"] * 3),
            "country": ["US", "GB", "DE"],
        }
    )
    return {
        name: ibis.memtable(frame)
        for name, frame in (
            ("assignments", assignments),
            ("orders", orders),
            ("sessions", sessions),
            ("customers", customers),
        )
    }


def test_unit_outcomes_builds_the_per_unit_table_by_hand_values():
    t = _tables()
    units = ex.unit_outcomes(
        t["assignments"],
        t["orders"],
        "x",
        end="2026-07-01",
        sessions=t["sessions"],
        customers=t["customers"],
    )
    # u1: order on 05-20 is pre-period (04-01 is older than 28 days), 06-10 counts (refunded);
    # u2: 06-03 and 06-20 count, 07-05 is after the end; u3: first exposure 06-03, order 06-04.
    expected = pd.DataFrame(
        {
            "unit_id": ["u1", "u2", "u3"],
            "variant": ["control", "treatment", "control"],
            "converted": [1, 1, 1],
            "orders": [1, 2, 1],
            "revenue": [20.0, 42.5, 40.0],
            "pre_revenue": [10.0, 0.0, 0.0],
            "pre_orders": [1, 0, 0],
            "refunded_orders": [1, 1, 0],
            "is_new": [False, True, True],
            "device": ["mobile", "tablet", "unknown"],
            "country": ["US", "GB", "DE"],
        }
    )
    pd.testing.assert_frame_equal(units[expected.columns], expected, check_dtype=False)
    assert list(pd.to_datetime(units["assigned_at"])) == list(
        pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-03"])
    )


def test_unit_outcomes_respects_the_start_of_the_window():
    t = _tables()
    units = ex.unit_outcomes(t["assignments"], t["orders"], "x", start="2026-06-02")
    assert list(units["unit_id"]) == ["u2", "u3"]
    assert units.loc[units["unit_id"] == "u2", "orders"].item() == 3  # no end: 07-05 counts


def test_unit_outcomes_rejects_units_in_two_variants():
    t = _tables()
    assignments = t["assignments"].union(
        ibis.memtable(
            pd.DataFrame(
                {
                    "experiment_id": ["x"],
                    "unit_id": ["u1"],
                    "variant": ["treatment"],
                    "assigned_at": pd.to_datetime(["2026-06-04"]),
                }
            )
        )
    )
    with pytest.raises(ValueError, match=r"'x': 1 unit\(s\) .* more than one variant .*'u1'"):
        ex.unit_outcomes(assignments, t["orders"], "x")


def test_unit_outcomes_names_the_known_experiments_when_one_is_missing():
    t = _tables()
    with pytest.raises(ValueError, match=r"No assignments for experiment 'z'.*\['x', 'y'\]"):
        ex.unit_outcomes(t["assignments"], t["orders"], "z")


def test_unit_outcomes_names_a_missing_column():
    t = _tables()
    with pytest.raises(ValueError, match="orders table lacks the column.*revenue"):
        ex.unit_outcomes(t["assignments"], t["orders"].drop("revenue"), "x")


# ------------------------------------------------------------------ readout


def make_units(
    n_per_arm=3000,
    *,
    seed=0,
    conversion=0.2,
    lift=0.0,
    spend_lift=0.0,
    variants=("control", "treatment"),
):
    """Simulated per-unit table with known truths (conversion lift, spend multiplier)."""
    rng = np.random.default_rng(seed)
    frames = []
    for variant, p, mult in (
        (variants[0], conversion, 1.0),
        (variants[1], conversion * (1 + lift), 1 + spend_lift),
    ):
        n = n_per_arm
        # a unit's activity and spend level drive both the pre-period and the test period
        activity, habit = rng.gamma(2, 0.5, n), rng.lognormal(3, 0.8, n)
        converted = rng.random(n) < np.clip(p * activity, 0, 1)
        orders = converted * (1 + rng.poisson(0.4 * activity))
        revenue = orders * habit * rng.lognormal(0, 0.5, n) * mult
        pre_orders = rng.poisson(activity)
        frames.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "converted": converted.astype(int),
                    "orders": orders,
                    "revenue": revenue,
                    "pre_revenue": pre_orders * habit * rng.lognormal(0, 0.5, n),
                    "pre_orders": pre_orders,
                    "refunded_orders": rng.binomial(orders, 0.04),
                    "device": rng.choice(["desktop", "mobile", "tablet"], n, p=[0.45, 0.45, 0.1]),
                    "is_new": rng.random(n) < 0.3,
                    "assigned_at": pd.Timestamp("2026-06-01")
                    + pd.to_timedelta(rng.integers(0, 14, n), unit="D"),
                }
            )
        )
    units = pd.concat(frames, ignore_index=True)
    units.insert(0, "unit_id", [f"u{i}" for i in range(len(units))])
    return units


@pytest.fixture(scope="module")
def units():
    return make_units(seed=11, lift=0.2, spend_lift=0.05)


@pytest.fixture(scope="module")
def result(units):
    return ex.readout(units, planned_units_per_arm=4000)


def test_readout_metrics_equal_the_tests_on_arm_totals(units):
    result = ex.readout(units, cuped=False, correction=None)
    c, t = (units[units["variant"] == v] for v in ("control", "treatment"))
    conversion = ex.proportion_test(c["converted"].sum(), len(c), t["converted"].sum(), len(t))
    rpv = ex.mean_test(
        c["revenue"].sum(),
        (c["revenue"] ** 2).sum(),
        len(c),
        t["revenue"].sum(),
        (t["revenue"] ** 2).sum(),
        len(t),
    )
    aov = ex.ratio_test(
        ex.RatioSums.from_values(c["revenue"], c["orders"]),
        ex.RatioSums.from_values(t["revenue"], t["orders"]),
    )
    for name, expected in (("conversion", conversion), ("revenue_per_visitor", rpv), ("aov", aov)):
        got = result.metrics[name]
        assert (got.p_value, got.ci_low, got.ci_high) == pytest.approx(
            (expected.p_value, expected.ci_low, expected.ci_high), rel=1e-12
        ), name


def test_readout_adjusts_revenue_with_cuped_and_reports_the_reduction(units, result):
    # the variance CUPED removes is about the squared within-arm correlation with the covariate
    rho = np.mean(
        [
            units[units["variant"] == v][["revenue", "pre_revenue"]].corr().iloc[0, 1]
            for v in ("control", "treatment")
        ]
    )
    assert result.metrics["revenue_per_visitor"].kind == "cuped"
    assert result.cuped["revenue_per_visitor"].variance_reduction == pytest.approx(rho**2, abs=0.03)
    assert rho**2 > 0.05
    assert any("CUPED" in note for note in result.notes)


def test_readout_corrects_secondary_metrics_but_not_the_primary(result):
    secondary = [m for m in ex.DEFAULT_METRICS if m != "conversion"]
    raw = [result.metrics[m].p_value for m in secondary]
    adjusted = [result.metrics[m].p_value_adjusted for m in secondary]
    assert adjusted == pytest.approx(list(ex.adjust_pvalues(raw, "holm")))
    assert result.metrics["conversion"].p_value_adjusted is None
    assert any("Holm" in note for note in result.notes)


def test_segment_cuts_are_corrected_as_one_family(result):
    cuts = result.segments.dropna(subset=["p_value"])
    assert set(cuts["segment"]) == {"device", "is_new"}
    assert len(cuts) == 5
    assert list(cuts["p_value_adjusted"]) == pytest.approx(
        list(ex.adjust_pvalues(cuts["p_value"].to_list(), "holm"))
    )
    assert result.dropped_cuts == ()


def test_every_segment_cut_not_tested_is_named_with_its_reason(units):
    returning = units.assign(is_new=False)
    few = returning.copy()
    tablet = few["device"] == "tablet"
    few.loc[tablet, "converted"] = 0  # tablet visitors: no buyers at all
    result = ex.readout(few, segments=["device", "is_new", "country"])
    dropped = {(d.segment, d.level): d.reason for d in result.dropped_cuts}
    assert "same value" in dropped[("is_new", None)]
    assert "customers table" in dropped[("country", None)]
    assert "fewer than 30 buyers" in dropped[("device", "tablet")]
    row = result.segments.set_index("level").loc["tablet"]
    assert pd.isna(row["p_value"]) and row["note"].startswith("not tested")


def test_rpv_decomposition_matches_a_hand_computation():
    control = pd.DataFrame(
        {"converted": [1, 1, 0, 0], "orders": [2, 1, 0, 0], "revenue": [40.0, 20.0, 0, 0]}
    )
    treatment = pd.DataFrame(
        {"converted": [1, 1, 1, 0], "orders": [1, 1, 1, 0], "revenue": [30.0, 30.0, 30.0, 0]}
    )
    table = ex.rpv_decomposition(control, treatment)
    assert list(table["control"]) == pytest.approx([0.5, 1.5, 20.0, 15.0])
    assert list(table["treatment"]) == pytest.approx([0.75, 1.0, 30.0, 22.5])
    # log contributions: ln 1.5 + ln(2/3) + ln 1.5 = ln 1.5 (the RPV ratio)
    assert table.loc["revenue_per_visitor", "log_contribution"] == pytest.approx(math.log(1.5))
    assert list(table["share_of_rpv_lift"]) == pytest.approx(
        [1.0, math.log(2 / 3) / math.log(1.5), 1.0, 1.0]
    )


def test_readout_decomposition_multiplies_out(result):
    table = result.rpv_decomposition
    for arm in ("control", "treatment"):
        product = table.loc[["conversion", "orders_per_buyer", "aov"], arm].prod()
        assert product == pytest.approx(table.loc["revenue_per_visitor", arm], rel=1e-12)
    assert table["share_of_rpv_lift"].iloc[:3].sum() == pytest.approx(1.0)


def test_readout_reports_the_sample_against_the_plan(result):
    status = result.sample_size
    assert status.share_of_plan == pytest.approx(3000 / 4000)
    assert "not reached" in status.message
    # MDE from the observed standard error: (z_0.975 + z_0.8) * se
    se = result.metrics["conversion"].se
    assert status.mde == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se)


def test_readout_checks_the_split(units):
    assert not ex.readout(units).srm.flagged
    lopsided = pd.concat(
        [
            units,
            make_units(400, seed=3).assign(
                variant="control", unit_id=lambda d: "extra" + d["unit_id"]
            ),
        ]
    )
    flagged = ex.readout(lopsided)
    assert flagged.srm.flagged


def test_readout_warns_when_revenue_rests_on_few_buyers(units, result):
    assert any("buyers" in note for note in result.notes)  # ~600 buyers per arm
    assert not any("buyers" in note for note in ex.readout(units, metrics=("conversion",)).notes)


def test_readout_result_flattens_to_plain_values(result):
    flat = result.as_dict()
    assert flat["metrics"]["conversion"]["direction"] == result.metrics["conversion"].direction
    assert set(result.metrics_table()["role"]) == {"primary", "secondary", "guardrail"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u: u[u["variant"] == "control"], r"Only one variant \('control'\)"),
        (
            lambda u: u.assign(variant=u["variant"].replace({"control": "ctrl"})),
            r"Control variant 'control' not found.*\['ctrl', 'treatment'\]",
        ),
        (
            lambda u: u.assign(
                converted=np.where(u["variant"] == "treatment", 0, u["converted"]),
                orders=np.where(u["variant"] == "treatment", 0, u["orders"]),
            ),
            "conversion cannot be estimated yet: the treatment arm has no conversions",
        ),
        (
            lambda u: pd.concat(
                [u[u["variant"] == "control"], u[u["variant"] == "treatment"][:12]]
            ),
            r"Only 12 units in the 'treatment' arm; at least 30",
        ),
        (lambda u: pd.concat([u, u[:1]]), "appear more than once"),
        (lambda u: u.drop(columns="orders"), r"'aov' needs column\(s\) \['orders'\]"),
        (lambda u: u.iloc[:0], "empty"),
    ],
    ids=[
        "one-variant",
        "control-not-found",
        "zero-conversions",
        "too-few-units",
        "duplicate-units",
        "missing-column",
        "empty",
    ],
)
def test_readout_explains_bad_input(units, change, message):
    with pytest.raises(ValueError, match=message):
        ex.readout(change(units))


def test_guardrail_without_events_does_not_stop_the_readout(units):
    no_refunds = ex.readout(units.assign(refunded_orders=0))
    guardrail = no_refunds.guardrails["refund_rate"]
    assert guardrail.status == "not estimable" and guardrail.result is None
    assert "refund_rate" not in no_refunds.metrics_table().index


def test_readout_asks_which_treatment_when_there_are_several(units):
    three = pd.concat(
        [
            units,
            make_units(100, seed=5, variants=("x", "variant_b"))
            .assign(unit_id=lambda d: "b" + d["unit_id"])
            .query("variant == 'variant_b'"),
        ]
    )
    with pytest.raises(ValueError, match="Pass treatment="):
        ex.readout(three)
    assert (
        ex.readout(
            three,
            treatment="variant_b",
            planned_split={"control": 1, "treatment": 1, "variant_b": 1},
        ).treatment
        == "variant_b"
    )


# ------------------------------------------------------------------ guardrails and verdict


def _metric(rel_lift, ci_low, ci_high, p_value, name="conversion", alpha=0.05):
    return ex.MetricResult(
        name=name,
        control=1.0,
        treatment=1.0 + rel_lift,
        abs_diff=rel_lift,
        rel_lift=rel_lift,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        significant=p_value < alpha,
        kind="proportion",
        se=(ci_high - ci_low) / 3.92,
        alpha=alpha,
    )


@pytest.mark.parametrize(
    ("guardrail", "expected"),
    [
        ((0.25, 0.12, 0.38, 0.001), "breached"),
        ((0.05, 0.01, 0.09, 0.02), "cleared"),
        ((0.02, -0.03, 0.07, 0.4), "cleared"),
        ((0.05, -0.08, 0.18, 0.4), "not ruled out"),
        ((0.25, -0.05, 0.55, 0.09), "not ruled out"),
        ((0.14, 0.06, 0.22, 0.001), "not ruled out"),
    ],
    ids=[
        "interval-above-limit",
        "significant-within-limit",
        "ruled-out",
        "cannot-rule-out",
        "above-limit-but-noisy",
        "significant-rise-straddling-limit",
    ],
)
def test_guardrail_status_is_a_non_inferiority_test(guardrail, expected):
    assert ex.guardrail_status(_metric(*guardrail, name="refund_rate"), 0.10)[0] == expected


def test_guardrail_status_reads_an_absolute_interval_relative_to_control():
    absolute = replace(
        _metric(0.05, 0.0, 0.0, 0.5, name="refund_rate"),
        control=0.04,
        ci_scale="absolute",
        ci_low=-0.002,
        ci_high=0.0036,  # +9% of 0.04: just inside the limit
    )
    assert ex.guardrail_status(absolute, 0.10)[0] == "cleared"


# ------------------------------------------------------------------ lift over time


def test_lift_over_time_ends_at_the_full_readout(units, result):
    over_time = ex.lift_over_time(units)
    last = over_time.iloc[-1]
    conversion = ex.readout(units, cuped=False).metrics["conversion"]
    assert (last["rel_lift"], last["ci_low"], last["p_value"]) == pytest.approx(
        (conversion.rel_lift, conversion.ci_low, conversion.p_value), rel=1e-12
    )
    assert over_time["n_control"].is_monotonic_increasing
    assert len(over_time) == 14


def test_lift_over_time_accepts_daily_sums(units):
    daily = (
        units.assign(date=units["assigned_at"].dt.floor("D"), revenue_sq=units["revenue"] ** 2)
        .groupby(["date", "variant"], as_index=False)
        .agg(units=("unit_id", "size"), sum=("revenue", "sum"), sum_sq=("revenue_sq", "sum"))
    )
    from_daily = ex.lift_over_time(daily, metric="revenue_per_visitor")
    from_units = ex.lift_over_time(units, metric="revenue_per_visitor")
    pd.testing.assert_frame_equal(from_daily, from_units)


def test_lift_over_time_leaves_early_thin_days_empty():
    units = make_units(200, seed=4)
    over_time = ex.lift_over_time(units)
    assert over_time["rel_lift"].isna().iloc[0]
    assert "fewer than 30" in over_time["note"].iloc[0]


# ------------------------------------------------------------------ no experiment: DiD


def make_panel(
    *, seed=0, effect=5.0, series_per_side=1, days=84, launch_day=56, pre_trend=0.0, noise=2.0
):
    """Daily series sharing a seasonal pattern; the treated ones jump by ``effect`` at launch."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-05", periods=days, freq="D")
    season = 10 * np.sin(np.arange(days) / 7 * 2 * np.pi) + 0.2 * np.arange(days)
    rows = []
    for side in ("treated", "control"):
        for k in range(series_per_side):
            level = rng.normal(100, 10)
            value = level + season + noise * rng.normal(size=days)
            if side == "treated":
                value = value + effect * (np.arange(days) >= launch_day)
                value = value + pre_trend * np.minimum(np.arange(days) - launch_day, 0)
            rows.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "value": value,
                        "region": side if series_per_side == 1 else f"{side}_{k}",
                        "side": side,
                        "store": f"{side}_{k}",
                    }
                )
            )
    return pd.concat(rows, ignore_index=True), dates[launch_day]


def test_did_equals_the_hand_computed_2x2_on_a_balanced_panel():
    panel, launch = make_panel(seed=1)
    result = ex.difference_in_differences(
        panel,
        date_col="date",
        value_col="value",
        group_col="region",
        treated_group="treated",
        launch_date=launch,
    )
    post = panel["date"] >= launch
    treated = panel["region"] == "treated"
    hand = (panel[treated & post]["value"].mean() - panel[treated & ~post]["value"].mean()) - (
        panel[~treated & post]["value"].mean() - panel[~treated & ~post]["value"].mean()
    )
    assert result.estimate == pytest.approx(hand, rel=1e-9)
    assert result.se_type.startswith("HC1")
    assert "Weaker evidence" in result.caveat


def test_did_recovers_a_planted_effect_with_clustered_errors():
    panel, launch = make_panel(seed=2, effect=5.0, series_per_side=10)
    result = ex.difference_in_differences(
        panel,
        date_col="date",
        value_col="value",
        group_col="side",
        treated_group="treated",
        launch_date=launch,
        unit_col="store",
    )
    assert result.ci_low < 5.0 < result.ci_high
    assert result.estimate == pytest.approx(5.0, abs=3 * result.se)
    assert result.p_value < 0.001
    assert "cluster" in result.se_type and result.n_series == 20


def test_event_study_is_flat_before_launch_and_steps_up_after():
    panel, launch = make_panel(seed=3, effect=6.0, series_per_side=8)
    study = ex.event_study(
        panel,
        date_col="date",
        value_col="value",
        group_col="side",
        treated_group="treated",
        launch_date=launch,
        unit_col="store",
    )
    table = study.table.set_index("period")
    assert table.loc[-1, "estimate"] == 0 and table.loc[-1, "reference"]
    # every period is measured against the same reference week, so their errors move together:
    # check each within 4 standard errors and the average within 3
    post, pre = table[table.index >= 0], table[table.index < -1]
    assert ((post["estimate"] - 6.0).abs() < 4 * post["se"]).all()
    assert post["estimate"].mean() == pytest.approx(6.0, abs=3 * post["se"].max())
    assert (pre["estimate"].abs() < 4 * pre["se"]).all()
    assert study.pre_trend_p > 0.01


def test_event_study_flags_a_pre_trend():
    panel, launch = make_panel(seed=3, series_per_side=8, pre_trend=0.3)
    study = ex.event_study(
        panel,
        date_col="date",
        value_col="value",
        group_col="side",
        treated_group="treated",
        launch_date=launch,
        unit_col="store",
    )
    assert study.pre_trend_p < 0.001


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda p, launch: p, {"treated_group": "north"}, r"Treated group\(s\) \['north'\]"),
        (lambda p, launch: p[p["date"] >= launch], {}, "need dates both before and after"),
        (
            lambda p, launch: p.assign(value=p["value"].astype(object).where(p.index != 3, "n/a")),
            {},
            "must be numeric",
        ),
        (lambda p, launch: p.assign(region="treated"), {}, "at least one comparison group"),
    ],
    ids=["unknown-group", "no-pre-period", "non-numeric", "no-comparison"],
)
def test_did_explains_bad_input(change, kwargs, message):
    panel, launch = make_panel(seed=4)
    arguments = {
        "date_col": "date",
        "value_col": "value",
        "group_col": "region",
        "treated_group": "treated",
        "launch_date": launch,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        ex.difference_in_differences(change(panel, launch), **arguments)


# ------------------------------------------------------------------ calibration (slow)


def _simulated_sums(rng, sims, n, conversion, lift=0.0, spend_lift=0.0, sigma=1.2):
    """Sufficient statistics of ``sims`` experiments: Bernoulli conversion, a Poisson number
    of extra orders, lognormal (heavy-tailed) spend per order. Vectorised over experiments."""
    arms = []
    for p, mult in ((conversion, 1.0), (conversion * (1 + lift), 1 + spend_lift)):
        converted = rng.random((sims, n)) < p
        orders = converted * (1 + rng.poisson(0.4, (sims, n)))
        revenue = orders * rng.lognormal(3.0, sigma, (sims, n)) * mult
        arms.append(
            {
                "conversions": converted.sum(1),
                "revenue": ex.RatioSums(
                    n,
                    revenue.sum(1),
                    (revenue**2).sum(1),
                    orders.sum(1),
                    (orders**2).sum(1),
                    (revenue * orders).sum(1),
                ),
            }
        )
    return arms


def _chunks(rng, total, size, n, **kwargs):
    for _ in range(total // size):
        control, treatment = _simulated_sums(rng, size, n, **kwargs)
        for i in range(size):
            yield control, treatment, i


def _arm(sums, i):
    return ex.RatioSums(
        *(
            np.asarray(v)[i] if not isinstance(v, int) else v
            for v in (
                sums.n,
                sums.num_sum,
                sums.num_sum_sq,
                sums.den_sum,
                sums.den_sum_sq,
                sums.num_den_sum,
            )
        )
    )


@pytest.mark.slow
def test_conversion_false_positive_rate_in_aa_experiments():
    # 4,000 A/A runs: the rate's standard error is 0.34 points, so [4%, 6%] is a ±2.9 SE check.
    rng = np.random.default_rng(20240601)
    n, hits, total = 2000, 0, 4000
    for control, treatment, i in _chunks(rng, total, 250, n, conversion=0.05):
        result = ex.proportion_test(control["conversions"][i], n, treatment["conversions"][i], n)
        hits += result.significant
    assert 0.04 <= hits / total <= 0.06


@pytest.mark.slow
def test_conversion_interval_covers_a_planted_lift():
    rng = np.random.default_rng(20240602)
    n, covered, total = 2000, 0, 2000
    for control, treatment, i in _chunks(rng, total, 250, n, conversion=0.05, lift=0.10):
        result = ex.proportion_test(control["conversions"][i], n, treatment["conversions"][i], n)
        covered += result.ci_low <= 0.10 <= result.ci_high
    assert 0.93 <= covered / total <= 0.97


@pytest.mark.slow
def test_revenue_intervals_cover_planted_lifts_with_enough_buyers():
    # ~1,000 buyers per arm (see the readout's few-buyers note): RPV lift (1.1 × 1.1 - 1) and
    # AOV lift (spend per order × 1.1) are known exactly.
    rng = np.random.default_rng(20240603)
    n, total = 5000, 1000
    covered = {"rpv": 0, "aov": 0}
    for control, treatment, i in _chunks(
        rng, total, 50, n, conversion=0.2, lift=0.1, spend_lift=0.1
    ):
        c, t = _arm(control["revenue"], i), _arm(treatment["revenue"], i)
        rpv = ex.mean_test(c.num_sum, c.num_sum_sq, n, t.num_sum, t.num_sum_sq, n)
        aov = ex.ratio_test(c, t)
        covered["rpv"] += rpv.ci_low <= 0.21 <= rpv.ci_high
        covered["aov"] += aov.ci_low <= 0.10 <= aov.ci_high
    for name, count in covered.items():
        assert 0.93 <= count / total <= 0.97, name


@pytest.mark.slow
@pytest.mark.parametrize(("baseline", "lift"), [(0.10, 0.20), (0.05, 0.10)])
def test_planned_conversion_sample_delivers_the_planned_power(baseline, lift):
    # 4,000 experiments at the planned size: power's standard error is 0.6 points
    rng = np.random.default_rng(20240604)
    n, sims = ex.required_sample_size(baseline, lift), 4000
    control = rng.binomial(n, baseline, sims)
    treatment = rng.binomial(n, baseline * (1 + lift), sims)
    power = np.mean(
        [
            ex.proportion_test(a, n, b, n).significant
            for a, b in zip(control, treatment, strict=True)
        ]
    )
    assert 0.78 <= power <= 0.82


@pytest.mark.slow
def test_planned_revenue_sample_delivers_the_planned_power():
    # lognormal spend with the same standard deviation in both arms, mean lifted by 10%
    rng = np.random.default_rng(20240605)
    mean, lift, sd = 20.0, 0.10, 35.0
    n, sims, hits = ex.required_sample_size(mean, lift, kind="mean", sd=sd), 2000, 0
    for _ in range(sims // 100):
        arms = []
        for m in (mean, mean * (1 + lift)):
            sigma = math.sqrt(math.log(1 + (sd / m) ** 2))
            values = rng.lognormal(math.log(m) - sigma**2 / 2, sigma, (100, n))
            arms.append((values.sum(1), (values**2).sum(1)))
        (sum_a, sq_a), (sum_b, sq_b) = arms
        hits += sum(
            ex.mean_test(sum_a[i], sq_a[i], n, sum_b[i], sq_b[i], n).significant for i in range(100)
        )
    assert 0.77 <= hits / sims <= 0.83


@pytest.mark.slow
def test_did_interval_covers_the_planted_effect():
    # one thread: tiny regressions, and BLAS threads fight each other on a busy machine
    covered, total = 0, 400
    with threadpool_limits(1):
        for seed in range(total):
            panel, launch = make_panel(seed=seed, effect=2.0, days=42, launch_day=28)
            result = ex.difference_in_differences(
                panel,
                date_col="date",
                value_col="value",
                group_col="region",
                treated_group="treated",
                launch_date=launch,
            )
            covered += result.ci_low <= 2.0 <= result.ci_high
    assert 0.925 <= covered / total <= 0.975
