"""THE HOT PATH: put a container on its tenant VLAN from pre-distributed state.

Kernel part (`Wirer.wire`), three netlink round trips and no process, no OVSDB, no controller:
1. one RTM_NEWLINK, sent from the pool netns, creates the container's interface (`eth0`) as a macvlan on
   the pre-wired port's container end *directly inside the container's netns*, with the profile's MAC, up;
2. one RTM_GETLINK inside the container netns finds its ifindex;
3. one sendmsg carrying RTM_NEWADDR (IP/prefix) and RTM_NEWROUTE (default via the gateway).
Then the vswitch part: `attach(ofport, mac, vlan)` (OpenFlow flow mods, no bridge reconfigure).

Why a macvlan and not moving the veth end into the container: moving a netdev between namespaces costs
~16 ms here (the kernel waits for RCU grace periods under the RTNL lock), creating a macvlan in place
~0.25 ms; and the pre-wired port never leaves the pool netns, so release never has to move it back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from prewire.agent import nl
from prewire.agent.ports import Port
from prewire.errors import Conflict, KernelError


class PortBusy(KernelError):
    """The port's container end still has a macvlan with this MAC: take another port."""


class VSwitch(Protocol):
    """The server vswitch seam (`prewire.vswitch.ServerVSwitch`)."""

    async def attach(self, ofport: int, mac: str, vlan: int) -> Any: ...
    async def detach(self, ofport: int, mac: str, vlan: int) -> Any: ...


def netns_identity(netns: str) -> list[int] | None:
    """(st_dev, st_ino) of the netns file: tells a re-created namespace of the same name apart."""
    try:
        st = os.stat(nl.netns_path(netns))
    except OSError:
        return None
    return [st.st_dev, st.st_ino]


class Wirer:
    """Holds the netlink socket of the pool netns open; `wire` runs synchronously in the event loop."""

    def __init__(self, pool_netns: str, ipv6_link_local: bool = False) -> None:
        self.pool_netns = pool_netns
        self.ipv6_link_local = ipv6_link_local
        self._pool: nl.Rtnl | None = None

    def _pool_sock(self) -> nl.Rtnl:
        if self._pool is None:
            self._pool = nl.Rtnl(self.pool_netns)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def wire(
        self, port: Port, profile: dict[str, Any], netns: str, ifname: str, mark: Callable[[str], None]
    ) -> None:
        """Create `ifname` in `netns` on `port` with the profile's MAC/IP/route; idempotent."""
        fd = nl.open_netns(netns)
        try:
            with nl.Rtnl(netns_fd=fd) as ns:
                # without IPv6 link-local: create it down, then addrgenmode none + up with the address
                body = nl.Rtnl.macvlan_body(
                    ifname, port.peer_index, fd, profile["mac"], up=self.ipv6_link_local
                )
                try:
                    self._pool_sock().call(
                        [(nl.RTM_NEWLINK, nl.F_CREATE | nl.F_EXCL, body)], f"create {ifname} in {netns}"
                    )
                except KernelError as exc:
                    if exc.details == "EADDRINUSE":
                        raise PortBusy(f"{port.host} still carries {profile['mac']} (dying netns)") from exc
                    if exc.details != "EEXIST":
                        raise
                mark("linked")
                link = ns.link(ifname)
                if link is None:
                    raise KernelError(f"{ifname} vanished from {netns} right after creation")
                if link.mac != profile["mac"]:
                    raise Conflict(
                        f"{ifname} already exists in {netns} with MAC {link.mac}; "
                        "remove it or choose another interface name"
                    )
                requests = []
                if not self.ipv6_link_local:  # two requests: the kernel applies flags before AF_SPEC
                    requests += [
                        (nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(link.index, no_ipv6_ll=True)),
                        (nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(link.index, up=True)),
                    ]
                requests += [
                    (
                        nl.RTM_NEWADDR,
                        nl.F_CREATE | nl.F_REPLACE,
                        nl.Rtnl.addr_body(link.index, profile["ip"], profile["prefix"]),
                    ),
                ]
                if profile.get("gateway"):
                    requests.append(
                        (
                            nl.RTM_NEWROUTE,
                            nl.F_CREATE | nl.F_REPLACE,
                            nl.Rtnl.default_route_body(link.index, profile["gateway"]),
                        )
                    )
                ns.call(requests, f"address {ifname} in {netns}")
                mark("addressed")
        finally:
            os.close(fd)


def unwire(netns: str, identity: list[int] | None, ifname: str, mac: str) -> str:
    """Delete the container's interface if its netns still exists (blocking: ~10 ms of kernel time).

    Returns "gone" (netns no longer there: the kernel removes the macvlan with it), "deleted" or "absent".
    """
    if identity is None or netns_identity(netns) != identity:
        return "gone"
    try:
        fd = nl.open_netns(netns)
    except KernelError:
        return "gone"
    try:
        st = os.fstat(fd)  # the namespace we opened, not whatever the path names a moment later
        if [st.st_dev, st.st_ino] != identity:
            return "gone"
        try:
            ns = nl.Rtnl(netns_fd=fd)
        except KernelError:  # unmounted between open and setns: a plain file now
            return "gone"
        with ns:
            link = ns.link(ifname)
            if link is None or link.mac != mac:
                return "absent"
            ns.del_links([ifname])
            return "deleted"
    finally:
        os.close(fd)


def check(netns: str, ifname: str, mac: str) -> bool:
    """Is `ifname` with `mac` present in `netns`?"""
    try:
        with nl.Rtnl(netns) as ns:
            link = ns.link(ifname)
    except KernelError:
        return False
    return link is not None and link.mac == mac


def now_ms() -> float:
    return time.perf_counter_ns() / 1e6
