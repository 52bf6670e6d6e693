"""Daemon handling by PID: start time check, readiness, SIGTERM then SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prewire.errors import Unavailable
from prewire.lab import procs
from prewire.lab.state import Proc


def _spawn(code: str, tmp_path: Path) -> Proc:
    popen = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    began = procs.start_time(popen.pid)
    assert began is not None
    return Proc(
        pid=popen.pid, start_time=began, argv=[sys.executable, "-c", code], log=str(tmp_path / "x.log")
    )


def test_python_argv_uses_this_interpreter_without_a_shim() -> None:
    assert procs.python_argv("agent", "run") == [sys.executable, "-m", "prewire", "agent", "run"]


def test_stop_terminates_and_a_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    proc = _spawn("import time; time.sleep(60)", tmp_path)
    assert procs.alive(proc)
    other = Proc(pid=proc.pid, start_time=proc.start_time + 1, argv=[], log="")
    assert not procs.alive(other)
    procs.stop(other)  # a different start time: never signalled
    assert procs.alive(proc)
    procs.stop(proc)
    assert not procs.alive(proc)
    procs.stop(proc)


def test_stop_falls_back_to_sigkill(tmp_path: Path) -> None:
    code = "import signal, time, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('x', flush=True); time.sleep(60)"
    proc = _spawn(code, tmp_path)
    procs.stop(proc, timeout=0.2)
    assert not procs.alive(proc)


def test_wait_ready_reports_a_dead_process_with_its_last_log_line(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text("starting\nboom: bad flag\n")
    proc = _spawn("pass", tmp_path)
    proc.log = str(log)
    with pytest.raises(Unavailable, match="boom: bad flag"):
        procs.wait_ready(proc, lambda: False, "demo daemon", timeout=30)


def test_wait_ready_returns_when_ready(tmp_path: Path) -> None:
    proc = _spawn("import time; time.sleep(60)", tmp_path)
    try:
        calls = iter([False, False, True])
        procs.wait_ready(proc, lambda: next(calls), "demo daemon", timeout=30)
    finally:
        procs.stop(proc)


def test_last_line_of_a_missing_log() -> None:
    assert procs.last_line("/nonexistent/prewire.log") == "no output"
