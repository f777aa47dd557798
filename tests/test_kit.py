"""The kit's own promises: its Makefile targets work and its README says what they do."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml
from conftest import KIT, TEMPLATE, VENV, clean_env

README = (KIT / "README.md").read_text(encoding="utf-8")


def kit_make(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(KIT), *args, f"VENV={VENV}"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_make_help_lists_every_target_and_the_readme_names_them():
    done = kit_make()  # help is the default goal
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"make (\w+)", done.stdout))
    declared = set(re.findall(r"^([a-z]+):.*## ", (KIT / "Makefile").read_text(), re.MULTILINE))
    assert listed == declared
    assert {"demo", "test", "gallery", "help"} <= declared
    for target in declared - {"venv", "help"}:
        assert f"make {target}" in README, f"README does not mention `make {target}`"


def test_readme_gives_the_two_setup_commands_and_every_option():
    block = re.search(r"## Two commands\n.*?```bash\n(.*?)```", README, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    options = json.loads((KIT / "cookiecutter.json").read_text())
    public = [name for name in options if not name.startswith("_")]
    for name in public:
        assert f"| `{name}` |" in README, f"README's options table lacks `{name}`"
    ci = (KIT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_make_demo_bakes_runs_every_report_and_prints_the_index_path():
    demo = Path(tempfile.mkdtemp(prefix="kit-demo-")) / "demo"
    try:
        done = kit_make("demo", f"DEMO={demo}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        index = demo / "reports" / "latest" / "index.html"
        assert str(index) in done.stdout.splitlines()[-1]
        summary = json.loads((demo / "reports" / "latest" / "summary.json").read_text())
        assert all(r["status"] == "ok" for r in summary["notebooks"].values())
        # its own environment, synced to its lock: the kit's tests cannot break it
        assert "uv sync" in done.stdout and (demo / ".venv" / "bin" / "python").exists()
    finally:
        shutil.rmtree(demo.parent, ignore_errors=True)


def test_make_gallery_writes_executed_notebooks(tmp_path):
    done = kit_make("gallery", f"GALLERY_OUT={tmp_path}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    template = sorted(p.name for p in (TEMPLATE / "notebooks").glob("*.ipynb"))
    assert written == template
    for path in tmp_path.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        assert any(c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_the_kits_own_code_is_ruff_clean():
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(VENV / "bin" / "ruff"), *command, "--no-cache", "."],
            cwd=KIT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_dependency_updates_are_configured_for_the_kit_and_the_baked_project():
    def ecosystems(path: Path) -> set[str]:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {update["package-ecosystem"] for update in config["updates"]}

    assert ecosystems(KIT / ".github" / "dependabot.yml") == {"pip"}
    assert ecosystems(TEMPLATE / ".github" / "dependabot.yml") == {"pip", "github-actions"}


def test_the_changelog_has_an_unreleased_section_that_contributing_asks_for():
    changelog = (KIT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "\n## Unreleased\n" in changelog
    assert "CHANGELOG.md" in (KIT / "CONTRIBUTING.md").read_text(encoding="utf-8")
