"""Two ToRs joined by a trunk (`--trunk`): tenants reach across, VLANs stay pruned, moves are followed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire.vswitch import ServerVSwitch
from tests.integration.switchagent.pwxsw_agent import AgentProcess, flood_ports, wait_for
from tests.integration.switchagent.pwxsw_fabric import Fabric, leftovers

pytestmark = pytest.mark.root

A, B, C = "02:5d:00:00:00:0a", "02:5d:00:00:00:0b", "02:5d:00:00:00:0c"


@pytest.fixture
def two_tors(tmp_path: Path) -> Iterator[tuple[Fabric, asyncio.AbstractEventLoop, dict[str, object]]]:
    fab = Fabric("k")
    loop = asyncio.new_event_loop()
    agents: list[AgentProcess] = []
    vswitches: list[ServerVSwitch] = []
    try:
        t0, t1 = fab.bridge("t0"), fab.bridge("t1")
        fab._veth(f"{fab.prefix}k0", f"{fab.prefix}k1")  # the trunk between the two ToRs
        k0 = fab.db.add_ports(t0, [f"{fab.prefix}k0"])[f"{fab.prefix}k0"]
        fab.db.add_ports(t1, [f"{fab.prefix}k1"])
        for i, (tor, trunk) in enumerate([(t0, "k0"), (t1, "k1")]):
            agent = AgentProcess(tor, str(tmp_path / f"tor{i}"), trunks=(f"{fab.prefix}{trunk}",))
            agents.append(agent)
            agent.start()
            agent.call(
                "load", profiles=[{"mac": A, "vlan": 100}, {"mac": B, "vlan": 100}, {"mac": C, "vlan": 200}]
            )
        tor_port = {}
        for s, tor in ((1, t0), (2, t1), (3, t1)):
            bridge = fab.bridge(f"s{s}")
            up, tor_port[s] = fab.uplink(bridge, tor, s)
            vswitches.append(ServerVSwitch(bridge, up))
            loop.run_until_complete(vswitches[-1].connect())
            loop.run_until_complete(vswitches[-1].install_base_flows())
        ports = {
            "a": fab.container("a", vswitches[0].bridge, A, "10.233.0.1"),
            "b": fab.container("b", vswitches[1].bridge, B, "10.233.0.2"),
            "c": fab.container("c", vswitches[1].bridge, C, "10.233.0.3"),
        }
        loop.run_until_complete(vswitches[0].attach(ports["a"], A, 100))
        loop.run_until_complete(vswitches[1].attach(ports["b"], B, 100))
        loop.run_until_complete(vswitches[1].attach(ports["c"], C, 100))  # its profile says VLAN 200
        yield (
            fab,
            loop,
            {"agents": agents, "vs": vswitches, "ports": ports, "t0": t0, "k0": k0, "tor_port": tor_port},
        )
    finally:
        for agent in agents:
            agent.kill()
        for vs in vswitches:
            loop.run_until_complete(vs.close())
        loop.close()
        fab.cleanup()
    assert leftovers("pwxswk") == []


def test_across_the_trunk_and_move_to_the_other_tor(two_tors) -> None:  # type: ignore[no-untyped-def]
    fab, loop, env = two_tors
    tor0, tor1 = env["agents"]
    vs1, _vs2, vs3 = env["vs"]
    assert fab.ping("a", "10.233.0.2")  # a (ToR 0) -> b (ToR 1)
    assert not fab.ping("c", "10.233.0.1", count=3)  # wrong VLAN at ToR 1: dropped before the trunk
    assert wait_for(lambda: {m for _p, m, _v in tor0.active()} == {A})
    assert flood_ports(env["t0"], 100) == sorted([env["tor_port"][1], env["k0"]])
    assert flood_ports(env["t0"], 200) == []  # VLAN 200 never reaches ToR 0's ports

    # a moves to server 3 behind ToR 1: ToR 1 admits it, ToR 0 sees it on the trunk and prunes it
    loop.run_until_complete(vs1.detach(env["ports"]["a"], A, 100))
    port = fab.container("m", vs3.bridge, A, "10.233.0.1")
    loop.run_until_complete(vs3.attach(port, A, 100))
    fab.flush_neigh("b")
    assert fab.ping("m", "10.233.0.2")
    assert wait_for(lambda: tor0.active() == set())
    assert flood_ports(env["t0"], 100) == []
    assert (fab.port_name(3), A, 100) in tor1.active()
