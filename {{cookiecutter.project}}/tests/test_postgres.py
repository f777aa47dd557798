"""The same data checks on a real PostgreSQL server as on DuckDB (throwaway cluster)."""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from pg import drop_tables, load_tables

from {{ cookiecutter.module_name }} import config, contract, data

pytestmark = pytest.mark.postgres
TODAY = "2024-06-30"


def broken_shop() -> dict[str, pd.DataFrame]:
    """One of every kind of problem, with text columns where types must be parsed."""
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c3"],  # duplicate id
            "signed_up_at": ["2024-01-01", "2024-01-02 08:00:00+02:00", "01/03/2024", "2031-01-01"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "customer_id": ["c1", "c2", "ghost", "c1", None, "c2"],  # unknown and blank customer
            "ordered_at": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-09", "2024-01-10", "2099-01-01"]
            ),
            "revenue": ["10.5", "-3", "abc", "12,5", "20000", ""],  # negative, text, comma, blank
            "is_refunded": ["false", "yes", "maybe", "0", "1", "true"],
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s2"],
            "visitor_id": ["v1", "v2"],
            "started_at": pd.to_datetime(["2024-01-02", "2024-01-03"]),
            "device": ["mobile", "Smart TV"],  # not allowed
            "source": ["organic", "paid"],
            "viewed_product": [True, True],
            "added_to_cart": [True, False],
            "started_checkout": [False, False],
            "purchased": [False, False],
        }
    )
    assignments = pd.DataFrame(
        {
            "experiment_id": ["e1", "e1", "e1"],
            "unit_id": ["c1", "c1", "c2"],  # c1 saw both variants
            "variant": ["control", "treatment", "control"],
            "assigned_at": pd.to_datetime(["2024-01-02"] * 3),
        }
    )
    survey = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3"],
            "responded_at": pd.to_datetime(["2024-01-05"] * 3),
            "nps": [11, 5, -1],
            "likert_speed": [1, 6, 3],
        }
    )
    empty_products = pd.DataFrame(
        {
            "sku": pd.Series([], dtype=str),
            "category": pd.Series([], dtype=str),
            "price": pd.Series([], dtype=float),
        }
    )
    return {
        "customers": customers,
        "orders": orders,
        "sessions": sessions,
        "assignments": assignments,
        "survey_responses": survey,
        "products": empty_products,
    }


def duckdb_with(tables: dict[str, pd.DataFrame]) -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
    return con


def summary(report: data.ValidationReport) -> list[tuple]:
    """Everything a reader sees, without the source line (which names the engine)."""
    return sorted(
        (p.severity, p.table, p.column or "", p.rule, p.count, p.message, repr(p.examples))
        for p in report.problems
    )


@pytest.fixture
def postgres_shop(postgres_url):  # noqa: F811 (the imported fixture)
    tables = broken_shop()
    drop_tables(postgres_url, list(contract.TABLES))
    load_tables(postgres_url, tables)
    yield postgres_url, tables
    drop_tables(postgres_url, list(tables))


def test_validation_on_postgres_finds_the_same_problems_as_on_duckdb(postgres_shop):
    url, tables = postgres_shop
    on_postgres = data.validate(con=ibis.connect(url), today=TODAY)
    on_duckdb = data.validate(con=duckdb_with(tables), today=TODAY)
    assert summary(on_postgres) == summary(on_duckdb)
    found = {(p.table, p.column, p.rule) for p in on_postgres.errors}
    expected = {
        ("customers", "customer_id", "ids must be unique"),
        ("customers", "signed_up_at", "values must be dates or date-times"),
        ("customers", "signed_up_at", "dates must not be in the future"),
        ("orders", "customer_id", "a value is required"),
        ("orders", "customer_id", "every orders.customer_id must exist in customers.customer_id"),
        ("orders", "ordered_at", "dates must not be in the future"),
        ("orders", "revenue", "values must be numbers"),
        ("orders", "revenue", "amounts must be 0 or more; refunds are flagged with is_refunded"),
        ("orders", "revenue", "a value is required"),
        ("orders", "is_refunded", "values must be true or false"),
        ("sessions", "device", "must be one of desktop, mobile, tablet"),
        ("assignments", "variant", "one variant per unit per experiment"),
        ("survey_responses", "nps", "must be between 0 and 10"),
        ("survey_responses", "likert_speed", "must be between 1 and 5"),
    }
    assert found == expected, on_postgres.to_text()
    counts = {(p.table, p.column, p.rule): p.count for p in on_postgres.errors}
    assert counts[("orders", "revenue", "values must be numbers")] == 2  # abc and 12,5
    assert {(p.table, p.rule) for p in on_postgres.warnings} >= {
        ("products", "a table must have rows"),
        ("orders", "every day between the first and last order usually has orders"),
    }


def test_connect_uses_shop_data_url(postgres_shop, monkeypatch):
    url, tables = postgres_shop
    monkeypatch.setenv(config.DATA_URL_ENV, url)
    con = data.connect()
    assert con.name == "postgres"
    assert data.has_table(con, "orders") and not data.has_table(con, "competitor_prices")
    orders = data.table(con, "orders")
    assert orders.count().execute() == len(tables["orders"])
    assert orders.schema()["revenue"].is_floating()
    assert orders.revenue.max().execute() == 20000.0  # text cast in the engine; bad ones NULL
    assert data.as_of(con) == tables["orders"].ordered_at.max()
    with pytest.raises(
        ValueError,
        match=f"table competitor_prices was not found in the "
        f"database named by {config.DATA_URL_ENV}",
    ):
        data.table(con, "competitor_prices")
