"""The post-launch review's decision tables: evidence in, a :class:`Decision` out.

Two pure functions, one per table of docs/decisions.md ("Post-launch review"):
``decide_experiment`` (A/B readout, rules PLR-1 to PLR-10) and ``decide_pre_post`` (before/after
against a comparison series, rules PP-1 to PP-5). They take plain values (no data access), so
every row is tested directly; ``post_launch`` gathers the evidence from the data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from .decisions import Decision
from .formats import md_escape

REPORT = "post_launch_review"
STALLED_DAYS = 7  # no enrolment in this many days before the window's end: enrolment stopped
LABELS = {
    "not_started": "Not applicable yet",
    "cannot_trust": "Cannot trust this readout",
    "roll_back": "Roll back",
    "keep_running": "Keep running",
    "ship": "Ship",
    "iterate": "Iterate",
}


def format_probability(p: float) -> str:
    """A probability with the precision it has: ``99.7%``, never ``100%`` (capped at
    ``>99.9%`` and ``<0.1%``)."""
    if not math.isfinite(p):
        return "–"
    if p > 0.999:
        return ">99.9%"
    if p < 0.001:
        return "<0.1%"
    return f"{100 * p:.1f}%"


def pct(x: float) -> str:
    """A signed relative change; one that rounds to zero reads 0.0%, not -0.0%."""
    return "0.0%" if abs(x) < 0.0005 else f"{x:+.1%}"


def interval(low: float, high: float, alpha: float) -> str:
    return f"{1 - alpha:.0%} interval {pct(low)} to {pct(high)}"


@dataclass(frozen=True)
class GuardrailEvidence:
    """One guardrail (higher is worse) against its limit, by non-inferiority."""

    label: str  # e.g. "refund rate"
    rel_change: float
    rel_low: float
    rel_high: float
    limit: float  # largest tolerated relative increase
    estimable: bool = True  # False when it cannot be estimated yet (e.g. no refunds at all)
    units_to_settle: int | None = None  # visitors per arm at which the interval clears the limit

    @property
    def status(self) -> str:
        """``cleared`` / ``breached`` / ``not_ruled_out``."""
        if not self.estimable:
            return "not_ruled_out"
        if self.rel_high < self.limit:
            return "cleared"
        if self.rel_low > self.limit:
            return "breached"
        return "not_ruled_out"

    def describe(self, alpha: float) -> str:
        if not self.estimable:
            return f"{self.label} cannot be estimated yet (no events in an arm)"
        return (
            f"{self.label} {pct(self.rel_change)} ({interval(self.rel_low, self.rel_high, alpha)},"
            f" limit {pct(self.limit)})"
        )


def units_to_settle(n_per_arm: int, change: float, low: float, high: float, limit: float) -> int:
    """Visitors per arm at which an interval of today's width (shrinking as 1/√n) would no longer
    straddle ``limit``, if the estimate stays where it is: n·(half-width / distance)²."""
    distance = abs(change - limit)
    half = (high - low) / 2
    if distance == 0:
        return 10**9
    return max(n_per_arm, math.ceil(n_per_arm * (half / distance) ** 2))


@dataclass(frozen=True)
class ExperimentEvidence:
    """What the A/B decision table reads; see ``post_launch.experiment_evidence``."""

    experiment_id: str
    as_of: dt.date
    enrolled: bool  # any visitor enrolled by as_of
    first_enrolment_after: dt.date | None = None  # first enrolment later than as_of, if any
    srm_p: float = math.nan
    srm_flagged: bool = False
    primary_label: str = ""
    rel_lift: float = math.nan
    rel_low: float = math.nan
    rel_high: float = math.nan
    p_value: float = math.nan
    alpha: float = 0.05
    minimum_effect: float = 0.0
    units_per_arm: int = 0  # the smaller arm
    planned_per_arm: int = 0
    plan_is_pre_registered: bool = True  # False: derived from the minimum effect and power
    power: float = 0.8
    enrolment_per_day: float = 0.0  # per arm, over the whole window so far
    enrolment_per_open_day: float = 0.0  # per arm, from first to last enrolment
    last_enrolment: dt.date | None = None
    window_end: dt.date | None = None  # last day counted
    guardrails: tuple[GuardrailEvidence, ...] = field(default=())

    @property
    def effect(self) -> str:
        return (
            f"{self.primary_label}: {pct(self.rel_lift)} "
            f"({interval(self.rel_low, self.rel_high, self.alpha)}, p = {self.p_value:.2g})"
        )


def _stalled(e: ExperimentEvidence) -> bool:
    """Nobody enrolled in the last ``STALLED_DAYS`` days of the window."""
    return (
        e.last_enrolment is not None
        and e.window_end is not None
        and (e.window_end - e.last_enrolment).days >= STALLED_DAYS
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _days(units: int, per_day: float) -> int | None:
    if units <= 0:
        return 0
    if per_day <= 0:
        return None
    return math.ceil(units / per_day)


def _plan_words(e: ExperimentEvidence) -> str:
    if e.plan_is_pre_registered:
        return f"{e.planned_per_arm:,} planned"
    return (
        f"{e.planned_per_arm:,} needed to detect the {pct(e.minimum_effect)} worth shipping "
        f"with {e.power:.0%} power"
    )


def decide_experiment(e: ExperimentEvidence) -> Decision:
    """The A/B decision table (docs/decisions.md, Post-launch review, PLR-1 to PLR-10).

    Rows are tried in order; the first that holds decides.
    """

    def decision(verdict: str, reason: str, next_step: str, rule: str) -> Decision:
        return Decision(REPORT, verdict, LABELS[verdict], reason, next_step, rule)

    exp = md_escape(e.experiment_id)
    if not e.enrolled:
        later = (
            f" Its first visitor was enrolled on {e.first_enrolment_after:%d %b %Y}."
            if e.first_enrolment_after
            else ""
        )
        return decision(
            "not_started",
            f"No visitor of experiment {exp} had been enrolled by {e.as_of:%d %b %Y}, the "
            f"analysis date, so there is nothing to read out yet.{later}",
            "Nothing to decide yet: run this review again once the experiment has enrolled "
            "visitors (check the experiment id and the analysis date if it should have).",
            "PLR-1",
        )
    if e.srm_flagged:
        return decision(
            "cannot_trust",
            f"The traffic split does not match the plan (SRM p = {e.srm_p:.2g}), so something "
            "other than the change differs between the arms and no metric can be trusted.",
            "Do not act on any metric: find the cause (assignment bug, redirects, bot "
            "filtering, late logging), fix it and restart the experiment.",
            "PLR-2",
        )
    breached = [g for g in e.guardrails if g.status == "breached"]
    if breached:
        return decision(
            "roll_back",
            "A guardrail is breached: "
            + "; ".join(g.describe(e.alpha) for g in breached)
            + ". The whole interval lies above the tolerated rise.",
            "Switch the change off and find out why it hurt before trying again.",
            "PLR-3",
        )
    if e.rel_high < 0:
        return decision(
            "roll_back",
            f"The treatment clearly lowers {e.effect}.",
            "Switch the change off; learn from the drop before testing a new version.",
            "PLR-4",
        )
    open_guardrails = [g for g in e.guardrails if g.status == "not_ruled_out"]
    guardrail_note = (
        " "
        + _capital("; ".join(g.describe(e.alpha) for g in open_guardrails))
        + ": a rise above the limit is not ruled out yet."
        if open_guardrails
        else ""
    )
    if e.units_per_arm < e.planned_per_arm:
        missing = e.planned_per_arm - e.units_per_arm
        reason = (
            f"{_capital(e.effect)} so far, but only {e.units_per_arm:,} visitors per arm are "
            f"in, {e.units_per_arm / e.planned_per_arm:.0%} of the {_plan_words(e)}; this "
            f"fixed-horizon test can only be read once, at its planned sample.{guardrail_note}"
        )
        if _stalled(e):
            days = _days(missing, e.enrolment_per_open_day)
            return decision(
                "keep_running",
                reason,
                f"No visitor has been enrolled since {e.last_enrolment:%d %b %Y}: reopen "
                f"enrolment. At the rate seen while it was open ({e.enrolment_per_open_day:,.0f}"
                f" per arm a day) the remaining {missing:,} per arm take about {days} more "
                "days; do not ship before then.",
                "PLR-6",
            )
        days = _days(missing, e.enrolment_per_day)
        return decision(
            "keep_running",
            reason,
            f"Keep the experiment running: at the observed enrolment of "
            f"{e.enrolment_per_day:,.0f} visitors per arm a day, the remaining {missing:,} per "
            f"arm take about {days} more days. Read it again then; do not ship before.",
            "PLR-5",
        )
    clearly_better = e.rel_low > 0
    if clearly_better and open_guardrails:
        needed = max((g.units_to_settle or e.units_per_arm) for g in open_guardrails)
        stalled = _stalled(e)
        days = _days(
            needed - e.units_per_arm, e.enrolment_per_open_day if stalled else e.enrolment_per_day
        )
        wait = f"about {days} more days" if days is not None else "more visitors"
        if stalled:
            wait += f" once enrolment, stopped since {e.last_enrolment:%d %b %Y}, is reopened"
        return decision(
            "keep_running",
            f"The treatment clearly raises {e.effect}, but a guardrail is not cleared: "
            + "; ".join(g.describe(e.alpha) for g in open_guardrails)
            + ". A ship needs every guardrail's interval below its limit.",
            f"Do not ship yet: keep running until the guardrail settles (about {needed:,} "
            f"visitors per arm at today's estimate, {wait}), or stop if it is breached.",
            "PLR-7",
        )
    if clearly_better and e.rel_lift >= e.minimum_effect:
        return decision(
            "ship",
            f"The treatment clearly raises {e.effect}, at least the {pct(e.minimum_effect)} "
            "worth shipping, on the planned sample, with a healthy split and every guardrail "
            "cleared.",
            "Roll the change out to all traffic and keep watching the guardrails for two weeks.",
            "PLR-8",
        )
    if clearly_better:
        return decision(
            "iterate",
            f"The treatment raises {e.effect}: a real effect, but less than the "
            f"{pct(e.minimum_effect)} worth shipping.",
            "Do not roll out as is: decide whether the small gain pays for the upkeep, or "
            "improve the idea and test a bolder version.",
            "PLR-9",
        )
    worthwhile = (
        "a lift worth shipping is unlikely"
        if e.rel_high < e.minimum_effect
        else f"a lift of {pct(e.minimum_effect)} is not ruled out, but not shown either"
    )
    return decision(
        "iterate",
        f"No clear effect on the planned sample: {e.effect}; {worthwhile}.",
        "Do not roll out as is: improve the idea or test a bolder change in a new experiment.",
        "PLR-10",
    )


@dataclass(frozen=True)
class PrePostEvidence:
    """What the before/after table reads; see ``post_launch.pre_post_evidence``."""

    metric_label: str  # e.g. "daily revenue"
    treated: str
    comparison: str
    launch: dt.date
    rel_effect: float  # estimate / the treated series' pre-launch mean
    rel_low: float
    rel_high: float
    p_value: float
    pre_trend_p: float
    alpha: float = 0.05
    minimum_effect: float = 0.0

    @property
    def effect(self) -> str:
        return (
            f"{self.metric_label} of {md_escape(self.treated)} {pct(self.rel_effect)} against "
            f"{md_escape(self.comparison)} ({interval(self.rel_low, self.rel_high, self.alpha)}, "
            f"p = {self.p_value:.2g})"
        )


def decide_pre_post(e: PrePostEvidence) -> Decision:
    """The before/after table (docs/decisions.md, Post-launch review, PP-1 to PP-5). Always
    labelled as weaker evidence than an experiment."""
    weaker = " (before/after evidence, weaker than an experiment)"

    def decision(verdict: str, reason: str, next_step: str, rule: str) -> Decision:
        return Decision(REPORT, verdict, LABELS[verdict] + weaker, reason, next_step, rule)

    if math.isfinite(e.pre_trend_p) and e.pre_trend_p < e.alpha:
        return decision(
            "cannot_trust",
            f"Before the launch the gap between {md_escape(e.treated)} and "
            f"{md_escape(e.comparison)} was already moving (pre-trend p = {e.pre_trend_p:.2g}), so"
            " the comparison is not a fair stand-in for what would have happened.",
            "Pick a comparison series that moved in parallel before the launch, or run an A/B "
            "test.",
            "PP-1",
        )
    if e.rel_high < 0:
        return decision(
            "roll_back",
            f"After the launch on {e.launch:%d %b %Y}, {e.effect}: a clear drop.",
            "Consider switching the change off, ideally confirmed by a short A/B test.",
            "PP-2",
        )
    if e.rel_low > 0 and e.rel_effect >= e.minimum_effect:
        return decision(
            "ship",
            f"After the launch on {e.launch:%d %b %Y}, {e.effect}: a clear rise of at least the "
            f"{pct(e.minimum_effect)} worth keeping.",
            "Keep the change; confirm with an A/B test on the next iteration if the decision "
            "is costly.",
            "PP-3",
        )
    if e.rel_low > 0:
        return decision(
            "iterate",
            f"After the launch on {e.launch:%d %b %Y}, {e.effect}: a clear rise, but less than "
            f"the {pct(e.minimum_effect)} worth keeping.",
            "Decide whether the small gain pays for the upkeep; an A/B test would firm it up.",
            "PP-4",
        )
    return decision(
        "iterate",
        f"After the launch on {e.launch:%d %b %Y}, {e.effect}: within the noise.",
        "No clear effect yet: keep measuring, or run an A/B test to get a firm answer.",
        "PP-5",
    )
