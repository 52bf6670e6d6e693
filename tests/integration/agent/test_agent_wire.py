"""The agent on real OVS and netns: wire, idempotency, release, the netns watcher, nothing leaked."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from prewire import jsonline
from prewire.agent.daemon import start_agent, stop_agent
from prewire.errors import Exhausted, NotFound
from tests.integration.agent.pwxag_env import (
    addr_of,
    default_route,
    envs,
    eventually,
    leftovers,
    profiles,
    sh,
)

pytestmark = pytest.mark.root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


NET = "acme/web"


def test_wire_release_by_socket(tmp_path: Path) -> None:
    async def scenario() -> None:
        with envs(tmp_path, 1) as (env,):
            port = free_port()
            agent, handles = await start_agent(
                env.config(runtime_dir=None, metrics_port=port), controller=None
            )
            try:
                agent.pool.seed(profiles(NET, 101, 1, 4))
                env.container("a", NET)  # no watcher: wired through the socket like CNI
                ns = env.ct_prefix + "a"
                sock = env.config().socket_path
                first = await asyncio.to_thread(
                    jsonline.call, sock, "wire", network=NET, container="a", netns=ns
                )
                again = await asyncio.to_thread(
                    jsonline.call, sock, "wire", network=NET, container="a", netns=ns
                )
                assert again["mac"] == first["mac"] and again["port"] == first["port"]
                eth0 = addr_of(ns)
                assert eth0 is not None and eth0["address"] == first["mac"] and "UP" in eth0["flags"]
                assert [a["local"] for a in eth0["addr_info"] if a["family"] == "inet"] == [first["ip"]]
                assert f"via {first['gateway']} dev eth0" in default_route(ns)
                assert set(first["timings"]) >= {
                    "port",
                    "profile",
                    "linked",
                    "addressed",
                    "attached",
                    "ready",
                }
                assert (await agent.check("a"))["mac"] == first["mac"]
                status = await asyncio.to_thread(jsonline.call, sock, "status")
                assert status["bindings"] == 1 and status["profiles_free"][NET] == 3
                metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")
                assert (
                    "prewire_agent_hot_path_ms_count 1" in metrics and "prewire_agent_bindings 1" in metrics
                )

                sh("ip", "-n", ns, "link", "del", "eth0")  # behind the agent's back: reconcile repairs
                counts = await asyncio.to_thread(jsonline.call, sock, "reconcile")
                assert counts["rewired"] == 1
                eth0 = addr_of(ns)
                assert eth0 is not None and eth0["address"] == first["mac"]  # same profile, same port
                assert agent.store.bindings["a/eth0"]["port"] == first["port"]

                released = await asyncio.to_thread(jsonline.call, sock, "release", container="a")
                assert released == {"released": True, "interface": "deleted"}
                assert addr_of(ns) is None
                assert agent.pool.networks()[NET] == 4 and len(agent.ports.free) == len(agent.ports.ports)
                assert (await agent.release("a"))["released"] is False  # idempotent
                with pytest.raises(NotFound):
                    await agent.check("a")
                env.remove("a")
                with pytest.raises(NotFound):  # netns gone before wiring: clear error, nothing half-wired
                    await agent.wire(NET, "a", "eth0", ns)
                with pytest.raises(Exhausted):  # unknown network, no controller
                    await agent.wire("acme/none", "b", "eth0", "/proc/self/ns/net")
                assert not agent.store.bindings
            finally:
                await stop_agent(agent, handles)
                agent.ports.destroy()
        assert leftovers() == []

    asyncio.run(scenario())


def test_netns_watcher_wires_and_releases(tmp_path: Path) -> None:
    async def scenario() -> None:
        with envs(tmp_path, 2) as (env,):
            agent, handles = await start_agent(env.config(), controller=None)
            try:
                agent.pool.seed(profiles(NET, 102, 2, 20))
                names = [f"c{i}" for i in range(12)]  # more than --ports 8: the port pool refills
                for name in names:
                    env.container(name, NET)
                results = [await agent.wait(name, timeout=20) for name in names]
                assert len({r["mac"] for r in results}) == len(names)
                for name, res in zip(names, results, strict=True):
                    eth0 = addr_of(env.ct_prefix + name)
                    assert eth0 is not None and eth0["address"] == res["mac"]
                for name in names[:6]:  # record + netns removed, keeper killed
                    env.remove(name)
                await eventually(lambda: len(agent.store.bindings) == 6)
                for name in names[6:]:  # keeper dies first, netns still mounted: interface deleted
                    record = agent.watchers["netns"]._pidfds[name]  # type: ignore[attr-defined]
                    os.kill(record[0], signal.SIGKILL)
                    os.waitpid(record[0], 0)
                await eventually(lambda: not agent.store.bindings)
                for name in names[6:]:
                    assert addr_of(env.ct_prefix + name) is None
                    env.remove(name)
                assert agent.pool.networks()[NET] == 20
                assert len(agent.ports.free) == len(agent.ports.ports)

                # bad input: garbage record ignored; unknown network -> clear error, nothing half-wired
                (Path(env.runtime_dir) / "junk.json").write_text("{not json")
                env.container("bad", "acme/nope")
                with pytest.raises(Exhausted):
                    await agent.wait("bad", timeout=10)
                assert [e["container"] for e in agent.list()["errors"]] == ["bad"]
                assert addr_of(env.ct_prefix + "bad") is None and not agent.store.bindings
                assert len(agent.ports.free) == len(agent.ports.ports)
                env.remove("bad")
            finally:
                await stop_agent(agent, handles)
                agent.ports.destroy()
        assert leftovers() == []

    asyncio.run(scenario())
