"""The prioritisation notebook, run the way the runner runs it (papermill): the sample backlog
recovers the planted truths; an empty backlog, a short launch history and a broken backlog each
end the way docs/decisions.md says."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
import yaml
from conftest import execute_notebook, scratch_project

from {{ cookiecutter.module_name }} import backlog

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "prioritisation.ipynb"

pytestmark = [
    pytest.mark.slow,  # each run starts a kernel
    pytest.mark.skipif(not NOTEBOOK.is_file(), reason="no prioritisation report in this project"),
]


@pytest.fixture(scope="module")
def project(sample_dir, tmp_path_factory) -> Path:
    return scratch_project(tmp_path_factory.mktemp("prioritisation_project"), sample_dir)


def run(project: Path, name: str, **parameters) -> dict:
    own = yaml.safe_load((project / "params" / "prioritisation.yaml").read_text("utf-8"))
    return execute_notebook(
        NOTEBOOK.stem, project, project / f"{name}.ipynb", **{**own, **parameters}
    )


def test_the_sample_backlog_recovers_the_planted_truths(project, truth):
    planted = truth["prioritisation"]
    found = run(project, "default")
    decision = found["decision"]
    assert found["backlog_items"] == 10
    assert found["launches_in_log"] == planted["launches"]
    assert found["impact_shrinkage"] == pytest.approx(planted["launch_ratio_median"], rel=1e-9)
    assert found["leader_p_first"] > 0.6
    assert decision["rule"] in {"PR-3", "PR-4"}
    assert planted["leader_with_data_reach"] in decision["reason"]
    assert "reaches the top 3 only because of it" in decision["reason"]
    assert 0 < found["now_effort_weeks"] <= 20


def test_a_short_history_and_an_empty_backlog(project, tmp_path):
    few = run(project, "few", min_launches=50)
    assert few["impact_shrinkage"] == 1.0
    assert "too few to calibrate" in few["decision"]["reason"]
    empty = project / "empty_backlog.csv"
    empty.write_text(",".join(backlog.REQUIRED_COLUMNS) + "\n", encoding="utf-8")
    nothing = run(project, "empty", backlog=str(empty))
    assert (nothing["decision"]["rule"], nothing["backlog_items"]) == ("PR-1", 0)


def test_a_broken_backlog_stops_with_the_row_and_field(project):
    broken = project / "broken_backlog.csv"
    header = ",".join(backlog.REQUIRED_COLUMNS)
    broken.write_text(header + "\nSearch,feature,100,1,2,3,0.5,0.6,0.7,1,2,3\n", encoding="utf-8")
    with pytest.raises(papermill.PapermillExecutionError, match=r"line 2 \(Search\), type"):
        run(project, "broken", backlog=str(broken))
