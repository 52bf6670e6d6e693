"""Store tier fixtures: a private PostgreSQL cluster for the session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.store.pg_cluster import fresh_database, postgres_cluster


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_admin_url: str) -> str:
    return fresh_database(pg_admin_url)
