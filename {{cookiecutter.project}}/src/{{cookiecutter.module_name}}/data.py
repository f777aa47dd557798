"""Loading the shop data and checking it against the data contract.

- ``connect()`` opens the data: the database named by the environment variable
  ``SHOP_DATA_URL`` (PostgreSQL, BigQuery, Snowflake, Trino, ... through Ibis), or else an
  in-memory DuckDB with one view per table file found in the data folder.
- ``table(con, name)`` gives a contract table with its columns cast to their logical types.
- ``validate()`` checks every rule of the contract (see ``contract.py``) with aggregate queries
  that run inside the engine, and reports every problem in plain words; ``check()`` is the gate
  a notebook calls first.
- ``contract_markdown()`` is the data contract as a Markdown reference.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import gzip
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound

from . import _project, config, contract, spark
from .errors import UserError

DEFAULT_DATA_DIR = "data/sample"
ERROR = "error"
WARNING = "warning"
MAX_EXAMPLES = 5
OUTLIER_FACTOR = 100  # an order this many times the median order is flagged as suspicious
LIKERT_RANGE = (1, 5)

# Text accepted as a number / a date-time. Checked with a regular expression before casting so
# that the same values count as unparseable on every engine: PostgreSQL has no TRY_CAST (Ibis
# compiles it to a plain CAST, which would fail the whole query on one bad value).
_NUMBER_RE = r"^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
# ISO 8601 dates and date-times, optionally with Z or a +HH:MM offset (no space before the
# offset: DuckDB rejects it): only forms that DuckDB and PostgreSQL read the same way. Up to
# nine fraction digits (Arrow writes nanoseconds); beyond microseconds PostgreSQL rounds and
# DuckDB truncates, a difference of at most one microsecond.
_TIMESTAMP_RE = (
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([Tt ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?([Zz]|[-+][0-9]{2}(:?[0-9]{2})?)?)?$"
)
_TRUE_WORDS = ("true", "t", "yes", "y", "1")
_FALSE_WORDS = ("false", "f", "no", "n", "0")
_TABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPED_PREFIX = "shop_typed__"  # staged copies of columns during validation
# Personal data where an anonymous id belongs: an email address, or a phone number written as
# one (a leading + or the usual separators; plain digits are ordinary numeric ids).
EMAIL_RE = r"^[^@\s]+@[^@\s]+[.][A-Za-z]{2,}$"
PHONE_RE = r"^[+][0-9][0-9 ().-]{6,18}[0-9]$|^[(]?[0-9]{3}[)]?[ .-][0-9]{3}[ .-][0-9]{4}$"

_TYPE_WORDS = {
    "string": "text",
    "int": "whole number",
    "float": "number",
    "bool": "true/false",
    "timestamp": "date-time (UTC)",
}
_IBIS_TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "timestamp": "timestamp",
}
_NOT_A = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false (or yes/no, 1/0)",
    "timestamp": "a date (expected e.g. 2024-03-31 or 2024-03-31 14:05:00, optionally with "
    "a +HH:MM offset)",
}
_TYPE_RULES = {
    "int": "values must be whole numbers",
    "float": "values must be numbers",
    "bool": "values must be true or false",
    "timestamp": "values must be dates or date-times",
}


# --------------------------------------------------------------------------------------------
# Connecting


@dataclass
class _Source:
    """Where a connection's tables come from, kept on the backend for clear messages."""

    kind: str  # "folder" | "url" | "import" | "connection"
    folder: Path | None = None
    unreadable: dict[str, str] = field(default_factory=dict)  # table -> why it cannot be read
    label: str | None = None  # how messages name the source, when not a folder or URL

    def where(self) -> str:
        if self.label:
            return self.label
        if self.kind == "folder":
            return f"the data folder {self.folder}"
        return f"the database named by {config.DATA_URL_ENV}"


def default_data_dir() -> Path:
    """The ``data_dir`` of ``params/defaults.yaml`` (default ``data/sample``), made absolute."""
    defaults = config.params_dir() / "defaults.yaml"
    params = config.read_yaml(defaults) if defaults.is_file() else {}
    return config.resolve(params.get("data_dir") or DEFAULT_DATA_DIR)


def connect(data_dir: str | Path | None = None) -> ibis.BaseBackend:
    """Open the shop data.

    Parameters
    ----------
    data_dir
        Folder of table files (``<table>.parquet``, ``<table>.csv`` or a folder ``<table>/`` of
        Parquet parts); when omitted, the ``data_dir`` of ``params/defaults.yaml``.
        The database in the environment variable ``SHOP_DATA_URL`` wins when it is set: every
        notebook passes its ``data_dir`` parameter, and a scheduler switches the whole run to
        the warehouse by setting the variable alone.

    Returns
    -------
    ibis.BaseBackend
        An Ibis connection; read tables with :func:`table`.
    """
    url = os.environ.get(config.DATA_URL_ENV, "").strip()
    if url:
        return _connect_url(url)
    folder = config.resolve(data_dir) if data_dir is not None else default_data_dir()
    return _connect_folder(folder)


def _connect_url(url: str) -> ibis.BaseBackend:
    credentials = config.parse_credentials(url)  # a raw @ or / in a password: refused here
    if spark.is_spark_url(url):
        return _connect_spark(url, credentials)
    scheme = urlsplit(url).scheme
    if not scheme:
        raise UserError(
            f"The environment variable {config.DATA_URL_ENV} does not hold a connection URL; "
            f"expected e.g. postgresql://user:password@host:5432/shop."
        )
    try:
        con = ibis.connect(url)
    except Exception as error:  # any driver error: re-raised in plain words, URL scrubbed
        reason = _scrub(str(error), credentials).rstrip(".")
        if isinstance(error, ImportError) or "dependencies" in reason:
            advice = f"install the Ibis driver: pip install 'ibis-framework[{scheme}]'"
        else:
            advice = (
                "check that variable (host, port, database, user, password) and that the "
                "server is running and reachable"
            )
        # "from None": the original traceback could quote the URL, password included
        raise UserError(
            f"Could not connect to the database named by the environment variable "
            f"{config.DATA_URL_ENV} (a {scheme} URL): {reason}. Please {advice}."
        ) from None
    con._shop_source = _Source("url")
    return con


def _connect_spark(url: str, credentials: config.UrlCredentials) -> ibis.BaseBackend:
    """A Spark session (local, a master or Spark Connect) with the shop's tables: Parquet files
    of ``?parquet=FOLDER`` as views, else the catalog's tables (``?database=``); with neither,
    a local Spark reads the Parquet files of the data folder (``data_dir``)."""
    target = spark.parse_target(url)
    parquet = target.parquet
    if parquet is None and target.database is None and target.kind == "local":
        parquet = str(default_data_dir())
        target = dataclasses.replace(target, parquet=parquet)
    try:
        session = spark.start_session(target)
        if target.database:
            spark.use_database(session, target.database)
        con = ibis.pyspark.connect(session)
    except UserError:
        raise
    except Exception as error:  # JVM and gRPC errors: plain words, the URL and token scrubbed
        reason = _scrub(str(error), credentials).rstrip(".")
        if target.kind == "connect":
            advice = (
                "check the host, the port and the token (Databricks: the workspace host, port "
                "443, use_ssl=true, a personal access token in SHOP_SPARK_TOKEN and "
                "x-databricks-cluster-id), and that the endpoint is running and reachable"
            )
        else:
            advice = f"check that Java 17 works (java -version) and that {target.master} is right"
        raise UserError(
            f"Could not start Spark for {config.DATA_URL_ENV} ({target.kind} Spark): {reason}. "
            f"Please {advice}."
        ) from None
    label = f"the Spark {'Connect endpoint' if target.kind == 'connect' else target.master}"
    source = _Source("url", label=label)
    if parquet:
        source.label = f"the Parquet folder {parquet} read by {label}"
        _register_spark_parquet(con, parquet, source)
    con._shop_source = source
    return con


def _register_spark_parquet(con: ibis.BaseBackend, folder: str, source: _Source) -> None:
    """One temporary view per ``<table>.parquet`` or ``<table>/`` folder of Parquet parts."""
    local = "://" not in folder and not folder.startswith("dbfs:")
    if not local:  # an object store: every contract table under the folder, as a folder
        for name in contract.TABLES:
            try:
                con.read_parquet(f"{folder.rstrip('/')}/{name}", table_name=name)
            except Exception:  # noqa: S112 - an absent optional table is no error
                continue
        return
    path = config.resolve(folder)
    if not path.is_dir():
        raise UserError(
            f"The Parquet folder {path} named by parquet= in {config.DATA_URL_ENV} does not "
            "exist. Run `make data` for the sample shop, or write the path of the folder holding "
            "<table>.parquet files."
        )
    for name, paths in _table_files(path).items():
        chosen = [p for p in paths if p.is_dir() or p.name.endswith(".parquet")]
        if not chosen:
            source.unreadable[name] = (
                f"{paths[0]} is a CSV file; Spark reads the shop's tables from Parquet. Convert it "
                f"(`python -m {_project.MODULE_NAME} import {paths[0].name} --use` writes "
                "Parquet), "
                "or read it with DuckDB (unset SHOP_DATA_URL)."
            )
            continue
        if len(chosen) > 1:
            found = ", ".join(p.name for p in chosen)
            source.unreadable[name] = f"{path} holds the table {name} more than once ({found})."
            continue
        try:
            con.read_parquet(str(chosen[0]), table_name=name)
        except Exception as error:
            reason = _first_line(error)
            if "NANOS" in reason:
                reason = (
                    "its timestamps are in nanoseconds, which Spark does not read; write them in "
                    "microseconds (pyarrow: pq.write_table(..., coerce_timestamps='us'); "
                    f"`python -m {_project.MODULE_NAME} import` does)"
                )
            source.unreadable[name] = f"{chosen[0]} could not be read: {reason}"


def _scrub(message: str, credentials: config.UrlCredentials) -> str:
    """An error message without the URL or its credentials (parsed parts, every spelling)."""
    first_line = (message.strip().splitlines() or ["unknown error"])[0]
    for secret in credentials.secrets:
        if config.is_strong_secret(secret):
            first_line = first_line.replace(secret, "***")
        else:  # a plain word: only where it stands as the credential
            first_line = re.sub(rf"(?<=:){re.escape(secret)}(?=@)", "***", first_line)
            first_line = re.sub(
                rf"(?i)(password\W{{0,3}}){re.escape(secret)}\b", r"\1***", first_line
            )
    return first_line[:300]


def _connect_folder(folder: Path) -> ibis.BaseBackend:
    if not folder.is_dir():
        raise UserError(
            f"The data folder {folder} does not exist. Run `make data` for the sample shop, "
            f"or set data_dir in params/defaults.yaml to the folder holding your tables, or set "
            f"{config.DATA_URL_ENV} to read from a database."
        )
    con = ibis.duckdb.connect()
    source = _Source("folder", folder=folder)
    for name, paths in _table_files(folder).items():
        if len(paths) > 1:
            found = ", ".join(p.name for p in paths)
            source.unreadable[name] = (
                f"{folder} holds the table {name} more than once ({found}); keep one of them."
            )
            continue
        problem = _register(con, name, paths[0])
        if problem:
            source.unreadable[name] = problem
    con._shop_source = source
    return con


def _table_files(folder: Path) -> dict[str, list[Path]]:
    """Table name -> files or folders that could hold it."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        name = _table_name_of(path)
        if name and _TABLE_NAME_RE.match(name):
            found.setdefault(name, []).append(path)
    return found


def _table_name_of(path: Path) -> str | None:
    if path.name.startswith((".", "_")):  # hidden files and half-written temporary files
        return None
    if path.is_dir():
        return path.name if any(path.rglob("*.parquet")) else None
    for suffix in (".parquet", ".csv", ".csv.gz"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _register(con: ibis.BaseBackend, name: str, path: Path) -> str | None:
    """Create the DuckDB view for one table; the reason when the file cannot be read."""
    try:
        if path.is_dir():
            con.read_parquet(str(path / "**" / "*.parquet"), table_name=name, union_by_name=True)
        elif path.name.endswith(".parquet"):
            con.read_parquet(str(path), table_name=name)
        else:
            problem = _csv_problem(path)
            if problem:
                return problem
            header = _csv_header(con, path)
            if len(header) == 1 and any(mark in header[0] for mark in ",;\t|"):
                return (
                    f"{path} could not be read as a table: its lines do not all have as many "
                    f"fields as the header line (a value with a comma but no quotes?)."
                )
            con.read_csv(
                str(path), table_name=name, types=_text_columns(name, header), **_CSV_OPTIONS
            )
    except Exception as error:  # DuckDB's parser errors are long; keep the first line
        return f"{path} could not be read: {_first_line(error)}"
    return None


# The first line is the header: without skip=0 DuckDB's sniffer may skip lines to find a
# "better" dialect, and then takes a data line of a ragged file for the header.
_CSV_OPTIONS = {"header": True, "skip": 0}


def _csv_header(con: ibis.BaseBackend, path: Path) -> list[str]:
    quoted = str(path).replace("'", "''")
    described = con.con.execute(
        f"DESCRIBE SELECT * FROM read_csv('{quoted}', all_varchar = true, header = true, skip = 0)"
    ).fetchall()
    return [row[0] for row in described]


def _text_columns(name: str, header: Sequence[str]) -> dict[str, str]:
    """Contract columns of a CSV are read as text, so ids keep leading zeros and every value
    can be checked (DuckDB's type sniffing would silently turn ``007`` into 7)."""
    spec = contract.TABLES.get(name)
    wanted = {c.name for c in spec.columns} if spec else set()
    return {
        column: "VARCHAR"
        for column in header
        if column in wanted or column.startswith(contract.LIKERT_PREFIX)
    }


def _csv_problem(path: Path) -> str | None:
    if path.stat().st_size == 0:
        return f"The file {path} is empty (not even a header line)."
    return utf8_problem(path)


def utf8_problem(path: Path) -> str | None:
    """Why a CSV file is not UTF-8 text, or None when it is (read in chunks, any size)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with opener(path, "rb") as stream:
        head = stream.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            return _encoding_message(path, "is saved as UTF-16 (Excel's 'Unicode Text')")
        chunk = head
        while True:
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                line += chunk[: error.start].count(b"\n")
                bad = chunk[error.start : error.start + 4]
                return _encoding_message(
                    path, f"is not UTF-8 text (line {line} holds the bytes {bad!r})"
                )
            if not chunk:
                return None
            line += chunk.count(b"\n")
            chunk = stream.read(1 << 20)


def _encoding_message(path: Path, what: str) -> str:
    return (
        f"The file {path} {what}, which usually means it was saved as Windows-1252/Latin-1 "
        f"(Excel's plain 'CSV'). Save it again as UTF-8 (Excel: File > Save As > 'CSV UTF-8'; "
        f"Google Sheets exports UTF-8), or import it with `python -m {_project.MODULE_NAME} "
        f"import` and `encoding: cp1252` in the column map."
    )


def _source_of(con: ibis.BaseBackend) -> _Source:
    # a connection made elsewhere (a test, a notebook's own ibis.connect) is just "the database"
    return getattr(con, "_shop_source", None) or _Source("connection", label="the database")


# --------------------------------------------------------------------------------------------
# Reading tables


def has_table(con: ibis.BaseBackend, name: str) -> bool:
    """Whether the data holds the table (a file that cannot be read counts: ``table`` explains)."""
    try:
        return _lookup(con, name) is not None
    except ValueError:
        return True


def _raw_table(con: ibis.BaseBackend, name: str) -> ir.Table:
    raw = _lookup(con, name)
    if raw is None:
        raise UserError(_missing_table_message(name, _source_of(con)))
    return raw


def _missing_table_message(name: str, source: _Source) -> str:
    if source.kind == "folder":
        return (
            f"The table {name} was not found: there is no {name}.parquet, {name}.csv or "
            f"{name}/ folder in {source.folder}. Run `make data` for the sample shop, or put "
            f"your export there (see `python -m {_project.MODULE_NAME} contract`)."
        )
    return (
        f"The table {name} was not found in {source.where()}: create a table or view named "
        f"{name} with the contract's columns (see `python -m {_project.MODULE_NAME} contract`)."
    )


def table(con: ibis.BaseBackend, name: str) -> ir.Table:
    """A contract table with its columns cast to their logical types.

    Timestamps become UTC timestamps without a time zone; values that cannot be read as their
    type become NULL (run :func:`check` first to hear about them). Optional columns the data
    lacks are added as empty (NULL) columns, so analysis code can rely on the full contract.
    Columns outside the contract are kept (``likert_*`` cast to whole numbers).
    """
    raw = _raw_table(con, name)
    spec = contract.TABLES.get(name)
    if spec is None:
        return raw
    missing = [c for c in spec.required_columns if c not in raw.columns]
    if missing:
        raise UserError(
            f"The {name} table has no column {', '.join(missing)}. "
            f"{_columns_found(raw.columns, missing[0])} Rename the column in your data or "
            f"import the file with a column map (params/import.yaml)."
        )
    columns: dict[str, ir.Value] = {}
    for column in spec.columns:
        if column.name in raw.columns:
            columns[column.name] = _cast(raw[column.name], column.dtype).typed
        else:
            columns[column.name] = ibis.null(_IBIS_TYPES[column.dtype])
    for name_ in raw.columns:
        if name_ not in columns:
            is_likert = name_.startswith(contract.LIKERT_PREFIX)
            columns[name_] = _cast(raw[name_], "int").typed if is_likert else raw[name_]
    return raw.select(**columns)


def _columns_found(found: Sequence[str], wanted: str) -> str:
    near = [c for c in found if c.strip().lower() == wanted.lower()]
    hint = f" (found {near[0]!r}: names are case-sensitive)" if near else ""
    shown = ", ".join(list(found)[:20]) + (", ..." if len(found) > 20 else "")
    return f"Columns found: {shown or 'none'}{hint}."


def fetch(expr: ir.Table) -> pd.DataFrame:
    """A large result (one row per customer, say) as a DataFrame, converted by Arrow.

    On DuckDB not ``expr.execute()``: Ibis's DuckDB backend turns every column that holds a
    null into a list of Python objects and builds the frame twice, seconds per million
    customers. Arrow converts each column as it is (``split_blocks``: no copy into 2-D blocks);
    integer columns with nulls come back as floats (NaN), as with ``execute``. Other engines
    keep ``execute``: PostgreSQL's ``to_pyarrow`` fails on numeric (Decimal) results.
    """
    if ibis.get_backend(expr).name != "duckdb":
        return expr.execute()
    return expr.to_pyarrow().to_pandas(split_blocks=True)


def as_of(con: ibis.BaseBackend) -> pd.Timestamp | None:
    """The latest order time (UTC): the "data as of" date of a report; None without orders."""
    return _latest_order_time(con)


def _latest_order_time(con: ibis.BaseBackend) -> pd.Timestamp | None:
    latest = table(con, "orders").ordered_at.max().execute()
    return None if pd.isna(latest) else pd.Timestamp(latest)


def parse_date(value: object, name: str = "as_of") -> dt.date:
    """A parameter given as YYYY-MM-DD (text, or a date YAML already read), or a UserError."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UserError(
            f"{name}={value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30."
        ) from None


@dataclass(frozen=True)
class AnalysisDate:
    """The day a report looks back from, and the instant its data ends."""

    day: dt.date
    end: pd.Timestamp  # midnight after ``day`` (UTC): everything before it counts

    @property
    def start_of_day(self) -> pd.Timestamp:
        return self.end - pd.Timedelta(days=1)


def analysis_date(con: ibis.BaseBackend, as_of: object = "") -> AnalysisDate:
    """The one ``as_of`` convention of every report: the whole of the given day counts; empty
    means the day of the latest order (also the whole day), so both spellings of the same day
    give the same results."""
    if as_of in ("", None):
        latest = _latest_order_time(con)
        if latest is None:
            raise UserError("The orders table has no orders, so there is no date to report on.")
        day = latest.date()
    else:
        day = parse_date(as_of)
    return AnalysisDate(day=day, end=pd.Timestamp(day) + pd.Timedelta(days=1))


# --------------------------------------------------------------------------------------------
# Casting to the contract's logical types


@dataclass(frozen=True)
class _Cast:
    """A column cast to its logical type, with the rows that are blank or cannot be read."""

    typed: ir.Value
    missing: ir.BooleanValue  # NULL, blank text or NaN
    unreadable: ir.BooleanValue | None  # has a value that is not of the type (None: cannot be)
    physical: str


_WHITESPACE = r"[\s\x0B]+"  # Python's string.whitespace (\s lacks the vertical tab in RE2)


def _trim(text: ir.StringValue) -> ir.StringValue:
    """Text without leading and trailing whitespace, the same on every engine.

    Not ``strip()``: Ibis 12 compiles it for Spark as ``trim(x, ' \t\n\rvf')`` (the escapes of
    vertical tab and form feed lost), which also strips the letters v and f (``false`` became
    ``alse``), and the same loss hits those characters in any literal. A regular expression
    with escapes reads the same on DuckDB (RE2), PostgreSQL and Spark (Java).
    """
    return text.re_replace(f"^{_WHITESPACE}|{_WHITESPACE}$", "")


def _cast(raw: ir.Value, logical: str) -> _Cast:
    physical = raw.type()
    missing = raw.isnull()
    if physical.is_string():
        text = _trim(raw)
        missing = missing | (text == "")
        typed = raw if logical == "string" else _from_text(text, logical)
    elif physical.is_floating():
        missing = missing | raw.isnan()
        typed = _from_number(raw, logical, physical)
    elif physical.is_numeric():
        typed = _from_number(raw, logical, physical)
    elif physical.is_boolean() and logical in ("bool", "string"):
        typed = raw.cast(_IBIS_TYPES[logical])
    elif (physical.is_timestamp() or physical.is_date()) and logical in ("timestamp", "string"):
        # tz-aware times become UTC wall-clock times: Ibis sets the session time zone to UTC
        typed = raw.cast("timestamp").cast(_IBIS_TYPES[logical])
    else:
        typed = raw.cast("string") if logical == "string" else ibis.null(_IBIS_TYPES[logical])
    can_fail = logical != "string" and not _same_kind(physical, logical)
    unreadable = (~missing & typed.isnull()) if can_fail else None
    return _Cast(typed, missing, unreadable, str(physical))


def _same_kind(physical: Any, logical: str) -> bool:
    return (
        (logical == "float" and physical.is_numeric())
        or (logical == "int" and physical.is_integer())
        or (logical == "bool" and physical.is_boolean())
        or (logical == "timestamp" and (physical.is_timestamp() or physical.is_date()))
    )


def _from_text(text: ir.StringValue, logical: str) -> ir.Value:
    if logical == "bool":
        word = text.lower()
        return ibis.cases(
            (word.isin(_TRUE_WORDS), True),
            (word.isin(_FALSE_WORDS), False),
            else_=ibis.null("boolean"),
        )
    if logical == "timestamp":
        parsed = ibis.cases(
            (text.re_search(_TIMESTAMP_RE), text.try_cast("timestamp('UTC')")),
            else_=ibis.null("timestamp('UTC')"),
        )
        return parsed.cast("timestamp")
    number = ibis.cases(
        (text.re_search(_NUMBER_RE), text.try_cast("float64")), else_=ibis.null("float64")
    )
    return _from_number(number, logical, number.type())


def _from_number(value: ir.NumericValue, logical: str, physical: Any) -> ir.Value:
    if logical == "float":
        return value.cast("float64")
    if logical == "int":
        if physical.is_integer():
            return value.cast("int64")
        number = value.cast("float64")  # decimals too: isnan() is defined for floats only
        whole = number.notnull() & ~number.isnan() & ~number.isinf() & (number == number.floor())
        return ibis.cases((whole, number.cast("int64")), else_=ibis.null("int64"))
    if logical == "bool":
        return ibis.cases((value == 1, True), (value == 0, False), else_=ibis.null("boolean"))
    if logical == "string":
        return value.cast("string")
    return ibis.null(_IBIS_TYPES[logical])  # numbers are not accepted as dates


# --------------------------------------------------------------------------------------------
# Validation report


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, how many rows, a few example rows and a plain explanation."""

    severity: str  # "error" | "warning"
    table: str
    column: str | None
    rule: str
    count: int
    examples: tuple[dict[str, Any], ...]
    message: str

    def to_text(self, *, mask_ids: bool = True) -> str:
        """The problem in one line; ids of people in the examples are masked (``ab***yz``)
        unless ``mask_ids`` is False, and email- or phone-like values always are."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where} — {self.message.rstrip('.')} (rule: {self.rule})."
        if self.examples:
            shown = ", ".join(_format_example(e, mask_ids) for e in self.examples)
            text += " Examples: " + shown
        return text


# Ids of people: masked in every message that may reach a log or a page.
PERSON_ID_COLUMNS = frozenset({"customer_id", "visitor_id", "unit_id"})


def is_identifier_column(name: str) -> bool:
    """Columns holding ids (``customer_id``, ``order_id``, ``unit_id``...): checked for emails
    and phone numbers, which have no place in an id."""
    return name.endswith("_id") and name != "experiment_id"


mask_identifier = config.mask_identifier
mask_pii = config.mask_pii


def _format_example(example: dict[str, Any], mask_ids: bool = True) -> str:
    shown = []
    for key, value in example.items():
        personal = isinstance(value, str) and bool(
            re.match(EMAIL_RE, value.strip()) or re.match(PHONE_RE, value.strip())
        )
        if value is not None and ((mask_ids and key in PERSON_ID_COLUMNS) or personal):
            shown.append(f"{key}={mask_identifier(value)}")
        else:
            shown.append(f"{key}={mask_pii(_format_value(value))}")
    return " ".join(shown)


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "(blank)"
    if isinstance(value, pd.Timestamp | dt.datetime):
        return pd.Timestamp(value).isoformat(sep=" ")
    if isinstance(value, str) and (not value.strip() or re.search(r"[\s=,]", value)):
        return repr(value)
    return str(value)


@dataclass
class ValidationReport:
    """Every problem found, with the tables checked and their row counts."""

    problems: list[Problem]
    rows: dict[str, int]
    source: str

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_text(self, *, include_warnings: bool = True, mask_ids: bool = True) -> str:
        """The report in plain words, grouped by table: errors first, then warnings.

        Identifier values in examples are masked unless ``mask_ids`` is False (the ``validate``
        command, on the user's own screen); email- and phone-like values always are."""
        shown = [p for p in self.problems if include_warnings or p.severity == ERROR]
        checked = ", ".join(f"{name} ({n:,} rows)" for name, n in self.rows.items())
        headline = (
            f"Checked {self.source}: {_plural(len(self.errors), 'error')}, "
            f"{_plural(len(self.warnings), 'warning')}."
        )
        lines = [headline, f"Tables: {checked or 'none'}."]
        in_contract_order = sorted(
            dict.fromkeys(p.table for p in shown), key=lambda t: _table_rank(t)
        )
        for name in in_contract_order:
            lines += ["", name]
            for problem in sorted(
                (p for p in shown if p.table == name), key=lambda p: p.severity != ERROR
            ):
                text = problem.to_text(mask_ids=mask_ids)
                lines.append(f"  {problem.severity.upper()}: {text}")
        if self.ok:
            lines += [
                "",
                "The data meets the contract."
                if not self.warnings
                else "The data meets the contract; the warnings are worth a look.",
            ]
        return "\n".join(lines)


def _table_rank(name: str) -> int:
    names = list(contract.TABLES)
    return names.index(name) if name in names else len(names)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _rows_are(n: int, noun: str = "row") -> str:
    return f"1 {noun} is" if n == 1 else f"{n:,} {noun}s are"


def _rows_have(n: int, noun: str = "row") -> str:
    return f"1 {noun} has" if n == 1 else f"{n:,} {noun}s have"


def _rows_point(n: int) -> str:
    return "1 row points" if n == 1 else f"{n:,} rows point"


# --------------------------------------------------------------------------------------------
# Validation


@dataclass
class _Check:
    """A row-level rule: a predicate on the staged table; counted in one aggregate query."""

    column: str
    rule: str
    severity: str
    predicate: ir.BooleanValue
    message: Callable[[int], str]


def validate(
    data_dir: str | Path | None = None,
    con: ibis.BaseBackend | None = None,
    *,
    today: dt.date | dt.datetime | str | None = None,
    tables: Iterable[str] | None = None,
) -> ValidationReport:
    """Check the data against every rule of the data contract.

    Each table is checked with one aggregate query in the engine (counts of every broken rule),
    plus small queries for up to five example rows of each problem found, duplicated ids,
    links between tables and the suspicious-order warnings.

    Parameters
    ----------
    data_dir
        Folder of table files; ignored when ``con`` is given (see :func:`connect`).
    con
        An open connection (default: ``connect(data_dir)``).
    today
        Dates after this day (UTC) count as "in the future"; default: now.
    tables
        Only these tables, each then required; default: every contract table (optional ones
        are checked when present).

    Returns
    -------
    ValidationReport
        ``.errors``, ``.warnings``, ``.ok`` and ``.to_text()``.
    """
    con = connect(data_dir) if con is None else con
    source = _source_of(con)
    cutoff = _future_cutoff(today)
    wanted = list(contract.TABLES) if tables is None else list(dict.fromkeys(tables))
    unknown = [name for name in wanted if name not in contract.TABLES]
    if unknown:
        raise UserError(
            f"There is no table {unknown[0]!r} in the data contract; known tables: "
            f"{', '.join(contract.TABLES)}."
        )
    problems: list[Problem] = []
    rows: dict[str, int] = {}
    filled: dict[str, ir.Table] = {}
    for name in wanted:
        spec = contract.TABLES[name]
        try:
            raw = _lookup(con, name)
        except ValueError as error:  # a file that cannot be read
            problems.append(_table_problem(name, "readable table", str(error)))
            continue
        if raw is None:
            if spec.required or tables is not None:
                problems.append(
                    _table_problem(name, "required table", _missing_table_message(name, source))
                )
            continue
        required = spec.required or tables is not None
        found, n_rows = _check_table(spec, raw, required, cutoff)
        problems += found
        if n_rows is not None:
            rows[name] = n_rows
        if n_rows:
            filled[name] = raw
    for name, raw in filled.items():
        problems += _guarded(name, lambda n=name, r=raw: _reference_problems(con, n, r, filled))
    return ValidationReport(problems, rows, source.where())


def _lookup(con: ibis.BaseBackend, name: str) -> ir.Table | None:
    """The raw table, None when absent; ValueError when its file cannot be read."""
    source = _source_of(con)
    if name in source.unreadable:
        raise UserError(source.unreadable[name])
    try:
        return con.table(name)
    except TableNotFound:
        return None
    except Exception:  # some backends raise their own "not found" error: ask the catalogue
        if name not in con.list_tables():
            return None
        raise


def _table_problem(name: str, rule: str, message: str, severity: str = ERROR) -> Problem:
    return Problem(severity, name, None, rule, 0, (), message)


def _guarded(name: str, run: Callable[[], list[Problem]]) -> list[Problem]:
    """Engine errors while checking become a problem of the table; the other checks go on."""
    try:
        return run()
    except Exception as error:  # any backend raises its own error types
        return [
            _table_problem(
                name, "readable table", f"the checks could not run: {_first_line(error)}"
            )
        ]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _future_cutoff(today: dt.date | dt.datetime | str | None) -> dt.datetime:
    """The latest acceptable time (UTC, no time zone); a date means the end of that day."""
    if today is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stamp = pd.Timestamp(today)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    is_date = isinstance(today, dt.date) and not isinstance(today, dt.datetime)
    if is_date or (isinstance(today, str) and len(today.strip()) <= 10):
        stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return stamp.to_pydatetime()


def _check_table(
    spec: contract.Table, raw: ir.Table, required: bool, cutoff: dt.datetime
) -> tuple[list[Problem], int | None]:
    """Problems of one table and its row count (None when it could not be read)."""
    problems = [
        _missing_column_problem(spec.name, column, raw.columns)
        for column in spec.required_columns
        if column not in raw.columns
    ]
    checked = _checked_columns(spec, raw)
    casts = {name: _cast(raw[name], logical) for name, logical in checked}
    staged = raw.mutate(**{_TYPED_PREFIX + name: c.typed for name, c in casts.items()})
    checks: list[_Check] = []
    for name, logical in checked:
        column = spec.column(name) if name in {c.name for c in spec.columns} else None
        checks += _column_checks(spec, name, logical, column, casts[name], staged, cutoff)
    measures = {
        f"check_{i}": ibis.cases((c.predicate, 1), else_=0).sum() for i, c in enumerate(checks)
    }
    measures |= _table_measures(spec, staged, casts, cutoff)
    try:
        totals = staged.aggregate(n_rows=ibis._.count(), **measures).execute().iloc[0]
    except Exception as error:  # e.g. a CSV line DuckDB cannot parse, found only when read
        return [
            *problems,
            _table_problem(
                spec.name, "readable table", f"the table could not be read: {_first_line(error)}"
            ),
        ], None
    n_rows = int(totals["n_rows"])
    if n_rows == 0:
        severity = ERROR if required else WARNING
        return [
            *problems,
            _table_problem(spec.name, "a table must have rows", "the table has no rows", severity),
        ], 0
    problems += _guarded(spec.name, lambda: _row_problems(spec, raw, staged, checks, totals))
    problems += _guarded(spec.name, lambda: _unique_problems(spec, raw, casts, totals))
    if spec.name == "orders":
        problems += _guarded(spec.name, lambda: _order_warnings(staged, totals, cutoff))
    if spec.name == "assignments":
        problems += _guarded(spec.name, lambda: _assignment_problems(raw))
    return problems, n_rows


def _missing_column_problem(table_name: str, column: str, found: Sequence[str]) -> Problem:
    message = f"the column is missing. {_columns_found(found, column)}"
    return Problem(ERROR, table_name, column, "required column", 0, (), message)


def _table_measures(
    spec: contract.Table, staged: ir.Table, casts: dict[str, _Cast], cutoff: dt.datetime
) -> dict[str, ir.Scalar]:
    """Extra aggregates folded into the table's one query: id counts and order statistics."""
    measures: dict[str, ir.Scalar] = {}
    for column in spec.columns:
        if column.unique and column.name in casts:
            cast = casts[column.name]
            measures[f"ids_{column.name}"] = cast.typed.cast("string").nunique(where=~cast.missing)
            measures[f"filled_{column.name}"] = ibis.cases((~cast.missing, 1), else_=0).sum()
    if spec.name == "orders" and "ordered_at" in casts:
        ordered_at = staged[_TYPED_PREFIX + "ordered_at"]
        # future-dated orders are errors already; they must not stretch the range into gaps
        past = ordered_at <= ibis.literal(cutoff)
        measures["first_day"] = ordered_at.date().min(where=past)
        measures["last_day"] = ordered_at.date().max(where=past)
        measures["n_days"] = ordered_at.date().nunique(where=past)
    if spec.name == "orders" and "revenue" in casts:
        revenue = staged[_TYPED_PREFIX + "revenue"]
        # the filter as a CASE, not median(where=...): Spark's percentile wants a constant
        # fraction, and Ibis folds the filter into it
        filled = ibis.cases(
            (revenue.notnull() & ~revenue.isnan(), revenue), else_=ibis.null("float64")
        )
        measures["median_revenue"] = filled.median()
    return measures


def _checked_columns(spec: contract.Table, raw: ir.Table) -> list[tuple[str, str]]:
    """(column, logical type) of the contract columns present, plus likert_* answers."""
    columns = [(c.name, c.dtype) for c in spec.columns if c.name in raw.columns]
    if spec.name == "survey_responses":
        columns += [(c, "int") for c in raw.columns if c.startswith(contract.LIKERT_PREFIX)]
    return columns


def _key_columns(spec: contract.Table, raw: ir.Table) -> list[str]:
    """Columns that identify a row in examples: the unique id, else the first text columns."""
    keys = [c.name for c in spec.columns if c.unique]
    if not keys:
        keys = [c.name for c in spec.columns if c.dtype == "string" and c.required][:2]
    return [k for k in keys if k in raw.columns]


def _row_problems(
    spec: contract.Table, raw: ir.Table, staged: ir.Table, checks: list[_Check], totals: Any
) -> list[Problem]:
    problems = []
    keys = _key_columns(spec, raw)
    for i, check in enumerate(checks):
        count = int(totals[f"check_{i}"] or 0)
        if count:
            shown = list(dict.fromkeys([*keys, check.column]))
            examples = _examples(staged.filter(check.predicate), shown, order_by=shown)
            message = check.message(count) + _hint(check, examples)
            problems.append(
                Problem(
                    check.severity, spec.name, check.column, check.rule, count, examples, message
                )
            )
    return problems


def _column_checks(
    spec: contract.Table,
    name: str,
    logical: str,
    column: contract.Column | None,
    cast: _Cast,
    staged: ir.Table,
    cutoff: dt.datetime,
) -> list[_Check]:
    typed = staged[_TYPED_PREFIX + name]
    checks: list[_Check] = []
    if cast.unreadable is not None:
        stored = "" if cast.physical.startswith("string") else f" (stored as {cast.physical})"
        checks.append(
            _Check(
                name,
                _TYPE_RULES[logical],
                ERROR,
                cast.unreadable,
                lambda n, s=stored, lg=logical: (
                    f"{_rows_have(n)} a value that is not {_NOT_A[lg]}{s}"
                ),
            )
        )
    if logical in ("float", "int") and cast.physical.startswith(("float", "double", "string")):
        checks.append(
            _Check(
                name,
                "values must be finite numbers",
                ERROR,
                _infinite(_raw_number(staged[name], cast)),
                lambda n: f"{_rows_are(n)} infinite (inf or -inf)",
            )
        )
    if logical == "string" and is_identifier_column(name) and cast.physical.startswith("string"):
        text = _trim(staged[name])
        checks.append(
            _Check(
                name,
                "ids must be anonymous, never an email address or phone number",
                ERROR,
                text.re_search(EMAIL_RE) | text.re_search(PHONE_RE),
                lambda n: (
                    f"{_rows_have(n)} an email address or phone number as id; hash them "
                    f"(`python -m {_project.MODULE_NAME} import` does) so reports hold no "
                    "personal data"
                ),
            )
        )
    nullable = column.nullable if column is not None else True
    if not nullable:
        blank = "blank or NaN" if cast.physical.startswith("float") else "blank"
        checks.append(
            _Check(
                name,
                "a value is required",
                ERROR,
                cast.missing,
                lambda n, b=blank: f"{_rows_are(n)} {b}",
            )
        )
    if column is not None and column.non_negative:
        checks.append(
            _Check(
                name,
                _non_negative_rule(spec.name, name),
                ERROR,
                typed < 0,
                lambda n: f"{_rows_are(n)} negative",
            )
        )
    value_range = column.value_range if column is not None else LIKERT_RANGE
    if value_range is not None:
        low, high = value_range
        checks.append(
            _Check(
                name,
                f"must be between {low:g} and {high:g}",
                ERROR,
                (typed < low) | (typed > high),
                lambda n, lo=low, hi=high: f"{_rows_are(n)} outside {lo:g}–{hi:g}",
            )
        )
    if column is not None and column.allowed:
        allowed = ", ".join(column.allowed)
        checks.append(
            _Check(
                name,
                f"must be one of {allowed}",
                ERROR,
                typed.notnull() & ~cast.missing & ~typed.isin(column.allowed),
                lambda n: f"{_rows_are(n)} not an allowed value (values are case-sensitive)",
            )
        )
    if name in spec.no_future:
        when = f"{cutoff:%Y-%m-%d %H:%M} UTC"
        checks.append(
            _Check(
                name,
                "dates must not be in the future",
                ERROR,
                typed > ibis.literal(cutoff),
                lambda n, w=when: f"{_rows_are(n)} in the future (after {w})",
            )
        )
    return checks


def _raw_number(raw: ir.Value, cast: _Cast) -> ir.Value:
    """The column as float64 before any rounding to int (text parsed as in :func:`_cast`)."""
    if cast.physical.startswith("string"):
        text = _trim(raw)
        return ibis.cases(
            (text.re_search(_NUMBER_RE), text.try_cast("float64")), else_=ibis.null("float64")
        )
    return raw.cast("float64")


def _infinite(number: ir.Value) -> ir.BooleanValue:
    return number.notnull() & number.isinf()


def _non_negative_rule(table_name: str, column: str) -> str:
    if table_name == "orders":
        return "amounts must be 0 or more; refunds are flagged with is_refunded"
    return "must be 0 or more"


def _hint(check: _Check, examples: Sequence[dict[str, Any]]) -> str:
    """A next step for the common causes of unreadable values."""
    if not check.rule.startswith("values must be"):
        return ""
    values = [str(e.get(check.column, "")) for e in examples]
    if "number" in check.rule and any(re.fullmatch(r"-?[0-9.]*,[0-9]+", v) for v in values):
        return (
            '; they look like decimal commas: import the file with `decimal: ","` in '
            "params/import.yaml"
        )
    if "date" in check.rule:
        return "; for another date format import the file with `date_format:` in params/import.yaml"
    return ""


def _examples(
    rows: ir.Table, columns: Sequence[str], order_by: Sequence[str] = ()
) -> tuple[dict[str, Any], ...]:
    """At most MAX_EXAMPLES rows as dicts, in a stable order."""
    picked = rows.select(*columns)
    if order_by:
        picked = picked.order_by(*order_by)
    frame = picked.limit(MAX_EXAMPLES).execute()
    return tuple({k: _plain(v) for k, v in record.items()} for record in frame.to_dict("records"))


def _plain(value: Any) -> Any:
    """Python scalars for examples (numpy types print badly; NaN/NaT become None)."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, pd.Timestamp):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value)
    return value


def _unique_problems(
    spec: contract.Table, raw: ir.Table, casts: dict[str, _Cast], totals: Any
) -> list[Problem]:
    problems = []
    for column in spec.columns:
        if not column.unique or column.name not in casts:
            continue
        if int(totals[f"filled_{column.name}"] or 0) == int(totals[f"ids_{column.name}"] or 0):
            continue  # as many distinct ids as filled rows: no duplicates, no further query
        ids = casts[column.name]
        grouped = (
            raw.filter(~ids.missing)
            .group_by(value=ids.typed.cast("string"))
            .aggregate(n_rows=ibis._.count())
            .filter(ibis._.n_rows > 1)
        )
        summary = grouped.aggregate(ids=ibis._.count(), n_rows=ibis._.n_rows.sum()).execute()
        n_ids, n_rows = int(summary["ids"].iloc[0]), int(summary["n_rows"].iloc[0])
        examples = tuple(
            {column.name: e["value"], "rows": e["n_rows"]}
            for e in _examples(grouped, ["value", "n_rows"], order_by=["value"])
        )
        problems.append(
            Problem(
                ERROR,
                spec.name,
                column.name,
                "ids must be unique",
                n_rows,
                examples,
                f"{n_rows:,} rows share {_plural(n_ids, 'duplicated id')}",
            )
        )
    return problems


def _reference_problems(
    con: ibis.BaseBackend, name: str, raw: ir.Table, filled: dict[str, ir.Table]
) -> list[Problem]:
    """Foreign keys: every referencing value must exist in the referenced table."""
    spec = contract.TABLES[name]
    problems = []
    for column, target_name, target_column in spec.references:
        target = filled.get(target_name)
        if target is None:
            try:  # a table not asked for (check() on some tables) still anchors the link
                target = _lookup(con, target_name)
            except ValueError:
                target = None
        if target is None or column not in raw.columns or target_column not in target.columns:
            continue
        keys = _cast(raw[column], "string")
        wanted = raw.filter(~keys.missing).mutate(ref_key=keys.typed)
        known = target.select(ref_key=_cast(target[target_column], "string").typed)
        orphans = wanted.anti_join(known, "ref_key")
        summary = orphans.aggregate(n_rows=ibis._.count(), ids=ibis._.ref_key.nunique()).execute()
        n_rows = int(summary["n_rows"].iloc[0] or 0)
        if not n_rows:
            continue
        shown = list(dict.fromkeys([*_key_columns(spec, raw), column]))
        n_ids = int(summary["ids"].iloc[0])
        problems.append(
            Problem(
                ERROR,
                name,
                column,
                f"every {name}.{column} must exist in {target_name}.{target_column}",
                n_rows,
                _examples(orphans, shown, order_by=shown),
                f"{_rows_point(n_rows)} to {target_name} that do not exist "
                f"({_plural(n_ids, f'distinct {column} value')})",
            )
        )
    return problems


def _assignment_problems(raw: ir.Table) -> list[Problem]:
    """A unit must see one variant per experiment, or the comparison is contaminated."""
    needed = ("experiment_id", "unit_id", "variant")
    if any(c not in raw.columns for c in needed):
        return []
    typed = raw.select(**{c: _cast(raw[c], "string").typed for c in needed})
    mixed = (
        typed.filter(typed.experiment_id.notnull() & typed.unit_id.notnull())
        .group_by("experiment_id", "unit_id")
        .aggregate(
            n_variants=typed.variant.nunique(),
            first=typed.variant.min(),
            last=typed.variant.max(),
            n_rows=ibis._.count(),
        )
        .filter(ibis._.n_variants > 1)
    )
    summary = mixed.aggregate(units=ibis._.count(), n_rows=ibis._.n_rows.sum()).execute()
    units = int(summary["units"].iloc[0] or 0)
    if not units:
        return []
    examples = tuple(
        {
            "experiment_id": e["experiment_id"],
            "unit_id": e["unit_id"],
            "variants": f"{e['first']} / {e['last']}",
        }
        for e in _examples(
            mixed,
            ["experiment_id", "unit_id", "first", "last"],
            order_by=["experiment_id", "unit_id"],
        )
    )
    return [
        Problem(
            ERROR,
            "assignments",
            "variant",
            "one variant per unit per experiment",
            units,
            examples,
            f"{_plural(units, 'unit')} saw more than one variant in the same experiment "
            f"({int(summary['n_rows'].iloc[0]):,} assignment rows)",
        )
    ]


def _order_warnings(staged: ir.Table, totals: Any, cutoff: dt.datetime) -> list[Problem]:
    """Legal but suspicious: days without orders, and orders far above the median."""
    warnings: list[Problem] = []
    if "n_days" in totals.index:
        warnings += _order_gap_warning(staged, totals, cutoff)
    if "median_revenue" in totals.index:
        warnings += _order_outlier_warning(staged, totals)
    return warnings


def _order_gap_warning(staged: ir.Table, totals: Any, cutoff: dt.datetime) -> list[Problem]:
    first, last = totals["first_day"], totals["last_day"]
    if pd.isna(first) or pd.isna(last):
        return []
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    n_missing = (last - first).days + 1 - int(totals["n_days"])
    if n_missing <= 0:
        return []
    # Only the distinct days are fetched (one row per day), never the orders themselves.
    ordered_at = staged[_TYPED_PREFIX + "ordered_at"]
    days = staged.filter(ordered_at <= ibis.literal(cutoff)).select(day=ordered_at.date())
    seen = pd.to_datetime(days.distinct().execute()["day"])
    gaps = pd.date_range(first, last, freq="D").difference(pd.DatetimeIndex(seen))
    examples = tuple({"date": d.date().isoformat()} for d in gaps[:MAX_EXAMPLES])
    return [
        Problem(
            WARNING,
            "orders",
            "ordered_at",
            "every day between the first and last order usually has orders",
            n_missing,
            examples,
            f"{_plural(n_missing, 'day')} between {first:%Y-%m-%d} and {last:%Y-%m-%d} "
            f"{'has' if n_missing == 1 else 'have'} no orders (an export gap or an outage?)",
        )
    ]


def _order_outlier_warning(staged: ir.Table, totals: Any) -> list[Problem]:
    median = totals["median_revenue"]
    if median is None or pd.isna(median) or median <= 0:
        return []
    revenue = staged[_TYPED_PREFIX + "revenue"]
    big = staged.filter(revenue > ibis.literal(OUTLIER_FACTOR * float(median)))
    count = int(big.count().execute())
    if not count:
        return []
    shown = list(
        dict.fromkeys([*(["order_id"] if "order_id" in staged.columns else []), "revenue"])
    )
    return [
        Problem(
            WARNING,
            "orders",
            "revenue",
            f"orders over {OUTLIER_FACTOR}× the median order are suspicious (a test order, a "
            f"misplaced decimal point?)",
            count,
            _examples(big, shown, order_by=shown),
            f"{_rows_are(count, 'order')} over {OUTLIER_FACTOR}× the median order value "
            f"({float(median):,.2f} {_project.CURRENCY})",
        )
    ]


# --------------------------------------------------------------------------------------------
# The notebook gate


def check(
    con: ibis.BaseBackend,
    tables: Iterable[str],
    *,
    today: dt.date | dt.datetime | str | None = None,
) -> ValidationReport:
    """Stop a notebook early when its tables break the contract.

    Validates ``tables`` (each required), prints any warnings and a one-line summary, and raises
    ``ValueError`` listing every error in plain words.
    """
    report = validate(con=con, today=today, tables=list(tables))
    if report.warnings:
        print("Worth a look:\n" + "\n".join(f"- {w.to_text()}" for w in report.warnings))
    if report.errors:
        raise UserError(
            "The data does not meet the data contract, so this report would be wrong. "
            "Fix these problems and run it again.\n" + report.to_text(include_warnings=False)
        )
    checked = ", ".join(f"{name} ({n:,} rows)" for name, n in report.rows.items())
    print(f"Data check passed: {checked}.")
    return report


# --------------------------------------------------------------------------------------------
# Documentation


def contract_markdown() -> str:
    """The data contract as a Markdown reference, generated from ``contract.py``."""
    lines = [
        "# Data contract",
        "",
        "The reports read these tables. Put each in the data folder as `<table>.parquet`, "
        "`<table>.csv` (UTF-8) or a folder `<table>/` of Parquet files, or as a table/view of "
        f"that name in the database named by the environment variable `{config.DATA_URL_ENV}`. "
        f"Check your data with `python -m {_project.MODULE_NAME} validate`.",
        "",
        "General rules:",
        "",
        "- Times are UTC; text dates look like `2024-03-31` or `2024-03-31 14:05:00` (an offset "
        "such as `+02:00` is converted to UTC).",
        "- Ids are text and unique where marked; customer ids are hashed, never emails.",
        f"- Money is in the shop currency ({_project.CURRENCY}); amounts are 0 or more. Refunded "
        "orders are kept and flagged with `is_refunded`, not removed or made negative.",
        "- Dates must not be in the future; required columns must not be blank.",
        "- Each experiment unit sees one variant per experiment.",
        f"- Survey columns named `{contract.LIKERT_PREFIX}<item>` hold answers "
        f"{LIKERT_RANGE[0]}–{LIKERT_RANGE[1]}.",
        "",
    ]
    for spec in contract.TABLES.values():
        lines += _table_markdown(spec)
    return "\n".join(lines).rstrip() + "\n"


def _table_markdown(spec: contract.Table) -> list[str]:
    need = "required" if spec.required else "optional"
    lines = [f"## {spec.name} ({need})", "", spec.description, ""]
    lines += ["| column | type | required | rules | description |", "|---|---|---|---|---|"]
    for column in spec.columns:
        lines.append(
            f"| `{column.name}` | {_TYPE_WORDS[column.dtype]} | "
            f"{'yes' if column.required else 'no'} | {_column_rules(spec, column)} | "
            f"{column.description} |"
        )
    links = [f"`{c}` → `{t}.{tc}`" for c, t, tc in spec.references]
    if spec.name == "assignments":
        links.append("one `variant` per (`experiment_id`, `unit_id`)")
    if links:
        lines += ["", "Links: " + "; ".join(links) + "."]
    return [*lines, ""]


def _column_rules(spec: contract.Table, column: contract.Column) -> str:
    rules = []
    if column.unique:
        rules.append("unique")
    if not column.nullable:
        rules.append("not blank")
    if column.non_negative:
        rules.append("≥ 0")
    if column.value_range:
        rules.append(f"{column.value_range[0]:g}–{column.value_range[1]:g}")
    if column.allowed:
        rules.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.name in spec.no_future:
        rules.append("not in the future")
    return ", ".join(rules) or "—"
