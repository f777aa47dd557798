"""BG/NBD and Gamma-Gamma against published values, numeric integration and simulation.

Independent references used here:
- Fader, Hardie & Lee's CDNOW worksheet ("Implementing the BG/NBD model in Excel"): with
  r = 0.2426, alpha = 4.4135, a = 0.7931, b = 2.4259 (weeks), E[X(t)] for a new customer and
  E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226.
- numeric integration (scipy.integrate.quad) of the model's definition over lambda and p;
- an event-by-event simulation written here, separate from ``simulate_bgnbd``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats
from statsmodels.tools import numdiff

from {{ cookiecutter.module_name }} import bgnbd

CDNOW = (0.2426, 4.4135, 0.7931, 2.4259)  # r, alpha, a, b in weeks (published)
CDNOW_GG = (6.25, 3.74, 15.44)  # p, q, v of the CDNOW spend model (Fader & Hardie 2013)


def params(r=CDNOW[0], alpha=CDNOW[1], a=CDNOW[2], b=CDNOW[3]) -> bgnbd.BGNBDParams:
    return bgnbd.BGNBDParams(r, alpha, a, b, time_unit="weeks", loglik=np.nan, n=0)


def simulate_events(n, r, alpha, a, b, T, horizon, seed, max_events=300):
    """Event-by-event BG/NBD: exponential gaps, a dropout coin after each repeat purchase.

    Returns x, t_x at T, alive at T and whether any purchase falls in (T, T + horizon].
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    times = np.cumsum(rng.exponential(1 / lam[:, None], (n, max_events)), axis=1)
    assert (times[:, -1] > T + horizon).all(), "raise max_events: some histories were cut"
    drops = rng.random((n, max_events)) < p[:, None]  # dropout right after purchase j
    last_allowed = np.where(drops.any(axis=1), drops.argmax(axis=1) + 1, max_events)
    made = np.arange(1, max_events + 1)[None, :] <= last_allowed[:, None]
    before = made & (times <= T)
    x = before.sum(axis=1)
    t_x = np.where(x > 0, np.take_along_axis(times, np.maximum(x - 1, 0)[:, None], 1)[:, 0], 0)
    alive = x < last_allowed
    in_window = (made & (times > T) & (times <= T + horizon)).any(axis=1)
    return x, t_x, alive, in_window


# ------------------------------------------------------------------------- published values


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.1429, 0.0078),
        (1.0, 0.0532),
        (3.0, 0.1506),
        (31.8571, 1.0405),
        (32.0, 1.0437),
        (78.0, 1.8576),
    ],
)
def test_expected_purchases_of_a_new_customer_match_the_cdnow_worksheet(t, expected):
    # x = t_x = T = 0 is a customer just acquired: FHL eq. 9, E[X(t)].
    assert bgnbd.expected_purchases(params(), 0, 0, 0, t)[0] == pytest.approx(expected, abs=5e-4)


def test_conditional_expectation_matches_the_cdnow_worksheet():
    value = bgnbd.expected_purchases(params(), 2, 30.43, 38.86, 39)[0]
    assert value == pytest.approx(1.226, abs=5e-4)


# ------------------------------------------------------------------------ numeric integration


def integrate_beta(f, a, b):
    """E[f(p)] for p ~ Beta(a, b), with quad's algebraic weight p^(a-1) (1-p)^(b-1)."""
    value, _ = integrate.quad(f, 0, 1, weight="alg", wvar=(a - 1, b - 1))
    return value / special.beta(a, b)


def integrate_gamma(f, r, alpha):
    """E[f(lambda)] for lambda ~ Gamma(r, rate alpha); the weight carries the r < 1 spike."""
    norm = alpha**r / special.gamma(r)
    near, _ = integrate.quad(
        lambda lam: f(lam) * np.exp(-alpha * lam), 0, 1, weight="alg", wvar=(r - 1, 0)
    )
    far, _ = integrate.quad(lambda lam: f(lam) * lam ** (r - 1) * np.exp(-alpha * lam), 1, np.inf)
    return norm * (near + far)


@pytest.mark.parametrize(("x", "t_x", "T"), [(2, 30.43, 38.86), (0, 0.0, 38.86), (7, 12.5, 30.0)])
def test_loglik_matches_numeric_integration_over_lambda_and_p(x, t_x, T):
    r, alpha, a, b = CDNOW
    # L(lambda, p) = (1-p)^x lambda^x e^(-lambda T) + [x>0] p (1-p)^(x-1) lambda^x e^(-lambda t_x):
    # each term factorises, so the double integral is a sum of products of 1-D integrals.
    alive = integrate_beta(lambda p: (1 - p) ** x, a, b) * integrate_gamma(
        lambda lam: lam**x * np.exp(-lam * T), r, alpha
    )
    dropped = 0.0
    if x > 0:
        dropped = integrate_beta(lambda p: p * (1 - p) ** (x - 1), a, b) * integrate_gamma(
            lambda lam: lam**x * np.exp(-lam * t_x), r, alpha
        )
    expected = np.log(alive + dropped)
    assert bgnbd.bgnbd_loglik(CDNOW, x, t_x, T)[0] == pytest.approx(expected, rel=1e-7)


def test_analytic_gradient_matches_finite_differences():
    sim = bgnbd.simulate_bgnbd(500, *CDNOW, T=35.0, seed=1)
    x, t_x, T = (sim[c].to_numpy(float) for c in ("x", "t_x", "T"))
    point = np.log([0.3, 5.0, 0.9, 2.0])

    def total(log_params):
        return bgnbd.bgnbd_loglik(tuple(np.exp(log_params)), x, t_x, T).sum()

    gradient = bgnbd._loglik_and_grad(point, x, t_x, T)[1]
    np.testing.assert_allclose(gradient, optimize.approx_fprime(point, total, 1e-7), rtol=1e-4)


@pytest.mark.parametrize("a", [CDNOW[2], 1.0, 2.5])  # a = 1: the closed form is 0/0
@pytest.mark.parametrize(("x", "t_x", "T"), [(2, 30.43, 38.86), (0, 0.0, 20.0), (9, 39.0, 40.0)])
def test_expected_purchases_match_numeric_integration(a, x, t_x, T):
    r, alpha, _, b = CDNOW
    horizon = 26.0
    fitted = params(a=a)

    # Given alive: p ~ Beta(a, b + x), lambda ~ Gamma(r + x, alpha + T); a customer with
    # (lambda, p) makes (1 - exp(-lambda p h)) / p purchases in expectation in h.
    def purchases(p):
        if p == 0:  # the limit p -> 0: no dropout, E[lambda] * h
            return (r + x) / (alpha + T) * horizon
        return (1 - ((alpha + T) / (alpha + T + p * horizon)) ** (r + x)) / p

    given_alive = integrate_beta(purchases, a, b + x)
    expected = given_alive * bgnbd.p_alive(fitted, x, t_x, T)[0]
    assert bgnbd.expected_purchases(fitted, x, t_x, T, horizon)[0] == pytest.approx(
        expected, rel=1e-6
    )


# ------------------------------------------------------------------------------ simulation


def test_fit_recovers_cdnow_parameters_within_three_standard_errors():
    n = 20_000
    ages = np.random.default_rng(7).uniform(27, 39, n)  # CDNOW: acquired over 12 weeks, seen to 39
    sim = bgnbd.simulate_bgnbd(n, *CDNOW, T=ages, seed=11)
    fit = bgnbd.fit_bgnbd(sim["x"], sim["t_x"], sim["T"], time_unit="weeks")
    assert fit.converged and fit.n == n and fit.time_unit == "weeks"
    # Tolerance: 3 standard errors from the inverse observed information (a ~0.3% chance per
    # parameter of a false alarm; the seed is fixed so the test is deterministic).
    for name, truth in zip(("r", "alpha", "a", "b"), CDNOW, strict=True):
        estimate, se = getattr(fit, name), fit.std_errors[name]
        assert 0 < se < 0.2 * truth, f"{name}: implausible standard error {se}"
        assert abs(estimate - truth) < 3 * se, f"{name}: {estimate:.4f} vs {truth} (se {se:.4f})"
    assert fit.loglik == pytest.approx(
        bgnbd.bgnbd_loglik(fit, sim["x"], sim["t_x"], sim["T"]).sum()
    )


def test_simulator_matches_the_closed_form_mean_and_the_event_simulation():
    n, T = 20_000, 30.0
    sim = bgnbd.simulate_bgnbd(n, *CDNOW, T=T, seed=5)
    mean_x = bgnbd.expected_purchases(params(), 0, 0, 0, T)[0]  # worksheet-checked formula
    assert abs(sim["x"].mean() - mean_x) < 3 * sim["x"].std() / np.sqrt(n)
    x_events, _t_x, alive_events, _ = simulate_events(n, *CDNOW, T=T, horizon=1.0, seed=6)
    zero_rate = ((sim["x"] == 0).mean(), (x_events == 0).mean())
    assert abs(zero_rate[0] - zero_rate[1]) < 4 * np.sqrt(0.25 * 2 / n)
    assert abs(sim["alive"].mean() - alive_events.mean()) < 4 * np.sqrt(0.25 * 2 / n)


def test_p_no_purchase_of_one_time_buyers_matches_monte_carlo():
    n, T, horizon = 20_000, 30.0, 12.0
    x, _t_x, _alive, bought = simulate_events(n, *CDNOW, T=T, horizon=horizon, seed=21)
    one_time = x == 0
    observed = 1 - bought[one_time].mean()
    predicted = bgnbd.p_no_purchase(params(), 0, 0, T, horizon)[0]
    se = np.sqrt(predicted * (1 - predicted) / one_time.sum())
    assert abs(observed - predicted) < 3 * se
    assert bgnbd.p_alive(params(), 0, 0, T)[0] == 1.0  # why P(alive) cannot rank them


def test_p_alive_and_p_no_purchase_are_calibrated_for_repeat_buyers():
    n, T, horizon = 20_000, 39.0, 13.0
    x, t_x, alive, bought = simulate_events(n, *CDNOW, T=T, horizon=horizon, seed=33)
    repeat = x > 0
    cases = (
        (bgnbd.p_alive(params(), x, t_x, T), alive),
        (bgnbd.p_no_purchase(params(), x, t_x, T, horizon), ~bought),
    )
    for predicted, happened in cases:
        predicted, happened = predicted[repeat], happened[repeat]
        bins = np.quantile(predicted, np.linspace(0, 1, 6))
        which = np.clip(np.searchsorted(bins, predicted, side="right") - 1, 0, 4)
        for k in range(5):
            rows = which == k
            mean_p = predicted[rows].mean()
            se = np.sqrt(max(mean_p * (1 - mean_p), 1e-3) / rows.sum())
            assert abs(happened[rows].mean() - mean_p) < 4 * se, (k, mean_p, happened[rows].mean())


# ------------------------------------------------------------------------------ Gamma-Gamma


def simulate_spend(n, p, q, v, seed):
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(3, n)
    nu = rng.gamma(q, 1 / v, n)
    total = rng.gamma(p * x, 1 / nu)  # a sum of x Gamma(p, nu) spends is Gamma(p x, nu)
    return x, total / x, p / nu


def test_gamma_gamma_recovers_planted_parameters_within_three_standard_errors():
    x, mean_spend, _true_mean = simulate_spend(8_000, *CDNOW_GG, seed=3)
    fit = bgnbd.fit_gamma_gamma(x, mean_spend)

    def negative_loglik(theta):
        return -bgnbd.gamma_gamma_loglik(tuple(theta), x, mean_spend).sum()

    hessian = numdiff.approx_hess3(np.array(fit), negative_loglik)
    errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    for estimate, truth, se in zip(fit, CDNOW_GG, errors, strict=True):
        assert abs(estimate - truth) < 3 * se, (estimate, truth, se)


def test_gamma_gamma_density_matches_numeric_integration_over_nu():
    p, q, v = CDNOW_GG
    x, m = 4, 31.7
    # mean of x Gamma(p, nu) spends is Gamma(p x, rate nu x); nu ~ Gamma(q, rate v)
    density, _ = integrate.quad(
        lambda nu: (
            stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / v)
        ),
        0,
        np.inf,
    )
    assert bgnbd.gamma_gamma_loglik(CDNOW_GG, x, m)[0] == pytest.approx(np.log(density), rel=1e-7)


def test_expected_spend_is_the_posterior_mean_by_integration_and_simulation():
    p, q, v = CDNOW_GG
    x, m = 3, 52.0

    def log_posterior(nu):  # prior Gamma(q, v) times the likelihood of the mean spend m
        return stats.gamma.logpdf(nu, q, scale=1 / v) + stats.gamma.logpdf(
            m, p * x, scale=1 / (nu * x)
        )

    peak = log_posterior(0.1)  # rescale: the raw density is ~1e-20, below quad's abs tolerance
    posterior = lambda nu: np.exp(log_posterior(nu) - peak)  # noqa: E731
    weight, _ = integrate.quad(posterior, 0, np.inf, epsabs=0, limit=200)
    mean, _ = integrate.quad(lambda nu: p / nu * posterior(nu), 0, np.inf, epsabs=0, limit=200)
    gg = bgnbd.GammaGammaParams(*CDNOW_GG)
    assert bgnbd.expected_spend(gg, x, m)[0] == pytest.approx(mean / weight, rel=1e-6)
    # Over a simulated population the conditional means average to the true mean spends.
    xs, means, truth = simulate_spend(20_000, *CDNOW_GG, seed=8)
    gap = bgnbd.expected_spend(gg, xs, means) - truth
    assert abs(gap.mean()) < 3 * gap.std() / np.sqrt(gap.size)
    assert bgnbd.expected_spend(gg, 0, 0.0)[0] == pytest.approx(p * v / (q - 1))


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([-1, 2], [0, 3], [5, 5], "must be >= 0; customer #0 has x=-1"),
        ([1.5, 2], [1, 3], [5, 5], "whole number"),
        ([1, 2], [6, 3], [5, 5], "must not exceed T"),
        ([0, 2], [2, 3], [5, 5], "t_x must be 0"),
        ([1, 2], [1, np.nan], [5, 5], "missing"),
        ([1, 2, 3], [1, 2], [5, 5], "one value per customer"),
    ],
)
def test_bad_customer_histories_are_refused_with_a_clear_message(x, t_x, T, message):
    with pytest.raises(ValueError, match=message):
        bgnbd.p_alive(params(), x, t_x, T)


def test_fitting_without_any_repeat_purchase_is_refused():
    with pytest.raises(ValueError, match="No customer has a repeat purchase"):
        bgnbd.fit_bgnbd(np.zeros(50), np.zeros(50), np.full(50, 10.0))
    with pytest.raises(ValueError, match="at least 10 customers"):
        bgnbd.fit_bgnbd([1, 0], [1, 0], [3, 3])
    with pytest.raises(ValueError, match="time_unit"):
        bgnbd.fit_bgnbd(np.ones(20), np.ones(20), np.full(20, 3.0), time_unit="months")
    with pytest.raises(ValueError, match="horizon"):
        bgnbd.p_no_purchase(params(), 1, 1, 3, horizon=0)


def test_gamma_gamma_bad_input_is_refused():
    with pytest.raises(ValueError, match="frequency > 0"):
        bgnbd.fit_gamma_gamma([0] * 20, [10.0] * 20)
    with pytest.raises(ValueError, match="mean_spend must be > 0"):
        bgnbd.fit_gamma_gamma([1] * 20, [10.0] * 19 + [0.0])
    with pytest.raises(ValueError, match="q is"):
        bgnbd.expected_spend(bgnbd.GammaGammaParams(2.0, 0.9, 10.0), [1], [10.0])
