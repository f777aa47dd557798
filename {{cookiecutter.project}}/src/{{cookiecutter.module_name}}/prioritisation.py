"""Prioritisation with evidence: RICE / ICE scores with uncertainty.

- **Scores.** RICE = reach × impact × confidence / effort; ICE = impact × confidence × ease with
  ease = 1 / effort (RICE without reach). Impact, confidence and effort are ranges (low, most
  likely, high); each Monte Carlo draw takes one value of each from a PERT (default) or
  triangular distribution, or a log-normal whose 5th and 95th percentiles are low and high.
- **Reach from the data** where the backlog names a reach query (``backlog.REACH_QUERIES``).
- **Calibration by the decision log.** The measured / predicted effect of past launches gives a
  shrinkage factor (the median ratio; its middle half and the number of launches are shown) for
  the impact of the backlog types the launches speak for (customer-facing by default). Each
  draw takes the median of a bootstrap resample of the launches, so the factor's own
  uncertainty is carried. Without a log (or with too few launches) nothing is shrunk.
- **Rank intervals and P(top N)** from the ranks in every draw; **P(now)** is the share of draws
  in which the item makes this period's plan.
- **Capacity plan.** Items in order of score fill the period's person-weeks; platform and
  technical-debt work is paid from its reserved share first, then from the shared capacity; an
  item that does not fit is passed over for a smaller one. What fits now is *now*, what fits the
  following period is *next*, the rest is *later*.
- **Sensitivity.** For each leading item, its P(top N) with one input pinned at its low and at
  its high end (common random numbers for everything else).
- **Decision** (:func:`decide`): the rules PR-1 ... PR-8 of docs/decisions.md.

Checked against a closed form (``closed_form_check``): two items with log-normal inputs have
log-normal scores, so P(A > B) = Φ((μA − μB) / √(σA² + σB²)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from . import backlog, data, decision_log
from .backlog import LEVELS, RANGED, Item, ReachWindow
from .decision_log import check as check_log
from .decisions import Decision
from .errors import UserError
from .formats import md_escape

REPORT = "prioritisation"
DISTRIBUTIONS = ("pert", "triangular", "lognormal")
SCORES = ("rice", "ice")
Z90 = stats.norm.ppf(0.95)  # low / high are the 5th / 95th percentiles of a log-normal input
PLATFORM = "platform-tech-debt"


# --------------------------------------------------------------------------------------------
# The decision log: read, checked, calibrated


@dataclass(frozen=True)
class History:
    """Every launch on record, and where the rows came from."""

    frame: pd.DataFrame
    sources: dict[str, int]  # source -> rows read from it


def load_history(con: ibis.BaseBackend | None, log_path: str | Path | None = None) -> History:
    """The decision log: the project's file (``data/decision_log.csv``, appended by the
    post-launch reviews and editable by hand) and, when the shop data holds a
    ``decision_log`` table (launches recorded elsewhere), its rows. The file wins on a
    ``review_id`` both hold."""
    frames, sources = [], {}
    if con is not None and data.has_table(con, "decision_log"):
        table = data.fetch(data.table(con, "decision_log"))
        frames.append(check_log(table, "table decision_log in the shop data"))
        sources["the shop data's decision_log table"] = len(table)
    path = Path(log_path) if log_path else decision_log.path()
    if path.is_file():
        checked = decision_log.read_checked(path)
        frames.append(checked)
        sources[str(path)] = len(checked)
    if not frames:
        return History(pd.DataFrame(columns=list(decision_log.COLUMNS)), sources)
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.drop_duplicates("review_id", keep="last").reset_index(drop=True)
    return History(merged, sources)


@dataclass(frozen=True)
class Calibration:
    """What past launches say about predicted effects."""

    status: str  # "no_log", "too_few", "shrink" or "as_predicted"
    factor: float  # the factor applied to calibrated impact (1.0 when none)
    n_launches: int  # launches with a predicted and a measured effect
    n_rows: int  # rows in the log
    median_ratio: float | None = None
    q25: float | None = None
    q75: float | None = None
    ratios: tuple[float, ...] = ()
    types: tuple[str, ...] = ()  # backlog types the factor applies to
    draws: np.ndarray | None = field(default=None, repr=False)  # per-draw factor

    def applies_to(self, kind: str) -> bool:
        return self.status == "shrink" and kind in self.types


def calibrate(
    history: pd.DataFrame,
    *,
    min_launches: int = 3,
    types: tuple[str, ...] = ("customer-facing",),
    draws: int = 4000,
    seed: int = 42,
) -> Calibration:
    """The shrinkage factor from the launches' measured / predicted effects.

    The factor is the median ratio, at most 1 (a history of cautious predictions does not
    raise new estimates); each Monte Carlo draw uses the median of a bootstrap resample of the
    launches, clipped to 0 ... 1.
    """
    usable = history.dropna(subset=["predicted_effect", "measured_effect"])
    usable = usable[usable.predicted_effect.astype(float) != 0]
    ratios = (
        usable.measured_effect.astype(float) / usable.predicted_effect.astype(float)
    ).to_numpy()
    n, rows = len(ratios), len(history)
    if rows == 0:
        return Calibration("no_log", 1.0, 0, 0, types=types)
    if n < min_launches:
        return Calibration("too_few", 1.0, n, rows, ratios=tuple(ratios), types=types)
    median = float(np.median(ratios))
    q25, q75 = (float(q) for q in np.quantile(ratios, [0.25, 0.75]))
    common = {
        "median_ratio": median,
        "q25": q25,
        "q75": q75,
        "ratios": tuple(ratios),
        "types": types,
    }
    if median >= 1:
        return Calibration("as_predicted", 1.0, n, rows, **common)
    rng = np.random.default_rng([seed, 17])
    resampled = ratios[rng.integers(0, n, size=(draws, n))]
    factor_draws = np.clip(np.median(resampled, axis=1), 0.0, 1.0)
    return Calibration("shrink", max(median, 0.0), n, rows, draws=factor_draws, **common)


# --------------------------------------------------------------------------------------------
# Inputs: the backlog with reach resolved


def lookback_window(end: pd.Timestamp, lookback_weeks: float, period_weeks: float) -> ReachWindow:
    return ReachWindow(end - pd.Timedelta(weeks=lookback_weeks), end, period_weeks)


def resolve_reach(
    items: list[Item], con: ibis.BaseBackend | None, window: ReachWindow
) -> pd.DataFrame:
    """The backlog as a table with each item's reach for the period: from the data where the
    backlog names a query (``reach_source`` "data"), as given otherwise."""
    table = backlog.items_frame(items)
    measured: dict[str, backlog.Reach] = {}
    values, described = [], []
    for item in items:
        if item.reach_query is None:
            values.append(item.reach)
            described.append("given in the backlog")
            continue
        if con is None:
            raise UserError(f"{item.initiative}: its reach is a query but no data is connected.")
        if item.reach_query not in measured:
            measured[item.reach_query] = backlog.measure_reach(con, item.reach_query, window)
        reach = measured[item.reach_query]
        values.append(reach.value)
        described.append(reach.description)
    table["reach"] = np.asarray(values, dtype=float)
    table["reach_source"] = ["data" if i.reach_query else "given" for i in items]
    table["reach_basis"] = described
    return table


# --------------------------------------------------------------------------------------------
# Monte Carlo


def _draw(
    low: np.ndarray,
    likely: np.ndarray,
    high: np.ndarray,
    n: int,
    rng: np.random.Generator,
    distribution: str,
) -> np.ndarray:
    """``n`` draws per item (columns) from the range; a range with low == high is that value."""
    span = high - low
    flat = span <= 0
    if distribution == "lognormal":
        if np.any(low <= 0):
            raise UserError("A log-normal range needs low values above 0 (use pert or triangular).")
        mu, sigma = np.log(likely), (np.log(high) - np.log(low)) / (2 * Z90)
        return np.exp(mu + sigma * rng.standard_normal((n, low.size)))
    safe = np.where(flat, 1.0, span)
    u = rng.random((n, low.size))
    if distribution == "pert":
        a = 1 + 4 * (likely - low) / safe
        b = 1 + 4 * (high - likely) / safe
        x = stats.beta.ppf(u, a, b)  # by inversion: common random numbers across scenarios
        return np.where(flat, low, low + span * x)
    if distribution == "triangular":
        c = (likely - low) / safe
        left = low + np.sqrt(u * span * (likely - low))
        right = high - np.sqrt((1 - u) * span * (high - likely))
        return np.where(flat, low, np.where(u < c, left, right))
    raise UserError(f"distribution={distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}.")


def mean_of_range(
    low: np.ndarray, likely: np.ndarray, high: np.ndarray, distribution: str
) -> np.ndarray:
    if distribution == "pert":
        return (low + 4 * likely + high) / 6
    if distribution == "triangular":
        return (low + likely + high) / 3
    sigma = (np.log(high) - np.log(low)) / (2 * Z90)
    return likely * np.exp(sigma**2 / 2)


def draw_inputs(
    table: pd.DataFrame, draws: int, seed: int, distribution: str = "pert"
) -> dict[str, np.ndarray]:
    """Draws × items arrays of impact, confidence and effort (seeded, one stream per input)."""
    if distribution not in DISTRIBUTIONS:
        raise UserError(f"distribution={distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}.")
    out = {}
    for offset, name in enumerate(RANGED):
        rng = np.random.default_rng([seed, offset])
        low, likely, high = (table[f"{name}_{lv}"].to_numpy(float) for lv in LEVELS)
        out[name] = _draw(low, likely, high, draws, rng, distribution)
    return out


def scores(
    inputs: dict[str, np.ndarray],
    reach: np.ndarray,
    factor: np.ndarray,
    score: str = "rice",
) -> np.ndarray:
    """RICE (reach × impact × confidence / effort) or ICE (impact × confidence / effort) per
    draw; ``factor`` (draws × items) scales impact by the calibration."""
    ice = inputs["impact"] * factor * inputs["confidence"] / inputs["effort"]
    if score == "ice":
        return ice
    if score == "rice":
        return reach[None, :] * ice
    raise UserError(f"score={score!r}: choose rice or ice.")


def ranks_of(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score, per draw (ties broken by backlog order)."""
    order = np.argsort(-values, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[1] + 1)[None, :], axis=1)
    return ranks


def factor_matrix(table: pd.DataFrame, calibration: Calibration, draws: int) -> np.ndarray:
    applies = np.array([calibration.applies_to(t) for t in table["type"]])
    factor = np.ones((draws, len(table)))
    if applies.any() and calibration.draws is not None:
        per_draw = np.resize(calibration.draws, draws)
        factor[:, applies] = per_draw[:, None]
    return factor


def plan_draws(
    values: np.ndarray, effort: np.ndarray, platform: np.ndarray, capacity: float, reserve: float
) -> np.ndarray:
    """Draws × items: whether the item is in this period's plan in each draw (the same greedy
    rule as :func:`capacity_plan`, vectorised over draws)."""
    n_draws, n_items = values.shape
    order = np.argsort(-values, axis=1, kind="stable")
    rows = np.arange(n_draws)
    reserve_left = np.full(n_draws, float(reserve))
    shared_left = np.full(n_draws, float(capacity - reserve))
    chosen = np.zeros((n_draws, n_items), dtype=bool)
    for k in range(n_items):
        item = order[:, k]
        need = effort[rows, item]
        own = platform[item] & (need <= reserve_left)
        reserve_left -= np.where(own, need, 0.0)
        shared = ~own & (need <= shared_left)
        shared_left -= np.where(shared, need, 0.0)
        chosen[rows, item] = own | shared
    return chosen


@dataclass(frozen=True)
class Simulation:
    table: pd.DataFrame  # the inputs, one row per item
    inputs: dict[str, np.ndarray] = field(repr=False)
    factor: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)  # draws × items scores
    ranks: np.ndarray = field(repr=False)
    score: str = "rice"


def simulate(
    table: pd.DataFrame,
    calibration: Calibration,
    *,
    draws: int = 4000,
    seed: int = 42,
    distribution: str = "pert",
    score: str = "rice",
    reach: np.ndarray | None = None,
    inputs: dict[str, np.ndarray] | None = None,
) -> Simulation:
    """Score every draw. ``reach`` overrides the table's (e.g. the spreadsheet's guesses);
    ``inputs`` reuses draws (common random numbers between scenarios)."""
    if draws < 100:
        raise UserError(f"draws={draws}: use at least 100 Monte Carlo draws (4,000 is plenty).")
    inputs = inputs if inputs is not None else draw_inputs(table, draws, seed, distribution)
    factor = factor_matrix(table, calibration, draws)
    reach = table["reach"].to_numpy(float) if reach is None else reach
    values = scores(inputs, reach, factor, score)
    return Simulation(table, inputs, factor, values, ranks_of(values), score)


# --------------------------------------------------------------------------------------------
# The plan


def capacity_plan(
    table: pd.DataFrame,
    order_by: pd.Series,
    effort: pd.Series,
    *,
    capacity: float,
    platform_share: float,
) -> pd.DataFrame:
    """now / next / later for each item: in order of ``order_by`` (highest first), each period
    of ``capacity`` person-weeks keeps ``platform_share`` of it for platform / tech-debt work
    (which uses its reserve first, then the shared capacity); an item that does not fit is
    passed over for a smaller one."""
    if capacity <= 0:
        raise UserError(f"capacity_weeks={capacity:g}: give the person-weeks of one period (> 0).")
    if not 0 <= platform_share <= 1:
        raise UserError(f"tech_debt_share={platform_share:g}: a share between 0 and 1 (0.2 = 20%).")
    reserve = capacity * platform_share
    remaining = list(order_by.sort_values(ascending=False, kind="stable").index)
    rows: dict[Any, dict[str, Any]] = {}
    for period in ("now", "next"):
        reserve_left, shared_left = reserve, capacity - reserve
        for i in list(remaining):
            need = float(effort[i])
            if table.at[i, "type"] == PLATFORM and need <= reserve_left + 1e-9:
                reserve_left -= need
                rows[i] = {"plan": period, "paid_from": "platform reserve"}
            elif need <= shared_left + 1e-9:
                shared_left -= need
                rows[i] = {"plan": period, "paid_from": "shared capacity"}
            else:
                continue
            remaining.remove(i)
        if period == "now":
            used_reserve = reserve - reserve_left
            used_shared = capacity - reserve - shared_left
    for i in remaining:
        too_big = float(effort[i]) > capacity
        rows[i] = {"plan": "later", "paid_from": "larger than a period" if too_big else ""}
    plan = pd.DataFrame.from_dict(rows, orient="index", columns=["plan", "paid_from"])
    plan = plan.reindex(table.index)
    plan.attrs.update(
        capacity=capacity,
        reserve=reserve,
        reserve_used=used_reserve,
        shared_used=used_shared,
    )
    return plan


# --------------------------------------------------------------------------------------------
# The whole analysis


@dataclass(frozen=True)
class Prioritisation:
    """Everything the page shows."""

    summary: pd.DataFrame  # one row per item, in plan / score order
    calibration: Calibration
    history: History
    simulation: Simulation
    guessed: Simulation | None  # the same draws with the spreadsheet's reach guesses
    plan: pd.DataFrame
    sensitivity: pd.DataFrame
    top_n: int
    capacity: float
    reserve: float
    reserve_used: float
    shared_used: float
    period_weeks: float
    window: ReachWindow
    params: dict[str, Any]


def prioritise(
    items: list[Item],
    con: ibis.BaseBackend | None,
    history: History,
    *,
    end: pd.Timestamp,
    period_weeks: float = 13,
    lookback_weeks: float = 13,
    top_n: int = 3,
    capacity_weeks: float = 20,
    tech_debt_share: float = 0.2,
    distribution: str = "pert",
    score: str = "rice",
    draws: int = 4000,
    seed: int = 42,
    min_launches: int = 3,
    calibrate_types: tuple[str, ...] = ("customer-facing",),
    sensitivity_items: int = 3,
) -> Prioritisation:
    """Score, rank, calibrate, plan and test the sensitivity of a validated backlog."""
    if top_n < 1:
        raise UserError(f"top_n={top_n}: the size of the top group must be 1 or more.")
    if period_weeks <= 0 or lookback_weeks <= 0:
        raise UserError("period_weeks and lookback_weeks must be above 0.")
    unknown = sorted(set(calibrate_types) - set(backlog.TYPES))
    if unknown:
        raise UserError(
            f"calibrate_types holds {unknown[0]!r}; choose from {', '.join(backlog.TYPES)}."
        )
    window = lookback_window(end, lookback_weeks, period_weeks)
    table = resolve_reach(items, con, window)
    calibration = calibrate(
        history.frame,
        min_launches=min_launches,
        types=tuple(calibrate_types),
        draws=draws,
        seed=seed,
    )
    params = {"distribution": distribution, "score": score, "draws": draws, "seed": seed}
    sim = simulate(
        table, calibration, draws=draws, seed=seed, distribution=distribution, score=score
    )
    guesses = table["reach_guess"].where(table["reach_source"] == "data")
    guessed = None
    if score == "rice" and guesses.notna().any():
        reach = guesses.fillna(table["reach"]).to_numpy(float)
        guessed = simulate(
            table, calibration, draws=draws, seed=seed, score=score, reach=reach, inputs=sim.inputs
        )
    effort_mean = pd.Series(
        mean_of_range(*(table[f"effort_{lv}"].to_numpy(float) for lv in LEVELS), distribution),
        index=table.index,
    )
    median_score = pd.Series(np.median(sim.values, axis=0), index=table.index)
    plan = capacity_plan(
        table, median_score, effort_mean, capacity=capacity_weeks, platform_share=tech_debt_share
    )
    platform = (table["type"] == PLATFORM).to_numpy()
    in_now = plan_draws(
        sim.values, sim.inputs["effort"], platform, capacity_weeks, capacity_weeks * tech_debt_share
    )
    summary = _summary(table, sim, guessed, plan, in_now, effort_mean, top_n)
    leaders = list(summary.index[:sensitivity_items])
    leaders += [i for i in summary.index[summary.plan == "now"] if i not in leaders]
    sensitivity = sensitivity_table(
        sim, calibration, leaders, top_n, plan=(capacity_weeks, capacity_weeks * tech_debt_share)
    )
    return Prioritisation(
        summary,
        calibration,
        history,
        sim,
        guessed,
        plan,
        sensitivity,
        top_n,
        capacity_weeks,
        plan.attrs["reserve"],
        plan.attrs["reserve_used"],
        plan.attrs["shared_used"],
        period_weeks,
        window,
        params,
    )


def _summary(
    table: pd.DataFrame,
    sim: Simulation,
    guessed: Simulation | None,
    plan: pd.DataFrame,
    in_now: np.ndarray,
    effort_mean: pd.Series,
    top_n: int,
) -> pd.DataFrame:
    out = table[
        ["initiative", "type", "reach", "reach_source", "reach_basis", "reach_guess"]
    ].copy()
    out["score_median"] = np.median(sim.values, axis=0)
    out["score_low"], out["score_high"] = np.quantile(sim.values, [0.05, 0.95], axis=0)
    out["rank_median"] = np.median(sim.ranks, axis=0)
    out["rank_low"], out["rank_high"] = np.quantile(
        sim.ranks, [0.05, 0.95], axis=0, method="inverted_cdf"
    ).astype(int)
    out["p_top1"] = (sim.ranks == 1).mean(axis=0)
    out["p_top_n"] = (sim.ranks <= top_n).mean(axis=0)
    out["p_now"] = in_now.mean(axis=0)
    out["effort_mean"] = effort_mean
    out["calibrated"] = sim.factor.mean(axis=0) != 1.0
    ice = scores(sim.inputs, out["reach"].to_numpy(float), sim.factor, "ice")
    out["ice_rank_median"] = np.median(ranks_of(ice), axis=0)
    if guessed is not None:
        out["rank_median_guess"] = np.median(guessed.ranks, axis=0)
        out["p_top_n_guess"] = (guessed.ranks <= top_n).mean(axis=0)
    out = out.join(plan)
    return out.sort_values(["rank_median", "score_median"], ascending=[True, False])


def sensitivity_table(
    sim: Simulation,
    calibration: Calibration,
    items: list[Any],
    top_n: int,
    plan: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """For each item, its P(top N) (and, given ``plan`` = (capacity, reserve), its P(now)) with
    one input pinned at its low and at its high end, every other draw unchanged."""
    rows = []
    platform = (sim.table["type"] == PLATFORM).to_numpy()
    table = sim.table
    position = {index: k for k, index in enumerate(table.index)}
    for index in items:
        j = position[index]
        pins = {
            name: (table.at[index, f"{name}_low"], table.at[index, f"{name}_high"])
            for name in RANGED
        }
        if calibration.draws is not None and sim.factor[:, j].mean() != 1.0:
            pins["calibration"] = (calibration.q25, calibration.q75)
        for name, (low, high) in pins.items():
            shares = []
            for value in (low, high):
                inputs = {k: v.copy() for k, v in sim.inputs.items()}
                factor = sim.factor.copy()
                if name == "calibration":
                    factor[:, j] = min(max(float(value), 0.0), 1.0)
                else:
                    inputs[name][:, j] = value
                reach = table["reach"].to_numpy(float)
                values = scores(inputs, reach, factor, sim.score)
                in_top = float((ranks_of(values)[:, j] <= top_n).mean())
                in_now = math.nan
                if plan is not None:
                    chosen = plan_draws(values, inputs["effort"], platform, *plan)
                    in_now = float(chosen[:, j].mean())
                shares.append((in_top, in_now))
            rows.append(
                {
                    "initiative": table.at[index, "initiative"],
                    "input": name,
                    "low": float(low),
                    "high": float(high),
                    "p_top_n_at_low": shares[0][0],
                    "p_top_n_at_high": shares[1][0],
                    "swing": abs(shares[1][0] - shares[0][0]),
                    "p_now_at_low": shares[0][1],
                    "p_now_at_high": shares[1][1],
                    "now_swing": abs(shares[1][1] - shares[0][1]),
                }
            )
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


SENSITIVITY_COLUMNS = [
    "initiative",
    "input",
    "low",
    "high",
    "p_top_n_at_low",
    "p_top_n_at_high",
    "swing",
    "p_now_at_low",
    "p_now_at_high",
    "now_swing",
]


# --------------------------------------------------------------------------------------------
# The closed-form check


def closed_form_p_greater(mu_a: float, sigma_a: float, mu_b: float, sigma_b: float) -> float:
    """P(A > B) for independent log-normal A, B: Φ((μA − μB) / √(σA² + σB²))."""
    return float(stats.norm.cdf((mu_a - mu_b) / math.hypot(sigma_a, sigma_b)))


def lognormal_score_params(row: pd.Series, factor: float = 1.0) -> tuple[float, float]:
    """μ and σ of log(RICE) when every range is log-normal (low, high = 5th, 95th percentiles)."""
    mu = math.log(row["reach"]) + math.log(factor)
    var = 0.0
    for name, sign in (("impact", 1), ("confidence", 1), ("effort", -1)):
        low, likely, high = (float(row[f"{name}_{lv}"]) for lv in LEVELS)
        mu += sign * math.log(likely)
        var += ((math.log(high) - math.log(low)) / (2 * Z90)) ** 2
    return mu, math.sqrt(var)


def closed_form_check(
    table: pd.DataFrame, first: Any, second: Any, *, draws: int = 20_000, seed: int = 42
) -> dict[str, float]:
    """The Monte Carlo's P(first scores above second) with log-normal inputs, against the
    closed form; ``se`` is the simulation's standard error."""
    pair = table.loc[[first, second]]
    none = Calibration("no_log", 1.0, 0, 0)
    sim = simulate(pair, none, draws=draws, seed=seed, distribution="lognormal")
    simulated = float((sim.values[:, 0] > sim.values[:, 1]).mean())
    (mu_a, s_a), (mu_b, s_b) = (lognormal_score_params(pair.loc[i]) for i in (first, second))
    exact = closed_form_p_greater(mu_a, s_a, mu_b, s_b)
    se = math.sqrt(max(exact * (1 - exact), 1e-12) / draws)
    return {"simulated": simulated, "closed_form": exact, "se": se, "draws": draws}


# --------------------------------------------------------------------------------------------
# The decision and the steering summary (docs/decisions.md, "Prioritisation")


def _names(names: list[str]) -> str:
    names = [f"**{md_escape(n)}**" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _weeks(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def calibration_sentence(calibration: Calibration) -> tuple[str, str]:
    """PR-5 ... PR-8: what the decision log says about past predictions."""
    c = calibration
    types = " and ".join(c.types) or "no"
    if c.status == "no_log":
        return "PR-5", (
            "There is no launch history in the decision log yet, so impact estimates are taken "
            "as given (no shrinkage)."
        )
    if c.status == "too_few":
        return "PR-6", (
            f"The decision log has {c.n_launches} launch{'es' if c.n_launches != 1 else ''} with "
            "both a predicted and a measured effect, too few to calibrate; impact estimates are "
            "taken as given (no shrinkage)."
        )
    middle = f"middle half {c.q25:.2f}–{c.q75:.2f}×, {c.n_launches} launches"
    if c.status == "as_predicted":
        return "PR-7", (
            f"Past launches delivered {c.median_ratio:.2f}× their predicted effect ({middle}), "
            "so impact estimates are kept as given."
        )
    return "PR-8", (
        f"Past launches delivered {c.median_ratio:.2f}× their predicted effect ({middle}), so "
        f"{types} impact estimates are scaled by {c.factor:.2f}."
    )


def reach_movers(summary: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Items in the top N once reach comes from the data that are not with the guesses."""
    if "rank_median_guess" not in summary:
        return summary.iloc[0:0]
    moved = summary[(summary.rank_median <= top_n) & (summary.rank_median_guess > top_n)]
    return moved.sort_values("rank_median")


def decide(
    result: Prioritisation, *, commit_level: float = 0.8, backlog_path: str = ""
) -> Decision:
    """The verdict and the one-paragraph steering summary (rules PR-1 ... PR-8)."""
    s = result.summary
    where = md_escape(backlog_path) if backlog_path else "the backlog file"
    if s.empty:
        return Decision(
            REPORT,
            "empty",
            "Nothing to prioritise",
            f"{where} holds no initiatives.",
            f"Add the initiatives you are weighing to {where}, one row each, and run again.",
            "PR-1",
        )
    now = s[s.plan == "now"]
    if now.empty:
        smallest = s.effort_mean.min()
        return Decision(
            REPORT,
            "split_work",
            "Split the work",
            f"No initiative fits the {_weeks(result.capacity)} person-weeks of the period (the "
            f"smallest needs about {_weeks(smallest)} person-weeks).",
            "Break the largest initiatives into parts that fit one period, or plan with more "
            "capacity (capacity_weeks).",
            "PR-2",
        )
    paragraph = [
        f"Do now: {_names(list(now.initiative))} ({_weeks(now.effort_mean.sum())} of "
        f"{_weeks(result.capacity)} person-weeks)."
    ]
    leader = s.iloc[0]
    paragraph.append(
        f"{_names([leader.initiative])} ranks first in {leader.p_top1:.0%} of "
        f"{result.params['draws']:,} simulations and is in the top {result.top_n} in "
        f"{leader.p_top_n:.0%}."
    )
    from_data = s[s.reach_source == "data"]
    if len(from_data):
        sentence = (
            f"Reach of {len(from_data)} initiative{'s' if len(from_data) > 1 else ''} comes from "
            "the shop's data"
        )
        moved = reach_movers(s, result.top_n)
        if len(moved):
            m = moved.iloc[0]
            sentence += (
                f"; {_names([m.initiative])} reaches the top {result.top_n} only because of it "
                f"({m.reach:,.0f} in the period against a guess of {m.reach_guess:,.0f})"
            )
        paragraph.append(sentence + ".")
    paragraph.append(calibration_sentence(result.calibration)[1])
    if result.reserve > 0:
        if result.reserve_used + 1e-9 < result.reserve:
            paragraph.append(
                f"Only {_weeks(result.reserve_used)} of the {_weeks(result.reserve)} person-weeks "
                "kept for platform and tech-debt work are used: the backlog holds too little of "
                "it that fits, so add such work or release the rest."
            )
        else:
            paragraph.append(
                f"{_weeks(result.reserve)} person-weeks are kept for platform and tech-debt work."
            )
    nxt = s[s.plan == "next"]
    if len(nxt):
        paragraph.append(f"Next: {_names(list(nxt.initiative))}.")
    shaky = now[now.p_now < commit_level]
    if shaky.empty:
        verdict, label, rule = "commit", "Commit to the now list", "PR-3"
        step = (
            f"Commit to {_names(list(now.initiative))} for this period; every one of them makes "
            f"the plan in at least {commit_level:.0%} of simulations."
        )
    else:
        verdict, label, rule = "firm_up", "Commit to the settled part, firm up the rest", "PR-4"
        worst = shaky.sort_values("p_now").iloc[0]
        lever = _lever(result.sensitivity, worst.initiative)
        settled = now[now.p_now >= commit_level]
        start = f"Start {_names(list(settled.initiative))}; " if len(settled) else ""
        step = (
            f"{start}firm up the estimate of {_names(list(shaky.initiative))} before committing "
            f"({md_escape(worst.initiative)} makes the plan in {worst.p_now:.0%} of simulations"
            + (f"; its {lever} moves it most" if lever else "")
            + ")."
        )
    return Decision(REPORT, verdict, label, " ".join(paragraph), step, rule)


def _lever(sensitivity: pd.DataFrame, initiative: str) -> str:
    """The input whose low-to-high swing moves the item's P(now) most ("" when none does)."""
    rows = sensitivity[sensitivity.initiative == initiative].dropna(subset=["now_swing"])
    if rows.empty or rows.now_swing.max() == 0:
        return ""
    return INPUT_WORDS[str(rows.sort_values("now_swing", ascending=False).iloc[0]["input"])]


INPUT_WORDS = {
    "impact": "impact",
    "confidence": "confidence",
    "effort": "effort",
    "calibration": "calibration by past launches",
}


# --------------------------------------------------------------------------------------------
# What the page shows (tables with a PM's column names; sentences from the rules above)


def needed_tables(items: list[Item]) -> list[str]:
    """The shop tables the backlog's reach queries read (for the notebook's data check)."""
    return sorted({backlog.reach_query(i.reach_query).table for i in items if i.reach_query})


def _interval(low: float, high: float, digits: int = 0) -> str:
    return f"{low:,.{digits}f} – {high:,.{digits}f}"


def ranking_table(result: Prioritisation) -> pd.DataFrame:
    """One row per initiative, best first: score and rank with their 90% intervals."""
    s = result.summary
    n = result.top_n
    return pd.DataFrame(
        {
            "Initiative": s.initiative,
            "Type": s.type,
            "Reach": [f"{r:,.0f} ({src})" for r, src in zip(s.reach, s.reach_source, strict=True)],
            f"{result.params['score'].upper()} (median)": s.score_median.round(2),
            "Score, 90% interval": [
                _interval(a, b, 2 if b < 10 else 0)
                for a, b in zip(s.score_low, s.score_high, strict=True)
            ],
            "Rank (median)": s.rank_median,
            "Rank, 90% interval": [
                f"{a} – {b}" if a != b else f"{a}"
                for a, b in zip(s.rank_low, s.rank_high, strict=True)
            ],
            "ICE rank (no reach)": s.ice_rank_median,
            "P(first)": s.p_top1,
            f"P(top {n})": s.p_top_n,
            "P(in this period's plan)": s.p_now,
            "Plan": s.plan,
        }
    )


def reach_table(result: Prioritisation) -> pd.DataFrame:
    """Initiatives whose reach comes from the data, with the guess and the rank each gives."""
    s = result.summary[result.summary.reach_source == "data"]
    columns = {
        "Initiative": s.initiative,
        "Reach query": s.reach_basis,
        f"Reach in {_weeks(result.period_weeks)} weeks": s.reach.round(0),
        "Guess in the backlog": s.reach_guess,
        "Rank with the data (median)": s.rank_median,
    }
    if "rank_median_guess" in s:
        columns["Rank with the guess (median)"] = s.rank_median_guess
    return pd.DataFrame(columns)


def history_table(result: Prioritisation) -> pd.DataFrame:
    """The launches behind the calibration, with their measured / predicted ratio."""
    h = result.history.frame
    if h.empty:
        return pd.DataFrame(columns=["Launch", "Decided", "Predicted", "Measured", "Ratio"])
    predicted = pd.to_numeric(h.predicted_effect, errors="coerce")
    measured = pd.to_numeric(h.measured_effect, errors="coerce")
    ratio = (measured / predicted.where(predicted != 0)).round(2)
    return pd.DataFrame(
        {
            "Launch": h.review_id,
            "Decided": pd.to_datetime(h.decided_on).dt.date,
            "Metric": h.primary_metric,
            "Predicted": predicted,
            "Measured": measured,
            "Ratio": ratio,
            "Verdict": h.verdict,
        }
    ).sort_values("Decided")


def plan_table(result: Prioritisation) -> pd.DataFrame:
    """now / next / later with the expected effort and where the capacity comes from."""
    s = result.summary
    order = s.plan.map({"now": 0, "next": 1, "later": 2})
    s = s.assign(_o=order).sort_values(["_o", "rank_median"])
    return pd.DataFrame(
        {
            "Plan": s.plan,
            "Initiative": s.initiative,
            "Type": s.type,
            "Person-weeks (expected)": s.effort_mean.round(1),
            "Paid from": s.paid_from,
            "P(in this period's plan)": s.p_now,
        }
    )


def sensitivity_view(result: Prioritisation) -> pd.DataFrame:
    """For the leading and planned items: P(top N) and P(now) with each input at low / high."""
    t = result.sensitivity
    n = result.top_n
    return pd.DataFrame(
        {
            "Initiative": t.initiative,
            "Input": t["input"].map(INPUT_WORDS),
            "Low – high": [_interval(a, b, 2) for a, b in zip(t.low, t.high, strict=True)],
            f"P(top {n}) at low": t.p_top_n_at_low,
            f"P(top {n}) at high": t.p_top_n_at_high,
            "P(plan) at low": t.p_now_at_low,
            "P(plan) at high": t.p_now_at_high,
        }
    )


def executive_points(result: Prioritisation, decision: Decision) -> list[str]:
    """The executive summary's bullets: the decision, its reason and the next step."""
    return [f"**{decision.label}.** {decision.reason}", f"**Next step:** {decision.next_step}"]


def check_table(result: Prioritisation, check: dict[str, float]) -> pd.DataFrame:
    """The closed-form check as rows: simulated and exact chance, the simulation's error."""
    first, second = result.summary.initiative.iloc[:2]
    gap = abs(check["simulated"] - check["closed_form"]) / check["se"]
    return pd.DataFrame(
        {
            "Quantity": [
                f"P({first} scores above {second}), simulated",
                "Same chance, closed form",
                "Standard error of the simulation",
                "Gap in standard errors",
            ],
            "Value": [check["simulated"], check["closed_form"], check["se"], gap],
        }
    )
