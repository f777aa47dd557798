"""Importing exports onto the contract: column maps, the shop_orders preset, privacy, atomicity."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import zoneinfo

import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import _project, config, data, importers

CURRENCY = _project.CURRENCY


@pytest.fixture(autouse=True)
def _isolated_project(tmp_path, monkeypatch):
    """No params/import.yaml of the real project, no salt or database from the environment."""
    (tmp_path / "project" / "params").mkdir(parents=True)
    monkeypatch.setenv(config.ROOT_ENV, str(tmp_path / "project"))
    monkeypatch.delenv(importers.SALT_ENV, raising=False)
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- hashing ---------------------------------------------------------------------------------


def test_hash_email_is_hmac_sha256_of_the_normalised_email():
    expected = hmac.new(b"pepper", b"ann@shop.com", hashlib.sha256).hexdigest()
    assert importers.hash_email("  Ann@Shop.COM ", salt="pepper") == "c_" + expected


def test_hash_email_uses_the_project_salt_from_the_environment(monkeypatch):
    default = importers.hash_email("ann@shop.com")
    assert default == importers.hash_email("ann@shop.com", salt=importers.DEFAULT_SALT)
    monkeypatch.setenv(importers.SALT_ENV, "our-secret")
    assert importers.hash_email("ann@shop.com") != default
    assert importers.hash_email("ann@shop.com") == importers.hash_email(
        "ann@shop.com", "our-secret"
    )


# -- generic import with a column map --------------------------------------------------------

GERMAN_EXPORT = """Bestellnummer;Kunde;Datum;Umsatz;Notiz
A-1;k1;05.01.2024 10:00;1.234,50;first
A-2;k2;01.07.2024 10:00;19,99;summer
A-3;k1;31.03.2024 02:30;0,00;clocks go forward
"""

GERMAN_MAP = """
rename:
  Bestellnummer: order_id
  Kunde: customer_id
  Datum: ordered_at
  Umsatz: revenue
date_format: "%d.%m.%Y %H:%M"
timezone: Europe/Berlin
decimal: ","
thousands: "."
constants:
  channel: web
"""


def test_column_map_renames_parses_dates_in_a_time_zone_and_decimal_commas(tmp_path):
    source = write(tmp_path / "export.csv", GERMAN_EXPORT)
    column_map = write(tmp_path / "map.yaml", GERMAN_MAP)
    result = importers.import_file(
        source, table="orders", column_map_file=column_map, out_dir=tmp_path / "raw"
    )
    assert result.rows == 3 and result.path == tmp_path / "raw" / "orders.parquet"
    written = pd.read_parquet(result.path)
    assert list(written.columns) == [
        "order_id",
        "customer_id",
        "ordered_at",
        "revenue",
        "channel",
    ]  # the free-text Notiz column is not carried
    assert list(written.revenue) == [1234.5, 19.99, 0.0]
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")

    def utc(*args):  # the independent answer: the standard library's time zone rules
        local = dt.datetime(*args, tzinfo=berlin)
        return pd.Timestamp(local.astimezone(dt.UTC).replace(tzinfo=None))

    assert list(written.ordered_at) == [
        utc(2024, 1, 5, 10, 0),  # winter: UTC+1
        utc(2024, 7, 1, 10, 0),  # summer: UTC+2
        pd.Timestamp("2024-03-31 01:00"),  # 02:30 does not exist that night: moved to 03:00
    ]
    assert set(written.channel) == {"web"}
    assert data.validate(tmp_path / "raw", tables=["orders"]).ok


def test_a_map_file_can_hold_one_section_per_table(tmp_path):
    source = write(tmp_path / "export.csv", "Id,Joined\nk1,2024-01-01\n")
    column_map = write(
        tmp_path / "map.yaml", "customers:\n  rename: {Id: customer_id, Joined: signed_up_at}\n"
    )
    result = importers.import_file(
        source, table="customers", column_map_file=column_map, out_dir=tmp_path / "raw"
    )
    assert pd.read_parquet(result.path).customer_id.tolist() == ["k1"]


def test_default_map_is_params_import_yaml(tmp_path):
    (tmp_path / "project" / "params" / "import.yaml").write_text(
        "rename: {Id: customer_id, Joined: signed_up_at}\n"
    )
    source = write(tmp_path / "export.csv", "Id,Joined\nk1,2024-01-01\n")
    result = importers.import_file(source, table="customers", out_dir=tmp_path / "raw")
    assert result.rows == 1


def test_currency_mismatch_is_refused_and_nothing_is_written(tmp_path):
    other = "EUR" if CURRENCY != "EUR" else "USD"
    source = write(
        tmp_path / "export.csv",
        f"order_id,customer_id,ordered_at,revenue,cur\no1,c1,2024-01-01,5,{CURRENCY}\n"
        f"o2,c1,2024-01-02,7,{other}\n",
    )
    by_constant = write(tmp_path / "a.yaml", f"currency: {other}\n")
    with pytest.raises(ValueError, match=f"{other}.*{CURRENCY}"):
        importers.import_file(
            source, table="orders", column_map_file=by_constant, out_dir=tmp_path / "raw"
        )
    by_column = write(tmp_path / "b.yaml", "currency_column: cur\n")
    with pytest.raises(ValueError, match=rf"'cur' shows amounts in {other} \(1 row\)"):
        importers.import_file(
            source, table="orders", column_map_file=by_column, out_dir=tmp_path / "raw"
        )
    assert files_in(tmp_path / "raw") == []


def test_unparseable_values_name_column_line_and_value(tmp_path):
    source = write(
        tmp_path / "export.csv",
        "order_id,customer_id,ordered_at,revenue\no1,c1,2024-01-01,5\n"
        "o2,c1,31/01/2024,7\no3,c1,2024-01-03,seven\n",
    )
    with pytest.raises(ValueError) as error:
        importers.import_file(source, table="orders", out_dir=tmp_path / "raw")
    message = str(error.value)
    assert "- ordered_at: 1 value not readable as ISO dates" in message
    assert "line 3: '31/01/2024'" in message
    assert "- revenue: 1 value not readable as numbers" in message and "line 4: 'seven'" in message
    assert files_in(tmp_path / "raw") == []


def test_contract_errors_stop_the_import_before_anything_is_written(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "orders.parquet").write_bytes(b"previous import")
    source = write(
        tmp_path / "export.csv",
        "order_id,customer_id,ordered_at,revenue\no1,c1,2024-01-01,-5\no1,c2,2024-01-02,7\n",
    )
    with pytest.raises(ValueError, match="nothing was written") as error:
        importers.import_file(source, table="orders", out_dir=out)
    assert "orders.revenue — 1 row is negative" in str(error.value)
    assert "orders.order_id — 2 rows share 1 duplicated id" in str(error.value)
    assert (out / "orders.parquet").read_bytes() == b"previous import"
    assert files_in(out) == ["orders.parquet"]


def test_a_failure_while_writing_leaves_no_files_behind(tmp_path, monkeypatch):
    source = write(tmp_path / "export.csv", SHOP_EXPORT)
    calls = []
    original = pd.DataFrame.to_parquet

    def fail_on_second_table(frame, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_second_table)
    with pytest.raises(OSError, match="disk full"):
        importers.import_file(
            source, table="orders", preset="shop_orders", out_dir=tmp_path / "raw"
        )
    assert files_in(tmp_path / "raw") == []  # the first table's temporary file is gone too


def test_emails_must_be_hashed(tmp_path):
    source = write(tmp_path / "export.csv", "Id,Mail,Joined\n1,ann@shop.com,2024-01-01\n")
    raw_email = write(tmp_path / "a.yaml", "rename: {Mail: customer_id, Joined: signed_up_at}\n")
    with pytest.raises(ValueError, match="'customer_id' holds email addresses.*hash_email"):
        importers.import_file(
            source, table="customers", column_map_file=raw_email, out_dir=tmp_path / "raw"
        )
    assert files_in(tmp_path / "raw") == []
    hashed = write(
        tmp_path / "b.yaml", "hash_email: {Mail: customer_id}\nrename: {Joined: signed_up_at}\n"
    )
    result = importers.import_file(
        source, table="customers", column_map_file=hashed, out_dir=tmp_path / "raw"
    )
    written = pd.read_parquet(result.path)
    assert written.customer_id.tolist() == [importers.hash_email("ann@shop.com")]
    assert b"ann@shop.com" not in result.path.read_bytes()


def test_non_utf8_export_says_how_to_fix_it_and_encoding_option_reads_it(tmp_path):
    source = write(
        tmp_path / "export.csv",
        "customer_id,signed_up_at,country\nk1,2024-01-01,Curaçao\n",
        encoding="cp1252",
    )
    with pytest.raises(ValueError, match=r"export\.csv is not utf-8 text \(line 2.*cp1252"):
        importers.import_file(source, table="customers", out_dir=tmp_path / "raw")
    column_map = write(tmp_path / "map.yaml", "encoding: cp1252\n")
    result = importers.import_file(
        source, table="customers", column_map_file=column_map, out_dir=tmp_path / "raw"
    )
    assert pd.read_parquet(result.path).country.tolist() == ["Curaçao"]


def test_unknown_map_keys_and_time_zones_are_named(tmp_path):
    source = write(tmp_path / "export.csv", "customer_id,signed_up_at\nk1,2024-01-01\n")
    typo = write(tmp_path / "a.yaml", "renames: {a: b}\n")
    with pytest.raises(ValueError, match="(?s)unknown keys: renames.*rename:"):
        importers.import_file(source, table="customers", column_map_file=typo, out_dir=tmp_path)
    zone = write(tmp_path / "b.yaml", "timezone: Berlin\n")
    with pytest.raises(ValueError, match="'Berlin' is not a known time zone"):
        importers.import_file(source, table="customers", column_map_file=zone, out_dir=tmp_path)
    with pytest.raises(ValueError, match="no table 'clients'"):
        importers.import_file(source, table="clients", out_dir=tmp_path)


# -- the shop_orders preset ------------------------------------------------------------------

SHOP_EXPORT = f"""Name,Email,Financial Status,Paid at,Currency,Subtotal,Discount Amount,Total,\
Refunded Amount,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Shipping Country
#1001,Ann@Example.com,paid,2024-01-05 10:00:00 +0100,{CURRENCY},30.00,0.00,30.00,0.00,1,Mug,\
10.00,MUG-1,DE
#1001,,,,,,,,,2,Plate,10.00,PL-2,
#1002,bob@example.com,refunded,2024-01-06 11:00:00 -0500,{CURRENCY},15.00,5.00,10.00,10.00,1,\
Bowl,15.00,BW-1,US
#1003, ann@example.com ,partially_refunded,2024-01-07 12:00:00 +0100,{CURRENCY},20.00,0.00,\
20.00,5.00,1,Cup,20.00,,DE
#1004,carl@example.com,pending,,{CURRENCY},9.00,0.00,9.00,0.00,1,Cup,9.00,CUP-1,DE
#1005,,paid,2024-01-08 09:00:00 +0000,{CURRENCY},5.00,0.00,5.00,0.00,1,Pin,5.00,PIN-1,FR
"""


def test_shop_orders_preset_maps_a_small_export(tmp_path):
    source = write(tmp_path / "orders_export.csv", SHOP_EXPORT)
    out = tmp_path / "raw"
    result = importers.import_file(source, table="orders", preset="shop_orders", out_dir=out)
    assert result.tables == {"orders": 4, "order_lines": 5, "customers": 3}
    orders = pd.read_parquet(out / "orders.parquet").set_index("order_id")
    ann, bob = importers.hash_email("ann@example.com"), importers.hash_email("bob@example.com")
    assert orders.customer_id[["#1001", "#1002", "#1003"]].tolist() == [ann, bob, ann]
    assert orders.customer_id["#1005"].startswith("c_")  # no email: its own guest customer
    assert "#1004" not in orders.index  # pending: never paid, no revenue
    assert orders.revenue.tolist() == [30.0, 10.0, 20.0, 5.0]
    assert orders.discount["#1002"] == 5.0
    assert orders.is_refunded.tolist() == [False, True, True, False]
    assert orders.ordered_at["#1002"] == pd.Timestamp("2024-01-06 16:00")  # -05:00 -> UTC
    lines = pd.read_parquet(out / "order_lines.parquet")
    assert lines[lines.order_id == "#1001"].sku.tolist() == ["MUG-1", "PL-2"]
    assert lines[lines.order_id == "#1003"].sku.tolist() == ["Cup"]  # no SKU: the line name
    assert lines.quantity.sum() == 6
    customers = pd.read_parquet(out / "customers.parquet").set_index("customer_id")
    assert customers.signed_up_at[ann] == pd.Timestamp("2024-01-05 09:00")  # first order
    assert customers.country[bob] == "US"
    assert data.validate(out).ok
    assert any("1 order without 'Paid at'" in w for w in result.warnings)
    assert any(importers.SALT_ENV in w for w in result.warnings)


def test_raw_emails_are_absent_from_every_written_file(tmp_path):
    source = write(tmp_path / "orders_export.csv", SHOP_EXPORT)
    out = tmp_path / "raw"
    importers.import_file(source, table="orders", preset="shop_orders", out_dir=out)
    assert files_in(out) == ["customers.parquet", "order_lines.parquet", "orders.parquet"]
    for path in out.iterdir():
        content = path.read_bytes().lower()
        for email in (b"ann@example.com", b"bob@example.com", b"carl@example.com"):
            assert email not in content, (path.name, email)


def test_shop_orders_preset_refuses_other_currencies_and_other_files(tmp_path):
    other = "EUR" if CURRENCY != "EUR" else "USD"
    source = write(
        tmp_path / "orders_export.csv", SHOP_EXPORT.replace(f",{CURRENCY},", f",{other},", 1)
    )
    with pytest.raises(ValueError, match=f"'Currency' shows amounts in {other}"):
        importers.import_file(
            source, table="orders", preset="shop_orders", out_dir=tmp_path / "raw"
        )
    plain = write(tmp_path / "plain.csv", "order_id,revenue\no1,5\n")
    with pytest.raises(ValueError, match="does not look like a shop order export"):
        importers.import_file(plain, table="orders", preset="shop_orders", out_dir=tmp_path / "raw")
    shop = write(tmp_path / "shop.csv", SHOP_EXPORT)
    with pytest.raises(ValueError, match="add --preset shop_orders"):
        importers.import_file(shop, table="orders", out_dir=tmp_path / "raw")
    with pytest.raises(ValueError, match="Unknown preset"):
        importers.import_file(plain, table="orders", preset="amazon", out_dir=tmp_path / "raw")
    assert files_in(tmp_path / "raw") == []
