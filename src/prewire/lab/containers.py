"""Lab containers on the netns runtime: placement, run, remove, list (the CLI translates these).

A container is a record `<runtime dir of its server>/NAME.json` plus netns `pwct-NAME` with a keeper
process, made by `prewire.runtime.netns`; the server's agent wires it on its own, and `run` waits for that
through the agent socket (`wait`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

from prewire import jsonline
from prewire.errors import Conflict, InvalidInput, NotFound, PrewireError, Unavailable
from prewire.lab import dockerrt, topology
from prewire.lab.state import LabState, ServerState

RUNTIMES = ("netns", "docker", "podman")


def records(server: ServerState) -> dict[str, dict[str, Any]]:
    """{container name: runtime record} of the containers placed on `server`."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(server.runtime_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found[str(data.get("name", path.stem))] = data
    return found


def place(st: LabState, extra: dict[str, int] | None = None) -> ServerState:
    """The least-loaded server (fewest containers; first by index on a tie)."""
    extra = extra or {}
    return min(st.servers, key=lambda s: (len(records(s)) + extra.get(s.name, 0), s.index))


def find(st: LabState, name: str) -> ServerState:
    for server in st.servers:
        if (Path(server.runtime_dir) / f"{name}.json").exists():
            return server
    raise NotFound(f"no lab container {name!r}; see `prewire container list`")


def _runtime() -> Any:
    try:
        return importlib.import_module("prewire.runtime.netns")
    except ImportError as exc:
        raise Unavailable("the netns runtime (prewire.runtime.netns) is not installed") from exc


def run(
    st: LabState,
    name: str,
    network: str,
    server: str | None = None,
    runtime: str = "netns",
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Start container `name` on `network` ("tenant/net") and return its wiring once the agent is done."""
    topology.check_container_name(name)
    if runtime not in RUNTIMES:
        raise InvalidInput(f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    if runtime == "podman":
        raise Unavailable("runtime podman is not available in the lab CLI yet; use --runtime netns or docker")
    if network.count("/") != 1 or not all(network.split("/")):
        raise InvalidInput(f"invalid network {network!r}; use TENANT/NET")
    for srv in st.servers:
        if name in records(srv):
            raise Conflict(f"container {name} already runs on {srv.name}; remove it first (container rm)")
    docker: dict[str, dict[str, str]] = dockerrt.lab_containers() if runtime == "docker" else {}
    if name in docker:
        raise Conflict(f"docker container {name} exists; remove it first (container rm {name})")
    load: dict[str, int] = {}
    for row in docker.values():
        load[row["server"]] = load.get(row["server"], 0) + 1
    target = st.server(server) if server else place(st, load)
    began = time.perf_counter()
    if runtime == "docker":
        key = dockerrt.start(name, network, target.name)
        undo = partial(dockerrt.remove, key)
    else:
        _runtime().create_container(target.runtime_dir, name, network)
        key, undo = name, partial(_runtime().remove_container, target.runtime_dir, name)
    try:
        with jsonline.Client(target.socket, timeout=timeout + 5) as agent:
            wired = agent.call("wait", container=key, timeout=timeout)
    except PrewireError:
        with contextlib.suppress(PrewireError, OSError):
            undo()
        raise
    ready = time.perf_counter() - began
    result = dict(wired) if isinstance(wired, dict) else {"result": wired}
    result.update(
        name=name,
        server=target.name,
        switch=target.switch,
        switch_port=target.switch_port,
        runtime=runtime,
        ready_s=round(ready, 6),
    )
    return result


def rm(st: LabState, name: str) -> str:
    """Stop container `name` and have its agent release it; returns the server it ran on."""
    try:
        server, key = find(st, name), name
        _runtime().remove_container(server.runtime_dir, name)
    except NotFound:
        row = dockerrt.describe(name) if dockerrt.available() else {}
        if not row:
            raise
        server, key = st.server(row["server"]), row["id"]
        dockerrt.remove(key)
    with contextlib.suppress(Unavailable):
        jsonline.call(server.socket, "release", timeout=30, container=key, ifname="eth0")
    return server.name


def listing(st: LabState) -> list[dict[str, Any]]:
    """Every lab container (netns and docker) with its record and, where the agent answers, its wiring."""
    docker: dict[str, dict[str, str]] = {}
    if dockerrt.available():
        with contextlib.suppress(PrewireError, ValueError):  # dockerd down: list the netns containers
            docker = dockerrt.lab_containers()
    rows: list[dict[str, Any]] = []
    for server in st.servers:
        wired: dict[str, Any] = {}
        with contextlib.suppress(PrewireError, OSError):
            reply = jsonline.call(server.socket, "list", timeout=5)
            items = reply.get("bindings", []) if isinstance(reply, dict) else reply
            for item in items or []:
                if isinstance(item, dict) and "container" in item:
                    wired[str(item["container"])] = item
        for name, rec in records(server).items():
            rows.append(
                {"name": name, "server": server.name, "runtime": "netns", **rec, **wired.get(name, {})}
            )
        for name, row in docker.items():
            if row["server"] == server.name:
                rows.append(
                    {
                        "name": name,
                        "server": server.name,
                        "runtime": "docker",
                        **row,
                        **wired.get(row["id"], {}),
                    }
                )
    return rows


def _keeper_in(netns: str, pid: int) -> bool:
    """True if `pid` lives in network namespace `netns` (so signalling it hits the keeper only)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


def remove_docker() -> None:
    """Remove every Docker container the lab CLI started (used by `lab down`)."""
    if not dockerrt.available():
        return
    try:
        rows = dockerrt.lab_containers()
    except (PrewireError, ValueError):
        return  # dockerd not answering: nothing of ours can run there; the sweep retries later
    for row in rows.values():
        with contextlib.suppress(PrewireError):
            dockerrt.remove(row["id"])


def remove_all(server: ServerState) -> None:
    """Remove every container of `server` (used by `lab down`; the agent may already be stopped)."""
    from prewire.lab import kernel

    runtime: Any = None
    with contextlib.suppress(Unavailable):
        runtime = _runtime()
    for name, rec in records(server).items():
        netns = str(rec.get("netns") or topology.container_netns(name))
        if runtime is not None:
            with contextlib.suppress(PrewireError, OSError):
                runtime.remove_container(server.runtime_dir, name)
        pid = rec.get("pid")
        if isinstance(pid, int) and _keeper_in(netns, pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kernel.remove_netns(netns)
        (Path(server.runtime_dir) / f"{name}.json").unlink(missing_ok=True)
