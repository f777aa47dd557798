"""The command line a PM or a scheduler uses: plain messages, meaningful exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }} import _project, contract

ROOT = Path(__file__).resolve().parents[1]
MODULE = "{{ cookiecutter.module_name }}"


def cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    environment.pop("SHOP_DATA_URL", None)
    return subprocess.run(
        [sys.executable, "-m", MODULE, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sample_then_validate_passes(tmp_path):
    made = cli("sample", "--customers", "500", "--seed", "3", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "planted values in truth.json" in made.stdout
    checked = cli("validate", "--data-dir", str(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_validate_names_every_problem_and_exits_1(tmp_path):
    assert cli("sample", "--customers", "300", "--out", str(tmp_path)).returncode == 0
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    orders.loc[orders.index[:3], "revenue"] = -5.0
    orders.loc[orders.index[3], "customer_id"] = "c_nobody"
    orders.to_parquet(tmp_path / "orders.parquet")
    checked = cli("validate", "--data-dir", str(tmp_path))
    assert checked.returncode == 1
    assert "orders.revenue" in checked.stdout and "3 rows" in checked.stdout
    assert "c_nobody" in checked.stdout
    assert "Traceback" not in checked.stderr


def test_contract_lists_every_table_and_column():
    shown = cli("contract")
    assert shown.returncode == 0
    for name, table in contract.TABLES.items():
        assert name in shown.stdout
        assert all(column.name in shown.stdout for column in table.columns)


def test_user_errors_are_one_plain_line_without_traceback(tmp_path):
    missing = cli("validate", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr
    assert "nowhere" in (missing.stdout + missing.stderr)
    bad_fault = cli("sample", "--customers", "100", "--out", str(tmp_path), "--fault", "nope")
    assert bad_fault.returncode == 2
    assert bad_fault.stderr.startswith("ERROR: Unknown fault 'nope'")


def test_import_preset_from_the_users_folder(tmp_path):
    export = tmp_path / "orders_export.csv"
    export.write_text(  # in the project's own currency, whatever it was baked with
        "Name,Email,Financial Status,Paid at,Currency,Subtotal,Discount Amount,Total,"
        "Lineitem name,Lineitem quantity,Lineitem price,Lineitem sku\n"
        f"#1001,Ann@Example.com,paid,2026-01-05 10:00:00 +0000,{_project.CURRENCY},50,5,45,"
        "Mug,1,50,sku1\n",
        encoding="utf-8",
    )
    out = tmp_path / "raw"
    done = cli("import", export.name, "--preset", "shop_orders", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = b"".join(p.read_bytes() for p in out.glob("*"))
    assert b"Ann@Example.com".lower() not in written.lower()
    assert pd.read_parquet(out / "orders.parquet")["revenue"].tolist() == [45.0]
