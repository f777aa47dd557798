"""The project's calendar: the first day of a week (``week_starts_on``) and the index of a
month as portable Ibis expressions, and the last complete week before an analysis end."""

from __future__ import annotations

import ibis
import pandas as pd

from . import _project
from .errors import UserError

SECONDS_PER_DAY = 86_400
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def week_start(column: ibis.Value, week_starts_on: str | None = None) -> ibis.Value:
    """First day of the week holding each timestamp, in portable SQL."""
    start = week_starts_on or _project.WEEK_STARTS_ON
    if start not in WEEKDAYS:
        raise UserError(f"week_starts_on must be a weekday name; got {start!r}.")
    shift = ibis.interval(days=(7 - WEEKDAYS.index(start)) % 7)
    return (column + shift).truncate("W") - shift


def day_number(column: ibis.Value) -> ibis.Value:
    """Whole days since 1 January 1970 (UTC) of each timestamp, as a float."""
    return (column.epoch_seconds().cast("float64") / SECONDS_PER_DAY).floor()


def month_index(column: ibis.Value) -> ibis.Value:
    """12 x year + month - 1: consecutive months are consecutive numbers."""
    return column.year() * 12 + column.month() - 1


def last_complete_week(end: pd.Timestamp) -> pd.Timestamp:
    """First day of the last week (``week_starts_on``) that ends on or before ``end``."""
    first = WEEKDAYS.index(_project.WEEK_STARTS_ON)
    day = end.normalize()
    start = day - pd.Timedelta(days=(day.weekday() - first) % 7)
    return start - pd.Timedelta(days=7) if start + pd.Timedelta(days=7) > end else start
