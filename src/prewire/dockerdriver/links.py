"""The driver's kernel work: a scratch netns where the agent wires, and the hand-over to docker.

Docker's Join wants an interface *in docker's own netns* which it then moves into the container's netns
(in the prestart hook, before the container's process runs) and addresses itself.  The agent's one wire
path creates the container's interface, with MAC, IP and default route, directly inside a netns: here a
private scratch netns, so nothing touches the host's addresses or routes.  The driver then moves the
interface to the root netns (the move flushes addresses and routes; MAC and the vswitch VLAN stay).

Netlink through `prewire.agent.nl` (sockets opened inside a netns by a brief `setns` of one thread): no
fork, which matters in this threaded server (a forked netns helper can deadlock on a lock another thread
held at fork time).
"""

from __future__ import annotations

import os

from prewire.agent import nl
from prewire.errors import KernelError


def placeholder_peer(ifname: str, prefix: str) -> str:
    """The placeholder veth's other end: `<prefix>q<id>` (ids are hex: no clash with interface names)."""
    return (prefix + "q" + ifname[len(prefix) :])[:15]


class Links:
    """Scratch netns `scratch` (a named netns, /run/netns/<scratch>) and moves out of it."""

    def __init__(self, scratch: str, prefix: str = "pwd") -> None:
        self.scratch, self.prefix = scratch, prefix

    @property
    def scratch_path(self) -> str:
        return nl.netns_path(self.scratch)

    def ensure_scratch(self) -> str:
        """Create the scratch netns unless it exists; returns its path."""
        if not os.path.exists(self.scratch_path):
            nl.create_netns(self.scratch)
        return self.scratch_path

    def remove_scratch(self) -> None:
        if os.path.exists(self.scratch_path):
            nl.remove_netns(self.scratch)

    def to_root(self, ifname: str, mac: str) -> None:
        """Move the agent's `ifname` (MAC `mac`) from the scratch netns to ours and leave a placeholder
        (a down veth with that name and MAC) in its place; idempotent.

        The placeholder keeps the agent's binding looking intact (its reconcile checks the interface in
        the binding's netns, and would otherwise re-wire it while docker holds the real one); the agent's
        release deletes it.
        """
        peer = placeholder_peer(ifname, self.prefix)
        here_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        scratch_fd = nl.open_netns(self.scratch)
        try:
            with nl.Rtnl(netns_fd=scratch_fd) as ns:
                link = ns.link(ifname)
                if link is not None and ns.link(peer) is None:  # the agent's interface: hand it over
                    ns.call(
                        [(nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(link.index, netns_fd=here_fd))],
                        f"move {ifname} out of {self.scratch}",
                    )
                    link = None
                if link is None:
                    ns.add_veths([(ifname, peer)], scratch_fd)
                    made = ns.link(ifname)
                    if made is None:
                        raise KernelError(f"placeholder {ifname} vanished from {self.scratch}")
                    ns.call(
                        [(nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(made.index, mac=mac))],
                        f"placeholder {ifname} MAC",
                    )
            with nl.Rtnl() as root:
                here = root.link(ifname)
        finally:
            os.close(here_fd)
            os.close(scratch_fd)
        if here is None or here.mac != mac:
            raise KernelError(f"{ifname} with MAC {mac} is neither in netns {self.scratch} nor here")

    def delete(self, ifname: str, mac: str) -> bool:
        """Delete the real `ifname` (back from docker after Leave) if it carries `mac`; True if deleted.
        The placeholder in the scratch netns is left for the agent's release."""
        with nl.Rtnl() as root:
            link = root.link(ifname)
            if link is None or link.mac != mac:
                return False
            root.del_links([ifname])
        return True
