"""A real agent for the CNI tests, on a throwaway OVS bridge, no controller, seeded pool (all `pwxcni*`).

The agent runs in-process in a thread with its own event loop (its socket is real: the plugin reaches it
as a runtime would); the plugin is the installed executable, driven with env + stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from prewire.agent import nl
from prewire.agent.core import Agent
from prewire.agent.daemon import AgentConfig, start_agent, stop_agent
from prewire.cni import install
from prewire.ovs import Ovsdb

PREFIX = "pwxcni"
BRIDGE, UPLINK, UPLINK_PEER = f"{PREFIX}b0", f"{PREFIX}u0", f"{PREFIX}v0"
NET = "acme/web"
T = TypeVar("T")


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def profiles(network: str, vlan: int, count: int, third: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "mac": f"02:c1:00:{third:02x}:{vlan % 256:02x}:{i:02x}",
            "ip": f"10.231.{third}.{i}",
            "prefix": 24,
            "gateway": f"10.231.{third}.254",
            "vlan": vlan,
            "network": network,
        }
        for i in range(1, count + 1)
    ]


class AgentThread:
    """`prewire agent` for server `pwxcnisrv0` in a background event loop."""

    def __init__(self, tmp: Path, ports: int = 8, pool: int = 16) -> None:
        self.config = AgentConfig(
            server=f"{PREFIX}srv0",
            bridge=BRIDGE,
            state_dir=str(tmp / "agent"),
            uplink=UPLINK,
            tag="0",
            prefix=PREFIX,
            ports=ports,
            pool_size=pool,
            reconcile_interval=3600.0,
            runtime_dir=None,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pwxcni-agent", daemon=True)
        self.thread.start()
        self.agent: Agent | None = None
        self.handles: list[Any] = []

    @property
    def socket(self) -> str:
        return self.config.socket_path

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def start(self) -> Agent:
        self.agent, self.handles = self.run(start_agent(self.config, controller=None, watchers=[]))
        return self.agent

    def stop(self) -> None:
        if self.agent is not None:
            self.run(stop_agent(self.agent, self.handles))
            self.agent.ports.destroy()
            self.agent = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def netns_names() -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(PREFIX))
    return []


def leftovers() -> list[str]:
    found = [f"netns {n}" for n in netns_names()]
    with nl.Rtnl() as root:
        found += [f"link {link.name}" for link in root.links() if link.name.startswith(PREFIX)]
    found += [f"bridge {b}" for b in Ovsdb().list_bridges() if b.startswith(PREFIX)]
    return found


def teardown() -> None:
    for ns in netns_names():
        nl.remove_netns(ns)
    with contextlib.suppress(Exception):
        Ovsdb().del_bridge(BRIDGE)
    with nl.Rtnl() as root:
        root.del_links([link.name for link in root.links() if link.name.startswith(PREFIX)])


def setup() -> None:
    teardown()  # a previous crashed run
    db = Ovsdb()
    db.add_bridge(BRIDGE)
    with nl.Rtnl() as root:
        if root.link(UPLINK) is None:
            sh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", UPLINK_PEER)
    sh("ip", "link", "set", UPLINK, "up")
    sh("ip", "link", "set", UPLINK_PEER, "up")
    db.add_ports(BRIDGE, [UPLINK])


@contextlib.contextmanager
def real_agent(tmp: Path, ports: int = 8, pool: int = 16, seed: int = 8) -> Iterator[AgentThread]:
    """Bridge + agent + `seed` profiles of acme/web (VLAN 311); everything removed afterwards."""
    setup()
    thread = AgentThread(tmp, ports, pool)
    try:
        agent = thread.start()
        agent.pool.seed(profiles(NET, 311, seed))
        yield thread
    finally:
        try:
            thread.stop()
        finally:
            teardown()


class Plugin:
    """The installed plugin, driven exactly as a runtime drives it."""

    def __init__(self, bin_dir: Path, socket: str, name: str = "pwxcni-net") -> None:
        self.exe = install.install_plugin(str(bin_dir))
        self.socket, self.name = socket, name

    def conf(self, version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
        return {
            "cniVersion": version,
            "name": self.name,
            "type": "prewire",
            "network": NET,
            "agentSocket": self.socket,
            **extra,
        }

    def __call__(
        self,
        command: str,
        container: str = "",
        netns: str = "",
        ifname: str = "eth0",
        conf: dict[str, Any] | None = None,
    ) -> tuple[int, Any, str]:
        env = {"CNI_COMMAND": command, "CNI_PATH": str(self.exe.parent)}
        if container:
            env |= {"CNI_CONTAINERID": container, "CNI_IFNAME": ifname}
        if netns:
            env["CNI_NETNS"] = netns
        data = json.dumps(conf or self.conf()).encode()
        done = subprocess.run(
            [str(self.exe)], input=data, env=env, capture_output=True, timeout=60, check=False
        )
        out = done.stdout.decode()
        return done.returncode, json.loads(out) if out.strip() else None, done.stderr.decode()


def make_netns(name: str) -> str:
    nl.create_netns(name)
    return nl.netns_path(name)
