"""Driver registry (entry points) and the fake switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prewire.errors import Conflict, InvalidInput, Unavailable
from prewire.switch.base import PortActivity, SwitchProfile
from prewire.switch.drivers.fake import FakeSwitch
from prewire.switch.registry import available_drivers, create_device

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    FakeSwitch.reset()
    yield
    FakeSwitch.reset()


def test_registry_resolves_entry_points() -> None:
    assert {"fake", "ovs", "brocade_vdx", "fujitsu_cfabric"} <= set(available_drivers())
    device = create_device("fake", "sw1", {})
    assert isinstance(device, FakeSwitch) and device.name == "sw1"
    assert create_device("ovs", "tor0", {"socket": "/nonexistent/switch.sock"}).driver_name == "ovs"
    assert create_device("fujitsu_cfabric", "cf", {}).driver_name == "fujitsu_cfabric"
    with pytest.raises(InvalidInput, match="unknown switch driver"):
        create_device("cisco", "sw1", {})


def test_fake_switch_holds_applies_and_survives_recreation() -> None:
    sw = create_device("fake", "sw1", {})
    sw.load_profiles([SwitchProfile(A, 100, "t/n"), SwitchProfile(B, 200)])
    assert isinstance(sw, FakeSwitch)
    assert sw.observe("port1", A) and not sw.observe("port1", "02:00:00:00:00:99")
    again = create_device("fake", "sw1", {})
    assert again.held_profiles() == [SwitchProfile(A, 100, "t/n"), SwitchProfile(B, 200)]
    assert again.active_ports() == [PortActivity("port1", A, 100)]
    again.remove_profiles([A, "02:00:00:00:00:77"])
    assert again.active_ports() == [] and again.health().profiles == 1
    with pytest.raises(Conflict):
        again.load_profiles([SwitchProfile(B, 300)])


def test_fake_switch_down_and_injected_failures() -> None:
    FakeSwitch.set_down("sw2")
    sw = create_device("fake", "sw2", {})
    with pytest.raises(Unavailable):
        sw.load_profiles([SwitchProfile(A, 100)])
    assert not sw.health().reachable
    FakeSwitch.set_down("sw2", False)
    sw.load_profiles([SwitchProfile(A, 100)])

    flaky = create_device("fake", "sw3", {"failure_probability": "0.5", "seed": "7"})
    outcomes = []
    for _ in range(40):
        try:
            flaky.held_profiles()
            outcomes.append(True)
        except Unavailable:
            outcomes.append(False)
    assert True in outcomes and False in outcomes
    always = create_device("fake", "sw4", {"failure_probability": "1"})
    with pytest.raises(Unavailable):
        always.held_profiles()
    with pytest.raises(InvalidInput):
        create_device("fake", "sw5", {"delay": "-1"})
