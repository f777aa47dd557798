"""A real local Spark for tests: a session in this process and a Spark Connect server on 127.0.0.1.

The fixtures are registered once in conftest.py (one JVM each per test session):

- ``spark_url``: ``spark://local[2]``, with a SparkSession started once in this process (the
  tests' own connections reuse it; a report run starts one per notebook kernel).
- ``spark_connect_url``: ``sc://127.0.0.1:<free port>``, a Spark Connect server started from
  the pip package (its bundled jars, ``local[2]`` behind it), stopped at the end of the session.

Without pyspark or a Java 17 runtime the tests using them are skipped with a reason saying what to
install, unless ``SHOP_REQUIRE_SPARK=1`` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import spark
from {{ cookiecutter.module_name }}.errors import UserError

REQUIRE_ENV = "SHOP_REQUIRE_SPARK"
LOCAL_URL = "spark://local[2]"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def unavailable(reason: str) -> None:
    """Skip (or, with SHOP_REQUIRE_SPARK=1, fail): Spark cannot run here."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but Spark cannot run: {reason}")
    pytest.skip(reason)


def java_env() -> dict[str, str]:
    """The environment with JAVA_HOME of a supported Java, or skip/fail saying what is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        unavailable(f"pyspark is not installed; {spark.INSTALL_HINT}")
    try:
        return {**os.environ, **spark.ensure_java()}
    except UserError as error:
        unavailable(str(error))
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def spark_url() -> Iterator[str]:
    """``spark://local[2]``, its session started once (≈10 s) and stopped at the end."""
    os.environ.update({k: v for k, v in java_env().items() if k == "JAVA_HOME"})
    started = time.monotonic()
    session = spark.start_session(spark.parse_target(LOCAL_URL))
    session.range(1).count()  # the JVM is up and runs a job
    print(f"local Spark session started in {time.monotonic() - started:.1f} s")
    try:
        yield LOCAL_URL
    finally:
        session.stop()


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@pytest.fixture(scope="session")
def spark_connect_url() -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1 (a JVM of its own); yields its ``sc://`` URL."""
    env = java_env()
    home = spark_home()
    jars = list((home / "jars").glob("spark-connect_*.jar"))
    if not jars:
        unavailable(f"the pyspark package at {home} ships no Spark Connect server jar")
    port = _free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="shop-spark-connect-"))
    env = {**env, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(log_dir), "PYSPARK_PYTHON": ""}
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        SERVER_CLASS,
        "--master",
        "local[2]",
        "--driver-memory",
        "2g",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        f"spark.sql.warehouse.dir={log_dir / 'warehouse'}",
        str(jars[0]),
    ]
    log = (log_dir / "server.log").open("wb")
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.poll() is not None:
                text = (log_dir / "server.log").read_text(errors="replace")[-2000:]
                unavailable(f"the Spark Connect server exited ({server.returncode}): {text}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.5)
        else:
            unavailable("the Spark Connect server did not listen within 120 s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()
