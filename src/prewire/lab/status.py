"""`lab status`: processes, servers, switches, ports, profiles held and VLANs active per port."""

from __future__ import annotations

import contextlib
from typing import Any

from prewire import jsonline
from prewire.client import ControllerClient
from prewire.errors import PrewireError
from prewire.lab import containers, kernel, procs
from prewire.lab.state import LabState, Proc
from prewire.ovs import Ovsdb


def _proc(proc: Proc | None) -> dict[str, Any]:
    if proc is None:
        return {"pid": None, "alive": False}
    return {"pid": proc.pid, "alive": procs.alive(proc), "log": proc.log}


def _ask(path: str, op: str) -> Any:
    try:
        return jsonline.call(path, op, timeout=5)
    except PrewireError as exc:
        return {"error": exc.message}


def _vlans_by_port(active: Any) -> dict[str, list[int]]:
    """{port: sorted VLANs admitted there} from the switch agent's `active` list."""
    ports: dict[str, set[int]] = {}
    for item in active if isinstance(active, list) else []:
        if isinstance(item, dict) and "port" in item and "vlan" in item:
            ports.setdefault(str(item["port"]), set()).add(int(item["vlan"]))
    return {port: sorted(vlans) for port, vlans in sorted(ports.items())}


def collect(st: LabState) -> dict[str, Any]:
    """Everything `lab status` shows, as JSON-ready data."""
    ports: dict[str, list[str]] = {}
    with contextlib.suppress(PrewireError):
        ovsdb = Ovsdb()
        for bridge in st.bridges:
            with contextlib.suppress(PrewireError):
                ports[bridge] = ovsdb.list_ports(bridge)
    switches = []
    for sw in st.switches:
        row: dict[str, Any] = {"name": sw.name, "bridge": sw.bridge, "socket": sw.socket, **_proc(sw.proc)}
        row["ports"] = ports.get(sw.bridge, [])
        if row["alive"]:
            held = _ask(sw.socket, "held")
            row["profiles_held"] = len(held) if isinstance(held, list) else held
            row["active"] = active = _ask(sw.socket, "active")
            row["vlans_by_port"] = _vlans_by_port(active)
        switches.append(row)
    servers = []
    for srv in st.servers:
        row = {
            "name": srv.name,
            "bridge": srv.bridge,
            "uplink": srv.uplink,
            "switch": srv.switch,
            "switch_port": srv.switch_port,
            "socket": srv.socket,
            **_proc(srv.proc),
            "ports": len(ports.get(srv.bridge, [])),
            "containers": len(containers.records(srv)),
        }
        if row["alive"]:
            row["agent"] = _ask(srv.socket, "status")
        servers.append(row)
    controller: dict[str, Any] = {"url": st.controller_url, **_proc(st.controller)}
    if controller["alive"]:
        with (
            contextlib.suppress(PrewireError, OSError),
            ControllerClient(st.controller_url, st.admin_token(), timeout=5) as client,
        ):
            controller["switches"] = client.switch_status()
    return {
        "ready": st.ready,
        "lab_dir": st.lab_dir,
        "controller": controller,
        "admin_token_file": st.admin_token_file,
        "spine": st.spine,
        "switches": switches,
        "servers": servers,
        "netns": [n for n in kernel.list_netns() if n.startswith("pw") and not n.startswith("pwx")],
    }
