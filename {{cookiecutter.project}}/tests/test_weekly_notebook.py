"""The weekly review notebook, run the way the runner runs it (papermill): on the sample's last
complete week it is on track; on the week of the planted mobile drop it raises the alert and
names the funnel step that fell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import execute_notebook, scratch_project

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "weekly_business_review.ipynb"

pytestmark = [
    pytest.mark.slow,  # each run starts a kernel
    pytest.mark.skipif(not NOTEBOOK.is_file(), reason="no weekly review in this project"),
]


@pytest.fixture(scope="module")
def project(sample_dir, tmp_path_factory) -> Path:
    return scratch_project(tmp_path_factory.mktemp("weekly_project"), sample_dir)


def test_the_last_week_is_on_track_and_the_mobile_drop_week_alerts(project, truth):
    found = execute_notebook(NOTEBOOK.stem, project, project / "default.ipynb")
    assert found["decision"]["rule"] == "WBR-4"
    assert found["unusual_kpis"]["value"] == 0
    assert found["wbr_revenue"]["kind"] == "money"
    assert found["wbr_lowest_ltv_cac"]["value"] > 1  # the sample's channels pay for themselves
    assert 0 < found["wbr_repeat_rate"]["value"] < 1 and found["wbr_new_customers"]["value"] > 0
    drop = truth["weekly_review"]["mobile_drop"]
    sunday = (pd.Timestamp(drop["week"]) + pd.Timedelta(days=6)).date().isoformat()
    alerted = execute_notebook(NOTEBOOK.stem, project, project / "drop.ipynb", as_of=sunday)
    assert alerted["decision"]["rule"] == "WBR-2"
    assert "Mobile conversion fell" in alerted["decision"]["reason"]
    assert f"Mobile: {drop['step']} fell" in alerted["decision"]["reason"]
    assert alerted["unusual_kpis"]["value"] >= 1
    page = (project / "drop.ipynb").read_text(encoding="utf-8")
    assert "By device: conversion went from" in page and "mobile moved it most" in page
    assert "on the same week last year" in page and "Same week last year" in page
