"""A report's decision: the verdict, why, and what to do next, as one value.

Each report's rules are a table in ``docs/decisions.md`` (condition -> verdict -> sentence),
implemented by one pure function in the report's own module that returns a :class:`Decision`.
Notebooks only display it (``report.show_decision``) and record it (``report.record_decision``:
the runner copies the verdict into ``summary.json`` and the run index). No decision sentence is
composed in a notebook.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DECISION_KEY = "decision"  # where record_decision() keeps the decision in the metrics file
DECISION_LOG_KEY = "decision_log"  # rows the runner appends to the decision log on publishing


@dataclass(frozen=True)
class Decision:
    """The outcome of one report's decision table."""

    report: str  # the notebook's name, e.g. "post_launch_review"
    verdict: str  # the table's key for the outcome, e.g. "ship", "keep_running", "draft"
    label: str  # the verdict as a stakeholder reads it, e.g. "Keep running"
    reason: str  # why, from the evidence: one or two sentences (Markdown, already escaped)
    next_step: str  # what to do now, in the reader's words
    rule: str  # the row of docs/decisions.md that produced it, e.g. "PLR-4"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        return (
            f"**{self.label}.** {self.reason}\n\n"
            f"**Next step:** {self.next_step}\n\n"
            f"<small>Rule {self.rule} in docs/decisions.md</small>"
        )
