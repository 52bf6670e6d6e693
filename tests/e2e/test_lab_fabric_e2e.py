"""The lab fabric end to end: `lab up`, two tenants with overlapping subnets, netns containers on two servers,
same-tenant pings across servers through the ToR, no cross-tenant frame, release on rm, `lab down` clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prewire.lab import dockerrt, fabric, kernel, procs
from prewire.lab import state as labstate
from prewire.lab.sweep import live_processes
from prewire.ovs import Ovsdb

pytestmark = pytest.mark.e2e

SUBNET = "10.77.0.0/24"  # the same subnet in both tenants


def prewire(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "prewire", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"prewire {' '.join(args)} -> {done.returncode}: {done.stderr.strip()[-500:]}")
    return done


def lab_objects() -> dict[str, list[str]]:
    """Every lab-made object (pw*, not the pwx* objects of other tests) on this machine."""
    links = [n for n in kernel.list_links() if n.startswith("pw") and not n.startswith("pwx")]
    netns = [n for n in kernel.list_netns() if n.startswith("pw") and not n.startswith("pwx")]
    bridges = [b for b in Ovsdb().list_bridges() if b.startswith("pw") and not b.startswith("pwx")]
    return {"links": links, "netns": netns, "bridges": bridges}


@pytest.fixture(scope="module")
def lab() -> Iterator[labstate.LabState]:
    if live_processes(labstate.LAB_DIR):
        pytest.fail("a lab is already running on this machine; run `prewire lab down` before the e2e tests")
    subprocess.run([sys.executable, "-m", "prewire.lab.sweep"], capture_output=True, check=False)
    st: labstate.LabState | None = None
    try:
        prewire("lab", "up", "--servers", "2", "--switches", "1", "-q", timeout=300)
        st = labstate.load()
        assert st is not None
        yield st
    finally:
        prewire("lab", "down", check=False)
        subprocess.run([sys.executable, "-m", "prewire.lab.sweep"], capture_output=True, check=False)


def run_container(name: str, network: str, server: str) -> dict[str, Any]:
    done = prewire("container", "run", name, "--network", network, "--server", server, "--json")
    return dict(json.loads(done.stdout))


def ping(src: str, ip: str, count: int = 5) -> bool:
    """True if `src` gets at least one echo reply from `ip` (deadline 10 s)."""
    args = ["-n", "-q", "-c", str(count), "-i", "0.2", "-w", "10", ip]
    return prewire("container", "exec", src, "--", "ping", *args, check=False).returncode == 0


def no_reply(src: str, ip: str) -> bool:
    """True if 5 echo requests over 2 s from `src` to `ip` get no reply at all."""
    args = ["-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", "-w", "2", ip]
    return prewire("container", "exec", src, "--", "ping", *args, check=False).returncode != 0


def neighbours(name: str) -> str:
    return prewire("container", "exec", name, "--", "ip", "neigh", "show").stdout


def test_lab_isolates_tenants_with_overlapping_subnets(lab: labstate.LabState) -> None:
    status = json.loads(prewire("lab", "status", "--json").stdout)
    assert [s["name"] for s in status["servers"]] == ["srv0", "srv1"]
    assert all(s["alive"] for s in status["servers"] + status["switches"])
    assert status["controller"]["alive"]

    for tenant in ("acme", "globex"):
        prewire("tenant", "create", tenant)
        prewire("network", "create", f"{tenant}/web", "--subnet", SUBNET)

    a0 = run_container("e2ea0", "acme/web", "srv0")
    a1 = run_container("e2ea1", "acme/web", "srv1")
    g0 = run_container("e2eg0", "globex/web", "srv0")
    g1 = run_container("e2eg1", "globex/web", "srv1")
    g2 = run_container("e2eg2", "globex/web", "srv1")
    for c in (a0, a1, g0, g1, g2):
        assert c["mac"] and c["ip"] and c["vlan"]
    assert a0["vlan"] == a1["vlan"] != g0["vlan"] == g1["vlan"]
    assert (a0["server"], a1["server"]) == ("srv0", "srv1")
    assert a1["switch"] == "tor0" and a1["switch_port"] == "pwu1t"
    listed = {row["name"]: row for row in json.loads(prewire("container", "list", "--json").stdout)}
    assert {"e2ea0", "e2ea1", "e2eg0", "e2eg1", "e2eg2"} <= set(listed)

    # same tenant, across servers, through the ToR
    assert ping("e2ea0", a1["ip"]), "acme srv0 -> srv1 failed"
    assert ping("e2eg1", g0["ip"]), "globex srv1 -> srv0 failed"
    # the ToR admitted each tenant's VLAN on the ports where its MACs appeared
    tor = json.loads(prewire("lab", "status", "--json").stdout)["switches"][0]
    assert a0["vlan"] in tor["vlans_by_port"]["pwu0t"] and a1["vlan"] in tor["vlans_by_port"]["pwu1t"]
    assert g0["vlan"] in tor["vlans_by_port"]["pwu0t"] and g1["vlan"] in tor["vlans_by_port"]["pwu1t"]
    # overlapping addresses resolve inside the tenant only
    assert a1["mac"].lower() in neighbours("e2ea0").lower()
    # an address that exists only in the other tenant is unreachable
    acme_ips = {a0["ip"], a1["ip"]}
    only_globex = next(c["ip"] for c in (g0, g1, g2) if c["ip"] not in acme_ips)
    assert no_reply("e2ea0", only_globex), "acme reached a globex-only address"
    # no acme frame (ARP included) ever reached a globex container
    for g in ("e2eg0", "e2eg1", "e2eg2"):
        seen = neighbours(g).lower()
        assert a0["mac"].lower() not in seen and a1["mac"].lower() not in seen, f"acme frames reached {g}"

    # a Docker container (label-driven) joins its tenant like a netns one, and leaves nothing when removed
    if dockerrt.available():
        d = json.loads(
            prewire(
                "container",
                "run",
                "e2ead",
                "--network",
                "acme/web",
                "--server",
                "srv1",
                "--runtime",
                "docker",
                "--json",
            ).stdout
        )
        assert d["vlan"] == a0["vlan"] and d["server"] == "srv1"
        assert ping("e2ea0", d["ip"]), "acme netns -> acme docker failed"
        assert ping("e2ead", a0["ip"]), "acme docker -> acme netns failed"
        for g in ("e2eg0", "e2eg1", "e2eg2"):
            assert d["mac"].lower() not in neighbours(g).lower(), f"acme docker frames reached {g}"
        prewire("container", "rm", "e2ead")
        assert "e2ead" not in dockerrt.lab_containers()

    # rm releases: the agent forgets it and the netns is gone
    prewire("container", "rm", "e2ea1")
    assert "pwct-e2ea1" not in kernel.list_netns()
    agent = lab.server("srv1").socket
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = {row["name"] for row in json.loads(prewire("container", "list", "--json").stdout)}
        if "e2ea1" not in listed:
            break
        time.sleep(0.2)
    assert "e2ea1" not in listed
    assert os.path.exists(agent)
    assert no_reply("e2ea0", a1["ip"])


def test_lab_down_leaves_nothing(lab: labstate.LabState) -> None:
    pids = [p for p in lab.procs()]
    prewire("lab", "down")
    assert all(not procs.alive(p) for p in pids)
    assert lab_objects() == {"links": [], "netns": [], "bridges": []}
    assert labstate.load() is None
    assert "no lab was up" in prewire("lab", "down").stdout


@pytest.mark.skipif(not fabric.switch_agent_takes_trunks(), reason="switch agent has no --trunk option yet")
def test_servers_on_different_tors_reach_each_other_through_the_spine() -> None:
    assert labstate.load() is None
    try:
        prewire("lab", "up", "--servers", "3", "--switches", "2", "-q", timeout=300)
        prewire("tenant", "create", "spine")
        prewire("network", "create", "spine/web", "--subnet", SUBNET)
        near = run_container("e2es0", "spine/web", "srv0")
        far = run_container("e2es2", "spine/web", "srv2")
        assert (near["switch"], far["switch"]) == ("tor0", "tor1")
        assert ping("e2es0", far["ip"]), "tor0 -> spine -> tor1 failed"
        assert ping("e2es2", near["ip"]), "tor1 -> spine -> tor0 failed"
        prewire("tenant", "create", "other")
        prewire("network", "create", "other/web", "--subnet", SUBNET)
        run_container("e2eo0", "other/web", "srv0")
        foreign = run_container("e2eo2", "other/web", "srv2")
        if foreign["ip"] not in (near["ip"], far["ip"]):
            assert no_reply("e2es0", foreign["ip"]), "a tenant crossed the spine into another tenant"
        for other in ("e2eo0", "e2eo2"):
            seen = neighbours(other).lower()
            assert near["mac"].lower() not in seen and far["mac"].lower() not in seen
    finally:
        prewire("lab", "down", check=False)
    assert lab_objects() == {"links": [], "netns": [], "bridges": []}


def test_a_failed_lab_up_removes_everything_it_made() -> None:
    assert labstate.load() is None
    blocker = labstate.LAB_DIR / "switches" / "tor0"  # a file where the switch agent wants its directory
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("in the way\n")
    try:
        done = prewire("lab", "up", "--servers", "2", "-q", check=False, timeout=300)
    finally:
        blocker.unlink(missing_ok=True)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: lab up failed at switch agents"), done.stderr
    assert "everything it made was removed" in lines[0]
    assert lab_objects() == {"links": [], "netns": [], "bridges": []}
    assert labstate.load() is None
    assert not labstate.LAB_DIR.exists()


def test_eight_servers_on_one_tor() -> None:
    assert labstate.load() is None
    try:
        prewire("lab", "up", "--servers", "8", "--ports", "4", "--pool-size", "8", "-q", timeout=300)
        status = json.loads(prewire("lab", "status", "--json").stdout)
        assert [s["name"] for s in status["servers"]] == [f"srv{i}" for i in range(8)]
        assert all(s["alive"] for s in status["servers"])
        assert status["switches"][0]["ports"] == sorted(f"pwu{i}t" for i in range(8))
        prewire("tenant", "create", "eight")
        prewire("network", "create", "eight/web", "--subnet", SUBNET)
        first = run_container("e2e8a", "eight/web", "srv0")
        last = run_container("e2e8b", "eight/web", "srv7")
        assert ping("e2e8a", last["ip"]), "srv0 -> srv7 failed"
        assert ping("e2e8b", first["ip"]), "srv7 -> srv0 failed"
    finally:
        prewire("lab", "down", check=False)
    assert lab_objects() == {"links": [], "netns": [], "bridges": []}
