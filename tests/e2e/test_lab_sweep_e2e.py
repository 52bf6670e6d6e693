"""`python -m prewire.lab.sweep`: removes a stale lab (pw* objects, keepers, state), never pwx* objects,
refuses a running lab unless --force, and is a no-op when nothing exists."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroute2 import netns as pyr_netns

from prewire.lab import kernel, procs
from prewire.lab import state as labstate
from prewire.lab.state import LabState, Proc
from prewire.lab.sweep import live_processes
from prewire.ovs import Ovsdb
from prewire.runtime import netns as runtime_netns

pytestmark = pytest.mark.e2e

STALE_BRIDGES = ["pwsrv97", "pwtor97"]
STALE_VETH = ("pwu97s", "pwu97t")
STALE_POOL = "pwpool97"
FOREIGN_VETH = ("pwxlabsw0", "pwxlabsw1")
FOREIGN_NETNS = "pwxlabsw"
FOREIGN_BRIDGE = "pwxlabswbr"


def sweep(lab_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "prewire.lab.sweep", "--lab-dir", str(lab_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def sleeper() -> Proc:
    popen = subprocess.Popen(["sleep", "60"], start_new_session=True)
    began = procs.start_time(popen.pid)
    assert began is not None
    return Proc(pid=popen.pid, start_time=began, argv=["sleep", "60"], log="/dev/null")


@pytest.fixture
def foreign() -> Iterator[None]:
    """Objects of another test (pwx*): the sweep must leave them alone."""
    if live_processes(labstate.LAB_DIR):
        pytest.fail("a lab is running on this machine; run `prewire lab down` before the e2e tests")
    ovsdb = Ovsdb()
    kernel.ensure_veth(*FOREIGN_VETH)
    pyr_netns.create(FOREIGN_NETNS)
    ovsdb.add_bridge(FOREIGN_BRIDGE)
    try:
        yield
    finally:
        kernel.delete_link(FOREIGN_VETH[0])
        kernel.remove_netns(FOREIGN_NETNS)
        ovsdb.del_bridge(FOREIGN_BRIDGE)


def foreign_intact() -> bool:
    return (
        kernel.link_exists(FOREIGN_VETH[0])
        and FOREIGN_NETNS in kernel.list_netns()
        and Ovsdb().bridge_exists(FOREIGN_BRIDGE)
    )


def make_stale_lab(lab_dir: Path, proc: Proc) -> str:
    ovsdb = Ovsdb()
    for bridge in STALE_BRIDGES:
        ovsdb.add_bridge(bridge)
    kernel.ensure_veth(*STALE_VETH)
    ovsdb.add_ports(STALE_BRIDGES[0], [STALE_VETH[0]])
    pyr_netns.create(STALE_POOL)
    record = runtime_netns.create_container(str(lab_dir / "runtime"), "sweep97", "t/n")
    st = LabState(lab_dir=str(lab_dir), controller=proc, bridges=list(STALE_BRIDGES))
    st.save()
    return str(record["netns"])


def stale_gone(container_netns: str) -> bool:
    bridges = set(Ovsdb().list_bridges())
    return (
        not bridges & set(STALE_BRIDGES)
        and not kernel.link_exists(STALE_VETH[0])
        and not kernel.link_exists(STALE_VETH[1])
        and not {STALE_POOL, container_netns} & set(kernel.list_netns())
    )


def test_sweep_removes_a_stale_lab_and_only_that(tmp_path: Path, foreign: None) -> None:
    lab_dir = tmp_path / "lab"
    dead = sleeper()
    procs.stop(dead)
    ns = make_stale_lab(lab_dir, dead)
    keeper = runtime_netns.read_record(str(lab_dir / "runtime" / "sweep97.json"))
    assert keeper is not None

    done = sweep(lab_dir)
    assert done.returncode == 0, done.stderr
    assert stale_gone(ns)
    assert not lab_dir.exists()
    assert not procs.alive(Proc(int(keeper["pid"]), int(keeper["start_time"]), [], ""))  # reaps our child
    assert foreign_intact()


def test_sweep_refuses_a_running_lab_unless_forced(tmp_path: Path, foreign: None) -> None:
    lab_dir = tmp_path / "lab"
    live = sleeper()
    try:
        ns = make_stale_lab(lab_dir, live)
        refused = sweep(lab_dir)
        assert refused.returncode == 1
        assert "running" in refused.stderr
        assert procs.alive(live)
        assert not stale_gone(ns)
        forced = sweep(lab_dir, "--force")
        assert forced.returncode == 0, forced.stderr
        assert not procs.alive(live)
        assert stale_gone(ns)
        assert foreign_intact()
    finally:
        procs.stop(live)
        sweep(lab_dir)


def test_sweep_with_nothing_to_remove(tmp_path: Path) -> None:
    done = sweep(tmp_path / "nothing")
    assert done.returncode == 0
    assert "nothing to remove" in done.stdout
    assert sweep(tmp_path / "nothing", "--dry-run").returncode == 0
