"""Two controllers on one PostgreSQL serialize their work on a switch through advisory locks."""

from __future__ import annotations

import threading
import time

import pytest

from prewire.store import Store
from prewire.switch.locking import SwitchLocks, advisory_key

pytestmark = [pytest.mark.root, pytest.mark.postgres]


def test_advisory_lock_serializes_two_controllers(pg_url: str) -> None:
    store = Store(pg_url)
    store.migrate()
    a, b = SwitchLocks(store.connect), SwitchLocks(store.connect)  # as if in two processes
    order: list[str] = []
    a_holds = threading.Event()

    def first() -> None:
        with a.hold("tor0"):
            a_holds.set()
            time.sleep(0.3)
            order.append("a-done")

    t = threading.Thread(target=first)
    t.start()
    a_holds.wait(10)
    with b.hold("tor0"):
        order.append("b-in")
    with b.hold("tor1"):  # another switch is independent
        pass
    t.join(10)
    assert order == ["a-done", "b-in"]
    assert advisory_key("tor0") != advisory_key("tor1")
    store.dispose()
