"""Names and shape of the lab fabric (docs/architecture.md "Names"); pure functions, no I/O.

Servers are spread over the ToRs in contiguous racks (server s sits on ToR s*M//N).  With more than one
ToR, every ToR has a trunk veth `pwk<k>t` <-> `pwk<k>p` to the spine bridge `pwspine`, a plain learning
switch (fail_mode standalone) that carries every VLAN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prewire.errors import InvalidInput

MAX_SERVERS = 64
MAX_SWITCHES = 16
SPINE_BRIDGE = "pwspine"
CONTAINER_NETNS_PREFIX = "pwct-"
POOL_NETNS_PREFIX = "pwpool"
_CONTAINER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def server_name(s: int) -> str:
    return f"srv{s}"


def switch_name(k: int) -> str:
    return f"tor{k}"


def tor_bridge(k: int) -> str:
    return f"pwtor{k}"


def server_bridge(s: int) -> str:
    return f"pwsrv{s}"


def uplink_server_end(s: int) -> str:
    return f"pwu{s}s"


def uplink_tor_end(s: int) -> str:
    return f"pwu{s}t"


def trunk_tor_end(k: int) -> str:
    return f"pwk{k}t"


def trunk_spine_end(k: int) -> str:
    return f"pwk{k}p"


def pool_netns(s: int) -> str:
    return f"{POOL_NETNS_PREFIX}{s}"


def container_netns(name: str) -> str:
    return f"{CONTAINER_NETNS_PREFIX}{name}"


def check_container_name(name: str) -> str:
    if not _CONTAINER_NAME.match(name):
        raise InvalidInput(
            f"invalid container name {name!r}: use 1-63 of a-z, 0-9, '_', '.', '-' starting alphanumeric"
        )
    return name


def tor_of(s: int, servers: int, switches: int) -> int:
    """The ToR index of server `s` (contiguous racks)."""
    return s * switches // servers


@dataclass(frozen=True)
class ServerPlan:
    index: int
    name: str
    bridge: str
    uplink: str  # server side, a port of `bridge`
    switch: str
    switch_port: str  # ToR side, a port of the ToR bridge
    pool_netns: str


@dataclass(frozen=True)
class SwitchPlan:
    index: int
    name: str
    bridge: str
    trunk: str | None  # ToR end of the spine trunk
    spine_port: str | None  # spine end


@dataclass(frozen=True)
class Plan:
    servers: tuple[ServerPlan, ...]
    switches: tuple[SwitchPlan, ...]

    @property
    def spine(self) -> str | None:
        return SPINE_BRIDGE if len(self.switches) > 1 else None

    def bridges(self) -> list[str]:
        names = [s.bridge for s in self.switches] + [s.bridge for s in self.servers]
        return names + ([SPINE_BRIDGE] if self.spine else [])

    def veth_pairs(self) -> list[tuple[str, str]]:
        pairs = [(s.uplink, s.switch_port) for s in self.servers]
        return pairs + [(w.trunk, w.spine_port) for w in self.switches if w.trunk and w.spine_port]


def plan(servers: int, switches: int) -> Plan:
    """The fabric for `servers` servers on `switches` ToRs; rejects impossible shapes."""
    if not 1 <= servers <= MAX_SERVERS:
        raise InvalidInput(f"--servers must be 1..{MAX_SERVERS}, got {servers}")
    if not 1 <= switches <= min(MAX_SWITCHES, servers):
        raise InvalidInput(f"--switches must be 1..{min(MAX_SWITCHES, servers)} (at most one per server)")
    spined = switches > 1
    sw = tuple(
        SwitchPlan(
            index=k,
            name=switch_name(k),
            bridge=tor_bridge(k),
            trunk=trunk_tor_end(k) if spined else None,
            spine_port=trunk_spine_end(k) if spined else None,
        )
        for k in range(switches)
    )
    sv = tuple(
        ServerPlan(
            index=s,
            name=server_name(s),
            bridge=server_bridge(s),
            uplink=uplink_server_end(s),
            switch=switch_name(tor_of(s, servers, switches)),
            switch_port=uplink_tor_end(s),
            pool_netns=pool_netns(s),
        )
        for s in range(servers)
    )
    return Plan(servers=sv, switches=sw)


def is_lab_name(name: str, include_test_objects: bool = False) -> bool:
    """True for a kernel/OVS object name the lab makes (`pw...`); `pwx...` (tests) only if asked."""
    if not name.startswith("pw"):
        return False
    return include_test_objects or not name.startswith("pwx")
