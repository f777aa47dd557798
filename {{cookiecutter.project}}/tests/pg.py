"""A throwaway PostgreSQL server for tests: ``postgres_url`` fixture and ``load_tables``.

The ``postgres_url`` fixture is registered once in conftest.py (one server per session); import the
helpers with ``from pg import load_tables``. The fixture is
session-scoped: one cluster in a temporary folder, on a free local port, trusted local logins,
started once, then stopped and deleted at the end of the session. Without the server binaries
the tests using it are skipped with a reason that says how to install them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ibis
import pandas as pd
import pytest
import sqlglot

INSTALL_HINT = "install the PostgreSQL server with `sudo apt-get install postgresql`"


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, if any."""
    candidates = [
        Path(found).parent
        for found in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if Path(found).with_name("pg_ctl").is_file()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: _version_key(p.parent.name))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without `runuser`; cannot start PostgreSQL as `postgres`")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip(f"running as root and there is no `postgres` user; {INSTALL_HINT}")
    return [runuser, "-u", "postgres", "--", *command]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster and yield its connection URL."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip(f"no PostgreSQL server binaries under /usr/lib/postgresql; {INSTALL_HINT}")
    base = Path(tempfile.mkdtemp(prefix="shop-pg-"))
    data_dir = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    port = _free_port()
    started = False
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ]
            )
        )
        # fsync off and no WAL safety: the cluster is thrown away, speed is all that matters
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(base / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
        )
        started = True
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)


def load_tables(url: str, tables: dict[str, pd.DataFrame]) -> None:
    """Write each frame to PostgreSQL as a table of that name (replacing an existing one)."""
    con = ibis.connect(url)
    try:
        for name, frame in tables.items():
            _drop(con, name)
            con.create_table(name, frame)
    finally:
        con.disconnect()


def drop_tables(url: str, names: list[str] | tuple[str, ...]) -> None:
    """Drop tables left by an earlier test so each test sees only its own tables."""
    con = ibis.connect(url)
    try:
        for name in names:
            _drop(con, name)
    finally:
        con.disconnect()


def _drop(con: ibis.BaseBackend, name: str) -> None:
    # Plain SQL on purpose: ibis 12 with sqlglot 30 renders ``drop_table`` and
    # ``create_table(overwrite=True)`` as "DROP TABLE IF EXISTS" without the table name.
    quoted = sqlglot.to_identifier(name, quoted=True).sql("postgres")
    with con.con.cursor() as cursor, con.con.transaction():
        cursor.execute(f"DROP TABLE IF EXISTS {quoted}")
