"""Shape the freshly baked project to the answers given.

- remove the reports the PM did not ask for, everywhere they appear;
- write project values (package name, currency, titles) into the notebooks with nbformat
  (notebooks are copied without Jinja rendering, see design-decisions);
- optionally create a git repository with a first commit.

Self-contained on purpose: cookiecutter runs hooks from a temporary file.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

TEMPLATE_MODULE = "shop_insights"  # the package name the template notebooks are written with

# analysis -> files that exist only for it (paths relative to the project root)
ANALYSIS_FILES = {
    "weekly_business_review": [
        "notebooks/weekly_business_review.ipynb",
        "params/weekly_business_review.yaml",
        "src/{module}/weekly.py",
        "src/{module}/funnel.py",
        "src/{module}/retention.py",
        "src/{module}/acquisition.py",
        "src/{module}/operations.py",
        "src/{module}/drilldown.py",
        "src/{module}/customer_orders.py",
        "src/{module}/bgnbd.py",  # LTV; shared with churn
        "tests/test_weekly.py",
        "tests/test_weekly_notebook.py",
        "tests/test_weekly_sections.py",
        "tests/test_operations.py",
        "tests/test_customer_orders.py",
        "tests/test_bgnbd.py",
    ],
    "market_research": [
        "notebooks/market_research.ipynb",
        "params/market_research.yaml",
        "src/{module}/market.py",
        "src/{module}/market_page.py",
        "tests/test_market.py",
        "tests/test_market_page.py",
        "tests/test_market_research_notebook.py",
    ],
    "segmentation": [
        "notebooks/segmentation.ipynb",
        "params/segmentation.yaml",
        "src/{module}/segmentation.py",
        "src/{module}/segmentation_page.py",
        "tests/test_segmentation.py",
        "tests/test_segmentation_page.py",
        "tests/test_segmentation_notebook.py",
    ],
    "churn": [
        "notebooks/churn.ipynb",
        "params/churn.yaml",
        "src/{module}/churn.py",
        "src/{module}/churn_page.py",
        "src/{module}/bgnbd.py",  # shared with weekly_business_review
        "tests/test_churn.py",
        "tests/test_churn_page.py",
        "tests/test_bgnbd.py",
        "tests/test_churn_notebook.py",
        "tests/test_churn_decision.py",
        "tests/test_churn_scenarios.py",
        "tests/scenarios_churn.py",
    ],
    "post_launch_review": [
        "notebooks/post_launch_review.ipynb",
        "params/post_launch_review.yaml",
        "src/{module}/experiments.py",
        "src/{module}/post_launch.py",
        "src/{module}/post_launch_charts.py",
        "src/{module}/review_decision.py",
        "tests/scenarios_review.py",
        "tests/test_experiments_decision.py",
        "tests/test_experiments_scenarios.py",
        "tests/test_experiments_segments.py",
        "tests/test_experiments.py",
        "tests/test_post_launch_charts.py",
        "tests/test_post_launch_review_notebook.py",
        "tests/test_experiments_planted.py",
    ],
    "prioritisation": [
        "notebooks/prioritisation.ipynb",
        "params/prioritisation.yaml",
        "src/{module}/prioritisation.py",
        "src/{module}/backlog.py",
        "tests/test_prioritisation.py",
        "tests/test_prioritisation_notebook.py",
    ],
}

# Caches a developer's tools may leave inside the template; never part of a project.
STRAY_DIRS = ("__pycache__", ".ruff_cache", ".pytest_cache", ".ipynb_checkpoints")

# data backend -> files that exist only for it
BACKEND_FILES = {
    "spark": [
        "tests/spark_fixtures.py",
        "tests/test_spark.py",
        "tests/test_spark_reports.py",
    ],
}

SCHEDULE_FILES = {
    "github_actions": [".github/workflows/reports.yml"],
    "cron": ["schedule/crontab.txt"],
}


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def prune(root: Path, answers: dict) -> None:
    for stray in STRAY_DIRS:
        for folder in list(root.rglob(stray)):
            shutil.rmtree(folder, ignore_errors=True)
    module = answers["module_name"]
    # a file two analyses share (bgnbd.py) stays while either is chosen
    kept = {name for a, files in ANALYSIS_FILES.items() if answers[a] is True for name in files}
    for analysis, files in ANALYSIS_FILES.items():
        if answers[analysis] is not True:
            for name in files:
                if name not in kept:
                    remove(root / name.format(module=module))
    for choice, files in BACKEND_FILES.items():
        if answers["data_backend"] != choice:
            for name in files:
                remove(root / name)
    for choice, files in SCHEDULE_FILES.items():
        if answers["schedule"] != choice:
            for name in files:
                remove(root / name)


def write_license(root: Path, answers: dict) -> None:
    """LICENSE from the chosen text in licenses/ (rendered with the team and year); the
    folder itself is never part of the project."""
    texts = root / "licenses"
    chosen = texts / answers["license"]
    if chosen.is_file():
        shutil.move(str(chosen), str(root / "LICENSE"))
    shutil.rmtree(texts, ignore_errors=True)


def personalise_notebooks(root: Path, answers: dict) -> None:
    # jsonschema compiles the optional rfc3987-syntax grammar on import (~5 s when JupyterLab
    # brought it in); nbformat's schema never needs it, so keep it out of this short process.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        import nbformat
    except ImportError:  # cookiecutter without Jupyter: fall back to plain JSON, same result
        nbformat = None
    # the skeleton of `new` too: it imports the package, and ruff sorts imports by whether that
    # package is this project's own
    skeleton = root / "src" / answers["module_name"] / "templates" / "report.ipynb"
    for path in [*sorted((root / "notebooks").glob("*.ipynb")), skeleton]:
        if not path.is_file():
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code":
                text = re.sub(rf"\b{TEMPLATE_MODULE}\b", answers["module_name"], text)
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    text = re.sub(
                        r'^currency: str = "[A-Z]{3}"',
                        f"currency: str = {json.dumps(answers['currency'])}",
                        text,
                        flags=re.MULTILINE,
                    )
            cell["source"] = text
        if path != skeleton:  # `new` writes the skeleton's own metadata
            nb["metadata"].setdefault("shop_kit", {}).update(
                {"project": answers["project_name"], "team": answers["team"]}
            )
        if nbformat is not None:
            node = nbformat.from_dict(nb)
            nbformat.validate(node)
            nbformat.write(node, str(path))
        else:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def init_git(root: Path, answers: dict) -> None:
    if answers["init_git"] is not True:
        return
    if shutil.which("git") is None:
        print(
            "Note: git is not installed, so no repository was created. Install git and run "
            "'git init' in the project folder when you want version control."
        )
        return
    identity = []
    has_email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True)
    if not has_email.stdout.strip():
        identity = ["-c", f"user.name={answers['team']}", "-c", "user.email=reports@localhost"]
    steps = [
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", *identity, "commit", "-q", "-m", "Start from the shop analytics kit"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            print(
                f"Note: '{' '.join(step)}' failed ({done.stderr.strip()}); the project is "
                "complete, set up git by hand if you want it."
            )
            return


def next_steps(root: Path, answers: dict) -> str:
    """What to do now, printed after a successful bake (timings: README, "Bake your own")."""
    module = answers["module_name"]
    lines = [
        f"Created {root}. Next steps:",
        f"  cd {root.name}",
        "  make reports    # first time: installs .venv (a few minutes), then every report on",
        "                  # the sample shop; open reports/latest/index.html",
        "  make test       # the project's own tests",
        f"  python -m {module} import YOUR_EXPORT.csv --use   # your own orders;",
        "                  # then make validate (README: 'Plug in your own data')",
    ]
    if answers["init_git"] is True:
        lines.append(
            "  Baked with cruft? Add its record to the first commit: "
            "git add .cruft.json && git commit --amend --no-edit"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    project_root = Path.cwd()
    prune(project_root, ANSWERS)
    write_license(project_root, ANSWERS)
    personalise_notebooks(project_root, ANSWERS)
    init_git(project_root, ANSWERS)
    print(next_steps(project_root, ANSWERS))
    sys.exit(0)
