"""The one channel for problems a user can fix (a bad parameter, data that breaks the contract).

A :class:`UserError` is shown as its plain message, without a traceback, on the console, in
``run.log`` and on the failure page; any other exception is a bug and keeps its traceback in
``run.log`` (never on a shared page). It subclasses ``ValueError`` so code that caught
``ValueError`` for user mistakes keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserError(ValueError):
    """Something the user can fix; the message says what is wrong and what to do."""


# The contract's own advice when a shop table lacks a column: the same words in every report.
CONTRACT_ADVICE = (
    f"Map your export onto the data contract (see `python -m {__package__} contract`)."
)


def require_columns(
    present: Iterable[object], needed: Iterable[str], what: str, advice: str
) -> None:
    """Refuse ``what`` ("The orders table", "The at-risk list") unless it has every ``needed``
    column; the message names the missing ones, the ones it has and what to do (``advice``)."""
    have = [str(column) for column in present]
    missing = [column for column in needed if column not in have]
    if missing:
        raise UserError(
            f"{what} lacks the column(s) {', '.join(missing)}; it has "
            f"{', '.join(have) or 'none'}. {advice}"
        )


def require_table_columns(table: str, present: Iterable[object], needed: Iterable[str]) -> None:
    """:func:`require_columns` for a table of the data contract (orders, sessions, ...)."""
    require_columns(present, needed, f"The {table} table", CONTRACT_ADVICE)


def problem_list(what: str, problems: list[str]) -> UserError:
    """One error for every problem found in a hand-edited file, so all are fixed in one go."""
    many = len(problems) > 1
    return UserError(
        f"{what} has {len(problems)} problem{'s' if many else ''}; fix "
        f"{'them' if many else 'it'} and run the report again:\n"
        + "\n".join(f"- {p}" for p in problems)
    )
