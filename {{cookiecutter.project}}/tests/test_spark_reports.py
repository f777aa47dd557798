"""Every report on a real Spark gives the same headline values as on DuckDB.

The reports run as a scheduler runs them (the runner, two at a time), against a Spark Connect
server on 127.0.0.1 (the way to a cluster: each notebook kernel is a thin client) reading the
sample shop's Parquet files. Every report the project has is run and every headline value the
DuckDB run recorded is compared (floats within the tolerance of the PostgreSQL comparison,
``headlines.REL_TOL``), so a report added later is covered without a change here.
"""

from __future__ import annotations

import pytest
from conftest import run_reports, scratch_project
from headlines import differences

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_every_report_on_spark_connect_matches_duckdb(
    spark_connect_url, sample_dir, report_run, tmp_path
):
    _, duck, _ = report_run
    reports = list(duck["notebooks"])
    assert reports and all(duck["notebooks"][n]["status"] == "ok" for n in reports), duck
    project = scratch_project(tmp_path / "project", sample_dir)
    url = f"{spark_connect_url}?parquet={sample_dir}"
    done, on_spark, run_dir = run_reports(project, data_url=url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert list(on_spark["notebooks"]) == reports
    failed = {n: r for n, r in on_spark["notebooks"].items() if r["status"] != "ok"}
    assert not failed, failed
    found, compared = differences(on_spark, duck, reports)
    print(f"{compared} headline values of {len(reports)} reports compared with DuckDB's")
    assert compared > 0
    assert not found, "\n".join(found)
