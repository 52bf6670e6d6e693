"""The pool of pre-wired ports: veth pairs made ahead of time, host end already an OVS port.

Host end `<host_prefix><n>` lives in the root netns as a port of the server's bridge; the container end
`<peer_prefix><n>` stays, up and address-less, in the pool netns for its whole life.  Wiring a container
creates a macvlan on the container end directly inside the container's netns (see wire.py), so a port
never moves and never leaves OVS: releasing it costs nothing and it is reused.  Ports are created and
added to OVS in batches (one OVSDB transaction per batch) in the background, never on the hot path.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
from dataclasses import dataclass

from prewire.agent import nl
from prewire.errors import Exhausted, KernelError, PrewireError
from prewire.ovs import Ovsdb

log = logging.getLogger("prewire.agent.ports")


@dataclass(frozen=True)
class Port:
    n: int
    host: str
    peer: str
    peer_index: int
    ofport: int


class PortPool:
    """Free pre-wired ports (FIFO) plus every port this agent owns."""

    def __init__(
        self,
        bridge: str,
        host_prefix: str,
        peer_prefix: str,
        pool_netns: str,
        size: int = 64,
        batch: int = 32,
        ovsdb: Ovsdb | None = None,
    ) -> None:
        if len(host_prefix) + 5 > 15 or len(peer_prefix) + 5 > 15:
            raise ValueError("port prefixes must leave room for 5 digits in a 15-character name")
        self.bridge = bridge
        self.host_prefix, self.peer_prefix, self.pool_netns = host_prefix, peer_prefix, pool_netns
        self.size, self.batch = size, batch
        self.ovsdb = ovsdb or Ovsdb()
        self.ports: dict[str, Port] = {}
        self.free: collections.OrderedDict[str, Port] = collections.OrderedDict()
        self._next = 0
        self._refill: asyncio.Task[int] | None = None
        self.misses = 0
        self._waiting = 0  # takes waiting for a batch (a burst beyond --ports)
        # A port in use carries one VLAN; the containers of that VLAN on this server share it (macvlans in
        # bridge mode on its container end), so ports grow with VLANs, not with containers.
        self.by_vlan: dict[int, list[str]] = {}
        self.vlan_of: dict[str, int] = {}
        self.users: collections.Counter[str] = collections.Counter()

    # -- start-up scan ----------------------------------------------------------------------------------
    async def start(self, in_use: set[str]) -> None:
        """Adopt consistent pairs left by a previous run, remove broken ones, then fill up."""
        await asyncio.to_thread(self._scan, in_use)
        await self.fill()

    def _scan(self, in_use: set[str]) -> None:
        nl.create_netns(self.pool_netns)
        host_re = re.compile(re.escape(self.host_prefix) + r"(\d+)$")
        peer_re = re.compile(re.escape(self.peer_prefix) + r"(\d+)$")
        with nl.Rtnl() as root, nl.Rtnl(self.pool_netns) as pool:
            hosts = {int(m.group(1)): link for link in root.links() if (m := host_re.match(link.name))}
            peers = {int(m.group(1)): link for link in pool.links() if (m := peer_re.match(link.name))}
            ofports = {
                int(m.group(1)): ofport
                for name, ofport in self.ovsdb.ofports(self.bridge).items()
                if (m := host_re.match(name))
            }
            in_ovs = {
                int(m.group(1)) for name in self.ovsdb.list_ports(self.bridge) if (m := host_re.match(name))
            }
            pairs = set(hosts) & set(peers)
            missing = sorted(n for n in pairs if n not in ofports)
            if missing:
                ofports.update(self._add_to_ovs(missing))
            broken = sorted((set(hosts) | set(peers)) - pairs)
            root.del_links([self.host_prefix + str(n) for n in broken if n in hosts])
            pool.del_links([self.peer_prefix + str(n) for n in broken if n in peers and n not in hosts])
            stale = [self.host_prefix + str(n) for n in sorted(in_ovs - pairs)]
            self.ovsdb.del_ports(self.bridge, stale)
            for n in sorted(pairs):
                peer = peers[n]
                if not peer.flags & nl.IFF_UP:
                    pool.call([(nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(peer.index, up=True))], "peer up")
                port = Port(n, self.host_prefix + str(n), peer.name, peer.index, ofports[n])
                self.ports[port.host] = port
                if port.host not in in_use:
                    self.free[port.host] = port
            self._next = max([*hosts, *peers, -1]) + 1
        if broken or stale:
            log.info("removed %d broken pair(s), %d stale OVS port(s)", len(broken), len(stale))

    def _add_to_ovs(self, numbers: list[int]) -> dict[int, int]:
        names = {self.host_prefix + str(n): n for n in numbers}
        return {
            names[name]: ofport for name, ofport in self.ovsdb.add_ports(self.bridge, list(names)).items()
        }

    # -- taking and giving back ---------------------------------------------------------------------------
    def take(self) -> Port:
        """The oldest free port (hot path: in memory); Exhausted when none is ready."""
        if not self.free:
            self.misses += 1
            raise Exhausted(f"no pre-wired port free on {self.bridge}; raise --ports")
        _, port = self.free.popitem(last=False)
        if len(self.free) < self.size // 2:
            self.kick()
        return port

    async def take_wait(self) -> Port:
        """`take`, waiting for a background batch when the pool ran dry (a burst beyond --ports)."""
        if self.free:
            return self.take()
        self.misses += 1
        self._waiting += 1
        try:
            while not self.free:  # a failing refill raises out of here; an empty batch cannot happen
                self.kick()
                assert self._refill is not None
                await asyncio.shield(self._refill)
        finally:
            self._waiting -= 1
        return self.take()

    async def take_for_vlan(self, vlan: int, avoid: frozenset[str] = frozenset()) -> tuple[Port, bool]:
        """The port carrying `vlan` here (a fresh one if none, or if every one is in `avoid`).
        Returns the port and whether it is new to the VLAN."""
        for host in self.by_vlan.get(vlan, ()):
            if host not in avoid:
                self.users[host] += 1
                return self.ports[host], False
        port = await self.take_wait()
        self.adopt(port.host, vlan)
        return port, True

    def adopt(self, host: str, vlan: int) -> None:
        """Count one user of port `host` on `vlan` (a new binding, or one found at start-up)."""
        if host not in self.ports:
            return
        self.free.pop(host, None)
        if self.vlan_of.get(host) != vlan:
            self.vlan_of[host] = vlan
            self.by_vlan.setdefault(vlan, []).append(host)
        self.users[host] += 1

    def unuse(self, host: str) -> None:
        """One user of `host` left; the last one gives the port back to the free pool."""
        if self.users[host] > 1:
            self.users[host] -= 1
            return
        self.users.pop(host, None)
        vlan = self.vlan_of.pop(host, None)
        if vlan is not None:
            hosts = self.by_vlan.get(vlan, [])
            if host in hosts:
                hosts.remove(host)
            if not hosts:
                self.by_vlan.pop(vlan, None)
        port = self.ports.get(host)
        if port is not None:
            self.give_back(port)

    def give_back(self, port: Port) -> None:
        if port.host in self.ports and port.host not in self.free:
            self.free[port.host] = port

    # -- refill -------------------------------------------------------------------------------------------
    def kick(self) -> None:
        if self._refill is None or self._refill.done():
            self._refill = asyncio.get_running_loop().create_task(self.fill())

    async def fill(self) -> int:
        """Create batches until `size` ports are free."""
        made = 0
        while len(self.free) < max(self.size, 1 if self._waiting else 0):
            count = min(self.batch, max(self.size - len(self.free), self._waiting + self.size // 2))
            numbers = list(range(self._next, self._next + count))
            self._next += count
            try:
                ports = await asyncio.to_thread(self._create, numbers)
            except PrewireError as exc:
                log.error("creating pre-wired ports failed: %s", exc.message)
                raise
            for port in ports:
                self.ports[port.host] = port
                self.free[port.host] = port
            made += len(ports)
        return made

    def _create(self, numbers: list[int]) -> list[Port]:
        pairs = [(self.host_prefix + str(n), self.peer_prefix + str(n)) for n in numbers]
        pool_fd = nl.open_netns(self.pool_netns)
        try:
            with nl.Rtnl() as root, nl.Rtnl(self.pool_netns) as pool:
                root.add_veths(pairs, pool_fd)
                peers = {link.name: link.index for link in pool.links()}
                hosts = {link.name: link.index for link in root.links()}
                for sock, index in ((root, hosts), (pool, peers)):
                    names = [n for pair in pairs for n in pair if n in index]
                    ll = [
                        (nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(index[n], no_ipv6_ll=True)) for n in names
                    ]
                    up = [(nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(index[n], up=True)) for n in names]
                    sock.call(ll + up, "set pre-wired ports up")  # AF_SPEC before up: no IPv6 chatter
                try:
                    ofports = self._add_to_ovs(numbers)
                except PrewireError:
                    root.del_links([h for h, _ in pairs])
                    raise
        finally:
            os.close(pool_fd)
        missing = [p for _, p in pairs if p not in peers]
        if missing:
            raise KernelError(f"veth peers {', '.join(missing)} vanished from {self.pool_netns}")
        return [Port(n, h, p, peers[p], ofports[n]) for n, (h, p) in zip(numbers, pairs, strict=True)]

    # -- teardown -------------------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Remove every port and the pool netns (lab down, tests); blocking."""
        names = list(self.ports)
        nl.remove_netns(self.pool_netns)  # takes every container end, hence every veth pair, with it
        with nl.Rtnl() as root:
            root.del_links([link.name for link in root.links() if link.name in self.ports])
        for i in range(0, len(names), 100):  # bounded transactions: a bridge of 1000 ports is slow
            self.ovsdb.del_ports(self.bridge, names[i : i + 100])
        self.ports.clear()
        self.free.clear()
