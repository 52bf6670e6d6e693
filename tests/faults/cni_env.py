"""A real agent for the hostile-CNI test: controller + OVS bridge `pwxfcb0` + uplink veth
`pwxfcu0`/`pwxfcv0` + `prewire agent run` (ports `pwxfch0x<n>`, pool netns `pwxfcpool0`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from pyroute2 import IPRoute

from prewire import jsonline
from prewire.agent import nl
from prewire.ovs import Ovsdb
from tests.faults.faults_support import PYTHON, ControllerProc

PREFIX = "pwxfc"
BRIDGE, UPLINK, PEER = f"{PREFIX}b0", f"{PREFIX}u0", f"{PREFIX}v0"
SERVER, TENANT = "pwxfa-cni", "pwxfa-cni"
NETWORK = f"{TENANT}/net1"


def ours() -> list[str]:
    """Every kernel object and bridge with our prefix (links, netns, OVS bridges)."""
    found: list[str] = []
    with contextlib.suppress(FileNotFoundError):
        found += [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith(PREFIX)]
    with nl.Rtnl() as root:
        found += [f"link {link.name}" for link in root.links() if link.name.startswith(PREFIX)]
    return found + [f"bridge {b}" for b in Ovsdb().list_bridges() if b.startswith(PREFIX)]


class AgentEnv:
    """Set up, run and tear down one agent; everything it made is removed at teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ctl = ControllerProc(tmp / "ctl")
        self.state_dir = tmp / "agent"
        self.socket = str(self.state_dir / "agent.sock")
        self.proc: subprocess.Popen[bytes] | None = None
        self.db = Ovsdb()

    def setup(self) -> None:
        self.teardown_kernel()  # leftovers of a crashed earlier run
        self.ctl.start()
        headers = {"Authorization": f"Bearer {self.ctl.admin_token}"}
        with httpx.Client(base_url=self.ctl.url, headers=headers, timeout=60) as http:
            http.post("/v1/tenants", json={"name": TENANT}).raise_for_status()
            net = {"tenant": TENANT, "name": "net1", "subnet": "10.95.0.0/24"}
            http.post("/v1/networks", json=net).raise_for_status()
            http.post("/v1/servers", json={"name": SERVER}).raise_for_status()
        self.db.add_bridge(BRIDGE)
        with IPRoute() as ipr:
            ipr.link("add", ifname=UPLINK, kind="veth", peer=PEER)
            for name in (UPLINK, PEER):
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        self.db.add_ports(BRIDGE, [UPLINK])
        self.start_agent()

    def start_agent(self, timeout: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [PYTHON, "-m", "prewire", "agent", "run", "--server", SERVER, "--bridge", BRIDGE, "--uplink", UPLINK,
               "--state-dir", str(self.state_dir), "--controller", self.ctl.url,
               "--token-file", str(self.ctl.state_dir / "admin.token"), "--pool-size", "8", "--ports", "4",
               "--prefix", PREFIX, "--tag", "0", "--no-docker"]  # fmt: skip
        with open(self.tmp / "agent.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(Exception):
                self.call("status")
                return
            time.sleep(0.2)
        raise RuntimeError(f"agent not ready after {timeout}s: {self.log_tail()}")

    def call(self, op: str, **params: Any) -> Any:
        return jsonline.call(self.socket, op, timeout=30.0, **params)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return (self.tmp / "agent.log").read_text(errors="replace")[-n:]
        return ""

    def stop_agent(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        self.proc = None

    def teardown_kernel(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir("/run/netns"):
                if name.startswith(PREFIX):
                    nl.remove_netns(name)
        if BRIDGE in self.db.list_bridges():
            self.db.del_bridge(BRIDGE)
        with nl.Rtnl() as root:
            names = [link.name for link in root.links() if link.name.startswith(PREFIX)]
            if names:
                root.del_links(names)

    def teardown(self) -> None:
        try:
            self.stop_agent()
            self.ctl.stop()
        finally:
            self.teardown_kernel()
