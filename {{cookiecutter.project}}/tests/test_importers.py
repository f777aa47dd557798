"""Importing exports onto the contract: column maps, the shop_orders preset, privacy, atomicity."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import stat
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
    original = importers.pq.write_table

    def fail_on_second_table(table, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(table, path, *args, **kwargs)

    monkeypatch.setattr(importers.pq, "write_table", fail_on_second_table)
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
    with pytest.raises(ValueError, match="Unknown preset"):
        importers.import_file(plain, table="orders", preset="amazon", out_dir=tmp_path / "raw")
    assert files_in(tmp_path / "raw") == []


def test_a_shop_export_without_preset_is_recognised_and_said_so(tmp_path):
    shop = write(tmp_path / "shop.csv", SHOP_EXPORT)
    result = importers.import_file(shop, out_dir=tmp_path / "raw")
    assert "Recognised a shop-platform (Shopify-style) order export" in " ".join(result.notes)
    assert "--preset shop_orders" in " ".join(result.notes)
    assert set(result.tables) == {"orders", "order_lines", "customers"}


# -- platform presets ------------------------------------------------------------------------

WOOCOMMERCE_EXPORT = f"""order_id,order_number,order_date,status,order_total,discount_total,\
refunded_total,order_currency,billing_email,billing_first_name,billing_country,customer_id
101,101,2026-01-05 10:00:00,wc-completed,45.00,5.00,0,{CURRENCY},ann@example.com,Ann,DE,7
102,102,2026-01-06 11:00:00,refunded,20.00,0,20.00,{CURRENCY},bob@example.com,Bob,FR,0
103,103,2026-01-07 12:00:00,pending,99.00,0,0,{CURRENCY},cy@example.com,Cy,DE,0
104,104,2026-01-08 12:00:00,processing,30.00,0,0,{CURRENCY},Ann@Example.com,Ann,AT,7
"""


def test_woocommerce_export_is_recognised_skips_unpaid_and_flags_refunds(tmp_path):
    source = write(tmp_path / "woo.csv", WOOCOMMERCE_EXPORT)
    result = importers.import_file(source, out_dir=tmp_path / "raw")
    assert "--preset woocommerce" in " ".join(result.notes)
    orders = pd.read_parquet(tmp_path / "raw/orders.parquet").set_index("order_id")
    assert list(orders.index) == ["101", "102", "104"]  # 103 is pending: no revenue
    assert orders["revenue"].tolist() == [45.0, 20.0, 30.0]
    assert orders["is_refunded"].tolist() == [False, True, False]
    assert orders.loc["101", "customer_id"] == orders.loc["104", "customer_id"]  # same email
    assert orders.loc["101", "customer_id"] == importers.hash_email("ann@example.com")
    assert any("1 order skipped as unpaid or cancelled (pending)" in w for w in result.warnings)
    customers = pd.read_parquet(tmp_path / "raw/customers.parquet").set_index("customer_id")
    assert len(customers) == 2 and result.derived == ("customers",)
    assert customers.loc[orders.loc["101", "customer_id"], "country"] == "DE"  # first order's
    assert importers.is_derived(tmp_path / "raw/customers.parquet")
    written = b"".join(p.read_bytes() for p in (tmp_path / "raw").iterdir())
    assert b"example.com" not in written.lower() and b"Ann" not in written


MAGENTO_EXPORT = """ID,Purchase Point,Purchase Date,Bill-to Name,Ship-to Name,Grand Total (Base),\
Grand Total (Purchased),Status,Customer Email,Total Refunded
000000001,Main Website,"Mar 31, 2024 2:05:00 PM",Ann A,Ann A,"1,234.50","1,234.50",Complete,\
ann@example.com,
000000002,Main Website,"Apr 2, 2024 9:00:00 AM",Bob B,Bob B,20.00,20.00,Closed,bob@example.com,20.00
000000003,Main Website,"Apr 3, 2024 9:00:00 AM",Cy C,Cy C,5.00,5.00,Canceled,cy@example.com,
"""


def test_magento_export_reads_its_dates_thousands_and_closed_orders(tmp_path):
    source = write(tmp_path / "sales_order_grid.csv", MAGENTO_EXPORT)
    result = importers.import_file(source, out_dir=tmp_path / "raw")
    assert "--preset magento" in " ".join(result.notes)
    orders = pd.read_parquet(tmp_path / "raw/orders.parquet")
    assert orders["order_id"].tolist() == ["000000001", "000000002"]
    assert orders["revenue"].tolist() == [1234.5, 20.0]
    assert orders["ordered_at"].tolist() == [
        pd.Timestamp("2024-03-31 14:05"),
        pd.Timestamp("2024-04-02 09:00"),
    ]
    assert orders["is_refunded"].tolist() == [False, True]
    assert any("no currency column" in w for w in result.warnings)


BIGCOMMERCE_EXPORT = f"""Order ID,Customer ID,Customer Name,Customer Email,Order Date,Order Status,\
Subtotal (inc tax),Order Total (inc tax),Order Currency Code,Refund Amount,Billing Country
100,1,Ann A,ann@example.com,24/05/2024,Completed,50.00,55.00,{CURRENCY},0.00,United States
101,0,Guest G,,13/06/2024,Partially Refunded,10.00,12.00,{CURRENCY},2.00,Canada
102,2,Cy C,cy@example.com,14/06/2024,Awaiting Payment,1.00,1.00,{CURRENCY},0.00,Canada
"""


def test_bigcommerce_export_reads_day_first_dates_and_guests(tmp_path):
    source = write(tmp_path / "orders-2024.csv", BIGCOMMERCE_EXPORT)
    result = importers.import_file(source, preset="bigcommerce", out_dir=tmp_path / "raw")
    orders = pd.read_parquet(tmp_path / "raw/orders.parquet")
    assert orders["order_id"].tolist() == ["100", "101"]
    assert orders["ordered_at"].dt.strftime("%Y-%m-%d").tolist() == ["2024-05-24", "2024-06-13"]
    assert orders["revenue"].tolist() == [55.0, 12.0]
    assert orders["is_refunded"].tolist() == [False, True]
    assert orders["customer_id"].iloc[0] == importers.hash_email("ann@example.com")
    assert orders["customer_id"].iloc[1].startswith("c_")  # a guest: its own id
    assert result.tables == {"orders": 2, "customers": 2}


GA4_EXPORT = """user_pseudo_id,ga_session_id,session_start,device_category,session_source,\
view_item,add_to_cart,begin_checkout,purchase,user_id
u1,1700000001,1704100000000000,mobile,google,3,1,1,1,
u1,1700000002,1704200000000000,desktop,,0,0,0,0,ann@example.com
u2,1700000001,1704300000000000,smart tv,google,1,0,0,0,
u3,1700000009,1704400000000000,tablet,newsletter,0,0,0,1,
u3,1700000009,1704400100000000,tablet,newsletter,1,0,0,0,
"""


def test_ga4_sessions_export_makes_one_row_per_session_with_the_furthest_step(tmp_path):
    source = write(tmp_path / "ga4.csv", GA4_EXPORT)
    result = importers.import_file(source, out_dir=tmp_path / "raw")
    assert "--preset ga4_sessions" in " ".join(result.notes)
    assert result.tables == {"sessions": 3} and files_in(tmp_path / "raw") == ["sessions.parquet"]
    sessions = pd.read_parquet(tmp_path / "raw/sessions.parquet").set_index("session_id")
    assert list(sessions.index) == ["u1.1700000001", "u1.1700000002", "u3.1700000009"]
    assert sessions.loc["u3.1700000009", ["viewed_product", "added_to_cart", "started_checkout",
                                          "purchased"]].tolist() == [True] * 4  # fmt: skip
    assert not sessions.loc["u1.1700000002", "purchased"]
    assert sessions.loc["u1.1700000002", "source"] == "(direct)"
    assert sessions.loc["u1.1700000002", "customer_id"] == importers.hash_email("ann@example.com")
    assert sessions.loc["u1.1700000001", "started_at"] == pd.Timestamp(1704100000, unit="s")
    assert any("1 session on other devices (smart tv) skipped" in w for w in result.warnings)


# -- the generic path: guessed maps, derived customers, unknown columns ------------------------

TRANSACTION_LOG = """ customer_id  date number_of_cds  dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00003 19970102  2   20.76
"""


def test_a_transaction_log_is_read_by_its_names_and_customers_are_derived(tmp_path):
    source = write(tmp_path / "log.txt", TRANSACTION_LOG.replace("\n", "\r\n"))
    result = importers.import_file(source, out_dir=tmp_path / "raw")
    orders = pd.read_parquet(tmp_path / "raw/orders.parquet")
    assert orders["order_id"].tolist() == ["line-2", "line-3", "line-4", "line-5"]
    assert orders["customer_id"].tolist() == ["00001", "00002", "00002", "00003"]
    assert orders["ordered_at"].min() == pd.Timestamp("1997-01-01")
    assert orders["revenue"].sum() == pytest.approx(11.77 + 12 + 77 + 20.76)
    notes = " ".join(result.notes)
    assert "Not imported (no such column in the orders table): number_of_cds" in notes
    assert "'date' -> ordered_at" in notes and "'dollar_value' -> revenue" in notes
    customers = pd.read_parquet(tmp_path / "raw/customers.parquet")
    assert customers.set_index("customer_id")["signed_up_at"].to_dict() == {
        "00001": pd.Timestamp("1997-01-01"),
        "00002": pd.Timestamp("1997-01-12"),
        "00003": pd.Timestamp("1997-01-02"),
    }
    assert result.derived == ("customers",) and importers.is_derived(
        tmp_path / "raw/customers.parquet"
    )
    assert data.validate(data_dir=tmp_path / "raw").ok  # orders alone are enough


UNSURE_EXPORT = """Order Date,Client ID,Total,Amount,Notes
05/01/2024,k1,10.00,9.00,first
06/02/2024,k2,20.00,18.00,second
"""


def test_an_unsure_guess_stops_with_the_map_to_write_or_asks(tmp_path):
    source = write(tmp_path / "export.csv", UNSURE_EXPORT)
    with pytest.raises(ValueError) as stopped:
        importers.import_file(source, out_dir=tmp_path / "raw")
    message = str(stopped.value)
    assert "Unsure: revenue: one of 'Total', 'Amount'" in message
    assert "day first or month first" not in message or "date_format" in message
    assert "rename:" in message and "Order Date: ordered_at" in message
    assert files_in(tmp_path / "raw") == []
    questions = []

    def ask(question, choices):
        questions.append(question)
        return choices[1] if "revenue" in question else choices[0]  # Amount; day first

    result = importers.import_file(source, out_dir=tmp_path / "raw", ask=ask)
    assert len(questions) == 2 and "day first or month first" in questions[1]
    orders = pd.read_parquet(tmp_path / "raw/orders.parquet")
    assert orders["revenue"].tolist() == [9.0, 18.0]
    assert orders["ordered_at"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-06")]
    assert "Notes" in " ".join(result.notes)  # reported, not silently dropped


def test_unknown_columns_are_reported_and_kept_when_asked(tmp_path):
    source = write(tmp_path / "export.csv", GERMAN_EXPORT)
    column_map = write(tmp_path / "map.yaml", GERMAN_MAP)
    result = importers.import_file(
        source, table="orders", column_map_file=column_map, out_dir=tmp_path / "raw"
    )
    assert any("Not imported" in n and "Notiz" in n for n in result.notes)
    write(tmp_path / "keep.yaml", GERMAN_MAP + "keep: [Notiz]\n")
    importers.import_file(
        source, table="orders", column_map_file=tmp_path / "keep.yaml", out_dir=tmp_path / "kept"
    )
    assert pd.read_parquet(tmp_path / "kept/orders.parquet")["Notiz"].iloc[0] == "first"


def test_own_customers_are_never_replaced_by_derived_ones(tmp_path):
    out = tmp_path / "raw"
    own = write(tmp_path / "customers.csv", "customer_id,signed_up_at\n00001,1996-05-01\n"
                "00002,1996-06-01\n00003,1996-07-01\n")  # fmt: skip
    importers.import_file(own, table="customers", out_dir=out)
    result = importers.import_file(write(tmp_path / "log.txt", TRANSACTION_LOG), out_dir=out)
    assert "customers" not in result.tables
    assert not importers.is_derived(out / "customers.parquet")
    assert pd.read_parquet(out / "customers.parquet")["signed_up_at"].min() == pd.Timestamp(
        "1996-05-01"
    )


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o640), (0o000, 0o664)])
def test_written_files_are_readable_by_the_group(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        importers.import_file(
            write(tmp_path / "log.txt", TRANSACTION_LOG), out_dir=tmp_path / "raw"
        )
    finally:
        os.umask(old)
    for path in (tmp_path / "raw").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name
