"""The post-launch review page: evidence from the data, the tables and the sentences it shows.

The notebook calls these functions and displays what they return; every sentence is built here
from the computed values (and unit-tested), the verdict comes from ``review_decision``.

- ``review_experiment(con, plan, as_of)``: the A/B readout as an :class:`ExperimentReview`
  (per-unit table, readout, decision evidence, decision), including the "not applicable yet"
  state when nobody was enrolled by ``as_of``.
- ``review_pre_post(con, plan, as_of)``: before/after against a comparison series.
- Tables (``plan_table``, ``split_table``, ``metrics_table``, ``guardrail_table``,
  ``segment_table``, ``sample_table``) and sentences (``*_sentence``, ``executive_points``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from . import data
from . import experiments as ex
from .decisions import Decision
from .errors import UserError
from .formats import format_money, md_escape
from .review_decision import (
    ExperimentEvidence,
    GuardrailEvidence,
    PrePostEvidence,
    decide_experiment,
    decide_pre_post,
    format_probability,
    pct,
    units_to_settle,
)

LABELS = {
    "conversion": "Conversion rate",
    "revenue_per_visitor": "Revenue per visitor",
    "aov": "Average order value",
    "orders_per_user": "Orders per visitor",
    "refund_rate": "Refund rate",
}
CORRECTION_LABELS = {
    "holm": "Holm (family-wise error rate)",
    "fdr_bh": "Benjamini-Hochberg (false discovery rate)",
}
MONEY_METRICS = {"revenue_per_visitor", "aov"}
RATE_METRICS = {"conversion", "refund_rate"}
MODES = ("experiment", "pre_post")
SERIES_METRICS = {
    "revenue": "Daily revenue",
    "orders": "Daily orders",
    "aov": "Average order value",
}
LEVEL_NAMES = {("is_new", "True"): "new customers", ("is_new", "False"): "returning customers"}


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " ").capitalize())


def value(metric: str, x: float | None, currency: str) -> str:
    """A metric value as a reader expects it: a rate in %, money in the shop currency."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if metric in RATE_METRICS:
        return f"{100 * x:.2f}%"
    if metric in MONEY_METRICS:
        return format_money(x, currency, 2)
    return f"{x:,.3f}"


def signed(metric: str, x: float, currency: str) -> str:
    """A difference: percentage points for rates, money for money, else a number."""
    if metric in RATE_METRICS:
        return f"{100 * x:+.2f} pts"
    return ("+" if x >= 0 else "-") + value(metric, abs(x), currency)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")


# --------------------------------------------------------------------------------------------
# The plan and the evidence
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentPlan:
    """The pre-registered plan, as the notebook's parameters give it."""

    experiment_id: str
    hypothesis: str = ""
    control: str = "control"
    treatment: str = ""
    planned_split: Mapping[str, float] = field(
        default_factory=lambda: {"control": 0.5, "treatment": 0.5}
    )
    start_date: str = ""
    end_date: str = ""
    primary_metric: str = "conversion"
    secondary_metrics: Sequence[str] = ("revenue_per_visitor", "aov", "orders_per_user")
    guardrails: Mapping[str, float] = field(default_factory=lambda: {"refund_rate": 0.10})
    minimum_effect: float = 0.05
    alpha: float = 0.05
    power: float = 0.8
    planned_units_per_arm: int = 0
    cuped: bool = True
    cuped_pre_days: int = 28
    segment_cuts: Sequence[str] = ("device", "is_new")
    correction: str = "holm"
    yearly_visitors: int = 0  # 0: the experiment's enrolment rate over a year
    currency: str = "USD"

    @property
    def metrics(self) -> list[str]:
        return [
            self.primary_metric,
            *[m for m in self.secondary_metrics if m != self.primary_metric],
        ]

    @property
    def correction_method(self) -> str | None:
        return None if self.correction in ("", "none", None) else self.correction


@dataclass(frozen=True, eq=False)
class ExperimentReview:
    """Everything the A/B part of the page shows; ``result`` is None when not started."""

    plan: ExperimentPlan
    as_of: data.AnalysisDate
    window_start: pd.Timestamp | None
    window_end: pd.Timestamp  # exclusive
    units: pd.DataFrame | None
    result: ex.ReadoutResult | None
    evidence: ExperimentEvidence
    decision: Decision

    @property
    def started(self) -> bool:
        return self.result is not None


def _window(
    plan: ExperimentPlan, as_of: data.AnalysisDate
) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    start = (
        pd.Timestamp(data.parse_date(plan.start_date, "start_date")) if plan.start_date else None
    )
    end = as_of.end
    if plan.end_date:
        end = min(
            end, pd.Timestamp(data.parse_date(plan.end_date, "end_date")) + pd.Timedelta(days=1)
        )
    return start, end


def _at(ts: pd.Timestamp) -> ibis.Value:
    return ibis.literal(ts.to_pydatetime(), type="timestamp")


def _enrolment_span(
    con: ibis.BaseBackend, experiment_id: str, start: pd.Timestamp | None, end: pd.Timestamp
) -> tuple[int, pd.Timestamp | None]:
    """Units enrolled in the window, and the first enrolment after it (None if none)."""
    a = data.table(con, "assignments")
    a = a.filter(a.experiment_id == experiment_id)
    if int(a.count().to_pandas()) == 0:
        known = sorted(
            data.table(con, "assignments")
            .select("experiment_id")
            .distinct()
            .limit(20)
            .to_pandas()["experiment_id"]
            .astype(str)
        )
        raise UserError(
            f"There is no experiment {experiment_id!r} in the assignments table; the experiments "
            f"there are {', '.join(known) or 'none'}. Set experiment_id to one of them."
        )
    inside = a.filter(a.assigned_at < _at(end))
    if start is not None:
        inside = inside.filter(inside.assigned_at >= _at(start))
    later = a.filter(a.assigned_at >= _at(end)).assigned_at.min().to_pandas()
    later = None if later is None or pd.isna(later) else pd.Timestamp(later)
    return int(inside.count().to_pandas()), later


def review_experiment(
    con: ibis.BaseBackend, plan: ExperimentPlan, as_of: object = ""
) -> ExperimentReview:
    """The A/B readout of ``plan.experiment_id`` with its decision, or "not applicable yet"."""
    day = data.analysis_date(con, as_of)
    start, end = _window(plan, day)
    enrolled, later = _enrolment_span(con, plan.experiment_id, start, end)
    if enrolled == 0:
        evidence = ExperimentEvidence(
            plan.experiment_id,
            day.day,
            enrolled=False,
            first_enrolment_after=later.date() if later is not None else None,
        )
        return ExperimentReview(
            plan, day, start, end, None, None, evidence, decide_experiment(evidence)
        )
    tables: dict[str, Any] = {"sessions": data.table(con, "sessions")}
    if {"country", "acquisition_channel"} & set(plan.segment_cuts):
        data.check(con, ["customers"])
        tables["customers"] = data.table(con, "customers")
    units = ex.unit_outcomes(
        data.table(con, "assignments"),
        data.table(con, "orders"),
        plan.experiment_id,
        start=start,
        end=end,
        pre_days=plan.cuped_pre_days,
        **tables,
    )
    result = ex.readout(
        units,
        control=plan.control,
        treatment=plan.treatment or None,
        alpha=plan.alpha,
        metrics=plan.metrics,
        primary=plan.primary_metric,
        cuped=plan.cuped,
        correction=plan.correction_method,
        guardrails=dict(plan.guardrails),
        segments=list(plan.segment_cuts),
        planned_split=dict(plan.planned_split),
        planned_units_per_arm=plan.planned_units_per_arm or None,
        power=plan.power,
    )
    evidence = experiment_evidence(plan, day.day, units, result, end)
    return ExperimentReview(
        plan, day, start, end, units, result, evidence, decide_experiment(evidence)
    )


def planned_per_arm(plan: ExperimentPlan, result: ex.ReadoutResult) -> tuple[int, bool]:
    """(visitors per arm, pre-registered?): the plan's own figure, else the sample at which this
    test's standard error detects ``minimum_effect`` with ``power`` (MDE shrinks as 1/√n)."""
    if plan.planned_units_per_arm:
        return int(plan.planned_units_per_arm), True
    n = min(result.units.values())
    if plan.minimum_effect <= 0:
        return n, False
    return math.ceil(n * (result.sample_size.mde / plan.minimum_effect) ** 2), False


def experiment_evidence(
    plan: ExperimentPlan,
    as_of: dt.date,
    units: pd.DataFrame,
    result: ex.ReadoutResult,
    window_end: pd.Timestamp,
) -> ExperimentEvidence:
    """The decision table's inputs, from the readout (see ``review_decision``)."""
    r = result.metrics[result.primary]
    n = min(result.units.values())
    planned, registered = planned_per_arm(plan, result)
    enrolled = pd.to_datetime(units["assigned_at"])
    first, last = enrolled.min().normalize(), enrolled.max().normalize()
    last_day = (window_end - pd.Timedelta(days=1)).normalize()
    window_days = max((last_day - first).days + 1, 1)
    open_days = max((last - first).days + 1, 1)
    guardrails = []
    for g in result.guardrails.values():
        if g.result is None:
            guardrails.append(
                GuardrailEvidence(
                    label(g.name).lower(),
                    math.nan,
                    math.nan,
                    math.nan,
                    g.max_increase,
                    estimable=False,
                )
            )
            continue
        low, high = ex.relative_interval(g.result)
        guardrails.append(
            GuardrailEvidence(
                label(g.name).lower(),
                g.result.rel_lift,
                low,
                high,
                g.max_increase,
                units_to_settle=units_to_settle(n, g.result.rel_lift, low, high, g.max_increase),
            )
        )
    return ExperimentEvidence(
        experiment_id=plan.experiment_id,
        as_of=as_of,
        enrolled=True,
        srm_p=result.srm.p_value,
        srm_flagged=result.srm.flagged,
        primary_label=label(result.primary).lower(),
        rel_lift=r.rel_lift,
        rel_low=r.ci_low,
        rel_high=r.ci_high,
        p_value=r.p_value,
        alpha=r.alpha,
        minimum_effect=plan.minimum_effect,
        units_per_arm=n,
        planned_per_arm=planned,
        plan_is_pre_registered=registered,
        power=plan.power,
        enrolment_per_day=n / window_days,
        enrolment_per_open_day=n / open_days,
        last_enrolment=last.date(),
        window_end=last_day.date(),
        guardrails=tuple(guardrails),
    )


def log_entry(review: ExperimentReview) -> dict[str, Any] | None:
    """The decision-log row of this review (None while not applicable: nothing was decided)."""
    if not review.started:
        return None
    e = review.evidence
    return {
        "review_id": review.plan.experiment_id,
        "decided_on": review.as_of.day.isoformat(),
        "hypothesis": review.plan.hypothesis,
        "primary_metric": review.plan.primary_metric,
        "predicted_effect": review.plan.minimum_effect,
        "measured_effect": e.rel_lift,
        "measured_low": e.rel_low,
        "measured_high": e.rel_high,
        "verdict": review.decision.verdict,
    }


# --------------------------------------------------------------------------------------------
# Tables (plain frames of display text; the notebook styles them)
# --------------------------------------------------------------------------------------------


def plan_table(plan: ExperimentPlan) -> pd.DataFrame:
    guardrails = ", ".join(
        f"{label(m)} must not rise more than {lim:.0%}" for m, lim in plan.guardrails.items()
    )
    items = {
        "Hypothesis": plan.hypothesis,
        "Primary metric (decides)": label(plan.primary_metric),
        "Smallest effect worth shipping": f"{plan.minimum_effect:+.1%} relative",
        "Secondary metrics": ", ".join(label(m) for m in plan.metrics[1:]) or "none",
        "Guardrails": guardrails or "none",
        "Significance level": f"{plan.alpha:.0%} (two-sided)",
        "Planned visitors per arm": f"{plan.planned_units_per_arm:,}"
        if plan.planned_units_per_arm
        else f"not set: taken as the sample that detects {plan.minimum_effect:+.1%} with "
        f"{plan.power:.0%} power",
        "Multiple testing": CORRECTION_LABELS.get(plan.correction, "none"),
        "Noise reduction": f"CUPED on the {plan.cuped_pre_days} days before exposure"
        if plan.cuped
        else "off",
        "Planned split": ", ".join(f"{v} {s:.0%}" for v, s in plan.planned_split.items()),
    }
    return pd.DataFrame({"Item": list(items), "Plan": list(items.values())})


def split_table(result: ex.ReadoutResult) -> pd.DataFrame:
    srm = result.srm
    total = sum(srm.observed.values())
    return pd.DataFrame(
        {
            "Arm": list(srm.observed),
            "Visitors": list(srm.observed.values()),
            "Share": [n / total for n in srm.observed.values()],
            "Planned share": [e / total for e in srm.expected.values()],
        }
    )


def split_sentence(review: ExperimentReview) -> str:
    srm = review.result.srm
    enrolled = pd.to_datetime(review.units["assigned_at"])
    last_day = review.window_end - pd.Timedelta(days=1)
    return (
        f"**What this means:** {'⚠️ ' if srm.flagged else ''}{srm.message} Visitors "
        f"enrolled from {enrolled.min():%d %b %Y} to {enrolled.max():%d %b %Y}; their orders "
        f"are counted up to {last_day:%d %b %Y}."
    )


def metric_rows(result: ex.ReadoutResult) -> list[dict[str, Any]]:
    """One record per metric and guardrail, every number from the metric's one test.

    The readout tests relative lifts (delta method); the difference and its interval are the
    relative ones times control's average, so both intervals and the p-value agree. For CUPED
    metrics the treatment value is its adjusted average (control plus the adjusted
    difference), labelled as such.
    """
    rows = []
    checked = [(m, "primary" if m == result.primary else "secondary") for m in result.metrics]
    checked += [(g, "guardrail") for g in result.guardrails]
    for name, role in checked:
        r = result.metrics[name] if role != "guardrail" else result.guardrails[name].result
        if r is None:
            continue
        rel_low, rel_high = ex.relative_interval(r)
        adjusted = name in result.cuped
        rows.append(
            {
                "name": name,
                "role": role,
                "control": r.control,
                "treatment": r.control + r.abs_diff if adjusted else r.treatment,
                "treatment_raw": r.treatment,
                "cuped_adjusted": adjusted,
                "abs_diff": r.abs_diff,
                "rel_lift": r.rel_lift,
                "ci_low": rel_low * r.control,
                "ci_high": rel_high * r.control,
                "ci_scale": "absolute",
                "rel_ci_low": rel_low,
                "rel_ci_high": rel_high,
                "p_value": r.p_value,
                "p_value_adjusted": r.p_value_adjusted,
                "significant": r.significant,
                "cuped_variance_reduction": result.cuped[name].variance_reduction
                if adjusted
                else None,
            }
        )
    return rows


def metrics_table(rows: list[dict[str, Any]], currency: str) -> pd.DataFrame:
    shown = []
    for m in rows:
        name = m["name"]
        suffix = {"primary": " (primary)", "guardrail": " (guardrail)"}.get(m["role"], "")
        p = m["p_value_adjusted"] if m["p_value_adjusted"] is not None else m["p_value"]
        clear = m["significant"]
        shown.append(
            {
                "Metric": label(name)
                + suffix
                + (" (CUPED-adjusted)" if m["cuped_adjusted"] else ""),
                "Control": value(name, m["control"], currency),
                "Treatment": value(name, m["treatment"], currency),
                "Difference": f"{signed(name, m['abs_diff'], currency)} "
                f"({signed(name, m['ci_low'], currency)} to "
                f"{signed(name, m['ci_high'], currency)})",
                "Relative change": f"{pct(m['rel_lift'])} ({pct(m['rel_ci_low'])} to "
                f"{pct(m['rel_ci_high'])})",
                "p-value": f"{p:.3g}" + (" (adj.)" if m["p_value_adjusted"] is not None else ""),
                "Clear change?": ("yes, up" if m["abs_diff"] > 0 else "yes, down")
                if clear
                else "no",
            }
        )
    return pd.DataFrame(shown)


def primary_sentence(review: ExperimentReview, show_chance_to_win: bool) -> str:
    result, currency = review.result, review.plan.currency
    p = result.metrics[result.primary]
    low, high = ex.relative_interval(p)
    lines = [
        f"**What this means:** {label(p.name).lower()} went from "
        f"{md_escape(value(p.name, p.control, currency))} in control to "
        f"{md_escape(value(p.name, p.control + p.abs_diff, currency))} in treatment, a "
        f"{pct(p.rel_lift)} change ({1 - p.alpha:.0%} interval {pct(low)} to {pct(high)}, "
        f"p = {p.p_value:.2g}). "
        + ("That is a clear change." if p.significant else "That is within the noise.")
    ]
    if show_chance_to_win:
        lines.append(
            f"Read as a bet: there is a {format_probability(result.chance_to_win)} chance that "
            f"treatment beats control on {label(p.name).lower()} (Bayesian, flat prior)."
        )
    if result.cuped:
        lines.append(
            f"CUPED used each visitor's behaviour in the {review.plan.cuped_pre_days} days before "
            "the test to remove noise: "
            + ", ".join(
                f"{label(m).lower()} has {c.variance_reduction:.0%} less variance (worth "
                f"{1 / (1 - c.variance_reduction) - 1:.0%} more traffic)"
                for m, c in result.cuped.items()
            )
            + ". Rows marked CUPED-adjusted show treatment's adjusted average (control plus the "
            "adjusted difference), so the difference, both intervals and the p-value come from "
            "one test."
        )
    lines += [f"_{note}_" for note in result.notes]
    return "\n\n".join(lines)


def guardrail_table(review: ExperimentReview) -> pd.DataFrame:
    currency = review.plan.currency
    rows = []
    for g in review.result.guardrails.values():
        status = {"cleared": "CLEARED", "breached": "BREACHED", "not ruled out": "NOT RULED OUT"}
        if g.result is None:
            rows.append(
                {
                    "Guardrail": label(g.name),
                    "Control": "–",
                    "Treatment": "–",
                    "Relative change": "–",
                    "Limit": f"+{g.max_increase:.0%}",
                    "Status": "NOT ESTIMABLE",
                }
            )
            continue
        low, high = ex.relative_interval(g.result)
        rows.append(
            {
                "Guardrail": label(g.name),
                "Control": value(g.name, g.result.control, currency),
                "Treatment": value(g.name, g.result.treatment, currency),
                "Relative change": f"{pct(g.result.rel_lift)} ({pct(low)} to {pct(high)})",
                "Limit": f"+{g.max_increase:.0%}",
                "Status": status.get(g.status, g.status.upper()),
            }
        )
    return pd.DataFrame(rows)


def guardrail_sentence(review: ExperimentReview) -> str:
    if not review.result.guardrails:
        return "_No guardrail was set in the plan._"
    return (
        "**What this means:** "
        + " ".join(g.message for g in review.result.guardrails.values())
        + " A guardrail blocks a ship until its interval lies below its limit."
    )


def segment_table(review: ExperimentReview) -> pd.DataFrame:
    cuts, currency, metric = review.result.segments, review.plan.currency, review.result.primary
    if cuts.empty:
        return pd.DataFrame()
    names = [
        LEVEL_NAMES.get((s, lv), f"{s.replace('_', ' ')}: {lv}")
        for s, lv in zip(cuts["segment"], cuts["level"], strict=True)
    ]
    return pd.DataFrame(
        {
            "Segment": names,
            "Visitors (control / treatment)": [
                f"{a:,} / {b:,}"
                for a, b in zip(cuts["n_control"], cuts["n_treatment"], strict=True)
            ],
            "Control": [value(metric, x, currency) for x in cuts["control"]],
            "Treatment": [value(metric, x, currency) for x in cuts["treatment"]],
            "Relative change": [
                "–" if pd.isna(x) else f"{pct(x)} ({pct(lo)} to {pct(hi)})"
                for x, lo, hi in zip(cuts["rel_lift"], cuts["ci_low"], cuts["ci_high"], strict=True)
            ],
            "p-value (adj.)": [
                "–" if pd.isna(p) else f"{p:.3g}"
                for p in cuts["p_value_adjusted"].fillna(cuts["p_value"])
            ],
            "Note": cuts["note"].fillna(""),
        }
    )


def segments_sentence(review: ExperimentReview) -> str:
    result = review.result
    tested = (
        result.segments.dropna(subset=["rel_lift"])
        if not result.segments.empty
        else result.segments
    )
    parts = []
    if len(tested) > 1:
        parts.append(
            "The intervals overlap, so there is no evidence that the change works differently "
            "by segment."
            if tested["ci_low"].max() <= tested["ci_high"].min()
            else "Some intervals do not overlap: the effect may differ by segment; confirm with "
            "a dedicated test before acting on it."
        )
    elif not len(tested):
        parts.append("No segment could be tested.")
    parts.append(
        f"Correction: {CORRECTION_LABELS.get(result.correction or '', 'none')}; a level is tested "
        f"only with at least {ex.MIN_CONVERSIONS_PER_CUT} buyers (and non-buyers) per arm, "
        "which keeps the chance of any false alarm across the cuts at or below 5%."
    )
    dropped = [
        f"`{d.segment}`"
        + (f" = {md_escape(d.level)}" if d.level is not None else "")
        + f" ({d.reason})"
        for d in result.dropped_cuts
    ]
    if dropped:
        parts.append("Not tested: " + "; ".join(dropped) + ".")
    return "**What this means:** " + " ".join(parts)


def sample_table(review: ExperimentReview) -> pd.DataFrame:
    e, size = review.evidence, review.result.sample_size
    return pd.DataFrame(
        {
            "Measure": [
                "Visitors per arm (smaller arm)",
                "Planned visitors per arm"
                if e.plan_is_pre_registered
                else "Visitors per arm needed",
                f"Smallest lift detectable now ({size.power:.0%} power)",
                "Enrolment per arm (visitors a day, whole window)",
            ],
            "Value": [
                f"{e.units_per_arm:,}",
                f"{e.planned_per_arm:,}",
                f"{size.mde:.1%}",
                f"{e.enrolment_per_day:,.0f}",
            ],
        }
    )


def sample_sentence(review: ExperimentReview) -> str:
    e = review.evidence
    plan = (
        "planned"
        if e.plan_is_pre_registered
        else f"that detect {pct(e.minimum_effect)} with {e.power:.0%} power (no plan was set, so "
        "this stands in for it)"
    )
    if e.units_per_arm >= e.planned_per_arm:
        return (
            f"**What this means:** {e.units_per_arm:,} visitors per arm are in, at least the "
            f"{e.planned_per_arm:,} {plan}: the fixed-horizon readout can be read now."
        )
    return (
        f"**What this means:** {e.units_per_arm:,} visitors per arm are in, "
        f"{e.units_per_arm / e.planned_per_arm:.0%} of the {e.planned_per_arm:,} {plan}. Until "
        "then the result is provisional: a clear result on a smaller sample tends to overstate "
        "the true effect, and “no clear effect” does not rule out one worth shipping."
    )


@dataclass(frozen=True)
class MoneyAtStake:
    """Annualised revenue impact of rolling the treatment out, with its interval."""

    per_visitor: float
    low: float
    high: float
    yearly_visitors: int
    estimated_visitors: bool  # True: from the enrolment rate, not the plan

    @property
    def yearly(self) -> tuple[float, float, float]:
        n = self.yearly_visitors
        return self.per_visitor * n, self.low * n, self.high * n


def money_at_stake(review: ExperimentReview) -> MoneyAtStake | None:
    """Revenue per visitor's difference (from the readout's one test) × visitors a year."""
    result = review.result
    if result is None or "revenue_per_visitor" not in result.metrics:
        return None
    r = result.metrics["revenue_per_visitor"]
    low, high = ex.relative_interval(r)
    if review.plan.yearly_visitors:
        visitors, estimated = int(review.plan.yearly_visitors), False
    else:
        visitors, estimated = round(2 * review.evidence.enrolment_per_day * 365), True
    return MoneyAtStake(r.abs_diff, low * r.control, high * r.control, visitors, estimated)


def money_sentence(review: ExperimentReview) -> str | None:
    money = money_at_stake(review)
    if money is None:
        return None
    currency = review.plan.currency
    mid, low, high = (md_escape(format_money(x, currency)) for x in money.yearly)
    source = (
        f"the experiment's enrolment rate over a year, about {money.yearly_visitors:,} visitors"
        if money.estimated_visitors
        else f"{money.yearly_visitors:,} visitors a year (the plan's figure)"
    )
    return (
        f"**Money at stake:** rolled out to {source}, the change is worth {mid} a year in "
        f"revenue ({1 - review.plan.alpha:.0%} interval {low} to {high}), from revenue per visitor "
        "over the readout window."
    )


def over_time_sentence(over_time: pd.DataFrame) -> str:
    shown = over_time.dropna(subset=["rel_lift"])
    if shown.empty:
        return "_Not enough visitors on any day yet to show the lift over time._"
    first, last = shown.iloc[0], shown.iloc[-1]
    fading = first["ci_low"] > last["rel_lift"]
    return (
        f"**What this means:** among the first visitors (to {first['date']:%d %b}) the lift was "
        f"{pct(first['rel_lift'])}; among all visitors it is {pct(last['rel_lift'])}. "
        + (
            "The early lift is clearly above today's: part of it may be novelty, so expect less "
            "over time."
            if fading
            else "No sign of a fading novelty effect."
        )
    )


def funnel_by_variant(con: ibis.BaseBackend, review: ExperimentReview) -> pd.DataFrame:
    """Share of each arm's visitors reaching each funnel step after first exposure."""
    start, end = review.window_start, review.window_end
    a = data.table(con, "assignments")
    a = a.filter((a.experiment_id == review.plan.experiment_id) & (a.assigned_at < _at(end)))
    if start is not None:
        a = a.filter(a.assigned_at >= _at(start))
    units = a.group_by(["unit_id", "variant"]).aggregate(assigned_at=a.assigned_at.min())
    s = data.table(con, "sessions")
    j = units.left_join(
        s,
        (units.unit_id == s.visitor_id)
        & (s.started_at >= units.assigned_at)
        & (s.started_at < _at(end)),
    )
    steps = {
        "Visited": j.session_id.notnull(),
        "Viewed a product": j.viewed_product,
        "Added to cart": j.added_to_cart,
        "Started checkout": j.started_checkout,
        "Purchased": j.purchased,
    }
    reached = {k: ibis.ifelse(v.fill_null(False), 1, 0).max() for k, v in steps.items()}
    per_unit = j.group_by(["unit_id", "variant"]).aggregate(**reached)
    totals = per_unit.group_by("variant").aggregate(
        visitors=per_unit.count(), **{k: per_unit[k].sum() for k in steps}
    )
    frame = totals.to_pandas().set_index("variant")
    frame = frame[list(steps)].div(frame["visitors"], axis=0)
    return frame.loc[[review.result.control, review.result.treatment]]


def funnel_sentence(funnel: pd.DataFrame) -> str:
    step_rates = funnel.div(funnel.shift(axis=1)).iloc[:, 1:]
    change = step_rates.iloc[1] / step_rates.iloc[0] - 1
    biggest = change.idxmax()
    return (
        "**What this means:** step by step, treatment changes the share of visitors who go on to "
        "the next step by "
        + ", ".join(f"{pct(v)} at “{st.lower()}”" for st, v in change.items())
        + f". The arms part most at “{biggest.lower()}”: that is where the change works. (Funnel "
        "differences are descriptive; the tested effect is in the metrics above.)"
    )


def decomposition_table(review: ExperimentReview) -> pd.DataFrame:
    dec, currency = review.result.rpv_decomposition, review.plan.currency
    names = {
        "conversion": "Conversion rate",
        "orders_per_buyer": "Orders per buyer",
        "aov": "Average order value",
        "revenue_per_visitor": "Revenue per visitor",
    }
    kinds = {
        "conversion": "conversion",
        "orders_per_buyer": "orders_per_user",
        "aov": "aov",
        "revenue_per_visitor": "revenue_per_visitor",
    }
    return pd.DataFrame(
        {
            "Factor (raw averages, no CUPED)": [names[f] for f in dec.index],
            "Control": [value(kinds[f], dec.loc[f, "control"], currency) for f in dec.index],
            "Treatment": [value(kinds[f], dec.loc[f, "treatment"], currency) for f in dec.index],
            "Relative change": dec["rel_change"].to_numpy(),
            "Share of revenue change": dec["share_of_rpv_lift"].to_numpy(),
        }
    )


def decomposition_sentence(review: ExperimentReview) -> str:
    dec = review.result.rpv_decomposition
    names = {
        "conversion": "conversion rate",
        "orders_per_buyer": "orders per buyer",
        "aov": "average order value",
    }
    drivers = dec.drop(index="revenue_per_visitor")["share_of_rpv_lift"]
    top = drivers.abs().idxmax()
    return (
        f"**What this means:** on raw averages revenue per visitor changed by "
        f"{pct(dec.loc['revenue_per_visitor', 'rel_change'])}; the main driver is {names[top]} "
        f"({pct(dec.loc[top, 'rel_change'])}, {drivers[top]:.0%} of the change). This table is "
        "descriptive (no CUPED, no intervals): the metrics table says which changes are clear."
    )


def executive_points(review: ExperimentReview, show_chance_to_win: bool) -> list[str]:
    d = review.decision
    points = [f"**{d.label}.** {d.reason}", f"**Next step:** {d.next_step}"]
    if not review.started:
        return points
    result, currency = review.result, review.plan.currency
    p = result.metrics[result.primary]
    low, high = ex.relative_interval(p)
    points.append(
        f"{label(p.name)}: {md_escape(value(p.name, p.control, currency))} in control vs "
        f"{md_escape(value(p.name, p.control + p.abs_diff, currency))} in treatment "
        f"({pct(p.rel_lift)}, {1 - p.alpha:.0%} interval {pct(low)} to {pct(high)})"
        + (
            f"; {format_probability(result.chance_to_win)} chance treatment is better."
            if show_chance_to_win
            else "."
        )
    )
    money = money_sentence(review)
    if money:
        points.append(money.replace("**Money at stake:** ", "Money at stake: "))
    if result.guardrails:
        points.append(
            "Guardrails: "
            + "; ".join(
                f"{label(g.name).lower()} {g.status}"
                + (f" ({pct(g.result.rel_lift)}, limit +{g.max_increase:.0%})" if g.result else "")
                for g in result.guardrails.values()
            )
            + "."
        )
    e = review.evidence
    points.append(
        ("⚠️ The traffic split is broken" if result.srm.flagged else "The traffic split is healthy")
        + f" (SRM p = {result.srm.p_value:.2g}); {e.units_per_arm:,} of {e.planned_per_arm:,} "
        "visitors per arm "
        + (
            "planned."
            if e.plan_is_pre_registered
            else "needed for the smallest effect worth shipping."
        )
    )
    return points


# --------------------------------------------------------------------------------------------
# No experiment: before/after against a comparison series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrePostPlan:
    launch_date: str = ""  # empty: 4 weeks before the analysis date
    series_metric: str = "revenue"
    series_column: str = "channel"
    treated_series: str = "app"
    comparison_series: Sequence[str] = ("web",)
    pre_period_days: int = 56
    minimum_effect: float = 0.05
    alpha: float = 0.05
    currency: str = "USD"


@dataclass(frozen=True, eq=False)
class PrePostReview:
    plan: PrePostPlan
    as_of: data.AnalysisDate
    launch: pd.Timestamp
    series: pd.DataFrame
    did: ex.DidResult
    events: ex.EventStudyResult
    evidence: PrePostEvidence
    decision: Decision

    @property
    def metric_name(self) -> str:
        return SERIES_METRICS[self.plan.series_metric]

    @property
    def comparison(self) -> str:
        return " and ".join(str(c) for c in self.plan.comparison_series)


def daily_series(
    con: ibis.BaseBackend, column: str, start: pd.Timestamp, end: pd.Timestamp, groups: list[str]
) -> pd.DataFrame:
    """Daily revenue, orders and AOV per value of ``column``, aggregated in the engine. A day
    without orders is a zero (not a gap), so every series covers every day."""
    o = data.table(con, "orders")
    if column not in o.columns:
        raise UserError(
            f"series_column {column!r} is not an orders column; it has {list(o.columns)}."
        )
    group = o[column].cast("string")
    o = o.filter((o.ordered_at >= _at(start)) & (o.ordered_at < _at(end)) & group.isin(groups))
    daily = (
        o.group_by(date=o.ordered_at.truncate("D"), group=o[column].cast("string"))
        .aggregate(revenue=o.revenue.sum(), orders=o.count())
        .to_pandas()
    )
    found = set(daily["group"])
    missing = [g for g in groups if g not in found]
    if missing:
        raise UserError(
            f"No orders with {column} = {missing[0]!r} between {start.date()} and {end.date()}; "
            f"values found: {sorted(found)}."
        )
    full = pd.MultiIndex.from_product(
        [pd.date_range(start, end - pd.Timedelta(days=1), freq="D"), groups],
        names=["date", "group"],
    )
    daily["date"] = pd.to_datetime(daily["date"])
    daily = daily.set_index(["date", "group"]).reindex(full, fill_value=0).reset_index()
    daily["aov"] = daily["revenue"] / daily["orders"].where(daily["orders"] > 0)
    return daily


def review_pre_post(con: ibis.BaseBackend, plan: PrePostPlan, as_of: object = "") -> PrePostReview:
    """Difference-in-differences and event study of the launch, with the PP decision."""
    if plan.series_metric not in SERIES_METRICS:
        raise UserError(
            f"series_metric must be one of {', '.join(SERIES_METRICS)}; got {plan.series_metric!r}."
        )
    comparison = [str(c) for c in plan.comparison_series]
    if not comparison or str(plan.treated_series) in comparison:
        raise UserError(
            f"comparison_series must list at least one {plan.series_column} value other than the "
            f"treated one ({plan.treated_series!r}); got {list(plan.comparison_series)!r}."
        )
    day = data.analysis_date(con, as_of)
    launch = (
        pd.Timestamp(data.parse_date(plan.launch_date, "launch_date"))
        if plan.launch_date
        else day.end - pd.Timedelta(days=28)
    )
    series = daily_series(
        con,
        plan.series_column,
        launch - pd.Timedelta(days=plan.pre_period_days),
        day.end,
        [str(plan.treated_series), *comparison],
    ).dropna(subset=[plan.series_metric])
    spec = {
        "date_col": "date",
        "value_col": plan.series_metric,
        "group_col": "group",
        "treated_group": str(plan.treated_series),
        "launch_date": launch,
        "alpha": plan.alpha,
    }
    did = ex.difference_in_differences(series, **spec)
    events = ex.event_study(series, **spec, period_days=7)
    evidence = pre_post_evidence(plan, launch, did, events)
    return PrePostReview(
        plan, day, launch, series, did, events, evidence, decide_pre_post(evidence)
    )


def pre_post_evidence(
    plan: PrePostPlan, launch: pd.Timestamp, did: ex.DidResult, events: ex.EventStudyResult
) -> PrePostEvidence:
    baseline = did.estimate / did.relative_to_baseline if did.relative_to_baseline else math.nan
    return PrePostEvidence(
        metric_label=SERIES_METRICS[plan.series_metric].lower(),
        treated=str(plan.treated_series),
        comparison=" and ".join(str(c) for c in plan.comparison_series),
        launch=launch.date(),
        rel_effect=did.relative_to_baseline,
        rel_low=did.ci_low / baseline,
        rel_high=did.ci_high / baseline,
        p_value=did.p_value,
        pre_trend_p=events.pre_trend_p,
        alpha=plan.alpha,
        minimum_effect=plan.minimum_effect,
    )


def _fmt_effect(review: PrePostReview, currency: str, x: float) -> str:
    if review.plan.series_metric == "orders":
        return f"{x:+,.1f}"
    return md_escape(("+" if x >= 0 else "-") + format_money(abs(x), currency, 2))


def pre_post_sentence(review: PrePostReview) -> str:
    currency = review.plan.currency
    did, events, plan = review.did, review.events, review.plan
    per_day = "" if plan.series_metric == "aov" else " per day"
    f = lambda x: _fmt_effect(review, currency, x)  # noqa: E731
    stable = events.pre_trend_p >= plan.alpha
    return (
        f"**What this means:** after the launch, {review.metric_name.lower()} of "
        f"**{md_escape(plan.treated_series)}** changed by {f(did.estimate)}{per_day} "
        f"({pct(did.relative_to_baseline)} of its pre-launch level) more than "
        f"{md_escape(review.comparison)} did ({1 - plan.alpha:.0%} interval {f(did.ci_low)} to "
        f"{f(did.ci_high)}, p = {did.p_value:.2g}; {did.se_type} standard errors). "
        + ("That is a clear change. " if did.p_value < plan.alpha else "That is within the noise. ")
        + (
            f"Before the launch the gap was stable (joint test of pre-launch weeks p = "
            f"{events.pre_trend_p:.2g}), which supports the comparison."
            if stable
            else f"⚠️ The gap was already moving before the launch (p = {events.pre_trend_p:.2g}): "
            "the comparison series is not a good stand-in."
        )
        + f"\n\n_{did.caveat}_"
    )


def pre_post_points(review: PrePostReview) -> list[str]:
    currency = review.plan.currency
    d, did, plan = review.decision, review.did, review.plan
    per_day = "" if plan.series_metric == "aov" else " per day"
    f = lambda x: _fmt_effect(review, currency, x)  # noqa: E731
    return [
        f"**{d.label}.** {d.reason}",
        f"**Next step:** {d.next_step}",
        f"{review.metric_name} of {md_escape(plan.treated_series)} changed by {f(did.estimate)}"
        f"{per_day} vs {md_escape(review.comparison)} after {review.launch:%d %b %Y} "
        f"({1 - plan.alpha:.0%} interval {f(did.ci_low)} to {f(did.ci_high)}).",
        "No experiment was run: other changes at the same time would be counted as the "
        "launch's effect.",
    ]


def pre_post_log_entry(review: PrePostReview, hypothesis: str) -> dict[str, Any]:
    e = review.evidence
    return {
        "review_id": f"launch_{review.plan.treated_series}_{review.launch:%Y-%m-%d}",
        "decided_on": review.as_of.day.isoformat(),
        "hypothesis": hypothesis,
        "primary_metric": review.plan.series_metric,
        "predicted_effect": review.plan.minimum_effect,
        "measured_effect": e.rel_effect,
        "measured_low": e.rel_low,
        "measured_high": e.rel_high,
        "verdict": review.decision.verdict,
    }


# --------------------------------------------------------------------------------------------
# What the page shows whatever the mode
# --------------------------------------------------------------------------------------------


def section_note(review: ExperimentReview | PrePostReview) -> str:
    """The line an A/B section shows when it has nothing to show, and why."""
    if isinstance(review, PrePostReview):
        return "_Not used: this is a before/after review (`mode = pre_post`), with no experiment._"
    if not review.started:
        return (
            f"_Not applicable yet: no visitor of this experiment had been enrolled by "
            f"{review.as_of.day:%d %b %Y}; see the verdict._"
        )
    return ""


def experiment_mode_note() -> str:
    """What the before/after section shows in an A/B review."""
    return "_Not used: this review has an experiment (`mode = experiment`)._"


def money_record(review: ExperimentReview) -> dict[str, float] | None:
    """The annualised revenue impact as recorded for the run index (value and interval)."""
    money = money_at_stake(review)
    if money is None:
        return None
    mid, low, high = money.yearly
    return {"value": mid, "ci_low": low, "ci_high": high, "yearly_visitors": money.yearly_visitors}


def series_unit(metric: str, currency: str) -> str:
    return {"revenue": f"{currency} per day", "orders": "orders per day", "aov": currency}[metric]


def summary_title(review: ExperimentReview | PrePostReview) -> str:
    if isinstance(review, PrePostReview):
        return (
            f"Post-launch review (before/after): {md_escape(review.plan.treated_series)} vs "
            f"{md_escape(review.comparison)}"
        )
    return f"Post-launch review: {md_escape(review.plan.experiment_id)}"


def summary_points(review: ExperimentReview | PrePostReview, show_chance_to_win: bool) -> list[str]:
    if isinstance(review, PrePostReview):
        return pre_post_points(review)
    return executive_points(review, show_chance_to_win)
