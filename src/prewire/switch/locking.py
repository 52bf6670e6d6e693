"""Per-switch serialization: at most one operation on a switch at a time.

Switch channels (NETCONF sessions, CLI commit, the lab switch agent's socket) do not like concurrent
configuration, and ordering matters (a remove must not overtake the load it undoes).  The pre-distributor
runs one worker per switch and takes this lock around every pass; ad-hoc callers take the same lock.
Within a process a threading.Lock per switch does it; when several controllers share one PostgreSQL, pass
`connect` (a SQLAlchemy engine's connect) and a session-level advisory lock per switch also serializes
the controllers.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from prewire.errors import Unavailable

ADVISORY_NAMESPACE = 0x7077  # "pw": keeps our advisory lock keys apart from anyone else's


def advisory_key(name: str) -> int:
    """A stable 63-bit key for switch `name`."""
    return (ADVISORY_NAMESPACE << 32) | zlib.crc32(f"prewire-switch:{name}".encode())


class SwitchLocks:
    """A registry of named locks, one per switch (optionally backed by PostgreSQL advisory locks)."""

    def __init__(self, connect: Callable[[], Any] | None = None) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._connect = connect

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    @contextmanager
    def hold(self, name: str, timeout: float = -1) -> Iterator[None]:
        """Hold switch `name`'s lock; Unavailable if it cannot be had within `timeout` seconds."""
        lock = self._lock(name)
        if not lock.acquire(timeout=timeout):
            raise Unavailable(f"switch {name} is busy: retry later")
        try:
            if self._connect is None:
                yield
            else:
                with self._advisory(name):
                    yield
        finally:
            lock.release()

    @contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        key = advisory_key(name)
        with self._connect() as conn:  # type: ignore[misc]
            conn.execute(select(func.pg_advisory_lock(key)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()

    def held(self, name: str) -> bool:
        return self._lock(name).locked()
