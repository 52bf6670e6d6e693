"""Measured (not asserted): first frame of a pre-distributed MAC -> VLAN admitted on the ToR port,
over 200 MACs, and the time to load 1,000 profiles.  Run with -s to see the figures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire.measure.stats import summary
from tests.integration.switchagent.pwxsw_agent import AgentProcess, wait_for
from tests.integration.switchagent.pwxsw_fabric import Fabric, leftovers

pytestmark = pytest.mark.root
N = 200

# Sends one 802.1Q-tagged broadcast per source MAC on eth0 (spaced), prints {mac: CLOCK_MONOTONIC at send}.
SENDER = """
import json, socket, struct, sys, time
n, gap = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
sent = {}
for i in range(n):
    mac = "02:5c:00:00:%02x:%02x" % (i >> 8, i & 255)
    src = bytes(int(x, 16) for x in mac.split(":"))
    frame = b"\\xff" * 6 + src + struct.pack("!HHH", 0x8100, 100, 0x88B6) + bytes(46)
    sent[mac] = time.monotonic()
    s.send(frame)
    time.sleep(gap)
print(json.dumps(sent))
"""


@pytest.fixture
def tor(tmp_path: Path) -> Iterator[tuple[Fabric, AgentProcess]]:
    fab = Fabric("l")
    agent: AgentProcess | None = None
    try:
        bridge = fab.bridge("t0")
        fab.container("src", bridge, "02:5c:ff:ff:ff:01", "")  # a raw "server uplink" on a ToR port
        agent = AgentProcess(bridge, str(tmp_path / "tor"))
        agent.start()
        yield fab, agent
    finally:
        if agent is not None:
            agent.kill()
        fab.cleanup()
    assert leftovers("pwxswl") == []


def test_first_frame_to_admission_and_profile_load(tor: tuple[Fabric, AgentProcess]) -> None:
    fab, agent = tor
    profiles = [{"mac": f"02:5c:00:00:{i >> 8:02x}:{i & 255:02x}", "vlan": 100 + i % 50} for i in range(1000)]
    # the first N MACs are on VLAN 100 for the frame test
    for i in range(N):
        profiles[i]["vlan"] = 100
    t0 = time.perf_counter()
    agent.call("load", profiles=profiles)
    load_ms = (time.perf_counter() - t0) * 1000
    assert len(agent.call("held")) == 1000

    out = subprocess.run(
        ["ip", "netns", "exec", fab.netns("src"), sys.executable, "-c", SENDER, str(N), "0.005"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sent: dict[str, float] = json.loads(out)
    assert wait_for(lambda: len(agent.call("stats", log=True)["admit_log"]) >= N, timeout=30)
    stats = agent.call("stats", log=True)
    installed = {mac: t_done for mac, _t_in, t_done in stats["admit_log"]}
    first_frame_ms = [(installed[mac] - t) * 1000 for mac, t in sent.items()]
    agent_ms = [us / 1000 for us in stats["admit_us"]]
    assert len(first_frame_ms) == N and len(agent.call("active")) == N
    report = {
        "load_1000_profiles_ms": round(load_ms, 2),
        "first_frame_to_admission_ms": {k: round(v, 3) for k, v in summary(first_frame_ms).items()},
        "packet_in_to_flow_installed_ms": {k: round(v, 3) for k, v in summary(agent_ms).items()},
    }
    print("\nswitch agent figures:", json.dumps(report))
