"""Daemons of the lab: started as `<venv python> -m prewire ...`, stopped by PID (SIGTERM, then SIGKILL).

A PID is only ever signalled when its kernel start time still matches the one recorded when the lab
started it, so a recycled PID belonging to someone else is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from prewire import jsonline
from prewire.errors import PrewireError, Unavailable
from prewire.lab.state import Proc


def python_argv(*args: str) -> list[str]:
    """The command line running `prewire args...` through this interpreter (no shell shim)."""
    return [sys.executable, "-m", "prewire", *args]


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(proc: Proc) -> bool:
    _reap(proc.pid)
    return start_time(proc.pid) == proc.start_time


def start(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    """Start `prewire args...` in its own session (extra `env` on top of ours), output to `log`."""
    argv = python_argv(*args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **env} if env else None,
            )
        except OSError as exc:
            raise Unavailable(f"cannot start {' '.join(args[:2])}: {exc}") from exc
    began = start_time(popen.pid)
    return Proc(pid=popen.pid, start_time=began if began is not None else -1, argv=argv, log=str(log))


def run(args: Sequence[str], log: Path, timeout: float = 60.0) -> None:
    """Run `prewire args...` to completion; a non-zero exit raises with the last line of its output."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        done = subprocess.run(
            python_argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise Unavailable(f"`prewire {' '.join(args[:2])}` failed: {last_line(log)} (log {log})")


def last_line(log: Path | str) -> str:
    """The last meaningful line of a log (rich/typer box borders skipped)."""
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no output"
    for line in reversed(text.splitlines()):
        cleaned = line.strip().strip("│╭╮╰╯─ ").strip()
        if any(ch.isalnum() for ch in cleaned):
            return cleaned
    return "no output"


def wait_ready(proc: Proc, ready: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `ready` until it is true; raise if the process died or the time ran out."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if ready():
            return
        if not alive(proc):
            raise Unavailable(f"{what} exited during start-up: {last_line(proc.log)} (log {proc.log})")
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} not ready after {timeout:.0f} s (log {proc.log})")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def socket_ready(path: str, op: str, accept: Callable[[Any], bool] | None = None) -> Callable[[], bool]:
    """Ready when `op` on the JSON-lines socket answers (and `accept` likes the answer)."""

    def check() -> bool:
        if not os.path.exists(path):
            return False
        try:
            reply = jsonline.call(path, op, timeout=2.0)
        except (PrewireError, OSError, ValueError):
            return False
        return accept is None or accept(reply)

    return check


def stop(proc: Proc, timeout: float = 5.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; a process that is already gone is fine."""
    stop_all([proc], timeout)


def stop_all(group: Sequence[Proc], timeout: float = 5.0) -> None:
    """Stop several processes at once: SIGTERM to all, wait up to `timeout`, SIGKILL the rest."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        running = [p for p in group if alive(p)]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
        deadline = time.monotonic() + wait
        while any(alive(p) for p in running) and time.monotonic() < deadline:
            time.sleep(0.02)
    left = [p for p in group if alive(p)]
    if left:
        raise Unavailable(f"process(es) {', '.join(str(p.pid) for p in left)} survived SIGKILL")
