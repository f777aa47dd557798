"""A real public data set, end to end: imported through the generic path, validated, reported.

The data is CDNOW (Fader & Hardie): every purchase of 23,570 customers of an online CD shop who
first bought in the first quarter of 1997, up to June 1998 (69,659 purchases, one line each:
customer id, date as 19970101, number of CDs, dollar value). It is not fetched and not made by
us: the `lifetimes` package ships it inside its wheel (lifetimes/datasets/CDNOW_master.txt),
installed with the kit's requirements.

Only the orders table exists, so the reports it allows are churn and segmentation (market
research needs survey answers and prices, the post-launch review experiment assignments). What
they found when this test was written (a run on 2026-12-02): churn 72% of customers (no purchase
in the 119-day horizon), model ROC-AUC 0.79 against 0.78 for recency alone and 0.77 for BG/NBD,
revenue at risk about $53k among the 1,000 customers flagged; segmentation 8 behaviour groups,
silhouette 0.45.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import baked, clean_env, make

pytestmark = pytest.mark.slow


def cdnow_file() -> Path:
    try:
        dist = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            "the real-data test needs the kit's requirements (pip install -r requirements.txt)"
        )
    return Path(dist.locate_file("lifetimes/datasets/CDNOW_master.txt"))


READ_BACK = """
import json, sys
import pandas as pd
orders = pd.read_parquet(sys.argv[1])
print(json.dumps([float(orders["revenue"].sum()), str(orders["ordered_at"].max())]))
"""


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-4000:] + "\n" + done.stderr[-4000:]


def test_cdnow_is_imported_validated_and_every_report_its_tables_allow_runs():
    path = cdnow_file()
    # an independent reading of the file (not the importer's), for the checks below
    raw = pd.read_csv(path, sep=r"\s+", dtype=str)
    with baked() as project:
        assert_ok(make(project, "setup"))
        python = str(project / ".venv" / "bin" / "python")  # its own, from `make setup`

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [python, "-m", "shop_insights", *args],
                cwd=project,
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=1800,
            )

        imported = cli("import", str(path), "--use")  # no preset, no column map
        assert_ok(imported)
        assert f"Imported {len(raw):,} rows into orders." in imported.stdout
        customers = raw["customer_id"].nunique()
        assert customers == 23_570  # the published size of the CDNOW cohort
        assert f"Imported {customers:,} rows into customers (derived from orders)." in (
            imported.stdout
        )
        assert "number_of_cds" in imported.stdout  # named, not silently dropped
        # read back with the project's own Python (the kit's virtualenv has no parquet engine)
        read_back = subprocess.run(
            [python, "-c", READ_BACK, str(project / "data/raw/orders.parquet")],
            capture_output=True,
            text=True,
            check=True,
        )
        revenue, last_order = json.loads(read_back.stdout)
        assert revenue == pytest.approx(raw["dollar_value"].astype(float).sum())
        assert pd.Timestamp(last_order) == pd.Timestamp(raw["date"].max())

        assert_ok(make(project, "validate"))

        ran = cli("run", "--only", "churn", "segmentation")
        assert ran.returncode in (0, 3), ran.stderr[-4000:]  # 3: an alert bound fired
        # a partial run (--only) is never published as latest: read its own run folder
        (run_dir,) = [p.parent for p in project.glob("reports/20*/summary.json")]
        summary = json.loads((run_dir / "summary.json").read_text())
        notebooks = summary["notebooks"]
        assert {name: nb["status"] for name, nb in notebooks.items()} == {
            "churn": "ok",
            "segmentation": "ok",
        }
        churn, segments = notebooks["churn"]["metrics"], notebooks["segmentation"]["metrics"]
        assert churn["data_as_of"] == "1998-06-30" == segments["data_as_of"]
        assert segments["n_customers"] == customers
        assert 0 < churn["churn_rate"] < 1 and churn["auc_roc"] > 0.6  # better than chance

        # outside git, the executed notebooks under reports/ are not linted as code
        linted = subprocess.run(
            [str(project / ".venv" / "bin" / "ruff"), "check", "."],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert list(project.glob("reports/*/churn.ipynb")), "the run left its notebooks"
        assert linted.returncode == 0, linted.stdout
