"""The README tells the truth: every command it shows exists, every report it lists is here."""

from __future__ import annotations

import re
from pathlib import Path

from {{ cookiecutter.module_name }} import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def test_every_make_command_in_the_readme_is_a_target_with_help():
    documented = set(re.findall(r"^([a-z]+):.*## ", MAKEFILE, re.MULTILINE))
    mentioned = set(re.findall(r"make ([a-z]+)", README))
    assert mentioned, "the README shows no make command"
    assert mentioned <= documented, f"README mentions unknown targets: {mentioned - documented}"


def test_every_cli_command_in_the_readme_exists():
    commands = set(cli._parser()._subparsers._group_actions[0].choices)
    shown = set(re.findall(r"python -m \w+ ([a-z]+)", README))
    assert shown, "the README shows no CLI command"
    assert shown <= commands, f"README shows unknown commands: {shown - commands}"


def test_the_readme_lists_exactly_the_reports_of_this_project():
    listed = set(re.findall(r"^\| `(\w+)` \|", README, re.MULTILINE))
    present = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert listed == present


def test_exit_codes_in_the_readme_match_the_runner():
    from {{ cookiecutter.module_name }} import runner

    for code, word in (
        (runner.EXIT_OK, "ok"),
        (runner.EXIT_FAILED, "a report failed"),
        (runner.EXIT_ALERT, "a metric alert fired"),
        (runner.EXIT_LOCKED, "another run was in progress"),
    ):
        assert f"{code} {word}" in " ".join(README.split())


def test_the_map_of_where_things_live_names_every_module_and_only_those():
    text = (ROOT / "docs" / "where-things-live.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(\w+\.py)`", text))
    package = ROOT / "src" / "{{ cookiecutter.module_name }}"
    present = {p.name for p in package.glob("*.py")} - {"__init__.py"}
    assert present - named == set(), (
        f"docs/where-things-live.md does not say where these live: {present - named}"
    )
    assert named - present == set(), (
        f"docs/where-things-live.md names modules that are gone: {named - present}"
    )
