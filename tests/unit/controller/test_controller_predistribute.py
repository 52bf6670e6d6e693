"""Pre-distribution to switches with a small in-test SwitchDevice (no registry, no hardware)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

import pytest

from prewire.controller.predistribute import Predistributor
from prewire.controller.service import Controller
from prewire.domain.model import ADMIN
from prewire.errors import InvalidInput, Unavailable
from prewire.switch.base import PortActivity, SwitchDevice, SwitchHealth, SwitchProfile
from tests.unit.controller.ctl_helpers import NEVER_ALLOCATED


class MemorySwitch(SwitchDevice):
    """Holds profiles in memory; can be made unreachable; records each batch."""

    driver_name = "memory"

    def __init__(self, name: str, options: Mapping[str, str]) -> None:
        super().__init__(name, options)
        self.table: dict[str, SwitchProfile] = {}
        self.down = False
        self.batches: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def _check(self) -> None:
        if self.down:
            raise Unavailable(f"switch {self.name} unreachable")

    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        with self.lock:
            self._check()
            self.batches.append(("load", len(profiles)))
            self.table.update({p.mac: p for p in profiles})

    def remove_profiles(self, macs: Sequence[str]) -> None:
        with self.lock:
            self._check()
            self.batches.append(("remove", len(macs)))
            for mac in macs:
                self.table.pop(mac, None)

    def held_profiles(self) -> list[SwitchProfile]:
        self._check()
        return sorted(self.table.values())

    def active_ports(self) -> list[PortActivity]:
        return []

    def health(self) -> SwitchHealth:
        return SwitchHealth(not self.down, len(self.table))


@pytest.fixture
def switches() -> dict[str, MemorySwitch]:
    return {}


@pytest.fixture
def factory(switches: dict[str, MemorySwitch]) -> Callable[[str, str, Mapping[str, str]], SwitchDevice]:
    def make(driver: str, name: str, options: Mapping[str, str]) -> SwitchDevice:
        assert driver == "memory"
        return switches.setdefault(name, MemorySwitch(name, options))

    return make


@pytest.fixture(autouse=True)
def _allow_memory_driver(ctl: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    known = ctl.known_drivers() or []
    monkeypatch.setattr(ctl, "known_drivers", lambda: [*known, "memory"])


def desired_macs(ctl: Controller) -> set[str]:
    return set(ctl.desired_profiles())


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_batches_and_bookkeeping(ctl: Controller, switches: dict[str, MemorySwitch], factory: object) -> None:
    ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "web", "10.0.0.0/24")
    ctl.register_switch(ADMIN, "tor0", "memory", {})
    ctl.register_switch(ADMIN, "tor1", "memory", {})
    ctl.register_server(ADMIN, "srv0", "tor0")
    ctl.take(ADMIN, "srv0", "acme/web", 20)  # 20 taken (8 free ones + 12 new)
    pre = Predistributor(ctl, factory, batch_size=7, refill=True)  # type: ignore[arg-type]
    results = pre.run_once()
    assert [r.loaded for r in results] == [28, 28]
    for sw in switches.values():
        assert set(sw.table) == desired_macs(ctl)
        assert all(n <= 7 for _op, n in sw.batches)
        assert {p.vlan for p in sw.table.values()} == {100}
    status = {s.name: s for s in ctl.switch_status(ADMIN)}
    assert status["tor0"].state == "in_sync" and status["tor0"].held == status["tor0"].desired == 28
    assert [r.loaded + r.removed for r in pre.run_once()] == [0, 0]  # nothing to do: nothing sent
    ctl.create_tenant(ADMIN, "blue")
    ctl.create_network(ADMIN, "blue", "web", "10.0.0.0/24")
    ctl.delete_network(ADMIN, "acme", "web")
    results = pre.run_once()
    assert [(r.loaded, r.removed) for r in results] == [(8, 28), (8, 28)]
    assert {p.vlan for p in switches["tor0"].table.values()} == {101}


def test_unreachable_switch_is_retried_and_resynced(
    ctl: Controller, switches: dict[str, MemorySwitch], factory: object
) -> None:
    ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "web", "10.0.0.0/24")
    ctl.register_switch(ADMIN, "tor0", "memory", {})
    pre = Predistributor(ctl, factory, refill=False)  # type: ignore[arg-type]
    pre.run_once()
    sw = switches["tor0"]
    sw.down = True
    ctl.create_network(ADMIN, "acme", "db", "10.1.0.0/24")
    pre.run_once()  # fails, recorded, does not raise
    st = ctl.switch_status(ADMIN)[0]
    assert st.state == "unreachable" and "unreachable" in st.last_error and st.held == 8
    # the switch comes back having lost its table (rebooted) and with a stray profile
    sw.down = False
    sw.table = {NEVER_ALLOCATED: SwitchProfile(NEVER_ALLOCATED, 7)}
    (res,) = pre.run_once()
    assert res.resynced and res.removed == 1 and res.loaded == 16
    assert set(sw.table) == desired_macs(ctl)
    assert ctl.switch_status(ADMIN)[0].state == "in_sync"


def test_background_pushes_ahead_of_demand(
    ctl: Controller, switches: dict[str, MemorySwitch], factory: object
) -> None:
    ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "web", "10.0.0.0/24")
    ctl.register_server(ADMIN, "srv0")
    pre = Predistributor(ctl, factory, resync_interval=0.5, backoff=(0.01, 0.05))  # type: ignore[arg-type]
    pre.start()
    try:
        ctl.register_switch(ADMIN, "tor0", "memory", {})
        wait_for(lambda: "tor0" in switches and set(switches["tor0"].table) == desired_macs(ctl))
        ctl.take(ADMIN, "srv0", "acme/web", 6)  # free pool falls below the low watermark (4): refilled
        wait_for(lambda: ctl.get_network(ADMIN, "acme", "web").profiles["free"] == 8)
        wait_for(lambda: set(switches["tor0"].table) == desired_macs(ctl))
        assert len(switches["tor0"].table) == 14
        switches["tor0"].down = True
        ctl.create_network(ADMIN, "acme", "db", "10.1.0.0/24")
        wait_for(lambda: ctl.switch_status(ADMIN)[0].state == "unreachable")
        switches["tor0"].down = False
        wait_for(
            lambda: set(switches["tor0"].table) == desired_macs(ctl) and len(switches["tor0"].table) == 22
        )
        ctl.delete_switch(ADMIN, "tor0")
    finally:
        pre.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("pw-")]


def test_unknown_driver_refused_and_factory_errors_recorded(ctl: Controller) -> None:
    with pytest.raises(InvalidInput, match="unknown switch driver"):
        ctl.register_switch(ADMIN, "tor0", "no-such-driver", {})
    assert ctl.list_switches(ADMIN) == []
    ctl.register_switch(ADMIN, "tor0", "fake", {"delay": "not-a-number"})
    pre = Predistributor(ctl, refill=False)
    assert pre.run_once() == []
    st = ctl.switch_status(ADMIN)[0]
    assert st.state == "unreachable" and "delay" in st.last_error


def test_real_fake_driver_with_failures_converges(ctl: Controller) -> None:
    """The registry's `fake` driver failing 30% of its calls: retries converge, nothing lost."""
    fake = pytest.importorskip("prewire.switch.drivers.fake")
    ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "web", "10.0.0.0/24")
    ctl.register_server(ADMIN, "srv0")
    ctl.register_switch(ADMIN, "pwxctl-f", "fake", {"failure_probability": "0.3", "seed": "7"})
    pre = Predistributor(ctl, batch_size=5, resync_interval=0.2, backoff=(0.005, 0.02))
    pre.start()
    try:
        ctl.take(ADMIN, "srv0", "acme/web", 30)
        wait_for(
            lambda: (
                ctl.switch_status(ADMIN)[0].state == "in_sync"
                and ctl.switch_status(ADMIN)[0].held == len(desired_macs(ctl))
            )
        )
        device = fake.FakeSwitch("pwxctl-f", {})
        wait_for(lambda: {p.mac for p in device.held_profiles()} == desired_macs(ctl))
    finally:
        pre.stop()
