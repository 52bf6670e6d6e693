"""Run a real `prewire switch-agent` process for tests and talk to its socket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from prewire import jsonline
from prewire.errors import PrewireError


class AgentProcess:
    def __init__(self, bridge: str, state_dir: str, ageing: int = 300, trunks: tuple[str, ...] = ()) -> None:
        self.bridge = bridge
        self.trunks = trunks
        self.state_dir = state_dir
        self.ageing = ageing
        self.sock = os.path.join(state_dir, "switch.sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "prewire",
            "switch-agent",
            "run",
            "--name",
            "pwxswtor",
            "--bridge",
            self.bridge,
            "--state-dir",
            self.state_dir,
            "--ageing",
            str(self.ageing),
        ]
        for trunk in self.trunks:
            cmd += ["--trunk", trunk]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.call("health")["extra"]["openflow"]:
                    return
            except PrewireError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"switch agent exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("switch agent did not connect to its bridge")

    def call(self, op: str, **params: Any) -> Any:
        return jsonline.call(self.sock, op, timeout=10, **params)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def active(self) -> set[tuple[str, str, int]]:
        return {(a["port"], a["mac"], a["vlan"]) for a in self.call("active")}


def flood_ports(bridge: str, vlan: int) -> list[int]:
    """Output ports of the ToR's flood flow for `vlan` ([] when pruned everywhere), read with ovs-ofctl."""
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows", bridge, f"table=1,dl_vlan={vlan}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if "priority=10," in line and "actions=" in line:
            actions = line.split("actions=", 1)[1]
            return sorted(int(a.split(":")[1]) for a in actions.split(",") if a.startswith("output:"))
    return []


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
