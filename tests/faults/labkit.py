"""Fault injection around the lab fabric: kill -9 and restart its daemons, census of what exists.

Every process is signalled by the PID the lab recorded (with its start time), never by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.demo import scenario
from prewire.lab import procs
from prewire.lab.state import LabState, Proc, ServerState
from tests.integration.switchagent.pwxsw_fabric import dump_flows


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def kill9(proc: Proc | None) -> None:
    assert proc is not None
    if procs.alive(proc):
        os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while procs.alive(proc) and time.monotonic() < deadline:
        time.sleep(0.01)


def restart(st: LabState, proc: Proc) -> Proc:
    """Start the same command line again (prewire args after `python -m prewire`) and save the lab state."""
    new = procs.start(proc.argv[3:], Path(proc.log).with_suffix(f".{int(time.time() * 1000)}.log"))
    return new


def restart_agent(st: LabState, server: ServerState) -> None:
    assert server.proc is not None
    server.proc = restart(st, server.proc)
    st.save()
    procs.wait_ready(server.proc, procs.socket_ready(server.socket, "status"), f"agent {server.name}", 60)


def restart_controller(st: LabState) -> None:
    assert st.controller is not None
    st.controller = restart(st, st.controller)
    st.save()
    procs.wait_ready(st.controller, procs.http_ready(st.controller_url + "/v1/health"), "controller", 60)


def bindings(server: ServerState) -> list[dict[str, Any]]:
    return list(jsonline.call(server.socket, "list", timeout=60)["bindings"])


def pw_links(prefix: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    names = {line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines()}
    return {n for n in names if n.startswith(prefix)}


def ovs_ports(bridge: str) -> set[str]:
    out = subprocess.run(
        ["ovs-vsctl", "list-ports", bridge], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def flows(bridge: str) -> set[str]:
    """The bridge's flows without counters (what a restore must reproduce)."""
    return set(dump_flows(bridge))


def port_flows(bridge: str) -> list[str]:
    """The server vswitch's per-port VLAN flows (table 0, priority 100: one per port carrying a VLAN)."""
    return sorted(f for f in flows(bridge) if "priority=100" in f and "in_port=" in f)


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[LabState]:
    """A fresh lab (servers from the test's `servers` marker, default 2), always torn down."""
    marker = request.node.get_closest_marker("servers")
    servers = int(marker.args[0]) if marker else 2
    if scenario.loaded_state() is not None:
        scenario.lab_down()
    st = scenario.lab_up(servers, 1)
    try:
        yield st
    finally:
        scenario.lab_down()
        assert scenario.leftovers() == []


OVS_RUNDIR = Path("/var/run/openvswitch")
SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def kill9_ovs() -> list[int]:
    """SIGKILL ovs-vswitchd, then ovsdb-server (the PIDs in their pid files: the project's set-up started
    them); returns the PIDs once both are gone.  A crash: no flow is saved, every flow is lost."""
    pids = []
    for daemon in ("ovs-vswitchd", "ovsdb-server"):
        pid = int((OVS_RUNDIR / f"{daemon}.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        pids.append(pid)
    wait_for(lambda: all(map(_gone, pids)), 30, "OVS daemons to die", 0.01)
    return pids


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()  # reaped, every thread done (a zombie may still hold locks)


def start_ovs() -> None:
    """Start OVS the way the project's set-up does (scripts/services.sh: only what is not running)."""
    subprocess.run(["bash", str(SERVICES)], check=True, capture_output=True, timeout=120)
