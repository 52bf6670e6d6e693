"""Throwaway fabric for the switch-side integration tests: OVS bridges, uplinks and netns "containers".

Every object starts with `pwxsw<tag>`; `cleanup()` removes exactly what this object created.
"""

from __future__ import annotations

import contextlib
import subprocess

from pyroute2 import IPRoute, NetNS, netns

from prewire.ovs import Ovsdb


def dump_flows(bridge: str) -> list[str]:
    """The bridge's flows as `ovs-ofctl dump-flows --no-stats` prints them (no counters, no header)."""
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "--no-stats", bridge],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip() and "reply" not in line]


class Fabric:
    def __init__(self, tag: str) -> None:
        self.prefix = f"pwxsw{tag}"
        self.db = Ovsdb()
        self.ipr = IPRoute()
        self.bridges: list[str] = []
        self.links: list[str] = []
        self.namespaces: list[str] = []

    def bridge(self, name: str) -> str:
        full = f"{self.prefix}{name}"
        self.bridges.append(full)
        self.db.add_bridge(full, datapath_type="netdev", fail_mode="secure")
        return full

    def _veth(self, a: str, b: str) -> None:
        self.links.append(a)
        self.ipr.link("add", ifname=a, kind="veth", peer=b)
        for name in (a, b):
            self.ipr.link("set", index=self.ipr.link_lookup(ifname=name)[0], state="up")

    def uplink(self, server: str, tor: str, n: int) -> tuple[int, int]:
        """veth <prefix>u<n>s (server bridge port) <-> <prefix>u<n>t (ToR port): (server ofport, tor ofport)."""
        s, t = f"{self.prefix}u{n}s", f"{self.prefix}u{n}t"
        self._veth(s, t)
        return self.db.add_ports(server, [s])[s], self.db.add_ports(tor, [t])[t]

    def port_name(self, n: int) -> str:
        return f"{self.prefix}u{n}t"

    def container(self, name: str, bridge: str, mac: str, ip: str, vlan_dev: int = 0) -> int:
        """netns <prefix>-<name> with eth0 (MAC, IP/24) whose host end is a port of `bridge`: ofport.

        With vlan_dev, eth0 stays unaddressed (raw tagged frames are sent on it)."""
        ns = f"{self.prefix}-{name}"
        host, peer = f"{self.prefix}h{name}", f"{self.prefix}c{name}"
        netns.create(ns)
        self.namespaces.append(ns)
        # no IPv6 chatter: only the frames a test sends reach the switches
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
            check=True,
        )
        self._veth(host, peer)
        self.ipr.link("set", index=self.ipr.link_lookup(ifname=peer)[0], net_ns_fd=ns)
        with contextlib.closing(NetNS(ns)) as nsr:
            idx = nsr.link_lookup(ifname=peer)[0]
            nsr.link("set", index=idx, ifname="eth0", address=mac, state="up")
            if ip:
                nsr.addr("add", index=idx, address=ip, prefixlen=24)
            lo = nsr.link_lookup(ifname="lo")[0]
            nsr.link("set", index=lo, state="up")
        return self.db.add_ports(bridge, [host])[host]

    def netns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def ping(self, src: str, ip: str, count: int = 20) -> bool:
        """True as soon as one ping from container `src` to `ip` is answered (up to `count` tries);
        False when all `count` pings (0.2 s apart, 1 s wait for the last) go unanswered."""
        cmd = ["ip", "netns", "exec", self.netns(src), "ping", "-n", "-q", "-c", "1", "-W", "1", ip]
        for _ in range(count):
            if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
                return True
        return False

    def flush_neigh(self, name: str) -> None:
        subprocess.run(["ip", "-n", self.netns(name), "neigh", "flush", "all"], check=False)

    def cleanup(self) -> None:
        for br in reversed(self.bridges):
            with contextlib.suppress(Exception):
                self.db.del_bridge(br)
        for link in self.links:
            for idx in self.ipr.link_lookup(ifname=link):
                with contextlib.suppress(Exception):
                    self.ipr.link("del", index=idx)
        for ns in self.namespaces:
            with contextlib.suppress(Exception):
                netns.remove(ns)
        self.ipr.close()


def leftovers(prefix: str) -> list[str]:
    """Links, netns and bridges that still carry `prefix`."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    out += subprocess.run(["ip", "netns"], capture_output=True, text=True, check=True).stdout
    out += subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True, check=True).stdout
    words = (w.rstrip(":").split("@")[0] for w in out.split())
    return sorted({w for w in words if w.startswith(prefix)})
