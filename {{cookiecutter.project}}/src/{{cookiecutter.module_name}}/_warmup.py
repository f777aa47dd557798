"""Warm-up of a kernel the runner starts ahead of its turn: import what the notebook imports.

With a core to spare (``run --jobs 1`` on two cores, say), the runner starts the next notebook's
worker and kernel while the current notebook runs; the kernel runs ``warm`` at start-up
(``IPKernelApp.exec_lines``) with the modules the notebook's cells import, then waits for its
turn. Its import cell then finds them loaded: 1-2 s less per notebook for pandas, matplotlib,
Ibis, scikit-learn and the rest. A module that fails to import is skipped here, so the
notebook's own cell raises the error where its reader sees it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable


def warm(modules: Iterable[str]) -> None:
    """Import each module; skip any that fails (its notebook cell will report it)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - the notebook's own import reports it
            continue
