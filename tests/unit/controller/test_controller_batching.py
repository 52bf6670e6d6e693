"""Batching, sync plans, backoff and per-switch locks used by pre-distribution."""

from __future__ import annotations

import threading

import pytest

from prewire.errors import Unavailable
from prewire.switch.base import SwitchProfile
from prewire.switch.batching import Backoff, chunks, plan
from prewire.switch.locking import SwitchLocks


def test_chunks() -> None:
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_plan() -> None:
    a, b, c = (SwitchProfile(f"02:00:00:00:00:0{i}", 100 + i) for i in range(3))
    todo = plan({a.mac: a, b.mac: b, c.mac: c}, {a.mac: a.vlan, b.mac: 999, "02:00:00:00:00:09": 5})
    assert todo.load == [b, c]
    assert todo.remove == ["02:00:00:00:00:09"]
    assert plan({a.mac: a}, {a.mac: a.vlan}).empty


def test_backoff_grows_and_resets() -> None:
    bo = Backoff(initial=1.0, maximum=8.0)
    delays = [bo.next() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(d <= 8.0 for d in delays) and delays[-1] >= 4.0
    bo.reset()
    assert bo.next() <= 1.0


def test_switch_locks_serialize() -> None:
    locks = SwitchLocks()
    inside = []
    peak = []

    def work() -> None:
        with locks.hold("tor0"):
            inside.append(1)
            peak.append(len(inside))
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(peak) == 1
    with locks.hold("tor0"):
        assert locks.held("tor0") and not locks.held("tor1")
        with pytest.raises(Unavailable, match="busy"), locks.hold("tor0", timeout=0.01):
            pass
