"""The decision log: one row per launch review, read by prioritisation.

Every post-launch review records its outcome (``report.record_decision(..., log_entry=...)``);
the runner appends those rows here when it publishes a fully successful run, so a failed or
partial run never writes to the log. Re-running the same review replaces its row (idempotent,
keyed by ``review_id``). The file is plain CSV so launches made outside the project can be added
by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import config

LOG_PATH = "data/decision_log.csv"
COLUMNS = (
    "review_id",  # stable id of the review (the experiment id, or the launch's name)
    "decided_on",  # the review's analysis date, YYYY-MM-DD
    "hypothesis",  # what the change was meant to do, in words
    "primary_metric",  # e.g. conversion, revenue_per_visitor
    "predicted_effect",  # relative effect expected before launch (the plan's minimum effect)
    "measured_effect",  # relative effect measured
    "measured_low",  # lower end of its interval
    "measured_high",  # upper end of its interval
    "verdict",  # the review's verdict key (ship, keep_running, roll_back, ...)
)


def path() -> Path:
    return config.resolve(LOG_PATH)


def read(log: Path | None = None) -> pd.DataFrame:
    """The log as a frame with :data:`COLUMNS` (empty when there is no log yet)."""
    log = log or path()
    if not log.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.read_csv(log, dtype={"review_id": str})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{log} is missing the column(s) {', '.join(missing)}; the decision log needs "
            f"{', '.join(COLUMNS)} (see docs/decisions.md)."
        )
    return frame


def upsert(entries: Iterable[Mapping[str, Any]], log: Path | None = None) -> Path:
    """Add these rows, replacing any row with the same ``review_id``; written atomically."""
    log = log or path()
    new = pd.DataFrame([{c: entry.get(c) for c in COLUMNS} for entry in entries])
    if new.empty:
        return log
    new["review_id"] = new["review_id"].astype(str)
    old = read(log)
    kept = old[~old["review_id"].astype(str).isin(new["review_id"])]
    frame = pd.concat([kept, new], ignore_index=True) if not kept.empty else new
    return config.write_atomically(log, lambda tmp: frame.to_csv(tmp, index=False))
