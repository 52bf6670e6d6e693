"""The OVS ToR behind a real switch agent behaves like an AMPP switch: real frames from netns containers
through server vswitch -> ToR -> server vswitch."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prewire.errors import Conflict, InvalidInput
from prewire.vswitch import ServerVSwitch
from tests.integration.switchagent.pwxsw_agent import AgentProcess, flood_ports, wait_for
from tests.integration.switchagent.pwxsw_fabric import Fabric, leftovers

pytestmark = pytest.mark.root

# name: (server, MAC, IP, VLAN at the server vswitch)
CONTAINERS = {
    "a": (1, "02:5b:00:00:00:0a", "10.232.0.1", 100),
    "x": (1, "02:5b:00:00:00:99", "10.232.0.9", 100),  # never pre-distributed: spoofer
    "b": (2, "02:5b:00:00:00:0b", "10.232.0.2", 100),
    "c": (2, "02:5b:00:00:00:0c", "10.232.0.3", 200),
    "w": (3, "02:5b:00:00:00:0e", "10.232.0.5", 100),  # its profile says VLAN 200
}
PROFILES = [
    {"mac": CONTAINERS["a"][1], "vlan": 100, "network": "t1/n"},
    {"mac": CONTAINERS["b"][1], "vlan": 100, "network": "t1/n"},
    {"mac": CONTAINERS["c"][1], "vlan": 200, "network": "t2/n"},
    {"mac": CONTAINERS["w"][1], "vlan": 200, "network": "t2/n"},
]


@dataclass
class Env:
    fab: Fabric
    loop: asyncio.AbstractEventLoop
    agent: AgentProcess
    tor: str
    tor_port: dict[int, int]  # server -> ofport on the ToR
    vswitch: dict[int, ServerVSwitch] = field(default_factory=dict)
    ofport: dict[str, int] = field(default_factory=dict)

    def port(self, server: int) -> str:
        return self.fab.port_name(server)

    def add(self, name: str, server: int, mac: str, ip: str, vlan: int, announce: bool = True) -> None:
        self.ofport[name] = self.fab.container(name, self.vswitch[server].bridge, mac, ip)
        self.loop.run_until_complete(self.vswitch[server].attach(self.ofport[name], mac, vlan, announce))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    fab = Fabric("a")
    loop = asyncio.new_event_loop()
    agent: AgentProcess | None = None
    e: Env | None = None
    try:
        tor = fab.bridge("t0")
        agent = AgentProcess(tor, str(tmp_path / "tor"))
        e = Env(fab, loop, agent, tor, {})
        for s in (1, 2, 3):
            bridge = fab.bridge(f"s{s}")
            up, e.tor_port[s] = fab.uplink(bridge, tor, s)
            e.vswitch[s] = ServerVSwitch(bridge, up)
            loop.run_until_complete(e.vswitch[s].connect())
            loop.run_until_complete(e.vswitch[s].install_base_flows())
        agent.start()
        agent.call("load", profiles=PROFILES)  # pre-distributed before any container starts
        for name, (s, mac, ip, vlan) in CONTAINERS.items():
            e.add(name, s, mac, ip, vlan)
        assert wait_for(lambda: len(agent.active()) == 3)  # the announcements of a, b and c are admitted
        yield e
    finally:
        if agent is not None:
            agent.kill()
        if e is not None:
            for vs in e.vswitch.values():
                loop.run_until_complete(vs.close())
        loop.close()
        fab.cleanup()
    assert leftovers("pwxswa") == []


def test_attach_announces_and_the_tor_admits(env: Env) -> None:
    mac_a, mac_b, mac_c = CONTAINERS["a"][1], CONTAINERS["b"][1], CONTAINERS["c"][1]
    # the server vswitch announced each attached MAC: pre-distributed ones are admitted, others not
    assert env.agent.active() == {
        (env.port(1), mac_a, 100),
        (env.port(2), mac_b, 100),
        (env.port(2), mac_c, 200),
    }
    assert flood_ports(env.tor, 100) == [env.tor_port[1], env.tor_port[2]]
    assert flood_ports(env.tor, 200) == [env.tor_port[2]]
    assert env.fab.ping("a", "10.232.0.2")
    health = env.agent.call("health")
    assert health["profiles"] == 4 and health["extra"]["admit"] == 3


def test_vlan_admitted_only_after_the_mac_appeared(env: Env) -> None:
    mac = "02:5b:00:00:00:1e"
    env.agent.call("load", profiles=[{"mac": mac, "vlan": 100, "network": "t1/n"}])
    env.add("e", 3, mac, "10.232.0.6", 100, announce=False)
    assert (env.port(3), mac, 100) not in env.agent.active()
    assert flood_ports(env.tor, 100) == [env.tor_port[1], env.tor_port[2]]
    assert env.fab.ping("e", "10.232.0.2")  # its first frame (ARP) admits VLAN 100 on the ToR port
    assert (env.port(3), mac, 100) in env.agent.active()
    assert flood_ports(env.tor, 100) == [env.tor_port[1], env.tor_port[2], env.tor_port[3]]


def test_unknown_mac_and_wrong_vlan_are_dropped(env: Env) -> None:
    assert env.fab.ping("a", "10.232.0.2")
    assert not env.fab.ping("x", "10.232.0.2", count=3)  # spoofer: MAC not pre-distributed
    assert not env.fab.ping("w", "10.232.0.2", count=3)  # known MAC on the wrong VLAN
    assert not env.fab.ping("a", "10.232.0.3", count=3)  # other tenant's VLAN
    macs = {mac for _p, mac, _v in env.agent.active()}
    assert CONTAINERS["x"][1] not in macs and CONTAINERS["w"][1] not in macs
    assert env.agent.call("stats")["counts"]["deny"] >= 2


def test_profile_removal_prunes_the_vlan(env: Env) -> None:
    assert env.fab.ping("a", "10.232.0.2")
    assert env.agent.call("remove", macs=[CONTAINERS["a"][1]]) == {"removed": 1, "profiles": 3}
    assert {(p, m, v) for p, m, v in env.agent.active() if v == 100} == {
        (env.port(2), CONTAINERS["b"][1], 100)
    }
    assert flood_ports(env.tor, 100) == [env.tor_port[2]]
    env.fab.flush_neigh("a")
    assert not env.fab.ping("a", "10.232.0.2", count=3)


def test_moved_mac_takes_its_vlan_along(env: Env) -> None:
    _s, mac, ip, vlan = CONTAINERS["a"]
    assert env.fab.ping("a", "10.232.0.2")
    # the container moves from server 1 to server 3: same MAC, same IP; server 1 says it left (leave frame)
    env.loop.run_until_complete(env.vswitch[1].detach(env.ofport["a"], mac, vlan))
    assert wait_for(lambda: (env.port(1), mac, 100) not in env.agent.active(), timeout=10)
    env.add("m", 3, mac, ip, vlan)
    env.fab.flush_neigh("b")
    assert env.fab.ping("m", "10.232.0.2")
    assert (env.port(3), mac, 100) in env.agent.active()
    assert (env.port(1), mac, 100) not in env.agent.active()
    assert flood_ports(env.tor, 100) == [env.tor_port[2], env.tor_port[3]]
    assert env.agent.call("stats")["counts"].get("leave") == 1, env.agent.call("stats")["counts"]


def test_restart_keeps_table_and_traffic(env: Env) -> None:
    assert env.fab.ping("a", "10.232.0.2")
    held = env.agent.call("held")
    env.agent.kill(signal.SIGKILL)
    assert env.fab.ping("a", "10.232.0.2")  # fail_mode secure: installed flows keep forwarding
    env.agent.start()
    assert env.agent.call("held") == held
    assert {(p, m, v) for p, m, v in env.agent.active() if v == 100} == {
        (env.port(1), CONTAINERS["a"][1], 100),
        (env.port(2), CONTAINERS["b"][1], 100),
    }
    env.agent.call("load", profiles=[{"mac": "02:5b:00:00:00:1c", "vlan": 200, "network": "t2/n"}])
    env.add("d", 1, "02:5b:00:00:00:1c", "10.232.0.4", 200)  # a new MAC is admitted after the restart
    assert env.fab.ping("d", "10.232.0.3")
    assert not env.fab.ping("x", "10.232.0.2", count=2)


def test_bad_batches_are_rejected_whole(env: Env) -> None:
    held = env.agent.call("held")
    good = {"mac": "02:5b:00:00:01:01", "vlan": 300}
    for bad, error in [
        ({"mac": "02:5b:00:00:01", "vlan": 300}, InvalidInput),
        ({"mac": "02:5b:00:00:01:02", "vlan": 4095}, InvalidInput),
        ({"mac": CONTAINERS["a"][1], "vlan": 300}, Conflict),
    ]:
        with pytest.raises(error):
            env.agent.call("load", profiles=[good, bad])
        assert env.agent.call("held") == held


def test_silent_mac_ages_out(env: Env) -> None:
    env.agent.kill()
    env.agent.ageing = 2
    env.agent.start()
    assert wait_for(lambda: env.agent.active() == set(), timeout=30)  # everyone silent: all aged out
    assert flood_ports(env.tor, 100) == [] and flood_ports(env.tor, 200) == []
    assert env.agent.call("stats")["counts"]["aged"] >= 3

    def announce_and_ping() -> bool:  # the server agents re-announce their MACs, as their announcer does
        for s in (1, 2):
            env.loop.run_until_complete(env.vswitch[s].announce())
        return env.fab.ping("a", "10.232.0.2", count=1)

    assert any(announce_and_ping() for _ in range(10))


def test_removed_tor_port_loses_its_macs(env: Env) -> None:
    assert env.fab.ping("a", "10.232.0.2")
    env.fab.db.del_ports(env.tor, [env.port(2)])
    assert wait_for(lambda: {p for p, _m, _v in env.agent.active()} == {env.port(1)})
    assert flood_ports(env.tor, 100) == [env.tor_port[1]] and flood_ports(env.tor, 200) == []
