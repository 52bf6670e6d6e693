"""Store tier fixtures: a private PostgreSQL cluster for the session, a fresh database per test."""

from tests.integration.store.pg_cluster import pg_admin_url, pg_url  # noqa: F401
