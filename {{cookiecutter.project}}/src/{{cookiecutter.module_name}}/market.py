"""Market research: market size, NPS, Likert items, price sensitivity, competitor prices, trends.

Every function takes plain values, pandas DataFrames or (where a raw table is aggregated) an Ibis
table, and returns numbers or DataFrames a notebook can chart. Each docstring states the method;
``tests/test_market.py`` checks it against hand-computed or analytically known values.

- Market sizing: :class:`Estimate`, :func:`top_down`, :func:`bottom_up`, :func:`market_size`,
  :func:`tornado`, :func:`check_funnel`, :func:`sizing_inputs`.
- NPS: :func:`nps`, :func:`nps_by_segment`, :func:`nps_difference`.
- Likert: :func:`likert_distribution`, :func:`top2box`, :func:`likert_top2box`,
  :func:`diverging_offsets`.
- Price sensitivity: :func:`van_westendorp`.
- Competitor prices: :func:`price_index`, :func:`price_index_trend`, :func:`revenue_by_sku`.
- Demand trends: :func:`read_trends_csv`, :func:`interest_change`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from . import _project, periods
from .contract import LIKERT_PREFIX
from .decisions import Decision
from .errors import UserError, require_table_columns
from .formats import md_escape

__all__ = [
    "BELOW_ONE_INTEREST",
    "OUTLIER_RANGE",
    "VW_COLUMNS",
    "Estimate",
    "NPSDifference",
    "NPSResult",
    "PriceIndexResult",
    "Top2BoxResult",
    "VWResult",
    "bottom_up",
    "check_funnel",
    "diverging_offsets",
    "likert_distribution",
    "likert_top2box",
    "market_size",
    "nps",
    "nps_by_segment",
    "nps_difference",
    "price_index",
    "price_index_trend",
    "interest_change",
    "read_trends_csv",
    "revenue_by_sku",
    "sizing_inputs",
    "top2box",
    "top_down",
    "tornado",
    "van_westendorp",
]

Frame = pd.DataFrame | ibis.Table

# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level, e.g. 1.95996 for 0.95."""
    if not 0 < confidence < 1:
        raise UserError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _require_columns(data: Frame, columns: Sequence[str], table: str) -> None:
    """Raise a clear error unless ``data`` is a DataFrame or Ibis table with these columns."""
    if not isinstance(data, pd.DataFrame | ibis.Table):
        raise UserError(
            f"Expected the {table} table as a pandas DataFrame or an Ibis table; "
            f"got a {type(data).__name__}."
        )
    require_table_columns(table, data.columns, columns)


def _as_pandas(data: Frame, columns: Sequence[str], table: str) -> pd.DataFrame:
    """The named columns of a DataFrame or Ibis table as pandas.

    Survey tables are small (one row per respondent), so pulling only the needed columns out of the
    engine is cheap and keeps the statistics in one well-tested pandas path.
    """
    _require_columns(data, columns, table)
    if isinstance(data, ibis.Table):
        return data.select(*columns).to_pandas()
    return data.loc[:, list(columns)].copy()


def _example(values: pd.Series) -> str:
    """A short, quoted example of offending values for an error message."""
    distinct = values.drop_duplicates()
    shown = ", ".join(
        repr(int(v)) if isinstance(v, float) and v.is_integer() else repr(v)
        for v in distinct.head(3).tolist()
    )
    more = f" and {len(distinct) - 3} more" if len(distinct) > 3 else ""
    return shown + more


def _numeric(series: pd.Series, name: str) -> pd.Series:
    """Numbers (float) with missing answers kept as NaN; text that is not a number is an error."""
    present = series.notna()
    converted = pd.to_numeric(series.where(present), errors="coerce").astype(float)
    not_numbers = series[present & converted.isna()]
    if len(not_numbers):
        raise UserError(
            f"Column {name!r} holds {len(not_numbers)} answer(s) that are not numbers, e.g. "
            f"{_example(not_numbers)}. Clean them or leave those cells empty."
        )
    return converted


def _timestamps(series: pd.Series, name: str) -> pd.Series:
    """Dates or timestamps; text must be ISO 8601 (2024-03-31, 2024-03-31 14:00, 2024-03)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    try:
        parsed = pd.to_datetime(series, format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as error:  # e.g. mixed time zones
        raise UserError(f"Column {name!r} holds dates that cannot be read: {error}") from None
    unreadable = series[parsed.isna() & series.notna()]
    if len(unreadable):
        raise UserError(
            f"Column {name!r} holds {len(unreadable)} value(s) that are not dates, e.g. "
            f"{_example(unreadable)}. Use dates like 2024-03-31 (or 2024-03-31 14:00)."
        )
    return parsed


def _integer_answers(series: pd.Series, name: str, low: int, high: int) -> tuple[pd.Series, int]:
    """Whole-number answers on a ``low..high`` scale with missing answers dropped.

    Returns the valid answers (as int) and how many were missing. Fractions or values off the
    scale raise, since silently dropping them would hide a broken import.
    """
    values = _numeric(series, name)
    missing = int(values.isna().sum())
    answered = values.dropna()
    fractional = answered[answered != np.floor(answered)]
    if len(fractional):
        raise UserError(
            f"Column {name!r} must hold whole numbers from {low} to {high}; "
            f"{len(fractional)} answer(s) are not, e.g. {_example(fractional)}."
        )
    off_scale = answered[(answered < low) | (answered > high)]
    if len(off_scale):
        raise UserError(
            f"Column {name!r} must hold answers from {low} to {high}; {len(off_scale)} answer(s) "
            f"are outside that scale, e.g. {_example(off_scale)}."
        )
    return answered.astype(int), missing


# --------------------------------------------------------------------------------------------
# Market sizing
# --------------------------------------------------------------------------------------------

SCENARIOS = ("low", "base", "high")
FUNNEL = ("TAM", "SAM", "SOM")


def _fmt(value: float) -> str:
    """A number for a message: thousands separators for money and counts, digits for shares."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.6g}"


def _to_number(value: Any) -> Any:
    """Numbers pass; numeric text such as "1e9" or "1,200,000" becomes a float.

    YAML reads ``1e9`` (no dot) as text, a trap for anyone typing a market size by hand.
    """
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").replace("_", "").strip())
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class Estimate:
    """One sizing input with its range and where it comes from.

    ``low <= base <= high`` is required; ``source`` is a note such as "Statista 2024, EU apparel".
    """

    low: float
    base: float
    high: float
    source: str = ""

    def __post_init__(self) -> None:
        for scenario in SCENARIOS:
            value = getattr(self, scenario)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise UserError(f"The {scenario} value must be a number; got {value!r}.")
            if not math.isfinite(value):
                raise UserError(f"The {scenario} value must be a finite number; got {value!r}.")
        if not self.low <= self.base <= self.high:
            raise UserError(
                f"An estimate needs low <= base <= high; got low={_fmt(self.low)}, "
                f"base={_fmt(self.base)}, high={_fmt(self.high)}. Reorder the three values."
            )

    def at(self, scenario: str) -> float:
        """The value for ``"low"``, ``"base"`` or ``"high"``."""
        return float(getattr(self, scenario))


EstimateLike = Estimate | Mapping[str, Any] | Sequence[float] | float | int


def _as_estimate(value: EstimateLike, name: str, *, share: bool = False) -> Estimate:
    """An :class:`Estimate` from an Estimate, a ``{low, base, high, source}`` mapping, a
    ``(low, base, high)`` triple or a single number (no range), validated under its input name."""
    try:
        if isinstance(value, Estimate):
            estimate = value
        elif isinstance(value, Mapping):
            missing = [key for key in SCENARIOS if key not in value]
            if missing:
                raise UserError(f"it has no {missing[0]!r} value (give low, base, high, source)")
            low, base, high = (_to_number(value[key]) for key in SCENARIOS)
            estimate = Estimate(low, base, high, str(value.get("source") or ""))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) != 3:
                raise UserError(f"give three values (low, base, high); got {list(value)!r}")
            estimate = Estimate(*(_to_number(v) for v in value))
        else:
            number = _to_number(value)
            if isinstance(number, bool) or not isinstance(number, int | float | np.number):
                raise UserError(f"give a number or low/base/high values; got {value!r}")
            estimate = Estimate(number, number, number)
    except (ValueError, TypeError) as error:
        message = str(error)
        message = message[0].lower() + message[1:] if message else message
        raise UserError(f"Market-size input {name!r}: {message}") from None
    if share and not (estimate.low >= 0 and estimate.high <= 1):
        raise UserError(
            f"Market-size input {name!r} is a share and must lie between 0 and 1 "
            f"(e.g. 0.25 for 25%); got low={_fmt(estimate.low)}, base={_fmt(estimate.base)}, "
            f"high={_fmt(estimate.high)}."
        )
    if estimate.low < 0:
        raise UserError(
            f"Market-size input {name!r} cannot be negative; got low={_fmt(estimate.low)}."
        )
    return estimate


def check_funnel(tam: float, sam: float, som: float, *, label: str = "") -> None:
    """Raise a ``ValueError`` unless TAM >= SAM >= SOM >= 0.

    The serviceable market must fit inside the total market and the obtainable market inside
    the serviceable one; ``label`` (e.g. "top-down, high") prefixes the message.
    """
    where = f"{label}: " if label else ""
    values = {"TAM": tam, "SAM": sam, "SOM": som}
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise UserError(f"{where}{name} must be a number of zero or more; got {value!r}.")
    if sam > tam:
        raise UserError(
            f"{where}SAM ({_fmt(sam)}) is larger than TAM ({_fmt(tam)}). The serviceable market "
            "is the part of the total market you can reach, so it cannot exceed it: check the "
            "inputs behind SAM."
        )
    if som > sam:
        raise UserError(
            f"{where}SOM ({_fmt(som)}) is larger than SAM ({_fmt(sam)}). The obtainable market is "
            "the share of the serviceable market you can win, so it cannot exceed it: check the "
            "inputs behind SOM."
        )


def _funnel_table(
    total: Callable[[str], float], serviceable: Estimate, attainable: Estimate, label: str
) -> pd.DataFrame:
    """TAM/SAM/SOM for each scenario, every input taken at that scenario."""
    table = {}
    for scenario in SCENARIOS:
        tam = total(scenario)
        sam = tam * serviceable.at(scenario)
        som = sam * attainable.at(scenario)
        check_funnel(tam, sam, som, label=f"{label}, {scenario}")
        table[scenario] = [tam, sam, som]
    return pd.DataFrame(table, index=pd.Index(FUNNEL, name="market"))


def top_down(
    category_spend: EstimateLike,
    relevant_share: EstimateLike,
    serviceable_share: EstimateLike,
    attainable_share: EstimateLike,
) -> pd.DataFrame:
    """Top-down market size: start from total category spend and narrow it.

    TAM = category spend x relevant share; SAM = TAM x serviceable share;
    SOM = SAM x attainable share. Money is yearly, in the shop currency.

    Parameters
    ----------
    category_spend
        Yearly spend in the whole category (currency).
    relevant_share, serviceable_share, attainable_share
        Shares between 0 and 1 (the part of the category your product addresses; the part of
        that you can serve with your channels and countries; the part of that you can win).

    Returns
    -------
    DataFrame with rows TAM, SAM, SOM and columns low, base, high.
    """
    spend = _as_estimate(category_spend, "category_spend")
    relevant = _as_estimate(relevant_share, "relevant_share", share=True)
    serviceable = _as_estimate(serviceable_share, "serviceable_share", share=True)
    attainable = _as_estimate(attainable_share, "attainable_share", share=True)
    return _funnel_table(
        lambda s: spend.at(s) * relevant.at(s), serviceable, attainable, "top-down"
    )


def bottom_up(
    target_buyers: EstimateLike,
    purchases_per_year: EstimateLike,
    aov: EstimateLike,
    serviceable_share: EstimateLike,
    attainable_share: EstimateLike,
) -> pd.DataFrame:
    """Bottom-up market size: build the total from buyers, frequency and basket value.

    TAM = target buyers x purchases per year x average order value; SAM = TAM x serviceable
    share; SOM = SAM x attainable share. Money is yearly, in the shop currency.

    Returns
    -------
    DataFrame with rows TAM, SAM, SOM and columns low, base, high.
    """
    buyers = _as_estimate(target_buyers, "target_buyers")
    frequency = _as_estimate(purchases_per_year, "purchases_per_year")
    basket = _as_estimate(aov, "aov")
    serviceable = _as_estimate(serviceable_share, "serviceable_share", share=True)
    attainable = _as_estimate(attainable_share, "attainable_share", share=True)
    return _funnel_table(
        lambda s: buyers.at(s) * frequency.at(s) * basket.at(s),
        serviceable,
        attainable,
        "bottom-up",
    )


APPROACHES: dict[str, Callable[..., pd.DataFrame]] = {
    "top_down": top_down,
    "bottom_up": bottom_up,
}
INPUT_NAMES = {
    "top_down": ("category_spend", "relevant_share", "serviceable_share", "attainable_share"),
    "bottom_up": (
        "target_buyers",
        "purchases_per_year",
        "aov",
        "serviceable_share",
        "attainable_share",
    ),
}
APPROACH_LABELS = {"top_down": "top-down", "bottom_up": "bottom-up"}
SHARE_INPUTS = {"relevant_share", "serviceable_share", "attainable_share"}


def _approach_inputs(params: Mapping[str, Any]) -> dict[str, Mapping[str, EstimateLike]]:
    """The per-approach input mappings of a market-size parameter block, checked."""
    if not isinstance(params, Mapping):
        raise UserError(
            "Market-size parameters must be a mapping with a 'top_down' and/or a 'bottom_up' "
            f"section; got a {type(params).__name__}."
        )
    blocks = {}
    for key, inputs in params.items():
        approach = str(key).replace("-", "_")
        if approach not in APPROACHES:
            raise UserError(
                f"Unknown market-size approach {key!r}; use 'top_down' and/or 'bottom_up'."
            )
        blocks[approach] = _checked_inputs(inputs, approach)
    if not blocks:
        raise UserError("Give market-size inputs for 'top_down' and/or 'bottom_up'.")
    return blocks


def _checked_inputs(inputs: Any, approach: str) -> Mapping[str, EstimateLike]:
    """The inputs of one approach, with exactly the names its function expects."""
    expected = INPUT_NAMES[approach]
    if not isinstance(inputs, Mapping):
        raise UserError(
            f"The {approach} market-size inputs must be a mapping of {', '.join(expected)}."
        )
    missing = [name for name in expected if name not in inputs]
    unknown = [name for name in inputs if name not in expected]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UserError(
            f"The {approach} market-size inputs are wrong ({problem}); "
            f"expected exactly: {', '.join(expected)}."
        )
    return inputs


def market_size(params: Mapping[str, Any]) -> pd.DataFrame:
    """Top-down and bottom-up TAM/SAM/SOM side by side.

    Parameters
    ----------
    params
        A ``top_down`` and/or a ``bottom_up`` section, each mapping the arguments of
        :func:`top_down` / :func:`bottom_up` to estimates: a ``{low, base, high, source}``
        mapping, an :class:`Estimate`, a ``(low, base, high)`` triple or a single number.

    Returns
    -------
    DataFrame with rows TAM, SAM, SOM and two column levels: approach (top-down, bottom-up) and
    scenario (low, base, high).
    """
    tables = {
        APPROACH_LABELS[approach]: APPROACHES[approach](**inputs)
        for approach, inputs in _approach_inputs(params).items()
    }
    return pd.concat(tables, axis=1, names=["approach", "scenario"])


def sizing_inputs(params: Mapping[str, Any]) -> pd.DataFrame:
    """Every market-size input with its low/base/high values and source note, for display."""
    rows = []
    for approach, inputs in _approach_inputs(params).items():
        for name, value in inputs.items():
            estimate = _as_estimate(value, name, share=name in SHARE_INPUTS)
            rows.append(
                {
                    "approach": APPROACH_LABELS[approach],
                    "input": name,
                    "low": estimate.low,
                    "base": estimate.base,
                    "high": estimate.high,
                    "source": estimate.source or "(no source given)",
                }
            )
    return pd.DataFrame(rows)


def tornado(
    inputs: Mapping[str, EstimateLike],
    approach: Literal["top_down", "bottom_up"] = "top_down",
) -> pd.DataFrame:
    """Sensitivity of SOM (base case) to each input, biggest swing first.

    Each input in turn is set to its low and then its high value while every other input stays at
    its base value; the table gives SOM in both cases and the swing between them.

    Returns
    -------
    DataFrame with columns input, source, low, base, high (the input's values), som_low, som_high
    (SOM with that input at low / high), som_base and swing (som_high - som_low), sorted by swing.
    """
    approach_key = str(approach).replace("-", "_")
    if approach_key not in APPROACHES:
        raise UserError(f"approach must be 'top_down' or 'bottom_up'; got {approach!r}.")
    inputs = _checked_inputs(inputs, approach_key)
    estimates = {
        name: _as_estimate(value, name, share=name in SHARE_INPUTS)
        for name, value in inputs.items()
    }
    compute = APPROACHES[approach_key]

    def som(overrides: Mapping[str, float]) -> float:
        values = {name: overrides.get(name, e.base) for name, e in estimates.items()}
        return float(compute(**values).loc["SOM", "base"])

    base = som({})
    rows = []
    for name, estimate in estimates.items():
        som_low, som_high = som({name: estimate.low}), som({name: estimate.high})
        rows.append(
            {
                "input": name,
                "source": estimate.source or "(no source given)",
                "low": estimate.low,
                "base": estimate.base,
                "high": estimate.high,
                "som_low": som_low,
                "som_high": som_high,
                "som_base": base,
                "swing": som_high - som_low,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# NPS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NPSResult:
    """Net Promoter Score on the -100..100 scale with its normal-approximation interval.

    ``promoters``, ``passives`` and ``detractors`` are counts; ``missing`` counts empty answers
    that were left out; ``se`` is the standard error on the -100..100 scale.
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    promoters: int
    passives: int
    detractors: int
    se: float
    missing: int = 0
    confidence: float = 0.95

    @property
    def promoter_share(self) -> float:
        return self.promoters / self.n

    @property
    def passive_share(self) -> float:
        return self.passives / self.n

    @property
    def detractor_share(self) -> float:
        return self.detractors / self.n

    @property
    def response_variance(self) -> float:
        """Variance of one answer scored +1 / 0 / -1: p_P + p_D - (p_P - p_D)^2."""
        return _nps_variance(self.promoter_share, self.detractor_share)


def _nps_variance(p_promoters: float, p_detractors: float) -> float:
    # Each answer is +1 (promoter), 0 (passive) or -1 (detractor); NPS/100 is their mean, so the
    # per-answer variance is E[x^2] - E[x]^2. No library offers NPS directly, hence by hand.
    return p_promoters + p_detractors - (p_promoters - p_detractors) ** 2


def _nps_from_counts(
    promoters: int, passives: int, detractors: int, missing: int, confidence: float
) -> NPSResult:
    n = promoters + passives + detractors
    p_promoters, p_detractors = promoters / n, detractors / n
    value = 100 * (p_promoters - p_detractors)
    se = 100 * math.sqrt(_nps_variance(p_promoters, p_detractors) / n)
    half_width = _z(confidence) * se
    # The normal interval can spill past the scale for tiny or one-sided samples; NPS cannot.
    return NPSResult(
        value=value,
        ci_low=max(-100.0, value - half_width),
        ci_high=min(100.0, value + half_width),
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        se=se,
        missing=missing,
        confidence=confidence,
    )


def nps(
    scores: Sequence[float] | pd.Series | np.ndarray, *, confidence: float = 0.95, name: str = "nps"
) -> NPSResult:
    """Net Promoter Score of 0-10 answers: promoters 9-10, passives 7-8, detractors 0-6.

    NPS = 100 (p_P - p_D); SE = 100 sqrt((p_P + p_D - (p_P - p_D)^2) / n); the interval is
    NPS +/- z SE (normal approximation), clipped to -100..100. Empty answers are dropped and
    counted in ``missing``.

    Raises
    ------
    UserError
        Answers that are not whole numbers from 0 to 10, or no answers at all.
    """
    answers, missing = _integer_answers(pd.Series(scores), name, 0, 10)
    if answers.empty:
        raise UserError(
            f"No valid respondents: column {name!r} has no 0-10 answers "
            f"({missing} empty). NPS needs at least one answer."
        )
    promoters = int((answers >= 9).sum())
    detractors = int((answers <= 6).sum())
    passives = len(answers) - promoters - detractors
    return _nps_from_counts(promoters, passives, detractors, missing, confidence)


NO_SEGMENT = "(no segment)"


def nps_by_segment(
    df: Frame, segment_col: str, *, score_col: str = "nps", confidence: float = 0.95
) -> pd.DataFrame:
    """NPS per segment (largest segment first); respondents without a segment form their own row.

    Returns
    -------
    DataFrame with columns segment, n, missing, nps, ci_low, ci_high, se, promoter_share,
    passive_share, detractor_share. A segment with no valid answer has n = 0 and empty values.
    """
    frame = _as_pandas(df, [segment_col, score_col], "survey_responses")
    # Validate the whole column once, so a bad value is reported whatever segment it is in.
    _integer_answers(frame[score_col], score_col, 0, 10)
    segments = frame[segment_col].astype("string").fillna(NO_SEGMENT)
    rows = []
    for segment, group in frame.groupby(segments, sort=True):
        answers = _numeric(group[score_col], score_col)
        row: dict[str, Any] = {
            "segment": segment,
            "n": int(answers.notna().sum()),
            "missing": int(answers.isna().sum()),
        }
        if row["n"]:
            result = nps(answers, confidence=confidence, name=score_col)
            row |= {
                "nps": result.value,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "se": result.se,
                "promoter_share": result.promoter_share,
                "passive_share": result.passive_share,
                "detractor_share": result.detractor_share,
            }
        rows.append(row)
    columns = [
        "segment",
        "n",
        "missing",
        "nps",
        "ci_low",
        "ci_high",
        "se",
        "promoter_share",
        "passive_share",
        "detractor_share",
    ]
    table = pd.DataFrame(rows).reindex(columns=columns)
    return table.sort_values("n", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class NPSDifference:
    """NPS of ``a`` minus NPS of ``b`` (points on the -100..100 scale), with a z-test."""

    difference: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    confidence: float = 0.95


def nps_difference(
    a: NPSResult | Sequence[float] | pd.Series,
    b: NPSResult | Sequence[float] | pd.Series,
    *,
    confidence: float = 0.95,
) -> NPSDifference:
    """Compare two independent NPS values: difference a - b, SE = sqrt(SE_a^2 + SE_b^2).

    ``a`` and ``b`` are :class:`NPSResult` values or raw 0-10 answers. The p-value is two-sided
    from the normal approximation.
    """
    first = a if isinstance(a, NPSResult) else nps(a, confidence=confidence)
    second = b if isinstance(b, NPSResult) else nps(b, confidence=confidence)
    difference = first.value - second.value
    se = math.hypot(first.se, second.se)
    half_width = _z(confidence) * se
    if se > 0:
        z = difference / se
        p_value = float(2 * stats.norm.sf(abs(z)))
    else:
        # Both groups answered unanimously: no sampling spread, so any gap is certain.
        z = math.copysign(math.inf, difference) if difference else math.nan
        p_value = 0.0 if difference else 1.0
    return NPSDifference(
        difference=difference,
        se=se,
        ci_low=difference - half_width,
        ci_high=difference + half_width,
        z=z,
        p_value=p_value,
        confidence=confidence,
    )


# --------------------------------------------------------------------------------------------
# Likert items
# --------------------------------------------------------------------------------------------

LIKERT_LEVELS = (1, 2, 3, 4, 5)


def _likert_items(df: Frame, items: Sequence[str] | None) -> list[str]:
    if items is not None:
        chosen = [items] if isinstance(items, str) else list(items)
        if not chosen:
            raise UserError("Give at least one Likert item (a likert_* column).")
        return chosen
    found = [c for c in df.columns if str(c).startswith(LIKERT_PREFIX)]
    if not found:
        raise UserError(
            f"The survey_responses table has no {LIKERT_PREFIX}* columns; name the Likert items "
            "with items=[...] or add columns like likert_easy_checkout holding 1-5 answers."
        )
    return found


def likert_distribution(df: Frame, items: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of answers 1..5 for each Likert item (empty answers left out).

    Parameters
    ----------
    df
        Survey responses (DataFrame or Ibis table).
    items
        The item columns; by default every ``likert_*`` column.

    Returns
    -------
    DataFrame indexed by item with columns 1..5 (shares summing to 1), n (answers) and missing.
    """
    counts = _likert_counts(df, items)
    levels = list(LIKERT_LEVELS)
    # An item nobody answered gets empty shares rather than a division error.
    shares = counts[levels].div(counts["n"].where(counts["n"] > 0), axis=0)
    return pd.concat([shares, counts[["n", "missing"]]], axis=1)


def _likert_counts(df: Frame, items: Sequence[str] | None) -> pd.DataFrame:
    """Counts of answers 1..5 per item, plus n (answered) and missing."""
    names = _likert_items(df, items)
    frame = _as_pandas(df, names, "survey_responses")
    rows = {}
    for item in names:
        answers, missing = _integer_answers(frame[item], item, 1, 5)
        counts = answers.value_counts().reindex(LIKERT_LEVELS, fill_value=0)
        rows[item] = [*counts.tolist(), len(answers), missing]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[*LIKERT_LEVELS, "n", "missing"])
    table.index.name = "item"
    return table.astype(int)


@dataclass(frozen=True)
class Top2BoxResult:
    """Share answering 4 or 5 with its Wilson score interval."""

    share: float
    ci_low: float
    ci_high: float
    successes: int
    n: int
    confidence: float = 0.95


def top2box(successes: int, n: int, *, confidence: float = 0.95) -> Top2BoxResult:
    """Top-2-box share ``successes / n`` with a Wilson interval (good at small n and near 0 or 1).

    Example: 81 of 263 -> 0.308 (0.2553, 0.3662).
    """
    for label, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or int(value) != value:
            raise UserError(f"{label} must be a whole number of respondents; got {value!r}.")
    successes, n = int(successes), int(n)
    if n <= 0:
        raise UserError("No valid respondents: top-2-box needs at least one answer (n >= 1).")
    if not 0 <= successes <= n:
        raise UserError(f"successes must be between 0 and n={n}; got {successes}.")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return Top2BoxResult(successes / n, float(low), float(high), successes, n, confidence)


def likert_top2box(
    df: Frame, items: Sequence[str] | None = None, *, confidence: float = 0.95
) -> pd.DataFrame:
    """Top-2-box (answers 4-5) share and Wilson interval per Likert item.

    Returns
    -------
    DataFrame indexed by item with columns n, top2, share, ci_low, ci_high. Items without any
    answer have n = 0 and empty values.
    """
    counts = _likert_counts(df, items)
    rows = {}
    for item, row in counts.iterrows():
        n, top = int(row.loc["n"]), int(row.loc[4] + row.loc[5])
        result = top2box(top, n, confidence=confidence) if n else None
        rows[item] = {
            "n": n,
            "top2": top,
            "share": result.share if result else np.nan,
            "ci_low": result.ci_low if result else np.nan,
            "ci_high": result.ci_high if result else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "item"
    return table


def diverging_offsets(distribution: pd.DataFrame, neutral: int = 3) -> pd.DataFrame:
    """Bar positions for a diverging stacked bar chart of Likert shares.

    Disagreeing answers sit left of zero, agreeing ones right, and the neutral answer straddles
    zero (half on each side), the usual layout for Likert charts.

    Parameters
    ----------
    distribution
        The output of :func:`likert_distribution` (columns 1..5 hold shares).
    neutral
        The middle answer.

    Returns
    -------
    Long DataFrame with columns item, answer, share, left, right: draw each bar with
    ``ax.barh(item, share, left=left)``.
    """
    levels = [c for c in distribution.columns if c in LIKERT_LEVELS]
    if neutral not in levels:
        raise UserError(f"The distribution has no column for the neutral answer {neutral}.")
    shares = distribution[levels].astype(float)
    start = -(shares[[c for c in levels if c < neutral]].sum(axis=1) + shares[neutral] / 2)
    lefts = shares.cumsum(axis=1).sub(shares).add(start, axis=0)
    long = pd.DataFrame(
        {
            "item": np.repeat(shares.index.to_numpy(), len(levels)),
            "answer": np.tile(levels, len(shares)),
            "share": shares.to_numpy().ravel(),
            "left": lefts.to_numpy().ravel(),
        }
    )
    long["right"] = long["left"] + long["share"]
    return long


# --------------------------------------------------------------------------------------------
# Van Westendorp price sensitivity meter
# --------------------------------------------------------------------------------------------

VW_COLUMNS = ("vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive")
VW_DEFINITIONS = ("original", "narrower")
# Valid answers needed before a price range is published: with n answers each curve's share at
# a price has a standard error of at most 0.5 / sqrt(n), so 100 answers pin every curve to
# within about +/-10 points (95%); fewer and the crossings are guesses.
VW_MIN_ANSWERS = 100


@dataclass(frozen=True)
class VWResult:
    """Van Westendorp price points (shop currency) and the curves behind them.

    opp: optimal price point (too cheap = too expensive); idp: indifference price point
    (cheap = expensive); pmc / pme: points of marginal cheapness / expensiveness, whose
    definition depends on ``definition`` (see :func:`van_westendorp`). A price point is NaN when
    its two curves do not meet within the answered prices.
    """

    opp: float
    idp: float
    pmc: float
    pme: float
    n_used: int
    dropped: int
    curves: pd.DataFrame
    definition: str = "original"
    dropped_missing: int = 0
    dropped_unordered: int = 0
    min_answers: int = 1  # valid answers needed before any price point is published

    @property
    def published(self) -> bool:
        """Enough valid answers for the price points (else they are all NaN)."""
        return self.n_used >= self.min_answers

    @property
    def acceptable_range(self) -> tuple[float, float]:
        """The range of acceptable prices, from PMC to PME."""
        return self.pmc, self.pme


def _vw_answers(df: Frame, columns: Sequence[str]) -> pd.DataFrame:
    if len(columns) != 4:
        raise UserError(
            "columns must name the four Van Westendorp questions in order: too cheap, cheap, "
            f"expensive, too expensive; got {list(columns)!r}."
        )
    frame = _as_pandas(df, columns, "survey_responses")
    answers = pd.DataFrame({c: _numeric(frame[c], c) for c in columns})
    for column in columns:
        negative = answers.loc[answers[column] < 0, column]
        if len(negative):
            raise UserError(
                f"Column {column!r} holds negative prices, e.g. {_example(negative)}. "
                "Prices must be zero or more."
            )
    return answers


def _vw_curves(answers: np.ndarray) -> pd.DataFrame:
    """The four cumulative curves on the union of answered prices (rows: respondents)."""
    prices = np.unique(answers)
    n = len(answers)
    too_cheap, cheap, expensive, too_expensive = (np.sort(answers[:, i]) for i in range(4))
    # "Too cheap"/"cheap" at p: share whose answer is >= p (they would call p that cheap);
    # "expensive"/"too expensive" at p: share whose answer is <= p.
    curves = pd.DataFrame(
        {
            "price": prices,
            "too_cheap": (n - np.searchsorted(too_cheap, prices, side="left")) / n,
            "cheap": (n - np.searchsorted(cheap, prices, side="left")) / n,
            "expensive": np.searchsorted(expensive, prices, side="right") / n,
            "too_expensive": np.searchsorted(too_expensive, prices, side="right") / n,
        }
    )
    curves["not_cheap"] = 1 - curves["cheap"]
    curves["not_expensive"] = 1 - curves["expensive"]
    return curves


def _crossing(prices: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """Price where two curves meet, by sign change of their gap and linear interpolation.

    Where the curves coincide over a run of answered prices, the middle of that run is taken.
    NaN when they never meet within the answered prices.
    """
    gap = first - second
    # Shares are multiples of 1/n: snap float noise so a tie reads as an exact tie.
    gap = np.where(np.abs(gap) < 1e-12, 0.0, gap)
    sign = np.sign(gap)
    change = np.flatnonzero((sign[:-1] * sign[1:] < 0) | (sign[:-1] == 0) | (sign[1:] == 0))
    if not len(change):
        return math.nan
    i = int(change[0])
    if sign[i] != 0 and sign[i + 1] != 0:
        return float(prices[i] + (prices[i + 1] - prices[i]) * gap[i] / (gap[i] - gap[i + 1]))
    start = i if sign[i] == 0 else i + 1
    end = start
    while end + 1 < len(gap) and sign[end + 1] == 0:
        end += 1
    return float((prices[start] + prices[end]) / 2)


def van_westendorp(
    df: Frame,
    *,
    columns: Sequence[str] = VW_COLUMNS,
    definition: Literal["original", "narrower"] = "original",
    min_answers: int | None = None,
) -> VWResult:
    """Van Westendorp price sensitivity meter from the four price questions.

    With fewer than ``min_answers`` valid respondents (default ``VW_MIN_ANSWERS``) no price
    point is published: they are all NaN and ``published`` is False.

    Curves are built on the union of answered prices: too cheap(p) and cheap(p) are the shares
    answering at least p (falling), expensive(p) and too expensive(p) the shares answering at most
    p (rising); not cheap = 1 - cheap, not expensive = 1 - expensive. Price points are where
    two curves cross (sign change, linear interpolation):

    - OPP = too cheap x too expensive; IDP = cheap x expensive;
    - ``definition="original"``: PMC = too cheap x not cheap, PME = too expensive x not expensive;
    - ``definition="narrower"``: PMC = too cheap x expensive, PME = too expensive x cheap.

    Respondents with an empty answer, or whose answers are not strictly increasing
    (too cheap < cheap < expensive < too expensive), are dropped and counted.

    Parameters
    ----------
    df
        Survey responses (DataFrame or Ibis table).
    columns
        The too cheap, cheap, expensive and too expensive columns, in that order.
    definition
        "original" or "narrower" (see above).
    """
    if definition not in VW_DEFINITIONS:
        raise UserError(f"definition must be 'original' or 'narrower'; got {definition!r}.")
    answers = _vw_answers(df, columns)
    values = answers.to_numpy(dtype=float)
    missing = np.isnan(values).any(axis=1)
    ordered = (np.diff(values, axis=1) > 0).all(axis=1)
    valid = ~missing & ordered
    dropped_missing, dropped_unordered = int(missing.sum()), int((~missing & ~ordered).sum())
    if not valid.any():
        raise UserError(
            f"No valid respondents for the Van Westendorp analysis: of {len(values)} response(s), "
            f"{dropped_missing} left a price question empty and {dropped_unordered} gave prices "
            "that do not rise from 'too cheap' to 'cheap' to 'expensive' to 'too expensive'. "
            f"Check the column order: {', '.join(columns)}."
        )
    needed = VW_MIN_ANSWERS if min_answers is None else int(min_answers)
    if needed < 1:
        raise UserError(f"min_answers must be at least 1; got {min_answers!r}.")
    curves = _vw_curves(values[valid])
    price = curves["price"].to_numpy()
    if int(valid.sum()) < needed:
        return VWResult(
            opp=math.nan,
            idp=math.nan,
            pmc=math.nan,
            pme=math.nan,
            n_used=int(valid.sum()),
            dropped=dropped_missing + dropped_unordered,
            curves=curves,
            definition=definition,
            dropped_missing=dropped_missing,
            dropped_unordered=dropped_unordered,
            min_answers=needed,
        )

    def meet(first: str, second: str) -> float:
        return _crossing(price, curves[first].to_numpy(), curves[second].to_numpy())

    if definition == "original":
        pmc, pme = meet("too_cheap", "not_cheap"), meet("too_expensive", "not_expensive")
    else:
        pmc, pme = meet("too_cheap", "expensive"), meet("too_expensive", "cheap")
    return VWResult(
        opp=meet("too_cheap", "too_expensive"),
        idp=meet("cheap", "expensive"),
        pmc=pmc,
        pme=pme,
        n_used=int(valid.sum()),
        dropped=dropped_missing + dropped_unordered,
        curves=curves,
        definition=definition,
        dropped_missing=dropped_missing,
        dropped_unordered=dropped_unordered,
        min_answers=needed,
    )


# --------------------------------------------------------------------------------------------
# Competitor price index
# --------------------------------------------------------------------------------------------

OUTLIER_RANGE = (50.0, 200.0)
PRICE_COLUMNS = ("sku", "competitor", "price", "observed_at")
REFERENCES = ("min", "median")
# Ratios are compared with a little slack so that e.g. 51 / 50 counts as exactly +2%.
_EPSILON = 1e-9


@dataclass(frozen=True)
class PriceIndexResult:
    """Where our prices sit against competitors (100 = same price, 110 = 10% dearer).

    ``per_sku`` has one row per matched SKU; aggregates (medians, weighted index, shares) leave
    out the outliers, which are listed in ``outliers`` for a human check (usually a wrong product
    match or a price in another unit).
    """

    per_sku: pd.DataFrame
    median_index: float
    weighted_index: float
    share_above: float
    share_at: float
    share_below: float
    n_matched: int
    unmatched: list[str]
    outliers: pd.DataFrame
    reference: str
    tolerance: float
    weighting: str
    outlier_range: tuple[float, float]
    as_of: pd.Timestamp | None
    ignored_observations: int


def _check_index_options(reference: str, tolerance: float, outlier_range: Sequence[float]) -> None:
    if reference not in REFERENCES:
        raise UserError(f"reference must be 'min' or 'median'; got {reference!r}.")
    if not 0 <= tolerance < 1:
        raise UserError(f"tolerance must be a share such as 0.02 (2%); got {tolerance!r}.")
    low, high = outlier_range
    if not 0 <= low < 100 < high:
        raise UserError(
            f"outlier_range must be (low, high) around 100, e.g. (50, 200); got {outlier_range!r}."
        )


def _own_prices(products: Frame) -> pd.Series:
    """Our list price per SKU, checked."""
    frame = _as_pandas(products, ["sku", "price"], "products")
    frame["sku"] = frame["sku"].astype("string")
    prices = _numeric(frame["price"], "products.price")
    if prices.isna().any():
        skus = frame.loc[prices.isna(), "sku"]
        raise UserError(
            f"products.price is empty for {len(skus)} SKU(s), e.g. {_example(skus)}. "
            "Fill in the price or remove those products."
        )
    duplicated = frame.loc[frame["sku"].duplicated(), "sku"]
    if len(duplicated):
        raise UserError(
            f"products lists some SKUs more than once, e.g. {_example(duplicated)}. "
            "Keep one row per SKU."
        )
    if frame.empty:
        raise UserError("The products table is empty: there is nothing to compare.")
    return pd.Series(prices.to_numpy(), index=pd.Index(frame["sku"], name="sku"), name="own_price")


def _price_table(competitor_prices: Frame) -> ibis.Table:
    """Competitor observations as an Ibis table, so the heavy filtering runs in the engine."""
    if isinstance(competitor_prices, pd.DataFrame):
        frame = _as_pandas(competitor_prices, PRICE_COLUMNS, "competitor_prices")
        frame["sku"] = frame["sku"].astype("string")
        frame["competitor"] = frame["competitor"].astype("string")
        frame["price"] = _numeric(frame["price"], "competitor_prices.price")
        frame["observed_at"] = _timestamps(frame["observed_at"], "competitor_prices.observed_at")
        return ibis.memtable(frame)
    table = competitor_prices
    _require_columns(table, PRICE_COLUMNS, "competitor_prices")
    if not table.price.type().is_numeric():
        raise UserError("competitor_prices.price must be numeric in the database.")
    if not table.observed_at.type().is_temporal():
        raise UserError("competitor_prices.observed_at must be a date or timestamp column.")
    return table.select(*PRICE_COLUMNS)


def _up_to(as_of: Any, column: ibis.Column) -> tuple[pd.Timestamp, ibis.Value]:
    """The as-of timestamp and the engine condition keeping observations up to it (inclusive).

    A plain date means the end of that day, which is what "prices as of 20 March" means to a
    reader; timestamps are matched to the column's time zone so the engine compares like
    with like.
    """
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise UserError(f"as_of must be a date such as '2024-03-31'; got {as_of!r}.") from None
    if column.type().is_date():
        return stamp, column <= stamp.date()
    whole_day = stamp == stamp.normalize()
    bound = stamp + pd.Timedelta(days=1) if whole_day else stamp
    tz = getattr(column.type(), "timezone", None)
    if tz and bound.tzinfo is None:
        bound = bound.tz_localize(tz)
    elif not tz and bound.tzinfo is not None:
        bound = bound.tz_convert("UTC").tz_localize(None)
    return stamp, (column < bound) if whole_day else (column <= bound)


def _latest_per_competitor(table: ibis.Table, group: Sequence[str]) -> pd.DataFrame:
    """Each competitor's latest price per SKU (and per extra grouping keys), in the engine."""
    window = ibis.window(
        group_by=[table[c] for c in (*group, "sku", "competitor")],
        order_by=[ibis.desc(table.observed_at), table.price],  # price: a deterministic tie-break
    )
    latest = table.mutate(_rank=ibis.row_number().over(window))
    latest = latest.filter(latest._rank == 0).drop("_rank")
    frame = latest.to_pandas()
    frame["sku"] = frame["sku"].astype("string")
    return frame


def _index_per_sku(
    own: pd.Series,
    latest: pd.DataFrame,
    reference: str,
    tolerance: float,
    outlier_range: Sequence[float],
) -> pd.DataFrame:
    """Reference price, index and position for each of our SKUs that has competitor prices."""
    ref = latest.groupby("sku").agg(
        reference_price=("price", reference),
        n_competitors=("competitor", "nunique"),
        last_observed=("observed_at", "max"),
    )
    table = ref.join(own, how="inner")
    ratio = table["own_price"] / table["reference_price"]
    table["index"] = 100 * ratio
    table["position"] = np.select(
        [ratio - 1 > tolerance + _EPSILON, ratio - 1 < -tolerance - _EPSILON],
        ["above", "below"],
        default="at",
    )
    low, high = outlier_range
    table["outlier"] = ~table["index"].between(low, high)
    columns = [
        "own_price",
        "reference_price",
        "index",
        "position",
        "outlier",
        "n_competitors",
        "last_observed",
    ]
    return table[columns].sort_values("index", ascending=False, kind="stable")


def _shares(positions: pd.Series) -> dict[str, float]:
    """Share of SKUs above / at / below the market (empty when there are none)."""
    if positions.empty:
        return {f"share_{p}": math.nan for p in ("above", "at", "below")}
    counts = positions.value_counts(normalize=True)
    return {f"share_{p}": float(counts.get(p, 0.0)) for p in ("above", "at", "below")}


def _weights(revenue: Mapping[str, float] | pd.Series | None, skus: pd.Index) -> pd.Series:
    """Revenue per SKU as weights (0 for SKUs without revenue); equal weights without revenue."""
    if revenue is None:
        return pd.Series(1.0, index=skus)
    series = pd.Series(revenue, dtype=float)
    series.index = series.index.astype("string")
    if (series < 0).any() or series.isna().any():
        bad = series[(series < 0) | series.isna()]
        raise UserError(
            f"revenue per SKU must be zero or more; got {_example(bad)} for "
            f"{_example(bad.index.to_series())}."
        )
    weights = series.reindex(skus, fill_value=0.0)
    if weights.sum() <= 0:
        raise UserError(
            "None of the compared SKUs has revenue, so a revenue-weighted index is undefined. "
            "Check that the revenue keys are SKUs, or leave revenue out for equal weights."
        )
    return weights


def price_index(
    products: Frame,
    competitor_prices: Frame,
    *,
    reference: Literal["min", "median"] = "min",
    tolerance: float = 0.02,
    as_of: Any = None,
    revenue: Mapping[str, float] | pd.Series | None = None,
    outlier_range: tuple[float, float] = OUTLIER_RANGE,
) -> PriceIndexResult:
    """Competitor price index per SKU: 100 x our price / competitor reference price.

    For every (SKU, competitor) the latest observation up to ``as_of`` is kept (computed in the
    engine); the reference is the cheapest (``"min"``) or the median of those competitor prices.
    A SKU is "at" market when its price is within +/- ``tolerance`` of the reference (inclusive),
    otherwise "above" or "below".

    Outlier rule: an index outside ``outlier_range`` (default 50-200, i.e. half or double the
    reference) is listed as an outlier and left out of every aggregate, as it nearly always means
    a wrong product match or a price per pack instead of per unit.

    Parameters
    ----------
    products
        Our catalogue (columns sku, price).
    competitor_prices
        Observations (sku, competitor, price, observed_at); prices <= 0 or empty are ignored and
        counted.
    reference
        "min" or "median" of the competitors' latest prices.
    tolerance
        Band counted as "at" market, as a share (0.02 = +/-2%).
    as_of
        Only observations up to this date (a date means the end of that day); default: all.
    revenue
        Revenue per SKU (mapping or Series indexed by SKU) for the weighted index; SKUs without
        revenue weigh 0. Default: equal weights.
    outlier_range
        Index values outside this range are outliers.
    """
    _check_index_options(reference, tolerance, outlier_range)
    own = _own_prices(products)
    table = _price_table(competitor_prices)
    usable = table.price.notnull() & (table.price > 0)
    ignored = int(table.filter(~usable).count().execute())
    observations = table.filter(usable)
    stamp = None
    if as_of is not None:
        stamp, keep = _up_to(as_of, observations.observed_at)
        observations = observations.filter(keep)
    per_sku = _index_per_sku(
        own, _latest_per_competitor(observations, ()), reference, tolerance, outlier_range
    )
    cutoff_note = f" up to {stamp.date()}" if stamp is not None else ""
    if per_sku.empty:
        raise UserError(
            f"None of the {len(own)} products has a competitor price{cutoff_note}. Check that "
            "competitor_prices.sku uses the same SKU codes as products.sku."
        )
    kept = per_sku[~per_sku["outlier"]]
    if kept.empty:
        raise UserError(
            f"Every matched SKU has a price index outside {outlier_range[0]:g}-"
            f"{outlier_range[1]:g} (e.g. {per_sku['index'].iloc[0]:.0f}). Are the competitor "
            "prices in another currency or unit (cents, packs)?"
        )
    weights = _weights(revenue, kept.index)
    per_sku["weight"] = weights.reindex(per_sku.index).fillna(0.0) / weights.sum()
    return PriceIndexResult(
        per_sku=per_sku,
        median_index=float(kept["index"].median()),
        weighted_index=float(np.average(kept["index"], weights=weights)),
        **_shares(kept["position"]),
        n_matched=len(kept),
        unmatched=sorted(own.index.difference(per_sku.index).tolist()),
        outliers=per_sku[per_sku["outlier"]],
        reference=reference,
        tolerance=tolerance,
        weighting="equal" if revenue is None else "revenue",
        outlier_range=tuple(outlier_range),
        as_of=stamp,
        ignored_observations=ignored,
    )


PERIODS = {"D": "D", "W": "W", "M": "M", "Q": "Q", "Y": "Y"}


def _period_start(column: ibis.Column, freq: str, week_starts_on: str) -> ibis.Column:
    """First day of the period holding each timestamp, in portable SQL."""
    if freq not in PERIODS:
        raise UserError(f"freq must be one of {', '.join(PERIODS)}; got {freq!r}.")
    if freq != "W":
        return column.truncate(PERIODS[freq])
    return periods.week_start(column, week_starts_on)


def price_index_trend(
    products: Frame,
    competitor_prices: Frame,
    *,
    freq: str = "W",
    reference: Literal["min", "median"] = "min",
    tolerance: float = 0.02,
    outlier_range: tuple[float, float] = OUTLIER_RANGE,
    week_starts_on: str | None = None,
) -> pd.DataFrame:
    """Median competitor price index per period ("D", "W", "M", "Q" or "Y").

    Within each period each competitor's latest price per SKU is the reference input (computed in
    the engine); our side is the current list price, as the contract holds no own-price history,
    so the trend shows how competitors moved against today's prices. Outliers are left out as in
    :func:`price_index`. Weeks start on the project's ``week_starts_on`` unless given.

    Returns
    -------
    DataFrame with columns period (first day), median_index, n_skus, share_above, share_at,
    share_below.
    """
    _check_index_options(reference, tolerance, outlier_range)
    own = _own_prices(products)
    table = _price_table(competitor_prices)
    table = table.filter(table.price.notnull() & (table.price > 0))
    start = week_starts_on or _project.WEEK_STARTS_ON
    table = table.mutate(period=_period_start(table.observed_at, freq, start))
    latest = _latest_per_competitor(table, ("period",))
    rows = []
    for period, group in latest.groupby("period", sort=True):
        per_sku = _index_per_sku(own, group, reference, tolerance, outlier_range)
        kept = per_sku[~per_sku["outlier"]]
        rows.append(
            {
                "period": period,
                "median_index": float(kept["index"].median()) if len(kept) else np.nan,
                "n_skus": len(kept),
                **_shares(kept["position"]),
            }
        )
    columns = ["period", "median_index", "n_skus", "share_above", "share_at", "share_below"]
    return pd.DataFrame(rows, columns=columns)


def revenue_by_sku(order_lines: Frame) -> pd.Series:
    """Revenue per SKU (quantity x unit price) from order lines, summed in the engine."""
    if isinstance(order_lines, pd.DataFrame):
        order_lines = ibis.memtable(
            _as_pandas(order_lines, ["sku", "quantity", "unit_price"], "order_lines")
        )
    else:
        _require_columns(order_lines, ["sku", "quantity", "unit_price"], "order_lines")
    totals = order_lines.group_by("sku").aggregate(
        revenue=(order_lines.quantity * order_lines.unit_price).sum()
    )
    frame = totals.to_pandas()
    return pd.Series(
        frame["revenue"].to_numpy(dtype=float),
        index=pd.Index(frame["sku"].astype("string"), name="sku"),
        name="revenue",
    ).sort_index()


# --------------------------------------------------------------------------------------------
# Demand trends (search-interest CSV export)
# --------------------------------------------------------------------------------------------

BELOW_ONE_INTEREST = 0.5  # "<1" means some interest below 1 on the 0-100 scale: take the middle
_TIME_HEADERS = {"week", "day", "month", "time", "date"}
_TERM_HEADER = re.compile(r"^(?P<term>.*?):\s*\((?P<region>[^()]*)\)\s*$")


def _header_row(lines: list[str]) -> int | None:
    for number, line in enumerate(lines):
        fields = next(csv.reader([line]), [])
        if len(fields) >= 2 and fields[0].strip().lower() in _TIME_HEADERS:
            return number
    return None


def read_trends_csv(path: str | Path) -> pd.DataFrame:
    """Read a search-trends CSV export into a tidy frame.

    The export starts with a few lines such as ``Category: All categories`` and a blank line,
    then a header ``Week,<term>: (<region>),...`` and one row per week (or day / month).
    Values of ``<1`` become 0.5 (:data:`BELOW_ONE_INTEREST`).

    Returns
    -------
    DataFrame with columns date, term, region, interest (0-100), sorted by term and date.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    header = _header_row(lines)
    if header is None:
        raise UserError(
            f"{path.name} does not look like a search-trends export: expected a header line "
            "such as 'Week,running shoes: (United States)' (or Day/Month) after the "
            "'Category: ...' line. Download the 'Interest over time' CSV and pass that file."
        )
    wide = pd.read_csv(io.StringIO("\n".join(lines[header:])), dtype=str, skip_blank_lines=True)
    time_column = wide.columns[0]
    if wide.empty:
        raise UserError(f"{path.name}: the trends export has a header but no data rows.")
    dates = _timestamps(wide[time_column].str.strip(), f"{path.name}: {time_column}")
    frames = []
    for column in wide.columns[1:]:
        match = _TERM_HEADER.match(str(column))
        term, region = (match["term"], match["region"]) if match else (str(column), None)
        raw = wide[column].str.strip()
        interest = pd.to_numeric(raw.replace("<1", str(BELOW_ONE_INTEREST)), errors="coerce")
        bad = raw[raw.notna() & (raw != "") & ~interest.between(0, 100)]
        if len(bad):
            raise UserError(
                f"{path.name}: column {column!r} holds values that are not interest scores "
                f"(0-100 or '<1'), e.g. {_example(bad)}."
            )
        frames.append(
            pd.DataFrame(
                {"date": dates, "term": term.strip(), "region": region, "interest": interest}
            )
        )
    if not frames:
        raise UserError(f"{path.name}: the trends export has no search-term columns.")
    tidy = pd.concat(frames, ignore_index=True)
    tidy["interest"] = tidy["interest"].astype(float)
    return tidy.sort_values(["term", "date"], kind="stable").reset_index(drop=True)


def interest_change(trends: pd.DataFrame, days: int = 90) -> pd.DataFrame:
    """Each term's recent interest against a year earlier: a plain ratio of averages, no model.

    Recent = the mean interest over the last ``days`` days of the term's series; it is compared
    with the same ``days`` days one year (365 days) earlier, or, when the export does not reach
    back a year, with its first ``days`` days. Returns one row per term (in the order of
    ``trends``): ``term``, ``change`` (recent / earlier - 1; NaN when the earlier mean is 0) and
    ``basis`` (``"year_ago"`` or ``"start"``).
    """
    window = pd.Timedelta(days=days)
    rows = []
    for term, part in trends.groupby("term", sort=False):
        end = part["date"].max()
        recent = part.loc[part["date"] > end - window, "interest"].mean()
        year_ago = part[
            (part["date"] > end - window - pd.Timedelta(days=365))
            & (part["date"] <= end - pd.Timedelta(days=365))
        ]
        basis = "year_ago" if len(year_ago) else "start"
        earlier = year_ago if len(year_ago) else part[part["date"] <= part["date"].min() + window]
        mean = earlier["interest"].mean()
        rows.append(
            {"term": term, "change": recent / mean - 1 if mean else math.nan, "basis": basis}
        )
    return pd.DataFrame(rows, columns=["term", "change", "basis"])


# --------------------------------------------------------------------------------------------
# The brief's sentences and its decision (docs/decisions.md, Market research)
# --------------------------------------------------------------------------------------------

INPUT_LABELS = {
    "category_spend": "Category spend per year",
    "relevant_share": "Relevant share",
    "target_buyers": "Target buyers",
    "purchases_per_year": "Purchases per buyer per year",
    "aov": "Average order value",
    "serviceable_share": "Serviceable share",
    "attainable_share": "Attainable share",
}
PLACEHOLDER_PREFIXES = ("illustrative", "(no source", "placeholder", "replace")
PARAMS_FILE = "params/market_research.yaml"
AGREEMENT_RATIO = 1.5  # the two TAMs agree when within 1.5x of each other (and SOMs overlap)


def md_money(value: float, currency: str, decimals: int = 0) -> str:
    from .formats import format_money, md_escape

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return md_escape(format_money(value, currency, decimals))


def is_placeholder(source: str | None) -> bool:
    """A sizing input whose source says it is illustrative, or that has no source at all."""
    text = (source or "").strip().lower()
    return not text or text.startswith(PLACEHOLDER_PREFIXES)


@dataclass(frozen=True)
class MarketFacts:
    """The evidence the brief's go/no-go rests on (money yearly, in the shop currency)."""

    placeholders: tuple[str, ...]  # sizing inputs still illustrative or unsourced
    som_top_down: float
    som_bottom_up: float
    tam_ratio: float  # bottom-up TAM / top-down TAM
    som_ranges_overlap: bool
    own_revenue: float  # our last 12 months
    currency: str

    @property
    def approaches_agree(self) -> bool:
        return self.som_ranges_overlap and 1 / AGREEMENT_RATIO <= self.tam_ratio <= AGREEMENT_RATIO


def market_facts(
    inputs: pd.DataFrame, sizes: pd.DataFrame, own_revenue: float, currency: str = "USD"
) -> MarketFacts:
    """Facts from ``sizing_inputs`` and ``market_size`` output and our own yearly revenue."""
    td, bu = sizes["top-down"], sizes["bottom-up"]
    placeholders = tuple(
        dict.fromkeys(inputs.loc[inputs["source"].map(is_placeholder), "input"].tolist())
    )
    overlap = min(td.loc["SOM", "high"], bu.loc["SOM", "high"]) >= max(
        td.loc["SOM", "low"], bu.loc["SOM", "low"]
    )
    return MarketFacts(
        placeholders=placeholders,
        som_top_down=float(td.loc["SOM", "base"]),
        som_bottom_up=float(bu.loc["SOM", "base"]),
        tam_ratio=float(bu.loc["TAM", "base"] / td.loc["TAM", "base"]),
        som_ranges_overlap=bool(overlap),
        own_revenue=float(own_revenue),
        currency=currency,
    )


def _names(inputs: Sequence[str]) -> str:
    labels = [INPUT_LABELS.get(name, name).lower() for name in inputs]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def draft_line(facts: MarketFacts) -> str | None:
    """The brief's first line while any sizing input is a placeholder (else None)."""
    if not facts.placeholders:
        return None
    return (
        f"**DRAFT: replace the illustrative inputs before sharing:** {_names(facts.placeholders)} "
        f"in `{PARAMS_FILE}`, each with a cited source. No go/no-go until then."
    )


def decide(facts: MarketFacts) -> Decision:
    """The brief's go/no-go (rules MR-1 to MR-4)."""
    from .formats import format_pct

    if facts.placeholders:
        n = len(facts.placeholders)
        return Decision(
            "market_research",
            "draft",
            "Draft: no go/no-go yet",
            f"{n} of the sizing inputs ({_names(facts.placeholders)}) are illustrative "
            "placeholders or have no source, so the market size is not evidence yet.",
            f"Replace the illustrative sizing inputs in `{PARAMS_FILE}` with cited figures and "
            "their sources, then re-run the brief.",
            "MR-1",
        )
    if not facts.approaches_agree:
        return Decision(
            "market_research",
            "hold_reconcile",
            "Hold",
            f"The top-down and bottom-up sizes disagree (bottom-up TAM is {facts.tam_ratio:.2f}× "
            "top-down"
            + ("" if facts.som_ranges_overlap else ", and the SOM ranges do not overlap")
            + "): one set of assumptions is off.",
            "Reconcile the two sizings before committing budget.",
            "MR-2",
        )
    if facts.som_top_down <= facts.own_revenue:
        return Decision(
            "market_research",
            "hold_headroom",
            "Hold",
            f"The obtainable market ({md_money(facts.som_top_down, facts.currency)} a year) is no "
            f"bigger than our own last 12 months ({md_money(facts.own_revenue, facts.currency)}).",
            "Revisit the attainable share before investing.",
            "MR-3",
        )
    headroom = facts.som_top_down - facts.own_revenue
    return Decision(
        "market_research",
        "go",
        "Go",
        f"Both sizings agree and the obtainable market of "
        f"{md_money(facts.som_top_down, facts.currency)} a year leaves "
        f"{md_money(headroom, facts.currency)} of headroom over today's revenue "
        f"({format_pct(facts.own_revenue / facts.som_top_down, 0)} of it taken).",
        "Commit the budget; price and fix the weakest rating as the brief says.",
        "MR-4",
    )


def sizing_findings(
    facts: MarketFacts,
    sizes: pd.DataFrame,
    biggest: Mapping[str, str],
    own_aov: float,
) -> str:
    """The market-size section's "What this means" (``biggest``: approach -> input name with the
    largest tornado swing)."""
    from .formats import format_pct

    c = facts.currency
    td, bu = sizes["top-down"], sizes["bottom-up"]
    text = (
        f"**What this means:** top-down, the obtainable market is "
        f"**{md_money(facts.som_top_down, c)} a year** "
        f"(range {md_money(td.loc['SOM', 'low'], c)} – {md_money(td.loc['SOM', 'high'], c)}) "
        f"out of a {md_money(td.loc['TAM', 'base'], c)} "
        f"total market; bottom-up it is {md_money(facts.som_bottom_up, c)} "
        f"({md_money(bu.loc['SOM', 'low'], c)} – {md_money(bu.loc['SOM', 'high'], c)}). "
    )
    if facts.approaches_agree:
        text += (
            f"The two approaches agree (bottom-up TAM is {facts.tam_ratio:.2f}× top-down and the "
            "SOM ranges overlap). "
        )
    else:
        text += (
            f"⚠️ The two approaches disagree (bottom-up TAM is {facts.tam_ratio:.2f}× top-down"
            + ("" if facts.som_ranges_overlap else ", and the SOM ranges do not overlap")
            + "): one set of assumptions is off, so reconcile them before relying on either. "
        )
    text += "TAM ≥ SAM ≥ SOM holds in every scenario of both approaches. "
    top, bottom = (
        INPUT_LABELS.get(biggest[a], biggest[a]).lower() for a in ("top_down", "bottom_up")
    )
    text += (
        f"The estimate is most sensitive to the {top} in both approaches: research it first. "
        if top == bottom
        else f"The estimate is most sensitive to the {top} (top-down) and the {bottom} "
        "(bottom-up): research those first. "
    )
    text += (
        f"For scale, our own revenue over the last 12 months was {md_money(facts.own_revenue, c)} "
        f"({format_pct(facts.own_revenue / facts.som_top_down, 0)} of the top-down SOM) with an "
        f"average order of {md_money(own_aov, c, 2)}"
    )
    if facts.own_revenue > td.loc["SOM", "high"]:
        text += "; ⚠️ we already sell more than the SOM, so the attainable share is set too low."
    else:
        text += "."
    if facts.placeholders:
        text += f" {draft_line(facts)}"
    return text


@dataclass(frozen=True)
class PriceSubject:
    """What the price questions asked about, and what it costs today."""

    name: str  # the product or category; "" when not said
    today: float  # today's price (NaN: unknown)
    source: str  # where today's price comes from, in words


def price_subject(
    product: str, current_price: float = 0.0, products: pd.DataFrame | None = None
) -> PriceSubject:
    """Today's price of the surveyed product or category.

    ``current_price`` > 0 wins; else a ``products`` row whose sku or name is ``product`` gives
    its price, or the median price of the products in category ``product``.
    """
    name = (product or "").strip()
    if current_price and current_price > 0:
        return PriceSubject(name, float(current_price), "the current_price parameter")
    if name and products is not None and len(products):
        for column in ("sku", "name"):
            if column in products:
                hit = products[products[column].astype(str) == name]
                if len(hit):
                    return PriceSubject(
                        name, float(hit["price"].iloc[0]), f"its {column} in products"
                    )
        if "category" in products:
            in_category = products[products["category"].astype(str) == name]
            if len(in_category):
                return PriceSubject(
                    name,
                    float(in_category["price"].median()),
                    f"the median price of the {len(in_category):,} {name} products",
                )
    return PriceSubject(name, math.nan, "")


def vw_findings(
    vw: VWResult, subject: PriceSubject, *, planned_price: float = 0.0, currency: str = "USD"
) -> str:
    """The price section's "What this means": the range for the named product and today's price,
    or why no range is published."""
    what = (
        f"**{md_escape(subject.name)}**"
        if subject.name
        else "the surveyed product (not named: set `vw_product`)"
    )
    answered = vw.n_used + vw.dropped
    if not vw.published:
        return (
            f"**No price range is published:** only {vw.n_used:,} of {answered:,} answers about "
            f"{what} are valid ({vw.dropped_unordered:,} do not rise from “too cheap” to “too "
            f"expensive”, {vw.dropped_missing:,} skipped a question), and a price range needs at "
            f"least {vw.min_answers:,} valid answers. Collect at least "
            f"{vw.min_answers - vw.n_used:,} more complete, ordered answers, or check the order of "
            "the four price columns (vw_columns)."
        )
    today = (
        f"Today's price is {md_money(subject.today, currency, 2)} ({subject.source}), "
        + (
            "inside that range."
            if vw.pmc <= subject.today <= vw.pme
            else "⚠️ **outside** that range."
        )
        if not math.isnan(subject.today)
        else "Today's price is not known: set `current_price`, or name a product or category "
        "of the products table in `vw_product`."
    )
    text = (
        f"**What this means:** for {what}, customers accept prices from "
        f"**{md_money(vw.pmc, currency, 2)} to {md_money(vw.pme, currency, 2)}**; the optimal "
        f"price point is {md_money(vw.opp, currency, 2)} and the indifference point "
        f"{md_money(vw.idp, currency, 2)} ({vw.definition} definition). {today} "
        f"{vw.dropped:,} of {answered:,} respondents were left out ({vw.dropped_unordered:,} gave "
        f"prices that do not rise from “too cheap” to “too expensive”, {vw.dropped_missing:,} "
        f"skipped a question), so the curves use {vw.n_used:,} answers."
    )
    if planned_price > 0:
        inside = vw.pmc <= planned_price <= vw.pme
        text += f" Our planned price of {md_money(planned_price, currency, 2)} is " + (
            f"**inside** the acceptable range, {'above' if planned_price > vw.opp else 'below'} "
            "the optimal price point."
            if inside
            else "⚠️ **outside** the acceptable range."
        )
    return text


def price_step(
    vw: VWResult | None, subject: PriceSubject, planned_price: float, currency: str
) -> str | None:
    """The brief's pricing next step (None without price answers)."""
    if vw is None:
        return None
    if not vw.published:
        return (
            f"collect at least {vw.min_answers - vw.n_used:,} more valid price answers before "
            "setting a price"
        )
    what = f" for {md_escape(subject.name)}" if subject.name else ""
    low, high = md_money(vw.pmc, currency, 2), md_money(vw.pme, currency, 2)
    if planned_price > 0 and not vw.pmc <= planned_price <= vw.pme:
        return f"move the planned price{what} into the accepted {low} – {high} range"
    return f"price{what} within {low} – {high}, near {md_money(vw.opp, currency, 2)}"


def price_point(
    vw: VWResult | None, subject: PriceSubject, planned_price: float, currency: str
) -> str | None:
    """The executive summary's price bullet (None without price answers)."""
    if vw is None:
        return None
    what = subject.name or "the surveyed product"
    if not vw.published:
        return (
            f"**Price ({md_escape(what)}):** no range published, {vw.n_used:,} valid "
            f"answers of the {vw.min_answers:,} needed."
        )
    text = (
        f"**Price ({md_escape(what)}):** customers accept {md_money(vw.pmc, currency, 2)} – "
        f"{md_money(vw.pme, currency, 2)}, optimal {md_money(vw.opp, currency, 2)}"
    )
    if not math.isnan(subject.today):
        text += f"; today {md_money(subject.today, currency, 2)}"
    if planned_price > 0:
        inside = vw.pmc <= planned_price <= vw.pme
        where = "inside" if inside else "outside"
        text += f"; planned {md_money(planned_price, currency, 2)} is {where} the range"
    return text + "."
