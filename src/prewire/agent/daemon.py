"""The agent daemon: builds the pools, the vswitch seam and the watchers, serves the local socket.

Start-up order: load state -> adopt/repair pre-wired ports -> connect the vswitch -> start the runtime
watchers -> reconcile (release the vanished, repair the half-wired, re-attach flows) -> serve the socket.
Background: profile refill, port refill, controller reports, periodic reconcile, journal compaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import re
import signal
from dataclasses import dataclass
from typing import Any

from prewire import jsonline
from prewire.agent.core import Agent, Watcher
from prewire.agent.pool import Controller, LocalPool
from prewire.agent.ports import PortPool
from prewire.agent.reconcile import reconcile, reconcile_loop
from prewire.agent.reporter import Reporter
from prewire.agent.state import Store
from prewire.agent.timings import Timings, serve_metrics
from prewire.agent.wire import VSwitch
from prewire.errors import InvalidInput

log = logging.getLogger("prewire.agent.daemon")


@dataclass
class AgentConfig:
    server: str
    bridge: str
    state_dir: str
    uplink: str | None = None
    runtime_dir: str | None = None
    controller: str | None = None
    token_file: str | None = None
    pool_size: int = 64
    ports: int = 64
    tag: str | None = None
    metrics_port: int | None = None
    reconcile_interval: float = 10.0
    prefix: str = "pw"
    ipv6_link_local: bool = False
    docker: bool = True

    def names(self) -> tuple[str, str, str]:
        """(host prefix, peer prefix, pool netns): `pwh<s>x`, `pwc<s>x`, `pwpool<s>`."""
        tag = self.tag
        if tag is None:
            match = re.search(r"(\d+)$", self.server) or re.search(r"(\d+)$", self.bridge)
            tag = match.group(1) if match else "0"
        p = self.prefix
        return f"{p}h{tag}x", f"{p}c{tag}x", f"{p}pool{tag}"

    @property
    def socket_path(self) -> str:
        return os.path.join(self.state_dir, "agent.sock")


def make_controller(config: AgentConfig) -> Controller | None:
    if not config.controller:
        return None
    token = ""
    if config.token_file:
        try:
            with open(config.token_file) as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read token file {config.token_file}: {exc.strerror}") from exc
    from prewire.client import ControllerClient  # written by the controller helper

    client: Controller = ControllerClient(config.controller, token)
    return client


async def make_vswitch(config: AgentConfig, ports: PortPool) -> VSwitch:
    from prewire.vswitch import ServerVSwitch  # written by the OpenFlow helper

    uplink = 0
    if config.uplink:
        ofports = await asyncio.to_thread(ports.ovsdb.ofports, config.bridge)
        if config.uplink not in ofports:
            raise InvalidInput(f"uplink {config.uplink} is not a port of {config.bridge}; create it first")
        uplink = ofports[config.uplink]
    vswitch: Any = ServerVSwitch(config.bridge, uplink)
    await vswitch.connect()
    await vswitch.install_base_flows()
    return vswitch  # type: ignore[no-any-return]


def handler(agent: Agent) -> jsonline.Handler:
    async def handle(req: dict[str, Any]) -> Any:
        op = req["op"]
        ifname = str(req.get("ifname") or "eth0")
        if op == "wire":
            return await agent.wire(
                str(req.get("network", "")),
                str(req.get("container", "")),
                ifname,
                str(req.get("netns", "")),
                str(req.get("source") or "socket"),
            )
        if op == "release":
            return await agent.release(str(req.get("container", "")), ifname)
        if op == "check":
            return await agent.check(str(req.get("container", "")), ifname)
        if op == "gc":
            return await agent.gc(list(req.get("valid") or []), str(req.get("source") or "socket"))
        if op == "list":
            return agent.list()
        if op == "status":
            return agent.status(brief=bool(req.get("brief", False)))
        if op == "wait":
            return await agent.wait(str(req.get("container", "")), float(req.get("timeout", 10.0)), ifname)
        if op == "prepare":
            count = req.get("count")
            if not isinstance(count, int) or isinstance(count, bool):
                raise InvalidInput("prepare needs 'network' and an integer 'count'")
            free = await agent.pool.prepare(str(req.get("network", "")), count)
            return {"network": req.get("network"), "free": free}
        if op == "reconcile":
            return await reconcile(agent)
        raise InvalidInput(
            f"unknown op {op!r}; use wire, release, check, gc, list, status, wait, prepare, reconcile"
        )

    return handle


def gauges(agent: Agent) -> dict[str, float]:
    values: dict[str, float] = {
        "bindings": len(agent.store.bindings),
        "ports_free": len(agent.ports.free),
        "report_pending": agent.reporter.pending(),
        "errors": len(agent.errors),
    }
    for network, count in agent.pool.networks().items():
        values[f"profiles_free|{network}"] = count
    return values


def load_watchers(agent: Agent, config: AgentConfig) -> list[Watcher]:
    watchers: list[Watcher] = []
    if config.runtime_dir:
        from prewire.runtime.netns import NetnsWatcher

        watchers.append(NetnsWatcher(agent, config.runtime_dir))
    docker = None
    if config.docker:  # the docker watcher: module-level make_watcher(agent) -> Watcher | None
        docker = importlib.import_module("prewire.runtime.docker")
    if docker is not None and hasattr(docker, "make_watcher"):
        watcher = docker.make_watcher(agent)
        if watcher is not None:
            watchers.append(watcher)
    return watchers


async def start_agent(
    config: AgentConfig,
    vswitch: VSwitch | None = None,
    controller: Controller | None = None,
    watchers: list[Watcher] | None = None,
) -> tuple[Agent, list[Any]]:
    """Build and start everything; returns the agent and what to stop (servers, tasks)."""
    store = Store(config.state_dir)
    controller = controller if controller is not None else make_controller(config)
    host, peer, pool_ns = config.names()
    ports = PortPool(config.bridge, host, peer, pool_ns, size=config.ports)
    await ports.start({b["port"] for b in store.bindings.values()})
    for binding in store.bindings.values():  # containers of a VLAN share its port: count them
        ports.adopt(binding["port"], int(binding["profile"]["vlan"]))
    vswitch = vswitch if vswitch is not None else await make_vswitch(config, ports)
    pool = LocalPool(store, config.server, controller, size=config.pool_size)
    agent = Agent(
        config.server,
        store,
        pool,
        ports,
        vswitch,
        Reporter(store, config.server, controller),
        Timings(),
        ipv6_link_local=config.ipv6_link_local,
    )
    for watcher in watchers if watchers is not None else load_watchers(agent, config):
        agent.watchers[watcher.source] = watcher
        await watcher.start()
    await reconcile(agent, initial=True)
    agent.reporter.resend_all()
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(c)
        for c in (
            pool.refill_loop(),
            agent.reporter.run(),
            reconcile_loop(agent, config.reconcile_interval),
            _compact_loop(store),
        )
    ]
    servers: list[Any] = [await jsonline.serve(config.socket_path, handler(agent))]
    if config.metrics_port:
        servers.append(
            await serve_metrics(config.metrics_port, lambda: agent.timings.prometheus(gauges(agent)))
        )
    return agent, [*servers, *tasks]


async def stop_agent(agent: Agent, handles: list[Any]) -> None:
    for handle in handles:
        if isinstance(handle, asyncio.Task):
            handle.cancel()
        else:
            handle.close()
    for watcher in agent.watchers.values():
        await watcher.stop()
    await asyncio.gather(*[h for h in handles if isinstance(h, asyncio.Task)], return_exceptions=True)
    agent.store.compact()
    agent.store.close()
    agent.wirer.close()
    close = getattr(agent.vswitch, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _compact_loop(store: Store, interval: float = 5.0) -> None:
    while True:
        await asyncio.sleep(interval)
        if store.journal_lines:
            store.compact()  # in the loop: no journal line can slip between snapshot and truncate


async def run(config: AgentConfig) -> None:
    """`prewire agent run`: until SIGTERM/SIGINT."""
    agent, handles = await start_agent(config)
    log.info("agent %s ready on %s (%d ports)", config.server, config.socket_path, len(agent.ports.ports))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await stop_agent(agent, handles)
