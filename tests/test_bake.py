"""Baking the template: options, file sets, hooks, hostile input, cruft."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import ANALYSES, KIT, bake_cli, baked

# Files every project has, whatever the answers (relative paths, `shop_insights` = module).
CORE_FILES = {
    ".gitignore",
    ".pre-commit-config.yaml",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "uv.lock",
    "data/raw/.gitkeep",
    "reports/.gitkeep",
    "params/defaults.yaml",
    "params/alerts.yaml",
    "params/import.yaml",
    "schedule/airflow_dag.py",
    "src/shop_insights/__init__.py",
    "src/shop_insights/__main__.py",
    "src/shop_insights/_project.py",
    "src/shop_insights/cli.py",
    "src/shop_insights/config.py",
    "src/shop_insights/contract.py",
    "src/shop_insights/data.py",
    "src/shop_insights/importers.py",
    "src/shop_insights/plots.py",
    "src/shop_insights/report.py",
    "src/shop_insights/runner.py",
    "src/shop_insights/sample.py",
}
ANALYSIS_FILES = {
    "weekly_business_review": {
        "notebooks/weekly_business_review.ipynb",
        "params/weekly_business_review.yaml",
        "src/shop_insights/weekly.py",
        "src/shop_insights/funnel.py",
        "src/shop_insights/retention.py",
        "src/shop_insights/acquisition.py",
        "src/shop_insights/operations.py",
        "src/shop_insights/bgnbd.py",
        "tests/test_weekly.py",
        "tests/test_weekly_notebook.py",
        "tests/test_weekly_sections.py",
        "tests/test_operations.py",
        "tests/test_bgnbd.py",
    },
    "market_research": {
        "notebooks/market_research.ipynb",
        "params/market_research.yaml",
        "src/shop_insights/market.py",
        "src/shop_insights/market_page.py",
        "tests/test_market.py",
        "tests/test_market_page.py",
        "tests/test_market_research_notebook.py",
    },
    "segmentation": {
        "notebooks/segmentation.ipynb",
        "params/segmentation.yaml",
        "src/shop_insights/segmentation.py",
        "tests/test_segmentation.py",
        "tests/test_segmentation_notebook.py",
    },
    "churn": {
        "notebooks/churn.ipynb",
        "params/churn.yaml",
        "src/shop_insights/churn.py",
        "src/shop_insights/churn_page.py",
        "src/shop_insights/bgnbd.py",
        "tests/test_churn.py",
        "tests/test_churn_page.py",
        "tests/test_bgnbd.py",
        "tests/test_churn_notebook.py",
        "tests/test_churn_decision.py",
        "tests/test_churn_scenarios.py",
        "tests/scenarios_churn.py",
    },
    "post_launch_review": {
        "notebooks/post_launch_review.ipynb",
        "params/post_launch_review.yaml",
        "src/shop_insights/experiments.py",
        "src/shop_insights/post_launch.py",
        "src/shop_insights/review_decision.py",
        "tests/scenarios_review.py",
        "tests/test_experiments_decision.py",
        "tests/test_experiments_scenarios.py",
        "tests/test_experiments_segments.py",
        "tests/test_experiments.py",
        "tests/test_post_launch_review_notebook.py",
        "tests/test_experiments_planted.py",
    },
    "prioritisation": {
        "notebooks/prioritisation.ipynb",
        "params/prioritisation.yaml",
        "src/shop_insights/prioritisation.py",
        "src/shop_insights/backlog.py",
        "tests/test_prioritisation.py",
        "tests/test_prioritisation_notebook.py",
    },
}
SCHEDULE_FILES = {
    "github_actions": {".github/workflows/reports.yml"},
    "cron": {"schedule/crontab.txt"},
    "none": set(),
}


def files_of(project: Path) -> set[str]:
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def template_only(project: Path) -> set[str]:
    """Files of the template that are not tied to one analysis or schedule (core + shared)."""
    everything = files_of(project)
    tied = set().union(*ANALYSIS_FILES.values(), *SCHEDULE_FILES.values())
    return everything - tied


@pytest.mark.parametrize(
    "chosen",
    [(name,) for name in ANALYSES] + [ANALYSES],
    ids=lambda chosen: "only " + chosen[0] if len(chosen) == 1 else "all analyses",
)
def test_each_analysis_alone_and_all_together_give_exactly_their_files(chosen):
    answers = {name: name in chosen for name in ANALYSES}
    with baked(**answers) as project:
        found = files_of(project)
        expected_tied = set().union(*(ANALYSIS_FILES[name] for name in chosen))
        expected_tied |= SCHEDULE_FILES["github_actions"]
        assert found >= CORE_FILES, f"missing core files: {sorted(CORE_FILES - found)}"
        for name in ANALYSES:
            present = ANALYSIS_FILES[name] & found
            if name in chosen:
                assert present == ANALYSIS_FILES[name]
            else:  # a file shared with a chosen analysis (bgnbd.py) stays
                present -= expected_tied
                assert not present, f"{name} was not chosen but {sorted(present)} remain"
        assert expected_tied <= found


def test_the_file_set_is_exactly_the_template_for_the_default_answers():
    with baked() as project:
        template = {
            p.relative_to(KIT / "{{cookiecutter.project}}")
            .as_posix()
            .replace("{{cookiecutter.module_name}}", "shop_insights")
            for p in (KIT / "{{cookiecutter.project}}").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        template -= SCHEDULE_FILES["cron"]
        template -= SPARK_FILES  # only a data_backend=spark bake has them
        # the chosen licence text becomes LICENSE; the folder of texts never ships
        template = {f for f in template if not f.startswith("licenses/")} | {"LICENSE"}
        assert files_of(project) == template


SPARK_FILES = {"tests/spark_fixtures.py", "tests/test_spark.py", "tests/test_spark_reports.py"}
UV = Path(sys.executable).with_name("uv")


@pytest.mark.parametrize("project", ["shop-insights", "acme-reports"])
def test_the_stored_lock_matches_the_pyproject_of_a_bake(project):
    # `uv sync` in a baked project installs exactly uv.lock; a dependency changed in the
    # template's pyproject.toml without `python scripts/lock.py` would make it re-resolve
    with baked(project=project) as baked_project:
        check = subprocess.run(
            [str(UV), "lock", "--check", "--offline"],
            cwd=baked_project,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, f"run `python scripts/lock.py`: {check.stderr}"
        assert f'name = "{project}"' in (baked_project / "uv.lock").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "license, first_line, spdx",
    [
        ("proprietary", "Copyright (c)", "LicenseRef-Proprietary"),
        ("MIT", "MIT License", "MIT"),
        ("BSD-3-Clause", "BSD 3-Clause License", "BSD-3-Clause"),
        ("Apache-2.0", "Apache License", "Apache-2.0"),
        ("none", None, None),
    ],
)
def test_the_license_answer_writes_the_file_and_the_pyproject_field(license, first_line, spdx):
    import datetime as dt
    import tomllib

    with baked(license=license, team="Acme Analytics") as project:
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        assert pyproject["project"].get("license") == spdx
        assert not (project / "licenses").exists()
        if first_line is None:
            assert not (project / "LICENSE").exists()
            return
        text = (project / "LICENSE").read_text(encoding="utf-8")
        assert text.strip().startswith(first_line)
        if license != "Apache-2.0":  # Apache's appendix keeps its own placeholder
            assert f"{dt.date.today().year}" in text and "Acme Analytics" in text


@pytest.mark.parametrize("schedule", ["github_actions", "cron", "none"])
@pytest.mark.parametrize("backend", ["duckdb", "postgres", "spark", "other"])
def test_backend_and_schedule_choices(backend, schedule):
    with baked(data_backend=backend, schedule=schedule) as project:
        found = files_of(project)
        for choice, files in SCHEDULE_FILES.items():
            assert (files <= found) if choice == schedule else not (files & found)
        readme = (project / "README.md").read_text(encoding="utf-8")
        makefile = (project / "Makefile").read_text(encoding="utf-8")
        spark_files = SPARK_FILES
        if backend == "spark":
            assert "sc://" in readme and "Databricks" in readme
            assert "EXTRAS := dev,lab,spark\n" in makefile and spark_files <= found
        else:  # pyspark stays an uninstalled extra; no Spark tests for the other engines
            assert "EXTRAS := dev,lab\n" in makefile and not (spark_files & found)
        if backend == "postgres":
            assert "postgres://" in readme
        elif backend == "other":
            assert "bigquery://" in readme
        else:
            assert "data_dir: data/raw" in readme
        if schedule == "github_actions":
            workflow = yaml.safe_load((project / ".github/workflows/reports.yml").read_text())
            triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
            assert triggers["schedule"][0]["cron"] == "0 6 * * 1"
            assert "workflow_dispatch" in triggers
            assert "${{ secrets.SHOP_DATA_URL }}" in json.dumps(workflow)


def test_no_analysis_is_rejected_with_one_clear_line_and_no_folder(tmp_path):
    done = bake_cli(tmp_path, *(f"{name}=no" for name in ANALYSES))
    assert done.returncode != 0
    assert "No report selected" in done.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project=Shop Insights!", "folder name 'Shop Insights!' is not usable"),
        ("project=1shop", "folder name '1shop' is not usable"),
        ("currency=XYZ", "is not a 3-letter ISO 4217 code"),
        ("currency=us dollars", "is not a 3-letter ISO 4217 code"),
        ("module_name=class", "not a valid Python name"),
        ("module_name=pandas", "would hide the Python module"),
        ("module_name=json", "would hide the Python module"),
        ("module_name=my-module", "not a valid Python name"),
    ],
)
def test_bad_answers_are_rejected_with_one_clear_line_and_no_folder(tmp_path, answer, message):
    done = bake_cli(tmp_path, answer)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # the other answers are kept, with the command that bakes with them once corrected
    assert "Nothing was created. Your answers are kept in " in done.stdout
    assert "cookiecutter --replay-file " in done.stdout
    assert not any(tmp_path.iterdir()), "a rejected bake must leave nothing behind"


def test_no_template_syntax_is_left_outside_notebooks():
    with baked(data_backend="postgres", schedule="cron") as project:
        leftovers = []
        for path in project.rglob("*"):
            if path.is_file() and path.suffix != ".ipynb":
                text = path.read_text(encoding="utf-8")
                if "{{ cookiecutter" in text or "{%" in text or "cookiecutter." in text:
                    leftovers.append(path.relative_to(project).as_posix())
        assert leftovers == []


def test_notebooks_are_valid_clean_and_personalised():
    with baked(project="acme-reports", currency="EUR") as project:
        notebooks = sorted((project / "notebooks").glob("*.ipynb"))
        assert len(notebooks) == len(ANALYSES)
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
            assert nb.metadata.kernelspec.name == "python3"
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert all(not c.get("outputs") and c.execution_count is None for c in code)
            params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
            assert len(params) == 1, f"{path.name} needs exactly one parameters cell"
            assert 'currency: str = "EUR"' in params[0].source
            source = "\n".join(c.source for c in code)
            assert "acme_reports" in source and "shop_insights" not in source


def test_baked_project_is_ruff_clean():
    with baked(data_backend="postgres", schedule="cron") as project:
        ruff = [sys.executable, "-m", "ruff"]
        check = subprocess.run([*ruff, "check", "."], cwd=project, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        fmt = subprocess.run(
            [*ruff, "format", "--check", "."], cwd=project, capture_output=True, text=True
        )
        assert fmt.returncode == 0, fmt.stdout + fmt.stderr


HOSTILE_NAMES = [
    'Quote " and \' and """ triple',
    "New\nline",
    "Ünïcødé 数据 🚀",
    "__import__('os').system('touch /tmp/kit-pwned')",
    "back\\slash\\",
]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_are_treated_as_data(hostile):
    marker = Path("/tmp/kit-pwned")
    marker.unlink(missing_ok=True)
    with baked(project_name=hostile, team=hostile) as project:
        assert not marker.exists()
        namespace: dict = {}
        exec(
            compile((project / "src/shop_insights/_project.py").read_text(), "_project", "exec"),
            namespace,
        )
        assert namespace["PROJECT_NAME"] == hostile and namespace["TEAM"] == hostile
        ast.parse((project / "src/shop_insights/__init__.py").read_text())
        for path in (project / "notebooks").glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata.shop_kit.project == hostile


def test_git_repository_with_first_commit_when_asked():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    with baked(init_git=True) as project:
        log = subprocess.run(
            ["git", "log", "--oneline"], cwd=project, capture_output=True, text=True
        )
        assert log.returncode == 0 and "Start from the shop analytics kit" in log.stdout
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
        )
        assert status.stdout == "", "everything baked should be committed"


# cruft: create -> commit -> update round trip in test_first_hour.py
