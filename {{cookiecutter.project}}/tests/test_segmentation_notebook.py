"""The segmentation report end to end: papermill runs the notebook on the sample shop, with k
chosen automatically and with k fixed, and the recorded values recover the planted customer
types (the generator's truth file, independent of the clustering code)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import execute_notebook, scratch_project

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "segmentation.ipynb"
EXPORT = Path("data") / "exports" / "segment_membership.parquet"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not NOTEBOOK.is_file(), reason="segmentation report not in this project"),
]


def execute(sample_dir: Path, workdir: Path, **parameters) -> tuple[dict, Path]:
    """Run the notebook in a scratch copy of the project; its recorded metrics and root."""
    project = scratch_project(workdir / "project", sample_dir)
    return execute_notebook("segmentation", project, workdir / "out.ipynb", **parameters), project


@pytest.fixture(scope="module")
def auto_run(sample_dir, tmp_path_factory):
    return execute(sample_dir, tmp_path_factory.mktemp("auto"))


@pytest.fixture(scope="module")
def fixed_run(sample_dir, tmp_path_factory):
    return execute(sample_dir, tmp_path_factory.mktemp("fixed"), n_clusters=3)


def test_auto_k_finds_the_four_planted_customer_types(auto_run, truth):
    metrics, _ = auto_run
    assert metrics["k"] == len(truth["customer_types"]["names"]) == 4
    assert metrics["ari_vs_truth"] >= 0.8
    assert 0.25 < metrics["silhouette"] <= 1


def test_every_customer_is_counted_once_in_the_rfm_segments(auto_run, truth):
    metrics, _ = auto_run
    assert metrics["n_customers"] == truth["customers_requested"]
    assert sum(s["customers_share"] for s in metrics["segments"]) == pytest.approx(1)
    assert sum(s["revenue_share"] for s in metrics["segments"]) == pytest.approx(1)
    named = {s["name"] for s in metrics["segments"]}
    assert {"Champions", "Lapsed"} <= named
    # Everyone silent past the shop's lapse threshold (112 days on the sample) is Lapsed, so
    # the map's long-silent cells (At risk ... Lost, all beyond 130 days here) stay empty.
    assert metrics["lapsed_after_days"] == 112
    assert not named & {"At risk", "Can't lose them", "Hibernating", "Lost"}


def test_the_decision_is_recorded_from_the_package_table(auto_run):
    metrics, _ = auto_run
    decision = metrics["decision"]
    assert (decision["verdict"], decision["rule"]) == ("win_back", "SEG-3")
    assert "customer_actions.csv" in decision["next_step"]


def test_fixed_k_gives_that_many_named_groups(fixed_run):
    metrics, _ = fixed_run
    assert metrics["k"] == 3
    names = [c["name"] for c in metrics["clusters"]]
    assert len(names) == len(set(names)) == 3
    assert math.isfinite(metrics["silhouette"])
    # Three groups cannot match four planted types as well as four groups do.
    assert metrics["ari_vs_truth"] < 0.8


def test_membership_export_lists_every_customer_and_nothing_else(auto_run):
    metrics, project = auto_run
    exported = pd.read_parquet(project / EXPORT)
    assert list(exported.columns) == ["customer_id", "rfm_segment", "cluster", "expected_value"]
    assert len(exported) == exported["customer_id"].nunique() == metrics["n_customers"]
    grouped = exported["cluster"].value_counts(normalize=True)
    for cluster in metrics["clusters"]:
        assert grouped[cluster["name"]] == pytest.approx(cluster["customers_share"])


def test_shared_outputs_name_no_customer(auto_run):
    _, project = auto_run
    executed = (project.parent / "out.ipynb").read_text(encoding="utf-8")
    some_ids = pd.read_parquet(project / EXPORT)["customer_id"].sample(200, random_state=0)
    assert not [customer for customer in some_ids if customer in executed]
