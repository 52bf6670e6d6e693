"""Docker runtime watcher: containers run with `--network none` and a `prewire.network` label.

    docker run -d --network none --label prewire.network=TENANT/NET [--label prewire.server=srv1] IMAGE

Labels: `prewire.network` (required) names the prewire network; `prewire.server` (optional) picks the
emulated server whose agent wires it (a watcher built with `server=S` takes containers labelled S, and
unlabelled ones when `take_unlabelled`; one built without `server` takes every labelled container).  The watcher follows dockerd's event
stream (`/events`) and calls `on_start` on `start`, `on_stop` on `die` (or `destroy` without a `die`
seen).  At every (re)connection it lists the running labelled containers and reports the ones it has not
reported yet, and stops the ones it knew that are gone, so a dockerd restart or a missed event converges.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

log = logging.getLogger("prewire.runtime.docker")

NETWORK_LABEL = "prewire.network"
SERVER_LABEL = "prewire.server"
DOCKER_SOCKET = "/var/run/docker.sock"
Callback = Callable[[str, str, str], Awaitable[None] | None]


class DockerWatcher:
    """Detects labelled containers starting and stopping; callbacks get (id, network, netns path)."""

    def __init__(
        self,
        socket: str = DOCKER_SOCKET,
        server: str | None = None,
        retry: float = 0.5,
        take_unlabelled: bool = True,
    ) -> None:
        self.socket = socket
        self.server = server
        self.take_unlabelled = take_unlabelled
        self.retry = retry
        self.running: dict[str, tuple[str, str]] = {}  # id -> (network, netns) reported started
        self.detected_ns: dict[str, int] = {}  # id -> event time (ns) of the start docker reported
        self.connected = asyncio.Event()
        self._since: int | None = None
        self._refused: set[str] = set()  # labelled but not --network none: said so once

    def _client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=self.socket)
        return httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=10.0)

    def _mine(self, labels: dict[str, Any]) -> str | None:
        network = labels.get(NETWORK_LABEL)
        if not isinstance(network, str) or not network:
            return None
        wanted = labels.get(SERVER_LABEL)
        if self.server is not None and wanted != self.server and (wanted or not self.take_unlabelled):
            return None
        return network

    @staticmethod
    async def _call(callback: Callback, cid: str, network: str, netns: str) -> None:
        try:
            result = callback(cid, network, netns)
            if inspect.isawaitable(result):
                await result
        except Exception:  # one container's failure must not stop the watcher
            log.exception("callback for container %s (%s) failed", cid[:12], network)

    async def _inspect(self, client: httpx.AsyncClient, cid: str) -> tuple[str, str] | None:
        """(network, netns) of a running, labelled, `--network none` container, else None."""
        resp = await client.get(f"/containers/{cid}/json")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        info = resp.json()
        network = self._mine((info.get("Config") or {}).get("Labels") or {})
        state = info.get("State") or {}
        if network is None or not state.get("Running") or not state.get("Pid"):
            return None
        mode = (info.get("HostConfig") or {}).get("NetworkMode")
        if mode != "none" and cid not in self._refused:
            self._refused.add(cid)
            log.error(
                "container %s has label %s but --network %s: run it with --network none",
                cid[:12],
                NETWORK_LABEL,
                mode,
            )
        if mode != "none":
            return None
        return network, f"/proc/{state['Pid']}/ns/net"

    async def list_running(self) -> dict[str, tuple[str, str]]:
        """Running labelled containers of this watcher: id -> (network, netns path)."""
        async with self._client() as client:
            return await self._list(client)

    async def _list(self, client: httpx.AsyncClient) -> dict[str, tuple[str, str]]:
        filters = json.dumps({"label": [NETWORK_LABEL], "status": ["running"]})
        resp = await client.get("/containers/json", params={"filters": filters})
        resp.raise_for_status()
        found: dict[str, tuple[str, str]] = {}
        for item in resp.json():
            if self._mine(item.get("Labels") or {}) is not None:
                info = await self._inspect(client, str(item["Id"]))
                if info is not None:
                    found[str(item["Id"])] = info
        return found

    async def _start(self, cid: str, info: tuple[str, str], on_start: Callback) -> None:
        self.running[cid] = info
        await self._call(on_start, cid, *info)

    async def _stop(self, cid: str, on_stop: Callback, network: str | None = None) -> None:
        known = self.running.pop(cid, None)
        self.detected_ns.pop(cid, None)
        if known is not None or network is not None:
            net, netns = known or (network or "", "")
            await self._call(on_stop, cid, net, netns)

    async def _sync(self, client: httpx.AsyncClient, on_start: Callback, on_stop: Callback) -> None:
        now = await self._list(client)
        for cid in [c for c in self.running if c not in now]:
            await self._stop(cid, on_stop)
        for cid, info in now.items():
            if self.running.get(cid) != info:
                await self._start(cid, info, on_start)

    async def _event(
        self, client: httpx.AsyncClient, event: Any, on_start: Callback, on_stop: Callback
    ) -> None:
        if not isinstance(event, dict) or event.get("Type") != "container":
            return
        actor = event.get("Actor") or {}
        cid, action = str(actor.get("ID") or event.get("id") or ""), str(event.get("Action") or "")
        if isinstance(event.get("timeNano"), int):
            self._since = event["timeNano"]
        network = self._mine(actor.get("Attributes") or {})
        if not cid or network is None:
            return
        if action == "start":
            self.detected_ns[cid] = time.time_ns()
            info = await self._inspect(client, cid)
            if info is not None and self.running.get(cid) != info:  # not already reported by a sync
                await self._start(cid, info, on_start)
        elif action == "die" or (action == "destroy" and cid in self.running):
            await self._stop(cid, on_stop, network)

    async def _follow(self, on_start: Callback, on_stop: Callback) -> None:
        filters = json.dumps(
            {"type": ["container"], "event": ["start", "die", "destroy"], "label": [NETWORK_LABEL]}
        )
        params: dict[str, str] = {"filters": filters}
        async with self._client() as client:
            if self._since is not None:
                params["since"] = f"{self._since // 1_000_000_000}.{self._since % 1_000_000_000:09d}"
            async with client.stream("GET", "/events", params=params, timeout=None) as resp:
                resp.raise_for_status()
                await self._sync(client, on_start, on_stop)  # after subscribing: nothing falls between
                self.connected.set()
                async for line in resp.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        log.warning("malformed docker event skipped: %.200s", line)
                        continue
                    await self._event(client, event, on_start, on_stop)

    async def run(self, on_start: Callback, on_stop: Callback) -> None:
        """Follow dockerd forever (reconnecting with backoff); cancel the task to stop."""
        delay = self.retry
        while True:
            try:
                await self._follow(on_start, on_stop)
                delay = self.retry
            except (httpx.HTTPError, OSError) as exc:
                log.warning("docker event stream at %s: %s; retrying in %.1fs", self.socket, exc, delay)
            except Exception:  # an API answer we did not expect: log it, keep watching
                log.exception("docker watcher error; retrying in %.1fs", delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class AgentDockerWatcher:
    """The agent's `Watcher` for Docker: start -> `agent.wire(..., source="docker")`, stop -> release."""

    source = "docker"

    def __init__(self, agent: Any, watcher: DockerWatcher, ifname: str = "eth0") -> None:
        self.agent, self.watcher, self.ifname = agent, watcher, ifname
        self._task: asyncio.Task[None] | None = None

    async def _on_start(self, cid: str, network: str, netns: str) -> None:
        await self.agent.wire(network, cid, self.ifname, netns, self.source)

    async def _on_stop(self, cid: str, network: str, netns: str) -> None:
        await self.agent.release(cid, self.ifname)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.watcher.run(self._on_start, self._on_stop))
        try:  # give the first sync a moment so start-up reconcile sees who runs
            await asyncio.wait_for(self.watcher.connected.wait(), 2.0)
        except TimeoutError:
            log.warning(
                "dockerd at %s not answering yet; the docker watcher keeps trying", self.watcher.socket
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def alive(self, container: str) -> bool | None:
        """None until the first sync with dockerd; then whether the container runs."""
        if not self.watcher.connected.is_set():
            return None
        return container in self.watcher.running


def make_watcher(agent: Any) -> AgentDockerWatcher | None:
    """The agent daemon's hook: a watcher when dockerd's socket exists.  It takes containers labelled
    `prewire.server=<this server>`, and unlabelled ones unless PREWIRE_DOCKER_REQUIRE_SERVER_LABEL=1
    (set it when several agents share one dockerd, as in the lab)."""
    socket = os.environ.get("PREWIRE_DOCKER_SOCKET", DOCKER_SOCKET)
    if not os.path.exists(socket):
        return None
    strict = os.environ.get("PREWIRE_DOCKER_REQUIRE_SERVER_LABEL", "") == "1"
    return AgentDockerWatcher(agent, DockerWatcher(socket, server=agent.server, take_unlabelled=not strict))
