"""The docs site builds with warnings as errors, and its generated pages and the README's
options table come from one source (cookiecutter.json + docs/options.yml)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import KIT, VENV, clean_env

CONTEXT = json.loads((KIT / "cookiecutter.json").read_text(encoding="utf-8"))
OPTIONS = [name for name in CONTEXT if not name.startswith("_")]


def docs(*args: str) -> subprocess.CompletedProcess[str]:
    python = VENV / "bin" / "python"
    python = python if python.exists() else Path(sys.executable)
    return subprocess.run(
        [str(python), str(KIT / "scripts" / "docs.py"), *args],
        cwd=KIT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_option_has_help_and_the_readme_table_is_generated_from_it():
    helps = yaml.safe_load((KIT / "docs" / "options.yml").read_text(encoding="utf-8"))
    assert set(helps) == set(OPTIONS), "docs/options.yml and cookiecutter.json list other options"
    done = docs("readme", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_site_builds_strictly_with_generated_options_contract_and_gallery(tmp_path):
    done = docs("build", "--site-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    options = (tmp_path / "generated" / "options" / "index.html").read_text(encoding="utf-8")
    for name in OPTIONS:
        assert f"<code>{name}</code>" in options, f"the options page lacks {name}"
    contract = (tmp_path / "generated" / "data-contract" / "index.html").read_text("utf-8")
    for table in ("customers", "orders", "sessions"):
        assert f"<code>{table}</code>" in contract
    gallery = {p.stem for p in (tmp_path / "generated" / "gallery").glob("*.html")} - {"index"}
    assert gallery == {p.stem for p in (KIT / "notebooks").glob("*.ipynb")}
    page = (tmp_path / "generated" / "gallery" / "churn.html").read_text(encoding="utf-8")
    assert "hl-ipython3" not in page, "gallery pages must not show code"
