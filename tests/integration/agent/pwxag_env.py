"""Throwaway agent environments for the agent's integration tests (every object named `pwxag...`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prewire.agent import nl
from prewire.agent.daemon import AgentConfig
from prewire.ovs import Ovsdb
from prewire.runtime import netns as rt

PREFIX = "pwxag"


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def profiles(
    network: str, vlan: int, tag: int, count: int, third: int = 0, first: int = 1
) -> list[dict[str, Any]]:
    """`count` profiles of `network` in 10.<200+tag>.<third>.0/24 from .<first>, gateway .254."""
    return [
        {
            "mac": f"02:a9:{tag:02x}:{third:02x}:{vlan % 256:02x}:{i:02x}",
            "ip": f"10.{200 + tag}.{third}.{i}",
            "prefix": 24,
            "gateway": f"10.{200 + tag}.{third}.254",
            "vlan": vlan,
            "network": network,
        }
        for i in range(first, first + count)
    ]


class Env:
    """One emulated server: bridge `pwxagb<t>` with uplink veth `pwxagu<t>`/`pwxagv<t>`, containers
    `pwxag<t>-<name>`, ports `pwxagh<t>x<n>`/`pwxagc<t>x<n>` in `pwxagpool<t>`."""

    def __init__(self, tag: int, tmp: Path, trunk_to: Env | None = None) -> None:
        self.tag = tag
        self.bridge = f"{PREFIX}b{tag}"
        self.uplink, self.uplink_peer = f"{PREFIX}u{tag}", f"{PREFIX}v{tag}"
        if trunk_to is not None:  # back to back: this bridge's uplink is the other end of trunk_to's
            self.uplink, self.uplink_peer = trunk_to.uplink_peer, trunk_to.uplink
        self.ct_prefix = f"{PREFIX}{tag}-"
        self.state_dir = str(tmp / f"state{tag}")
        self.runtime_dir = str(tmp / f"rt{tag}")
        self.db = Ovsdb()

    def config(self, **kw: Any) -> AgentConfig:
        options: dict[str, Any] = {
            "ports": 8,
            "pool_size": 16,
            "reconcile_interval": 3600.0,
            "runtime_dir": self.runtime_dir,
            "docker": False,
            **kw,
        }
        return AgentConfig(
            server=f"srvx{self.tag}",
            bridge=self.bridge,
            state_dir=self.state_dir,
            uplink=self.uplink,
            tag=str(self.tag),
            prefix=PREFIX,
            **options,
        )

    def setup(self) -> None:
        self.db.add_bridge(self.bridge)
        with nl.Rtnl() as root:
            if root.link(self.uplink) is None:
                sh("ip", "link", "add", self.uplink, "type", "veth", "peer", "name", self.uplink_peer)
            sh("ip", "link", "set", self.uplink, "up")
            sh("ip", "link", "set", self.uplink_peer, "up")
        self.db.add_ports(self.bridge, [self.uplink])

    def container(self, name: str, network: str) -> dict[str, Any]:
        return rt.create_container(self.runtime_dir, name, network, prefix=self.ct_prefix)

    def remove(self, name: str) -> None:
        rt.remove_container(self.runtime_dir, name, prefix=self.ct_prefix)

    def teardown(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.listdir(self.runtime_dir):
                record = rt.read_record(os.path.join(self.runtime_dir, entry))
                if (
                    record
                    and isinstance(record.get("pid"), int)
                    and rt.start_time(record["pid"]) == record.get("start_time")
                ):
                    with contextlib.suppress(ProcessLookupError, ChildProcessError):
                        os.kill(record["pid"], signal.SIGKILL)
                        os.waitpid(record["pid"], 0)
                os.unlink(os.path.join(self.runtime_dir, entry))
        for ns in netns_names(f"{PREFIX}{self.tag}-") + netns_names(f"{PREFIX}pool{self.tag}"):
            nl.remove_netns(ns)
        self.db.del_bridge(self.bridge)
        with nl.Rtnl() as root:
            names = [
                link.name
                for link in root.links()
                if link.name.startswith((f"{PREFIX}h{self.tag}x", self.uplink, self.uplink_peer))
            ]
            root.del_links(names)


def netns_names(prefix: str) -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(prefix))
    return []


def leftovers() -> list[str]:
    """Every pwxag object still on the machine."""
    found = [f"netns {n}" for n in netns_names(PREFIX)]
    with nl.Rtnl() as root:
        found += [f"link {link.name}" for link in root.links() if link.name.startswith(PREFIX)]
    found += [f"bridge {b}" for b in Ovsdb().list_bridges() if b.startswith(PREFIX)]
    return found


def addr_of(netns: str, ifname: str = "eth0") -> dict[str, Any] | None:
    """`ip -j addr` of `ifname` inside `netns` (None when absent)."""
    try:
        out = sh("ip", "-n", netns, "-j", "addr", "show", "dev", ifname)
    except subprocess.CalledProcessError:
        return None
    data = json.loads(out)
    return data[0] if data else None


def default_route(netns: str) -> str:
    return sh("ip", "-n", netns, "route", "show", "default").strip()


@contextlib.contextmanager
def envs(tmp: Path, *tags: int, trunk: bool = False) -> Iterator[list[Env]]:
    made: list[Env] = []
    for t in tags:
        made.append(Env(t, tmp, made[0] if trunk and made else None))
    try:
        for env in made:
            env.teardown()  # a previous crashed run
        for env in made:
            env.setup()
        yield made
    finally:
        for env in made:
            env.teardown()


async def eventually(predicate: Any, timeout: float = 10.0, step: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
