"""The ovs driver against a real switch agent socket (the agent has no bridge: profiles only)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire.errors import Conflict, InvalidInput, Unavailable
from prewire.switch.base import SwitchProfile
from prewire.switch.registry import create_device
from prewire.switchagent.agent import SwitchAgent


@pytest.fixture
def agent_socket(tmp_path: Path) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    agent = SwitchAgent("t", "nobridge", str(tmp_path / "st"), rundir=str(tmp_path))
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(agent.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield agent.socket_path
    asyncio.run_coroutine_threadsafe(agent.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_ovs_driver_round_trip(agent_socket: str) -> None:
    sw = create_device("ovs", "tor0", {"socket": agent_socket})
    profiles = [
        SwitchProfile(f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}", 10 + i % 3, "t/n") for i in range(1000)
    ]
    sw.load_profiles(profiles)
    assert sw.held_profiles() == sorted(profiles)
    sw.remove_profiles([p.mac for p in profiles[:10]])
    health = sw.health()
    assert health.reachable and health.profiles == 990 and health.extra["openflow"] is False
    assert sw.active_ports() == []
    with pytest.raises(Conflict):
        sw.load_profiles([SwitchProfile(profiles[20].mac, 4000)])
    sw.close()


def test_ovs_driver_unreachable_and_bad_options(tmp_path: Path) -> None:
    sw = create_device("ovs", "tor0", {"socket": str(tmp_path / "none.sock")})
    with pytest.raises(Unavailable):
        sw.held_profiles()
    assert not sw.health().reachable
    with pytest.raises(InvalidInput):
        create_device("ovs", "tor0", {})
