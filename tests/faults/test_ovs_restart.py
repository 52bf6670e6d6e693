"""Scenario 3, OVS half: ovs-vswitchd and ovsdb-server are killed (-9) and started again while containers ping
across the ToR and on one server.  Every flow is lost with them (nothing saved, nothing restored by OVS):
the agents' vswitches and the switch agent must put the ports' VLANs and the admissions back by themselves.

Figures: time from OVS start to the first echo reply and until every flow is back, echoes lost.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from typing import Any

import pytest

from prewire import jsonline
from prewire.demo import scenario
from prewire.lab.state import LabState
from tests.faults import labkit
from tests.faults.faults_support import Pinger, report
from tests.faults.labkit import lab  # noqa: F401  (fixture)

pytestmark = [pytest.mark.faults, pytest.mark.root]
INTERVAL = 0.05
PATIENCE = 60.0
LOSS_ALLOWED = 2  # echoes lost after recovery that still count as "traffic resumed"


def active(st: LabState) -> set[tuple[str, str, int]]:
    return {
        (a["port"], a["mac"], a["vlan"])
        for sw in st.switches
        for a in jsonline.call(sw.socket, "active", timeout=30)
    }


def gap_after(replies: dict[int, float], t: float) -> tuple[float, float]:
    """The longest silence between two replies that ends after `t`, and when it started."""
    times = [replies[s] for s in sorted(replies)]
    gaps = [(b - a, a) for a, b in itertools.pairwise(times) if b > t]
    return max(gaps, default=(0.0, t))


@pytest.mark.servers(2)
def test_ovs_restart_under_traffic(lab: LabState) -> None:  # noqa: F811
    networks = scenario.create_networks(lab)
    scenario.predistribute(lab, networks, 8)
    # plan(): i -> networks[i % 2] on servers[(i // 2) % 2]: 0, 2 and 4 share a network on servers 0, 1, 0
    started, _ = scenario.burst(lab, scenario.plan(6, lab, networks, prefix="ovr"))
    assert [s.error for s in started if s.error] == []
    a, b, c = started[0], started[2], started[4]
    assert a.network == b.network == c.network and a.server == c.server != b.server
    bridges = [s.bridge for s in lab.servers]
    before = {br: labkit.flows(br) for br in bridges}
    assert all(before.values())
    held = [jsonline.call(sw.socket, "held", timeout=30) for sw in lab.switches]
    macs = {s.mac for s in started}  # admitted on their announcement, which nobody waits for
    labkit.wait_for(lambda: macs <= {mac for _p, mac, _v in active(lab)}, PATIENCE, "admissions", 0.05)
    admitted = active(lab)

    across, local = Pinger(a.netns, b.ip, INTERVAL), Pinger(a.netns, c.ip, INTERVAL)
    try:
        time.sleep(1.0)  # steady traffic first
        t_kill = time.time()
        labkit.kill9_ovs()
        t_start = time.time()
        labkit.start_ovs()
        t_up = time.time()
        labkit.wait_for(
            lambda: all(labkit.flows(br) == before[br] for br in bridges), PATIENCE, "server flows back"
        )
        t_flows = time.time()
        labkit.wait_for(lambda: admitted <= active(lab), PATIENCE, "admissions back", 0.05)
        t_admitted = time.time()
        time.sleep(2.0)  # traffic after the recovery
    finally:
        replies = {"across the ToR": across.stop(), "same server": local.stop()}

    figures: dict[str, Any] = {
        "ping_interval_s": INTERVAL,
        "ovs_killed_to_started_s": round(t_start - t_kill, 3),
        "ovs_start_s (scripts/services.sh)": round(t_up - t_start, 3),
        "server_flows_restored_after_ovs_start_began_s": round(t_flows - t_start, 3),
        "tor_admissions_restored_after_ovs_start_began_s": round(t_admitted - t_start, 3),
    }
    for name, got in replies.items():
        seqs = sorted(got)
        assert seqs, f"{name}: no echo reply at all"
        gap, gap_at = gap_after(got, t_kill)
        first_back = min((t for t in got.values() if t > t_start), default=float("nan"))
        lost = [s for s in range(seqs[0], seqs[-1]) if s not in got]
        figures[name] = {
            "echo_replies": len(seqs),
            "echo_lost": len(lost),
            "traffic_gap_s": round(gap, 3),
            "first_reply_after_ovs_start_began_s": round(first_back - t_start, 3),
        }
        assert first_back > t_start, f"{name}: traffic did not resume after the OVS restart"
        # resumed for good once the flows were back (the userspace datapath may drop a frame under load)
        settled = [s for s in seqs if got[s] > t_admitted]
        assert settled and len([s for s in lost if s > settled[0]]) <= LOSS_ALLOWED, (name, lost)
        assert gap_at >= t_kill - INTERVAL * 2, "the outage is the longest silence"
    report("ovs_restart", figures)

    assert [jsonline.call(sw.socket, "held", timeout=30) for sw in lab.switches] == held
    # the lab keeps working after the restart: a new container is wired and talks to the old ones
    (d,), _ = scenario.burst(lab, scenario.plan(1, lab, networks, prefix="ovn"))
    assert not d.error, d.error
    assert _ping(d.netns, a.ip)
    for server in lab.servers:  # no OVS port without its veth after the restart
        prefix = f"pwh{server.index}x"
        assert {p for p in labkit.ovs_ports(server.bridge) if p.startswith(prefix)} == labkit.pw_links(prefix)
    scenario.release(lab, [*started, d])
    assert not any(scenario.leaks(lab).values())


def _ping(netns: str, ip: str) -> bool:
    cmd = ["ip", "netns", "exec", netns, "ping", "-n", "-c", "1", "-W", "1", ip]
    return any(subprocess.run(cmd, capture_output=True, check=False).returncode == 0 for _ in range(30))
