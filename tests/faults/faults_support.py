"""Helpers of the faults suite: sizes from the environment, controller processes, figures output."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PYTHON = str(Path(sys.executable))
SUMMARY_DIR = Path(tempfile.gettempdir()) / "prewire-faults"


def env_int(name: str, default: int) -> int:
    """A size parameter of the suite (e.g. PREWIRE_FAULTS_API_REQUESTS)."""
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(scenario: str, figures: dict[str, Any]) -> Path:
    """Print a scenario's figures and write them to <tmp>/prewire-faults/<scenario>.json."""
    SUMMARY_DIR.mkdir(parents=True, exist_ok=True)
    path = SUMMARY_DIR / f"{scenario}.json"
    text = json.dumps(figures, indent=2, sort_keys=True, default=str)
    path.write_text(text + "\n")
    print(f"\n[faults] {scenario}: {text}\n[faults] figures written to {path}")
    return path


class ControllerProc:
    """One `prewire controller serve` process on a loopback port; killed and restarted by PID."""

    def __init__(self, state_dir: Path, db_url: str | None = None, *extra: str) -> None:
        self.state_dir = state_dir
        self.db_url = db_url
        self.extra = list(extra)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir / "controller.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        return (self.state_dir / "admin.token").read_text().strip()

    def start(self, timeout: float = 90.0) -> None:
        """Spawn and wait until `GET /v1/health` answers 200."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"controller not healthy after {timeout}s: {self.tail()}")

    def spawn(self) -> None:
        """Start the process without waiting for it."""
        assert self.proc is None, "controller already running"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [PYTHON, "-m", "prewire", "controller", "serve", "--state-dir", str(self.state_dir)]
        cmd += ["--port", str(self.port), *self.extra]
        if self.db_url:
            cmd += ["--db-url", self.db_url]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL (no clean-up code runs), then reap."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def crashed_lines(self) -> list[str]:
        """Tracebacks / internal errors the controller logged."""
        text = self.tail(10_000_000)
        return [ln for ln in text.splitlines() if "Traceback" in ln or "internal error" in ln]


class Pinger:
    """`ping -D -i interval` from a container's netns to an IP, stopped by PID; the replies by sequence."""

    REPLY = re.compile(r"^\[(\d+\.\d+)\] .*icmp_seq=(\d+) ")

    def __init__(self, ns: str, ip: str, interval: float, count: int = 3000) -> None:
        cmd = ["ip", "netns", "exec", ns, "ping", "-n", "-D", "-i", str(interval), "-c", str(count), ip]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> dict[int, float]:
        """Sequence -> reply time (epoch seconds) of every answered echo."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, _err = self.proc.communicate(timeout=20)
        return {int(m[2]): float(m[1]) for m in map(self.REPLY.match, out.splitlines()) if m}
