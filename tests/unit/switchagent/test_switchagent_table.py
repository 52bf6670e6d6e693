"""The persisted profile table and the socket API of the switch agent, without a bridge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from prewire.errors import Conflict, InvalidInput
from prewire.switch.base import SwitchProfile
from prewire.switchagent.agent import SwitchAgent
from prewire.switchagent.table import ProfileTable

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def test_table_persists_atomically(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    table = ProfileTable(str(path))
    table.load([{"mac": A.upper(), "vlan": 100, "network": "t/n"}, {"mac": B, "vlan": 200}])
    assert not (tmp_path / "profiles.json.tmp").exists()
    again = ProfileTable(str(path))
    assert again.profiles() == [SwitchProfile(A, 100, "t/n"), SwitchProfile(B, 200)]
    assert again.remove([A, "02:00:00:00:00:77"]) == [SwitchProfile(A, 100, "t/n")]
    assert ProfileTable(str(path)).profiles() == [SwitchProfile(B, 200)]
    assert json.loads(path.read_text())["profiles"] == [{"mac": B, "vlan": 200, "network": ""}]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"mac": "02:00:00:00:0a", "vlan": 100}, InvalidInput),
        ({"mac": "zz:00:00:00:00:0a", "vlan": 100}, InvalidInput),
        ({"mac": "03:00:00:00:00:0a", "vlan": 100}, InvalidInput),  # multicast
        ({"mac": A, "vlan": 0}, InvalidInput),
        ({"mac": A, "vlan": 4095}, InvalidInput),
        ({"mac": A, "vlan": "100"}, InvalidInput),
        ({"mac": B, "vlan": 300}, Conflict),  # bound to VLAN 200
        ("not a profile", InvalidInput),
    ],
)
def test_bad_batch_changes_nothing(tmp_path: Path, bad: object, error: type[Exception]) -> None:
    path = tmp_path / "profiles.json"
    table = ProfileTable(str(path))
    table.load([{"mac": B, "vlan": 200}])
    before = path.read_bytes()
    with pytest.raises(error):
        table.load([{"mac": "02:00:00:00:00:01", "vlan": 5}, bad])
    assert path.read_bytes() == before and len(table) == 1


def test_same_mac_twice_in_a_batch_with_two_vlans_conflicts(tmp_path: Path) -> None:
    with pytest.raises(Conflict):
        ProfileTable(None).load([{"mac": A, "vlan": 1}, {"mac": A, "vlan": 2}])
    assert len(ProfileTable(None).load([{"mac": A, "vlan": 1}, {"mac": A, "vlan": 1}])) == 2


def test_agent_api_without_bridge(tmp_path: Path) -> None:
    async def scenario() -> None:
        agent = SwitchAgent("t", "nobridge", str(tmp_path / "st"), rundir=str(tmp_path))
        call = agent.handle
        assert await call({"op": "load", "profiles": [{"mac": A, "vlan": 100}]}) == {
            "loaded": 1,
            "profiles": 1,
        }
        assert await call({"op": "held"}) == [{"mac": A, "vlan": 100, "network": ""}]
        assert await call({"op": "active"}) == []
        health = await call({"op": "health"})
        assert health["profiles"] == 1 and health["extra"]["openflow"] is False
        assert await call({"op": "remove", "macs": [A]}) == {"removed": 1, "profiles": 0}
        with pytest.raises(InvalidInput):
            await call({"op": "load", "profiles": "x"})
        with pytest.raises(InvalidInput):
            await call({"op": "nope"})

    asyncio.run(scenario())
