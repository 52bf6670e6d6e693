"""ADD/DEL wall time of `prewire` vs the reference `bridge` plugin (containernetworking-plugins), side by
side in one run, plus the shim's start time.  Prints the figures; asserts only correctness.

    PWXCNI_CALLS=200 .venv/bin/pytest -s tests/integration/cni/test_cni_timing.py
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.agent import nl
from prewire.measure.stats import summary
from tests.integration.cni.pwxcni_env import Plugin, leftovers, make_netns, real_agent

pytestmark = pytest.mark.root
REFERENCE_DIR = "/usr/lib/cni"
CALLS = int(os.environ.get("PWXCNI_CALLS", "20"))
BRIDGE = "pwxcnibr0"


def timed(
    exe: str, env: dict[str, str], conf: dict[str, Any]
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    start = time.perf_counter()
    done = subprocess.run([exe], input=json.dumps(conf).encode(), env=env, capture_output=True, check=False)
    return (time.perf_counter() - start) * 1000.0, done


def test_add_del_side_by_side_with_the_bridge_plugin(tmp_path: Path) -> None:
    if not os.access(f"{REFERENCE_DIR}/bridge", os.X_OK):
        pytest.skip("containernetworking-plugins not installed (apt-get install containernetworking-plugins)")
    reference = {
        "cniVersion": "1.0.0",
        "name": "pwxcnibr",
        "type": "bridge",
        "bridge": BRIDGE,
        "ipam": {"type": "host-local", "subnet": "10.232.0.0/16", "dataDir": str(tmp_path / "ipam")},
    }
    times: dict[str, list[float]] = {
        k: [] for k in ("prewire ADD", "prewire DEL", "bridge ADD", "bridge DEL", "prewire VERSION (start)")
    }
    try:
        with real_agent(tmp_path, ports=16, pool=16) as agent:
            cni = Plugin(tmp_path / "bin", agent.socket)
            for i in range(CALLS):
                path = make_netns(f"pwxcni-t{i % 4}")
                for name, exe, conf, cni_path in (
                    ("prewire", str(cni.exe), cni.conf("1.0.0"), str(cni.exe.parent)),
                    ("bridge", f"{REFERENCE_DIR}/bridge", reference, REFERENCE_DIR),
                ):
                    env = {
                        "CNI_CONTAINERID": f"pwxcni-t{i}-{name}",
                        "CNI_NETNS": path,
                        "CNI_PATH": cni_path,
                        "CNI_IFNAME": "eth0" if name == "prewire" else "eth1",
                    }
                    ms, done = timed(exe, env | {"CNI_COMMAND": "ADD"}, conf)
                    assert done.returncode == 0, done.stdout + done.stderr
                    times[f"{name} ADD"].append(ms)
                    ms, done = timed(exe, env | {"CNI_COMMAND": "DEL"}, conf)
                    assert done.returncode == 0, done.stdout + done.stderr
                    times[f"{name} DEL"].append(ms)
                ms, done = timed(str(cni.exe), {"CNI_COMMAND": "VERSION"}, {"cniVersion": "1.1.0"})
                assert done.returncode == 0
                times["prewire VERSION (start)"].append(ms)
                nl.remove_netns(f"pwxcni-t{i % 4}")
            hot_path = jsonline.call(agent.socket, "status")["hot_path_ms"]
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
    assert leftovers() == []
    print(f"\nCNI wall time over {CALLS} calls each (ms):")
    for what, values in times.items():
        s = summary(values)
        print(f"  {what:26s} p50 {s['p50']:7.2f}  p99 {s['p99']:7.2f}  max {s['max']:7.2f}")
    print(f"  agent hot path (inside prewire ADD): {json.dumps(hot_path)}")
