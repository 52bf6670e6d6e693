"""A private, throw-away PostgreSQL 15 cluster for the integration tier (initdb in a temp dir, unix socket).

Conftests get the fixtures `pg_admin_url` (the cluster, per session) and `pg_url` (a fresh database per
test) with `from tests.integration.store.pg_cluster import pg_admin_url, pg_url  # noqa: F401`.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")
_counter = itertools.count()


def pg_bin(name: str) -> str | None:
    for d in BIN_DIRS:
        path = Path(d) / name
        if path.exists():
            return str(path)
    return None


def _as_postgres(args: list[str]) -> subprocess.CompletedProcess[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user when we are root."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield the SQLAlchemy URL of the cluster's `postgres` database; stop and delete it afterwards."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL 15 binaries not found: apt-get install postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="pwxpg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(data, pw.pw_uid, pw.pw_gid)
    started = False
    try:
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
        opts = f"-k {root} -c listen_addresses='' -c max_connections=300 -c fsync=off -c full_page_writes=off"
        _as_postgres(
            [pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60", "start"]
        )
        started = True
        yield f"postgresql+psycopg://postgres@/postgres?host={root}"
    finally:
        if started:
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    """Create a new empty database in the cluster and return its URL."""
    import psycopg

    name = f"pwx_{os.getpid()}_{next(_counter)}"
    host = admin_url.split("host=", 1)[1]
    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@/{name}?host={host}"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_admin_url: str) -> str:
    return fresh_database(pg_admin_url)
