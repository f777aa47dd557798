"""Recording a notebook's headline values, and its executive summary.

A notebook calls ``record("churn_rate", 0.23)`` for each headline value. Under the runner the
values go to a JSON side file (its path in ``SHOP_REPORT_METRICS``) that the runner folds into
``summary.json``; in JupyterLab they are only kept in memory. scrapbook is unmaintained, so this
small helper replaces it (see docs/design-decisions.md).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .decisions import DECISION_KEY, DECISION_LOG_KEY, Decision

METRICS_ENV = "SHOP_REPORT_METRICS"
SUMMARY_TAG = "executive-summary"  # the runner moves the cell with this tag to the top


# How a recorded number can be written (``index.HEADLINE_FORMATS`` writes each one).
KINDS = ("share", "money", "count", "days", "score", "ratio", "p_value", "number", "text")
# The kinds that grade a model or a test rather than the business (see Headline.is_diagnostic).
DIAGNOSTIC_KINDS = frozenset({"score", "p_value"})


@dataclass(frozen=True)
class Headline:
    """How the run pages name and show one recorded value, in a stakeholder's words."""

    label: str
    kind: str  # how the number is written: one of KINDS (share, money...)
    field: str = "value"  # a recorded mapping is shown by this key (``{"value": 25.2, ...}``)
    diagnostic: bool = False  # grades a method although its kind does not say so (a lift...)

    @property
    def is_diagnostic(self) -> bool:
        """THE rule that sorts a headline on the run index, written here only: a value is a
        *model diagnostic* when it grades a model or a test instead of measuring the business,
        that is when its kind is a fit score or a p-value (:data:`DIAGNOSTIC_KINDS`: ROC-AUC,
        PR-AUC, Brier, ARI, silhouette, SRM p) or it is marked ``diagnostic=True`` (here or by
        ``record(..., diagnostic=True)``). Every other headline is a business KPI. Diagnostics
        are folded away under "Model diagnostics"; business KPIs come first."""
        return self.diagnostic or self.kind in DIAGNOSTIC_KINDS


# Every number and text the shipped notebooks record; a value without an entry is shown under
# its own name (a test fails when a notebook records a number or text that is not listed here).
HEADLINES: dict[str, Headline] = {
    # shared by the reports
    "data_as_of": Headline("Data as of", "text"),
    # churn
    "churn_rate": Headline("Churn rate", "share"),
    "predicted_churn_rate": Headline("Predicted churn rate", "share"),
    "revenue_at_risk": Headline("Revenue at risk", "money"),
    "customers_flagged": Headline("Customers flagged at risk", "count"),
    "horizon_days": Headline("Churn horizon", "days"),
    "suggested_horizon_days": Headline("Suggested churn horizon", "days", diagnostic=True),
    "auc_roc": Headline("Model accuracy (ROC-AUC)", "score"),
    "auc_pr": Headline("Model precision-recall (PR-AUC)", "score"),
    "baseline_auc_recency": Headline("Recency-only baseline (ROC-AUC)", "score"),
    "baseline_auc_bgnbd": Headline("BG/NBD baseline (ROC-AUC)", "score"),
    "top_decile_lift": Headline("Top-decile lift", "ratio", diagnostic=True),
    "brier": Headline("Probability error (Brier)", "score"),
    "brier_uncalibrated": Headline("Probability error before calibration (Brier)", "score"),
    "model_edge": Headline("Model edge over the best baseline (ROC-AUC)", "score"),
    "at_risk_export": Headline("Customers-at-risk list (file)", "text"),
    "customers_held_out": Headline("Customers held out of the campaign", "count"),
    "campaign_return_lift": Headline("Return rate, contacted minus holdout", "share"),
    # market research
    "tam": Headline("Total addressable market (TAM)", "money"),
    "sam": Headline("Serviceable market (SAM)", "money"),
    "som": Headline("Obtainable market (SOM)", "money"),
    "nps": Headline("Net Promoter Score", "number"),
    "van_westendorp": Headline("Optimal price point (Van Westendorp)", "money", field="opp"),
    "price_index": Headline("Price index vs competitors (median)", "number", field="median"),
    # post-launch review
    "srm_p": Headline("Traffic split check (SRM p-value)", "p_value"),
    "cuped_variance_reduction": Headline("Variance removed by CUPED", "share", diagnostic=True),
    "did_estimate": Headline("Effect before/after launch (diff-in-diff)", "number"),
    "annual_revenue_impact": Headline("Revenue impact a year if rolled out", "money"),
    # prioritisation
    "backlog_items": Headline("Initiatives in the backlog", "count"),
    "now_items": Headline("Initiatives planned for this period", "count"),
    "now_effort_weeks": Headline("Person-weeks planned for this period", "number"),
    "leader_p_first": Headline("Chance the leading initiative ranks first", "share"),
    "impact_shrinkage": Headline("Impact scaling from past launches", "ratio", diagnostic=True),
    "launches_in_log": Headline("Past launches calibrating impact", "count", diagnostic=True),
    # segmentation
    "n_customers": Headline("Customers analysed", "count"),
    "k": Headline("Behaviour groups", "count"),
    "silhouette": Headline("Group separation (silhouette)", "score"),
    "ari_vs_truth": Headline("Match with the planted customer types (ARI)", "score"),
    "lapsed_after_days": Headline("Silent days after which a customer is Lapsed", "days"),
    "lapsed_share": Headline("Lapsed customers", "share"),
}


def headline_value(value: Any, field: str = "value") -> Any:
    """The one value that stands for a recorded metric, or None when there is none.

    A number, text or flag stands for itself; a mapping such as ``{"value": 25.2, "ci_low":
    15.4, ...}`` by its ``field``; lists and other mappings only live in summary.json.
    """
    if isinstance(value, Mapping):
        value = value.get(field)
    return value if isinstance(value, bool | int | float | str) else None


def headline(metric: str, recorded: Any = None) -> Headline:
    """How a recorded metric is named and written: ``report.HEADLINES``, else the label and kind
    the notebook recorded with it (``report.record(..., label=, kind=)``), else its own name."""
    if metric in HEADLINES:
        return HEADLINES[metric]
    if isinstance(recorded, Mapping) and isinstance(recorded.get("label"), str):
        kind = recorded.get("kind")
        return Headline(
            recorded["label"],
            kind if kind in KINDS else "number",
            diagnostic=recorded.get("diagnostic") is True,
        )
    return Headline(metric, "number")


_recorded: dict[str, Any] = {}


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for numpy / pandas / datetime values; NaN and inf become None."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.Series):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"record() cannot store a {type(value).__name__}; pass numbers or text.")


def record(
    name: str,
    value: Any,
    *,
    label: str | None = None,
    kind: str | None = None,
    diagnostic: bool = False,
) -> Any:
    """Keep a headline value for summary.json and the run index; returns the value.

    A notebook names its own numbers with ``label`` (plain words) and ``kind`` (how it is
    written: one of :data:`KINDS`, default ``number``); it is then stored as
    ``{"value": ..., "label": ..., "kind": ...}`` and needs no entry in :data:`HEADLINES`.
    ``diagnostic=True`` files a value that grades a model or a test under the index's "Model
    diagnostics" (kinds ``score`` and ``p_value`` always go there: ``Headline.is_diagnostic``).
    """
    stored = to_jsonable(value)
    if label is not None or kind is not None or diagnostic:
        if isinstance(stored, Mapping):
            raise TypeError("record(label=...) takes one number or text, not a mapping.")
        stored = {"value": stored, "label": str(label or name), "kind": str(kind or "number")}
        if diagnostic:
            stored["diagnostic"] = True
    _recorded[name] = stored
    target = os.environ.get(METRICS_ENV)
    if target:
        path = Path(target)
        # in the order recorded: the run index lists a report's values in that order
        path.write_text(json.dumps(_recorded, indent=2), encoding="utf-8")
    return value


def record_decision(decision: Decision, log_entry: Mapping[str, Any] | None = None) -> Decision:
    """Keep the report's decision for summary.json (``verdict``) and the run index.

    ``log_entry`` is a row for the decision log (see ``decision_log``): the runner appends it
    when the run is published, so a failed or partial run never writes to the log.
    """
    record(DECISION_KEY, decision.as_dict())
    if log_entry is not None:
        record(DECISION_LOG_KEY, [dict(log_entry)])
    return decision


def show_decision(decision: Decision) -> Any:
    """The decision as the page shows it: verdict, reason, next step, and the rule behind it."""
    from IPython.display import Markdown

    return Markdown(decision.to_markdown())


def recorded() -> dict[str, Any]:
    """Everything recorded so far in this kernel."""
    return dict(_recorded)


def executive_summary(title: str, points: Sequence[str], decision: str | None = None) -> Any:
    """Render the executive summary as Markdown (shown first in the shared HTML)."""
    from IPython.display import Markdown

    lines = [f"## {title}", ""] + [f"- {point}" for point in points]
    if decision:
        lines += ["", f"**Decision / next step:** {decision}"]
    return Markdown("\n".join(lines))
