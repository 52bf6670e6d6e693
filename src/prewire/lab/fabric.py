"""`up()` builds the lab fabric idempotently; `down()` removes everything it made, processes by PID.

Order of `up`: Open vSwitch running -> bridges and uplink/trunk veths -> controller (init + serve on the
embedded SQLite) -> switch agents -> switches registered -> servers registered -> server agents.  The
state file is saved after every step, so a `lab up` that dies half-way can still be taken down.
"""

from __future__ import annotations

import inspect
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prewire.errors import Conflict, PrewireError
from prewire.lab import kernel, procs, registry, topology
from prewire.lab import state as labstate
from prewire.lab.state import LabState, Proc, ServerState, SwitchState
from prewire.lab.teardown import down, down_locked
from prewire.ovs import Ovsdb

DEFAULT_PORT = 8700
LAB_MARK = {"prewire-lab": "1"}
# The lab's agents share one dockerd: each takes only the containers labelled prewire.server=<its server>.
AGENT_ENV = {"PREWIRE_DOCKER_REQUIRE_SERVER_LABEL": "1"}
TRUNK_MARK = {"prewire-role": "trunk"}  # ToR end of a spine link: carries every VLAN (see docs/lab.md)


def _free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise Conflict(f"no free TCP port in {start}..{start + 99} for the lab controller")


def _new_state(lab_dir: Path, servers: int, switches: int) -> LabState:
    shape = topology.plan(servers, switches)
    st = LabState(lab_dir=str(lab_dir), controller_dir=str(lab_dir / "controller"), spine=shape.spine)
    st.admin_token_file = str(lab_dir / "controller" / "admin.token")
    st.switches = [
        SwitchState(w.name, w.index, w.bridge, str(lab_dir / "switches" / w.name), trunk=w.trunk)
        for w in shape.switches
    ]
    st.servers = [
        ServerState(
            s.name,
            s.index,
            s.bridge,
            s.uplink,
            s.switch,
            s.switch_port,
            s.pool_netns,
            state_dir=str(lab_dir / "servers" / s.name),
            runtime_dir=str(lab_dir / "servers" / s.name / "runtime"),
        )
        for s in shape.servers
    ]
    return st


def up(
    servers: int = 2,
    switches: int = 1,
    *,
    lab_dir: Path | None = None,
    port: int = DEFAULT_PORT,
    pool_size: int | None = None,
    ports: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabState:
    """Bring the lab up (or repair a lab of the same shape); on failure remove what this call made."""
    lab_dir = lab_dir or labstate.LAB_DIR
    with labstate.locked(lab_dir):
        return _up(servers, switches, lab_dir, port, pool_size, ports, progress)


def _up(
    servers: int,
    switches: int,
    lab_dir: Path,
    port: int,
    pool_size: int | None,
    ports: int | None,
    progress: Callable[[str], None] | None,
) -> LabState:
    shape = topology.plan(servers, switches)
    old = labstate.load(lab_dir)
    if old is not None and (len(old.servers), len(old.switches)) != (servers, switches):
        raise Conflict(
            f"a lab with {len(old.servers)} server(s) and {len(old.switches)} switch(es) exists; "
            "run `prewire lab down` first"
        )
    st = old or _new_state(lab_dir, servers, switches)
    began = time.perf_counter()

    def say(msg: str) -> None:
        if progress is not None:
            progress(f"{time.perf_counter() - began:6.2f} s  {msg}")

    step = "start"
    try:
        step = "Open vSwitch"
        kernel.ensure_ovs()
        step = "bridges and links"
        say(f"fabric: {len(shape.switches)} ToR(s), {len(shape.servers)} server(s)")
        _build_fabric(st, shape)
        step = "controller"
        say("controller")
        url = st.controller_url
        _start_controller(st, port)
        if url and url != st.controller_url:  # agents were told the old URL: restart them
            procs.stop_all([s.proc for s in st.servers if s.proc is not None])
        step = "switch agents"
        say("switch agents")
        _start_switch_agents(st)
        step = "registration"
        _register(st)
        step = "server agents"
        say("server agents")
        _start_agents(st, pool_size, ports)
        st.ready = True
        st.save()
        say("ready")
        return st
    except BaseException as exc:  # Ctrl-C and bugs included: never leave half a lab behind
        message = exc.message if isinstance(exc, PrewireError) else f"{type(exc).__name__}: {exc}"
        undo = "the existing lab was left as it was; run `prewire lab down`"
        if old is None:
            undo = "everything it made was removed"
            try:
                down_locked(lab_dir)
            except PrewireError as cleanup:
                undo = f"cleanup failed too ({cleanup.message})"
        if not isinstance(exc, Exception):
            raise
        kind = type(exc) if isinstance(exc, PrewireError) else PrewireError
        raise kind(f"lab up failed at {step}: {message}; {undo}") from exc


def _build_fabric(st: LabState, shape: topology.Plan) -> None:
    ovsdb = Ovsdb()
    for bridge in shape.bridges():
        if bridge not in st.bridges:
            st.bridges.append(bridge)
            st.save()
        if bridge == topology.SPINE_BRIDGE:
            ovsdb.add_bridge(bridge, fail_mode="standalone", external_ids=LAB_MARK)
        else:
            ovsdb.add_bridge(bridge, external_ids=LAB_MARK)
    for a, b in shape.veth_pairs():
        if a not in st.veths:
            st.veths.append(a)
            st.save()
        kernel.ensure_veth(a, b)
    for srv in shape.servers:
        ovsdb.add_ports(srv.bridge, [srv.uplink])
    for sw in shape.switches:
        edge = [s.switch_port for s in shape.servers if s.switch == sw.name]
        ovsdb.add_ports(sw.bridge, edge + ([sw.trunk] if sw.trunk else []))
        if sw.trunk:
            ovsdb.set_interface_external_ids(sw.trunk, TRUNK_MARK)
        if sw.spine_port:
            ovsdb.add_ports(topology.SPINE_BRIDGE, [sw.spine_port])


def _ensure_proc(
    current: Proc | None, args: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[Proc, bool]:
    """The running process, or a freshly started one (second value: started now)."""
    if current is not None and procs.alive(current):
        return current, False
    return procs.start(args, log, env), True


def _start_controller(st: LabState, port: int) -> None:
    logs = Path(st.log_dir)
    if st.controller is None or not procs.alive(st.controller):
        procs.run(["controller", "init", "--state-dir", st.controller_dir], logs / "controller-init.log")
        if st.controller_url:  # a restart keeps its URL: the agents were started with it
            port = int(st.controller_url.rsplit(":", 1)[1])
        port = _free_port(port)
        st.controller_url = f"http://127.0.0.1:{port}"
        args = [
            "controller",
            "serve",
            "--state-dir",
            st.controller_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        st.controller = procs.start(args, logs / "controller.log")
        st.save()
    procs.wait_ready(st.controller, procs.http_ready(f"{st.controller_url}/v1/health"), "controller", 60)


def switch_agent_takes_trunks() -> bool:
    """Whether `prewire switch-agent run` has a `--trunk PORT` option (spine links of a multi-ToR lab)."""
    try:
        from prewire.cli import switch_agent
    except ImportError:
        return False
    return "trunk" in inspect.signature(switch_agent.run).parameters


def _start_switch_agents(st: LabState) -> None:
    logs = Path(st.log_dir)
    trunks = switch_agent_takes_trunks()
    for sw in st.switches:
        args = ["switch-agent", "run", "--name", sw.name, "--bridge", sw.bridge, "--state-dir", sw.state_dir]
        if sw.trunk and trunks:
            args += ["--trunk", sw.trunk]
        sw.proc, _ = _ensure_proc(sw.proc, args, logs / f"switch-{sw.name}.log")
        st.save()
    for sw in st.switches:
        assert sw.proc is not None
        ready = procs.socket_ready(sw.socket, "health", _openflow_up)
        procs.wait_ready(sw.proc, ready, f"switch agent {sw.name}", 30)


def _openflow_up(health: Any) -> bool:
    """A switch agent is ready once its OpenFlow channel to the bridge is up (when it says so)."""
    extra = health.get("extra") if isinstance(health, dict) else None
    return not isinstance(extra, dict) or extra.get("openflow", True) is not False


def _register(st: LabState) -> None:
    token = st.admin_token()
    for sw in st.switches:
        if not sw.registered:
            registry.register_switch(st.controller_url, token, sw.name, sw.socket)
            sw.registered = True
    for srv in st.servers:
        if not srv.registered:
            registry.register_server(st.controller_url, token, srv.name, srv.switch, srv.switch_port)
            srv.registered = True
    st.save()


def _start_agents(st: LabState, pool_size: int | None, ports: int | None) -> None:
    logs = Path(st.log_dir)
    for srv in st.servers:
        Path(srv.runtime_dir).mkdir(parents=True, exist_ok=True)
        args = [
            "agent",
            "run",
            "--server",
            srv.name,
            "--bridge",
            srv.bridge,
            "--uplink",
            srv.uplink,
            "--state-dir",
            srv.state_dir,
            "--runtime-dir",
            srv.runtime_dir,
            "--controller",
            st.controller_url,
            "--token-file",
            st.admin_token_file,
        ]
        if pool_size is not None:
            args += ["--pool-size", str(pool_size)]
        if ports is not None:
            args += ["--ports", str(ports)]
        srv.proc, _ = _ensure_proc(srv.proc, args, logs / f"agent-{srv.name}.log", AGENT_ENV)
        st.save()
    for srv in st.servers:
        assert srv.proc is not None
        procs.wait_ready(srv.proc, procs.socket_ready(srv.socket, "status"), f"agent {srv.name}", 60)


__all__ = ["down", "switch_agent_takes_trunks", "up"]
