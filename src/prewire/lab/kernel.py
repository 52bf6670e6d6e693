"""Kernel objects of the lab through netlink (pyroute2): veth pairs, links, network namespaces; and
making sure Open vSwitch runs (the same logic as scripts/services.sh)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from prewire.errors import KernelError, Unavailable

OVS_RUN = Path("/var/run/openvswitch")
OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def ovs_running() -> bool:
    return _pid_alive(OVS_RUN / "ovsdb-server.pid") and _pid_alive(OVS_RUN / "ovs-vswitchd.pid")


def ensure_ovs() -> None:
    """Start ovsdb-server and ovs-vswitchd (userspace datapath) if they are not running."""
    if ovs_running():
        return
    if not os.path.exists(OVS_CTL):
        raise Unavailable(
            "Open vSwitch is not installed; run scripts/setup.sh (apt-get install openvswitch-switch)"
        )
    for pidfile in OVS_RUN.glob("*.pid"):
        pidfile.unlink(missing_ok=True)
    Path("/etc/openvswitch/.conf.db.~lock~").unlink(missing_ok=True)
    for skip in ("--no-ovs-vswitchd", "--no-ovsdb-server"):
        done = subprocess.run(
            [OVS_CTL, "start", "--system-id=random", skip], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise Unavailable(f"cannot start Open vSwitch: {(done.stderr or done.stdout).strip()[-200:]}")


def _disable_ipv6(name: str) -> None:
    # No router solicitations or MLD reports from the host on lab links: only container frames cross them.
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").write_text("1")


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def ensure_veth(a: str, b: str) -> bool:
    """Make the veth pair a <-> b (both up); returns True if it had to be created."""
    with IPRoute() as ipr:
        have_a, have_b = bool(ipr.link_lookup(ifname=a)), bool(ipr.link_lookup(ifname=b))
        created = not (have_a and have_b)
        try:
            if created:
                for name, have in ((a, have_a), (b, have_b)):
                    if have:
                        ipr.link("del", index=ipr.link_lookup(ifname=name)[0])
                ipr.link("add", ifname=a, kind="veth", peer=b)
            for name in (a, b):
                _disable_ipv6(name)
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        except NetlinkError as exc:
            raise KernelError(f"cannot create veth pair {a}/{b}: {exc}") from exc
    return created


def delete_link(name: str) -> None:
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=found[0])


def list_links() -> dict[str, str]:
    """{name: kind} of the links in the root namespace ('' for links without a kind)."""
    result: dict[str, str] = {}
    with IPRoute() as ipr:
        for msg in ipr.get_links():
            name = msg.get("ifname")
            if not name:
                continue
            kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") if msg.get("IFLA_LINKINFO") else None
            result[str(name)] = str(kind or "")
    return result


def list_netns() -> list[str]:
    return sorted(netns.listnetns())


def remove_netns(name: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        netns.remove(name)


def has_tool(name: str) -> bool:
    return shutil.which(name) is not None
