"""Spark as the engine: the reports on a lakehouse (Databricks, EMR, Dataproc) or a local Spark.

``SHOP_DATA_URL`` names the Spark target (environment only, like every connection):

- ``spark://local[2]`` (or ``spark://local``, ``spark://local[*]``): a Spark inside this process,
  on 2 cores (or all), for trying it out and for the tests; needs a Java 17 (or 21) runtime.
- ``spark://host:7077``: a Spark standalone master (this machine is the driver).
- ``sc://host:15002`` (or ``sc://host:443/;token=...;use_ssl=true;x-databricks-cluster-id=...``):
  a Spark Connect endpoint, the way to a real cluster; only a thin client runs here. A token is
  taken from the URL or from the environment variable ``SHOP_SPARK_TOKEN``, never from a file,
  and masked in every log and page.

Options after ``?`` (all optional): ``parquet=FOLDER`` reads ``<table>.parquet`` files or
``<table>/`` folders of Parquet parts as the tables (a path the Spark driver can read: local,
``s3://``, ``abfss://``, ``dbfs:/``...; a relative path is taken from the project root);
``database=catalog.schema`` (or ``schema``) reads catalog tables of those names instead;
``warehouse=FOLDER`` is the local Spark's warehouse; ``shuffle_partitions=N`` overrides the
sizing below.

Every session runs with the UTC session time zone (the data contract's times are UTC) and
adaptive query execution. Shuffle partitions are sized for the data: a local Spark gets one per
64 MiB of Parquet input, at least one per core, at most 200 (Spark's default of 200 makes a
10k-customer shop spend its time scheduling empty tasks); a cluster keeps its own setting, which
adaptive execution coalesces, unless ``shuffle_partitions`` says otherwise.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import config
from .errors import UserError

SCHEMES = ("spark", "sc")
TOKEN_ENV = config.SPARK_TOKEN_ENV
JAVA_HINT = (
    "install a Java 17 runtime (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; "
    "macOS: brew install openjdk@17) or set JAVA_HOME to a Java 17 or 21 installation"
)
INSTALL_HINT = "pip install 'pyspark[connect]>=4.0,<4.1' 'ibis-framework[pyspark]>=12,<13'"
SUPPORTED_JAVA = (17, 21)  # what Spark 4.0 is built and tested for
_LOCAL = re.compile(r"^local(\[(?P<cores>[0-9]+|\*)\])?$")
_OPTIONS = ("parquet", "database", "warehouse", "shuffle_partitions")
PARTITION_BYTES = 64 << 20
MAX_PARTITIONS = 200


@dataclass(frozen=True)
class Target:
    """What a Spark ``SHOP_DATA_URL`` asks for."""

    kind: str  # "local" | "master" | "connect"
    master: str | None  # local[2], spark://host:7077 (not for Spark Connect)
    remote: str | None  # the Spark Connect URL without the shop's own options
    cores: int  # local cores (1 for the other kinds: unknown, the cluster's)
    parquet: str | None
    database: str | None
    warehouse: str | None
    shuffle_partitions: int | None


def is_spark_url(url: str) -> bool:
    return url.strip().partition("://")[0].lower() in SCHEMES


def parsable(url: str) -> str:
    """The URL as :func:`urllib.parse.urlsplit` reads it (``local[2]`` is no host name)."""
    return re.sub(r"^(spark://local)\[([0-9]+|\*)\]", r"\1", url.strip(), flags=re.IGNORECASE)


def parse_target(url: str) -> Target:
    """The Spark target of a URL, or a UserError saying how to write it."""
    url = url.strip()
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    parts = urlsplit(parsable(url))
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise UserError(
            f"The Spark URL in {config.DATA_URL_ENV} has an option this project does not know "
            f"({', '.join(unknown)}); the options are {', '.join(_OPTIONS)}, e.g. "
            "spark://local[2]?parquet=data/sample."
        )
    partitions = options.get("shuffle_partitions")
    if partitions is not None and not (partitions.isdigit() and int(partitions) > 0):
        raise UserError(
            f"shuffle_partitions={partitions!r} in {config.DATA_URL_ENV} is not a whole number "
            "above 0; leave it out to let the project size it for the data."
        )
    common = {
        "parquet": options.get("parquet"),
        "database": options.get("database"),
        "warehouse": options.get("warehouse"),
        "shuffle_partitions": int(partitions) if partitions else None,
    }
    if scheme == "sc":
        if not parts.hostname:
            raise UserError(
                f"The Spark Connect URL in {config.DATA_URL_ENV} names no host; expected e.g. "
                "sc://localhost:15002 or sc://HOST:443/;use_ssl=true;token=... (token better in "
                f"the environment variable {TOKEN_ENV})."
            )
        if common["warehouse"]:
            raise UserError(
                "warehouse= is for a local Spark only: a Spark Connect server has its own "
                "warehouse. Remove it from the URL, or use database=catalog.schema."
            )
        remote = url.split("?", 1)[0]
        token = os.environ.get(TOKEN_ENV, "").strip()
        if token and "token=" not in remote.lower():
            remote = remote.rstrip("/") + "/;token=" + token
        return Target("connect", None, remote, 1, **common)
    host = rest.split("?", 1)[0].rstrip("/")
    local = _LOCAL.match(host)
    if local:
        wanted = local.group("cores")
        available = os.cpu_count() or 1
        # spark://local: 2 cores, the machine's other work keeps the rest
        cores = {None: min(2, available), "*": available}.get(wanted) or int(wanted)
        master = "local[*]" if wanted == "*" else f"local[{cores}]"
        return Target("local", master, None, cores, **common)
    if parts.hostname and parts.port:
        return Target("master", f"spark://{parts.hostname}:{parts.port}", None, 1, **common)
    raise UserError(
        f"The Spark URL in {config.DATA_URL_ENV} is neither a local Spark nor a master: expected "
        "spark://local[2] (a Spark in this process, 2 cores), spark://HOST:7077 (a standalone "
        "master) or sc://HOST:15002 (Spark Connect, e.g. Databricks)."
    )


# --------------------------------------------------------------------------- Java


def java_version(java: str) -> int | None:
    """The major version of a ``java`` binary (17 for 17.0.15), None when it does not run."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "([0-9]+)(?:\.([0-9]+))?', done.stderr + done.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _installed_javas() -> list[Path]:
    """Java homes in the usual places (Debian's /usr/lib/jvm, macOS's JavaVirtualMachines)."""
    homes = [*Path("/usr/lib/jvm").glob("*"), *Path("/Library/Java/JavaVirtualMachines").glob("*")]
    return sorted({h.resolve() for h in homes if (h / "bin" / "java").is_file()})


def ensure_java() -> dict[str, str]:
    """The environment a local Spark needs (JAVA_HOME of a supported Java), or a UserError.

    JAVA_HOME wins when it is set; otherwise the ``java`` on the PATH, and when that is not a
    version Spark 4.0 supports, an installed Java 17 or 21 (Debian's /usr/lib/jvm).
    """
    home = os.environ.get("JAVA_HOME", "").strip()
    if home:
        version = java_version(str(Path(home) / "bin" / "java"))
        if version is None:
            raise UserError(
                f"JAVA_HOME is set to {home}, but there is no working bin/java there. "
                f"Please {JAVA_HINT}."
            )
        if version < SUPPORTED_JAVA[0]:
            raise UserError(
                f"JAVA_HOME points to Java {version}; Spark 4 needs Java 17 or 21. "
                f"Please {JAVA_HINT}."
            )
        return {}
    on_path = shutil.which("java")
    version = java_version(on_path) if on_path else None
    if version in SUPPORTED_JAVA:
        return {}
    for candidate in _installed_javas():
        if java_version(str(candidate / "bin" / "java")) in SUPPORTED_JAVA:
            return {"JAVA_HOME": str(candidate)}
    if version is None:
        raise UserError(
            "Spark needs a Java runtime and none was found (no java on the PATH, JAVA_HOME "
            f"not set). Please {JAVA_HINT}."
        )
    if version < SUPPORTED_JAVA[0]:
        raise UserError(f"The java on the PATH is Java {version}; Spark 4 needs Java 17 or 21. "
                        f"Please {JAVA_HINT}.")  # fmt: skip
    return {}  # a newer Java with no 17/21 beside it: let Spark try


# --------------------------------------------------------------------------- sessions


def parquet_bytes(folder: str | None) -> int | None:
    """Total size of the Parquet files under a local folder (None when not local)."""
    if not folder or "://" in folder or folder.startswith("dbfs:"):
        return None
    path = config.resolve(folder)
    if not path.is_dir():
        return None
    return sum(p.stat().st_size for p in path.rglob("*.parquet") if p.is_file())


def shuffle_partitions(target: Target) -> int | None:
    """Shuffle partitions sized for the data (None: keep the cluster's own setting)."""
    if target.shuffle_partitions:
        return target.shuffle_partitions
    if target.kind != "local":
        return None
    size = parquet_bytes(target.parquet) or 0
    return max(target.cores, min(MAX_PARTITIONS, math.ceil(size / PARTITION_BYTES)))


def session_settings(target: Target) -> dict[str, str]:
    """Spark SQL settings of every session (runtime settings: Spark Connect accepts them)."""
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
    }
    partitions = shuffle_partitions(target)
    if partitions:
        settings["spark.sql.shuffle.partitions"] = str(partitions)
    return settings


def _import_pyspark() -> Any:
    try:
        import ibis.backends.pyspark  # noqa: F401 - the Ibis backend and its pyspark
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise UserError(
            f"{config.DATA_URL_ENV} names a Spark target, but Spark's Python packages are not "
            f"installed ({error}). Please install them: {INSTALL_HINT}."
        ) from None
    return SparkSession


def start_session(target: Target) -> Any:
    """A SparkSession for the target (the running one of this process when there is one)."""
    spark_session = _import_pyspark()
    settings = session_settings(target)
    if target.kind == "connect":
        builder = spark_session.builder.remote(target.remote)
        session = builder.getOrCreate()
        for key, value in settings.items():
            session.conf.set(key, value)
        return session
    os.environ.update(ensure_java())
    builder = spark_session.builder.master(target.master).appName(
        f"{config.project_root().name} reports"
    )
    static = {
        "spark.ui.enabled": "false",
        "spark.log.level": "ERROR",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": os.environ.get("SHOP_SPARK_DRIVER_MEMORY", "2g"),
    }
    if target.kind == "local":
        static["spark.driver.bindAddress"] = "127.0.0.1"
        static["spark.driver.host"] = "127.0.0.1"
    if target.warehouse:
        static["spark.sql.warehouse.dir"] = str(config.resolve(target.warehouse))
    for key, value in {**static, **settings}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    for key, value in settings.items():  # a session already running keeps its own otherwise
        session.conf.set(key, value)
    return session


def use_database(session: Any, database: str) -> None:
    """``USE`` the catalog and schema of ``database=catalog.schema`` (or ``schema``)."""
    names = [n.strip("`") for n in database.split(".")]
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", n) for n in names) or len(names) > 2:
        raise UserError(
            f"database={database!r} in {config.DATA_URL_ENV} is not a schema name; expected "
            "e.g. database=shop or database=main.shop (catalog.schema)."
        )
    if len(names) == 2:
        session.sql(f"USE CATALOG `{names[0]}`")
    session.sql(f"USE `{names[-1]}`")
