"""Run the report notebooks headless and publish them: ``python -m <module> run``.

Every notebook in ``notebooks/`` is a report. Each runs with papermill in a process of its own
(``--jobs`` at a time, kernel ``python3``, working folder ``notebooks/``) with a per-cell time
limit and an outer time limit that kills a hung notebook, kernel included. A failing notebook
does not stop the others. With a core to spare (fewer jobs than cores), the next notebook's
worker and kernel start ahead of its turn and import what it imports (``_warmup``), so it
begins the moment the one before ends; its time limit counts from then.

The run is written to ``reports/.tmp-<run-id>/`` (readable by its owner only) and renamed to
``reports/<run-id>/`` when done: per notebook the executed ``NAME.ipynb`` and a code-free
``NAME.html``, plus ``summary.json``, ``run.log`` and ``index.html``. Exports the notebooks write
to ``data/exports/`` go to the run's staging folder ``data/.staging-<run-id>/exports/`` instead
(``config.write_atomically``). ``reports/index.html`` lists all runs with the history of each
headline value. A lock on ``reports/`` keeps two runs apart.

Publishing is all-or-nothing: only a fully successful *full* run (every notebook, no ``--only``,
``--params`` or ``-p``) is published: customer actions are built from the staged exports, then
the exports replace those in ``data/exports/``, the decision-log rows are added and
``reports/latest`` moves to the run, everything prepared before the first file is replaced.
A failed, stopped, killed or partial run changes none of them (its pages stay in
``reports/<run-id>/``). Workers and kernels never outlive the run: they end themselves when the
runner is gone (see ``_worker``); SIGTERM, SIGINT and SIGHUP stop the run cleanly; what a killed
run left behind is removed at the next start.

Exit codes:

- 0: every notebook ran and no metric alert fired;
- 1: a notebook failed or timed out (the others still ran; ``latest`` is unchanged), or the run
  could not be written or published (disk full, no permission: the message names the path);
- 2: the run could not start: a bad option, parameter or file (message on stderr);
- 3: every notebook ran, but a headline value is outside its bounds in ``params/alerts.yaml``;
- 4: another run holds the lock on ``reports/`` (see ``--wait``);
- 5: the run was stopped (SIGTERM, SIGINT or SIGHUP): workers and kernels were ended, nothing
  was published and the run's temporary folders were removed.

``python -m <module> new NAME`` creates a notebook from the house skeleton that the runner, the
tests and the HTML pick up with no further wiring.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape as html_escape
from pathlib import Path
from typing import Any

from . import _project, config
from .decisions import DECISION_KEY, DECISION_LOG_KEY
from .errors import UserError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # raised as UserError and turned into the code by cli.main
EXIT_ALERT = 3
EXIT_LOCKED = 4
EXIT_STOPPED = 5
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)

DEFAULT_TIMEOUT = 1800.0  # seconds for a whole notebook
DEFAULT_CELL_TIMEOUT = 600.0  # seconds for one cell
STAGGER_SECONDS = 0.5  # between kernel starts: simultaneous starts can collide on ZMQ ports
POLL_SECONDS = 0.1

EXIT_CODES_HELP = """exit codes:
  0  every notebook ran and no metric alert fired
  1  a notebook failed or timed out (the others still ran; reports/latest is unchanged)
  2  the run could not start: a bad option, parameter or file
  3  every notebook ran, but a headline value is outside its bounds in params/alerts.yaml
  4  another run holds the lock on reports/ (see --wait)
  5  the run was stopped (SIGTERM, SIGINT, SIGHUP); nothing was published
Only a fully successful full run (no --only, --params or -p) replaces reports/latest,
data/exports and the decision log; other runs keep their pages in reports/<run-id>/.
"""

# Parameter names that look like credentials. Parameters are written into the executed notebook,
# so these must come from environment variables instead.
_SECRET_WORDS = frozenset(
    {"url", "uri", "dsn", "password", "passwd", "token", "secret", "key", "keys"}
    | {"apikey", "credential", "credentials", "auth", "salt", "private"}
)
_SECRET_FRAGMENTS = ("password", "passwd", "token", "secret", "credential", "apikey", "api_key")
# ipykernel 7 warns about unencrypted TCP at every start; debugpy about frozen modules.
# papermill's own parameter parser skips lines with two '=' and then calls those parameters
# unknown; declared_parameters() reads them correctly, so these warnings would only mislead.
_NOISE = re.compile(
    r"running over TCP without encryption|frozen modules|Xfrozen_modules|"
    r"PYDEVD_DISABLE_FILE_VALIDATION|Debugging will proceed|"
    r"Unable to parse line \d+|Passed unknown parameter"
)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NOTEBOOK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
# Names that already mean something in params/ or reports/.
_RESERVED_NAMES = frozenset({"defaults", "alerts", "import", "index", "latest"})
SKELETON = Path(__file__).with_name("templates") / "report.ipynb"
_SKELETON_MODULE = "shop_insights"  # the package name the skeleton is written with


class RunLocked(Exception):
    """Another run holds ``reports/.lock``."""


class RunStopped(Exception):
    """A stop signal (SIGTERM, SIGINT, SIGHUP) arrived while the run was under way."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


# --------------------------------------------------------------------------- command line


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``run`` options to the ``run`` sub-command parser."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = "Run the report notebooks and write reports/<run-id>/."
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="run only these notebooks (file names without .ipynb)",
    )
    parser.add_argument(
        "--params",
        action="append",
        default=[],
        metavar="FILE",
        help="extra YAML parameter file (may repeat): top-level values apply to "
        "every notebook, a '<notebook>:' section to one",
    )
    parser.add_argument(
        "-p",
        "--param",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one parameter, read as YAML (90 is a number); may repeat",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks run at the same time (default, or 0: one per CPU core)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for one whole notebook; it is then stopped (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for one cell (default {DEFAULT_CELL_TIMEOUT:g})",
    )
    parser.add_argument(
        "--run-id",
        default=None,
        metavar="ID",
        help="name of the run folder (default: UTC time, e.g. 2026-11-22T0315Z)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run to finish (default 0: give up "
        "at once with exit code 4)",
    )


def cli_run(args: argparse.Namespace) -> int:
    """``run``: execute the notebooks; returns the exit code documented in the module."""
    # As in _worker: nbformat imports jsonschema, which compiles an IRI grammar at import time
    # when the optional rfc3987-syntax package is installed (JupyterLab brings it), ~2 s of CPU
    # per run (bench/README.md). nbformat's schema uses no IRI format; this process goes without.
    sys.modules.setdefault("rfc3987_syntax", None)
    options = RunOptions(
        only=tuple(args.only),
        params_files=tuple(Path(p) for p in args.params),
        overrides=parse_overrides(args.overrides),
        jobs=args.jobs,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        run_id=args.run_id,
        wait=args.wait,
    )
    try:
        return run_reports(options).exit_code
    except RunLocked as busy:
        print(f"ERROR: {busy}", file=sys.stderr)
        return EXIT_LOCKED
    except RunStopped as stopped:  # before any notebook started
        print(f"ERROR: the run was {stopped}; nothing was published.", file=sys.stderr)
        return EXIT_STOPPED


def cli_new(args: argparse.Namespace) -> int:
    """``new NAME``: create ``notebooks/NAME.ipynb`` and ``params/NAME.yaml``."""
    notebook = new_notebook(args.name)
    name = notebook.stem
    print(
        f"Created notebooks/{name}.ipynb and params/{name}.yaml. Open it with `make lab`; "
        f"`python -m {_project.MODULE_NAME} run --only {name}` runs it and writes its HTML."
    )
    return EXIT_OK


# --------------------------------------------------------------------------- parameters


def is_secret_name(name: str) -> bool:
    """True when a parameter name looks like a credential (url, password, token, key, ...)."""
    lowered = name.lower()
    parts = {part for part in re.split(r"[^a-z0-9]+", lowered) if part}
    return bool(parts & _SECRET_WORDS) or any(f in lowered for f in _SECRET_FRAGMENTS)


def _refuse_secret(name: Any, where: str) -> None:
    if is_secret_name(str(name)):
        raise UserError(
            f"The parameter {name!r} ({where}) looks like a credential. Credentials come from "
            f"environment variables (the data connection from {config.DATA_URL_ENV}), never "
            "from parameters: parameters are written into the executed notebooks."
        )


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["name=value", ...]`` from ``-p`` as a dict; values are read as YAML (90 → int).

    Raises
    ------
    UserError
        When a pair has no ``=``, the name is not a Python name, or it looks like a secret.
    """
    import yaml

    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UserError(
                f"-p {pair!r} is not NAME=VALUE with a parameter name, e.g. -p lookback_days=90."
            )
        _refuse_secret(name, "given with -p")
        try:
            overrides[name] = yaml.safe_load(text) if text.strip() else ""
        except (yaml.YAMLError, ValueError):
            # Not YAML ("a: b: c") or an impossible date ("2026-13-45", which YAML reads as a
            # date): keep the text as typed; the notebook's own check then names the problem.
            overrides[name] = text
    return overrides


@dataclass(frozen=True)
class NotebookPlan:
    """One notebook to run: where it is and the parameters it gets."""

    name: str
    path: Path
    parameters: dict[str, Any]  # passed to papermill (only names the notebook declares)
    shown_params: dict[str, Any]  # defaults + passed, non-secret: for summary.json and HTML


def discover_notebooks() -> dict[str, Path]:
    """Every report notebook: ``notebooks/*.ipynb`` by name."""
    return {p.stem: p for p in sorted(config.notebooks_dir().glob("*.ipynb"))}


def plan_notebooks(
    only: Sequence[str] = (),
    params_files: Sequence[Path] = (),
    overrides: Mapping[str, Any] | None = None,
) -> tuple[list[NotebookPlan], list[str]]:
    """The notebooks to run with their layered parameters, and warnings for ``run.log``.

    Layers, later winning: notebook defaults < ``params/defaults.yaml`` <
    ``params/<nb>.yaml`` < each ``--params`` file < ``-p`` values (``config.layered_params``).
    Only parameters a notebook declares are passed to it.
    """
    from . import report

    overrides = dict(overrides or {})
    available = discover_notebooks()
    if not available:
        raise UserError(
            f"There are no notebooks in {config.notebooks_dir()}: create one with "
            f"`python -m {_project.MODULE_NAME} new NAME`."
        )
    missing = [name for name in only if name not in available]
    if missing:
        raise UserError(
            f"No notebook named {missing[0]!r} in notebooks/. Available: {', '.join(available)}."
        )
    selected = list(dict.fromkeys(only)) or list(available)
    files = [_existing_file(Path(p)) for p in params_files]
    declared = {name: declared_parameters(available[name]) for name in selected}
    warnings = _check_layers(selected, declared, files, overrides, set(available))

    plans = []
    for name in selected:
        merged = config.layered_params(name, files, overrides)
        types = declared_types(available[name])
        checked = {
            k: check_parameter(name, k, v, types.get(k))
            for k, v in merged.items()
            if k in declared[name]
        }
        passed = report.to_jsonable(checked)
        shown = declared[name] | passed
        shown = {k: v for k, v in shown.items() if not is_secret_name(k)}
        plans.append(NotebookPlan(name, available[name], passed, shown))
    return plans, warnings


def _existing_file(path: Path) -> Path:
    for candidate in (path, config.resolve(path)):
        if candidate.is_file():
            return candidate
    raise UserError(
        f"The parameter file {path} does not exist (looked in {Path.cwd()} and "
        f"{config.project_root()})."
    )


def _check_layers(
    selected: list[str],
    declared: Mapping[str, Mapping[str, Any]],
    files: list[Path],
    overrides: Mapping[str, Any],
    notebook_names: set[str],
) -> list[str]:
    """Refuse secret-looking names in any layer; list names aimed at a notebook it ignores."""
    warnings: list[str] = []
    anyone = set().union(*(declared[name] for name in selected))
    defaults = config.params_dir() / "defaults.yaml"
    if defaults.is_file():
        for key in config.read_yaml(defaults):
            _refuse_secret(key, f"in {defaults.name}")
    for name in selected:
        own = config.params_dir() / f"{name}.yaml"
        for key in config.read_yaml(own) if own.is_file() else {}:
            _refuse_secret(key, f"in params/{own.name}")
            if key not in declared[name]:
                warnings.append(
                    f"params/{own.name} sets {key!r}, which notebooks/{name}.ipynb "
                    "does not declare; ignored."
                )
    for path in files:
        for key, value in config.read_yaml(path).items():
            if isinstance(value, dict) and key in notebook_names:
                for inner in value:
                    _refuse_secret(inner, f"in {path.name}, section {key}")
                    if key in declared and inner not in declared[key]:
                        warnings.append(
                            f"{path.name} sets {key}.{inner}, which notebooks/{key}"
                            ".ipynb does not declare; ignored."
                        )
                continue
            _refuse_secret(key, f"in {path.name}")
            if key not in anyone:
                warnings.append(
                    f"{path.name} sets {key!r}, which no notebook of this run declares; ignored."
                )
    for key in overrides:
        _refuse_secret(key, "given with -p")
        if key not in anyone:
            warnings.append(f"-p {key}: no notebook of this run declares {key!r}; ignored.")
    return warnings


def declared_parameters(path: Path) -> dict[str, Any]:
    """The parameters a notebook declares, with their default values, from its parameters cell.

    Read with ``ast`` rather than ``papermill.inspect_notebook``: papermill skips every line with
    more than one ``=`` (a help comment like ``# empty = latest order`` is enough), and the
    runner would then silently drop that parameter. Defaults that are not literals are given as
    their source text.

    Raises
    ------
    UserError
        When the parameters cell is not valid Python.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells or cells[0].cell_type != "code":
        return {}
    source = cells[0].source
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise UserError(
            f"The parameters cell of notebooks/{path.name} is not valid Python (line "
            f"{error.lineno}: {error.msg}); fix it in JupyterLab."
        ) from error
    declared: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        elif isinstance(node, ast.Assign):
            targets = node.targets
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                declared[target.id] = _default_value(node.value, source)
    return declared


@dataclass(frozen=True)
class ParameterType:
    """What a parameters cell says a parameter is: ``name: int = 1  # ... (0-1)``."""

    annotation: str  # int, float, str, bool, list, dict
    low: float | None = None  # a documented range, e.g. "(0-1)" in its help comment
    high: float | None = None


_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "list": "a list, e.g. [a, b]",
    "dict": "a mapping, e.g. {a: 1}",
}
_RANGE = re.compile(r"\((-?\d+(?:\.\d+)?)\s*[-–]\s*(-?\d+(?:\.\d+)?)\)")


def declared_types(path: Path) -> dict[str, ParameterType]:
    """The annotated type of each parameter (and a range its help comment gives as ``(a-b)``)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells or cells[0].cell_type != "code":
        return {}
    source = cells[0].source
    lines = source.splitlines()
    types: dict[str, ParameterType] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}  # declared_parameters reports it
    for node in tree.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if not (isinstance(node.annotation, ast.Name) and node.annotation.id in _KINDS):
            continue
        comment = lines[node.lineno - 1].partition("#")[2] if node.lineno <= len(lines) else ""
        found = _RANGE.search(comment) if node.annotation.id in ("int", "float") else None
        low, high = (float(found.group(1)), float(found.group(2))) if found else (None, None)
        types[node.target.id] = ParameterType(node.annotation.id, low, high)
    return types


def check_parameter(notebook: str, name: str, value: Any, kind: ParameterType | None) -> Any:
    """The value as the notebook's parameters cell types it, or a one-line ValueError.

    Whole numbers pass for ``float``; numbers and true/false given for a ``str`` parameter are
    passed as their text (``-p n_clusters=4``); ``inf`` and ``nan`` are refused for numbers.
    """
    if kind is None:
        return value
    where = f"The parameter {name} of notebooks/{notebook}.ipynb"
    bad = UserError(
        f"{where} must be {_KINDS[kind.annotation]} (`{name}: {kind.annotation}` in its "
        f"parameters cell), not {value!r}; fix it in params/ or on the command line."
    )
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind.annotation == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, dt.date):  # YAML reads 2026-01-31 as a date
            return value.isoformat()
        if number or isinstance(value, bool):
            return str(value).lower() if isinstance(value, bool) else str(value)
        raise bad
    if kind.annotation == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind.annotation in ("list", "dict"):
        if not isinstance(value, list if kind.annotation == "list" else dict):
            raise bad
        return value
    if not number or value != value or value in (float("inf"), float("-inf")):
        raise bad
    if kind.annotation == "int":
        if isinstance(value, float) and not value.is_integer():
            raise bad
        value = int(value)
    if (kind.low is not None and value < kind.low) or (kind.high is not None and value > kind.high):
        raise UserError(
            f"{where} must be between {kind.low:g} and {kind.high:g} (its parameters cell says "
            f"so), not {value!r}."
        )
    return value


def _default_value(node: ast.expr, source: str) -> Any:
    try:
        value = ast.literal_eval(node)
        json.dumps(value)  # it goes into summary.json: sets, bytes... are shown as written
    except (ValueError, TypeError, SyntaxError):  # e.g. date.today(): show it as written
        return ast.get_source_segment(source, node)
    return value


# --------------------------------------------------------------------------- secrets


# A URL with a user part (scheme://user[:password]@...): its credentials are secrets.
_CREDENTIAL_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s]*@")
_CREDENTIAL_WORDS = r"password|passwd|pwd|secret|token|api[_-]?key|auth"


class Redactor:
    """Masks secrets (``***``) by the parsed parts of every credential-bearing value.

    Secrets are the data URL (``SHOP_DATA_URL``) and every environment variable holding a URL
    with credentials, split into their parts (the whole URL, ``user:password``, the password
    as written and decoded), plus the values of secret-looking variables (``*_TOKEN``...).
    A distinctive secret is masked wherever it appears; one that is a plain word
    (``customers``) only where it stands as a credential (``:customers@``,
    ``password=customers``), so it does not garble the pages. A URL that does not parse one
    way only is masked from ``://`` to its last ``@``.

    Parameters
    ----------
    environ : Mapping, optional
        The environment to take secrets from (default ``os.environ``).
    """

    MASK = "***"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:

        environ = os.environ if environ is None else environ
        everywhere: set[str] = set()
        contexts: list[re.Pattern[str]] = []
        for name, raw in environ.items():
            value = raw.strip()
            if not value:
                continue
            parts: tuple[str, ...] = ()
            if name == config.DATA_URL_ENV or _CREDENTIAL_URL.match(value):
                try:
                    parts = config.parse_credentials(value, name).secrets
                except UserError:
                    scheme, _, rest = value.partition("://")
                    head = rest[: rest.rfind("@")] if "@" in rest else ""
                    parts = (value, head, head.partition(":")[2])
            elif is_secret_name(name):
                parts = (value,)
            for part in filter(None, parts):
                if config.is_strong_secret(part):
                    everywhere.add(part)
                    continue
                word = re.escape(part)
                contexts.append(re.compile(rf"(?<=:){word}(?=@)"))
                keys = f"{_CREDENTIAL_WORDS}|{re.escape(name)}"
                contexts.append(
                    re.compile(rf"(?i)(\b(?:{keys})\b[\"']?\s*[=:]\s*[\"']?){word}(?![\w-])")
                )
        everywhere |= {html_escape(v) for v in everywhere}  # as it appears inside an HTML page
        # Longest first: the whole URL goes before its password.
        self._secrets = sorted(everywhere, key=len, reverse=True)
        self._contexts = contexts

    def text(self, value: str) -> str:
        """The text with every secret value masked."""
        for secret in self._secrets:
            value = value.replace(secret, self.MASK)
        for pattern in self._contexts:
            value = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + self.MASK, value)
        return value

    def deep(self, value: Any) -> Any:
        """The same structure of dicts and lists, with every string masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value


class _RedactFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = config.mask_pii(self.redactor.text(record.getMessage()))
        record.args = ()
        return True


# --------------------------------------------------------------------------- alerts


def load_alerts(path: Path | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """``params/alerts.yaml``: notebook → metric → ``{"min": x, "max": y}`` (either optional).

    Raises
    ------
    UserError
        When an entry is not a mapping of ``min`` / ``max`` numbers.
    """
    path = path or config.params_dir() / "alerts.yaml"
    if not path.is_file():
        return {}
    alerts: dict[str, dict[str, dict[str, float]]] = {}
    for notebook, metrics in config.read_yaml(path).items():
        if not isinstance(metrics, dict):
            raise UserError(
                f"{path.name}: '{notebook}' must map metric names to bounds, "
                "e.g. churn_rate: {max: 0.3}."
            )
        for metric, bounds in metrics.items():
            example = f"{notebook}: {metric}: " + "{min: 0.1, max: 0.3}"
            if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
                raise UserError(
                    f"{path.name}: bounds of {notebook}.{metric} must be min "
                    f"and/or max, e.g. {example}."
                )
            if not all(_is_number(v) for v in bounds.values()):
                raise UserError(
                    f"{path.name}: bounds of {notebook}.{metric} must be numbers, got {bounds}."
                )
            alerts.setdefault(str(notebook), {})[str(metric)] = {
                k: float(v) for k, v in bounds.items()
            }
    return alerts


def evaluate_alerts(
    bounds: Mapping[str, Mapping[str, Mapping[str, float]]],
    metrics: Mapping[str, Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Breaches of the bounds by the recorded metrics, and warnings for unusable bounds.

    Parameters
    ----------
    bounds : Mapping
        As returned by :func:`load_alerts`.
    metrics : Mapping
        Notebook → recorded metrics of the notebooks that ran. A metric recorded as a mapping
        is checked on the value the run pages show for it: its ``"value"`` (e.g. ``{"value":
        25.2, "ci_low": 15.4}``) or the field ``report.HEADLINES`` names (price_index: median).

    Returns
    -------
    list of dict
        One ``{"notebook", "metric", "value", "bound", "limit", "message"}`` per breach.
    list of str
        Bounds that could not be checked (the value is missing or not a number).
    """
    from .report import headline, headline_value

    breaches: list[dict[str, Any]] = []
    warnings: list[str] = []
    for notebook, watched in bounds.items():
        if notebook not in metrics:
            continue  # not part of this run
        for metric, limits in watched.items():
            value = headline_value(metrics[notebook].get(metric), headline(metric).field)
            if not _is_number(value):
                warnings.append(
                    f"alerts.yaml watches {notebook}.{metric}, but the notebook "
                    f"recorded {value!r}, not a number; not checked."
                )
                continue
            for bound, limit in limits.items():
                low = bound == "min" and value < limit
                if low or (bound == "max" and value > limit):
                    side = "below the minimum" if low else "above the maximum"
                    breaches.append(
                        {
                            "notebook": notebook,
                            "metric": metric,
                            "value": value,
                            "bound": bound,
                            "limit": limit,
                            "message": f"{notebook}: {metric} = {value:g} is {side} {limit:g}.",
                        }
                    )
    return breaches, warnings


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class RunOptions:
    """What ``run`` was asked to do (see ``add_run_arguments`` for the meaning)."""

    only: tuple[str, ...] = ()
    params_files: tuple[Path, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    jobs: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    run_id: str | None = None
    wait: float = 0.0

    def check(self) -> None:
        """Raise ValueError for impossible values."""
        if self.jobs is not None and self.jobs < 0:
            raise UserError(f"--jobs must be 1 or more (0: one per CPU core), got {self.jobs}.")
        for flag, value in (("--timeout", self.timeout), ("--cell-timeout", self.cell_timeout)):
            if not value > 0:
                raise UserError(f"{flag} must be a positive number of seconds, got {value}.")
        if self.wait < 0:
            raise UserError(f"--wait must be 0 or more seconds, got {self.wait}.")
        if self.run_id is not None and (
            not _RUN_ID.match(self.run_id) or self.run_id in _RESERVED_NAMES
        ):
            raise UserError(
                f"--run-id {self.run_id!r} is not usable as a folder name: use "
                "letters, digits, '.', '_' and '-', e.g. 2026-w47."
            )


_DECISION_KEYS = (DECISION_KEY, DECISION_LOG_KEY)


@dataclass
class NotebookResult:
    """How one notebook went; ``to_summary()`` is its entry in summary.json."""

    name: str
    status: str  # ok | failed | timeout
    seconds: float
    metrics: dict[str, Any]
    error: dict[str, Any] | None = None

    def to_summary(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status, "seconds": self.seconds}
        if self.error is not None:
            entry["error"] = self.error
        if isinstance(self.decision, dict):
            entry["verdict"] = self.decision.get("verdict")
            entry["decision"] = self.decision
        entry["metrics"] = {k: v for k, v in self.metrics.items() if k not in _DECISION_KEYS}
        return entry

    @property
    def decision(self) -> dict[str, Any] | None:
        """What ``report.record_decision`` kept: verdict, label, reason, next step, rule."""
        return self.metrics.get(DECISION_KEY)

    @property
    def decision_log_entries(self) -> list[dict[str, Any]]:
        """Rows for the decision log, appended only when the run is published."""
        entries = self.metrics.get(DECISION_LOG_KEY) or []
        return [e for e in entries if isinstance(e, dict)]


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_reports`."""

    run_id: str
    run_dir: Path
    exit_code: int
    summary: dict[str, Any]


def run_reports(options: RunOptions | None = None) -> RunResult:
    """Run the notebooks and publish ``reports/<run-id>/``.

    Parameters
    ----------
    options : RunOptions, optional
        What to run; the defaults run every notebook.

    Returns
    -------
    RunResult
        Run id, folder, exit code (see the module docstring) and the summary.json content.

    Raises
    ------
    UserError
        For a bad option, parameter file or parameter (nothing is written then).
    RunLocked
        When another run holds the lock longer than ``options.wait`` seconds.
    """
    options = options or RunOptions()
    options.check()
    url = os.environ.get(config.DATA_URL_ENV, "").strip()
    if url:  # a password with a raw @ or / would be split and echoed: refused before any kernel
        config.parse_credentials(url)
    plans, warnings = plan_notebooks(options.only, options.params_files, options.overrides)
    bounds = load_alerts()
    reports = config.reports_dir()
    with _run_lock(reports, options.wait), _stop_signals() as stop:
        cleaned = remove_leftovers(reports)
        run_id = _new_run_id(reports, options.run_id)
        run = _RunFolder(reports, run_id)
        redactor = Redactor()
        try:
            _private_folder(run.tmp)
            _private_folder(run.exports)
            log = _open_log(run.tmp / "run.log", run_id, redactor)
        except OSError as error:
            _discard(run)
            return _could_not_write(run, error)
        try:
            if cleaned:
                log.info("Removed %s left by a run that was killed.", ", ".join(cleaned))
            return _run(plans, warnings, bounds, options, run, redactor, log, stop)
        except RunStopped as stopped:
            log.error("The run was %s: nothing was published.", stopped)
            _close_log(log)
            _discard(run)
            return RunResult(run_id, run.final, EXIT_STOPPED, {})
        except OSError as error:  # disk full, permissions: one line, nothing half-published
            _close_log(log)
            _discard(run)
            return _could_not_write(run, error)
        except BaseException:
            _close_log(log)
            _discard(run)  # never leave an unredacted notebook behind
            raise
        finally:
            _close_log(log)


def _could_not_write(run: _RunFolder, error: OSError) -> RunResult:
    from .cli import os_error_message

    print(f"ERROR: {os_error_message(error)} Nothing was published.", file=sys.stderr)
    return RunResult(run.run_id, run.final, EXIT_FAILED, {})


def _private_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)  # until redacted: executed notebooks and staged lists


def _discard(run: _RunFolder) -> None:
    """Remove what a run that will not be published wrote: its temporary and staging folders."""
    shutil.rmtree(run.tmp, ignore_errors=True)
    shutil.rmtree(run.staging, ignore_errors=True)
    for folder in (config.exports_dir(), config.project_root() / "data"):
        for partial in folder.glob(f".*.{run.run_id}.publish") if folder.is_dir() else ():
            partial.unlink(missing_ok=True)


def remove_leftovers(reports: Path) -> list[str]:
    """Delete what a killed run left (its ``.tmp-*`` and staging folders); names removed.

    Called with the lock held, so no other run is using them.
    """
    removed = []
    data = config.project_root() / "data"
    for pattern, folder in ((".tmp-*", reports), (".latest-*", reports), (".staging-*", data)):
        for path in sorted(folder.glob(pattern)) if folder.is_dir() else ():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(str(path.relative_to(config.project_root())))
    exports = config.exports_dir()
    partials = (
        [*exports.glob(".*.partial*"), *exports.glob(".*.publish")] if exports.is_dir() else []
    )
    partials += data.glob(".*.publish") if data.is_dir() else []
    for partial in sorted(partials):
        partial.unlink(missing_ok=True)
        removed.append(str(partial.relative_to(config.project_root())))
    return removed


@contextlib.contextmanager
def _stop_signals() -> Iterator[_StopState]:
    """SIGTERM, SIGINT and SIGHUP raise RunStopped, except while publishing (then they wait)."""
    import threading

    state = _StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_signal(signum: int, frame: Any) -> None:
        if state.critical or state.pending is not None:
            # publishing (a few renames), or already stopping: a second signal must not cut
            # the clean-up short (the workers would end themselves anyway)
            state.pending = state.pending or signum
            return
        state.pending = signum
        raise RunStopped(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class _StopState:
    critical: bool = False  # publishing: a stop signal waits until it is done
    pending: int | None = None


@dataclass(frozen=True)
class _RunFolder:
    reports: Path
    run_id: str

    @property
    def tmp(self) -> Path:
        return self.reports / f".tmp-{self.run_id}"

    @property
    def staging(self) -> Path:  # next to data/exports (same disk: renames are atomic)
        return config.project_root() / "data" / f".staging-{self.run_id}"

    @property
    def exports(self) -> Path:
        return self.staging / "exports"

    @property
    def work(self) -> Path:  # scratch: specs, worker logs, metrics; removed at the end
        return self.tmp / ".work"

    @property
    def final(self) -> Path:
        return self.reports / self.run_id


def is_full_run(options: RunOptions) -> bool:
    """Every notebook with the project's own parameters: the only kind of run published."""
    everyone = set(discover_notebooks())
    chosen = set(options.only) or everyone
    return chosen == everyone and not options.params_files and not options.overrides


def _run(
    plans: list[NotebookPlan],
    warnings: list[str],
    bounds: Mapping[str, Any],
    options: RunOptions,
    run: _RunFolder,
    redactor: Redactor,
    log: logging.Logger,
    stop: _StopState,
) -> RunResult:
    from . import index

    started_at = _utc_now()
    full = is_full_run(options)
    jobs = min(options.jobs or _cpu_count(), len(plans))
    log.info(
        "Run %s: %d notebook(s), %d at a time, limits %gs per notebook / %gs per cell.",
        run.run_id,
        len(plans),
        jobs,
        options.timeout,
        options.cell_timeout,
    )
    for plan in plans:
        _detail(log, "%s parameters: %s", plan.name, json.dumps(plan.parameters, sort_keys=True))
    for warning in warnings:
        log.warning(warning)
    results = _execute_all(plans, options, jobs, run, redactor, log)

    # Only complete notebooks are checked: values of a notebook that stopped may be partial.
    metrics = {r.name: r.metrics for r in results if r.status == "ok"}
    alerts, alert_warnings = evaluate_alerts(bounds, metrics)
    for warning in alert_warnings:
        log.warning(warning)
    for alert in alerts:
        log.warning("ALERT %s", alert["message"])
    summary = _summary(run.run_id, started_at, plans, results, alerts, redactor)
    summary["scope"] = "full" if full else "partial"
    config.write_text_atomically(
        run.tmp / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False)
    )
    config.write_text_atomically(run.tmp / "index.html", index.run_index_html(summary))

    failed = [r.name for r in results if r.status != "ok"]
    exit_code = EXIT_FAILED if failed else EXIT_ALERT if alerts else EXIT_OK
    where = run.final.relative_to(config.project_root())
    publish = not failed and full
    if failed:
        log.info(
            "Done: %d of %d ok; not ok: %s. Reports in %s/ (reports/latest and data/exports "
            "unchanged).",
            len(results) - len(failed),
            len(results),
            ", ".join(failed),
            where,
        )
    else:
        log.info(
            "Done: all %d ok%s. Reports in %s/index.html.",
            len(results),
            f", {len(alerts)} alert(s)" if alerts else "",
            where,
        )
    if not failed and not full:
        log.info(
            "Not published: a partial run (--only, --params or -p) never replaces "
            "reports/latest, data/exports or the decision log; its pages stay in %s/.",
            where,
        )
    moves = _prepare_publishing(run, results, log) if publish else []
    shutil.rmtree(run.work, ignore_errors=True)
    _close_log(log)  # before the rename: an open file blocks renaming its folder on Windows
    stop.critical = True  # from here on a stop signal waits: the switch is a few renames
    try:
        os.rename(run.tmp, run.final)
        run.final.chmod(_default_mode())
        if publish:
            for source, target in moves:
                os.replace(source, target)
            point_latest(run.reports, run.run_id)
    finally:
        stop.critical = False
        shutil.rmtree(run.staging, ignore_errors=True)
    overview = index.reports_index_html(
        index.load_runs(run.reports), index.latest_run_id(run.reports)
    )
    config.write_text_atomically(run.reports / "index.html", overview)
    return RunResult(run.run_id, run.final, exit_code, summary)


def write_customer_actions(staged_exports: Path) -> Path | None:
    """THE publishing hook for the customer-actions export (design §4): called with the run's
    staged exports folder before anything is published; None while the project has no
    ``actions`` module."""
    import importlib
    import importlib.util

    name = f"{__package__}.actions"
    if importlib.util.find_spec(name) is None:
        return None
    actions = importlib.import_module(name)  # an error inside actions is a real error
    return actions.write_customer_actions(staged_exports)


def _prepare_publishing(
    run: _RunFolder, results: list[NotebookResult], log: logging.Logger
) -> list[tuple[Path, Path]]:
    """Everything that can fail, done before the first published file is replaced.

    Builds the customer actions from the staged exports, puts each staged file next to its
    target (same disk, so the final ``os.replace`` is atomic) and writes the new decision log
    beside the old one. Returns the (prepared file, target) renames.
    """
    from . import decision_log

    write_customer_actions(run.exports)
    exports = config.exports_dir()
    moves: list[tuple[Path, Path]] = []
    found = run.exports.rglob("*") if run.exports.is_dir() else ()
    staged = sorted(p for p in found if p.is_file())
    for source in staged:
        target = exports / source.relative_to(run.exports)
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.stat(target.parent).st_dev != os.stat(source).st_dev:  # another disk: copy first
            copied = target.with_name(f".{target.name}.{run.run_id}.publish")
            shutil.copyfile(source, copied)
            source = copied
        moves.append((source, target))
    rows = [row for result in results for row in result.decision_log_entries]
    if rows:
        current = decision_log.path()
        staged_log = current.with_name(f".{current.name}.{run.run_id}.publish")
        if current.is_file():
            shutil.copyfile(current, staged_log)
        decision_log.upsert(rows, log=staged_log)
        moves.append((staged_log, current))
    names = ", ".join(str(target.relative_to(config.project_root())) for _, target in moves)
    log.info("Publishing: reports/latest%s.", f", {names}" if names else "")
    return moves


def _default_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o777 & ~umask


def _summary(
    run_id: str,
    started_at: str,
    plans: list[NotebookPlan],
    results: list[NotebookResult],
    alerts: list[dict[str, Any]],
    redactor: Redactor,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": _utc_now(),
        "params": {plan.name: plan.shown_params for plan in plans},
        "notebooks": {r.name: r.to_summary() for r in results},
        "alerts": alerts,
    }
    as_of = [str(r.metrics["data_as_of"]) for r in results if r.metrics.get("data_as_of")]
    if as_of:
        summary["data_as_of"] = max(as_of)  # ISO dates: the newest data any notebook saw
    return redactor.deep(summary)


# --------------------------------------------------------------------------- execution


@dataclass
class _Job:
    plan: NotebookPlan
    process: subprocess.Popen[bytes]
    started: float
    log_file: Any
    timed_out: bool = False
    go_file: Path | None = None  # set for a notebook started ahead of its turn, until its turn

    def path(self, run: _RunFolder, suffix: str) -> Path:
        return run.work / f"{self.plan.name}{suffix}"

    def ended(self, timeout: float) -> bool:
        """Finished, or over its time limit (then it must be stopped)."""
        return self.process.poll() is not None or time.monotonic() - self.started > timeout

    def go(self) -> None:
        """Let a notebook started ahead of its turn run its cells; its time limit starts now."""
        if self.go_file is not None:
            self.go_file.touch()
            self.go_file = None
        self.started = time.monotonic()


def _execute_all(
    plans: list[NotebookPlan],
    options: RunOptions,
    jobs: int,
    run: _RunFolder,
    redactor: Redactor,
    log: logging.Logger,
) -> list[NotebookResult]:
    from tqdm import tqdm

    run.work.mkdir(parents=True, exist_ok=True)
    pending = list(plans)
    running: list[_Job] = []
    # With a core to spare, the next notebook's worker and kernel start (and import what the
    # notebook imports) while the others run, and wait for their turn: one at a time.
    ahead: _Job | None = None
    spare_core = jobs < _cpu_count()
    done: dict[str, NotebookResult] = {}
    last_start = last_tick = 0.0
    bar = tqdm(
        total=len(plans),
        unit="notebook",
        file=sys.stderr,
        disable=not _is_tty(),
        desc="reports",
        leave=True,
    )
    try:
        while pending or running or ahead:
            ended = [job for job in running if job.ended(options.timeout)]
            for job in ended:
                if job.process.poll() is None:  # still running past its time limit
                    job.timed_out = True
                    _kill(job, run)
                running.remove(job)
            # Start the next notebook before making the pages of those that ended: its Python
            # and kernel start-up then overlap the HTML export instead of waiting for it.
            turns = []
            if len(running) < jobs and ahead is not None:
                turns.append(ahead)
                ahead = None
            staggered = time.monotonic() - last_start >= STAGGER_SECONDS
            if pending and len(running) + len(turns) < jobs and staggered:
                turns.append(_launch(pending.pop(0), options, run))
                last_start = time.monotonic()
            elif pending and ahead is None and spare_core and staggered:
                ahead = _launch(pending.pop(0), options, run, ahead=True)
                last_start = time.monotonic()
            for job in turns:
                job.go()
                running.append(job)
            for job in ended:
                result = _finish(job, options, run, redactor, log)
                done[result.name] = result
                bar.update(1)
            for job in turns:  # logged after the pages of the ones before, to read in order
                log.info("%s: started", job.plan.name)
            if time.monotonic() - last_tick >= 1:  # keep the bar's elapsed time ticking
                bar.set_postfix_str(", ".join(job.plan.name for job in running))
                last_tick = time.monotonic()
            time.sleep(POLL_SECONDS)
    finally:
        # Interrupted (Ctrl-C, an error here): leave no kernel behind.
        for job in running + ([ahead] if ahead else []):
            _kill(job, run)
        bar.close()
    return [done[plan.name] for plan in plans]


def _launch(
    plan: NotebookPlan, options: RunOptions, run: _RunFolder, *, ahead: bool = False
) -> _Job:
    """Start the worker of one notebook; ``ahead``: it waits for ``_Job.go`` to run its cells."""
    go_file = run.work / f"{plan.name}.go" if ahead else None
    spec = {
        "input": str(plan.path),
        "output": str(run.tmp / f"{plan.name}.ipynb"),
        "parameters": plan.parameters,
        "cwd": str(config.notebooks_dir()),
        "cell_timeout": options.cell_timeout,
        "start_timeout": min(120.0, options.timeout),
        "kernel_pid_file": str(run.work / f"{plan.name}.kernel.pid"),
        "result": str(run.work / f"{plan.name}.result.json"),
        "metrics": str(run.work / f"{plan.name}.metrics.json"),
        "go_file": str(go_file) if go_file else None,
        "warm_imports": notebook_imports(plan.path) if ahead else [],
        "timeout": options.timeout,  # the worker's own backstop: it ends itself past this
        # a notebook started ahead never waits longer than the whole run can take
        "go_timeout": options.timeout * max(1, len(discover_notebooks())) + 60,
    }
    spec_path = run.work / f"{plan.name}.spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    log_file = (run.work / f"{plan.name}.log").open("wb")
    posix = os.name == "posix"
    process = subprocess.Popen(
        [sys.executable, "-m", f"{__package__}._worker", str(spec_path)],
        cwd=config.project_root(),
        env=_worker_env(run.work / f"{plan.name}.metrics.json", run.exports),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=posix,  # its own process group, so a timeout can kill all of it
        creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP,
    )
    return _Job(plan, process, time.monotonic(), log_file, go_file=go_file)


def notebook_imports(path: Path) -> list[str]:
    """Modules the notebook's code cells import (and ``pkg.name`` of ``from pkg import name``),
    first seen first: what a kernel started ahead of its turn imports while it waits.

    Lines IPython treats as magics or shell commands are skipped, and cells that still are not
    valid Python. Names that are not modules are harmless: the warm-up skips what fails.
    """
    import nbformat

    names: dict[str, None] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names[node.module] = None
                names.update(dict.fromkeys(f"{node.module}.{a.name}" for a in node.names))
    return list(names)


def _worker_env(metrics_file: Path, staged_exports: Path) -> dict[str, str]:
    from . import report

    env = dict(os.environ)
    env[config.ROOT_ENV] = str(config.project_root())
    env[report.METRICS_ENV] = str(metrics_file)
    env[config.EXPORTS_STAGING_ENV] = str(staged_exports)  # exports wait for the run
    # The kernel must import this very package, also when it is not installed (PYTHONPATH=src).
    package_parent = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # silences debugpy's frozen-modules warning
    return env


def _kill(job: _Job, run: _RunFolder) -> None:
    """Kill the notebook's kernel (its own session) and the worker's process group."""
    pid_file = job.path(run, ".kernel.pid")
    with contextlib.suppress(OSError, ValueError):
        _kill_process_group(int(pid_file.read_text(encoding="utf-8")))
    _kill_process_group(job.process.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        job.process.wait(timeout=10)


def _kill_process_group(pid: int) -> None:
    if os.name != "posix":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, check=False)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        group = os.getpgid(pid)
        if group == os.getpgid(0):  # never our own group
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(group, signal.SIGKILL)


def _finish(
    job: _Job,
    options: RunOptions,
    run: _RunFolder,
    redactor: Redactor,
    log: logging.Logger,
) -> NotebookResult:
    import nbformat

    from . import html

    name = job.plan.name
    seconds = round(time.monotonic() - job.started, 1)
    job.log_file.close()
    outcome = _outcome(job, options, run)
    for line in job.path(run, ".log").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and not _NOISE.search(line):
            _detail(log, "[%s] %s", name, line)
    metrics = _read_metrics(job.path(run, ".metrics.json"), name, log)

    executed = run.tmp / f"{name}.ipynb"
    nb = nbformat.read(executed if executed.is_file() else job.plan.path, as_version=4)
    move_summary_first(nb)
    if "papermill" in nb.metadata:  # it names the temporary folder; point at the final one
        nb.metadata.papermill["output_path"] = f"reports/{run.run_id}/{name}.ipynb"
    nb = nbformat.from_dict(redactor.deep(nb))
    nbformat.write(nb, executed)

    error = None
    if outcome["status"] != "ok":
        details = outcome["error"]
        error = {
            "cell": stopped_cell(nb),
            "kind": details["kind"],
            "exception": _masked(redactor, _one_line(details["exception"])),
            "message": _masked(redactor, plain_problem(details, options)),
        }
        _log_failure(log, name, outcome["status"], seconds, error["cell"], details)
    else:
        log.info("%s: ok in %.1fs", name, seconds)
    page = html.Page(
        notebook=name,
        run_id=run.run_id,
        status=outcome["status"],
        problem=error["message"] if error else None,
        stopped_cell=error["cell"] if error else None,
        data_as_of=metrics.get("data_as_of"),
        params=redactor.deep(job.plan.shown_params),
        generated_at=_utc_now(),
    )
    try:
        page_html = html.notebook_html(nb, page)
    except Exception as problem:  # noqa: BLE001 - one bad page must not lose the whole run
        # Without its page the report cannot be shared, so the run does not count as complete.
        exception = _masked(redactor, _one_line(f"{type(problem).__name__}: {problem}"))
        log.error("%s: the HTML page could not be made: %s", name, exception)
        message = "The page of this report could not be made."
        error = {"cell": None, "kind": "html", "exception": exception, "message": message}
        outcome = {"status": "failed"}
        page_html = html.error_page(name, run.run_id, message)
    config.write_text_atomically(run.tmp / f"{name}.html", redactor.text(page_html))
    return NotebookResult(name, outcome["status"], seconds, redactor.deep(metrics), error)


def _outcome(job: _Job, options: RunOptions, run: _RunFolder) -> dict[str, Any]:
    if job.timed_out:
        message = (
            f"TimeoutError: stopped after the {options.timeout:g} s limit for one "
            "notebook (--timeout)."
        )
        return {"status": "timeout", "error": {"kind": "timeout", "exception": message}}
    try:
        outcome = json.loads(job.path(run, ".result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        code = job.process.returncode
        message = f"WorkerError: the notebook process ended with exit code {code}; see run.log."
        return {"status": "failed", "error": {"kind": "crash", "exception": message}}
    return outcome


USER_ERRORS = frozenset({"UserError"})  # errors.UserError: shown as its message, no traceback


def plain_problem(details: Mapping[str, Any], options: RunOptions) -> str:
    """What a stakeholder's page says went wrong: plain words, no code, traceback or path."""
    kind = details.get("kind")
    if kind == "error" and details.get("ename") in USER_ERRORS:
        first = _one_line(details.get("message") or details["exception"].partition(": ")[2])
        return without_paths(first)
    return {
        "timeout": f"It ran longer than its time limit ({options.timeout:g} seconds).",
        "cell_timeout": f"One step ran longer than its limit ({options.cell_timeout:g} seconds).",
        "dead_kernel": "The analysis stopped abruptly, often because the data did not fit "
        "in memory.",
        "kernel_start": "The notebook engine did not start.",
        "crash": "The report's process ended unexpectedly.",
    }.get(kind, "A step failed because of an unexpected error in the analysis.")


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+)+/([\w.@+-]+)")


def without_paths(text: str) -> str:
    """Text with project paths made relative and other absolute paths cut to their last part."""
    root = str(config.project_root())
    text = text.replace(root + os.sep, "").replace(root, ".")
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _masked(redactor: Redactor, text: str) -> str:
    return config.mask_pii(redactor.text(text))


def _log_failure(
    log: logging.Logger,
    name: str,
    status: str,
    seconds: float,
    cell: int | None,
    details: Mapping[str, Any],
) -> None:
    """A user error in full (table, column, examples) on the console and in run.log; any
    other error in one line there, its traceback in run.log only."""
    if details.get("ename") in USER_ERRORS and details.get("message"):
        log.error(
            "%s: %s after %.1fs at cell %s:\n%s", name, status, seconds, cell, details["message"]
        )
        return
    log.error(
        "%s: %s after %.1fs at cell %s: %s",
        name,
        status,
        seconds,
        cell,
        _one_line(details["exception"]),
    )
    if details.get("traceback"):
        _detail(log, "%s: traceback\n%s", name, details["traceback"])


def _one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(lines) > 1 or len(line) > limit:
        line = line[:limit].rstrip() + " …"
    return line


def _read_metrics(path: Path, name: str, log: logging.Logger) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        log.warning("%s: the recorded values could not be read (%s); ignored.", name, path.name)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def move_summary_first(nb: Any) -> Any:
    """Put the ``executive-summary`` cell(s) right after the title (first Markdown) cell.

    Papermill's error banner cells are not a title, so they are skipped. Returns ``nb``,
    changed in place.
    """
    from . import html, report

    summary = [c for c in nb.cells if report.SUMMARY_TAG in c.get("metadata", {}).get("tags", [])]
    if not summary:
        return nb
    rest = [c for c in nb.cells if all(c is not s for s in summary)]
    title = next(
        (
            i
            for i, c in enumerate(rest)
            if c.cell_type == "markdown"
            and html.PAPERMILL_ERROR_TAG not in c.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    at = 0 if title is None else title + 1
    nb.cells = rest[:at] + summary + rest[at:]
    return nb


def stopped_cell(nb: Any) -> int | None:
    """Index of the cell where a run stopped: the first error output, else the last started."""
    for index, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        if any(output.get("output_type") == "error" for output in outputs):
            return index
    started = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running"
    ] or [
        index
        for index, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


# --------------------------------------------------------------------------- run folder


@contextlib.contextmanager
def _run_lock(reports: Path, wait: float) -> Iterator[None]:
    """Hold ``reports/.lock`` (an OS file lock: released even if this process is killed)."""
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / ".lock"
    with path.open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                waited = f" after waiting {wait:g} s" if wait else ""
                raise RunLocked(
                    f"Another report run is in progress ({holder}), so this one did not "
                    f"start{waited}. Let it finish, or pass --wait SECONDS to queue behind it. "
                    f"(Lock file: {path})"
                )
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {_utc_now()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()  # an idle lock file names no one
            handle.flush()
            _unlock(handle)


def _try_lock(handle: Any) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: Any) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _new_run_id(reports: Path, requested: str | None) -> str:
    def taken(candidate: str) -> bool:
        return (reports / candidate).exists() or (reports / f".tmp-{candidate}").exists()

    if requested:
        if taken(requested):
            raise UserError(f"reports/{requested} already exists: choose another --run-id.")
        return requested
    base = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%MZ")
    candidate, number = base, 1
    while taken(candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def point_latest(reports: Path, run_id: str) -> None:
    """Switch ``reports/latest`` to the run atomically; ``reports/LATEST`` names it too.

    ``latest`` is a symlink replaced with ``os.replace``; where symlinks cannot be made (some
    Windows set-ups, network shares) it is a copy of the run folder, swapped in by renames.
    """
    link = reports / "latest"
    temporary = reports / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:
        os.symlink(run_id, temporary, target_is_directory=True)
    except (OSError, NotImplementedError):  # no symlinks here (some Windows / network shares)
        _copy_latest(reports, run_id)
    else:
        if link.is_dir() and not link.is_symlink():  # an older copy from the fallback
            _swap_directory(link, temporary)
        else:
            os.replace(temporary, link)
    config.write_text_atomically(reports / "LATEST", f"{run_id}\n")


def _copy_latest(reports: Path, run_id: str) -> None:
    fresh = reports / f".latest-new-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(reports / run_id, fresh)
    _swap_directory(reports / "latest", fresh)


def _swap_directory(target: Path, replacement: Path) -> None:
    old = target.with_name(f".latest-old-{os.getpid()}")
    if target.exists() or target.is_symlink():
        os.rename(target, old)
    os.rename(replacement, target)
    if old.is_symlink():
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- logging


def _open_log(path: Path, run_id: str, redactor: Redactor) -> logging.Logger:
    """run.log gets everything; the console gets progress lines (not worker detail)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger(f"{__name__}.run.{run_id}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addFilter(_RedactFilter(redactor))
    to_file = _QuietFileHandler(path, encoding="utf-8")
    to_file.setFormatter(_UTCFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    log.addHandler(to_file)
    console: logging.Handler = _TqdmHandler() if _is_tty() else logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    console.addFilter(lambda record: not getattr(record, "detail", False))
    log.addHandler(console)
    return log


def _close_log(log: logging.Logger) -> None:
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)
    log.filters.clear()


def _detail(log: logging.Logger, message: str, *args: Any) -> None:
    log.info(message, *args, extra={"detail": True})


class _QuietFileHandler(logging.FileHandler):
    """A full disk must not print a logging traceback per line; the run reports it once."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        pass


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", self.converter(record.created))


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _is_tty() -> bool:
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


# --------------------------------------------------------------------------- new notebook


def new_notebook(name: str) -> Path:
    """Create ``notebooks/NAME.ipynb`` from the house skeleton, and ``params/NAME.yaml``.

    Raises
    ------
    UserError
        When the name is not a usable file name or the notebook already exists.
    """
    import nbformat

    name = name.removesuffix(".ipynb")
    if not _NOTEBOOK_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "weekly_kpis"
        if not suggestion[0].isalpha():
            suggestion = f"report_{suggestion}"
        raise UserError(
            f"{name!r} cannot be a notebook name: use lowercase letters, digits and underscores, "
            f"starting with a letter (for example {suggestion!r})."
        )
    if name in _RESERVED_NAMES:
        raise UserError(
            f"{name!r} is reserved (params/{name}.yaml or reports/{name} has "
            f"another meaning): choose another name, e.g. {name}_report."
        )
    notebook = config.notebooks_dir() / f"{name}.ipynb"
    params = config.params_dir() / f"{name}.yaml"
    for existing in (notebook, params):
        if existing.exists():
            raise UserError(
                f"{existing.relative_to(config.project_root())} already exists: "
                "choose another name or edit that file."
            )

    nb = nbformat.read(SKELETON, as_version=4)
    title = name.replace("_", " ").capitalize()
    for cell in nb.cells:
        cell.source = cell.source.replace("REPORT_TITLE", title).replace("REPORT_NAME", name)
        cell.source = re.sub(rf"\b{_SKELETON_MODULE}\b", _project.MODULE_NAME, cell.source)
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(
                r'^currency: str = "[A-Z]{3}"',
                f"currency: str = {json.dumps(_project.CURRENCY)}",
                cell.source,
                flags=re.M,
            )
    nb.metadata.setdefault("shop_kit", {}).update(
        {"project": _project.PROJECT_NAME, "team": _project.TEAM}
    )
    nbformat.validate(nb)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    params.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, notebook)
    params.write_text(
        f"# Parameters of notebooks/{name}.ipynb; they override params/defaults.yaml.\n"
        "# Only names declared in the notebook's parameters cell are used, e.g.\n"
        "# lookback_days: 90\n",
        encoding="utf-8",
    )
    return notebook


# --------------------------------------------------------------------------- small helpers


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
