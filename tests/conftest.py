"""Shared helpers for the kit tests: bake the template into temporary folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

KIT = Path(__file__).resolve().parents[1]
TEMPLATE = KIT / "{{cookiecutter.project}}"
ANALYSES = (
    "weekly_business_review",
    "market_research",
    "segmentation",
    "churn",
    "post_launch_review",
    "prioritisation",
)
VENV = Path(os.environ.get("KIT_VENV", KIT / ".venv")).absolute()
CONTEXT = json.loads((KIT / "cookiecutter.json").read_text(encoding="utf-8"))


@contextmanager
def baked(**answers: object) -> Iterator[Path]:
    """Bake the kit with these answers (no git) into a temporary folder, removed afterwards."""
    out = Path(tempfile.mkdtemp(prefix="kit-bake-"))
    try:
        answers.setdefault("init_git", False)
        path = cookiecutter(str(KIT), no_input=True, output_dir=str(out), extra_context=answers)
        yield Path(path)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def bake_cli(out: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Bake through the command line a PM would use, capturing what they would see."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(out),
            str(KIT),
            "init_git=no",
            *answers,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def make(
    project: Path,
    *targets: str,
    timeout: int = 1800,
    env: dict[str, str] | None = None,
    **variables: str,
) -> subprocess.CompletedProcess[str]:
    """Run the baked project's own Makefile the way a PM's first `make` does with uv on the PATH:
    the project installs its own `.venv` (`uv sync` to its uv.lock; the kit's virtualenv only
    lends uv), so nothing a kit test bakes is ever installed into the kit's virtualenv."""
    args = [f"{k}={v}" for k, v in variables.items()]
    path = {"PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), *targets, *args],
        env=clean_env(**path, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without make's own variables: a `make test ARGS=...` of the kit must not
    leak its ARGS into the baked project's make (make passes them down in MAKEFLAGS)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return {**env, **extra}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: bakes a project and runs its tools or reports (minutes); CI runs them, "
        "`make test ARGS='-m \"not slow\"'` skips them",
    )


@pytest.fixture
def bake():
    return baked
