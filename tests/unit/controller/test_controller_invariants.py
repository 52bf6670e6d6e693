"""Random sequences of take / bind / release / return / refill never break the ledger's invariants."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from prewire.domain.model import ADMIN, BoundReport
from prewire.errors import PrewireError
from prewire.store.tables import NetworkRow, ProfileRow
from tests.unit.controller.ctl_helpers import make_controller

SERVERS = ["s0", "s1", "s2"]


class Ledger(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="pwxctl-hyp-")
        self.ctl = make_controller(f"sqlite:///{self.dir}/c.db", pool_low=2, pool_target=4)
        self.ctl.create_tenant(ADMIN, "t")
        self.ctl.create_network(ADMIN, "t", "n", "10.0.0.0/27", gateway="10.0.0.30")
        for s in SERVERS:
            self.ctl.register_server(ADMIN, s)

    def teardown(self) -> None:
        self.ctl.store.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _macs(self) -> list[str]:
        return self.ctl.store.read(lambda s: list(s.scalars(select(ProfileRow.mac).order_by(ProfileRow.id))))

    @rule(server=st.sampled_from(SERVERS), count=st.integers(1, 12))
    def take(self, server: str, count: int) -> None:
        with contextlib.suppress(PrewireError):  # exhaustion is a legal outcome
            self.ctl.take(ADMIN, server, "t/n", count)

    @rule(
        server=st.sampled_from(SERVERS), pick=st.integers(0, 40), container=st.sampled_from(["a", "b", "c"])
    )
    def bind(self, server: str, pick: int, container: str) -> None:
        macs = self._macs()
        if macs:
            self.ctl.report(ADMIN, server, [BoundReport(macs[pick % len(macs)], container)], [])

    @rule(server=st.sampled_from(SERVERS), pick=st.integers(0, 40), named=st.booleans())
    def release(self, server: str, pick: int, named: bool) -> None:
        macs = self._macs()
        if macs:
            mac = macs[pick % len(macs)]
            self.ctl.report(ADMIN, server, [], [(mac, "a")] if named else [mac])

    @rule(server=st.sampled_from(SERVERS), pick=st.integers(0, 40))
    def give_back(self, server: str, pick: int) -> None:
        macs = self._macs()
        if macs:
            self.ctl.return_profiles(ADMIN, server, [macs[pick % len(macs)]])

    @rule()
    def refill(self) -> None:
        self.ctl.refill()

    @invariant()
    def consistent(self) -> None:
        rows = self.ctl.store.read(lambda s: s.execute(select(ProfileRow)).scalars().all())
        net = self.ctl.store.read(lambda s: s.scalars(select(NetworkRow)).one())
        subnet = ipaddress.IPv4Network(net.subnet)
        reserved = {str(subnet.network_address), str(subnet.broadcast_address), net.gateway}
        assert len({r.mac for r in rows}) == len(rows)
        assert len({r.ip for r in rows}) == len(rows)
        for r in rows:
            assert r.ip not in reserved and ipaddress.IPv4Address(r.ip) in subnet
            assert (r.server_id is None) == (r.state == "free")
            assert (r.container is not None) == (r.state == "bound")


Ledger.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
TestLedger = Ledger.TestCase
