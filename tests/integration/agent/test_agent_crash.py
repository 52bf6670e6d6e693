"""`prewire agent run` as a real process: kill -9 in the middle of a burst, restart, converge, no leak."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.agent.state import Store
from tests.integration.agent.pwxag_env import Env, addr_of, envs, profiles, sh

pytestmark = pytest.mark.root
NET = "acme/web"
N = int(os.environ.get("PWXAG_CRASH_N", "24"))  # containers in the burst (kill -9 at the middle)


def start(env: Env, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "prewire",
        "agent",
        "run",
        "--server",
        "srvx6",
        "--bridge",
        env.bridge,
        "--uplink",
        env.uplink,
        "--state-dir",
        env.state_dir,
        "--runtime-dir",
        env.runtime_dir,
        "--ports",
        "8",
        "--tag",
        "6",
        "--prefix",
        "pwxag",
        "--no-docker",
        "--log-level",
        "DEBUG",
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    until(lambda: _status(env) is not None, 30, proc)
    print(f"agent up in {time.monotonic() - t0:.2f}s")
    return proc


def _status(env: Env) -> Any:
    try:
        return jsonline.call(os.path.join(env.state_dir, "agent.sock"), "status", timeout=5)
    except Exception:
        return None


def until(predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"agent exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill9_mid_burst_then_restart_converges(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    with envs(tmp_path, 6) as (env,):
        store = Store(env.state_dir)  # controller-less: profiles pre-seeded into the local pool
        total = max(40, N + 16)
        store.log({"op": "add", "profiles": profiles(NET, 106, 6, total)})
        store.close()
        proc = start(env, log)
        try:
            names = [f"k{i}" for i in range(N)]
            for i, name in enumerate(names):
                env.container(name, NET)
                if i == N // 2 - 1:
                    proc.send_signal(signal.SIGKILL)  # mid-burst: some wired, some in flight
                    proc.wait()
            gone = names[:3] + names[N - 4 :]  # stopped while the agent was dead
            for name in gone:
                env.remove(name)
            alive = [n for n in names if n not in gone]
            proc = start(env, log)
            sock = os.path.join(env.state_dir, "agent.sock")
            t0 = time.monotonic()
            with jsonline.Client(sock, timeout=60) as client:
                for name in alive:
                    client.call("wait", container=name, timeout=30)
            until(lambda: _status(env)["bindings"] == len(alive), 20, proc)
            print(f"converged in {time.monotonic() - t0:.2f}s")
            bindings = jsonline.call(sock, "list")["bindings"]
            assert sorted(b["container"] for b in bindings) == sorted(alive)
            macs = collections.Counter(b["mac"] for b in bindings)
            ips = collections.Counter(b["ip"] for b in bindings)
            assert max(macs.values()) == 1 and max(ips.values()) == 1
            for binding in bindings:
                eth0 = addr_of(env.ct_prefix + binding["container"])
                assert eth0 is not None and eth0["address"] == binding["mac"]
            status = _status(env)
            assert status["profiles_free"][NET] == total - len(alive)
            for name in alive:
                env.remove(name)
            until(lambda: _status(env)["bindings"] == 0, 20, proc)
            status = _status(env)
            assert status["profiles_free"][NET] == total and status["ports_free"] == status["ports_total"]
            pool_links = sh("ip", "-n", "pwxagpool6", "-o", "link").splitlines()
            assert len(pool_links) == status["ports_total"] + 1  # the container ends (+ lo), nothing else
        finally:
            stop(proc)
            print(log.read_text()[-3000:])
