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

import numpy as np
import pandas as pd

from . import config, contract
from .errors import UserError, problem_list, require_columns

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
    require_columns(
        frame.columns, COLUMNS, f"The decision log {log}", "See docs/decisions.md for its columns."
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


def check(frame: pd.DataFrame, source: str, *, today: pd.Timestamp | None = None) -> pd.DataFrame:
    """The decision log with typed columns, or a UserError naming each broken row and field.

    Follows the ``decision_log`` table of the data contract: a unique ``review_id``, a date
    ``decided_on`` not in the future, numbers where numbers belong, and
    measured_low ≤ measured_effect ≤ measured_high when all three are given.
    """
    spec = contract.TABLES["decision_log"]
    missing = [c for c in spec.required_columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"The decision log {source} has no column {', '.join(missing)}; it needs "
            f"{', '.join(COLUMNS)} (see `python -m <package> contract`)."
        )
    today = today or pd.Timestamp.now(tz="UTC").tz_localize(None)
    out = frame[list(spec.required_columns)].copy().reset_index(drop=True)
    problems: list[str] = []

    def where(i: int) -> str:
        review = out.at[i, "review_id"]
        name = "" if pd.isna(review) or str(review).strip() == "" else f" ({review})"
        return f"row {i + 1}{name}" if not source.endswith(".csv") else f"line {i + 2}{name}"

    for column in spec.columns:
        values = out[column.name]
        blank = values.isna() | values.astype(str).str.strip().isin(["", "nan", "None", "NaT"])
        if column.dtype == "float":
            parsed = pd.to_numeric(values.where(~blank), errors="coerce")
            for i in np.flatnonzero((~blank & parsed.isna()).to_numpy()):
                problems.append(f"{where(i)}, {column.name}: {values.iat[i]!r} is not a number")
            out[column.name] = parsed
        elif column.dtype == "timestamp":
            parsed = pd.to_datetime(values.where(~blank), errors="coerce", utc=True, format="mixed")
            parsed = parsed.dt.tz_localize(None)
            for i in np.flatnonzero((~blank & parsed.isna()).to_numpy()):
                problems.append(
                    f"{where(i)}, {column.name}: {values.iat[i]!r} is not a date (YYYY-MM-DD)"
                )
            for i in np.flatnonzero((parsed > today).to_numpy()):
                problems.append(f"{where(i)}, {column.name}: {values.iat[i]} is in the future")
            out[column.name] = parsed
        else:
            out[column.name] = values.where(~blank).astype(object)
        if not column.nullable:
            for i in np.flatnonzero(blank.to_numpy()):
                problems.append(f"{where(i)}, {column.name}: empty")
    ids = out["review_id"].dropna().astype(str)
    for review in sorted(ids[ids.duplicated()].unique()):
        lines = [
            where(i) for i in np.flatnonzero((out["review_id"].astype(str) == review).to_numpy())
        ]
        problems.append(f"review_id {review!r} appears more than once ({', '.join(lines)})")
    complete = out[["measured_low", "measured_effect", "measured_high"]].notna().all(axis=1)
    disordered = complete & ~(
        (out.measured_low <= out.measured_effect) & (out.measured_effect <= out.measured_high)
    )
    for i in np.flatnonzero(disordered.to_numpy()):
        problems.append(
            f"{where(i)}, measured_low/measured_effect/measured_high: "
            f"{out.at[i, 'measured_low']:g}, {out.at[i, 'measured_effect']:g}, "
            f"{out.at[i, 'measured_high']:g} are not in order (low ≤ effect ≤ high)"
        )
    if problems:
        raise problem_list(f"The decision log {source}", [f"{p}." for p in problems])
    return out


def read_checked(log: Path | None = None) -> pd.DataFrame:
    """The decision log file, every row checked by :func:`check` (a UserError names each broken
    line); what ``make validate`` and the prioritisation report read."""
    log = log or path()
    try:
        raw = pd.read_csv(log, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(f"The decision log {log} is not a readable CSV file: {error}") from None
    return check(raw, str(log))
