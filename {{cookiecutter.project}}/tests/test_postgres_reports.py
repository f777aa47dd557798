"""The same reports on a real PostgreSQL server give the same headline values as on DuckDB."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import run_reports, scratch_project
from headlines import differences
from pg import load_tables

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Reports whose every computation goes through the engine (Ibis), with the values compared.
COMPARED = {
    "segmentation": ["n_customers", "k", "silhouette", "ari_vs_truth", "segments"],
    "post_launch_review": ["srm_p", "verdict", "metrics", "cuped_variance_reduction"],
    "market_research": ["nps", "van_westendorp", "price_index", "top2box"],
}
TABLES = (
    "customers",
    "orders",
    "sessions",
    "assignments",
    "survey_responses",
    "products",
    "competitor_prices",
)


def test_reports_on_postgresql_match_duckdb(postgres_url, sample_dir, report_run, tmp_path):
    _, duck, _ = report_run
    chosen = [name for name in COMPARED if name in duck["notebooks"]]
    if not chosen:
        pytest.skip("none of the compared reports is part of this project")
    load_tables(
        postgres_url, {name: pd.read_parquet(sample_dir / f"{name}.parquet") for name in TABLES}
    )
    project = scratch_project(tmp_path / "project", sample_dir)
    only = [arg for name in chosen for arg in ("--only", name)]
    done, pg, run_dir = run_reports(project, *only, data_url=postgres_url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in chosen:
        assert pg["notebooks"][name]["status"] == "ok"
    found, _ = differences(pg, duck, chosen, COMPARED)
    assert not found, found
    assert postgres_url not in (run_dir / "run.log").read_text()
