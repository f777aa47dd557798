"""BG/NBD purchase model and Gamma-Gamma spend model, fitted by maximum likelihood.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") describes a
non-contractual customer by a purchase rate ``lambda ~ Gamma(r, alpha)`` while alive and a
chance ``p ~ Beta(a, b)`` of dropping out right after each repeat purchase. Its inputs per
customer are ``x`` (repeat purchases: purchase days after the first), ``t_x`` (time of the
last purchase, counted from the first) and ``T`` (time from the first purchase to the cutoff),
all in one stated time unit.

Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") gives the
expected spend per transaction from a customer's repeat-purchase count and mean spend.

Hand-written on purpose: the classic ``lifetimes`` package is archived and unmaintained. The
maths is small, uses only scipy (``gammaln``/``betaln``/``hyp2f1``, L-BFGS-B) and is tested
against published values (Fader-Hardie CDNOW worksheets), numeric integration and simulation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, special
from statsmodels.tools import numdiff

from .errors import UserError

TIME_UNITS = ("days", "weeks")
_BOUND = 12.0  # log-parameters stay in [-12, 12]: far beyond any real shop, safe from overflow

ArrayLike = np.ndarray | pd.Series | list | float | int


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters.

    ``r, alpha``: Gamma heterogeneity of purchase rates (mean rate r / alpha per time unit);
    ``a, b``: Beta heterogeneity of the dropout chance (mean a / (a + b)); ``time_unit`` of
    ``alpha`` and of every time passed to the prediction functions; ``loglik`` the maximised
    log-likelihood over ``n`` customers; ``std_errors`` from the inverse Hessian.
    """

    r: float
    alpha: float
    a: float
    b: float
    time_unit: str
    loglik: float
    n: int
    std_errors: dict[str, float] = field(default_factory=dict)
    converged: bool = True

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


class GammaGammaParams(NamedTuple):
    """Gamma-Gamma parameters: spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float


# ----------------------------------------------------------------------------------- inputs


def _as_float_array(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise UserError(f"{name} must be one value per customer (a 1-D list or Series).")
    if not np.all(np.isfinite(array)):
        raise UserError(f"{name} has missing or infinite values; every customer needs one.")
    return array


def _check_inputs(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, ...]:
    """Validated, broadcast (x, t_x, T) arrays; messages name the offending value."""
    x, t_x, T = (_as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
    try:
        x, t_x, T = np.broadcast_arrays(x, t_x, T)
    except ValueError as error:
        raise UserError(
            f"x, t_x and T must have one value per customer; got lengths {x.size}, "
            f"{t_x.size} and {T.size}."
        ) from error
    checks = (
        (x < 0, "x (repeat purchases) must be >= 0"),
        (x != np.round(x), "x (repeat purchases) must be a whole number"),
        (t_x < 0, "t_x (time of last purchase) must be >= 0"),
        (t_x > T * (1 + 1e-9) + 1e-9, "t_x (time of last purchase) must not exceed T (age)"),
        ((x == 0) & (t_x > 0), "t_x must be 0 for customers with no repeat purchase (x = 0)"),
    )
    for bad, message in checks:
        if np.any(bad):
            i = int(np.argmax(bad))
            raise UserError(f"{message}; customer #{i} has x={x[i]:g}, t_x={t_x[i]:g}, T={T[i]:g}.")
    return x, np.minimum(t_x, T), T


def _check_time_unit(time_unit: str) -> str:
    if time_unit not in TIME_UNITS:
        raise UserError(f"time_unit must be one of {TIME_UNITS}, got {time_unit!r}.")
    return time_unit


# -------------------------------------------------------------------------------- likelihood


def bgnbd_loglik(
    params: tuple[float, float, float, float] | BGNBDParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), one value per customer."""
    r, alpha, a, b = params.as_tuple() if isinstance(params, BGNBDParams) else params
    x, t_x, T = _check_inputs(x, t_x, T)
    return _loglik_and_grad(np.log([r, alpha, a, b]), x, t_x, T, gradient=False)[0]


def _loglik_and_grad(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    *,
    gradient: bool = True,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer log-likelihood and the summed gradient w.r.t. the log-parameters.

    ``distinct`` is ``np.unique(x, return_inverse=True)``, passed by a fit that evaluates this
    many times on the same customers (sorting x on every evaluation was about half of a fit).

    L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)).
    Summed in log space with logaddexp, so neither term underflows; the second term is left out
    (not evaluated) for one-time buyers, where B(a+1, b-1) would be undefined for b < 1.
    The analytic gradient (digamma terms) keeps a fit on a million customers to seconds.
    """
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)  # a harmless stand-in where the second term is unused
    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)

    # Terms that depend on x only are computed once per distinct x (there are few of them).
    ux, inverse = np.unique(x, return_inverse=True) if distinct is None else distinct
    uxs = np.where(ux > 0, ux, 1.0)
    betaln_ab = special.betaln(a, b)
    part1 = (special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha))[inverse]
    beta2 = (special.betaln(a, b + ux) - betaln_ab)[inverse]
    beta3 = (special.betaln(a + 1, b + uxs - 1) - betaln_ab)[inverse]

    term2 = beta2 - (r + x) * log_alpha_T
    term3 = np.where(repeat, beta3 - (r + xs) * log_alpha_tx, -np.inf)
    log_sum = np.logaddexp(term2, term3)
    loglik = part1 + log_sum
    if not gradient:
        return loglik, None

    w3 = np.exp(term3 - log_sum)  # share of the likelihood from "dropped out after t_x"
    w2 = 1.0 - w3
    dg = special.digamma
    d_r = (dg(r + ux) - dg(r))[inverse] + np.log(alpha) - w2 * log_alpha_T - w3 * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (w2 / (alpha + T) + w3 / (alpha + t_x))
    common = dg(a + b) - dg(a + b + ux)
    d_a = common[inverse] + w3 / a  # digamma(a + 1) - digamma(a) = 1 / a
    d_b = (common + dg(b + ux) - dg(b))[inverse] * w2 + (
        (common + dg(b + uxs - 1) - dg(b))[inverse] * w3
    )
    grad = np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()])
    return loglik, grad * np.array([r, alpha, a, b])  # chain rule to log-parameters


# ----------------------------------------------------------------------------------- fitting


def _start_values(x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Method-of-moments-like start: rate r/alpha near the observed repeat rate."""
    rate = max(x.sum() / max(T.sum(), 1e-9), 1e-6)
    return np.log([1.0, 1.0 / rate, 1.0, 1.0])


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    time_unit: str = "weeks",
) -> BGNBDParams:
    """Fit BG/NBD by maximum likelihood.

    Parameters
    ----------
    x : repeat purchases per customer (purchase days after the first one).
    t_x : time from the first to the last purchase (0 when x = 0).
    T : time from the first purchase to the cutoff.
    time_unit : "weeks" or "days", the unit of ``t_x`` and ``T`` (recorded on the result).

    Returns
    -------
    BGNBDParams with the estimates, maximised log-likelihood and standard errors.
    """
    _check_time_unit(time_unit)
    x, t_x, T = _check_inputs(x, t_x, T)
    if x.size < 10:
        raise UserError(f"BG/NBD needs at least 10 customers to fit; got {x.size}.")
    if not np.any(x > 0):
        raise UserError(
            "No customer has a repeat purchase, so the BG/NBD dropout cannot be estimated; "
            "use a longer history (an earlier first date) or skip the BG/NBD baseline."
        )
    if np.all(T <= 0):
        raise UserError("Every customer has age T = 0; use a cutoff after the first purchases.")

    distinct = np.unique(x, return_inverse=True)

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        loglik, grad = _loglik_and_grad(log_params, x, t_x, T, distinct=distinct)
        return -float(loglik.sum()), -grad

    result = optimize.minimize(
        objective,
        _start_values(x, T),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_BOUND, _BOUND)] * 4,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-7},
    )
    if not result.success:
        warnings.warn(f"BG/NBD fit did not fully converge: {result.message}", stacklevel=2)
    r, alpha, a, b = np.exp(result.x)
    return BGNBDParams(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        time_unit=time_unit,
        loglik=-float(result.fun),
        n=int(x.size),
        std_errors=_bgnbd_std_errors(result.x, x, t_x, T, distinct),
        converged=bool(result.success),
    )


def _bgnbd_std_errors(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Standard errors of (r, alpha, a, b) from the inverse observed information.

    The Hessian is the central-difference Jacobian of the analytic gradient in natural
    parameters (statsmodels' numdiff), so no second derivatives are hand-written.
    """
    natural = np.exp(log_params)

    def gradient(theta: np.ndarray) -> np.ndarray:
        if np.any(theta <= 0):
            return np.full(4, np.nan)
        return -_loglik_and_grad(np.log(theta), x, t_x, T, distinct=distinct)[1] / theta

    hessian = numdiff.approx_fprime(natural, gradient, centered=True)
    hessian = (hessian + hessian.T) / 2
    try:
        variances = np.diag(np.linalg.inv(hessian))
    except np.linalg.LinAlgError:
        variances = np.full(4, np.nan)
    errors = np.sqrt(np.where(variances > 0, variances, np.nan))
    return dict(zip(("r", "alpha", "a", "b"), map(float, errors), strict=True))


# ------------------------------------------------------------------------------- predictions


def p_alive(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """Probability each customer is still alive at T (FHL 2005 note, "Computing P(alive)").

    1 / (1 + [x > 0] a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)). It is 1 for
    every one-time buyer (dropout only happens right after a repeat purchase), which is why
    customers are ranked by P(no purchase in the horizon) instead.
    """
    x, t_x, T = _check_inputs(x, t_x, T)
    r, alpha, a, b = params.as_tuple()
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)
    log_odds = np.log(a) - np.log(b + xs - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, special.expit(-log_odds), 1.0)


def p_no_purchase(
    params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, horizon: float
) -> np.ndarray:
    """Probability of no purchase in (T, T + horizon], the churn score BG/NBD implies.

    (1 - P(alive)) + P(alive) * ((alpha + T) / (alpha + T + horizon))^(r + x).

    Why: a customer dead at T buys nothing. A customer alive at T cannot drop out during a
    window without purchases (dropout happens only right after a purchase), so "no purchase in
    the window" is the Poisson zero-count event exp(-lambda * horizon). Given alive, the data
    enter only through lambda^x exp(-lambda T) (the (1-p)^x factor is about p, independent of
    lambda), so lambda | data, alive ~ Gamma(r + x, alpha + T), and E[exp(-lambda h)] under that
    Gamma is ((alpha + T) / (alpha + T + h))^(r + x).
    """
    if not np.isfinite(horizon) or horizon <= 0:
        raise UserError(f"horizon must be a positive time in {params.time_unit}; got {horizon}.")
    x, t_x, T = _check_inputs(x, t_x, T)
    alive = p_alive(params, x, t_x, T)
    r, alpha = params.r, params.alpha
    silent_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + horizon)))
    return (1.0 - alive) + alive * silent_if_alive


def expected_purchases(
    params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, horizon: float
) -> np.ndarray:
    """Expected number of purchases in (T, T + horizon] given each history (FHL 2005, eq. 10).

    With x = t_x = T = 0 it is the unconditional E[X(horizon)] of a new customer (eq. 9).
    """
    if not np.isfinite(horizon) or horizon < 0:
        raise UserError(f"horizon must be a time >= 0 in {params.time_unit}; got {horizon}.")
    x, t_x, T = _check_inputs(x, t_x, T)
    r, alpha, a, b = params.as_tuple()
    c = a + b + x - 1
    z = horizon / (alpha + T + horizon)
    with np.errstate(all="ignore"):
        ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + horizon)))
        closed_form = c / (a - 1) * (1 - ratio * special.hyp2f1(r + x, b + x, c, z))
    expected = closed_form * p_alive(params, x, t_x, T)
    # The closed form is 0/0 at a = 1 and undefined for c <= 0: integrate numerically there.
    bad = ~np.isfinite(expected) | (abs(a - 1) < 1e-6)
    if np.any(bad):
        expected = np.asarray(expected, dtype=float)
        expected[bad] = _expected_purchases_by_quadrature(params, x[bad], t_x[bad], T[bad], horizon)
    return expected


def _expected_purchases_by_quadrature(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, horizon: float
) -> np.ndarray:
    """E[purchases] = P(alive) * E_p[(1 - ((alpha+T)/(alpha+T+p h))^(r+x)) / p].

    Given alive, p | data ~ Beta(a, b + x) and lambda | data ~ Gamma(r + x, alpha + T); a
    customer with (lambda, p) makes (1 - exp(-lambda p h)) / p purchases in expectation.
    Gauss-Jacobi quadrature over p carries the Beta weight exactly.
    """
    r, alpha, a, b = params.as_tuple()
    out = np.empty(x.size)
    for value in np.unique(x):
        rows = x == value
        y, w = special.roots_jacobi(64, b + value - 1, a - 1)
        p = (1 + y) / 2
        w = w / w.sum()
        scale = horizon / (alpha + T[rows])[:, None]
        inner = -np.expm1(-(r + value) * np.log1p(p[None, :] * scale)) / p[None, :]
        out[rows] = inner @ w
    return out * p_alive(params, x, t_x, T)


# ------------------------------------------------------------------------------ simulation


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Simulate (x, t_x, T) for ``n`` customers from the BG/NBD process (vectorised).

    Each customer draws lambda ~ Gamma(r, alpha) and p ~ Beta(a, b); the number of repeat
    purchases before dropout is Geometric(p) on {1, 2, ...}; repeat purchases follow a Poisson
    process on [0, T]. So x = min(N(T), J); given N(T) = N purchases, their times are N ordered
    uniforms on [0, T] and the x-th one is T * Beta(x, N - x + 1).
    Returns a frame with columns x, t_x, T and the true ``lam``, ``p`` and ``alive`` at T.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    purchases_until_dropout = rng.geometric(p)
    n_poisson = rng.poisson(lam * T)
    x = np.minimum(n_poisson, purchases_until_dropout)
    order_stat = rng.beta(np.maximum(x, 1), np.maximum(n_poisson - x + 1, 1))
    t_x = np.where(x > 0, T * order_stat, 0.0)
    alive = n_poisson < purchases_until_dropout
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T, "lam": lam, "p": p, "alive": alive})


# ------------------------------------------------------------------------------ Gamma-Gamma


def _check_spend_inputs(frequency: ArrayLike, mean_spend: ArrayLike) -> tuple[np.ndarray, ...]:
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(mean_spend, "mean_spend")
    if x.size != m.size:
        raise UserError(
            f"frequency and mean_spend need one value per customer; got {x.size} and {m.size}."
        )
    if np.any(x <= 0):
        raise UserError(
            "Gamma-Gamma uses customers with at least one repeat purchase (frequency > 0); "
            "filter the others out first."
        )
    if np.any(m <= 0):
        i = int(np.argmax(m <= 0))
        raise UserError(f"mean_spend must be > 0; customer #{i} has {m[i]:g}.")
    return x, m


def gamma_gamma_loglik(
    params: tuple[float, float, float], frequency: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend (Fader & Hardie 2013, eq. 4).

    f(m | x) = G(px + q) / (G(px) G(q)) * v^q * x^(px) * m^(px - 1) / (v + x m)^(px + q).
    """
    x, m = _check_spend_inputs(frequency, mean_spend)
    return _gg_loglik_and_grad(np.log(params), x, m, gradient=False)[0]


def _gg_loglik_and_grad(
    log_params: np.ndarray, x: np.ndarray, m: np.ndarray, *, gradient: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    p, q, v = np.exp(log_params)
    px = p * x
    log_vxm = np.log(v + x * m)
    loglik = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + px * np.log(x)
        + (px - 1) * np.log(m)
        - (px + q) * log_vxm
    )
    if not gradient:
        return loglik, None
    dg = special.digamma
    shared = dg(px + q)
    d_p = x * (shared - dg(px) + np.log(x) + np.log(m) - log_vxm)
    d_q = shared - dg(q) + np.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    grad = np.array([d_p.sum(), d_q.sum(), d_v.sum()])
    return loglik, grad * np.array([p, q, v])


def fit_gamma_gamma(frequency: ArrayLike, mean_spend: ArrayLike) -> GammaGammaParams:
    """Fit the Gamma-Gamma spend model by maximum likelihood.

    Parameters
    ----------
    frequency : repeat purchases per customer (> 0; one-time buyers carry no spend variation).
    mean_spend : each customer's mean spend per repeat purchase, in the shop currency.

    The model assumes spend per transaction is independent of purchase frequency; check the
    correlation of the two before trusting it.
    """
    x, m = _check_spend_inputs(frequency, mean_spend)
    if x.size < 10:
        raise UserError(f"Gamma-Gamma needs at least 10 repeat customers; got {x.size}.")

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        loglik, grad = _gg_loglik_and_grad(log_params, x, m)
        return -float(loglik.sum()), -grad

    start = np.log([1.0, 2.0, float(np.mean(m))])
    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_BOUND, _BOUND)] * 3,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-7},
    )
    if not result.success:
        warnings.warn(f"Gamma-Gamma fit did not fully converge: {result.message}", stacklevel=2)
    p, q, v = np.exp(result.x)
    return GammaGammaParams(float(p), float(q), float(v))


def expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """Expected spend per transaction given each customer's history (conditional mean).

    E[Z | x, m] = p (v + x m) / (p x + q - 1): a weighted average of the population mean
    p v / (q - 1) and the customer's own mean m, weighting m more as x grows. Customers with
    x = 0 get the population mean. Needs q > 1 (otherwise the mean spend is infinite).
    """
    p, q, v = params
    if q <= 1:
        raise UserError(
            f"The fitted Gamma-Gamma q is {q:.3g} <= 1, so the mean spend is not finite; "
            "use the recent-spend value instead."
        )
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(mean_spend, "mean_spend")
    if x.size != m.size:
        raise UserError("frequency and mean_spend need one value per customer.")
    if np.any(x < 0):
        raise UserError("frequency must be >= 0.")
    m = np.where(x > 0, m, 0.0)
    return p * (v + x * m) / (p * x + q - 1)
