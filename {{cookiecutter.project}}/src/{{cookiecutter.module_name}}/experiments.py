"""Post-launch review: the statistics of an A/B readout, and a fallback when there was no test.

Layers, from the bottom up:

1. Tests from sufficient statistics (sums, sums of squares, counts), so a warehouse can
   aggregate and only a handful of numbers reach Python: ``mean_test`` (Welch), ``proportion_test``,
   ``ratio_test`` (delta method), ``cuped_test`` (pre-period covariate), ``chance_to_win``,
   ``srm_test``, ``adjust_pvalues``, ``required_sample_size`` / ``minimum_detectable_effect``.
   Formulas follow GrowthBook's open-source ``gbstats`` engine and reproduce its published test
   vectors: a t distribution with Welch-Satterthwaite degrees of freedom for p-values and
   intervals, the delta method for relative lifts and ratios.
2. A per-unit layer: ``unit_outcomes`` builds one row per randomisation unit in the engine
   (Ibis), ``readout`` turns it into a structured result (metrics, CUPED, guardrails, segment
   cuts with a multiple-testing correction, the revenue-per-visitor decomposition, sample size
   reached), ``lift_over_time`` shows the lift day by day. The verdict is not here: it is the
   decision table in ``review_decision`` (docs/decisions.md, "Post-launch review").
3. No experiment: ``difference_in_differences`` and ``event_study`` against comparison series,
   always labelled as weaker evidence.

The readout is *fixed-horizon*: p-values and intervals are valid once, at the planned sample size.
Reading it earlier and stopping on a good day inflates false positives, so the result says how
much of the planned sample was reached.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 0.25 s less to import
from statsmodels.stats.multitest import multipletests

from .errors import UserError, require_table_columns

SRM_THRESHOLD = 0.001  # below this p-value the split is treated as broken
MIN_UNITS_PER_ARM = 30  # below this a readout (or a segment cut) is not attempted
# A segment cut is tested only when each arm has this many buyers (and, for conversion, this
# many non-buyers): below it the delta-method test rejects too often (A/A: 6.8% at ~15
# conversions per arm); tests/test_experiments_segments.py measures the family's rate.
MIN_CONVERSIONS_PER_CUT = 30
FEW_BUYERS = 1000  # below this per arm, revenue p-values run optimistic (skewed order values)
DEFAULT_METRICS = ("conversion", "revenue_per_visitor", "aov", "orders_per_user")
DEFAULT_GUARDRAILS: Mapping[str, float] = {"refund_rate": 0.10}  # max relative increase
DEFAULT_SEGMENTS = ("device", "is_new")
CORRECTIONS = ("holm", "fdr_bh")

# metric -> (covariate column used by CUPED); metrics not listed are never CUPED-adjusted
_CUPED_COVARIATES = {"revenue_per_visitor": "pre_revenue", "orders_per_user": "pre_orders"}
_METRIC_COLUMNS = {
    "conversion": ("converted",),
    "revenue_per_visitor": ("revenue",),
    "orders_per_user": ("orders",),
    "aov": ("revenue", "orders"),
    "refund_rate": ("refunded_orders", "orders"),
}
_METRIC_LABELS = {
    "conversion": "conversion rate",
    "revenue_per_visitor": "revenue per visitor",
    "orders_per_user": "orders per visitor",
    "aov": "average order value",
    "refund_rate": "refund rate",
}


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    """One metric compared between control and treatment.

    ``ci_low`` / ``ci_high`` bound the relative lift when ``ci_scale == "relative"`` and the
    absolute difference when ``ci_scale == "absolute"``; ``se`` is on the same scale.
    ``significant`` uses ``p_value_adjusted`` when a multiple-testing correction was applied.
    """

    name: str
    control: float
    treatment: float
    abs_diff: float
    rel_lift: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    kind: str  # "proportion" | "mean" | "ratio" | "cuped"
    ci_scale: Literal["relative", "absolute"] = "relative"
    se: float = math.nan
    n_control: int = 0
    n_treatment: int = 0
    alpha: float = 0.05
    p_value_adjusted: float | None = None
    correction: str | None = None

    @property
    def direction(self) -> str:
        """``"increase"``, ``"decrease"`` or ``"no clear change"`` (significance-aware)."""
        if not self.significant:
            return "no clear change"
        return "increase" if self.abs_diff > 0 else "decrease"

    def as_dict(self) -> dict[str, Any]:
        """Plain values, plus ``direction``."""
        return {**asdict(self), "direction": self.direction}


@dataclass(frozen=True)
class CupedResult:
    """A CUPED-adjusted comparison with its pooled θ and the variance it removed."""

    result: MetricResult
    theta: float
    variance_reduction: float  # 1 - var(adjusted estimate) / var(unadjusted estimate)


@dataclass(frozen=True)
class RatioSums:
    """Sufficient statistics of a ratio metric (e.g. AOV = revenue / orders) for one arm.

    Sums run over randomisation units: ``num`` is the numerator per unit (revenue), ``den`` the
    denominator per unit (orders), ``num_den_sum`` the sum of their products.
    """

    n: int
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    num_den_sum: float

    @classmethod
    def from_values(cls, numerator: Sequence[float], denominator: Sequence[float]) -> RatioSums:
        m, d = np.asarray(numerator, float), np.asarray(denominator, float)
        return cls(len(m), m.sum(), (m * m).sum(), d.sum(), (d * d).sum(), (m * d).sum())


@dataclass(frozen=True)
class CupedSums:
    """Sufficient statistics for CUPED in one arm: outcome ``y`` and pre-period covariate ``x``."""

    n: int
    y_sum: float
    y_sum_sq: float
    x_sum: float
    x_sum_sq: float
    xy_sum: float

    @classmethod
    def from_values(cls, y: Sequence[float], x: Sequence[float]) -> CupedSums:
        y_, x_ = np.asarray(y, float), np.asarray(x, float)
        return cls(len(y_), y_.sum(), (y_ * y_).sum(), x_.sum(), (x_ * x_).sum(), (x_ * y_).sum())


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio-mismatch check of the arm sizes against the planned split."""

    p_value: float
    statistic: float
    observed: dict[str, int]
    expected: dict[str, float]
    flagged: bool
    message: str
    threshold: float = SRM_THRESHOLD


# --------------------------------------------------------------------------------------------
# Small statistics helpers
# --------------------------------------------------------------------------------------------


def _sample_variance(total: float, total_sq: float, n: float) -> float:
    centred = total_sq - total * total / n
    if centred < -1e-9 * max(abs(total_sq), 1.0):
        raise UserError(
            f"The sums are inconsistent: a sum of squares ({total_sq:.6g}) is smaller than "
            f"sum²/n ({total * total / n:.6g}), which real data cannot produce. Check the query "
            "that built them."
        )
    # Clipped at 0: sums of squares from a warehouse can round to a hair below sum²/n.
    return max(centred / (n - 1), 0.0)


def _sample_covariance(sum_x: float, sum_y: float, sum_xy: float, n: float) -> float:
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


def _welch_dof(var_a: float, n_a: float, var_b: float, n_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom from per-unit variances."""
    va, vb = var_a / n_a, var_b / n_b
    return (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))


def _diff_variance(
    mean_a: float,
    var_a: float,
    n_a: float,
    mean_b: float,
    var_b: float,
    n_b: float,
    relative: bool,
) -> float:
    """Variance of the absolute difference, or of the relative lift by the delta method."""
    if relative:
        return var_b / (n_b * mean_a**2) + var_a * mean_b**2 / (n_a * mean_a**4)
    return var_b / n_b + var_a / n_a


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1 (e.g. 0.05); got {alpha!r}.")


def _check_n(n: float, arm: str, name: str) -> None:
    if n < 2:
        raise UserError(
            f"{name}: the {arm} arm has {n} unit(s); at least 2 are needed to estimate a "
            "variance. Let the experiment collect more data."
        )


def _t_result(
    name: str,
    kind: str,
    *,
    control: float,
    treatment: float,
    abs_diff: float,
    rel_lift: float,
    variance: float,
    dof: float,
    n_a: int,
    n_b: int,
    relative: bool,
    alpha: float,
) -> MetricResult:
    """Two-sided t-based interval and p-value around the relative or absolute estimate."""
    if not variance > 0 or not math.isfinite(variance):
        raise UserError(
            f"{name}: every unit has the same value in both arms, so there is no variation to "
            "test. The metric cannot be estimated yet."
        )
    point = rel_lift if relative else abs_diff
    se = math.sqrt(variance)
    width = stats.t.ppf(1 - alpha / 2, dof) * se
    p_value = float(2 * stats.t.sf(abs(point) / se, dof))
    return MetricResult(
        name=name,
        control=float(control),
        treatment=float(treatment),
        abs_diff=float(abs_diff),
        rel_lift=float(rel_lift),
        ci_low=float(point - width),
        ci_high=float(point + width),
        p_value=p_value,
        significant=p_value < alpha,
        kind=kind,
        ci_scale="relative" if relative else "absolute",
        se=se,
        n_control=int(n_a),
        n_treatment=int(n_b),
        alpha=alpha,
    )


def _compare_means(
    name: str,
    kind: str,
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    *,
    relative: bool,
    alpha: float,
) -> MetricResult:
    if relative and mean_a == 0:
        raise UserError(
            f"{name}: the control average is 0, so a relative lift is undefined. The metric "
            "cannot be estimated yet; wait for data or use relative=False."
        )
    variance = _diff_variance(mean_a, var_a, n_a, mean_b, var_b, n_b, relative)
    return _t_result(
        name,
        kind,
        control=mean_a,
        treatment=mean_b,
        abs_diff=mean_b - mean_a,
        rel_lift=(mean_b - mean_a) / mean_a if mean_a else math.nan,
        variance=variance,
        dof=_welch_dof(var_a, n_a, var_b, n_b) if var_a + var_b > 0 else math.inf,
        n_a=n_a,
        n_b=n_b,
        relative=relative,
        alpha=alpha,
    )


# --------------------------------------------------------------------------------------------
# Tests from sufficient statistics
# --------------------------------------------------------------------------------------------


def mean_test(
    sum_a: float,
    sum_sq_a: float,
    n_a: int,
    sum_b: float,
    sum_sq_b: float,
    n_b: int,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    name: str = "mean",
) -> MetricResult:
    """Welch t-test of a per-unit mean (e.g. revenue per visitor) from sums.

    Parameters
    ----------
    sum_a, sum_sq_a, n_a
        Control: sum of the values, sum of their squares, number of units.
    sum_b, sum_sq_b, n_b
        Treatment, likewise.
    relative
        Test and bound the relative lift (delta-method variance) instead of the difference.
    alpha
        Two-sided significance level; the interval has coverage ``1 - alpha``.

    Returns
    -------
    MetricResult
        With ``kind="mean"``.
    """
    _check_alpha(alpha)
    _check_n(n_a, "control", name)
    _check_n(n_b, "treatment", name)
    return _compare_means(
        name,
        "mean",
        sum_a / n_a,
        _sample_variance(sum_a, sum_sq_a, n_a),
        n_a,
        sum_b / n_b,
        _sample_variance(sum_b, sum_sq_b, n_b),
        n_b,
        relative=relative,
        alpha=alpha,
    )


def proportion_test(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    name: str = "conversion",
) -> MetricResult:
    """Test of a conversion rate with per-unit variance p(1 - p) (no n - 1), as gbstats does.

    Raises a ``UserError`` when an arm has no conversions: the rate cannot be estimated yet.
    """
    _check_alpha(alpha)
    for arm, s, n in (("control", successes_a, n_a), ("treatment", successes_b, n_b)):
        _check_n(n, arm, name)
        if not 0 <= s <= n:
            raise UserError(
                f"{name}: the {arm} arm has {s} conversions for {n} units; conversions must be "
                "between 0 and the number of units."
            )
        if s == 0:
            raise UserError(
                f"{name} cannot be estimated yet: the {arm} arm has no conversions among {n} "
                "units. Wait until both arms have conversions."
            )
    p_a, p_b = successes_a / n_a, successes_b / n_b
    return _compare_means(
        name,
        "proportion",
        p_a,
        p_a * (1 - p_a),
        n_a,
        p_b,
        p_b * (1 - p_b),
        n_b,
        relative=relative,
        alpha=alpha,
    )


def _ratio_moments(arm: RatioSums, which: str, name: str) -> tuple[float, float]:
    """Ratio of sums and its per-unit delta-method variance (analysis unit ≠ randomisation unit)."""
    _check_n(arm.n, which, name)
    if arm.den_sum == 0:
        raise UserError(
            f"{name} cannot be estimated yet: the {which} arm has a zero denominator (e.g. no "
            "orders). Wait until both arms have some."
        )
    n = arm.n
    mean_m, mean_d = arm.num_sum / n, arm.den_sum / n
    var_m = _sample_variance(arm.num_sum, arm.num_sum_sq, n)
    var_d = _sample_variance(arm.den_sum, arm.den_sum_sq, n)
    cov = _sample_covariance(arm.num_sum, arm.den_sum, arm.num_den_sum, n)
    variance = var_m / mean_d**2 + var_d * mean_m**2 / mean_d**4 - 2 * cov * mean_m / mean_d**3
    return arm.num_sum / arm.den_sum, max(variance, 0.0)


def ratio_test(
    control: RatioSums,
    treatment: RatioSums,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    name: str = "aov",
) -> MetricResult:
    """Test of a ratio metric such as AOV = revenue / orders, randomised by visitor.

    Orders of one visitor are correlated, so treating orders as independent would understate
    the variance; the delta method over per-visitor sums does not. Welch degrees of freedom.
    """
    _check_alpha(alpha)
    ratio_a, var_a = _ratio_moments(control, "control", name)
    ratio_b, var_b = _ratio_moments(treatment, "treatment", name)
    return _compare_means(
        name,
        "ratio",
        ratio_a,
        var_a,
        control.n,
        ratio_b,
        var_b,
        treatment.n,
        relative=relative,
        alpha=alpha,
    )


def cuped_test(
    control: CupedSums,
    treatment: CupedSums,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    name: str = "revenue_per_visitor",
) -> CupedResult:
    """CUPED: the outcome adjusted by a pre-period covariate, θ pooled over both arms.

    Matches gbstats' regression adjustment: adjusted mean ``ȳ - θ x̄`` per arm with
    ``θ = cov(x, y) / var(x)`` over the pooled sample, relative lift over the *unadjusted*
    control mean, and gbstats' delta-method variance for it. With no covariate variation θ is 0
    and the result equals ``mean_test``.
    """
    _check_alpha(alpha)
    _check_n(control.n, "control", name)
    _check_n(treatment.n, "treatment", name)
    n = control.n + treatment.n
    x_sum, y_sum = control.x_sum + treatment.x_sum, control.y_sum + treatment.y_sum
    var_x_pooled = _sample_variance(x_sum, control.x_sum_sq + treatment.x_sum_sq, n)
    cov_pooled = _sample_covariance(x_sum, y_sum, control.xy_sum + treatment.xy_sum, n)
    theta = cov_pooled / var_x_pooled if var_x_pooled > 0 else 0.0

    def moments(arm: CupedSums) -> tuple[float, float, float, float, float]:
        var_y = _sample_variance(arm.y_sum, arm.y_sum_sq, arm.n)
        var_x = _sample_variance(arm.x_sum, arm.x_sum_sq, arm.n)
        cov = _sample_covariance(arm.x_sum, arm.y_sum, arm.xy_sum, arm.n)
        var_adj = max(var_y + theta**2 * var_x - 2 * theta * cov, 0.0)
        return arm.y_sum / arm.n, arm.x_sum / arm.n, var_y, cov, var_adj

    y_a, x_a, var_y_a, cov_a, adj_var_a = moments(control)
    y_b, x_b, var_y_b, cov_b, adj_var_b = moments(treatment)
    var_x_a = _sample_variance(control.x_sum, control.x_sum_sq, control.n)
    n_a, n_b = control.n, treatment.n
    if relative and y_a == 0:
        raise UserError(
            f"{name}: the control average is 0, so a relative lift is undefined. The metric "
            "cannot be estimated yet; wait for data or use relative=False."
        )
    abs_diff = (y_b - theta * x_b) - (y_a - theta * x_a)
    if relative:
        # gbstats' formula: the control term uses -ȳ_b as the derivative constant, i.e. it
        # treats the pre-period means as equal across arms (true in expectation under
        # randomisation). Kept as is so the published vector is reproduced exactly.
        v_trt = adj_var_b / (n_b * y_a**2)
        const = -y_b
        v_ctrl = (
            var_y_a * const**2 / y_a**2 + 2 * theta * cov_a * const / y_a + theta**2 * var_x_a
        ) / (n_a * y_a**2)
        variance = v_trt + v_ctrl
        unadjusted = _diff_variance(y_a, var_y_a, n_a, y_b, var_y_b, n_b, relative=True)
    else:
        variance = adj_var_a / n_a + adj_var_b / n_b
        unadjusted = var_y_a / n_a + var_y_b / n_b
    dof = _welch_dof(adj_var_a, n_a, adj_var_b, n_b) if adj_var_a + adj_var_b > 0 else math.inf
    result = _t_result(
        name,
        "cuped",
        control=y_a,
        treatment=y_b,
        abs_diff=abs_diff,
        rel_lift=abs_diff / y_a if y_a else math.nan,
        variance=variance,
        dof=dof,
        n_a=n_a,
        n_b=n_b,
        relative=relative,
        alpha=alpha,
    )
    reduction = 1 - variance / unadjusted if unadjusted > 0 else 0.0
    return CupedResult(result=result, theta=float(theta), variance_reduction=float(reduction))


def chance_to_win(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Bayesian chance that the treatment's conversion rate beats control's (flat prior).

    The posterior of the relative lift is approximated by a normal with the delta-method
    variance, as gbstats does with an uninformative prior, so it is Φ(lift / se).
    """
    result = proportion_test(successes_a, n_a, successes_b, n_b, relative=True)
    return _chance_from(result)


def _chance_from(result: MetricResult) -> float:
    point = result.rel_lift if result.ci_scale == "relative" else result.abs_diff
    return float(stats.norm.cdf(point / result.se))


def srm_test(
    counts: Mapping[str, int], planned: Mapping[str, float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-squared goodness of fit of the arm sizes against the planned split.

    ``planned`` holds shares (any positive numbers; they are normalised). A p-value below
    ``threshold`` (0.001) flags a sample ratio mismatch: the readout cannot be trusted.
    """
    if not planned:
        raise UserError(
            "planned split is empty; pass shares such as {'control': 0.5, 'treatment': 0.5}."
        )
    unknown = sorted(set(counts) - set(planned))
    if unknown:
        raise UserError(
            f"Variant(s) {unknown} are in the data but not in the planned split "
            f"{sorted(planned)}; add them to the plan or check the variant names."
        )
    if any(not share > 0 for share in planned.values()):
        raise UserError(f"Every planned share must be positive; got {dict(planned)}.")
    if any(int(c) < 0 for c in counts.values()):
        raise UserError(f"Arm sizes cannot be negative; got {dict(counts)}.")
    names = list(planned)
    observed = np.array([int(counts.get(v, 0)) for v in names], dtype=float)
    total = observed.sum()
    if total == 0:
        raise UserError("No units in any arm: there is nothing to check the split on.")
    shares = np.array([planned[v] for v in names], dtype=float)
    expected = total * shares / shares.sum()
    statistic, p_value = stats.chisquare(observed, expected)
    flagged = bool(p_value < threshold)
    parts = ", ".join(
        f"{v} {int(o):,} ({o / total:.1%}; planned {e / total:.1%})"
        for v, o, e in zip(names, observed, expected, strict=True)
    )
    if flagged:
        message = (
            f"Sample ratio mismatch (p = {p_value:.2g}): {parts}. The split is not what was "
            "planned, so this readout cannot be trusted. Find the cause (assignment bug, "
            "redirects, bot filtering, late logging) before reading any metric."
        )
    else:
        message = f"Arm sizes match the planned split (p = {p_value:.2g}): {parts}."
    return SrmResult(
        p_value=float(p_value),
        statistic=float(statistic),
        observed={v: int(o) for v, o in zip(names, observed, strict=True)},
        expected={v: float(e) for v, e in zip(names, expected, strict=True)},
        flagged=flagged,
        message=message,
        threshold=threshold,
    )


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Multiple-testing adjusted p-values: ``"holm"`` (family-wise error rate) or ``"fdr_bh"``
    (Benjamini-Hochberg false discovery rate)."""
    if method not in CORRECTIONS:
        raise UserError(f"method must be one of {CORRECTIONS}; got {method!r}.")
    values = np.asarray(pvalues, dtype=float)
    if values.size == 0:
        return values
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise UserError(f"p-values must lie between 0 and 1; got {values.tolist()}.")
    if method == "fdr_bh":
        return multipletests(values, method="fdr_bh")[1]
    # Holm by hand: statsmodels' Holm branch forces a full gc.collect() on every call (0.1-0.5 s
    # in a busy kernel, and a readout corrects several families). Tests compare with statsmodels.
    order = np.argsort(values, kind="stable")
    steps = values[order] * np.arange(values.size, 0, -1)
    adjusted = np.empty_like(values)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


# --------------------------------------------------------------------------------------------
# Planning: sample size and minimum detectable effect
# --------------------------------------------------------------------------------------------


def _z_total(alpha: float, power: float) -> float:
    _check_alpha(alpha)
    if not 0 < power < 1:
        raise UserError(f"power must be between 0 and 1 (e.g. 0.8); got {power!r}.")
    return stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)


def _check_planning(kind: str, baseline: float, sd: float | None) -> None:
    if kind == "proportion":
        if not 0 < baseline < 1:
            raise UserError(
                f"baseline must be a conversion rate between 0 and 1; got {baseline!r}."
            )
    elif kind == "mean":
        if sd is None or not sd > 0:
            raise UserError(
                "sd (the standard deviation of the metric per unit, e.g. from last month) is "
                f"required and must be positive for kind='mean'; got {sd!r}."
            )
    else:
        raise UserError(f"kind must be 'proportion' or 'mean'; got {kind!r}.")


def _planned_n(
    baseline: float,
    delta: float,
    kind: str,
    sd: float | None,
    relative: bool,
    alpha: float,
    power: float,
) -> float:
    """Units per arm at which the readout's test reaches ``power`` against ``delta``.

    Normal approximation of the test statistic T = √n·h(â, b̂), h = (b - a) / D(a, b), with D²
    the per-unit variance the test estimates (for a relative lift the delta method's
    v_b + v_a (b/a)², else v_a + v_b). Because D is estimated from the same data, T's spread
    under the alternative is not 1 but s_T = sqrt(∇h' diag(v_a, v_b) ∇h) (delta method on T),
    so n = ((z_{1-α/2} + z_power·s_T) / h)². With s_T = 1 this is the textbook formula; for a
    relative lift that formula misses the planned power by about 4 points (80% planned, 76%
    delivered in simulation), this one delivers it.
    """
    _check_alpha(alpha)
    if not 0 < power < 1:
        raise UserError(f"power must be between 0 and 1 (e.g. 0.8); got {power!r}.")
    a, b = baseline, baseline + delta
    if kind == "proportion":
        v_a, v_b, dv_a, dv_b = a * (1 - a), b * (1 - b), 1 - 2 * a, 1 - 2 * b
    else:
        v_a = v_b = sd**2  # type: ignore[operator]
        dv_a = dv_b = 0.0
    if relative:
        r = b / a
        d2 = v_b + v_a * r**2
        d2_da, d2_db = dv_a * r**2 - 2 * v_a * r**2 / a, dv_b + 2 * v_a * r / a
    else:
        d2, d2_da, d2_db = v_a + v_b, dv_a, dv_b
    d = math.sqrt(d2)
    h = delta / d
    dh_da = -1 / d - delta * d2_da / (2 * d * d2)
    dh_db = 1 / d - delta * d2_db / (2 * d * d2)
    s_t = math.sqrt(dh_da**2 * v_a + dh_db**2 * v_b)
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    return ((z_alpha + z_power * s_t) / h) ** 2


def required_sample_size(
    baseline: float,
    minimum_effect: float,
    *,
    kind: str = "proportion",
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Units needed per arm for the readout's two-sided test to detect ``minimum_effect``.

    ``minimum_effect`` is a lift relative to ``baseline`` (``relative=True``, planned for the
    delta-method relative test) or an absolute difference (``relative=False``). Variances are
    unpooled, p(1 - p) for a proportion and ``sd`` in both arms for a mean; the normal
    approximation accounts for the standard error being estimated (see ``_planned_n``).
    """
    _check_planning(kind, baseline, sd)
    delta = minimum_effect * baseline if relative else minimum_effect
    if delta == 0:
        raise UserError("minimum_effect must not be 0: no sample can detect a zero effect.")
    if kind == "proportion" and not 0 < baseline + delta < 1:
        raise UserError(
            f"baseline {baseline} with effect {minimum_effect} gives a rate of "
            f"{baseline + delta:.3g}, outside 0-1; choose a smaller minimum_effect."
        )
    return math.ceil(_planned_n(baseline, delta, kind, sd, relative, alpha, power))


def minimum_detectable_effect(
    n_per_arm: int,
    baseline: float,
    *,
    kind: str = "proportion",
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest positive effect detectable with ``n_per_arm`` units per arm: the inverse of
    ``required_sample_size`` (relative to ``baseline`` unless ``relative=False``)."""
    _check_planning(kind, baseline, sd)
    if n_per_arm < 2:
        raise UserError(f"n_per_arm must be at least 2; got {n_per_arm!r}.")
    if kind == "mean" and not relative:
        return _z_total(alpha, power) * sd * math.sqrt(2 / n_per_arm)  # type: ignore[operator]
    # otherwise the variance depends on the effect itself: solve n(δ) = n_per_arm

    def gap(d: float) -> float:
        return _planned_n(baseline, d, kind, sd, relative, alpha, power) - n_per_arm

    lower = 1e-12 * abs(baseline) if relative else 1e-12
    upper = 1 - baseline - 1e-12 if kind == "proportion" else 1e6 * abs(baseline)
    if gap(upper) > 0:
        raise UserError(
            f"{n_per_arm} units per arm cannot detect any lift on a baseline of {baseline}; "
            "plan a larger sample."
        )
    delta = optimize.brentq(gap, lower, upper, xtol=1e-14, rtol=1e-12, maxiter=500)
    return delta / baseline if relative else delta


# --------------------------------------------------------------------------------------------
# Per-unit layer (engine): one row per randomisation unit
# --------------------------------------------------------------------------------------------


def _timestamp_literal(value: Any, like: ibis.Value) -> ibis.Value:
    """A timestamp literal of the same time-zone kind as the column it is compared with."""
    ts = pd.Timestamp(value)
    timezone = getattr(like.type(), "timezone", None)
    if timezone is None and ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    elif timezone is not None and ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ibis.literal(ts.to_pydatetime(), type=like.type())


def unit_outcomes(
    assignments: ibis.Table,
    orders: ibis.Table,
    experiment_id: str,
    *,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    pre_days: int = 28,
    sessions: ibis.Table | None = None,
    customers: ibis.Table | None = None,
) -> pd.DataFrame:
    """One row per unit of ``experiment_id``, aggregated in the engine.

    Columns: ``unit_id, variant, assigned_at, converted (0/1), orders, revenue, refunded_orders``
    (orders from the unit's first exposure up to ``end``), ``pre_revenue`` / ``pre_orders`` (the
    ``pre_days`` before exposure, the CUPED covariates), ``is_new`` (no order ever before
    exposure), ``device`` (most frequent session device in the window, ties alphabetically, or
    ``"unknown"``; only with ``sessions``, matched on ``visitor_id``), and ``country`` /
    ``acquisition_channel`` when ``customers`` has them. Units assigned in ``[start, end)``.

    Raises ``UserError`` when the experiment has no assignments or a unit saw two variants.
    """
    require_table_columns(
        "assignments", assignments.columns, ("experiment_id", "unit_id", "variant", "assigned_at")
    )
    require_table_columns("orders", orders.columns, ("customer_id", "ordered_at", "revenue"))
    if not isinstance(pre_days, int) or pre_days < 0:
        raise UserError(f"pre_days must be a whole number of days >= 0; got {pre_days!r}.")

    a = assignments.filter(assignments.experiment_id == experiment_id)
    if start is not None:
        a = a.filter(a.assigned_at >= _timestamp_literal(start, a.assigned_at))
    if end is not None:
        a = a.filter(a.assigned_at < _timestamp_literal(end, a.assigned_at))
    _check_assignments(assignments, a, experiment_id)

    units = a.group_by(["unit_id", "variant"]).aggregate(assigned_at=a.assigned_at.min())
    refunded = (
        orders.is_refunded.cast("boolean").fill_null(False)
        if "is_refunded" in orders.columns
        else ibis.literal(False)
    )
    o = orders.select(
        customer_id=orders.customer_id,
        ordered_at=orders.ordered_at,
        order_revenue=orders.revenue.cast("float64").fill_null(0.0),
        is_refund=refunded,
    )
    j = units.left_join(o, units.unit_id == o.customer_id)
    has_order = j.ordered_at.notnull()
    post = has_order & (j.ordered_at >= j.assigned_at)
    if end is not None:
        post = post & (j.ordered_at < _timestamp_literal(end, j.ordered_at))
    before = has_order & (j.ordered_at < j.assigned_at)
    pre = before & (j.ordered_at >= j.assigned_at - ibis.interval(days=pre_days))
    outcome = j.group_by(["unit_id", "variant", "assigned_at"]).aggregate(
        orders=ibis.ifelse(post, 1, 0).sum(),
        revenue=ibis.ifelse(post, j.order_revenue, 0.0).sum(),
        refunded_orders=ibis.ifelse(post & j.is_refund, 1, 0).sum(),
        pre_revenue=ibis.ifelse(pre, j.order_revenue, 0.0).sum(),
        pre_orders=ibis.ifelse(pre, 1, 0).sum(),
        orders_before=ibis.ifelse(before, 1, 0).sum(),
    )
    if sessions is not None:
        device = _main_device(units, sessions, end).rename(device_unit="unit_id")
        outcome = outcome.left_join(device, outcome.unit_id == device.device_unit).drop(
            "device_unit"
        )
    if customers is not None:
        require_table_columns("customers", customers.columns, ("customer_id",))
        extra = [c for c in ("country", "acquisition_channel") if c in customers.columns]
        if extra:
            cust = customers.select("customer_id", *extra).distinct(on="customer_id")
            outcome = outcome.left_join(cust, outcome.unit_id == cust.customer_id).drop(
                "customer_id"
            )
    frame = outcome.to_pandas()
    return _tidy_units(frame)


def _check_assignments(all_rows: ibis.Table, rows: ibis.Table, experiment_id: str) -> None:
    if int(rows.count().to_pandas()) == 0:
        known = sorted(
            all_rows.select("experiment_id")
            .distinct()
            .limit(20)
            .to_pandas()["experiment_id"]
            .astype(str)
        )
        raise UserError(
            f"No assignments for experiment {experiment_id!r} in that period. Experiments in "
            f"the assignments table: {known}."
        )
    per_unit = rows.group_by("unit_id").aggregate(n_variants=rows.variant.nunique())
    conflicts = per_unit.filter(per_unit.n_variants > 1)
    summary = conflicts.aggregate(n=conflicts.count(), example=conflicts.unit_id.min()).to_pandas()
    n_conflicts = int(summary["n"].iloc[0])
    if n_conflicts:
        raise UserError(
            f"Experiment {experiment_id!r}: {n_conflicts} unit(s) were assigned to more than "
            f"one variant (e.g. unit {summary['example'].iloc[0]!r}). Their outcomes cannot be "
            "attributed to one arm: fix the assignment export or drop those units first."
        )


def _main_device(
    units: ibis.Table, sessions: ibis.Table, end: str | dt.datetime | None
) -> ibis.Table:
    """Most frequent session device of each unit from exposure to ``end`` (ties: alphabetical)."""
    require_table_columns("sessions", sessions.columns, ("visitor_id", "started_at", "device"))
    s = sessions.select("visitor_id", "started_at", "device")
    j = units.inner_join(s, units.unit_id == s.visitor_id)
    in_window = j.started_at >= j.assigned_at
    if end is not None:
        in_window = in_window & (j.started_at < _timestamp_literal(end, j.started_at))
    counts = (
        j.filter(in_window & j.device.notnull())
        .group_by(["unit_id", "device"])
        .aggregate(n_sessions=ibis._.count())
    )
    rank = ibis.row_number().over(
        group_by=counts.unit_id, order_by=[ibis.desc(counts.n_sessions), counts.device]
    )
    return counts.mutate(rank=rank).filter(ibis._.rank == 0).select("unit_id", "device")


def _tidy_units(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("orders", "refunded_orders", "pre_orders", "orders_before"):
        frame[column] = frame[column].fillna(0).astype("int64")
    for column in ("revenue", "pre_revenue"):
        frame[column] = frame[column].fillna(0.0).astype("float64")
    frame["converted"] = (frame["orders"] > 0).astype("int64")
    frame["is_new"] = frame.pop("orders_before") == 0
    if "device" in frame.columns:
        frame["device"] = frame["device"].fillna("unknown").astype(str)
    frame["unit_id"] = frame["unit_id"].astype(str)
    frame["variant"] = frame["variant"].astype(str)
    first = [
        "unit_id",
        "variant",
        "assigned_at",
        "converted",
        "orders",
        "revenue",
        "pre_revenue",
        "pre_orders",
        "refunded_orders",
        "is_new",
    ]
    rest = [c for c in frame.columns if c not in first]
    return frame[first + rest].sort_values("unit_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Readout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardrailResult:
    """A guardrail metric (higher is worse) against its tolerated relative increase."""

    name: str
    result: MetricResult | None  # None when it cannot be estimated yet (e.g. no refunds)
    max_increase: float
    status: str  # "cleared" | "breached" | "not ruled out" | "not estimable"
    message: str


@dataclass(frozen=True)
class SampleSizeStatus:
    """How far the fixed-horizon sample got, and what it could detect."""

    planned_per_arm: int | None
    reached: dict[str, int]
    share_of_plan: float | None
    mde: float  # relative lift on the primary metric detectable with `power` at this size
    power: float
    message: str


@dataclass(frozen=True, eq=False)
class ReadoutResult:
    """Everything a post-launch review reports; see ``readout``."""

    control: str
    treatment: str
    alpha: float
    primary: str
    units: dict[str, int]
    srm: SrmResult
    metrics: dict[str, MetricResult]
    cuped: dict[str, CupedResult]
    guardrails: dict[str, GuardrailResult]
    segments: pd.DataFrame
    rpv_decomposition: pd.DataFrame
    sample_size: SampleSizeStatus
    chance_to_win: float  # Bayesian (flat prior) chance the treatment beats control, primary
    correction: str | None
    notes: tuple[str, ...] = field(default=())
    dropped_cuts: tuple[DroppedCut, ...] = field(default=())

    def metrics_table(self) -> pd.DataFrame:
        """One row per metric and guardrail, ready to format for a report."""
        rows = []
        for name, result in self.metrics.items():
            role = "primary" if name == self.primary else "secondary"
            rows.append(
                {
                    "role": role,
                    **result.as_dict(),
                    "variance_reduction": self.cuped[name].variance_reduction
                    if name in self.cuped
                    else math.nan,
                }
            )
        for guardrail in self.guardrails.values():
            if guardrail.result is None:
                continue
            rows.append(
                {
                    "role": "guardrail",
                    **guardrail.result.as_dict(),
                    "variance_reduction": math.nan,
                    "status": guardrail.status,
                }
            )
        return pd.DataFrame(rows).set_index("name")

    def as_dict(self) -> dict[str, Any]:
        """Nested plain values (tables as lists of records)."""
        return {
            "control": self.control,
            "treatment": self.treatment,
            "alpha": self.alpha,
            "primary": self.primary,
            "units": dict(self.units),
            "srm": asdict(self.srm),
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
            "cuped": {
                k: {"theta": v.theta, "variance_reduction": v.variance_reduction}
                for k, v in self.cuped.items()
            },
            "guardrails": {
                k: {**asdict(v), "result": v.result.as_dict() if v.result else None}
                for k, v in self.guardrails.items()
            },
            "segments": self.segments.to_dict("records"),
            "rpv_decomposition": self.rpv_decomposition.reset_index().to_dict("records"),
            "sample_size": asdict(self.sample_size),
            "chance_to_win": self.chance_to_win,
            "correction": self.correction,
            "notes": list(self.notes),
            "dropped_cuts": [asdict(d) for d in self.dropped_cuts],
        }


def _arms(
    units: pd.DataFrame, control: str, treatment: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    if not isinstance(units, pd.DataFrame) or units.empty:
        raise UserError("The units table is empty: there is nothing to read out yet.")
    for column in ("unit_id", "variant"):
        if column not in units.columns:
            raise UserError(
                f"The units table lacks column {column!r}; it has {list(units.columns)}. "
                "Build it with unit_outcomes()."
            )
    duplicated = units["unit_id"].duplicated()
    if duplicated.any():
        raise UserError(
            f"{int(duplicated.sum())} unit_id(s) appear more than once in the units table (e.g. "
            f"{units.loc[duplicated, 'unit_id'].iloc[0]!r}); it must hold one row per unit."
        )
    variants = sorted(units["variant"].astype(str).unique())
    if len(variants) < 2:
        raise UserError(
            f"Only one variant ({variants[0]!r}) is present: a readout needs a control and a "
            "treatment arm. Check the experiment id and the assignment export."
        )
    if control not in variants:
        raise UserError(
            f"Control variant {control!r} not found; the variants present are {variants}. "
            "Pass control=<one of these>."
        )
    others = [v for v in variants if v != control]
    if treatment is None:
        if len(others) > 1:
            raise UserError(
                f"There are {len(others)} treatment variants {others}; the readout compares one "
                "with control. Pass treatment=<one of these>."
            )
        treatment = others[0]
    elif treatment not in others:
        raise UserError(
            f"Treatment variant {treatment!r} not found; the variants present are {variants}."
        )
    variant = units["variant"].astype(str)
    arm_c, arm_t = units[variant == control], units[variant == treatment]
    for name, arm in ((control, arm_c), (treatment, arm_t)):
        if len(arm) < MIN_UNITS_PER_ARM:
            raise UserError(
                f"Only {len(arm)} units in the {name!r} arm; at least {MIN_UNITS_PER_ARM} per "
                "arm are needed for a readout. Let the experiment run longer."
            )
    return arm_c, arm_t, treatment


def _metric_columns(metric: str, units: pd.DataFrame) -> tuple[str, ...]:
    if metric in _METRIC_COLUMNS:
        return _METRIC_COLUMNS[metric]
    if metric in units.columns and pd.api.types.is_numeric_dtype(units[metric]):
        return (metric,)  # any numeric per-unit column is read as a mean metric
    raise UserError(
        f"Unknown metric {metric!r}: use one of {sorted(_METRIC_COLUMNS)} or the name of a "
        f"numeric column of the units table ({list(units.columns)})."
    )


def _check_metric_columns(units: pd.DataFrame, metrics: Collection[str]) -> None:
    for metric in metrics:
        missing = [c for c in _metric_columns(metric, units) if c not in units.columns]
        if missing:
            raise UserError(
                f"Metric {metric!r} needs column(s) {missing} in the units table; it has "
                f"{list(units.columns)}."
            )


def _compute_metric(
    metric: str,
    arm_c: pd.DataFrame,
    arm_t: pd.DataFrame,
    *,
    alpha: float,
    cuped: bool,
) -> tuple[MetricResult, CupedResult | None]:
    """The right test for a named metric, CUPED-adjusted when asked and a covariate exists."""
    label = _METRIC_LABELS.get(metric, metric)
    columns = _metric_columns(metric, arm_c)
    if metric == "conversion":
        conv_c, conv_t = arm_c["converted"], arm_t["converted"]
        return proportion_test(
            int(conv_c.sum()),
            len(conv_c),
            int(conv_t.sum()),
            len(conv_t),
            alpha=alpha,
            name=metric,
        ), None
    if len(columns) == 2:
        num, den = columns
        if arm_c[den].sum() == 0 or arm_t[den].sum() == 0:
            arm = arm_c if arm_c[den].sum() == 0 else arm_t
            raise UserError(
                f"{label} cannot be estimated yet: one arm ({len(arm)} units) has no {den}. "
                "Wait until both arms have some."
            )
        return ratio_test(
            RatioSums.from_values(arm_c[num], arm_c[den]),
            RatioSums.from_values(arm_t[num], arm_t[den]),
            alpha=alpha,
            name=metric,
        ), None
    (column,) = columns
    covariate = _CUPED_COVARIATES.get(metric)
    if cuped and covariate in arm_c.columns:
        adjusted = cuped_test(
            CupedSums.from_values(arm_c[column], arm_c[covariate]),
            CupedSums.from_values(arm_t[column], arm_t[covariate]),
            alpha=alpha,
            name=metric,
        )
        return adjusted.result, adjusted
    values_c, values_t = arm_c[column].astype(float), arm_t[column].astype(float)
    return mean_test(
        values_c.sum(),
        (values_c**2).sum(),
        len(values_c),
        values_t.sum(),
        (values_t**2).sum(),
        len(values_t),
        alpha=alpha,
        name=metric,
    ), None


def _with_adjusted(results: list[MetricResult], method: str | None) -> list[MetricResult]:
    if method is None or not results:
        return results
    adjusted = adjust_pvalues([r.p_value for r in results], method)
    return [
        replace(r, p_value_adjusted=float(p), correction=method, significant=bool(p < r.alpha))
        for r, p in zip(results, adjusted, strict=True)
    ]


def guardrail_status(result: MetricResult, max_increase: float) -> tuple[str, str]:
    """Status of a higher-is-worse guardrail against a tolerated relative increase, by
    non-inferiority on the ``1 - alpha`` interval of the relative change:

    ``"cleared"`` when the interval's upper end is below ``max_increase`` (a breach is ruled
    out); ``"breached"`` when its lower end is above it; otherwise ``"not ruled out"`` (which
    blocks a ship). Returns (status, one-sentence message).
    """
    label = _METRIC_LABELS.get(result.name, result.name)
    low, high = relative_interval(result)
    change = (
        f"{label} changed by {result.rel_lift:+.1%} ({1 - result.alpha:.0%} interval "
        f"{low:+.1%} to {high:+.1%}; limit {max_increase:+.1%})"
    )
    if high < max_increase:
        return "cleared", f"Cleared: {change}; a rise above the limit is ruled out."
    if low > max_increase:
        return "breached", f"Breached: {change}; the whole interval lies above the limit."
    return "not ruled out", (
        f"Not ruled out yet: {change}; a rise above the limit is still possible."
    )


def relative_interval(result: MetricResult) -> tuple[float, float]:
    """The interval of the relative change, whatever scale the test was run on."""
    if result.ci_scale == "relative":
        return result.ci_low, result.ci_high
    return result.ci_low / result.control, result.ci_high / result.control


def _guardrails(
    limits: Mapping[str, float], arm_c: pd.DataFrame, arm_t: pd.DataFrame, alpha: float
) -> dict[str, GuardrailResult]:
    out = {}
    for name, max_increase in limits.items():
        try:
            result, _ = _compute_metric(name, arm_c, arm_t, alpha=alpha, cuped=False)
        except ValueError as error:
            # e.g. no refunds at all yet: nothing to compare, which is no reason to stop the
            # readout; the guardrail says so instead
            out[name] = GuardrailResult(
                name, None, float(max_increase), "not estimable", f"Not estimable: {error}"
            )
            continue
        status, message = guardrail_status(result, max_increase)
        out[name] = GuardrailResult(name, result, float(max_increase), status, message)
    return out


@dataclass(frozen=True)
class DroppedCut:
    """A requested segment cut (or one level of it) that was not tested, and why."""

    segment: str
    level: str | None  # None: the whole cut was dropped
    reason: str


_SEGMENT_SOURCES = {
    "device": "the sessions table (device of each visit)",
    "country": "the customers table (country column)",
    "acquisition_channel": "the customers table (acquisition_channel column)",
    "is_new": "the orders table",
}


def _cut_gate(metric: str, cut_c: pd.DataFrame, cut_t: pd.DataFrame) -> str | None:
    """Why a cut is too small to test (None when it can be tested)."""
    if min(len(cut_c), len(cut_t)) < MIN_UNITS_PER_ARM:
        return f"fewer than {MIN_UNITS_PER_ARM} visitors in an arm"
    if "converted" not in cut_c.columns:
        return None
    buyers = min(int(cut_c["converted"].sum()), int(cut_t["converted"].sum()))
    if buyers < MIN_CONVERSIONS_PER_CUT:
        return f"fewer than {MIN_CONVERSIONS_PER_CUT} buyers in an arm ({buyers})"
    if metric == "conversion":
        non_buyers = min(
            len(cut_c) - int(cut_c["converted"].sum()), len(cut_t) - int(cut_t["converted"].sum())
        )
        if non_buyers < MIN_CONVERSIONS_PER_CUT:
            return f"fewer than {MIN_CONVERSIONS_PER_CUT} non-buyers in an arm ({non_buyers})"
    return None


def segment_cuts(
    arm_c: pd.DataFrame,
    arm_t: pd.DataFrame,
    segments: Sequence[str],
    metric: str,
    *,
    alpha: float = 0.05,
    cuped: bool = True,
    correction: str | None = "holm",
) -> tuple[pd.DataFrame, tuple[DroppedCut, ...]]:
    """The primary metric within each level of each segment column, corrected as one family.

    A level is tested only when each arm has at least ``MIN_CONVERSIONS_PER_CUT`` buyers (and
    non-buyers, for conversion); smaller levels are listed with the reason. Returns the table
    and every requested cut or level that was not tested, with its reason.
    """
    rows: list[dict[str, Any]] = []
    results: list[MetricResult] = []
    dropped: list[DroppedCut] = []
    for segment in segments:
        if segment not in arm_c.columns:
            source = _SEGMENT_SOURCES.get(segment, f"a {segment!r} column in the units table")
            dropped.append(DroppedCut(segment, None, f"not in the data: it needs {source}"))
            continue
        keys_c, keys_t = arm_c[segment].astype(str), arm_t[segment].astype(str)
        levels = sorted(set(keys_c) | set(keys_t))
        if len(levels) < 2:
            dropped.append(
                DroppedCut(
                    segment,
                    None,
                    f"every visitor has the same value ({levels[0] if levels else 'none'}), "
                    "so there is nothing to compare",
                )
            )
            continue
        parts_c, parts_t = dict(tuple(arm_c.groupby(keys_c))), dict(tuple(arm_t.groupby(keys_t)))
        for level in levels:
            cut_c = parts_c.get(level, arm_c.iloc[:0])
            cut_t = parts_t.get(level, arm_t.iloc[:0])
            row = {
                "segment": segment,
                "level": level,
                "n_control": len(cut_c),
                "n_treatment": len(cut_t),
            }
            reason = _cut_gate(metric, cut_c, cut_t)
            if reason is None:
                try:
                    result, _ = _compute_metric(metric, cut_c, cut_t, alpha=alpha, cuped=cuped)
                except ValueError as error:  # e.g. no variation yet in this cut
                    reason = str(error)
            if reason is not None:
                dropped.append(DroppedCut(segment, level, reason))
                rows.append({**row, "note": f"not tested: {reason}"})
                continue
            results.append(result)
            rows.append({**row, "_result": len(results) - 1})
    adjusted = _with_adjusted(results, correction)
    columns = [
        "segment",
        "level",
        "n_control",
        "n_treatment",
        "control",
        "treatment",
        "rel_lift",
        "ci_low",
        "ci_high",
        "p_value",
        "p_value_adjusted",
        "significant",
        "note",
    ]
    table = []
    for row in rows:
        index = row.pop("_result", None)
        if index is not None:
            r = adjusted[index]
            row.update(
                control=r.control,
                treatment=r.treatment,
                rel_lift=r.rel_lift,
                ci_low=r.ci_low,
                ci_high=r.ci_high,
                p_value=r.p_value,
                p_value_adjusted=r.p_value_adjusted,
                significant=r.significant,
                note="",
            )
        table.append(row)
    return pd.DataFrame(table, columns=columns), tuple(dropped)


def rpv_decomposition(arm_c: pd.DataFrame, arm_t: pd.DataFrame) -> pd.DataFrame:
    """Revenue per visitor = conversion × orders per buyer × AOV, for each arm.

    ``log_contribution`` is ln(treatment / control) of each factor; they add up to the RPV
    row, so ``share_of_rpv_lift`` (each factor's log contribution over RPV's) sums to 1 and
    says which factor drove the RPV change.
    """

    def factors(arm: pd.DataFrame) -> dict[str, float]:
        units, buyers = len(arm), float(arm["converted"].sum())
        orders, revenue = float(arm["orders"].sum()), float(arm["revenue"].sum())
        return {
            "conversion": buyers / units,
            "orders_per_buyer": orders / buyers if buyers else math.nan,
            "aov": revenue / orders if orders else math.nan,
            "revenue_per_visitor": revenue / units,
        }

    table = pd.DataFrame({"control": factors(arm_c), "treatment": factors(arm_t)})
    table.index.name = "factor"
    table["rel_change"] = table["treatment"] / table["control"] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        table["log_contribution"] = np.log(table["treatment"] / table["control"])
        total = table.loc["revenue_per_visitor", "log_contribution"]
        table["share_of_rpv_lift"] = table["log_contribution"] / total if total else math.nan
    return table


def readout(
    units: pd.DataFrame,
    *,
    control: str = "control",
    treatment: str | None = None,
    alpha: float = 0.05,
    metrics: Sequence[str] = DEFAULT_METRICS,
    primary: str | None = None,
    cuped: bool = True,
    correction: str | None = "holm",
    guardrails: Mapping[str, float] | None = None,
    segments: Sequence[str] = DEFAULT_SEGMENTS,
    planned_split: Mapping[str, float] | None = None,
    planned_units_per_arm: int | None = None,
    power: float = 0.8,
) -> ReadoutResult:
    """The post-launch readout of one experiment from its per-unit table.

    Parameters
    ----------
    units
        One row per randomisation unit (see ``unit_outcomes``).
    control, treatment
        Variant names; ``treatment`` may be omitted when there are exactly two variants.
    metrics
        Names from ``conversion, revenue_per_visitor, aov, orders_per_user`` or numeric
        columns of ``units`` (read as means). The first is the primary unless ``primary``.
    cuped
        Adjust revenue per visitor (by ``pre_revenue``) and orders per user (by ``pre_orders``).
    correction
        ``"holm"``, ``"fdr_bh"`` or ``None``: applied to the secondary metrics as one family and
        to the segment cuts as another; the primary metric and guardrails stay uncorrected.
    guardrails
        Metric -> tolerated relative increase (higher is worse); default refund rate +10%.
    segments
        Columns to cut the primary metric by (those present are used).
    planned_split, planned_units_per_arm, power
        The pre-registered plan: split for the SRM check (default equal), fixed-horizon sample
        size, and the power used for the minimum detectable effect.
    """
    _check_alpha(alpha)
    if correction is not None and correction not in CORRECTIONS:
        raise UserError(f"correction must be one of {CORRECTIONS} or None; got {correction!r}.")
    if not metrics:
        raise UserError("metrics is empty; name at least one metric, e.g. 'conversion'.")
    primary = primary or metrics[0]
    if primary not in metrics:
        raise UserError(f"primary {primary!r} must be one of the metrics {list(metrics)}.")
    arm_c, arm_t, treatment = _arms(units, control, treatment)
    limits = dict(DEFAULT_GUARDRAILS if guardrails is None else guardrails)
    if guardrails is None and "refunded_orders" not in units.columns:
        limits.pop("refund_rate")
    _check_metric_columns(units, [*metrics, *limits])
    notes = [
        "Fixed-horizon readout: p-values and intervals hold once, at the planned sample "
        "size; stopping early on a good day inflates false positives."
    ]

    results: dict[str, MetricResult] = {}
    adjusted_by_cuped: dict[str, CupedResult] = {}
    for metric in metrics:
        results[metric], adjusted = _compute_metric(metric, arm_c, arm_t, alpha=alpha, cuped=cuped)
        if adjusted is not None:
            adjusted_by_cuped[metric] = adjusted
    secondary = [m for m in metrics if m != primary]
    for metric, result in zip(
        secondary, _with_adjusted([results[m] for m in secondary], correction), strict=True
    ):
        results[metric] = result
    if adjusted_by_cuped:
        notes.append(
            "CUPED adjusts "
            + ", ".join(
                f"{_METRIC_LABELS.get(m, m)} by {_CUPED_COVARIATES[m]} (variance "
                f"{c.variance_reduction:.0%} lower)"
                for m, c in adjusted_by_cuped.items()
            )
            + "."
        )
    if correction and secondary:
        notes.append(
            f"Secondary metrics and segment cuts are each corrected for multiple "
            f"testing ({_correction_label(correction)}); intervals are not adjusted. "
            "The primary metric and guardrails are not corrected."
        )
    elif secondary:
        notes.append(
            "No multiple-testing correction: read secondary metrics and segment cuts "
            "as hints, not findings."
        )

    notes.extend(_few_buyers_note(arm_c, arm_t, metrics))

    planned = dict(planned_split) if planned_split else {control: 1.0, treatment: 1.0}
    counts = units["variant"].astype(str).value_counts().to_dict()
    counts = {v: int(c) for v, c in counts.items() if v in planned or v in (control, treatment)}
    srm = srm_test(counts, planned)
    guardrail_results = _guardrails(limits, arm_c, arm_t, alpha)
    cuts, dropped_cuts = segment_cuts(
        arm_c, arm_t, segments, primary, alpha=alpha, cuped=cuped, correction=correction
    )
    decomposition = (
        rpv_decomposition(arm_c, arm_t)
        if {"converted", "orders", "revenue"} <= set(units.columns)
        else pd.DataFrame()
    )
    primary_result = results[primary]
    return ReadoutResult(
        control=control,
        treatment=treatment,
        alpha=alpha,
        primary=primary,
        units={control: len(arm_c), treatment: len(arm_t)},
        srm=srm,
        metrics=results,
        cuped=adjusted_by_cuped,
        guardrails=guardrail_results,
        segments=cuts,
        dropped_cuts=dropped_cuts,
        rpv_decomposition=decomposition,
        sample_size=_sample_size_status(
            primary_result,
            len(arm_c),
            len(arm_t),
            planned_units_per_arm,
            alpha,
            power,
            control,
            treatment,
        ),
        chance_to_win=_chance_from(primary_result),
        correction=correction,
        notes=tuple(notes),
    )


def _few_buyers_note(arm_c: pd.DataFrame, arm_t: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    # Our A/A simulations (lognormal order values, sigma 1.2) put the false-positive rate of
    # revenue metrics at 6-7% instead of 5% with a few hundred buyers per arm, and on target
    # from about a thousand: the mean and its variance estimate move together in skewed data.
    revenue_metrics = {"revenue_per_visitor", "aov"} & set(metrics)
    if not revenue_metrics or "converted" not in arm_c.columns:
        return []
    buyers = int(min(arm_c["converted"].sum(), arm_t["converted"].sum()))
    if buyers >= FEW_BUYERS:
        return []
    return [
        f"Revenue metrics rest on only {buyers:,} buyers in the smaller arm. Order values are "
        "skewed, so with fewer than about 1,000 buyers per arm their p-values run somewhat "
        "optimistic: treat borderline revenue results (p between 0.01 and 0.05) as hints."
    ]


def _correction_label(method: str) -> str:
    return {
        "holm": "Holm, family-wise error rate",
        "fdr_bh": "Benjamini-Hochberg, false discovery rate",
    }[method]


def _sample_size_status(
    result: MetricResult,
    n_c: int,
    n_t: int,
    planned: int | None,
    alpha: float,
    power: float,
    control: str,
    treatment: str,
) -> SampleSizeStatus:
    # MDE at the achieved size from the observed standard error of the relative lift:
    # (z_{1-α/2} + z_power) × se, the normal-approximation form behind required_sample_size.
    mde = _z_total(alpha, power) * result.se
    if result.ci_scale == "absolute" and result.control:
        mde /= abs(result.control)
    reached = {control: n_c, treatment: n_t}
    if planned is None:
        share = None
        message = (
            f"No planned sample size was given; with {min(n_c, n_t):,} units per arm "
            f"this test detects lifts of about {mde:.1%} with {power:.0%} power."
        )
    else:
        if planned < 1:
            raise UserError(f"planned_units_per_arm must be positive; got {planned!r}.")
        share = min(n_c, n_t) / planned
        if share < 1:
            message = (
                f"Sample not reached: {min(n_c, n_t):,} of {planned:,} planned units per "
                f"arm ({share:.0%}). Treat the result as provisional; at this size the "
                f"test detects lifts of about {mde:.1%} with {power:.0%} power."
            )
        else:
            message = (
                f"Planned sample reached ({min(n_c, n_t):,} of {planned:,} units per "
                f"arm); the test detects lifts of about {mde:.1%} with {power:.0%} power."
            )
    return SampleSizeStatus(planned, reached, share, float(mde), power, message)


# --------------------------------------------------------------------------------------------
# Lift over time
# --------------------------------------------------------------------------------------------


def _daily_sums(units: pd.DataFrame, metric: str, date_col: str) -> pd.DataFrame:
    """Per day and variant: units and the sums the tests need (additive, so they cumulate)."""
    if date_col not in units.columns:
        raise UserError(
            f"The units table lacks the date column {date_col!r}; it has {list(units.columns)}."
        )
    columns = _metric_columns(metric, units)
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(units[date_col]).dt.floor("D"),
            "variant": units["variant"].astype(str),
            "units": 1,
        }
    )
    num = units[columns[0]].astype(float)
    frame["sum"], frame["sum_sq"] = num, num**2
    if len(columns) == 2:
        den = units[columns[1]].astype(float)
        frame["den_sum"], frame["den_sum_sq"], frame["cross_sum"] = den, den**2, num * den
    return frame.groupby(["date", "variant"], as_index=False).sum()


def lift_over_time(
    units_or_daily: pd.DataFrame,
    *,
    control: str = "control",
    treatment: str | None = None,
    metric: str = "conversion",
    date_col: str = "assigned_at",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cumulative lift day by day: a lift that fades as the days go by hints at novelty.

    Takes either the per-unit table (cumulated by the day of ``date_col``: the lift among units
    enrolled so far) or a daily table with columns ``date, variant, units, sum`` (and
    ``sum_sq`` for means): per day and arm the new units and the sum of the metric (for
    conversion, the conversions). Days where an arm has fewer than 30 units, or no conversions
    yet, have empty statistics and a ``note``.
    """
    _check_alpha(alpha)
    data = units_or_daily
    if "unit_id" in data.columns:
        _arms(data, control, treatment)  # same validation as the readout
        daily = _daily_sums(data, metric, date_col)
    else:
        needed = ["date", "variant", "units", "sum"] + (
            [] if metric == "conversion" else ["sum_sq"]
        )
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise UserError(f"The daily table lacks column(s) {missing}; it needs {needed}.")
        if metric == "aov":
            raise UserError("aov over time needs the per-unit table, not daily sums.")
        daily = data.assign(
            date=pd.to_datetime(data["date"]).dt.floor("D"), variant=data["variant"].astype(str)
        )
        if "sum_sq" not in daily.columns:
            daily = daily.assign(sum_sq=daily["sum"])
    variants = sorted(daily["variant"].unique())
    if control not in variants:
        raise UserError(f"Control variant {control!r} not found; variants present: {variants}.")
    others = [v for v in variants if v != control]
    if not others:
        raise UserError(f"Only one variant ({control!r}) is present: nothing to compare.")
    treatment = treatment or others[0]
    value_cols = [c for c in daily.columns if c not in ("date", "variant")]
    wide = daily.groupby(["date", "variant"])[value_cols].sum().unstack("variant", fill_value=0)
    cumulative = wide.sort_index().cumsum()
    rows = []
    for day, row in cumulative.iterrows():

        def arm(v: str, row: pd.Series = row) -> dict[str, float]:
            return {c: row[(c, v)] if (c, v) in row.index else 0.0 for c in value_cols}

        c, t = arm(control), arm(treatment)
        out: dict[str, Any] = {
            "date": day,
            "n_control": int(c["units"]),
            "n_treatment": int(t["units"]),
        }
        if min(c["units"], t["units"]) < MIN_UNITS_PER_ARM:
            rows.append({**out, "note": f"fewer than {MIN_UNITS_PER_ARM} units in an arm"})
            continue
        try:
            result = _result_from_sums(metric, c, t, alpha)
        except ValueError as error:
            rows.append({**out, "note": str(error)})
            continue
        rows.append(
            {
                **out,
                "control": result.control,
                "treatment": result.treatment,
                "rel_lift": result.rel_lift,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "p_value": result.p_value,
                "note": "",
            }
        )
    columns = [
        "date",
        "n_control",
        "n_treatment",
        "control",
        "treatment",
        "rel_lift",
        "ci_low",
        "ci_high",
        "p_value",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def _result_from_sums(
    metric: str, c: Mapping[str, float], t: Mapping[str, float], alpha: float
) -> MetricResult:
    n_c, n_t = int(c["units"]), int(t["units"])
    if metric == "conversion":
        return proportion_test(int(c["sum"]), n_c, int(t["sum"]), n_t, alpha=alpha, name=metric)
    if "den_sum" in c:

        def sums(a: Mapping[str, float], n: int) -> RatioSums:
            return RatioSums(
                n, a["sum"], a["sum_sq"], a["den_sum"], a["den_sum_sq"], a["cross_sum"]
            )

        return ratio_test(sums(c, n_c), sums(t, n_t), alpha=alpha, name=metric)
    return mean_test(
        c["sum"], c["sum_sq"], n_c, t["sum"], t["sum_sq"], n_t, alpha=alpha, name=metric
    )


# --------------------------------------------------------------------------------------------
# No experiment: difference-in-differences and event study
# --------------------------------------------------------------------------------------------

_DID_CAVEAT = (
    "Weaker evidence than an A/B test: this compares the change in the treated series with the "
    "change in the comparison series over the same dates, and is right only if both would have "
    "moved in parallel without the launch (check the event study: pre-launch effects should "
    "hover around zero). Anything else that changed for the treated series at launch is "
    "counted as the launch's effect."
)


@dataclass(frozen=True)
class DidResult:
    """Difference-in-differences estimate of the launch effect (in units of the value)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    relative_to_baseline: float  # estimate / treated pre-launch mean
    n_obs: int
    n_series: int
    se_type: str
    caveat: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class EventStudyResult:
    """Per-period effects relative to the period before launch (period -1 is the reference)."""

    table: pd.DataFrame
    pre_trend_p: float  # joint test that all pre-launch effects are zero (nan if none)
    se_type: str
    caveat: str


def _panel(
    df: pd.DataFrame,
    date_col: str,
    value_col: str,
    group_col: str,
    treated_group: str | Collection[str],
    launch_date: Any,
    unit_col: str | None,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Validated panel with ``series``, ``date``, ``value``, ``treated`` and ``post`` columns."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise UserError("The comparison data are empty: pass one row per series and date.")
    needed = [date_col, value_col, group_col] + ([unit_col] if unit_col else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"The data lack column(s) {missing}; they have {list(df.columns)}.")
    treated_set = {treated_group} if isinstance(treated_group, str) else set(treated_group)
    groups = set(df[group_col].astype(str))
    unknown = sorted(treated_set - groups)
    if unknown:
        raise UserError(
            f"Treated group(s) {unknown} not found in column {group_col!r}; it holds "
            f"{sorted(groups)[:20]}."
        )
    if not groups - treated_set:
        raise UserError(
            f"Every group in {group_col!r} is treated; difference-in-differences needs at "
            "least one comparison group that did not get the launch."
        )
    values = pd.to_numeric(df[value_col], errors="coerce")
    if values.isna().any():
        bad = df.loc[values.isna(), value_col].iloc[0]
        raise UserError(
            f"Column {value_col!r} must be numeric without gaps; found {bad!r}. Fill or drop "
            "those rows first."
        )
    launch = pd.Timestamp(launch_date)
    panel = pd.DataFrame(
        {
            "date": pd.to_datetime(df[date_col]),
            "value": values.astype(float),
            "group": df[group_col].astype(str),
        }
    )
    panel["series"] = df[unit_col].astype(str) if unit_col else panel["group"]
    panel["treated"] = panel["group"].isin(treated_set).astype(float)
    panel["post"] = (panel["date"] >= launch).astype(float)
    for side, name in ((1.0, "treated"), (0.0, "comparison")):
        part = panel[panel["treated"] == side]
        if part["post"].min() == 1 or part["post"].max() == 0:
            raise UserError(
                f"The {name} series need dates both before and after the launch "
                f"({launch.date()}); they run from {part['date'].min().date()} to "
                f"{part['date'].max().date()}."
            )
    return panel, launch


def _fit(panel: pd.DataFrame, effects: pd.DataFrame) -> tuple[Any, str]:
    """OLS of value on series and date fixed effects plus ``effects``, robust SEs.

    Two-way fixed effects: the date effects soak up everything common to all series (season,
    campaigns), the series effects their levels. Cluster by series when there are more than
    two series (errors within a series are correlated over time), else HC1.
    """
    columns = [effects.to_numpy(dtype=float)]
    names = ["const", *effects.columns]
    for prefix, key in (("series", panel["series"]), ("date", panel["date"])):
        codes, levels = pd.factorize(key, sort=True)
        one_hot = np.zeros((len(codes), len(levels)))
        one_hot[np.arange(len(codes)), codes] = 1.0
        columns.append(one_hot[:, 1:])  # first level is the baseline
        names += [f"{prefix}:{level}" for level in levels[1:]]
    design = pd.DataFrame(np.column_stack([np.ones(len(panel)), *columns]), columns=names)
    model = OLS(panel["value"].to_numpy(dtype=float), design)
    n_series = panel["series"].nunique()
    if n_series > 2:
        codes = pd.factorize(panel["series"])[0]
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        return fit, f"cluster-robust by series ({n_series} clusters)"
    return model.fit(cov_type="HC1", use_t=True), "HC1 heteroskedasticity-robust"


def _caveat(se_type: str, n_series: int) -> str:
    extra = ""
    if n_series <= 2:
        extra = (
            " With one series per side, standard errors treat dates as independent; "
            "daily data are usually autocorrelated, so the interval is likely too narrow."
        )
    elif n_series < 10:
        extra = (
            f" Only {n_series} series: clustered standard errors are unreliable with so "
            "few clusters."
        )
    return _DID_CAVEAT + extra


def difference_in_differences(
    df: pd.DataFrame,
    *,
    date_col: str,
    value_col: str,
    group_col: str,
    treated_group: str | Collection[str],
    launch_date: Any,
    unit_col: str | None = None,
    alpha: float = 0.05,
) -> DidResult:
    """Launch effect without an experiment: change in treated minus change in comparison.

    Parameters
    ----------
    df
        One row per series and date (e.g. daily revenue per country or per store).
    group_col, treated_group
        The column naming each series' group, and the group value(s) that got the launch.
    unit_col
        Optional series id when a group holds several series (stores of a region); the
        standard errors are then clustered by series.
    launch_date
        First date with the launch; earlier dates are the pre-period.

    Returns
    -------
    DidResult
        Estimate in units of ``value_col`` with a ``caveat`` that it is weaker evidence.
    """
    _check_alpha(alpha)
    panel, _ = _panel(df, date_col, value_col, group_col, treated_group, launch_date, unit_col)
    effect = pd.DataFrame({"did": panel["treated"] * panel["post"]})
    fit, se_type = _fit(panel, effect)
    low, high = fit.conf_int(alpha=alpha).loc["did"]
    estimate = float(fit.params["did"])
    baseline = panel.loc[(panel["treated"] == 1) & (panel["post"] == 0), "value"].mean()
    n_series = int(panel["series"].nunique())
    return DidResult(
        estimate=estimate,
        se=float(fit.bse["did"]),
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(fit.pvalues["did"]),
        relative_to_baseline=estimate / baseline if baseline else math.nan,
        n_obs=len(panel),
        n_series=n_series,
        se_type=se_type,
        caveat=_caveat(se_type, n_series),
    )


def _period_name(period: int) -> str:
    # parameter names must be valid in statsmodels' constraint strings ("pre_3 = 0")
    return f"pre_{-period}" if period < 0 else f"post_{period}"


def event_study(
    df: pd.DataFrame,
    *,
    date_col: str,
    value_col: str,
    group_col: str,
    treated_group: str | Collection[str],
    launch_date: Any,
    period_days: int = 7,
    unit_col: str | None = None,
    alpha: float = 0.05,
) -> EventStudyResult:
    """Effect of the launch per period (``period_days`` long), relative to the period just
    before launch (period -1, fixed at 0). Pre-launch effects near zero support the parallel
    trends assumption; ``pre_trend_p`` tests them jointly."""
    _check_alpha(alpha)
    if not isinstance(period_days, int) or period_days < 1:
        raise UserError(f"period_days must be a whole number >= 1; got {period_days!r}.")
    panel, launch = _panel(df, date_col, value_col, group_col, treated_group, launch_date, unit_col)
    period = np.floor((panel["date"] - launch) / pd.Timedelta(days=period_days)).astype(int)
    periods = sorted(p for p in period.unique() if p != -1)
    if -1 not in set(period):
        raise UserError(
            f"No data in the {period_days} days before launch, the reference period; pass data "
            "that cover it."
        )
    names = [_period_name(p) for p in periods]
    effects = pd.DataFrame(
        {name: panel["treated"] * (period == p) for name, p in zip(names, periods, strict=True)}
    ).astype(float)
    fit, se_type = _fit(panel, effects)
    ci = fit.conf_int(alpha=alpha)
    rows = []
    for p in sorted([*periods, -1]):
        start = launch + pd.Timedelta(days=p * period_days)
        if p == -1:
            rows.append(
                {
                    "period": p,
                    "start": start,
                    "estimate": 0.0,
                    "se": math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                    "p_value": math.nan,
                    "reference": True,
                }
            )
            continue
        name = _period_name(p)
        rows.append(
            {
                "period": p,
                "start": start,
                "estimate": float(fit.params[name]),
                "se": float(fit.bse[name]),
                "ci_low": float(ci.loc[name, 0]),
                "ci_high": float(ci.loc[name, 1]),
                "p_value": float(fit.pvalues[name]),
                "reference": False,
            }
        )
    pre = [_period_name(p) for p in periods if p < -1]
    pre_trend_p = math.nan
    if pre:
        test = fit.f_test(", ".join(f"{name} = 0" for name in pre))
        pre_trend_p = float(np.squeeze(test.pvalue))
    n_series = int(panel["series"].nunique())
    return EventStudyResult(
        table=pd.DataFrame(rows),
        pre_trend_p=pre_trend_p,
        se_type=se_type,
        caveat=_caveat(se_type, n_series),
    )
