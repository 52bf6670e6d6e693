"""Alembic migrations run programmatically, idempotently; unique constraints guard the invariants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from prewire.store import Store
from prewire.store.engine import MIGRATIONS
from prewire.store.tables import NetworkRow, ProfileRow, TenantRow

pytestmark = pytest.mark.root


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 'sub' / 'c.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store(url)
    s.migrate()
    s.migrate()  # idempotent
    yield s
    s.dispose()


def test_at_head_with_all_tables(store: Store) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with store._writer.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
        tables = set(inspect(conn).get_table_names())
    assert {"tenants", "networks", "servers", "switches", "profiles", "switch_profiles", "meta"} <= tables


def test_unique_constraints(store: Store) -> None:
    def seed(s):  # type: ignore[no-untyped-def]
        s.add(TenantRow(id=1, name="t", token_hash="h"))
        s.flush()
        s.add(NetworkRow(id=1, tenant_id=1, name="n", subnet="10.0.0.0/24", vlan=100))
        s.flush()
        s.add(ProfileRow(mac="02:00:00:00:00:01", ip="10.0.0.1", network_id=1, state="free"))

    store.write(seed)
    dupes = [
        lambda s: s.add(NetworkRow(tenant_id=1, name="m", subnet="10.0.0.0/24", vlan=100)),
        lambda s: s.add(ProfileRow(mac="02:00:00:00:00:01", ip="10.0.0.2", network_id=1, state="free")),
        lambda s: s.add(ProfileRow(mac="02:00:00:00:00:02", ip="10.0.0.1", network_id=1, state="free")),
    ]
    for add in dupes:
        with pytest.raises(IntegrityError), store._write_sessions() as s, s.begin():
            add(s)


def test_wal_mode_on_sqlite(store: Store) -> None:
    if store.is_postgres:
        pytest.skip("SQLite only")
    with store._writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
