"""The lab netns runtime, both sides.

Runtime side (`prewire container run --runtime netns`): a container is a network namespace `pwct-<name>`
held by a keeper process (`sleep infinity`, started directly inside a fresh netns), recorded atomically as
`<runtime dir>/<name>.json` {name, network, netns, pid, start_time}.

Agent side (`NetnsWatcher`): inotify on the runtime dir sees records appear and disappear; a pidfd per
keeper (asyncio add_reader) sees the keeper exit.  Each start/stop enters the agent's one wire/release path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import time
from typing import TYPE_CHECKING, Any

from prewire.agent import nl
from prewire.agent.timings import Timer
from prewire.errors import Conflict, InvalidInput, KernelError, NotFound

if TYPE_CHECKING:
    from prewire.agent.core import Agent

log = logging.getLogger("prewire.runtime.netns")
NETNS_PREFIX = "pwct-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_libc = ctypes.CDLL(None, use_errno=True)


def start_time(pid: int) -> int | None:
    """The kernel start time of `pid` (tells a reused PID apart); None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _record_path(runtime_dir: str, name: str) -> str:
    return os.path.join(runtime_dir, f"{name}.json")


def read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def create_container(runtime_dir: str, name: str, network: str, prefix: str = NETNS_PREFIX) -> dict[str, Any]:
    """Create netns `<prefix><name>` with a keeper and publish its record; returns the record."""
    if not _NAME.match(name):
        raise InvalidInput(f"container name {name!r} must be 1-63 letters, digits, '_', '.', '-'")
    os.makedirs(runtime_dir, exist_ok=True)
    path, netns = _record_path(runtime_dir, name), prefix + name
    if os.path.exists(path) or os.path.exists(nl.netns_path(netns)):
        raise Conflict(f"container {name} already exists; remove it first (prewire container rm {name})")

    def enter_new_netns() -> None:
        if _libc.unshare(nl.CLONE_NEWNET) != 0:
            os._exit(127)

    sleep = shutil.which("sleep") or "/bin/sleep"
    keeper = subprocess.Popen(
        [sleep, "infinity"],
        preexec_fn=enter_new_netns,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        nspath = nl.netns_path(netns)
        os.makedirs(os.path.dirname(nspath), exist_ok=True)
        os.close(os.open(nspath, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
        if _libc.mount(f"/proc/{keeper.pid}/ns/net".encode(), nspath.encode(), b"none", nl.MS_BIND, None):
            raise KernelError(f"cannot bind-mount netns {netns}: {os.strerror(ctypes.get_errno())}")
        with nl.Rtnl(netns) as ns:
            ns.call([(nl.RTM_NEWLINK, 0, nl.Rtnl.set_link_body(1, up=True))], f"lo up in {netns}")
        record = {
            "name": name,
            "network": network,
            "netns": netns,
            "pid": keeper.pid,
            "start_time": start_time(keeper.pid),
            "created_unix": time.time(),
        }
        tmp = os.path.join(runtime_dir, f".{name}.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(record, fh)
        os.rename(tmp, path)
        keeper.returncode = 0  # detached: do not let Popen's finaliser warn; remove_container reaps it
        return record
    except BaseException:
        _kill(keeper.pid, None)
        nl.remove_netns(netns)
        raise


def _kill(pid: int, started: int | None) -> None:
    if started is not None and start_time(pid) != started:
        return  # the keeper is gone and the PID was reused: not ours
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reap it when it is our child
        os.waitpid(pid, 0)


def stop_container(runtime_dir: str, name: str) -> bool:
    """Stop the container (its keeper exits) but keep its record and netns until `remove_container`."""
    record = read_record(_record_path(runtime_dir, name))
    if record is None or not isinstance(record.get("pid"), int):
        return False
    _kill(record["pid"], record.get("start_time"))
    return True


def remove_container(runtime_dir: str, name: str, prefix: str = NETNS_PREFIX) -> bool:
    """Remove the record, the netns and the keeper (in that order: the agent sees the netns gone)."""
    path = _record_path(runtime_dir, name)
    record = read_record(path)
    netns = (record or {}).get("netns") or prefix + name
    if record is None and not os.path.exists(nl.netns_path(netns)):
        raise NotFound(f"container {name} does not exist in {runtime_dir}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    nl.remove_netns(netns)
    if record is not None and isinstance(record.get("pid"), int):
        _kill(record["pid"], record.get("start_time"))
    return True


def list_containers(runtime_dir: str) -> list[dict[str, Any]]:
    records = []
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted(os.listdir(runtime_dir)):
            if entry.endswith(".json") and not entry.startswith("."):
                record = read_record(os.path.join(runtime_dir, entry))
                if record is not None:
                    record["alive"] = start_time(int(record.get("pid", 0))) == record.get("start_time")
                    records.append(record)
    return records


# -- agent side ----------------------------------------------------------------------------------------
IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_DELETE, IN_Q_OVERFLOW = 0x8, 0x40, 0x80, 0x200, 0x4000
_EVENT = struct.Struct("=iIII")


class NetnsWatcher:
    """Wires lab netns containers when their record appears; releases when the keeper exits or the record
    disappears."""

    source = "netns"

    def __init__(self, agent: Agent, runtime_dir: str) -> None:
        self.agent = agent
        self.runtime_dir = runtime_dir
        self._fd = -1
        self._pidfds: dict[str, tuple[int, int]] = {}  # name -> (pid, pidfd)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        os.makedirs(self.runtime_dir, exist_ok=True)
        self._fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE
        if self._fd < 0 or _libc.inotify_add_watch(self._fd, self.runtime_dir.encode(), mask) < 0:
            raise KernelError(f"cannot watch {self.runtime_dir}: {os.strerror(ctypes.get_errno())}")
        asyncio.get_running_loop().add_reader(self._fd, self._on_inotify)
        self.rescan()

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._fd >= 0:
            loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        for name in list(self._pidfds):
            self._forget(name)
        for task in list(self._tasks):
            task.cancel()

    def alive(self, container: str) -> bool | None:
        return container in self._pidfds

    def rescan(self) -> None:
        for entry in sorted(os.listdir(self.runtime_dir)):
            if entry.endswith(".json") and not entry.startswith("."):
                self._appeared(entry[: -len(".json")], Timer())
        present = {e[: -len(".json")] for e in os.listdir(self.runtime_dir) if e.endswith(".json")}
        for name in list(self._pidfds):
            if name not in present:
                self._stopped(name)

    def _on_inotify(self) -> None:
        timer = Timer()
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return
        pos = 0
        while pos + _EVENT.size <= len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
            raw = data[pos + _EVENT.size : pos + _EVENT.size + length]
            pos += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                self.rescan()
                continue
            entry = raw.rstrip(b"\0").decode(errors="replace")
            if not entry.endswith(".json") or entry.startswith("."):
                continue
            name = entry[: -len(".json")]
            if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                self._appeared(name, timer)
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                self._stopped(name)

    def _appeared(self, name: str, timer: Timer) -> None:
        record = read_record(_record_path(self.runtime_dir, name))
        if record is None or not isinstance(record.get("pid"), int):
            return
        pid = record["pid"]
        if name in self._pidfds:
            if self._pidfds[name][0] == pid:
                return
            self._stopped(name)
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = -1
        if pidfd < 0 or start_time(pid) != record.get("start_time"):
            if pidfd >= 0:
                os.close(pidfd)
            log.info("container %s: keeper %d is not running; releasing", name, pid)
            self._spawn(self.agent.release(name))
            return
        self._pidfds[name] = (pid, pidfd)
        asyncio.get_running_loop().add_reader(pidfd, self._stopped, name)
        network = str(record.get("network") or "")
        netns = str(record.get("netns") or NETNS_PREFIX + name)
        self._spawn(self.agent.wire(network, name, "eth0", netns, self.source, timer))

    def _forget(self, name: str) -> None:
        entry = self._pidfds.pop(name, None)
        if entry is not None:
            asyncio.get_running_loop().remove_reader(entry[1])
            os.close(entry[1])

    def _stopped(self, name: str) -> None:
        if name in self._pidfds:
            self._forget(name)
        self._spawn(self.agent.release(name))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("netns runtime: %s", task.exception())
