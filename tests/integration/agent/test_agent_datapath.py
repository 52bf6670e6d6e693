"""Two agents on two bridges joined by a VLAN trunk: real frames between wired containers.

Tenants acme (VLAN 301) and beta (VLAN 302) use the SAME subnet; same-tenant containers on different
servers ping each other, a ping to the other tenant's address never arrives.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from prewire.agent.daemon import start_agent, stop_agent
from tests.integration.agent.pwxag_env import envs, leftovers, profiles

pytestmark = pytest.mark.root


def ping(netns: str, ip: str, count: int = 3) -> bool:
    """At least one echo reply out of `count` (a loaded machine may delay the first, ARP included)."""
    cmd = ["ip", "netns", "exec", netns, "ping", "-c", str(count), "-W", "2", "-i", "0.2", "-q", ip]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def test_two_servers_same_tenant_pings_other_tenant_does_not(tmp_path: Path) -> None:
    async def scenario() -> None:
        with envs(tmp_path, 3, 4, trunk=True) as (s3, s4):
            a3, h3 = await start_agent(s3.config(), controller=None)
            a4, h4 = await start_agent(s4.config(), controller=None)
            try:
                # one subnet 10.203.0.0/24 for both tenants; each server holds its own slice of it
                a3.pool.seed(
                    profiles("acme/web", 301, 3, 2, first=1) + profiles("beta/web", 302, 3, 2, first=1)
                )
                a4.pool.seed(
                    profiles("acme/web", 301, 3, 2, first=11) + profiles("beta/web", 302, 3, 2, first=21)
                )
                s3.container("a", "acme/web")
                s3.container("c", "beta/web")
                s4.container("b", "acme/web")
                s4.container("d", "beta/web")
                s3.container("e", "acme/web")  # a second acme container on the same server
                a = await a3.wait("a", 10)
                e = await a3.wait("e", 10)
                c = await a3.wait("c", 10)
                b = await a4.wait("b", 10)
                d = await a4.wait("d", 10)
                assert a["ip"] == c["ip"] == "10.203.0.1"  # overlapping addresses, different tenants
                ns = {
                    name: env.ct_prefix + name for env, name in ((s3, "a"), (s3, "c"), (s4, "b"), (s4, "d"))
                }
                assert await asyncio.to_thread(ping, ns["a"], b["ip"])
                assert await asyncio.to_thread(ping, ns["c"], d["ip"])
                assert await asyncio.to_thread(ping, ns["b"], a["ip"])
                assert not await asyncio.to_thread(ping, ns["a"], d["ip"])  # beta's address from acme
                # containers of one VLAN share that VLAN's port on a server (macvlans in bridge mode)
                assert a["port"] == e["port"] != c["port"]
                assert await asyncio.to_thread(ping, s3.ct_prefix + "e", a["ip"])
                assert await asyncio.to_thread(ping, s3.ct_prefix + "e", b["ip"])
                assert not await asyncio.to_thread(ping, ns["d"], b["ip"])
                for env, name in ((s3, "a"), (s3, "c"), (s4, "b"), (s4, "d"), (s3, "e")):
                    env.remove(name)
                for agent in (a3, a4):
                    for _ in range(500):
                        if not agent.store.bindings:
                            break
                        await asyncio.sleep(0.01)
                    assert not agent.store.bindings
                    assert len(agent.ports.free) == len(agent.ports.ports)  # shared ports all back
                    assert not agent.ports.users and not agent.ports.by_vlan
            finally:
                await stop_agent(a3, h3)
                await stop_agent(a4, h4)
                a3.ports.destroy()
                a4.ports.destroy()
        assert leftovers() == []

    asyncio.run(scenario())
