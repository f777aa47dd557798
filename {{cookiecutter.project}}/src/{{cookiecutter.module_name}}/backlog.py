"""The backlog file the prioritisation report reads, and the named reach queries.

The backlog is a CSV file (one row per initiative; a spreadsheet exports it) with these columns:

=====================  =========================================================================
``initiative``         the initiative's name (unique)
``type``               ``customer-facing``, ``platform-tech-debt`` or ``operational``
``reach``              people or events it touches in the planning period: a number, or the
                       name of a reach query on the shop data (:data:`REACH_QUERIES`), e.g.
                       ``weekly sessions reaching checkout on mobile``
``reach_guess``        optional: the number the spreadsheet used before, shown beside the data
``impact_low``,        the effect on its goal for each one reached, as a range (low, most
``impact_likely``,     likely, high) on one scale for the whole backlog: the RICE scale
``impact_high``        (0.25 minimal ... 3 massive) or an expected lift such as 0.05
``confidence_low``,    how sure we are of the estimate, as shares between 0 and 1 (0.8 = 80%)
``confidence_likely``,
``confidence_high``
``effort_low``,        person-weeks of work, as a range
``effort_likely``,
``effort_high``
``notes``              optional free text
=====================  =========================================================================

:func:`read_backlog` checks every row and raises one :class:`~.errors.UserError` naming each
broken row (its line in the file and its initiative) and field, so a hand-edited file is fixed
in one pass.

Reach queries are portable Ibis expressions (they run on DuckDB, PostgreSQL or any warehouse):
counts of sessions at a funnel step (optionally on one device), orders (optionally on one sales
channel or in one category) and customers (active, repeat, from one country or acquisition
channel), and customers in one RFM segment as the segmentation report labels them at the end
of the data (``customers in segment At risk``). "Weekly" queries count the weeks the data covers
in the lookback window and scale to the planning period; customer queries count customers once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from . import data
from .actions import SEGMENT_ACTIONS
from .contract import DEVICES
from .errors import UserError, problem_list

TYPES = ("customer-facing", "platform-tech-debt", "operational")
RANGED = ("impact", "confidence", "effort")
LEVELS = ("low", "likely", "high")
REQUIRED_COLUMNS = (
    "initiative",
    "type",
    "reach",
    *(f"{name}_{level}" for name in RANGED for level in LEVELS),
)
OPTIONAL_COLUMNS = ("reach_guess", "notes")
BACKLOG_FILE = "backlog.csv"  # looked for in the data folder when no path is given


# --------------------------------------------------------------------------------------------
# Reach queries


@dataclass(frozen=True)
class ReachWindow:
    """The lookback the weekly queries count over, and the period reach is planned for."""

    start: pd.Timestamp  # first instant counted
    end: pd.Timestamp  # the instant the data ends (exclusive)
    period_weeks: float  # length of the planning period in weeks


@dataclass(frozen=True)
class ReachQuery:
    """One named reach: the table it counts, how, and whether it is a weekly flow."""

    name: str
    table: str
    time_column: str | None  # for weekly flows: the timestamp scaled to weeks
    weekly: bool  # True: a flow per week, scaled to the period; False: a count of people
    count: Callable[[ir.Table, ReachWindow], ir.Scalar | int]  # an Ibis count, or a number
    description: str


STEPS = {  # funnel step as a PM names it -> sessions column
    "product page": "viewed_product",
    "cart": "added_to_cart",
    "checkout": "started_checkout",
    "purchase": "purchased",
}


def _in_window(t: ir.Table, column: str, window: ReachWindow) -> ir.BooleanValue:
    return (t[column] >= window.start.to_pydatetime()) & (t[column] < window.end.to_pydatetime())


def _sessions(step: str | None, device: str | None) -> Callable[[ir.Table, ReachWindow], ir.Scalar]:
    def count(t: ir.Table, window: ReachWindow) -> ir.Scalar:
        keep = _in_window(t, "started_at", window)
        if step:
            keep &= t[STEPS[step]]
        if device:
            keep &= t.device == device
        return t.filter(keep).count()

    return count


def _orders(column: str | None, value: str | None) -> Callable[[ir.Table, ReachWindow], ir.Scalar]:
    def count(t: ir.Table, window: ReachWindow) -> ir.Scalar:
        keep = _in_window(t, "ordered_at", window)
        if column:
            keep &= t[column] == value
        return t.filter(keep).count()

    return count


def _active_customers(min_orders: int) -> Callable[[ir.Table, ReachWindow], ir.Scalar]:
    def count(t: ir.Table, window: ReachWindow) -> ir.Scalar:
        per = (
            t.filter(_in_window(t, "ordered_at", window))
            .group_by("customer_id")
            .agg(n=ibis._.count())
        )
        return per.filter(per.n >= min_orders).count()

    return count


def _customers(column: str, value: str) -> Callable[[ir.Table, ReachWindow], ir.Scalar]:
    def count(t: ir.Table, window: ReachWindow) -> ir.Scalar:
        return t.filter(t[column] == value).count()

    return count


def _segment(name: str) -> Callable[[ir.Table, ReachWindow], int]:
    def count(t: ir.Table, window: ReachWindow) -> int:
        try:
            from . import segmentation
        except ImportError:  # the project was baked without the segmentation report
            raise UserError(
                f"The reach query 'customers in segment {name}' needs the segmentation report, "
                "which this project was baked without; give that initiative's reach as a number."
            ) from None
        # The segments as the segmentation report would label them at the end of the data.
        as_of = window.end - pd.Timedelta(microseconds=1)
        segments = segmentation.rfm_segments(t, as_of=as_of)["rfm_segment"]
        return int((segments.astype(str) == name).sum())

    return count


def _segment_query(key: str, value: str) -> ReachQuery:
    """'customers in segment <RFM segment>': the segment's name checked when the backlog is read,
    so a typo is reported with the backlog's other problems."""
    names = {segment.lower(): segment for segment in SEGMENT_ACTIONS}
    name = names.get(" ".join(value.lower().split()))
    if name is None:
        near = difflib.get_close_matches(value.lower(), list(names), n=2, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(names[n]) for n in near)}?" if near else ""
        raise UserError(
            f"{value!r} is not an RFM segment.{hint} The segments are: "
            f"{', '.join(SEGMENT_ACTIONS)}."
        )
    return ReachQuery(key, "orders", None, False, _segment(name), f"customers in segment {name}")


def _fixed_queries() -> dict[str, ReachQuery]:
    queries: dict[str, ReachQuery] = {}
    for step in (None, *STEPS):
        for device in (None, *DEVICES):
            name = "weekly sessions"
            name += f" reaching {step}" if step else ""
            name += f" on {device}" if device else ""
            what = f"sessions{f' that reached the {step}' if step else ''}"
            what += f" on {device}" if device else ""
            queries[name] = ReachQuery(
                name, "sessions", "started_at", True, _sessions(step, device), f"{what} per week"
            )
    queries["weekly orders"] = ReachQuery(
        "weekly orders", "orders", "ordered_at", True, _orders(None, None), "orders per week"
    )
    queries["active customers"] = ReachQuery(
        "active customers",
        "orders",
        None,
        False,
        _active_customers(1),
        "customers with an order in the lookback window",
    )
    queries["repeat customers"] = ReachQuery(
        "repeat customers",
        "orders",
        None,
        False,
        _active_customers(2),
        "customers with two or more orders in the lookback window",
    )
    return queries


REACH_QUERIES: dict[str, ReachQuery] = _fixed_queries()
# Queries with a value from the data: "weekly orders on app", "customers in country US", ...
PATTERNS: dict[str, tuple[str, str, str]] = {
    r"weekly orders on (?P<value>.+)": ("orders", "channel", "orders on the {value} channel"),
    r"weekly orders in (?P<value>.+)": ("orders", "category", "orders in {value} per week"),
    r"customers in country (?P<value>.+)": ("customers", "country", "customers in {value}"),
    r"customers from (?P<value>.+)": (
        "customers",
        "acquisition_channel",
        "customers acquired through {value}",
    ),
}


def reach_query(name: str) -> ReachQuery:
    """The query of this name (case and spacing do not matter), or a UserError with the
    closest known names."""
    key = " ".join(str(name).lower().split())
    if key in REACH_QUERIES:
        return REACH_QUERIES[key]
    original = " ".join(str(name).split())
    segment = re.fullmatch(r"customers in segment (?P<value>.+)", key)
    if segment:
        return _segment_query(key, original[segment.start("value") :])
    for pattern, (table, column, words) in PATTERNS.items():
        match = re.fullmatch(pattern, key)
        if match:
            value = original[match.start("value") :]  # keep the value's own spelling
            if table == "orders":
                return ReachQuery(
                    key,
                    table,
                    "ordered_at",
                    True,
                    _orders(column, value),
                    words.format(value=value),
                )
            return ReachQuery(
                key, table, None, False, _customers(column, value), words.format(value=value)
            )
    known = [*REACH_QUERIES, "weekly orders on <channel>", "weekly orders in <category>"]
    known += ["customers in country <code>", "customers from <acquisition channel>"]
    known += ["customers in segment <RFM segment>"]
    near = difflib.get_close_matches(key, list(REACH_QUERIES), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise UserError(
        f"{name!r} is neither a number nor a known reach query.{hint} Known queries: "
        f"{'; '.join(known)}."
    )


@dataclass(frozen=True)
class Reach:
    """A reach taken from the data: the value for the period and how it was counted."""

    query: str
    value: float  # reach in the planning period
    raw_count: int  # rows (or customers) counted
    weeks_covered: float | None  # weeks of data behind a weekly query
    description: str


def measure_reach(con: ibis.BaseBackend, name: str, window: ReachWindow) -> Reach:
    """Run one named reach query on the shop data."""
    query = reach_query(name)
    if not data.has_table(con, query.table):
        raise UserError(
            f"The reach query {query.name!r} counts the {query.table} table, which the data does "
            f"not have; give that initiative's reach as a number, or add the table."
        )
    t = data.table(con, query.table)
    result = query.count(t, window)
    counted = int(result.execute() if isinstance(result, ir.Expr) else result)
    if not query.weekly:
        return Reach(query.name, float(counted), counted, None, query.description)
    first = t.filter(_in_window(t, query.time_column, window))[query.time_column].min().execute()
    if first is None or pd.isna(first) or counted == 0:
        return Reach(query.name, 0.0, 0, 0.0, query.description)
    first_day = pd.Timestamp(first).normalize()
    weeks = (window.end - max(first_day, window.start)) / pd.Timedelta(days=7)
    value = counted / weeks * window.period_weeks
    return Reach(query.name, value, counted, weeks, query.description)


# --------------------------------------------------------------------------------------------
# The backlog file


@dataclass(frozen=True)
class Item:
    """One validated initiative."""

    initiative: str
    type: str
    reach: float | None  # a number given in the file (None: from a query)
    reach_query: str | None
    reach_guess: float | None
    impact: tuple[float, float, float]
    confidence: tuple[float, float, float]
    effort: tuple[float, float, float]
    line: int  # line in the file (the header is line 1)


def read_backlog(path: str | Path) -> list[Item]:
    """The backlog file, checked row by row; every problem is reported at once."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"There is no backlog file at {path}. Write one (a CSV with the columns "
            f"{', '.join(REQUIRED_COLUMNS)}; see the prioritisation section of the README), or "
            f"set the backlog parameter in params/prioritisation.yaml to where yours is."
        )
    problem = data.utf8_problem(path)
    if problem:
        raise UserError(problem)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(f"The backlog {path} is not a readable CSV file: {error}") from None
    return parse_backlog(frame, str(path))


def parse_backlog(frame: pd.DataFrame, source: str = "the backlog") -> list[Item]:
    """Check a backlog given as text cells (as read from the CSV) and return its items."""
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(
            f"{source} has no column {', '.join(missing)}. Found: "
            f"{', '.join(frame.columns) or 'none'}. The backlog needs "
            f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})."
        )
    problems: list[str] = []
    items: list[Item] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(frame.fillna("").astype(str).to_dict("records")):
        line = position + 2
        name = row["initiative"].strip()
        where = f"line {line}" + (f" ({name})" if name else "")
        errors: list[str] = []
        if not name:
            errors.append("initiative: empty; give the initiative a name")
        elif name.lower() in seen:
            errors.append(f"initiative: {name!r} is already on line {seen[name.lower()]}")
        else:
            seen[name.lower()] = line
        kind = row["type"].strip().lower()
        if kind not in TYPES:
            errors.append(f"type: {row['type']!r} is not one of {', '.join(TYPES)}")
        reach, query = _reach_cell(row["reach"], errors)
        guess = _number(row.get("reach_guess", ""), "reach_guess", errors, optional=True)
        if guess is not None and guess < 0:
            errors.append(f"reach_guess: {guess:g} is below 0")
        ranges = {name_: _range(row, name_, errors) for name_ in RANGED}
        if errors:
            problems += [f"{where}, {e}." for e in errors]
            continue
        items.append(
            Item(
                name,
                kind,
                reach,
                query,
                guess,
                ranges["impact"],
                ranges["confidence"],
                ranges["effort"],
                line,
            )
        )
    if problems:
        raise problem_list(str(source), problems)
    return items


def _number(text: str, field: str, errors: list[str], optional: bool = False) -> float | None:
    text = str(text).strip().replace(",", "")
    if not text:
        if not optional:
            errors.append(f"{field}: empty; give a number")
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(f"{field}: {text!r} is not a number")
        return None
    if not math.isfinite(value):
        errors.append(f"{field}: {text!r} is not a finite number")
        return None
    return value


def _reach_cell(text: str, errors: list[str]) -> tuple[float | None, str | None]:
    text = str(text).strip()
    if not text:
        errors.append("reach: empty; give a number or a reach query such as 'weekly sessions'")
        return None, None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        try:
            return None, reach_query(text).name
        except UserError as error:
            errors.append(f"reach: {str(error).rstrip('.')}")
            return None, None
    if not math.isfinite(value) or value < 0:
        errors.append(f"reach: {text!r} must be a number of 0 or more")
        return None, None
    return value, None


def _range(row: dict[str, str], name: str, errors: list[str]) -> tuple[float, float, float]:
    before = len(errors)
    values = [_number(row[f"{name}_{level}"], f"{name}_{level}", errors) for level in LEVELS]
    if len(errors) > before:
        return (0.0, 0.0, 0.0)
    low, likely, high = (float(v) for v in values)  # type: ignore[arg-type]
    if not low <= likely <= high:
        errors.append(
            f"{name}_low/likely/high: {low:g}, {likely:g}, {high:g} are not in order "
            f"(low ≤ likely ≤ high)"
        )
    if name == "confidence":
        if high > 1:
            hint = f" (write {high / 100:g} for {high:g}%)" if high <= 100 else ""
            errors.append(f"confidence_high: {high:g} is above 1; confidence is a share{hint}")
        if low <= 0:
            errors.append(f"confidence_low: {low:g} must be above 0")
    elif name == "effort" and low <= 0:
        errors.append(f"effort_low: {low:g} person-weeks; effort must be above 0")
    elif name == "impact" and (low < 0 or high <= 0):
        errors.append(
            f"impact_low/high: {low:g} to {high:g}; impact must be 0 or more, high above 0"
        )
    return (low, likely, high)


def items_frame(items: list[Item]) -> pd.DataFrame:
    """The backlog as a table (ranges as low / likely / high columns)."""
    rows = []
    for item in items:
        row = {
            "initiative": item.initiative,
            "type": item.type,
            "reach": item.reach,
            "reach_query": item.reach_query,
            "reach_guess": item.reach_guess,
        }
        for name in RANGED:
            for level, value in zip(LEVELS, getattr(item, name), strict=True):
                row[f"{name}_{level}"] = value
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=["initiative", "type", "reach", "reach_query", "reach_guess"]
        + [f"{n}_{lv}" for n in RANGED for lv in LEVELS],
    )
