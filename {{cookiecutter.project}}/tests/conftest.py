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


@pytest.fixture(scope="session")
def report_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One full report run, as the scheduler does it, in a scratch copy of the project (the
    real reports/ is untouched). Returns (completed process, summary or None, latest folder)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copytree(ROOT / "params", project / "params")
    (project / "data").mkdir()
    (project / "data" / "sample").symlink_to(sample_dir)
    env = {**os.environ, "SHOP_PROJECT_ROOT": str(project)}
    env.pop("SHOP_DATA_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--jobs", "2"],
        cwd=project, env=env, capture_output=True, text=True, timeout=1800,
    )
    latest = project / "reports" / "latest"
    summary = json.loads((latest / "summary.json").read_text()) if latest.exists() else None
    return done, summary, latest
