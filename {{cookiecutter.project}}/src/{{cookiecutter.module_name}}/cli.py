"""Command line: ``python -m <module> run | sample | validate | import | contract | new``.

Every failure a PM can cause (a :class:`~.errors.UserError`, a missing file, a full disk) ends in
one plain sentence on stderr and a non-zero exit code, never a traceback (set SHOP_DEBUG=1 to see
one). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import _project
from .errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {_project.MODULE_NAME}",
        description=f"{_project.PROJECT_NAME}: run, check and share the shop reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from . import runner

    run = commands.add_parser("run", help="run the report notebooks and write reports/<run-id>/")
    runner.add_run_arguments(run)
    run.set_defaults(handler=runner.cli_run)

    new = commands.add_parser("new", help="create a new report notebook from the house skeleton")
    new.add_argument("name", help="file name of the new notebook, e.g. weekly_kpis")
    new.set_defaults(handler=_cli_new)

    sample = commands.add_parser("sample", help="generate the synthetic sample shop")
    sample.add_argument("--customers", type=int, default=10_000, help="number of customers")
    sample.add_argument("--seed", type=int, default=42, help="random seed")
    sample.add_argument("--out", default="data/sample", help="output folder")
    sample.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    sample.add_argument(
        "--experiment-visitors",
        type=int,
        default=None,
        help="customers in the A/B test (default: about 40%% of them, those who visit)",
    )
    sample.add_argument(
        "--fault",
        action="append",
        default=[],
        help="plant a data fault for tests (e.g. broken_split); may repeat",
    )
    sample.set_defaults(handler=_cli_sample)

    validate = commands.add_parser("validate", help="check the data against the data contract")
    validate.add_argument("--data-dir", default=None, help="folder of tables (default: params)")
    validate.set_defaults(handler=_cli_validate)

    contract = commands.add_parser("contract", help="print the data contract as Markdown")
    contract.set_defaults(handler=_cli_contract)

    importer = commands.add_parser("import", help="import your own export into data/raw")
    importer.add_argument("source", help="CSV or Parquet file to import")
    importer.add_argument(
        "--table", default=None, help="contract table it fills (default: orders, or the preset's)"
    )
    importer.add_argument(
        "--preset",
        default=None,
        help="a known export format: shop_orders, woocommerce, magento, bigcommerce, "
        "ga4_sessions (default: recognised from the columns)",
    )
    importer.add_argument(
        "--use",
        action="store_true",
        help="point the reports at the imported folder (sets data_dir in params/defaults.yaml)",
    )
    importer.add_argument(
        "--map",
        dest="column_map",
        default=None,
        help="YAML file with the column map (default: params/import.yaml)",
    )
    importer.add_argument("--out", default="data/raw", help="output folder")
    importer.set_defaults(handler=_cli_import)
    return parser


def _cli_new(args: argparse.Namespace) -> int:
    from . import config, runner

    code = runner.cli_new(args)
    name = args.name.removesuffix(".ipynb")
    if code == 0 and _list_in_readme(config.project_root() / "README.md", name):
        print("Listed it in README.md's table of reports: write there the question it answers.")
    return code


def _list_in_readme(readme: Path, name: str) -> bool:
    """Add a row for a new report to the README's table of reports (the docs test wants every
    notebook listed); False when the README has no such table or lists it already."""
    import re

    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    table = re.search(
        r"^\| report \| the question it answers \|\n\|[-|]+\|\n(?:\|.*\|\n)*", text, re.M
    )
    if table is None or f"| `{name}` |" in table.group(0):
        return False
    row = f"| `{name}` | (a new report: the question it answers) |\n"
    readme.write_text(text[: table.end()] + row + text[table.end() :], encoding="utf-8")
    return True


def _cli_sample(args: argparse.Namespace) -> int:
    from . import config, sample

    out = config.resolve(args.out)
    truth = sample.write_sample(
        out,
        customers=args.customers,
        seed=args.seed,
        file_format=args.format,
        faults=tuple(args.fault),
        experiment_visitors=args.experiment_visitors,
    )
    print(
        f"Sample shop written to {out} ({truth['counts']['orders']:,} orders, "
        f"{truth['counts']['customers']:,} customers); planted values in truth.json."
    )
    return 0


def _cli_validate(args: argparse.Namespace) -> int:
    from . import data

    report = data.validate(data_dir=args.data_dir)
    print(report.to_text(mask_ids=False))  # the user's own screen; emails/phones stay masked
    log_ok = _validate_decision_log()
    return 1 if report.errors or not log_ok else 0


def _validate_decision_log() -> bool:
    """Check data/decision_log.csv too: it is edited by hand, and a broken line would otherwise
    surface only when the prioritisation report runs."""
    from . import decision_log

    log = decision_log.path()
    if not log.is_file():
        return True
    try:
        rows = decision_log.read_checked(log)
    except UserError as error:
        print(f"\n{error}")
        return False
    print(f"\nThe decision log {log} is fine: {len(rows)} launch(es) on record.")
    return True


def _cli_contract(args: argparse.Namespace) -> int:
    from . import data

    print(data.contract_markdown())
    return 0


def _cli_import(args: argparse.Namespace) -> int:
    from . import config, importers

    # the file is where the user points (their current folder); outputs go to the project
    source = Path(args.source).expanduser().resolve()
    out_dir = config.resolve(args.out)
    written = importers.import_file(
        source,
        table=args.table,
        preset=args.preset,
        column_map_file=config.resolve(args.column_map) if args.column_map else None,
        out_dir=out_dir,
        ask=_ask_on_terminal if sys.stdin.isatty() and sys.stdout.isatty() else None,
    )
    for note in written.notes:
        print(note)
    for warning in written.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for table, rows in written.tables.items():
        derived = " (derived from orders)" if table in written.derived else ""
        print(f"Imported {rows:,} rows into {table}{derived}.")
    print(f"Files written to {out_dir}.")
    print(_data_dir_advice(out_dir, use=args.use))
    return 0


def os_error_message(error: OSError) -> str:
    """An OS error in one line with the path: disk full, no permission, a missing folder."""
    import errno

    path = error.filename or "a file"
    if error.filename2:
        path = f"{path} -> {error.filename2}"
    reason = error.strerror or str(error) or type(error).__name__
    advice = {
        errno.ENOSPC: "free some space on that disk (or point the project at a larger one)",
        errno.EDQUOT: "free some space within your disk quota",
        errno.EACCES: "check that your user may write there",
        errno.EPERM: "check that your user may write there",
        errno.EROFS: "the disk is read-only; run the project from a writable folder",
    }.get(error.errno, "check the path and try again")
    return f"Could not write {path}: {reason}; {advice}."


def _ask_on_terminal(question: str, choices: Sequence[str]) -> str:
    """Ask on the terminal which choice is right (import's unsure guesses)."""
    print(question)
    for number, choice in enumerate(choices, 1):
        print(f"  {number}. {choice}")
    while True:
        answer = input(f"Type 1-{len(choices)}: ").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(choices):
            return choices[int(answer) - 1]


def _data_dir_advice(out_dir: Path, *, use: bool) -> str:
    """The one setting that points the reports at the import, changed when ``use`` is set."""
    from . import config

    defaults = config.params_dir() / "defaults.yaml"
    root = config.project_root()
    shown = out_dir.relative_to(root).as_posix() if out_dir.is_relative_to(root) else str(out_dir)
    current = config.read_yaml(defaults).get("data_dir") if defaults.is_file() else None
    warehouse = (
        f" (while {config.DATA_URL_ENV} is set, the reports read that warehouse instead)"
        if os.environ.get(config.DATA_URL_ENV)
        else ""
    )
    if current is not None and config.resolve(str(current)) == out_dir:
        return f"The reports already read {shown} (data_dir in params/defaults.yaml){warehouse}."
    if use and defaults.is_file():
        _set_data_dir(defaults, shown)
        return (
            f"Set data_dir: {shown} in params/defaults.yaml: the reports now read your data"
            f"{warehouse}. Check it with `make validate`."
        )
    return (
        f"The reports still read {current or 'data/sample'}. To use this data, set "
        f"`data_dir: {shown}` in params/defaults.yaml (or import again with --use), then "
        f"check it with `make validate`{warehouse}."
    )


def _set_data_dir(defaults: Path, value: str) -> None:
    """Rewrite the data_dir line of params/defaults.yaml, keeping its comment."""
    import json
    import re

    text = defaults.read_text(encoding="utf-8")
    line = re.compile(r"^data_dir:[^#\n]*(#.*)?$", re.MULTILINE)
    match = line.search(text)
    new = f"data_dir: {json.dumps(value)}"
    if match:
        comment = f"  {match.group(1)}" if match.group(1) else ""
        text = text[: match.start()] + new + comment + text[match.end() :]
    else:
        text = text.rstrip("\n") + f"\n{new}\n"
    defaults.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, FileNotFoundError) as error:
        if os.environ.get("SHOP_DEBUG"):
            raise
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, no permission: one line with the path
        if os.environ.get("SHOP_DEBUG"):
            raise
        print(f"ERROR: {os_error_message(error)}", file=sys.stderr)
        return 1
