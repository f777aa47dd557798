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


def test_the_readme_and_run_help_document_every_exit_code():
    from {{ cookiecutter.module_name }} import runner

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for code, word in (
        (runner.EXIT_USAGE, "the run could not start"),
        (runner.EXIT_STOPPED, "the run was stopped"),
    ):
        assert f"{code} {word}" in readme
        assert f"{code}  {word}" in runner.EXIT_CODES_HELP
    assert "never published" in readme  # partial runs: the rule, stated


def _project_copy(tmp_path: Path) -> Path:
    """A project folder of its own (params/defaults.yaml), so --use edits no real settings."""
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "defaults.yaml").write_text(
        (ROOT / "params" / "defaults.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return root


def test_validate_checks_the_hand_edited_decision_log_line_by_line(tmp_path):
    root = _project_copy(tmp_path)
    assert cli("sample", "--customers", "300", "--out", str(tmp_path / "shop")).returncode == 0
    log = root / "data" / "decision_log.csv"
    log.parent.mkdir()
    header = (
        "review_id,decided_on,hypothesis,primary_metric,predicted_effect,measured_effect,"
        "measured_low,measured_high,verdict\n"
    )
    good = "search_v2,2026-03-01,better search,conversion,0.05,0.02,0.01,0.03,ship\n"
    log.write_text(header + good, encoding="utf-8")
    env = {"SHOP_PROJECT_ROOT": str(root)}
    fine = cli("validate", "--data-dir", str(tmp_path / "shop"), **env)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "decision_log.csv is fine: 1 launch(es) on record" in fine.stdout
    broken = "promo,2026-13-01,free shipping,aov,lots,0.02,0.03,0.01,ship\n"
    log.write_text(header + good + broken, encoding="utf-8")
    checked = cli("validate", "--data-dir", str(tmp_path / "shop"), **env)
    assert checked.returncode == 1
    assert "line 3 (promo), decided_on: '2026-13-01' is not a date (YYYY-MM-DD)" in checked.stdout
    assert "line 3 (promo), predicted_effect: 'lots' is not a number" in checked.stdout
    assert "are not in order (low ≤ effect ≤ high)" in checked.stdout
    assert "Traceback" not in checked.stderr


def test_import_says_which_setting_to_change_and_use_changes_it(tmp_path):
    root = _project_copy(tmp_path)
    export = tmp_path / "orders.csv"
    export.write_text(
        "Order Number,Order Date,Customer Email,Net Total,Quantity\n"
        "A-1,2026-01-05 10:00,ann@example.com,45.00,2\n"
        "A-2,2026-01-06 11:00,bob@example.com,20.00,1\n",
        encoding="utf-8",
    )
    env = {"SHOP_PROJECT_ROOT": str(root)}
    done = cli("import", str(export), cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "Imported 2 rows into orders." in done.stdout
    assert "Imported 2 rows into customers (derived from orders)." in done.stdout
    assert "Not imported (no such column in the orders table): Quantity" in done.stdout
    assert "set `data_dir: data/raw` in params/defaults.yaml (or import again with --use)" in (
        done.stdout
    )
    assert "data_dir: data/sample" in (root / "params/defaults.yaml").read_text()
    used = cli("import", str(export), "--use", cwd=tmp_path, **env)
    assert used.returncode == 0, used.stderr
    assert "Set data_dir: data/raw in params/defaults.yaml" in used.stdout
    settings = (root / "params/defaults.yaml").read_text()
    assert 'data_dir: "data/raw"  # folder with your tables' in settings
    again = cli("import", str(export), cwd=tmp_path, **env)
    assert "The reports already read data/raw" in again.stdout
    checked = cli("validate", **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_unsure_import_is_one_message_without_traceback(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("Order Date,Client ID,Total,Amount\n05/01/2024,k1,10,9\n", encoding="utf-8")
    done = cli("import", str(export), "--out", str(tmp_path / "raw"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("ERROR: Not sure how to read this file as the orders table")
    assert "Traceback" not in done.stderr and not (tmp_path / "raw").exists()
