"""The pipeline the demo and the benchmark share, step by step in the seed's order:

lab up -> tenants and networks -> pre-distribute (switch profiles + servers' local pools) -> burst of
container starts (each wired by its server's agent the instant the start is detected) -> checks ->
release everything -> leak check -> lab down.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prewire import jsonline
from prewire.client import ControllerClient
from prewire.errors import PrewireError, Unavailable
from prewire.lab import fabric
from prewire.lab import state as labstate
from prewire.lab.state import LabState, ServerState
from prewire.runtime import netns as runtime

Progress = Callable[[int], None]

TENANTS: tuple[tuple[str, str, str], ...] = (
    ("red", "web", "10.20.0.0/20"),
    ("blue", "web", "10.20.0.0/20"),  # the same subnet: tenants are isolated at L2, not by addresses
)


@dataclass
class Started:
    """One container of a burst with its wiring and timings."""

    name: str
    tenant: str
    network: str
    server: str
    netns: str
    mac: str = ""
    ip: str = ""
    vlan: int = 0
    port: str = ""
    hot_path_ms: float = float("nan")
    ready_ms: float = float("nan")  # start detected -> the ToR admitted the MAC (network ready end to end)
    timings: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def client(st: LabState) -> ControllerClient:
    return ControllerClient(st.controller_url, st.admin_token())


def lab_up(servers: int, switches: int, say: Callable[[str], None] | None = None) -> LabState:
    return fabric.up(servers, switches, progress=say)


def lab_down() -> None:
    fabric.down()


def create_networks(st: LabState, tenants: Sequence[tuple[str, str, str]] = TENANTS) -> list[str]:
    """Tenants and their networks (idempotent: existing ones are kept)."""
    names = []
    with client(st) as c:
        known = {t["name"] for t in c.list_tenants()}
        nets = {f"{n['tenant']}/{n['name']}" for n in c.list_networks()}
        for tenant, net, subnet in tenants:
            if tenant not in known:
                c.create_tenant(tenant)
                known.add(tenant)
            if f"{tenant}/{net}" not in nets:
                c.create_network(tenant, net, subnet)
            names.append(f"{tenant}/{net}")
    return names


def agent_call(server: ServerState, op: str, sock_timeout: float = 150.0, **params: Any) -> Any:
    """One request to a server's agent; `params` go to the agent as they are (`timeout` included)."""
    with jsonline.Client(server.socket, timeout=sock_timeout) as agent:
        return agent.call(op, **params)


def predistribute(st: LabState, networks: Sequence[str], per_server: int, timeout: float = 120.0) -> float:
    """Step 1 of the seed: fill every server's local pool with `per_server` profiles of each network, and
    wait until every switch holds every one of those profiles (the controller pushes them to the switches
    in the background as it allocates them).  Returns the seconds it took."""
    began = time.perf_counter()
    for server in st.servers:
        for network in networks:
            agent_call(server, "prepare", timeout=timeout, network=network, count=per_server)
    with client(st) as c:
        wanted = {p["mac"] for server in st.servers for p in c.pool(server.name)}
    deadline = time.monotonic() + timeout
    for switch in st.switches:
        while True:
            held = {p["mac"] for p in jsonline.call(switch.socket, "held", timeout=30.0)}
            if wanted <= held:
                break
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"switch {switch.name} still lacks {len(wanted - held)} pre-distributed profile(s)"
                )
            time.sleep(0.05)
    return time.perf_counter() - began


def plan(
    count: int, st: LabState, networks: Sequence[str], prefix: str = "c"
) -> list[tuple[str, str, ServerState]]:
    """`count` containers spread round-robin over tenants' networks and servers."""
    width = max(4, len(str(count)))
    return [
        (
            f"{prefix}{i:0{width}d}",
            networks[i % len(networks)],
            st.servers[(i // len(networks)) % len(st.servers)],
        )
        for i in range(count)
    ]


def burst(
    st: LabState,
    wanted: Sequence[tuple[str, str, ServerState]],
    progress: Progress | None = None,
    staged: bool = False,
) -> tuple[list[Started], float]:
    """Start every container, then collect each one's wiring from its agent.

    Unstaged: containers are created one after the other and each agent wires them as they appear; the
    duration (first creation -> last wired) includes the runtime's own creation cost.  Staged: every
    container (netns + keeper) is created first where no agent looks, then all of them are published to
    the agents at once (one rename each): a burst of simultaneous starts, and the duration is prewire's
    alone (first start published -> last container wired, from the agents' own clocks)."""
    started: list[Started] = []
    published = time.time()
    began = time.perf_counter()
    for name, network, server in wanted:
        runtime_dir = _staging(server) if staged else server.runtime_dir
        record = runtime.create_container(runtime_dir, name, network)
        started.append(
            Started(
                name, network.split("/")[0], network, server.name, str(record.get("netns", f"pwct-{name}"))
            )
        )
    if staged:
        servers = {s.name: s for s in st.servers}
        published = time.time()
        for s in started:
            server = servers[s.server]
            os.rename(
                os.path.join(_staging(server), f"{s.name}.json"),
                os.path.join(server.runtime_dir, f"{s.name}.json"),
            )
    by_server: dict[str, list[Started]] = {}
    for s in started:
        by_server.setdefault(s.server, []).append(s)
    done = 0
    for server in st.servers:
        for s in by_server.get(server.name, []):
            try:
                _fill(s, agent_call(server, "wait", container=s.name, timeout=60.0))
            except PrewireError as exc:
                s.error = exc.message
            done += 1
            if progress:
                progress(done)
    duration = time.perf_counter() - began
    if staged:
        ends = [
            float(s.timings["detected_unix"]) + float(s.timings["ready"]) / 1000.0
            for s in started
            if isinstance(s.timings.get("detected_unix"), int | float)
            and isinstance(s.timings.get("ready"), int | float)
        ]
        duration = (max(ends) - published) if ends else math.nan
    _network_ready(st, started)
    return started, duration


def _staging(server: ServerState) -> str:
    """Where staged containers wait, unseen by the agent (next to its runtime dir, same filesystem)."""
    path = server.runtime_dir.rstrip("/") + ".staging"
    os.makedirs(path, exist_ok=True)
    return path


def _fill(s: Started, wired: dict[str, Any]) -> None:
    s.mac = str(wired.get("mac", ""))
    s.ip = str(wired.get("ip", ""))
    s.vlan = int(wired.get("vlan", 0) or 0)
    s.port = str(wired.get("port", ""))
    s.timings = dict(wired.get("timings") or {})
    ready = s.timings.get("ready")
    if isinstance(ready, int | float):
        s.hot_path_ms = float(ready)


def _network_ready(st: LabState, started: Sequence[Started], timeout: float = 5.0) -> None:
    """Network-ready = the ToR admitted the container's MAC on its port (its first frame arrived there):
    taken from the switch agents' admission times against the agent's detection time (same clock)."""
    pending = {s.mac: s for s in started if s.mac and not s.error}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for switch in st.switches:
            try:
                active = jsonline.call(switch.socket, "active", timeout=30.0)
            except PrewireError:
                continue
            for entry in active if isinstance(active, list) else active.get("active", []):
                s = pending.get(str(entry.get("mac", "")).lower())
                admitted = entry.get("admitted_unix")
                detected = s.timings.get("detected_unix") if s else None
                if s and isinstance(admitted, int | float) and isinstance(detected, int | float):
                    s.ready_ms = max(0.0, (admitted - detected) * 1000.0)
                    del pending[s.mac]
        if pending:
            time.sleep(0.1)


def release(
    st: LabState, started: Sequence[Started], progress: Progress | None = None, staged: bool = False
) -> float:
    """Stop and remove these containers; returns the seconds until their servers' agents hold none of
    their bindings any more (other containers may stay).  Staged: every container is stopped first (its
    keeper killed, all at once), the time is taken until all are released, and only then are their
    records and netns removed (the runtime's own clean-up is not counted)."""
    servers = {s.name: s for s in st.servers}
    mine = Counter(s.server for s in started if not s.error)
    target = {name: int(agent_call(servers[name], "status")["bindings"]) - n for name, n in mine.items()}
    began = time.perf_counter()
    for i, s in enumerate(started, 1):
        if staged:
            runtime.stop_container(servers[s.server].runtime_dir, s.name)
        else:
            runtime.remove_container(servers[s.server].runtime_dir, s.name)
        if progress:
            progress(i)
    deadline = time.monotonic() + 120.0
    pending = dict(target)
    while pending and time.monotonic() < deadline:
        pending = {
            n: t
            for n, t in pending.items()
            if int(agent_call(servers[n], "status", brief=True)["bindings"]) > t
        }
        if pending:
            time.sleep(0.01)
    duration = time.perf_counter() - began
    if staged:
        for s in started:
            with contextlib.suppress(PrewireError):
                runtime.remove_container(servers[s.server].runtime_dir, s.name)
    return duration


def leaks(st: LabState, settle_s: float = 30.0) -> dict[str, int]:
    """What is left once everything was released: bindings, container netns, controller endpoints,
    MACs still active on a switch port. All must be zero."""
    found: dict[str, int] = {}
    deadline = time.monotonic() + settle_s
    while True:
        found = {
            "agent_bindings": sum(int(agent_call(s, "status")["bindings"]) for s in st.servers),
            "container_netns": _count_netns("pwct-"),
            "controller_endpoints": _controller_endpoints(st),
            "switch_active_macs": _switch_active(st),
        }
        if not any(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _count_netns(prefix: str) -> int:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return sum(1 for line in out.splitlines() if line.startswith(prefix))


def _controller_endpoints(st: LabState) -> int:
    try:
        with client(st) as c:
            return len(c.list_endpoints())
    except Unavailable:
        return -1


def _switch_active(st: LabState) -> int:
    total = 0
    for switch in st.switches:
        with contextlib.suppress(PrewireError):
            active = jsonline.call(switch.socket, "active", timeout=30.0)
            total += len(active if isinstance(active, list) else active.get("active", []))
    return total


def leftovers(prefix: str = "pw", spare: tuple[str, ...] = ("pwx",)) -> list[str]:
    """Kernel objects and OVS bridges with the lab's prefix that still exist (other suites' `pwx*` spared)."""
    found: list[str] = []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    for line in links.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(prefix) and not name.startswith(spare):
            found.append(f"link:{name}")
    nss = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    found += [
        f"netns:{ln.split()[0]}"
        for ln in nss.splitlines()
        if ln.startswith(prefix) and not ln.startswith(spare)
    ]
    brs = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True, check=False).stdout
    found += [f"bridge:{b}" for b in brs.split() if b.startswith(prefix) and not b.startswith(spare)]
    return found


def loaded_state() -> LabState | None:
    return labstate.load()
