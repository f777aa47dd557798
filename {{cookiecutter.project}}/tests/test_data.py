"""Loading, casting and validating data against the contract (DuckDB over files)."""

from __future__ import annotations

import datetime as dt
import re
import socket

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.module_name }} import config, contract, data

TODAY = "2024-06-30"


def good_tables() -> dict[str, pd.DataFrame]:
    """A small shop that meets every rule: one order a day, nothing suspicious."""
    days = pd.date_range("2024-01-01 09:00", periods=40, freq="D")
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(10)],
            "signed_up_at": pd.date_range("2023-12-01", periods=10, freq="D"),
            "country": ["DE", "FR"] * 5,
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i:03d}" for i in range(40)],
            "customer_id": [f"c{i % 10:03d}" for i in range(40)],
            "ordered_at": days,
            "revenue": np.linspace(10.0, 50.0, 40),
            "discount": 0.0,
            "is_refunded": [i % 7 == 0 for i in range(40)],
            "device": "mobile",
        }
    )
    order_lines = pd.DataFrame(
        {
            "order_id": orders.order_id,
            "sku": "sku1",
            "quantity": 1,
            "unit_price": orders.revenue,
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s2", "s3"],
            "visitor_id": ["v1", "v2", "c001"],
            "customer_id": [None, None, "c001"],
            "started_at": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]),
            "device": ["desktop", "mobile", "tablet"],
            "source": "organic",
            "viewed_product": [True, True, True],
            "added_to_cart": [False, True, True],
            "started_checkout": [False, False, True],
            "purchased": [False, False, True],
        }
    )
    assignments = pd.DataFrame(
        {
            "experiment_id": "exp1",
            "unit_id": ["c000", "c001", "c002"],
            "variant": ["control", "treatment", "control"],
            "assigned_at": pd.to_datetime(["2024-01-02"] * 3),
        }
    )
    survey = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3"],
            "responded_at": pd.to_datetime(["2024-01-05"] * 3),
            "nps": [10, 7, 0],
            "likert_ease": [1, 3, 5],
        }
    )
    return {
        "customers": customers,
        "orders": orders,
        "order_lines": order_lines,
        "sessions": sessions,
        "assignments": assignments,
        "survey_responses": survey,
    }


def write_tables(folder, tables: dict[str, pd.DataFrame], csv: tuple[str, ...] = ()) -> None:
    """Parquet by default; the tables named in ``csv`` as CSV files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name in csv:
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)


def problems_of(report: data.ValidationReport, table: str, column: str | None = None):
    return [p for p in report.problems if p.table == table and p.column == column]


def only_problem(report, table, column=None, severity=data.ERROR) -> data.Problem:
    found = [p for p in problems_of(report, table, column) if p.severity == severity]
    assert len(found) == 1, report.to_text()
    return found[0]


@pytest.fixture
def shop(tmp_path):
    tables = good_tables()
    write_tables(tmp_path / "shop", tables)
    return tmp_path / "shop", tables


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch):
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)


# -- connecting and reading ------------------------------------------------------------------


def test_good_data_passes_every_check(shop):
    folder, tables = shop
    report = data.validate(folder, today=TODAY)
    assert report.problems == [], report.to_text()
    assert report.ok
    assert report.rows == {name: len(frame) for name, frame in tables.items()}
    assert "meets the contract" in report.to_text()


def test_connect_reads_parquet_csv_and_a_folder_of_parts(tmp_path):
    tables = good_tables()
    for name in ("customers", "orders"):  # leading zeros must survive a CSV
        tables[name]["customer_id"] = tables[name].customer_id.replace("c000", "007")
    write_tables(tmp_path, {k: v for k, v in tables.items() if k != "sessions"}, csv=("customers",))
    parts = tmp_path / "sessions"
    parts.mkdir()
    tables["sessions"].iloc[:2].to_parquet(parts / "part-0.parquet", index=False)
    tables["sessions"].iloc[2:].to_parquet(parts / "part-1.parquet", index=False)
    con = data.connect(tmp_path)
    for name, frame in tables.items():
        assert data.table(con, name).count().execute() == len(frame)
    customers = data.table(con, "customers").execute()
    assert "007" in set(customers.customer_id)
    assert data.validate(con=con, today=TODAY).problems == []


def test_table_casts_to_the_contract_types_and_adds_missing_optional_columns(shop):
    folder, _ = shop
    orders = data.table(data.connect(folder), "orders")
    schema = orders.schema()
    assert schema["ordered_at"].is_timestamp() and schema["ordered_at"].timezone is None
    assert schema["revenue"].is_floating()
    assert schema["is_refunded"].is_boolean()
    assert schema["channel"].is_string()  # optional, absent from the file: added empty
    assert orders.channel.isnull().all().execute()


def test_times_with_offsets_or_time_zones_become_utc(tmp_path):
    tables = good_tables()
    local = pd.date_range("2024-01-01 09:00", periods=40, freq="D", tz="Europe/Berlin")
    tables["orders"]["ordered_at"] = local  # tz-aware Parquet column
    customers = tables["customers"].astype({"signed_up_at": str})
    customers.loc[0, "signed_up_at"] = "2023-12-01 10:00:00+02:00"  # text with an offset
    customers.loc[1, "signed_up_at"] = "2023-12-02 10:00:00.000000000"  # Arrow's nanoseconds
    tables["customers"] = customers
    write_tables(tmp_path, tables, csv=("customers",))
    con = data.connect(tmp_path)
    got = data.table(con, "orders").order_by("order_id").ordered_at.execute()
    expected = local.tz_convert("UTC").tz_localize(None)  # pandas' own conversion
    assert list(got) == list(expected)
    signed_up = data.table(con, "customers").order_by("customer_id").signed_up_at.execute()
    assert list(signed_up[:2]) == [
        pd.Timestamp("2023-12-01 08:00"),
        pd.Timestamp("2023-12-02 10:00"),
    ]


def test_as_of_is_the_latest_order_time(shop):
    folder, tables = shop
    assert data.as_of(data.connect(folder)) == tables["orders"].ordered_at.max()


def test_has_table(shop):
    folder, _ = shop
    con = data.connect(folder)
    assert data.has_table(con, "orders")
    assert not data.has_table(con, "products")


def test_missing_data_folder_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="make data") as error:
        data.connect(tmp_path / "nowhere")
    assert "nowhere" in str(error.value) and config.DATA_URL_ENV in str(error.value)


def test_default_data_folder_comes_from_params(tmp_path, monkeypatch):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "defaults.yaml").write_text("data_dir: my_data\n")
    write_tables(tmp_path / "my_data", good_tables())
    monkeypatch.setenv(config.ROOT_ENV, str(tmp_path))
    assert data.default_data_dir() == tmp_path / "my_data"
    assert data.has_table(data.connect(), "orders")


def test_a_database_url_that_fails_never_shows_the_password(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(config.DATA_URL_ENV, f"postgres://ann:s3cr3t-pw@127.0.0.1:{port}/shop")
    with pytest.raises(ValueError, match=config.DATA_URL_ENV) as error:
        data.connect()
    assert "s3cr3t-pw" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_the_same_table_twice_is_refused(shop):
    folder, tables = shop
    tables["orders"].to_csv(folder / "orders.csv", index=False)
    con = data.connect(folder)
    with pytest.raises(ValueError, match=r"orders\.csv, orders\.parquet"):
        data.table(con, "orders")
    assert only_problem(data.validate(con=con, today=TODAY), "orders").rule == "readable table"


# -- bad input: each problem named, counted and shown ----------------------------------------


def test_missing_table(shop):
    folder, _ = shop
    (folder / "customers.parquet").unlink()
    report = data.validate(folder, today=TODAY)
    problem = only_problem(report, "customers")
    assert problem.rule == "required table"
    assert "customers.parquet" in problem.message and "make data" in problem.message
    with pytest.raises(ValueError, match="table customers was not found"):
        data.table(data.connect(folder), "customers")


def test_missing_column_names_the_column_and_what_was_found(shop):
    folder, tables = shop
    tables["orders"].rename(columns={"revenue": "Revenue"}).to_parquet(folder / "orders.parquet")
    report = data.validate(folder, today=TODAY)
    problem = only_problem(report, "orders", "revenue")
    assert problem.rule == "required column"
    assert "'Revenue'" in problem.message and "case-sensitive" in problem.message
    with pytest.raises(ValueError, match="no column revenue"):
        data.table(data.connect(folder), "orders")


def test_wrong_type_counts_unreadable_values_and_spots_decimal_commas(shop):
    folder, tables = shop
    orders = tables["orders"].astype({"revenue": str})
    orders.loc[[3, 5], "revenue"] = ["12,50", "abc"]
    orders.to_csv(folder / "orders.csv", index=False)
    (folder / "orders.parquet").unlink()
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["orders"]), "orders", "revenue"
    )
    assert problem.count == 2 and problem.rule == "values must be numbers"
    assert [e["order_id"] for e in problem.examples] == ["o003", "o005"]
    assert "decimal commas" in problem.message


def test_unparseable_dates(shop):
    folder, tables = shop
    orders = tables["orders"].astype({"ordered_at": str})
    orders.loc[[1, 2], "ordered_at"] = ["05/01/2024", "yesterday"]
    orders.to_csv(folder / "orders.csv", index=False)
    (folder / "orders.parquet").unlink()
    report = data.validate(folder, today=TODAY, tables=["orders"])
    problem = [p for p in problems_of(report, "orders", "ordered_at") if p.severity == "error"]
    assert len(problem) == 1
    assert problem[0].count == 2 and "not a date" in problem[0].message
    assert {e["ordered_at"] for e in problem[0].examples} == {"05/01/2024", "yesterday"}
    assert "date_format" in problem[0].message


def test_empty_required_table_is_an_error_and_empty_optional_table_a_warning(shop):
    folder, tables = shop
    tables["orders"].iloc[:0].to_parquet(folder / "orders.parquet")
    tables["sessions"].iloc[:0].to_parquet(folder / "sessions.parquet")
    report = data.validate(folder, today=TODAY)
    assert only_problem(report, "orders").message == "the table has no rows"
    assert only_problem(report, "sessions", severity=data.WARNING).rule == "a table must have rows"


def test_duplicate_ids(shop):
    folder, tables = shop
    orders = tables["orders"]
    orders.loc[[4, 9], "order_id"] = "o001"  # three rows now share o001
    orders.to_parquet(folder / "orders.parquet")
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["orders"]), "orders", "order_id"
    )
    assert problem.count == int(orders.order_id.duplicated(keep=False).sum()) == 3
    assert problem.examples == ({"order_id": "o001", "rows": 3},)


def test_negative_and_blank_or_nan_revenue(shop):
    folder, tables = shop
    orders = tables["orders"]
    orders.loc[[2, 6], "revenue"] = -5.0
    arrow = pa.Table.from_pandas(orders, preserve_index=False)
    revenue = orders.revenue.to_numpy().copy()
    revenue[[10, 11]] = np.nan
    values = pa.array(revenue, from_pandas=False).to_pylist()
    values[11] = None  # one SQL NULL (blank) and one real NaN
    arrow = arrow.set_column(arrow.schema.get_field_index("revenue"), "revenue", pa.array(values))
    pq.write_table(arrow, folder / "orders.parquet")
    report = data.validate(folder, today=TODAY, tables=["orders"])
    negative = [p for p in problems_of(report, "orders", "revenue") if "negative" in p.message]
    assert negative[0].count == 2
    text = negative[0].to_text()
    assert text.startswith(
        "orders.revenue — 2 rows are negative (rule: amounts must be 0 or more; refunds are "
        "flagged with is_refunded). Examples: order_id=o002 revenue=-5.0, order_id=o006"
    )
    blank = [p for p in problems_of(report, "orders", "revenue") if "blank" in p.message]
    assert blank[0].count == 2 and "NaN" in blank[0].message


def test_future_dates(shop):
    folder, tables = shop
    orders = tables["orders"]
    orders.loc[[0, 1], "ordered_at"] = [
        pd.Timestamp("2024-07-01 00:00:01"),
        pd.Timestamp("2999-01-01"),
    ]
    orders.to_parquet(folder / "orders.parquet")
    with_today = only_problem(
        data.validate(folder, today=TODAY, tables=["orders"]), "orders", "ordered_at"
    )
    assert with_today.count == 2 and "future" in with_today.message
    now = only_problem(
        data.validate(folder, tables=["orders"]), "orders", "ordered_at"
    )  # default: now
    assert now.count == 1 and now.examples[0]["order_id"] == "o001"


def test_non_utf8_csv_names_the_file_and_says_to_resave(shop):
    folder, tables = shop
    (folder / "customers.parquet").unlink()
    text = tables["customers"].assign(country="Curaçao").to_csv(index=False)
    (folder / "customers.csv").write_bytes(text.encode("cp1252"))
    report = data.validate(folder, today=TODAY)
    problem = only_problem(report, "customers")
    assert "customers.csv" in problem.message and "UTF-8" in problem.message
    assert "line 2" in problem.message
    with pytest.raises(ValueError, match="not UTF-8"):
        data.table(data.connect(folder), "customers")


def test_empty_or_ragged_csv_files_are_named(shop):
    folder, _ = shop
    (folder / "customers.parquet").unlink()
    (folder / "customers.csv").write_text("customer_id,signed_up_at\nc1,2024-01-01\nc2,a,b,c\n")
    (folder / "orders.parquet").unlink()
    (folder / "orders.csv").write_text("")
    report = data.validate(folder, today=TODAY, tables=["customers", "orders"])
    assert "customers.csv could not be read as a table" in only_problem(report, "customers").message
    assert "orders.csv is empty" in only_problem(report, "orders").message


def test_orders_for_unknown_customers(shop):
    folder, tables = shop
    orders = tables["orders"]
    orders.loc[[3, 4, 8], "customer_id"] = ["ghost1", "ghost1", "ghost2"]
    orders.to_parquet(folder / "orders.parquet")
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["orders"]), "orders", "customer_id"
    )
    expected = ~orders.customer_id.isin(tables["customers"].customer_id)
    assert problem.count == int(expected.sum()) == 3
    assert "3 rows point to customers that do not exist" in problem.message
    assert "2 distinct customer_id values" in problem.message
    assert problem.examples[0] == {"order_id": "o003", "customer_id": "ghost1"}


def test_order_lines_for_unknown_orders(shop):
    folder, tables = shop
    lines = tables["order_lines"]
    lines.loc[0, "order_id"] = "nope"
    lines.to_parquet(folder / "order_lines.parquet")
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["order_lines"]), "order_lines", "order_id"
    )
    assert problem.count == 1 and problem.examples == ({"order_id": "nope", "sku": "sku1"},)


def test_two_variants_for_one_unit(shop):
    folder, tables = shop
    extra = pd.DataFrame(
        {
            "experiment_id": ["exp1", "exp2"],
            "unit_id": ["c000", "c000"],
            "variant": ["treatment", "treatment"],
            "assigned_at": pd.to_datetime(["2024-01-03"] * 2),
        }
    )
    pd.concat([tables["assignments"], extra]).to_parquet(folder / "assignments.parquet")
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["assignments"]), "assignments", "variant"
    )
    assert problem.count == 1  # c000 in exp1 only; exp2 is another experiment
    assert problem.examples == (
        {"experiment_id": "exp1", "unit_id": "c000", "variants": "control / treatment"},
    )


def test_value_ranges_and_whole_numbers_in_surveys(shop):
    folder, tables = shop
    survey = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4"],
            "responded_at": pd.to_datetime(["2024-01-05"] * 4),
            "nps": [11.0, -1.0, 7.5, 8.0],
            "likert_ease": [0, 6, 3, 5],
        }
    )
    survey.to_parquet(folder / "survey_responses.parquet")
    report = data.validate(folder, today=TODAY, tables=["survey_responses"])
    nps = {p.rule: p.count for p in problems_of(report, "survey_responses", "nps")}
    assert nps == {"must be between 0 and 10": 2, "values must be whole numbers": 1}
    likert = only_problem(report, "survey_responses", "likert_ease")
    assert likert.count == 2 and likert.rule == "must be between 1 and 5"


def test_allowed_values(shop):
    folder, tables = shop
    tables["sessions"].loc[0, "device"] = "Mobile"
    tables["sessions"].to_parquet(folder / "sessions.parquet")
    problem = only_problem(
        data.validate(folder, today=TODAY, tables=["sessions"]), "sessions", "device"
    )
    assert problem.rule == "must be one of desktop, mobile, tablet"
    assert problem.examples == ({"session_id": "s1", "device": "Mobile"},)


def test_every_problem_is_reported_at_once(shop):
    folder, tables = shop
    orders = tables["orders"]
    orders.loc[0, "revenue"] = -1.0
    orders.loc[1, "customer_id"] = "ghost"
    orders.loc[2, "order_id"] = "o003"
    orders.to_parquet(folder / "orders.parquet")
    tables["sessions"].loc[0, "device"] = "tv"
    tables["sessions"].to_parquet(folder / "sessions.parquet")
    report = data.validate(folder, today=TODAY)
    found = {(p.table, p.column) for p in report.errors}
    assert found == {
        ("orders", "revenue"),
        ("orders", "customer_id"),
        ("orders", "order_id"),
        ("order_lines", "order_id"),  # o002 is gone, so its line is orphaned
        ("sessions", "device"),
    }
    text = report.to_text()
    assert text.index("\norders\n") < text.index("\norder_lines\n") < text.index("\nsessions\n")
    assert "5 errors" in text


# -- warnings: legal but suspicious ----------------------------------------------------------


def test_days_without_orders_and_huge_orders_are_warnings(shop):
    folder, tables = shop
    orders = tables["orders"].drop(index=[5, 6, 20]).reset_index(drop=True)
    orders.loc[0, "revenue"] = 1_000_000.0
    orders.to_parquet(folder / "orders.parquet")
    lines = tables["order_lines"]
    lines[lines.order_id.isin(orders.order_id)].to_parquet(folder / "order_lines.parquet")
    report = data.validate(folder, today=TODAY)
    assert report.ok, report.to_text()
    gaps = only_problem(report, "orders", "ordered_at", severity=data.WARNING)
    span = pd.date_range(orders.ordered_at.min().normalize(), orders.ordered_at.max(), freq="D")
    missing = span.difference(pd.DatetimeIndex(orders.ordered_at.dt.normalize()))
    assert gaps.count == len(missing) == 3
    assert [e["date"] for e in gaps.examples] == [d.date().isoformat() for d in missing]
    huge = only_problem(report, "orders", "revenue", severity=data.WARNING)
    assert huge.count == 1 and f"{orders.revenue.median():,.2f}" in huge.message


# -- the notebook gate and the docs ----------------------------------------------------------


def test_check_raises_with_every_error_and_ignores_tables_not_asked_for(shop, capsys):
    folder, tables = shop
    tables["sessions"].loc[0, "device"] = "tv"
    tables["sessions"].to_parquet(folder / "sessions.parquet")
    con = data.connect(folder)
    report = data.check(con, ["orders", "customers"], today=TODAY)
    assert report.ok and "Data check passed" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"sessions\.device — 1 row is not an allowed value"):
        data.check(con, ["sessions"], today=TODAY)


def test_check_requires_optional_tables_it_is_asked_for(shop):
    folder, _ = shop
    with pytest.raises(ValueError, match="table products was not found"):
        data.check(data.connect(folder), ["products"], today=TODAY)


def test_contract_markdown_lists_every_table_and_column():
    text = data.contract_markdown()
    for spec in contract.TABLES.values():
        section = text.split(f"## {spec.name} (")[1].split("\n## ")[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [re.match(r"\| `([^`]+)`", r).group(1) for r in rows] == [
            c.name for c in spec.columns
        ]
        assert f"## {spec.name} ({'required' if spec.required else 'optional'})" in text
    assert "one of `desktop`, `mobile`, `tablet`" in text and "0–10" in text


def test_future_cutoff_understands_dates_and_times():
    end_of_day = dt.datetime(2024, 6, 30, 23, 59, 59, 999999)
    assert data._future_cutoff("2024-06-30") == end_of_day
    assert data._future_cutoff(dt.date(2024, 6, 30)) == end_of_day
    assert data._future_cutoff("2024-06-30 12:00+02:00") == dt.datetime(2024, 6, 30, 10)
