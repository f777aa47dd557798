"""The dependency pins are the exact ones: what ibis 12 breaks on is excluded, and works here.

ibis 12 breaks from sqlglot 30.18 on (DuckDB ``create_table`` from pandas and ``drop_table``,
PostgreSQL ``Table.sql()``) and with duckdb 2 (``fetch_arrow_table`` removed): the installed
releases are inside the pins, and the operations that break work with them.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import ibis
import pandas as pd
import yaml


def release(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version(name).split(".")[:2] if part.isdigit())


def test_installed_releases_are_inside_the_pins():
    assert release("sqlglot") < (30, 18)
    assert release("duckdb") < (2, 0)
    assert release("ibis-framework") < (13, 0)


def test_what_breaks_outside_the_pins_works_inside_them():
    con = ibis.duckdb.connect()
    frame = pd.DataFrame({"customer_id": ["c1", "c2"], "revenue": [1.5, 2.0]})
    con.create_table("orders", frame)  # from pandas: broken from sqlglot 30.18 on
    assert con.table("orders").revenue.sum().execute() == 3.5
    assert con.table("orders").to_pyarrow().num_rows == 2  # fetch_arrow_table: gone in duckdb 2
    con.drop_table("orders")  # rendered without the table name from sqlglot 30.18 on
    assert "orders" not in con.list_tables()
    assert "SELECT" in ibis.to_sql(ibis.table({"a": "int64"}, name="t"), dialect="postgres")


def test_pyspark_inside_its_pin_when_installed():
    import pytest

    pytest.importorskip("pyspark")
    assert (4, 0) <= release("pyspark") < (4, 1)  # ibis 12 supports pyspark <4.1


def test_the_pre_commit_hooks_pin_the_dev_extras_versions():
    """The hooks install from the package index with pins; Dependabot bumps pyproject.toml, and
    this test fails until .pre-commit-config.yaml names the same version."""
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = [p.split("#")[0].strip() for p in project["optional-dependencies"]["dev"]]
    pins = dict(re.fullmatch(r"([a-z0-9-]+)==(\S+)", p).groups() for p in dev if "==" in p)
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    for hook in hooks:
        for requirement in hook.get("additional_dependencies", []):
            name, version = requirement.split("==")
            assert pins.get(name) == version, (
                f"{hook['id']}: .pre-commit-config.yaml pins {requirement}, pyproject.toml's dev "
                f"extra {name}=={pins.get(name)}: make them the same"
            )
