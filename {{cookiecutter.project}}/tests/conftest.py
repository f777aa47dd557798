"""Shared fixtures: the sample shop (generated once) and its planted truth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pg import postgres_url  # noqa: F401  (a session fixture: one throwaway server per run)
{%- if cookiecutter.data_backend == "spark" %}
from spark_fixtures import spark_connect_url, spark_url  # noqa: F401  (one JVM each per run)
{%- endif %}

from {{ cookiecutter.module_name }} import sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CUSTOMERS = 10_000


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """data/sample, as `make data` writes it; generated here when missing."""
    folder = ROOT / "data" / "sample"
    if not (folder / "truth.json").is_file():
        sample.write_sample(folder, customers=SAMPLE_CUSTOMERS, seed=42)
    return folder


@pytest.fixture(scope="session")
def truth(sample_dir: Path) -> dict:
    """Every value the sample generator planted."""
    return json.loads((sample_dir / "truth.json").read_text(encoding="utf-8"))


def scratch_project(folder: Path, sample_dir: Path) -> Path:
    """A copy of the project's notebooks and params reading the sample shop, so test runs
    never touch the real reports/ folder."""
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    shutil.copytree(ROOT / "params", folder / "params")
    (folder / "data").mkdir()
    (folder / "data" / "sample").symlink_to(sample_dir)
    return folder


def execute_notebook(name: str, project: Path, out: Path, **parameters) -> dict:
    """Run one report notebook with papermill in a scratch project; return what it recorded."""
    import papermill

    metrics = out.with_suffix(".metrics.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOP_PROJECT_ROOT", str(project))
        patch.setenv("SHOP_REPORT_METRICS", str(metrics))
        patch.delenv("SHOP_DATA_URL", raising=False)
        # the kernel imports the package from src/ also when it is not installed
        paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
        papermill.execute_notebook(
            str(project / "notebooks" / f"{name}.ipynb"),
            str(out),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(project / "notebooks"),
            progress_bar=False,
        )
    return json.loads(metrics.read_text(encoding="utf-8"))


def run_reports(project: Path, *args: str, data_url: str | None = None):
    """Run the runner as a scheduler does; returns (completed process, summary or None, latest)."""
    env = {**os.environ, "SHOP_PROJECT_ROOT": str(project)}
    env.pop("SHOP_DATA_URL", None)
    if data_url:
        env["SHOP_DATA_URL"] = data_url
    done = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--jobs", "2", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    # a partial (--only) run is never published as latest: read the run's own folder then
    latest = project / "reports" / "latest"
    runs = sorted(p for p in (project / "reports").glob("20*") if (p / "summary.json").is_file())
    if not ("--only" in args or "-p" in args) and latest.exists():
        folder = latest
    else:
        folder = runs[-1] if runs else latest
    summary = json.loads((folder / "summary.json").read_text()) if folder.exists() else None
    return done, summary, folder


@pytest.fixture(scope="session")
def report_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One full report run on the sample shop (DuckDB), shared by the report tests."""
    project = scratch_project(tmp_path_factory.mktemp("project"), sample_dir)
    return run_reports(project)
