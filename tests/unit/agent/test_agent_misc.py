"""Timings/metrics text, netlink message packing, daemon naming and the socket op dispatch."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from prewire.agent import nl
from prewire.agent.daemon import AgentConfig, handler
from prewire.agent.timings import Timer, Timings
from prewire.errors import InvalidInput


def test_timer_marks_and_prometheus_text() -> None:
    timings = Timings()
    for _ in range(3):
        timer = Timer()
        for stage in ("port", "profile", "linked", "addressed", "attached", "ready"):
            timer.mark(stage)
        timings.wired(timer)
    timings.count("releases")
    text = timings.prometheus({"bindings": 3, "profiles_free|acme/web": 5})
    assert 'prewire_agent_hot_path_ms{quantile="0.99"}' in text
    assert "prewire_agent_hot_path_ms_count 3" in text and "prewire_agent_releases_total 1" in text
    assert 'prewire_agent_profiles_free{network="acme/web"} 5' in text
    assert timings.summary()["count"] == 3
    marks = list(timer.as_dict())
    assert marks[0] == "detected_unix" and marks[-1] == "ready"


def _attrs(body: bytes, offset: int) -> dict[int, bytes]:
    return {kind: value for kind, value in nl._attrs(body[offset:])}


def test_macvlan_request_carries_name_lower_netns_mac_and_up() -> None:
    body = nl.Rtnl.macvlan_body("eth0", 7, 42, "02:ab:00:00:00:01")
    _family, _type, index, flags, change = struct.unpack_from("=BxHiII", body)
    assert index == 0 and flags == change == nl.IFF_UP
    attrs = _attrs(body, 16)
    assert attrs[nl.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", attrs[nl.IFLA_LINK])[0] == 7
    assert struct.unpack("=I", attrs[nl.IFLA_NET_NS_FD])[0] == 42
    assert attrs[nl.IFLA_ADDRESS] == bytes.fromhex("02ab00000001")
    assert b"macvlan\0" in attrs[nl.IFLA_LINKINFO]


def test_address_and_route_requests() -> None:
    addr = nl.Rtnl.addr_body(5, "10.1.2.3", 24)
    assert addr[:8] == struct.pack("=BBBBI", 2, 24, 0, 0, 5)
    assert _attrs(addr, 8)[nl.IFA_LOCAL] == bytes([10, 1, 2, 3])
    route = nl.Rtnl.default_route_body(5, "10.1.2.254")
    attrs = _attrs(route, 12)
    assert attrs[nl.RTA_GATEWAY] == bytes([10, 1, 2, 254]) and struct.unpack("=I", attrs[nl.RTA_OIF])[0] == 5


def test_netns_path() -> None:
    assert nl.netns_path("pwct-a") == "/run/netns/pwct-a"
    assert nl.netns_path("/proc/1/ns/net") == "/proc/1/ns/net"


def test_config_names_follow_the_architecture() -> None:
    config = AgentConfig(server="srv3", bridge="pwsrv3", state_dir="/tmp/x")
    assert config.names() == ("pwh3x", "pwc3x", "pwpool3")
    assert AgentConfig(server="a", bridge="b", state_dir="/d", tag="9", prefix="pwxag").names() == (
        "pwxagh9x",
        "pwxagc9x",
        "pwxagpool9",
    )
    assert config.socket_path == "/tmp/x/agent.sock"


class FakeAgent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def wire(self, *args: Any) -> dict[str, Any]:
        self.calls.append(("wire", args))
        return {"ok": 1}

    async def release(self, *args: Any) -> dict[str, Any]:
        self.calls.append(("release", args))
        return {"released": False}


def test_socket_ops_map_to_the_one_entry() -> None:
    agent = FakeAgent()
    handle = handler(agent)  # type: ignore[arg-type]

    async def scenario() -> None:
        await handle({"op": "wire", "network": "t/n", "container": "c", "netns": "/proc/1/ns/net"})
        await handle({"op": "release", "container": "c"})
        with pytest.raises(InvalidInput, match="unknown op"):
            await handle({"op": "frobnicate"})

    asyncio.run(scenario())
    assert agent.calls == [
        ("wire", ("t/n", "c", "eth0", "/proc/1/ns/net", "socket")),
        ("release", ("c", "eth0")),
    ]
