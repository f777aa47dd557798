"""The one channel for problems a user can fix (a bad parameter, data that breaks the contract).

A :class:`UserError` is shown as its plain message, without a traceback, on the console, in
``run.log`` and on the failure page; any other exception is a bug and keeps its traceback in
``run.log`` (never on a shared page). It subclasses ``ValueError`` so code that caught
``ValueError`` for user mistakes keeps working.
"""

from __future__ import annotations


class UserError(ValueError):
    """Something the user can fix; the message says what is wrong and what to do."""
