"""Lab containers on real Docker: `docker run --network none` with the prewire labels; the server's agent
(its Docker watcher) wires it, `run` waits for that through the agent socket.

Labels: `prewire.network=TENANT/NET`, `prewire.server=srvN` (which agent takes it: the lab's agents share one
dockerd and run with PREWIRE_DOCKER_REQUIRE_SERVER_LABEL=1), `prewire.lab=1` (so `lab down` removes it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from prewire.errors import Conflict, NotFound, Unavailable

NETWORK_LABEL = "prewire.network"
SERVER_LABEL = "prewire.server"
LAB_LABEL = "prewire.lab"


def available() -> bool:
    """True when the docker CLI exists and dockerd's socket is there (else the lab has no Docker containers)."""
    return shutil.which("docker") is not None and os.path.exists("/var/run/docker.sock")


def _docker(*args: str, timeout: float = 60.0) -> str:
    if shutil.which("docker") is None:
        raise Unavailable("docker CLI not found: run scripts/setup.sh (apt-get install docker.io)")
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"docker {args[0]} did not answer in {timeout:.0f} s; is dockerd running?") from exc
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        text = message[-1] if message else f"exit {done.returncode}"
        if "No such container" in text:
            raise NotFound(f"no docker container: {text}")
        if "already in use" in text:
            raise Conflict(f"docker: {text}")
        raise Unavailable(f"docker {args[0]} failed: {text}")
    return done.stdout.strip()


def lab_containers() -> dict[str, dict[str, str]]:
    """{name: {id, server, network}} of every Docker container the lab CLI started (running or not)."""
    out = _docker("ps", "-a", "--no-trunc", "--filter", f"label={LAB_LABEL}=1", "--format", "{{json .}}")
    found: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        row = json.loads(line)
        labels = dict(item.split("=", 1) for item in str(row.get("Labels", "")).split(",") if "=" in item)
        found[str(row["Names"])] = {
            "id": str(row["ID"]),
            "server": labels.get(SERVER_LABEL, ""),
            "network": labels.get(NETWORK_LABEL, ""),
            "state": str(row.get("State", "")),
        }
    return found


def start(name: str, network: str, server: str) -> str:
    """`docker run -d` a busybox container for `server`; returns its full id."""
    from prewire.runtime.images import ensure_docker_image

    labels = [f"{NETWORK_LABEL}={network}", f"{SERVER_LABEL}={server}", f"{LAB_LABEL}=1"]
    args = ["run", "-d", "--name", name, "--network", "none", "--ulimit", "nofile=20000:20000"]
    for label in labels:
        args += ["--label", label]
    return _docker(*args, ensure_docker_image(), "sleep", "1000000000")


def remove(name_or_id: str) -> None:
    _docker("rm", "-f", name_or_id)


def netns_pid(name: str) -> int:
    """The PID of the container's init (to enter its network namespace)."""
    pid = int(_docker("inspect", "-f", "{{.State.Pid}}", name) or 0)
    if pid <= 0:
        raise NotFound(f"docker container {name} is not running")
    return pid


def describe(name: str) -> dict[str, Any]:
    return dict(lab_containers().get(name) or {})
