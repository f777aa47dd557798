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
import tempfile
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from . import _project, config, contract, data

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
        raise ValueError(f"The column map {path} does not exist.")
    raw = config.read_yaml(path)
    section = raw.get(table) if isinstance(raw.get(table), dict) else {}
    merged = {k: v for k, v in raw.items() if k not in contract.TABLES} | section
    return _column_map_from(merged, path)


def _column_map_from(options: Mapping[str, Any], path: Path | str) -> ColumnMap:
    unknown = sorted(set(options) - set(_MAP_KEYS))
    if unknown:
        allowed = "\n".join(f"  {k}: {v}" for k, v in _MAP_KEYS.items())
        raise ValueError(
            f"The column map {path} has unknown keys: {', '.join(unknown)}. Allowed keys:\n"
            f"{allowed}"
        )
    for key in ("rename", "constants", "hash_email"):
        if not isinstance(options.get(key, {}) or {}, dict):
            raise ValueError(f"In {path}, {key}: must hold 'name: value' lines.")
    decimal = str(options.get("decimal", "."))
    if decimal not in (".", ","):
        raise ValueError(f"In {path}, decimal: must be '.' or ',' (got {decimal!r}).")
    timezone = str(options.get("timezone") or "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
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


def import_file(
    path: str | Path,
    *,
    table: str,
    preset: str | None = None,
    column_map_file: str | Path | None = None,
    out_dir: str | Path,
) -> Imported:
    """Import an export file onto the data contract and write ``<out_dir>/<table>.parquet``.

    Parameters
    ----------
    path
        CSV (optionally ``.gz``) or Parquet file.
    table
        The contract table it fills (with a preset: the table whose rows are reported).
    preset
        A known export format, e.g. ``"shop_orders"``; writes several tables.
    column_map_file
        YAML column map; default ``params/import.yaml`` when that file exists.
    out_dir
        Folder to write into (created when needed).

    Returns
    -------
    Imported
        ``.rows`` and ``.path`` of ``table``, ``.tables`` (rows per table written) and
        ``.warnings`` (plain sentences worth showing).
    """
    path = Path(path)
    if table not in contract.TABLES:
        raise ValueError(
            f"There is no table {table!r} in the data contract; choose one of "
            f"{', '.join(contract.TABLES)}."
        )
    if column_map_file is None and (config.params_dir() / DEFAULT_MAP).is_file():
        column_map_file = config.params_dir() / DEFAULT_MAP
    column_map = load_column_map(column_map_file, table)
    source = read_source(path, column_map)
    warnings: list[str] = []
    if preset is None:
        frames = {table: to_contract(source, table, column_map)}
    elif preset in PRESETS:
        frames = PRESETS[preset](source, column_map, warnings)
        if table not in frames:
            raise ValueError(
                f"The preset {preset!r} writes {', '.join(frames)}, not {table!r}; "
                f"pass --table {next(iter(frames))}."
            )
    else:
        raise ValueError(f"Unknown preset {preset!r}; known presets: {', '.join(PRESETS)}.")
    warnings += _check_against_contract(frames)
    out_dir = Path(out_dir)
    written = _write_atomically(frames, out_dir)
    warnings += _shadowed_files(out_dir, frames)
    return Imported(
        rows=len(frames[table]),
        path=written[table],
        tables={name: len(frame) for name, frame in frames.items()},
        warnings=tuple(warnings),
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
            raise ValueError(f"{path} is not a readable Parquet file: {error}") from None
    if not name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        raise ValueError(
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
        raise ValueError(
            f"The file {path} is not {column_map.encoding} text (line {line} holds the bytes "
            f"{raw[error.start : error.start + 4]!r}). Save it again as 'CSV UTF-8', or say its "
            f"encoding in the column map, e.g. `encoding: cp1252` for Excel's plain 'CSV'."
        ) from None
    except LookupError:
        raise ValueError(f"Unknown encoding {column_map.encoding!r} in the column map.") from None
    delimiter = column_map.delimiter or _sniff_delimiter(text)
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(
            f"{path} could not be read as CSV with the delimiter {delimiter!r}: "
            f"{str(error).strip()}. Check the file, or set `delimiter:` in the column map."
        ) from None


def _sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or too irregular to tell: the common case
        return ","


def to_contract(source: pd.DataFrame, table: str, column_map: ColumnMap) -> pd.DataFrame:
    """Rename, hash, add constants, check currency and cast to the contract's types."""
    frame = _mapped(source, column_map, table)
    return _cast_to_contract(frame, table, column_map)


def _mapped(source: pd.DataFrame, column_map: ColumnMap, table: str) -> pd.DataFrame:
    frame = source.copy()
    used = [*column_map.rename, *column_map.hash_email]
    if column_map.currency_column:
        used.append(column_map.currency_column)
    missing = [c for c in used if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The column map names columns the file does not have: {', '.join(missing)}. "
            f"Columns in the file: {', '.join(map(str, frame.columns))}."
        )
    _check_currency(frame, column_map)
    for email_column, id_column in column_map.hash_email.items():
        frame[id_column] = _hashed_ids(frame[email_column])
    frame = frame.rename(columns=column_map.rename)
    for column, value in column_map.constants.items():
        frame[column] = value
    spec = contract.TABLES[table]
    wanted = [c.name for c in spec.columns] + list(column_map.keep)
    if table == "survey_responses":
        wanted += [c for c in frame.columns if str(c).startswith(contract.LIKERT_PREFIX)]
    # Only contract columns leave the importer: an export's other columns may hold personal data.
    kept = [c for c in dict.fromkeys(wanted) if c in frame.columns]
    if not kept:
        raise ValueError(_no_matching_columns(source, spec))
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
        raise ValueError(
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
            raise ValueError(
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
            raise ValueError(
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
        raise ValueError(
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
        raise ValueError(
            "The imported data does not meet the data contract; nothing was written.\n"
            + report.to_text()
        )
    return [w.to_text() for w in report.warnings]


def _write_atomically(frames: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write every table to a temporary file first, then rename them into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary: dict[str, Path] = {}
    try:
        for name, frame in frames.items():
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            os.close(handle)
            temporary[name] = Path(temp)
            frame.to_parquet(temporary[name], index=False)
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
        raise ValueError(
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


PRESETS = {"shop_orders": shop_orders}
