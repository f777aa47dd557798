"""Shared fixtures: the sample shop (generated once) and its planted truth."""

from __future__ import annotations

import json
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
