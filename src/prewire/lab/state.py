"""The lab's state file `/run/prewire/lab/lab.json`: what `lab up` made and which processes it started.

Written atomically (temp file + rename) after every step of `lab up`, so that `lab down` and the sweep
know what to remove even when `lab up` died half-way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prewire.errors import InvalidInput

LAB_DIR = Path(os.environ.get("PREWIRE_LAB_DIR", "/run/prewire/lab"))
LOG_DIR = Path(os.environ.get("PREWIRE_LAB_LOG_DIR", "/var/log/prewire/lab"))  # kept after `lab down`
STATE_VERSION = 1


@dataclass
class Proc:
    """A daemon the lab started: its PID plus its start time (so a recycled PID is never signalled)."""

    pid: int
    start_time: int
    argv: list[str]
    log: str


@dataclass
class ServerState:
    name: str
    index: int
    bridge: str
    uplink: str
    switch: str
    switch_port: str
    pool_netns: str
    state_dir: str
    runtime_dir: str
    registered: bool = False
    proc: Proc | None = None

    @property
    def socket(self) -> str:
        return os.path.join(self.state_dir, "agent.sock")


@dataclass
class SwitchState:
    name: str
    index: int
    bridge: str
    state_dir: str
    trunk: str | None = None
    registered: bool = False
    proc: Proc | None = None

    @property
    def socket(self) -> str:
        return os.path.join(self.state_dir, "switch.sock")


@dataclass
class LabState:
    lab_dir: str
    log_dir: str = str(LOG_DIR)
    controller_url: str = ""
    admin_token_file: str = ""
    controller_dir: str = ""
    controller: Proc | None = None
    servers: list[ServerState] = field(default_factory=list)
    switches: list[SwitchState] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)  # made by the lab, in creation order
    veths: list[str] = field(default_factory=list)  # one end of each pair the lab made
    spine: str | None = None
    ready: bool = False
    version: int = STATE_VERSION

    @property
    def path(self) -> Path:
        return Path(self.lab_dir) / "lab.json"

    def procs(self) -> list[Proc]:
        """Every process, in stop order: agents, switch agents, controller."""
        found = [s.proc for s in self.servers] + [w.proc for w in self.switches] + [self.controller]
        return [p for p in found if p is not None]

    def server(self, name: str) -> ServerState:
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(s.name for s in self.servers) or "none"
        raise InvalidInput(f"unknown lab server {name!r}; lab servers: {known}")

    def switch(self, name: str) -> SwitchState:
        for switch in self.switches:
            if switch.name == name:
                return switch
        raise InvalidInput(f"unknown lab switch {name!r}")

    def admin_token(self) -> str:
        return Path(self.admin_token_file).read_text(encoding="utf-8").strip()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _proc(data: Any) -> Proc | None:
    return Proc(**data) if data else None


def load(lab_dir: Path | None = None) -> LabState | None:
    """The saved state, or None when no lab state exists (a corrupt file is an error)."""
    path = (lab_dir or LAB_DIR) / "lab.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"lab state {path} is unreadable ({exc}); run python -m prewire.lab.sweep"
        ) from exc
    try:
        servers = [ServerState(**{**s, "proc": _proc(s.get("proc"))}) for s in data.pop("servers", [])]
        switches = [SwitchState(**{**w, "proc": _proc(w.get("proc"))}) for w in data.pop("switches", [])]
        controller = _proc(data.pop("controller", None))
        return LabState(**data, servers=servers, switches=switches, controller=controller)
    except TypeError as exc:
        raise InvalidInput(
            f"lab state {path} has an unknown shape ({exc}); run python -m prewire.lab.sweep"
        ) from exc


@contextlib.contextmanager
def locked(lab_dir: Path | None = None) -> Iterator[None]:
    """Serialise `lab up` / `lab down` / sweep: an flock on the lab directory's parent (no lock file)."""
    lab_dir = lab_dir or LAB_DIR
    lab_dir.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lab_dir.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove(lab_dir: Path | None = None) -> None:
    """Delete the state file (the directory tree is removed by the caller)."""
    path = (lab_dir or LAB_DIR) / "lab.json"
    path.unlink(missing_ok=True)
