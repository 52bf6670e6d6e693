"""DockerWatcher against a scripted Docker API (the real dockerd is in tests/integration/runtime)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from prewire.runtime.docker import DockerWatcher


def container(
    cid: str, pid: int, network: str | None = "acme/web", mode: str = "none", server: str | None = None
) -> dict[str, Any]:
    labels = {} if network is None else {"prewire.network": network}
    if server:
        labels["prewire.server"] = server
    return {
        "Id": cid,
        "Config": {"Labels": labels},
        "State": {"Running": True, "Pid": pid},
        "HostConfig": {"NetworkMode": mode},
    }


def event(action: str, cid: str, info: dict[str, Any], t: int = 1) -> str:
    attrs = dict(info["Config"]["Labels"])
    return json.dumps(
        {
            "Type": "container",
            "Action": action,
            "Actor": {"ID": cid, "Attributes": attrs},
            "timeNano": t * 1_000_000_000,
        }
    )


class ScriptedDocker:
    def __init__(self, containers: dict[str, dict[str, Any]], running: list[str], lines: list[str]) -> None:
        self.containers, self.running, self.lines = containers, running, lines
        self.event_params: list[dict[str, str]] = []
        self.served: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/containers/json":
            return httpx.Response(
                200, json=[{"Id": c, "Labels": self.containers[c]["Config"]["Labels"]} for c in self.running]
            )
        if path.startswith("/containers/"):
            cid = path.split("/")[2]
            return (
                httpx.Response(200, json=self.containers[cid])
                if cid in self.containers
                else httpx.Response(404, json={"message": "no such container"})
            )
        if path == "/events":
            self.event_params.append(dict(request.url.params))
            for line in self.served:  # once streamed, what happened shows in the next listing
                ev = json.loads(line) if line.startswith('{"') else {}
                cid = (ev.get("Actor") or {}).get("ID")
                if ev.get("Action") == "start" and cid not in self.running:
                    self.running.append(cid)
                elif ev.get("Action") == "die" and cid in self.running:
                    self.running.remove(cid)
            self.served, self.lines = self.lines, []
            body = "\n".join(self.served) + "\n"
            return httpx.Response(200, content=body.encode())
        return httpx.Response(404)


class Watcher(DockerWatcher):
    def __init__(self, docker: ScriptedDocker, **kw: Any) -> None:
        super().__init__(retry=0.01, **kw)
        self.docker = docker

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.docker.handler), base_url="http://docker")


async def watch(watcher: DockerWatcher, until: int) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []

    async def on_start(cid: str, network: str, netns: str) -> None:
        seen.append(("start", cid, network, netns))

    def on_stop(cid: str, network: str, netns: str) -> None:  # plain functions work too
        seen.append(("stop", cid, network, netns))

    task = asyncio.create_task(watcher.run(on_start, on_stop))
    for _ in range(300):
        if len(seen) >= until:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    task.cancel()
    return seen


def test_sync_then_events_start_and_stop() -> None:
    c = {
        "a": container("a", 10),
        "b": container("b", 11),
        "c": container("c", 12, mode="bridge"),
        "n": container("n", 13, network=None),
    }
    lines = [
        event("start", "b", c["b"]),
        "{not json",
        event("start", "c", c["c"]),
        json.dumps({"Type": "network", "Action": "create"}),
        event("die", "a", c["a"]),
        event("destroy", "a", c["a"]),
        event("start", "n", c["n"]),
    ]
    docker = ScriptedDocker(c, running=["a"], lines=lines)
    seen = asyncio.run(watch(Watcher(docker), until=3))
    assert seen == [
        ("start", "a", "acme/web", "/proc/10/ns/net"),
        ("start", "b", "acme/web", "/proc/11/ns/net"),
        ("stop", "a", "acme/web", "/proc/10/ns/net"),
    ]


def test_reconnect_resyncs_and_resumes_since_last_event() -> None:
    c = {"a": container("a", 10)}
    docker = ScriptedDocker(c, running=["a"], lines=[event("start", "a", c["a"], t=5)])
    watcher = Watcher(docker)

    async def scenario() -> list[tuple[str, ...]]:
        first = await watch(watcher, until=1)
        docker.running = []  # "a" died while we were disconnected
        return first + await watch(watcher, until=1)

    seen = asyncio.run(scenario())
    assert seen == [
        ("start", "a", "acme/web", "/proc/10/ns/net"),
        ("stop", "a", "acme/web", "/proc/10/ns/net"),
    ]
    assert any(p.get("since") == "5.000000000" for p in docker.event_params)


def test_server_label_selects_the_watcher() -> None:
    c = {
        "a": container("a", 10, server="srv1"),
        "b": container("b", 11, server="srv0"),
        "d": container("d", 12),
    }
    docker = ScriptedDocker(c, running=["a", "b", "d"], lines=[])
    seen = asyncio.run(watch(Watcher(docker, server="srv1"), until=2))
    assert [s[1] for s in seen] == ["a", "d"], "its own and the unlabelled ones"
    seen = asyncio.run(watch(Watcher(docker, server="srv1", take_unlabelled=False), until=1))
    assert [s[1] for s in seen] == ["a"]


def test_callback_failure_does_not_stop_the_watcher() -> None:
    c = {"a": container("a", 10), "b": container("b", 11)}
    docker = ScriptedDocker(c, running=["a"], lines=[event("start", "b", c["b"])])
    seen: list[str] = []

    def on_start(cid: str, network: str, netns: str) -> None:
        seen.append(cid)
        if cid == "a":
            raise RuntimeError("agent said no")

    async def scenario() -> None:
        task = asyncio.create_task(Watcher(docker).run(on_start, lambda *a: None))
        for _ in range(300):
            if len(seen) >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert seen == ["a", "b"]
