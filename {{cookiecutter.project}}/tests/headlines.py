"""The headline values two report runs recorded, compared with one tolerance for every engine.

Used by the PostgreSQL and the Spark report comparisons: each engine's run of the same reports on
the same sample shop must record the same values as the DuckDB run (``summary.json``, the
``metrics`` of every notebook), floats within a relative 1e-6 (engines sum in different orders).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

REL_TOL = 1e-6
ABS_TOL = 1e-9


def same(a: Any, b: Any) -> bool:
    """Equal, recursively; floats within REL_TOL (or ABS_TOL near zero)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return (
            a is not None and b is not None and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        )
    return a == b


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar inside a recorded value, with its path (``segments[2].share``)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from leaves(inner, f"{path}[{index}]")
    else:
        yield path, value


def differences(
    engine: dict, duck: dict, reports: Iterable[str], metrics: dict[str, list[str]] | None = None
) -> tuple[list[str], int]:
    """(What differs, how many values were compared) between two runs' summaries.

    ``metrics`` names the values compared per report; None compares every value the DuckDB run
    recorded for each report (a report added later is covered without a change here).
    """
    found: list[str] = []
    compared = 0
    for name in reports:
        on_engine = engine["notebooks"][name].get("metrics") or {}
        on_duck = duck["notebooks"][name].get("metrics") or {}
        wanted = metrics[name] if metrics is not None else list(on_duck)
        for metric in wanted:
            if metric not in on_duck:
                continue
            compared += sum(1 for _ in leaves(on_duck[metric]))
            if not same(on_engine.get(metric), on_duck[metric]):
                found.append(f"{name}.{metric}: {on_engine.get(metric)!r} != {on_duck[metric]!r}")
    return found, compared
