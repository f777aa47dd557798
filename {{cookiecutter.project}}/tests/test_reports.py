"""The real execution path: the runner executes every notebook with papermill on the sample
shop, and the recorded headline values recover what the generator planted."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def run(report_run):
    return report_run


def test_every_report_runs_ok(run):
    done, summary, _ = run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert set(summary["notebooks"]) == set(NOTEBOOKS)
    for name, result in summary["notebooks"].items():
        assert result["status"] == "ok", (name, result.get("error"))


def test_summary_has_the_documented_shape(run):
    _, summary, latest = run
    assert {"run_id", "started_at", "finished_at", "params", "notebooks"} <= set(summary)
    for name in NOTEBOOKS:
        assert (latest / f"{name}.ipynb").is_file() and (latest / f"{name}.html").is_file()
        assert summary["notebooks"][name]["metrics"], f"{name} recorded no headline values"
    assert (latest / "run.log").is_file()


def test_every_number_and_text_a_report_records_has_a_plain_words_label(run):
    from {{ cookiecutter.module_name }} import index, report

    _, summary, _ = run
    unlabelled = [
        f"{name}.{metric}"
        for name, result in summary["notebooks"].items()
        for metric, value in result["metrics"].items()
        if metric not in report.HEADLINES
        and report.headline(metric, value).label == metric  # nor labelled by the notebook
        and isinstance(report.headline_value(value), int | float | str)  # shown on the pages
        and not isinstance(report.headline_value(value), bool)
    ]
    assert not unlabelled, f"label these (report.record(..., label=, kind=)): {unlabelled}"
    assert {h.kind for h in report.HEADLINES.values()} <= set(index.HEADLINE_FORMATS)


def metrics(run, notebook: str) -> dict:
    _, summary, _ = run
    if notebook not in summary["notebooks"]:
        pytest.skip(f"the {notebook} report is not part of this project")
    return summary["notebooks"][notebook]["metrics"]


def test_segmentation_recovers_the_planted_customer_types(run):
    found = metrics(run, "segmentation")
    assert found["k"] == 4
    assert found["ari_vs_truth"] >= 0.8


def test_churn_model_beats_the_recency_baseline(run):
    found = metrics(run, "churn")
    assert 0 < found["churn_rate"] < 1
    assert found["auc_roc"] > found["baseline_auc_recency"]
    assert found["auc_roc"] > 0.7


def test_post_launch_review_covers_the_planted_lift(run, truth):
    found = metrics(run, "post_launch_review")
    assert found["srm_p"] > 0.001
    conversion = next(m for m in found["metrics"] if m["name"] == "conversion")
    planted = truth["experiment"]["conversion"]["abs_lift"]
    assert conversion["ci_low"] <= planted <= conversion["ci_high"]
    _, summary, _ = run
    assert summary["notebooks"]["post_launch_review"]["verdict"] in {"ship", "keep_running"}


def test_market_research_recovers_nps_price_points_and_index(run, truth):
    found = metrics(run, "market_research")
    planted_nps = truth["survey"]["nps"]["value"]
    assert found["nps"]["ci_low"] <= planted_nps <= found["nps"]["ci_high"]
    planted_vw = truth["survey"]["van_westendorp"]
    assert found["van_westendorp"]["dropped"] == planted_vw["dropped"]
    for point in ("opp", "idp", "pmc", "pme"):
        assert found["van_westendorp"][point] == pytest.approx(
            planted_vw["original"][point], rel=0.05
        )
    assert found["price_index"]["median"] == pytest.approx(truth["price_index"]["median"], abs=2)


def test_shared_pages_hold_no_customer_records(run, sample_dir):
    """Stakeholder HTML holds aggregates: no customer id or email from the data appears."""
    _, _, latest = run
    ids = set(
        pd.read_parquet(sample_dir / "customers.parquet", columns=["customer_id"])["customer_id"]
    )
    for page in latest.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        found = {token for token in re.findall(r"\bc\d{6,}\b", text) if token in ids}
        assert not found, f"{page.name} shows customer ids, e.g. {sorted(found)[:3]}"
        assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text), f"{page.name} shows an email"
