"""Importing your own export onto the data contract.

``import_file`` reads a CSV or Parquet export, maps it onto one contract table with a column map
(a small YAML file, see ``params/import.yaml``) or a preset for a known export format, checks the
result against the contract and only then writes ``<out_dir>/<table>.parquet`` (atomically:
nothing is half-written when something is wrong).

Privacy: only contract columns (and those listed under ``keep:``) are written, emails are turned
into stable hashed customer ids with :func:`hash_email`, and a text column that still holds email
addresses stops the import.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import os
import re
import tempfile
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import _project, config, contract, data
from .errors import UserError

SALT_ENV = "SHOP_ID_SALT"
# Documented default, so ids are stable out of the box. It is public: set SHOP_ID_SALT to a
# private value for real customer data, or anyone holding an email can recompute its id.
DEFAULT_SALT = "shop-insights-default-salt"
DEFAULT_MAP = "import.yaml"  # in params/
MAX_EXAMPLES = 5

_MAP_KEYS = {
    "rename": "source column -> contract column",
    "date_format": "strftime format of the date columns, e.g. '%d/%m/%Y %H:%M'",
    "timezone": "time zone of dates without an offset, e.g. Europe/Berlin (default UTC)",
    "decimal": "decimal mark of numbers: '.' (default) or ','",
    "thousands": "thousands separator to remove, e.g. '.' or ' '",
    "currency": "the currency of all amounts in the file, e.g. EUR",
    "currency_column": "a column holding each row's currency",
    "constants": "contract column -> a value for every row",
    "hash_email": "source email column -> contract id column it becomes (hashed)",
    "keep": "extra source columns to keep (after renaming)",
    "encoding": "text encoding of a CSV (default utf-8), e.g. cp1252",
    "delimiter": "CSV delimiter (default: detected)",
}
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_OFFSET_RE = r"(?:[Zz]|[-+][0-9]{2}:?[0-9]{2})$"
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class Imported:
    """What an import wrote: rows and file of the requested table, and every table written."""

    rows: int
    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the import did on its own: columns read, tables derived
    derived: tuple[str, ...] = ()  # tables made from the others (customers from orders)


@dataclass(frozen=True)
class ColumnMap:
    """How a source file maps onto a contract table (see ``params/import.yaml``)."""

    rename: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    timezone: str = "UTC"
    decimal: str = "."
    thousands: str | None = None
    currency: str | None = None
    currency_column: str | None = None
    constants: dict[str, Any] = field(default_factory=dict)
    hash_email: dict[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str | None = None


# --------------------------------------------------------------------------------------------
# Public helpers


def hash_email(email: str, salt: str | None = None) -> str:
    """A stable, non-reversible customer id for an email: ``c_`` + HMAC-SHA256 hex digest.

    The email is trimmed and lower-cased first, so ``" Ann@Shop.com"`` and ``"ann@shop.com"``
    get the same id. The salt comes from ``SHOP_ID_SALT`` (default: :data:`DEFAULT_SALT`).
    HMAC rather than ``sha256(salt + email)``: the standard keyed hash, no length-extension
    tricks, same cost.
    """
    key = (salt if salt is not None else current_salt()).encode("utf-8")
    normalised = email.strip().lower().encode("utf-8")
    return "c_" + hmac.new(key, normalised, hashlib.sha256).hexdigest()


def current_salt() -> str:
    """The project salt for hashed ids: ``SHOP_ID_SALT`` or the documented default."""
    return os.environ.get(SALT_ENV) or DEFAULT_SALT


def load_column_map(path: str | Path | None, table: str) -> ColumnMap:
    """Read a column map file; a section named after ``table`` overrides the top level."""
    if path is None:
        return ColumnMap()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"The column map {path} does not exist.")
    raw = config.read_yaml(path)
    section = raw.get(table) if isinstance(raw.get(table), dict) else {}
    merged = {k: v for k, v in raw.items() if k not in contract.TABLES} | section
    return _column_map_from(merged, path)


def _column_map_from(options: Mapping[str, Any], path: Path | str) -> ColumnMap:
    unknown = sorted(set(options) - set(_MAP_KEYS))
    if unknown:
        allowed = "\n".join(f"  {k}: {v}" for k, v in _MAP_KEYS.items())
        raise UserError(
            f"The column map {path} has unknown keys: {', '.join(unknown)}. Allowed keys:\n"
            f"{allowed}"
        )
    for key in ("rename", "constants", "hash_email"):
        if not isinstance(options.get(key, {}) or {}, dict):
            raise UserError(f"In {path}, {key}: must hold 'name: value' lines.")
    decimal = str(options.get("decimal", "."))
    if decimal not in (".", ","):
        raise UserError(f"In {path}, decimal: must be '.' or ',' (got {decimal!r}).")
    timezone = str(options.get("timezone") or "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"In {path}, timezone: {timezone!r} is not a known time zone; use a name like "
            f"Europe/Berlin, America/New_York or UTC."
        ) from None
    keep = options.get("keep") or ()
    return ColumnMap(
        rename={str(k): str(v) for k, v in (options.get("rename") or {}).items()},
        date_format=options.get("date_format") or None,
        timezone=timezone,
        decimal=decimal,
        thousands=options.get("thousands") or None,
        currency=(str(options["currency"]).strip().upper() if options.get("currency") else None),
        currency_column=options.get("currency_column") or None,
        constants=dict(options.get("constants") or {}),
        hash_email={str(k): str(v) for k, v in (options.get("hash_email") or {}).items()},
        keep=tuple([keep] if isinstance(keep, str) else keep),
        encoding=str(options.get("encoding") or "utf-8"),
        delimiter=options.get("delimiter") or None,
    )


# --------------------------------------------------------------------------------------------
# The import


Ask = Callable[[str, Sequence[str]], str]  # (question, choices) -> the choice made


def import_file(
    path: str | Path,
    *,
    table: str | None = None,
    preset: str | None = None,
    column_map_file: str | Path | None = None,
    out_dir: str | Path,
    ask: Ask | None = None,
) -> Imported:
    """Import an export file onto the data contract and write ``<out_dir>/<table>.parquet``.

    Parameters
    ----------
    path
        CSV (optionally ``.gz``) or Parquet file.
    table
        The contract table it fills (with a preset: the table whose rows are reported);
        default: the preset's main table, else ``orders``.
    preset
        A known export format (see :data:`PRESETS`); default: recognised from the columns.
        Without a preset or a column map, the columns are matched to the contract by their
        names and values (:func:`guess_column_map`).
    column_map_file
        YAML column map; default ``params/import.yaml`` when that file exists.
    out_dir
        Folder to write into (created when needed).
    ask
        Called when a guess is unsure (two columns could be the revenue, a date could be day-
        or month-first); without it such a guess stops the import with the map to write.

    Returns
    -------
    Imported
        ``.rows`` and ``.path`` of ``table``, ``.tables`` (rows per table written),
        ``.warnings`` (plain sentences worth showing), ``.notes`` (what was read how) and
        ``.derived`` (tables made from the others, such as customers from orders).
    """
    path = Path(path)
    if table is not None and table not in contract.TABLES:
        raise UserError(
            f"There is no table {table!r} in the data contract; choose one of "
            f"{', '.join(contract.TABLES)}."
        )
    if column_map_file is None and (config.params_dir() / DEFAULT_MAP).is_file():
        column_map_file = config.params_dir() / DEFAULT_MAP
    column_map = load_column_map(column_map_file, table or "orders")
    source = read_source(path, column_map)
    warnings: list[str] = []
    notes: list[str] = []
    if preset is None and column_map == ColumnMap(encoding=column_map.encoding):
        preset = detect_preset(source)
        if preset is not None:
            notes.append(f"Recognised {PRESET_LABELS[preset]} (--preset {preset}).")
    if preset is None:
        table = table or "orders"
        if column_map == ColumnMap(encoding=column_map.encoding, delimiter=column_map.delimiter):
            column_map = guess_column_map(source, table, ask=ask, notes=notes, base=column_map)
        frames = {table: to_contract(source, table, column_map, notes)}
    elif preset in PRESETS:
        frames = PRESETS[preset](source, column_map, warnings)
        table = table or next(iter(frames))
        if table not in frames:
            raise UserError(
                f"The preset {preset!r} writes {', '.join(frames)}, not {table!r}; "
                f"pass --table {next(iter(frames))}."
            )
    else:
        raise UserError(f"Unknown preset {preset!r}; known presets: {', '.join(PRESETS)}.")
    out_dir = Path(out_dir)
    derived = [name for name in frames if name in _DERIVED_BY_PRESET.get(preset or "", ())]
    if "orders" in frames and "customers" not in frames and _may_derive_customers(out_dir):
        frames["customers"] = derive_customers(frames["orders"])
        derived.append("customers")
    if "customers" in derived and preset is not None and not _may_derive_customers(out_dir):
        del frames["customers"]  # the folder holds the user's own customers: kept
        derived.remove("customers")
        notes.append(f"Kept your own customers table in {out_dir}.")
    if "customers" in derived:
        notes.append(
            f"customers derived from orders ({contract.DERIVED_CUSTOMERS}); marked as derived, "
            "so importing your own customers table later replaces it."
        )
    warnings += _check_against_contract(frames)
    written = _write_atomically(frames, out_dir, derived=set(derived))
    warnings += _shadowed_files(out_dir, frames)
    return Imported(
        rows=len(frames[table]),
        path=written[table],
        tables={name: len(frame) for name, frame in frames.items()},
        warnings=tuple(warnings),
        notes=tuple(notes),
        derived=tuple(derived),
    )


def read_source(path: Path, column_map: ColumnMap) -> pd.DataFrame:
    """The export as a frame; CSV values stay text so nothing is guessed."""
    if not path.is_file():
        raise FileNotFoundError(f"The file {path} does not exist.")
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            return pd.read_parquet(path)
        except (OSError, pa.ArrowException) as error:
            raise UserError(f"{path} is not a readable Parquet file: {error}") from None
    if not name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        raise UserError(
            f"{path.name}: the importer reads CSV or Parquet files. Save the sheet as "
            f"'CSV UTF-8' and import that file."
        )
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    encoding = (
        "utf-8-sig"
        if column_map.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        else column_map.encoding
    )
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UserError(
            f"The file {path} is not {column_map.encoding} text (line {line} holds the bytes "
            f"{raw[error.start : error.start + 4]!r}). Save it again as 'CSV UTF-8', or say its "
            f"encoding in the column map, e.g. `encoding: cp1252` for Excel's plain 'CSV'."
        ) from None
    except LookupError:
        raise UserError(f"Unknown encoding {column_map.encoding!r} in the column map.") from None
    delimiter = column_map.delimiter or _sniff_delimiter(text)
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(
            f"{path} could not be read as CSV with the delimiter {delimiter!r}: "
            f"{str(error).strip()}. Check the file, or set `delimiter:` in the column map."
        ) from None


def _sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or too irregular to tell: the common case
        header = text.lstrip().split("\n", 1)[0]
        if len(header.split()) > 1 and not re.search(r"[,;\t|]", header):
            return r"\s+"  # columns aligned with spaces (a fixed-width text export)
        return ","


def to_contract(
    source: pd.DataFrame, table: str, column_map: ColumnMap, notes: list[str] | None = None
) -> pd.DataFrame:
    """Rename, hash, add constants, check currency and cast to the contract's types.

    Columns that are neither contract columns nor listed under ``keep:`` are not written; they
    are named in ``notes`` (when given), so nothing disappears unsaid.
    """
    frame = _mapped(source, column_map, table, notes)
    return _cast_to_contract(frame, table, column_map)


def _mapped(
    source: pd.DataFrame, column_map: ColumnMap, table: str, notes: list[str] | None = None
) -> pd.DataFrame:
    frame = source.copy()
    used = [*column_map.rename, *column_map.hash_email]
    if column_map.currency_column:
        used.append(column_map.currency_column)
    missing = [c for c in used if c not in frame.columns]
    if missing:
        raise UserError(
            f"The column map names columns the file does not have: {', '.join(missing)}. "
            f"Columns in the file: {', '.join(map(str, frame.columns))}."
        )
    _check_currency(frame, column_map)
    for email_column, id_column in column_map.hash_email.items():
        frame[id_column] = _hashed_ids(frame[email_column])
    frame = frame.rename(columns=column_map.rename)
    for column, value in column_map.constants.items():
        frame[column] = value
    if table == "orders" and "order_id" not in frame.columns and len(frame):
        # a transaction log (one line per order, no id): the line number is the id
        frame.insert(0, "order_id", [f"line-{i + 2}" for i in range(len(frame))])
        if notes is not None:
            notes.append(
                "The file has no order id column: each line is one order, numbered by its line "
                "(line-2, line-3, ...)."
            )
    spec = contract.TABLES[table]
    wanted = [c.name for c in spec.columns] + list(column_map.keep)
    if table == "survey_responses":
        wanted += [c for c in frame.columns if str(c).startswith(contract.LIKERT_PREFIX)]
    # Only contract columns leave the importer: an export's other columns may hold personal data.
    kept = [c for c in dict.fromkeys(wanted) if c in frame.columns]
    if not kept:
        raise UserError(_no_matching_columns(source, spec))
    if notes is not None:
        used_sources = {*column_map.hash_email, column_map.currency_column}
        left = [
            str(c)
            for c in source.columns
            if str(c) not in used_sources and column_map.rename.get(str(c), str(c)) not in kept
        ]
        if left:
            notes.append(
                f"Not imported (no such column in the {table} table): {', '.join(left)}. To "
                f"keep them, list them under `keep:` in params/{DEFAULT_MAP}; columns with "
                "personal data (names, addresses) are best left out."
            )
    frame = frame[kept]
    _refuse_emails(frame, column_map)
    return frame


def _no_matching_columns(source: pd.DataFrame, spec: contract.Table) -> str:
    hint = (
        " It looks like a shop order export: add --preset shop_orders."
        if set(_SHOP_ORDERS_REQUIRED) <= set(source.columns)
        else " Map them with `rename:` in a column map (params/import.yaml)."
    )
    return (
        f"None of the file's columns is a column of the {spec.name} table (expected "
        f"{', '.join(spec.required_columns)}; the file has "
        f"{', '.join(map(str, source.columns[:15]))}).{hint}"
    )


def _hashed_ids(emails: pd.Series) -> pd.Series:
    salt = current_salt()
    return emails.map(lambda e: hash_email(e, salt) if isinstance(e, str) and e.strip() else None)


def _check_currency(frame: pd.DataFrame, column_map: ColumnMap) -> None:
    project = _project.CURRENCY.upper()
    if column_map.currency and column_map.currency != project:
        raise UserError(
            f"The column map says the file is in {column_map.currency}, but this project reports "
            f"in {project}. Convert the amounts to {project} first (or bake a project for "
            f"{column_map.currency})."
        )
    if column_map.currency_column:
        values = frame[column_map.currency_column].astype("string").str.strip().str.upper()
        other = values[values.notna() & (values != "") & (values != project)]
        if len(other):
            counts = other.value_counts().items()
            found = ", ".join(f"{c} ({data._plural(n, 'row')})" for c, n in counts)
            raise UserError(
                f"The column {column_map.currency_column!r} shows amounts in {found}, but this "
                f"project reports in {project}. Convert them to {project} first or remove those "
                f"rows."
            )


def _refuse_emails(frame: pd.DataFrame, column_map: ColumnMap) -> None:
    for column in frame.columns:
        if column in column_map.hash_email.values() or not _is_text(frame[column]):
            continue
        looks = frame[column].astype("string").str.strip().str.match(_EMAIL_RE, na=False)
        if looks.any():
            row = int(looks.to_numpy().nonzero()[0][0]) + 2  # header is line 1
            raise UserError(
                f"The column {column!r} holds email addresses (first on line {row}). Raw emails "
                "are never stored: list the source column under `hash_email:` in the column "
                "map (e.g. `hash_email: {Email: customer_id}`) to turn them into hashed ids."
            )


def _is_text(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)


# --------------------------------------------------------------------------------------------
# Casting


def _cast_to_contract(frame: pd.DataFrame, table: str, column_map: ColumnMap) -> pd.DataFrame:
    spec = contract.TABLES[table]
    types = {c.name: c.dtype for c in spec.columns}
    if table == "survey_responses":
        types |= {c: "int" for c in frame.columns if str(c).startswith(contract.LIKERT_PREFIX)}
    out = {}
    failures = []
    for column in frame.columns:
        logical = types.get(column)
        values = frame[column].reset_index(drop=True)
        if logical is None:
            out[column] = values
            continue
        converted, bad = _convert(values, logical, column_map)
        out[column] = converted
        if bad.any():
            failures.append(_failure(column, logical, values, bad, column_map))
    if failures:
        raise UserError(
            f"Some values could not be read for the {table} table; nothing was written:\n"
            + "\n".join(failures)
        )
    return pd.DataFrame(out)


def _convert(values: pd.Series, logical: str, column_map: ColumnMap) -> tuple[pd.Series, Any]:
    """The values in their contract type, and a mask of the values that could not be read."""
    blank = values.isna() | (values.astype("string").str.strip() == "")
    if logical == "string":
        text = values.astype("string").str.strip()
        return text.where(~blank, None), pd.Series(False, index=values.index)
    if logical == "timestamp":
        converted = _parse_times(values, column_map.date_format, column_map.timezone)
    elif logical in ("float", "int"):
        converted = _parse_numbers(values, column_map)
        if logical == "int":
            whole = converted.isna() | (converted == converted.round())
            converted = converted.where(whole)
            converted = converted.astype("Int64") if whole.all() else converted
    else:
        converted = _parse_bools(values)
    bad = ~blank & converted.isna()
    return converted, bad.fillna(False)


def _failure(
    column: str, logical: str, values: pd.Series, bad: pd.Series, column_map: ColumnMap
) -> str:
    rows = bad.to_numpy().nonzero()[0]
    examples = ", ".join(f"line {i + 2}: {values.iloc[i]!r}" for i in rows[:MAX_EXAMPLES])
    expected = {
        "timestamp": f"dates in the format {column_map.date_format}"
        if column_map.date_format
        else "ISO dates like 2024-03-31 14:05 (set date_format: in the column map otherwise)",
        "float": f"numbers with {column_map.decimal!r} as the decimal mark (set decimal: and "
        "thousands: in the column map)",
        "int": "whole numbers",
        "bool": "true/false, yes/no or 1/0",
    }[logical]
    count = data._plural(len(rows), "value")
    return f"- {column}: {count} not readable as {expected}. Examples: {examples}"


def _parse_times(values: pd.Series, date_format: str | None, timezone: str) -> pd.Series:
    """UTC times without a time zone; values without an offset are taken in ``timezone``."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
        if stamps.dt.tz is None:
            stamps = _localize(stamps, timezone)
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    text = values.astype("string").str.strip()
    text = text.where(text != "")
    fmt = date_format or "ISO8601"
    if date_format:
        has_offset = text.notna() if "%z" in date_format else text.isna() & False
    else:
        has_offset = text.str.contains(_OFFSET_RE, regex=True, na=False)
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format=fmt, errors="coerce", utc=True)
        result[has_offset] = aware.astype("datetime64[us, UTC]")
    naive_rows = ~has_offset & text.notna()
    if naive_rows.any():
        naive = pd.to_datetime(text[naive_rows], format=fmt, errors="coerce")
        result[naive_rows] = _localize(naive, timezone).dt.tz_convert("UTC")
    return result.dt.tz_localize(None).astype("datetime64[us]")


def _localize(stamps: pd.Series, timezone: str) -> pd.Series:
    # DST: an ambiguous autumn hour is read as standard time and a skipped spring hour moves
    # forward, so every local time has one answer (at most an hour off, twice a year).
    return stamps.dt.tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")


def _parse_numbers(values: pd.Series, column_map: ColumnMap) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    # currency symbols and (non-breaking) spaces are common in shop exports: drop them
    text = text.str.replace(r"[\s\u00a0$€£¥]", "", regex=True)
    if column_map.thousands:
        text = text.str.replace(column_map.thousands, "", regex=False)
    if column_map.decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _parse_bools(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    words = values.astype("string").str.strip().str.lower()
    mapped = words.map(lambda w: True if w in _TRUE else False if w in _FALSE else None)
    return mapped.astype("boolean")


# --------------------------------------------------------------------------------------------
# Checking and writing


def _check_against_contract(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Validate the frames with the same rules as ``validate``; raise on any error."""
    con = ibis.duckdb.connect()
    for name, frame in frames.items():
        con.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
    con._shop_source = data._Source("import", label="the imported file")
    report = data.validate(con=con, tables=list(frames))
    if report.errors:
        raise UserError(
            "The imported data does not meet the data contract; nothing was written.\n"
            + report.to_text()
        )
    return [w.to_text() for w in report.warnings]


def _write_atomically(
    frames: dict[str, pd.DataFrame], out_dir: Path, derived: set[str] = frozenset()
) -> dict[str, Path]:
    """Write every table to a temporary file first, then rename them into place.

    Files are readable by the group whatever the umask (a scheduler often runs as another user
    of the same group), and never writable by others. A derived table carries
    ``shop_kit.derived_from`` in its Parquet metadata.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    mask = os.umask(0)
    os.umask(mask)
    mode = (0o666 & ~mask | 0o040) & ~0o002
    temporary: dict[str, Path] = {}
    try:
        for name, frame in frames.items():
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            os.close(handle)
            temporary[name] = Path(temp)
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            if name in derived:
                source = contract.DERIVED_FROM[name].encode()
                arrow = arrow.replace_schema_metadata(
                    {**(arrow.schema.metadata or {}), DERIVED_KEY: source}
                )
            # microseconds: the precision every engine keeps; Spark reads no nanoseconds
            pq.write_table(
                arrow, temporary[name], coerce_timestamps="us", allow_truncated_timestamps=True
            )
            os.chmod(temporary[name], mode)
        written = {}
        for name, temp in temporary.items():
            written[name] = out_dir / f"{name}.parquet"
            os.replace(temp, written[name])
        return written
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)


def _shadowed_files(out_dir: Path, frames: Mapping[str, pd.DataFrame]) -> list[str]:
    notes = []
    for name in frames:
        others = [p.name for p in (out_dir / f"{name}.csv", out_dir / name) if p.exists()]
        if others:
            notes.append(
                f"{out_dir} also holds {', '.join(others)} for {name}: remove it, or the data "
                f"check will refuse the folder (one file per table)."
            )
    return notes


# --------------------------------------------------------------------------------------------
# Derived customers

DERIVED_KEY = b"shop_kit.derived_from"  # Parquet metadata of a table made from another one


def derive_customers(orders: pd.DataFrame, country: pd.Series | None = None) -> pd.DataFrame:
    """Customers made from orders (``contract.DERIVED_CUSTOMERS``): one row per customer id,
    signed up at their first order; ``country`` (aligned with ``orders``) from that order."""
    first = (
        orders.groupby("customer_id", sort=True)
        .agg(signed_up_at=("ordered_at", "min"))
        .reset_index()
    )
    if country is not None:
        countries = (
            pd.DataFrame(
                {
                    "customer_id": orders["customer_id"].to_numpy(),
                    "ordered_at": orders["ordered_at"].to_numpy(),
                    "country": country.astype("string").str.strip().to_numpy(),
                }
            )
            .sort_values("ordered_at", kind="stable")
            .groupby("customer_id")
            .country.first()
        )
        first["country"] = first["customer_id"].map(countries).astype("string")
    return first


def is_derived(path: Path) -> bool:
    """True when the Parquet file was derived by an import (not the user's own table)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return DERIVED_KEY in metadata


def _may_derive_customers(out_dir: Path) -> bool:
    """No customers table of the user's own in the folder (a derived one is replaced)."""
    own = [out_dir / "customers.csv", out_dir / "customers"]
    if any(p.exists() for p in own):
        return False
    parquet = out_dir / "customers.parquet"
    return not parquet.exists() or is_derived(parquet)


# --------------------------------------------------------------------------------------------
# Guessing the column map of an export no preset knows

# contract column -> source column names it is known by (compared lower-case, words joined by
# "_"), most specific first. Emails are matched separately (hashed into customer_id).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": (
            "order_id", "orderid", "order_number", "order_no", "order_nr", "order",
            "invoice_id", "invoice_no", "invoiceno", "invoice", "transaction_id", "receipt_id",
        ),
        "customer_id": (
            "customer_id", "customerid", "customer_number", "customer_no", "cust_id", "client_id",
            "buyer_id", "user_id", "account_id", "member_id", "customer",
        ),
        "ordered_at": (
            "ordered_at", "order_date", "orderdate", "order_time", "invoicedate", "invoice_date",
            "purchase_date", "transaction_date", "created_at", "paid_at", "date", "datetime",
            "timestamp",
        ),
        "revenue": (
            "revenue", "net_revenue", "net_total", "order_total", "total", "order_value",
            "total_amount", "amount", "grand_total", "net_sales", "sales", "dollar_value",
            "value",
        ),
        "discount": ("discount", "discount_amount", "discount_total", "discounts"),
        "is_refunded": ("is_refunded", "refunded"),
        "channel": ("channel", "sales_channel", "source"),
        "device": ("device", "device_category", "device_type"),
        "category": ("category", "product_category", "main_category"),
    },
    "customers": {
        "customer_id": ("customer_id", "customerid", "customer_number", "client_id", "user_id"),
        "signed_up_at": (
            "signed_up_at", "signup_date", "signed_up", "registered_at", "registration_date",
            "created_at", "customer_since", "date",
        ),
        "country": ("country", "country_code", "billing_country", "shipping_country"),
        "acquisition_channel": ("acquisition_channel", "channel", "source"),
    },
}  # fmt: skip
_EMAIL_NAMES = ("email", "e_mail", "customer_email", "billing_email", "email_address", "mail")
_DATE_FORMATS = (  # tried when the dates are not ISO; day/month order is decided by the values
    "%Y%m%d",
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %H:%M:%S",
    "%b %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
)


def normalised_name(column: object) -> str:
    """A header as the guesses compare it: lower case, words joined by ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(column).lower()).strip("_")


def guess_column_map(
    source: pd.DataFrame,
    table: str,
    *,
    ask: Ask | None = None,
    notes: list[str] | None = None,
    base: ColumnMap | None = None,
) -> ColumnMap:
    """A column map for an export no preset knows, from its column names and values.

    Each contract column is matched by name (:data:`SYNONYMS`), checked against the values
    (dates must read as dates, amounts as numbers) and the date and number formats are read off
    the values. When a guess is unsure (two columns fit, a date could be day- or month-first),
    ``ask`` decides; without ``ask`` the import stops with the map lines to write instead.
    """
    base = base or ColumnMap()
    notes = notes if notes is not None else []
    spec = contract.TABLES[table]
    synonyms = SYNONYMS.get(table, {c.name: (c.name,) for c in spec.columns})
    by_name: dict[str, str] = {}
    for column in source.columns:
        by_name.setdefault(normalised_name(column), str(column))
    rename: dict[str, str] = {}
    hash_email: dict[str, str] = {}
    taken: set[str] = set()
    unsure: list[str] = []
    for target, names in synonyms.items():
        candidates = [by_name[n] for n in names if n in by_name and by_name[n] not in taken]
        candidates = [c for c in candidates if _fits(source[c], spec.column(target).dtype)]
        if target == "customer_id" and not candidates:
            emails = [by_name[n] for n in _EMAIL_NAMES if n in by_name]
            emails += [c for c in map(str, source.columns) if "email" in c.lower()]
            if emails:
                hash_email[emails[0]] = "customer_id"
                taken.add(emails[0])
            continue
        if not candidates:
            continue
        choice = candidates[0]
        exact = normalised_name(candidates[0]) == target
        if len(candidates) > 1 and not exact and spec.column(target).required:
            choice = _decide(
                f"Which column holds {target} ({spec.column(target).description})?",
                candidates,
                ask,
                unsure,
                target,
            )
        taken.add(choice)
        if choice != target:
            rename[choice] = target
    date_columns = [c for c, t in rename.items() if spec.column(t).dtype == "timestamp"]
    date_columns += [c.name for c in spec.columns if c.dtype == "timestamp" and c.name in by_name]
    date_format = base.date_format
    if date_columns and date_format is None:
        date_format = _guess_date_format(source[date_columns[0]], ask, unsure, date_columns[0])
    number_columns = [
        c for c in (*rename, *[n.name for n in spec.columns])
        if c in source.columns and spec.column(rename.get(c, c)).dtype == "float"
    ]  # fmt: skip
    decimal, thousands = _guess_number_format(source, number_columns, base)
    guessed = replace(
        base,
        rename=rename,
        hash_email=hash_email,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
    )
    missing = [
        c
        for c in spec.required_columns
        if c not in (*rename.values(), *hash_email.values(), *map(str, source.columns))
    ]
    if table == "orders" and "order_id" in missing:
        missing.remove("order_id")  # one row per order: numbered by line (see to_contract)
    if missing or unsure:
        raise UserError(_unsure_message(source, table, guessed, missing, unsure))
    notes.append("Columns read as: " + _describe_map(guessed) + ".")
    return guessed


def _fits(values: pd.Series, dtype: str) -> bool:
    """The column's values can be of this contract type (a sample of them)."""
    sample = values.dropna().astype("string").str.strip()
    sample = sample[sample != ""].head(200)
    if sample.empty or dtype in ("string", "bool"):
        return True
    if dtype == "timestamp":
        return bool(
            sample.str.contains(r"\d{1,4}[-/.]\d{1,2}|\d{8}|[A-Za-z]{3} \d", regex=True).all()
        )
    cleaned = sample.str.replace(r"[\s\u00a0$€£¥,.'-]", "", regex=True)
    return bool(cleaned.str.fullmatch(r"\d+").all())


def _decide(
    question: str, choices: Sequence[str], ask: Ask | None, unsure: list[str], target: str
) -> str:
    if ask is not None:
        answer = ask(question, list(choices))
        if answer in choices:
            return answer
    unsure.append(f"{target}: one of {', '.join(repr(c) for c in choices)}")
    return choices[0]


def _guess_date_format(
    values: pd.Series, ask: Ask | None, unsure: list[str], column: str
) -> str | None:
    sample = values.dropna().astype("string").str.strip()
    sample = sample[sample != ""].head(2000)
    if sample.empty:
        return None
    if sample.str.fullmatch(r"\d{8}").all():
        return "%Y%m%d"
    iso = pd.to_datetime(sample, format="ISO8601", errors="coerce")
    if iso.notna().all() and sample.str.match(r"\d{4}-\d{2}-\d{2}").all():
        return None
    parts = sample.str.extract(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{2,4})(.*)$")
    if parts[0].notna().all():
        first, second = parts[0].astype(int), parts[2].astype(int)
        sep, year = parts[1].iloc[0], "%Y" if len(parts[3].iloc[0]) == 4 else "%y"
        time = _time_format(parts[4].iloc[0])
        day_first = f"%d{sep}%m{sep}{year}{time}"
        month_first = f"%m{sep}%d{sep}{year}{time}"
        if (first > 12).any() and not (second > 12).any():
            return day_first
        if (second > 12).any() and not (first > 12).any():
            return month_first
        return _decide(
            f"Are the dates in {column!r} (e.g. {sample.iloc[0]}) day first or month first?",
            [day_first, month_first],
            ask,
            unsure,
            f"date_format of {column!r}",
        )
    for fmt in _DATE_FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None  # the cast then names the values it cannot read


def _time_format(rest: str) -> str:
    rest = rest.strip()
    if not rest:
        return ""
    if re.fullmatch(r"\d{1,2}:\d{2}:\d{2}", rest):
        return " %H:%M:%S"
    if re.fullmatch(r"\d{1,2}:\d{2}", rest):
        return " %H:%M"
    if re.fullmatch(r"\d{1,2}:\d{2}:\d{2}\s*[AaPp][Mm]", rest):
        return " %I:%M:%S %p"
    return " %H:%M"


def _guess_number_format(
    source: pd.DataFrame, columns: Sequence[str], base: ColumnMap
) -> tuple[str, str | None]:
    if base.decimal != "." or base.thousands:
        return base.decimal, base.thousands
    text = pd.concat(
        [source[c].dropna().astype("string").head(2000) for c in columns]
        or [pd.Series([], dtype="string")]
    )
    text = text.str.replace(r"[\s\u00a0$€£¥]", "", regex=True)
    if text.empty:
        return ".", None
    comma_decimal = text.str.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d{1,2}|-?\d+,\d{1,2}")
    point_decimal = text.str.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d+|-?\d+\.\d+")
    if comma_decimal.any() and not point_decimal.any():
        return ",", "." if text.str.contains(r"\d\.\d{3}", regex=True).any() else None
    if text.str.contains(r"\d,\d{3}", regex=True).any() and not comma_decimal.any():
        return ".", ","
    return ".", None


def _describe_map(column_map: ColumnMap) -> str:
    parts = [f"{a!r} -> {b}" for a, b in column_map.rename.items()]
    parts += [f"{a!r} -> {b} (hashed)" for a, b in column_map.hash_email.items()]
    if column_map.date_format:
        parts.append(f"dates as {column_map.date_format}")
    if column_map.decimal != ".":
        parts.append(f"decimal mark {column_map.decimal!r}")
    if column_map.thousands:
        parts.append(f"thousands separator {column_map.thousands!r}")
    return ", ".join(parts) or "contract names already"


def _unsure_message(
    source: pd.DataFrame,
    table: str,
    guessed: ColumnMap,
    missing: Sequence[str],
    unsure: Sequence[str],
) -> str:
    lines = [f"Not sure how to read this file as the {table} table; nothing was written."]
    if missing:
        lines.append(
            f"No column was recognised as {', '.join(missing)} (the file has "
            f"{', '.join(map(str, source.columns[:15]))})."
        )
    lines += [f"Unsure: {item}." for item in unsure]
    lines.append(
        f"Say it in params/{DEFAULT_MAP} (then import again), starting from this guess:\n"
        f"{table}:\n" + _map_yaml(guessed)
    )
    return "\n".join(lines)


def _map_yaml(column_map: ColumnMap) -> str:
    import yaml

    options: dict[str, Any] = {"rename": dict(column_map.rename)}
    if column_map.hash_email:
        options["hash_email"] = dict(column_map.hash_email)
    if column_map.date_format:
        options["date_format"] = column_map.date_format
    if column_map.decimal != ".":
        options["decimal"] = column_map.decimal
    if column_map.thousands:
        options["thousands"] = column_map.thousands
    text = yaml.safe_dump(options, sort_keys=False, allow_unicode=True)
    return "".join(f"  {line}\n" for line in text.splitlines())


# --------------------------------------------------------------------------------------------
# Presets


_SHOP_ORDERS_REQUIRED = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Currency",
    "Total",
    "Lineitem quantity",
    "Lineitem price",
    "Lineitem name",
)
_REFUNDED = {"refunded", "partially_refunded"}


def shop_orders(
    source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """The common shop-platform order export -> orders, order_lines and customers.

    One row per line item; order-level fields (Email, Paid at, Total, ...) are filled on the
    order's first line only. Orders without ``Paid at`` (pending, voided) bring no revenue and
    are skipped; orders without an email each become their own guest customer.
    """
    frame = source.rename(columns=column_map.rename)
    missing = [c for c in _SHOP_ORDERS_REQUIRED if c not in frame.columns]
    if missing:
        raise UserError(
            f"This does not look like a shop order export: the columns {', '.join(missing)} are "
            f"missing. Use a column map instead of the preset (see params/import.yaml)."
        )
    currency_map = replace(column_map, currency_column="Currency")
    _check_currency(frame, currency_map)
    frame = frame.assign(Name=frame["Name"].astype("string").str.strip())
    frame = frame[frame["Name"].notna() & (frame["Name"] != "")]
    orders = _order_level_rows(frame)
    paid = orders["Paid at"].notna() & (orders["Paid at"].astype("string").str.strip() != "")
    if (~paid).any():
        warnings.append(
            f"{data._plural(int((~paid).sum()), 'order')} without 'Paid at' (pending or "
            f"voided) skipped: they brought no revenue."
        )
    orders = orders[paid]
    customer_ids, guests = _customer_ids(orders)
    if guests:
        warnings.append(
            f"{data._plural(guests, 'paid order')} without an email: each counts as its own "
            f"guest customer."
        )
    if os.environ.get(SALT_ENV) is None:
        warnings.append(
            f"{SALT_ENV} is not set, so customer ids use the public default salt. Set it to a "
            f"private value (and keep it) before importing real customer data."
        )
    status = orders["Financial Status"].astype("string").str.strip().str.lower()
    order_frame = pd.DataFrame(
        {
            "order_id": orders["Name"],
            "customer_id": customer_ids,
            "ordered_at": orders["Paid at"],
            "revenue": orders["Total"],
            "discount": orders.get("Discount Amount"),
            "is_refunded": status.isin(_REFUNDED).map({True: "true", False: "false"}),
            "channel": orders.get("Source"),
        }
    ).dropna(axis="columns", how="all")
    typed_orders = _cast_to_contract(order_frame.reset_index(drop=True), "orders", column_map)
    lines = frame[frame["Name"].isin(set(orders["Name"]))]
    sku = lines["Lineitem sku"] if "Lineitem sku" in lines else pd.Series(pd.NA, lines.index)
    sku = sku.astype("string").str.strip()
    line_frame = pd.DataFrame(
        {
            "order_id": lines["Name"],
            # a line without an SKU (custom item) is identified by its name instead
            "sku": sku.where(sku.notna() & (sku != ""), lines["Lineitem name"]),
            "quantity": lines["Lineitem quantity"],
            "unit_price": lines["Lineitem price"],
        }
    )
    typed_lines = _cast_to_contract(line_frame.reset_index(drop=True), "order_lines", column_map)
    return {
        "orders": typed_orders,
        "order_lines": typed_lines,
        "customers": _customers_from(typed_orders, orders),
    }


def _order_level_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per order: the first non-blank value of each column within the order."""
    blanked = frame.replace(r"^\s*$", None, regex=True)
    return blanked.groupby("Name", sort=False, dropna=True).first().reset_index()


def _customer_ids(orders: pd.DataFrame) -> tuple[pd.Series, int]:
    emails = orders["Email"].astype("string").str.strip()
    has_email = emails.notna() & (emails != "")
    ids = _hashed_ids(emails.where(has_email))
    salt = current_salt()
    guest_ids = orders["Name"].map(lambda name: hash_email(f"guest-order:{name}", salt))
    return ids.where(has_email, guest_ids), int((~has_email).sum())


def _customers_from(typed_orders: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Customers with their first order time as sign-up time (the export has no accounts)."""
    first = (
        typed_orders.groupby("customer_id", sort=True)
        .agg(signed_up_at=("ordered_at", "min"))
        .reset_index()
    )
    country_column = next(
        (c for c in ("Shipping Country", "Billing Country") if c in orders.columns), None
    )
    if country_column:
        countries = (
            pd.DataFrame(
                {
                    "customer_id": typed_orders["customer_id"].to_numpy(),
                    "ordered_at": typed_orders["ordered_at"].to_numpy(),
                    "country": orders[country_column].astype("string").str.strip().to_numpy(),
                }
            )
            .sort_values("ordered_at")
            .groupby("customer_id")
            .country.first()
        )
        first["country"] = first["customer_id"].map(countries).astype("string")
    return first


@dataclass(frozen=True)
class OrderExport:
    """Where a platform's order export keeps each field: names as :func:`normalised_name`
    writes them, the first one the file has wins; statuses compared the same way."""

    label: str
    order_id: tuple[str, ...]
    ordered_at: tuple[str, ...]
    revenue: tuple[str, ...]
    status: tuple[str, ...]
    email: tuple[str, ...] = ()
    customer_id: tuple[str, ...] = ()  # the platform's own id, used when there is no email
    discount: tuple[str, ...] = ()
    refunded_amount: tuple[str, ...] = ()  # more than 0: the order is flagged as refunded
    currency: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    refunded_statuses: frozenset[str] = frozenset()
    unpaid_statuses: frozenset[str] = frozenset()  # brought no revenue: skipped, and said so
    signature: tuple[str, ...] = ()  # all present: the file is this export (auto-detection)


WOOCOMMERCE = OrderExport(
    label="a WooCommerce order export",
    order_id=("order_id", "order_number", "order"),
    ordered_at=("order_date", "date_created", "paid_date", "date"),
    revenue=("order_total", "total", "order_total_amount"),
    status=("status", "order_status"),
    email=("billing_email", "customer_email", "email"),
    customer_id=("customer_id", "customer_user"),
    discount=("discount_total", "cart_discount", "order_discount"),
    refunded_amount=("refunded_total", "order_refund", "refund_total"),
    currency=("order_currency", "currency"),
    country=("billing_country", "shipping_country"),
    channel=("created_via",),
    refunded_statuses=frozenset({"refunded", "wc_refunded"}),
    unpaid_statuses=frozenset(
        {"pending", "failed", "cancelled", "on_hold", "draft", "checkout_draft", "trash"}
        | {"wc_pending", "wc_failed", "wc_cancelled", "wc_on_hold", "wc_checkout_draft"}
    ),
    signature=("order_total", "billing_email", "order_date"),
)
MAGENTO = OrderExport(  # Adobe Commerce / Magento 2: Sales > Orders > Export > CSV
    label="a Magento / Adobe Commerce order export",
    order_id=("id", "increment_id", "order_id", "order"),
    ordered_at=("purchase_date", "created_at"),
    revenue=("grand_total_base", "grand_total", "grand_total_purchased"),
    status=("status",),
    email=("customer_email", "email"),
    discount=("discount_amount",),
    refunded_amount=("total_refunded", "total_refunded_base"),
    currency=("order_currency_code", "base_currency_code"),
    refunded_statuses=frozenset({"closed"}),  # Magento closes an order when it is refunded
    unpaid_statuses=frozenset(
        {"pending", "pending_payment", "payment_review", "canceled", "cancelled", "fraud"}
        | {"suspected_fraud", "on_hold", "holded"}
    ),
    signature=("purchase_date", "bill_to_name"),
)
BIGCOMMERCE = OrderExport(  # Orders > Export, the default template
    label="a BigCommerce order export",
    order_id=("order_id",),
    ordered_at=("order_date", "date_created"),
    revenue=("order_total_inc_tax", "order_total", "order_total_ex_tax"),
    status=("order_status", "status"),
    email=("customer_email", "email"),
    customer_id=("customer_id",),
    discount=("discount_amount", "coupon_discount", "order_discount"),
    refunded_amount=("refund_amount", "refunded_amount"),
    currency=("order_currency_code", "currency_code"),
    country=("billing_country", "shipping_country"),
    channel=("channel", "order_source"),
    refunded_statuses=frozenset({"refunded", "partially_refunded"}),
    unpaid_statuses=frozenset(
        {
            "incomplete",
            "pending",
            "awaiting_payment",
            "declined",
            "cancelled",
            "manual_verification_required",
        }
    ),
    signature=("order_total_inc_tax", "customer_email", "order_status"),
)
_GUEST_IDS = {"", "0", "guest", "none", "null"}


def _platform_orders(
    export: OrderExport, source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """A platform's order export -> orders (one per order; line-item rows folded into their
    order) and customers derived from them."""
    frame = source.rename(columns=column_map.rename)
    names: dict[str, str] = {}
    for column in frame.columns:
        names.setdefault(normalised_name(column), column)

    def column(options: Sequence[str]) -> str | None:
        return next((names[n] for n in options if n in names), None)

    needed = {
        "order id": export.order_id,
        "order date": export.ordered_at,
        "order total": export.revenue,
        "customer email or id": export.email + export.customer_id,
    }
    missing = [label for label, options in needed.items() if column(options) is None]
    if missing:
        raise UserError(
            f"This does not look like {export.label}: no column for {', '.join(missing)} (the "
            f"file has {', '.join(map(str, frame.columns[:15]))}). Use a column map instead "
            f"of the preset (see params/{DEFAULT_MAP})."
        )
    order_column = column(export.order_id)
    frame = frame.assign(**{order_column: frame[order_column].astype("string").str.strip()})
    frame = frame[frame[order_column].notna() & (frame[order_column] != "")]
    blanked = frame.replace(r"^\s*$", None, regex=True)
    orders = blanked.groupby(order_column, sort=False).first().reset_index()
    currency_column = column(export.currency)
    if currency_column:
        _check_currency(orders, replace(column_map, currency_column=currency_column))
    elif not column_map.currency:
        warnings.append(
            f"The export has no currency column: its amounts are taken to be in "
            f"{_project.CURRENCY} (say `currency:` in params/{DEFAULT_MAP} to be explicit)."
        )
    status_column = column(export.status)
    status = (
        orders[status_column].astype("string").map(normalised_name, na_action="ignore")
        if status_column
        else pd.Series("", index=orders.index, dtype="string")
    )
    unpaid = status.isin(export.unpaid_statuses).fillna(False)
    if unpaid.any():
        found = ", ".join(sorted(set(status[unpaid].dropna())))
        warnings.append(
            f"{data._plural(int(unpaid.sum()), 'order')} skipped as unpaid or cancelled "
            f"({found}): they brought no revenue."
        )
    orders, status = orders[~unpaid], status[~unpaid]
    amounts = [c for c in (column(export.revenue), column(export.discount)) if c]
    refund_column = column(export.refunded_amount)
    decimal, thousands = _guess_number_format(
        orders, amounts + [refund_column] * bool(refund_column), column_map
    )
    numbers = replace(column_map, decimal=decimal, thousands=thousands)
    refunded = status.isin(export.refunded_statuses).fillna(False)
    if refund_column:
        refunded |= (_parse_numbers(orders[refund_column].fillna("0"), numbers) > 0).fillna(False)
    date_column = column(export.ordered_at)
    unsure: list[str] = []
    date_format = column_map.date_format or _guess_date_format(
        orders[date_column], None, unsure, date_column
    )
    if unsure:
        raise UserError(
            f"The dates in {date_column!r} (e.g. {orders[date_column].iloc[0]}) could be day "
            f"first or month first: say which with `date_format:` in params/{DEFAULT_MAP} "
            '("%d/%m/%Y" or "%m/%d/%Y"), then import again.'
        )
    order_frame = pd.DataFrame(
        {
            "order_id": orders[order_column],
            "customer_id": _platform_customer_ids(
                orders, column(export.email), column(export.customer_id), order_column
            ),
            "ordered_at": orders[date_column],
            "revenue": orders[column(export.revenue)],
            "discount": orders[column(export.discount)] if column(export.discount) else None,
            "is_refunded": refunded.map({True: "true", False: "false"}),
            "channel": orders[column(export.channel)] if column(export.channel) else None,
        }
    ).dropna(axis="columns", how="all")
    typed = _cast_to_contract(
        order_frame.reset_index(drop=True), "orders", replace(numbers, date_format=date_format)
    )
    if os.environ.get(SALT_ENV) is None and column(export.email):
        warnings.append(
            f"{SALT_ENV} is not set, so customer ids use the public default salt. Set it to a "
            f"private value (and keep it) before importing real customer data."
        )
    country_column = column(export.country)
    country = orders[country_column].reset_index(drop=True) if country_column else None
    return {"orders": typed, "customers": derive_customers(typed, country)}


def _platform_customer_ids(
    orders: pd.DataFrame, email: str | None, platform_id: str | None, order_column: str
) -> pd.Series:
    """Hashed emails; else the platform's customer id; guests (neither) one id per order."""
    salt = current_salt()
    ids = pd.Series(pd.NA, index=orders.index, dtype="object")
    if email:
        emails = orders[email].astype("string").str.strip()
        ids = _hashed_ids(emails.where(emails.notna() & (emails != "")))
    if platform_id:
        own = orders[platform_id].astype("string").str.strip()
        own = own.where(~own.str.lower().isin(_GUEST_IDS).fillna(True))
        ids = ids.where(ids.notna(), own.map(lambda v: f"p_{v}", na_action="ignore"))
    guests = orders[order_column].map(lambda name: hash_email(f"guest-order:{name}", salt))
    return ids.where(ids.notna(), guests)


def woocommerce(
    source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """A WooCommerce order export (the Customer/Order CSV Export format, one row per order or
    per line item) -> orders and derived customers."""
    return _platform_orders(WOOCOMMERCE, source, column_map, warnings)


def magento(
    source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """Magento 2 / Adobe Commerce's order grid export -> orders and derived customers."""
    return _platform_orders(MAGENTO, source, column_map, warnings)


def bigcommerce(
    source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """BigCommerce's order export (default template) -> orders and derived customers."""
    return _platform_orders(BIGCOMMERCE, source, column_map, warnings)


_GA4_STEPS = {  # contract flag -> GA4 event (or exploration metric) names, in funnel order
    "viewed_product": ("view_item", "viewed_product", "item_views", "items_viewed"),
    "added_to_cart": ("add_to_cart", "added_to_cart", "adds_to_cart", "add_to_carts"),
    "started_checkout": ("begin_checkout", "started_checkout", "checkouts"),
    "purchased": ("purchase", "purchased", "purchases", "transactions", "ecommerce_purchases"),
}
_GA4_SIGNATURE = ("user_pseudo_id", "ga_session_id")


def ga4_sessions(
    source: pd.DataFrame, column_map: ColumnMap, warnings: list[str]
) -> dict[str, pd.DataFrame]:
    """A GA4-style sessions export (one row per session, or per event of a session, as a
    BigQuery query of the GA4 export gives) -> sessions.

    ``ga_session_id`` is unique per visitor only, so the session id is ``user_pseudo_id`` +
    ``.`` + ``ga_session_id``; funnel events are counts or flags, and reaching a step implies
    the steps before it (the contract keeps the furthest step reached).
    """
    frame = source.rename(columns=column_map.rename)
    names: dict[str, str] = {}
    for name in frame.columns:
        names.setdefault(normalised_name(name), name)

    def column(*options: str) -> str | None:
        return next((names[n] for n in options if n in names), None)

    visitor = column("user_pseudo_id", "client_id", "visitor_id")
    session = column("ga_session_id", "session_id")
    start = column("session_start", "session_start_time", "started_at", "event_timestamp", "date")
    device = column("device_category", "device", "devicecategory")
    traffic = column(
        "session_source", "source", "session_default_channel_group", "first_user_source"
    )
    steps = {flag: column(*options) for flag, options in _GA4_STEPS.items()}
    needed = {"user_pseudo_id": visitor, "ga_session_id": session, "session_start": start,
              "device_category": device, "purchase": steps["purchased"]}  # fmt: skip
    missing = [name for name, found in needed.items() if found is None]
    if missing:
        raise UserError(
            f"This does not look like a GA4 sessions export: no column for {', '.join(missing)} "
            f"(the file has {', '.join(map(str, frame.columns[:15]))})."
        )
    visitors = frame[visitor].astype("string").str.strip()
    sessions = frame[session].astype("string").str.strip()
    session_id = (
        visitors + "." + sessions if normalised_name(session) == "ga_session_id" else sessions
    )
    started = _ga4_times(frame[start])
    flags = {flag: _ga4_step(frame[name]) if name else pd.Series(False, index=frame.index)
             for flag, name in steps.items()}  # fmt: skip
    user_id = column("user_id", "customer_id")
    rows = pd.DataFrame(
        {
            "session_id": session_id,
            "visitor_id": visitors,
            "customer_id": _ga4_customer_ids(frame[user_id]) if user_id else None,
            "started_at": started,
            "device": frame[device].astype("string").str.strip().str.lower(),
            "source": (frame[traffic].astype("string").str.strip() if traffic else None),
            **flags,
        }
    )
    rows["source"] = rows["source"].fillna("(direct)").replace("", "(direct)")
    per_session = (
        rows.groupby("session_id", sort=False)
        .agg(
            visitor_id=("visitor_id", "first"),
            customer_id=("customer_id", "first"),
            started_at=("started_at", "min"),
            device=("device", "first"),
            source=("source", "first"),
            **{flag: (flag, "max") for flag in _GA4_STEPS},
        )
        .reset_index()
    )
    order = list(_GA4_STEPS)
    for later, earlier in zip(order[::-1], order[::-1][1:], strict=False):
        per_session[earlier] = per_session[earlier] | per_session[later]
    other_device = ~per_session["device"].isin(contract.DEVICES)
    if other_device.any():
        kinds = ", ".join(sorted(set(per_session.loc[other_device, "device"].dropna())))
        warnings.append(
            f"{data._plural(int(other_device.sum()), 'session')} on other devices ({kinds}) "
            f"skipped: the reports compare {', '.join(contract.DEVICES)}."
        )
        per_session = per_session[~other_device]
    per_session = per_session.dropna(axis="columns", how="all")
    return {
        "sessions": _cast_to_contract(per_session.reset_index(drop=True), "sessions", column_map)
    }


def _ga4_times(values: pd.Series) -> pd.Series:
    """GA4 timestamps: microseconds since 1970 (event_timestamp), seconds, or text dates."""
    text = values.astype("string").str.strip()
    if text.dropna().str.fullmatch(r"\d{16}").all():
        return pd.to_datetime(text.astype("Int64"), unit="us").astype("datetime64[us]")
    if text.dropna().str.fullmatch(r"\d{10}").all():
        return pd.to_datetime(text.astype("Int64"), unit="s").astype("datetime64[us]")
    if text.dropna().str.fullmatch(r"\d{8}").all():  # GA4's event_date: 20240131
        return pd.to_datetime(text, format="%Y%m%d").astype("datetime64[us]")
    return _parse_times(values, None, "UTC")


def _ga4_step(values: pd.Series) -> pd.Series:
    """A funnel step reached: a count above 0, or a true flag."""
    numbers = pd.to_numeric(values, errors="coerce")
    words = _parse_bools(values.astype("string"))
    return (numbers.fillna(0) > 0) | words.fillna(False).astype(bool)


def _ga4_customer_ids(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    text = text.where(text.notna() & (text != ""))
    emails = text.str.match(_EMAIL_RE, na=False)
    return text.where(~emails, _hashed_ids(text.where(emails)))


PRESETS: dict[str, Callable[[pd.DataFrame, ColumnMap, list[str]], dict[str, pd.DataFrame]]] = {
    "shop_orders": shop_orders,
    "woocommerce": woocommerce,
    "magento": magento,
    "bigcommerce": bigcommerce,
    "ga4_sessions": ga4_sessions,
}
PRESET_LABELS = {
    "shop_orders": "a shop-platform (Shopify-style) order export",
    "woocommerce": WOOCOMMERCE.label,
    "magento": MAGENTO.label,
    "bigcommerce": BIGCOMMERCE.label,
    "ga4_sessions": "a GA4 sessions export",
}
_SIGNATURES = {
    "shop_orders": tuple(normalised_name(c) for c in _SHOP_ORDERS_REQUIRED),
    "woocommerce": WOOCOMMERCE.signature,
    "magento": MAGENTO.signature,
    "bigcommerce": BIGCOMMERCE.signature,
    "ga4_sessions": _GA4_SIGNATURE,
}
_DERIVED_BY_PRESET = {name: ("customers",) for name in PRESETS if name != "ga4_sessions"}


def detect_preset(source: pd.DataFrame) -> str | None:
    """The preset whose signature columns the file has, when exactly one fits."""
    have = {normalised_name(c) for c in source.columns}
    fits = [name for name, needed in _SIGNATURES.items() if set(needed) <= have]
    return fits[0] if len(fits) == 1 else None
