"""The baked project installs and runs its reports on every supported Python found here
(3.11 runs in every other test; 3.12 and 3.13 here, each in a virtualenv of its own)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import baked, clean_env


def interpreter(version: str) -> str | None:
    """A Python of that version that really runs (a pyenv shim may exist for an inactive one)."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{version}*/bin/python3"))
    for candidate in filter(None, candidates):
        ran = subprocess.run([candidate, "-c", "import sys; print(sys.version[:4])"],
                             capture_output=True, text=True)  # fmt: skip
        if ran.returncode == 0 and ran.stdout.strip() == version:
            return candidate
    return None


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_a_bake_sets_up_and_runs_every_report_on(version, tmp_path):
    python = interpreter(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed on this machine")
    with baked() as project:
        venv = tmp_path / "venv"
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(project), "reports",
             f"PYTHON={python}", f"VENV={venv}"],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=1800,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        used = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version[:4])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert used == version
        summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())
        assert {r["status"] for r in summary["notebooks"].values()} == {"ok"}
