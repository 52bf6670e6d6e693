"""Faults-suite fixtures: controller processes (stopped by PID), a private PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prewire.store import default_url
from tests.faults.faults_support import ControllerProc
from tests.integration.store.pg_cluster import fresh_database, postgres_cluster

MakeController = Callable[..., ControllerProc]


@pytest.fixture(scope="session")
def faults_pg_admin() -> Iterator[str]:
    """A private PostgreSQL 15 cluster (initdb in a temp dir, unix socket), stopped at the end."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def controllers(tmp_path: Path) -> Iterator[MakeController]:
    """Factory of controller processes, each with its own state dir; every one is stopped at teardown."""
    made: list[ControllerProc] = []

    def make(db_url: str | None = None, *extra: str, name: str = "ctl") -> ControllerProc:
        proc = ControllerProc(tmp_path / f"{name}{len(made)}", db_url, *extra)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[str, str | None, Callable[[Path], str]]:
    """(backend name, --db-url or None for SQLite, state dir -> SQLAlchemy URL of that database)."""
    if request.param == "sqlite":
        return "sqlite", None, lambda state_dir: default_url(state_dir)
    admin = request.getfixturevalue("faults_pg_admin")
    url = fresh_database(admin)
    return "postgres", url, lambda _state_dir: url
