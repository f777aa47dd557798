"""The baked project's own quality gate: its Makefile targets, tests and a real report run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ANALYSES, baked, clean_env, make

MAKE_TARGETS = {"help", "setup", "data", "reports", "prepare", "validate", "test", "lab"}


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-4000:] + "\n" + done.stderr[-4000:]


def latest_summary(project: Path) -> dict:
    return json.loads((project / "reports" / "latest" / "summary.json").read_text())


# The full project of this module is baked as a new user in another country would: a name of
# their own, euros, a git repository. It carries the checks of the first hour (pre-commit on the
# first commit, a report added with `new`, then the full `make test`, ruff on a project that has
# run) at no extra bake; the single-analysis projects below keep the defaults (USD).
FULL = {"project": "acme-reports", "currency": "eur", "init_git": True}
MODULE = "acme_reports"


def run(project: Path, *command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )


def tool(project: Path, name: str) -> Path:
    """A command of the project's own .venv (installed by `make setup` with uv)."""
    return project / ".venv" / "bin" / name


def git_status(project: Path) -> str:
    done = run(project, "git", "status", "--porcelain")
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def default_project():
    with baked(**FULL) as project:
        assert_ok(make(project, "setup"))  # uv sync to its uv.lock
        yield project


def test_pre_commit_is_installed_by_setup_and_clean_on_the_first_commit(default_project):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert git_status(default_project) == ""
    hooks = run(default_project, tool(default_project, "pre-commit"), "run", "--all-files")
    assert hooks.returncode == 0, hooks.stdout[-4000:] + hooks.stderr[-2000:]
    assert git_status(default_project) == "", "pre-commit rewrote files of the first commit"


def test_make_help_lists_every_target_with_its_description(default_project):
    done = make(default_project)  # help is the default goal
    assert_ok(done)
    listed = set(re.findall(r"make (\w+)", done.stdout))
    makefile = (default_project / "Makefile").read_text()
    declared = set(re.findall(r"^([a-z]+):.*## ", makefile, re.MULTILINE))
    assert listed == declared == MAKE_TARGETS


def test_make_data_then_validate_passes(default_project):
    assert_ok(make(default_project, "data"))  # the default size: the planted-truth tests need it
    assert (default_project / "data/sample/truth.json").is_file()
    done = make(default_project, "validate")
    assert_ok(done)


def test_a_new_report_then_make_test_passes_in_the_baked_project(default_project):
    created = run(
        default_project, tool(default_project, "python"), "-m", MODULE, "new", "weekly_kpis"
    )
    assert_ok(created)
    skeleton = (default_project / "notebooks/weekly_kpis.ipynb").read_text()
    assert 'currency: str = \\"EUR\\"' in skeleton and "from acme_reports import" in skeleton
    assert_ok(make(default_project, "test", ARGS="-q -p no:cacheprovider"))


def test_make_reports_writes_every_report_and_points_latest_at_it(default_project):
    assert_ok(make(default_project, "reports"))
    summary = latest_summary(default_project)
    assert set(summary["notebooks"]) == {*ANALYSES, "weekly_kpis"}
    kpis = summary["notebooks"]["weekly_kpis"]["metrics"]["revenue"]
    assert kpis["label"] == "Revenue in the window" and kpis["kind"] == "money"
    index = (default_project / "reports/latest/index.html").read_text()
    assert "Revenue in the window: <strong>€" in index  # named and written as the notebook says
    assert all(r["status"] == "ok" for r in summary["notebooks"].values())
    latest = default_project / "reports" / "latest"
    for name in ANALYSES:
        executed = json.loads((latest / f"{name}.ipynb").read_text())
        errors = [
            o
            for c in executed["cells"]
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert errors == [], name
        assert (latest / f"{name}.html").stat().st_size > 10_000
    assert (default_project / "reports" / "index.html").is_file()


def test_the_project_is_ruff_clean_after_runs_and_a_new_report(default_project):
    for command in (["check", "."], ["format", "--check", "."]):
        linted = run(default_project, tool(default_project, "ruff"), *command)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    hooks = run(default_project, tool(default_project, "pre-commit"), "run", "--all-files")
    assert hooks.returncode == 0, hooks.stdout[-4000:]  # the new notebook passes the hooks too


def test_make_lab_starts_jupyterlab(default_project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # --allow-root: CI runs as root, which JupyterLab refuses by default
    args = f"--no-browser --allow-root --port={port} --ip=127.0.0.1 --IdentityProvider.token=kit"
    process = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(default_project),
            "lab",
            f"LAB_ARGS={args}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=clean_env(JUPYTER_RUNTIME_DIR=str(default_project / ".jupyter-runtime")),
    )
    seen = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and f":{port}/lab" not in seen:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            seen += line
        assert f"127.0.0.1:{port}/lab" in seen, seen[-2000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("only", ANALYSES)
def test_a_single_analysis_project_tests_and_reports(only):
    answers = {name: name == only for name in ANALYSES}
    with baked(**answers) as project:
        # in its own .venv, installed by uv from the project's uv.lock (the kit's virtualenv only
        # lends uv). What the option changes runs here: the tests the bake kept for its one report
        # and the shared layers, its notebook, and the runner over it (test_reports.py). What it
        # does not change ran in the full project above and is left out: slow statistics, the
        # browser and PostgreSQL checks, and the runner's own mechanics (kills, timeouts, locks).
        args = (
            '-q -rA -p no:cacheprovider -m "not slow and not browser and not postgres" '
            "--ignore=tests/test_runner.py"
        )
        tested = make(project, "test", ARGS=args)
        assert_ok(tested)
        assert "uv sync" in tested.stdout and (project / ".venv" / "bin" / "python").exists()
        # its own test_reports ran the runner over the one report (`make reports` itself is run
        # on the default project above; a second run here would only repeat it)
        assert "PASSED tests/test_reports.py::test_every_report_runs_ok" in tested.stdout


def test_a_spark_backed_project_passes_its_whole_make_test_with_spark_for_real():
    """data_backend=spark: the project's whole `make test` passes, its Spark tests run (never
    skipped) on a local Spark session and a Spark Connect server, every report compared with
    DuckDB (SHOP_REQUIRE_SPARK=1 turns a missing Java or pyspark into a failure). Its own .venv
    with the spark extra, installed by uv from the one uv.lock, keeps pyspark out of the kit's
    virtualenv."""
    with baked(data_backend="spark") as project:
        done = make(
            project,
            "test",
            timeout=2700,
            ARGS="-q -p no:cacheprovider -rA",
            env={"SHOP_REQUIRE_SPARK": "1"},
        )
        assert_ok(done)
        assert "--extra spark" in done.stdout
        spark_tests = sorted(p.name for p in (project / "tests").glob("test_spark*.py"))
        assert spark_tests, "a Spark bake has Spark tests"
        for name in spark_tests:
            assert f"PASSED tests/{name}::" in done.stdout, (name, done.stdout[-3000:])
        skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
        assert not [line for line in skipped if "spark" in line.lower()], skipped
