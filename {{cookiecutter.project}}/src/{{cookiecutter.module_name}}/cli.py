"""Command line: ``python -m <module> run | sample | validate | import | contract | new``.

Every failure a PM can cause ends in one plain sentence on stderr and a non-zero exit code,
never a traceback (set SHOP_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import _project


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


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
    new.set_defaults(handler=runner.cli_new)

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
    importer.add_argument("--table", default="orders", help="contract table it fills")
    importer.add_argument("--preset", default=None, help="a known export format, e.g. shop_orders")
    importer.add_argument(
        "--map",
        dest="column_map",
        default=None,
        help="YAML file with the column map (default: params/import.yaml)",
    )
    importer.add_argument("--out", default="data/raw", help="output folder")
    importer.set_defaults(handler=_cli_import)
    return parser


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
    return 1 if report.errors else 0


def _cli_contract(args: argparse.Namespace) -> int:
    from . import data

    print(data.contract_markdown())
    return 0


def _cli_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import config, importers

    # the file is where the user points (their current folder); outputs go to the project
    source = Path(args.source).expanduser().resolve()
    written = importers.import_file(
        source,
        table=args.table,
        preset=args.preset,
        column_map_file=config.resolve(args.column_map) if args.column_map else None,
        out_dir=config.resolve(args.out),
    )
    for warning in written.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for table, rows in (written.tables or {args.table: written.rows}).items():
        print(f"Imported {rows:,} rows into {table}.")
    print(
        f"Files written to {written.path.parent}; check them with `python -m "
        f"{_project.MODULE_NAME} validate --data-dir {written.path.parent}`."
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as error:
        if os.environ.get("SHOP_DEBUG"):
            raise
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, no permission: one line with the path
        if os.environ.get("SHOP_DEBUG"):
            raise
        print(f"ERROR: {os_error_message(error)}", file=sys.stderr)
        return 1
