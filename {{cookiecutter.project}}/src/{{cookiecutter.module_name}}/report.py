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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METRICS_ENV = "SHOP_REPORT_METRICS"
SUMMARY_TAG = "executive-summary"  # the runner moves the cell with this tag to the top

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


def record(name: str, value: Any) -> Any:
    """Keep a headline value for summary.json and the run index; returns the value."""
    _recorded[name] = to_jsonable(value)
    target = os.environ.get(METRICS_ENV)
    if target:
        path = Path(target)
        path.write_text(json.dumps(_recorded, indent=2, sort_keys=True), encoding="utf-8")
    return value


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
