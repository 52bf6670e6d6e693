"""No duplicate VLAN, MAC or IP under 50 concurrent requests, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from prewire.controller.service import Controller
from prewire.domain.model import ADMIN, Profile
from prewire.errors import Conflict, PrewireError
from prewire.store.tables import NetworkRow, ProfileRow
from tests.unit.controller.ctl_helpers import make_controller

pytestmark = pytest.mark.root
THREADS = 50


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ctl(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Controller]:
    url = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    c = make_controller(url)
    yield c
    c.store.dispose()


def run_parallel(fn: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run fn(0..n-1) in n real threads released at once; return results or exceptions."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def body(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_concurrent_takes_never_duplicate(ctl: Controller) -> None:
    ctl.create_tenant(ADMIN, "acme")
    for net in ("a", "b"):
        ctl.create_network(ADMIN, "acme", net, "10.0.0.0/16")
    for i in range(THREADS):
        ctl.register_server(ADMIN, f"s{i}")
    results = run_parallel(lambda i: ctl.take(ADMIN, f"s{i}", f"acme/{'ab'[i % 2]}", 20))
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    got: list[Profile] = [p for r in results for p in r]
    assert len(got) == THREADS * 20
    assert len({p.mac for p in got}) == len(got)
    for net in ("acme/a", "acme/b"):
        ips = [p.ip for p in got if p.network == net]
        assert len(set(ips)) == len(ips) == THREADS // 2 * 20
    for i, batch in enumerate(results):
        assert {p.server for p in batch} == {f"s{i}"}
    rows = ctl.store.read(
        lambda s: s.execute(select(func.count(), func.count(ProfileRow.mac.distinct()))).one()
    )
    assert rows[0] == rows[1]


def test_concurrent_network_creation_unique_vlans(ctl: Controller) -> None:
    ctl.create_tenant(ADMIN, "acme")
    results = run_parallel(lambda i: ctl.create_network(ADMIN, "acme", f"n{i}", "10.0.0.0/24").vlan)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    assert sorted(results) == list(range(100, 100 + THREADS))
    vlans = ctl.store.read(lambda s: list(s.scalars(select(NetworkRow.vlan))))
    assert len(vlans) == len(set(vlans)) == THREADS


def test_concurrent_same_vlan_and_same_name(ctl: Controller) -> None:
    ctl.create_tenant(ADMIN, "acme")
    results = run_parallel(lambda i: ctl.create_network(ADMIN, "acme", f"v{i}", "10.0.0.0/24", vlan=777))
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    results = run_parallel(lambda i: ctl.create_tenant(ADMIN, "same"))
    ok = [r for r in results if not isinstance(r, PrewireError)]
    assert len(ok) == 1 and all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))


def test_concurrent_takes_and_refills_drain_a_small_subnet(ctl: Controller) -> None:
    """50 servers race for a /26 (62 addresses): exactly 62 profiles handed out, none twice."""
    ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "tiny", "10.9.0.0/26")
    for i in range(THREADS):
        ctl.register_server(ADMIN, f"s{i}")

    def work(i: int) -> int:
        if i % 5 == 0:
            return ctl.refill()
        try:
            return len(ctl.take(ADMIN, f"s{i}", "acme/tiny", 2))
        except PrewireError:
            return 0

    run_parallel(work)
    macs_ips = ctl.store.read(lambda s: s.execute(select(ProfileRow.mac, ProfileRow.ip)).all())
    assert len(macs_ips) <= 62
    assert len({m for m, _ in macs_ips}) == len({ip for _, ip in macs_ips}) == len(macs_ips)
