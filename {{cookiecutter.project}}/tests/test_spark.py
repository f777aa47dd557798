"""Spark as the engine: the SHOP_DATA_URL forms, the session settings, plain-words errors,
secrets masked, and the same engine-side results as DuckDB (and PostgreSQL) on a real Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from headlines import same
from test_postgres import TODAY, broken_shop, duckdb_with, summary

from {{ cookiecutter.module_name }} import config, data, spark
from {{ cookiecutter.module_name }}.errors import UserError
from {{ cookiecutter.module_name }}.runner import Redactor

TOKEN = "dapi0123456789abcdef0123456789abcdef"


# --------------------------------------------------------------------------- URLs (no JVM)


@pytest.mark.parametrize(
    ("url", "kind", "master", "cores"),
    [
        ("spark://local[2]", "local", "local[2]", 2),
        ("spark://local[1]?parquet=data/sample", "local", "local[1]", 1),
        ("spark://spark-master.internal:7077", "master", "spark://spark-master.internal:7077", 1),
        ("sc://localhost:15002", "connect", None, 1),
    ],
)
def test_spark_url_forms(url, kind, master, cores):
    target = spark.parse_target(url)
    assert (target.kind, target.master, target.cores) == (kind, master, cores)
    config.parse_credentials(url)  # accepted by the check every run makes first


def test_spark_connect_options_stay_out_of_the_connect_url(monkeypatch):
    monkeypatch.delenv(config.SPARK_TOKEN_ENV, raising=False)
    target = spark.parse_target(f"sc://h.cloud.databricks.com:443/;use_ssl=true;token={TOKEN}"
                                "?database=main.shop&shuffle_partitions=64")  # fmt: skip
    assert target.remote == f"sc://h.cloud.databricks.com:443/;use_ssl=true;token={TOKEN}"
    assert (target.database, target.shuffle_partitions) == ("main.shop", 64)
    monkeypatch.setenv(config.SPARK_TOKEN_ENV, TOKEN)
    assert spark.parse_target("sc://h:443/;use_ssl=true").remote.endswith(f";token={TOKEN}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://local[2]?parket=data", r"option this project does not know \(parket\)"),
        ("spark://local[2]?shuffle_partitions=0", "not a whole number above 0"),
        ("spark://yarn", "neither a local Spark nor a master"),
        ("sc://h:15002?warehouse=/tmp/w", "warehouse= is for a local Spark only"),
    ],
)
def test_bad_spark_urls_say_what_to_write(url, message):
    with pytest.raises(UserError, match=message):
        spark.parse_target(url)


def test_session_settings_utc_and_partitions_sized_for_the_data(tmp_path):
    (tmp_path / "orders.parquet").write_bytes(b"x" * 1000)
    local = spark.parse_target(f"spark://local[2]?parquet={tmp_path}")
    settings = spark.session_settings(local)
    assert settings["spark.sql.session.timeZone"] == "UTC"
    assert settings["spark.sql.shuffle.partitions"] == "2"  # a small shop: one per core
    big = spark.Target("local", "local[2]", None, 2, None, None, None, None)
    assert spark.shuffle_partitions(big) == 2
    # a cluster keeps its own setting (adaptive execution coalesces) unless told otherwise
    assert "spark.sql.shuffle.partitions" not in spark.session_settings(
        spark.parse_target("sc://h:15002")
    )
    assert spark.shuffle_partitions(spark.parse_target("sc://h:1?shuffle_partitions=8")) == 8


def test_spark_tokens_are_masked_everywhere(monkeypatch):
    url = f"sc://h.cloud.databricks.com:443/;use_ssl=true;token={TOKEN}"
    env = {config.DATA_URL_ENV: url, config.SPARK_TOKEN_ENV: "other-" + TOKEN[::-1]}
    monkeypatch.setenv(config.SPARK_TOKEN_ENV, env[config.SPARK_TOKEN_ENV])
    assert TOKEN in config.parse_credentials(url).secrets
    redactor = Redactor(env)
    shown = redactor.text(f"failed: {url} token={TOKEN} and {env[config.SPARK_TOKEN_ENV]}")
    assert TOKEN not in shown and env[config.SPARK_TOKEN_ENV] not in shown


def test_no_java_says_install_a_jre_17(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(spark, "_installed_javas", lambda: [])
    with pytest.raises(UserError, match="install a Java 17 runtime.*openjdk-17-jre-headless"):
        spark.ensure_java()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/java")
    with pytest.raises(UserError, match="no working bin/java there"):
        spark.ensure_java()


# --------------------------------------------------------------------------- a real Spark


def write_parquet(folder, tables: dict[str, pd.DataFrame]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(arrow, folder / f"{name}.parquet", coerce_timestamps="us")
    return folder


@pytest.mark.spark
def test_validation_on_spark_finds_the_same_problems_as_on_duckdb(spark_url, tmp_path):
    tables = broken_shop()
    folder = write_parquet(tmp_path / "broken", tables)
    on_spark = data.validate(con=data._connect_url(f"{spark_url}?parquet={folder}"), today=TODAY)
    on_duckdb = data.validate(con=duckdb_with(tables), today=TODAY)
    assert summary(on_spark) == summary(on_duckdb), on_spark.to_text()


@pytest.mark.spark
def test_connect_reads_the_parquet_folder_with_the_contract_types(spark_url, sample_dir):
    con = data._connect_url(f"{spark_url}?parquet={sample_dir}")
    assert con.name == "pyspark"
    orders = data.table(con, "orders")
    duck = data.table(data._connect_folder(sample_dir), "orders")
    assert orders.schema() == duck.schema()
    assert data.as_of(con) == data.as_of(duck.get_backend())
    spark_session = con._session
    assert spark_session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark_session.conf.get("spark.sql.shuffle.partitions") == "2"


def engine_results(con) -> dict[str, pd.DataFrame]:
    """Every engine-side computation the reports make, on one connection (one frame each)."""
    from {{ cookiecutter.module_name }} import churn, experiments, segmentation

    orders = data.table(con, "orders")
    as_of = data.analysis_date(con).day
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=90)
    results = {
        "churn.build_features": churn.build_features(
            orders, cutoff=cutoff, sessions=data.table(con, "sessions")
        ),
        "churn.build_labels": churn.build_labels(orders, cutoff=cutoff, horizon_days=60)
        .rename("label")
        .to_frame(),
        "churn.inter_purchase_days": churn.inter_purchase_days(orders, as_of=as_of),
        "segmentation.customer_features": segmentation.customer_features(orders, as_of=as_of),
        "segmentation.repurchase_gaps": segmentation.repurchase_gaps(orders, as_of=as_of),
    }
    assignments = data.table(con, "assignments")
    experiment = assignments.experiment_id.min().execute()
    results["experiments.unit_outcomes"] = experiments.unit_outcomes(
        assignments,
        orders,
        experiment,
        sessions=data.table(con, "sessions"),
        customers=data.table(con, "customers"),
    )
{%- if cookiecutter.weekly_business_review %}
    from {{ cookiecutter.module_name }} import acquisition, drilldown, operations, retention, weekly

    end = data.analysis_date(con).end
    series = operations.operations(con, end).series
    results["operations.series"] = series.reset_index(names="week")
    for cut in drilldown.drilldown(con, end):
        results[f"drilldown.{cut.kind}"] = cut.table.reset_index()

    # the shared customer-order history (a cached DataFrame on Spark) and what reads it; rows
    # in one order, so that the positions compared are the same on both engines
    def in_order(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    results["weekly.weekly_series"] = weekly.weekly_series(con, end).reset_index(names="week")
    results["retention.cohort_counts"] = in_order(retention.cohort_counts(con, end))
    results["retention.second_order_days"] = in_order(retention.second_order_days(con, end))
    weeks = retention.new_vs_returning(con, end)
    results["retention.new_vs_returning"] = weeks.reset_index(names="week")
    results["acquisition.customer_histories"] = in_order(acquisition.customer_histories(con, end))
{%- endif %}
    return results


def plain(values: pd.Series) -> list:
    """Comparable values: None for missing, ISO text for times, floats for numbers."""
    shown = []
    for value in values.tolist():
        if pd.isna(value):
            value = None
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        shown.append(value)
    return shown


def assert_same_frames(found: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]):
    for name, want in expected.items():
        got = found[name]
        assert list(got.columns) == list(want.columns), name
        key = list(want.columns)
        got = got.reset_index().sort_values(["index", *key] if "index" in got else key)
        want = want.reset_index().sort_values(["index", *key] if "index" in want else key)
        assert len(got) == len(want), name
        for column in want.columns:
            a, b = plain(got[column]), plain(want[column])
            assert same(a, b), (name, column)


@pytest.mark.spark
def test_engine_side_functions_on_spark_match_duckdb(spark_url, sample_dir):
    on_duckdb = engine_results(data._connect_folder(sample_dir))
    on_spark = engine_results(data._connect_url(f"{spark_url}?parquet={sample_dir}"))
    assert_same_frames(on_spark, on_duckdb)


@pytest.mark.spark
def test_spark_connect_reads_the_sample_shop_like_duckdb(spark_connect_url, sample_dir):
    # a process that holds a classic session (spark_url) cannot open a Spark Connect one:
    # the check runs in a process of its own, as every report kernel does
    script = (
        "import json; from {{ cookiecutter.module_name }} import data; r = data.validate(); "
        "print(json.dumps({'ok': r.ok, 'rows': r.rows, 'text': r.to_text()}))"
    )
    env = {**os.environ, config.DATA_URL_ENV: f"{spark_connect_url}?parquet={sample_dir}"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    duck = data.validate(con=data._connect_folder(sample_dir))
    assert found["ok"], found["text"]
    assert found["rows"] == duck.rows
