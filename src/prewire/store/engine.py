"""Engines and transactions.  SQLite (WAL, BEGIN IMMEDIATE for writers) or PostgreSQL (psycopg 3).

Every unit of work is a function of a Session run by `Store.write` / `Store.read`, which retries it on
serialization failures, deadlocks, "database is locked" and unique-constraint races; the unique
constraints in the schema are the last line of defence against a duplicate VLAN, MAC or IP.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from prewire.errors import Conflict, InvalidInput, PrewireError, Unavailable
from prewire.store.tables import Meta

T = TypeVar("T")
log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
ATTEMPTS = 12


def default_url(state_dir: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(state_dir) / 'controller.db'}"


def _normalize(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=20, max_overflow=60
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=60000"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    if isinstance(exc, IntegrityError):  # a unique-key race: the retry sees the winner's row
        return code == "23505" or "UNIQUE constraint failed" in str(exc.orig)
    if code in _RETRY_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig)


class Store:
    """The database of one controller: engines, migrations, retried transactions."""

    def __init__(self, url: str) -> None:
        self.url = _normalize(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            db = make_url(self.url).database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self._reader = _sqlite_engine(self.url, "BEGIN")
        else:
            self._writer = create_engine(self.url, pool_size=20, max_overflow=60, pool_pre_ping=True)
            self._reader = self._writer
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic, programmatic) and seed the counters."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self._writer.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise Unavailable(f"database {self.safe_url} unreachable: {exc.orig}") from None
        self.write(self._seed)

    @staticmethod
    def _seed(s: Session) -> None:
        have = set(s.scalars(select(Meta.key)))
        if "fabric_id" not in have:
            s.add(Meta(key="fabric_id", value=random.SystemRandom().randrange(0, 256)))
        for key in ("mac_counter", "vlan_lock"):
            if key not in have:
                s.add(Meta(key=key, value=0))

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def write(self, fn: Callable[[Session], T]) -> T:
        return self._run(self._write_sessions, fn)

    def read(self, fn: Callable[[Session], T]) -> T:
        return self._run(self._read_sessions, fn)

    def _run(self, factory: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
        delay = 0.005
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with factory() as session, session.begin():
                    return fn(session)
            except PrewireError:
                raise
            except DataError as exc:
                raise InvalidInput(f"value rejected by the database: {exc.orig}") from None
            except DBAPIError as exc:
                if exc.connection_invalidated or (
                    isinstance(exc, OperationalError) and not _retryable(exc) and self.is_postgres
                ):
                    raise Unavailable(f"database {self.safe_url} unreachable: {exc.orig}") from None
                if not _retryable(exc):
                    raise
                if attempt == ATTEMPTS:
                    if isinstance(exc, IntegrityError):
                        raise Conflict(f"concurrent change collided: retry ({exc.orig})") from None
                    raise Unavailable(f"database busy: retry later ({exc.orig})") from None
                log.debug("retrying transaction (attempt %d): %s", attempt, exc.orig)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def connect(self) -> Connection:
        """A raw connection (for session-level locks); the caller closes it."""
        return self._writer.connect()

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()
