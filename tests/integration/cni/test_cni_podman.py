"""Real podman (CNI backend) through the installed plugin and a real agent: eth0 with the profile's MAC/IP
on the tenant VLAN, same-tenant reachable, the other tenant (same subnet) not, `podman rm` releases.
podman runs with its own containers.conf (CONTAINERS_CONF) so the machine's podman setup is untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.cni import install
from prewire.measure.stats import summary
from prewire.runtime import images
from tests.integration.cni.pwxcni_env import NET, AgentThread, leftovers, profiles, real_agent

pytestmark = pytest.mark.root
OTHER = "other/net"  # another tenant, the same subnet 10.231.0.0/24
NAMES = ("pwxcni-p1", "pwxcni-p2", "pwxcni-q1")


class Podman:
    def __init__(self, tmp: Path, agent: AgentThread) -> None:
        self.bin, self.netd = tmp / "bin", tmp / "net.d"
        install.install_plugin(str(self.bin))
        conf = install.configure_podman(
            str(tmp / "containers.conf"), bin_dir=str(self.bin), conf_dir=str(self.netd)
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.rootfs = str(images.ensure_rootfs(str(tmp / "rootfs")))
        for name, network in (("pwxcni-web", NET), ("pwxcni-other", OTHER)):
            install.write_conflist(install.conflist(name, network, agent.socket), str(self.netd))

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {done.stderr.strip()[-400:]}")
        return done

    def run(self, name: str, network: str) -> float:
        start = time.perf_counter()
        self("run", "-d", "--name", name, "--network", network, "--rootfs", self.rootfs, "sleep", "600")
        return (time.perf_counter() - start) * 1000

    def ip_of(self, name: str) -> str:
        out = self("exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        return out.split("inet ", 1)[1].split()[0]


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[tuple[Podman, AgentThread]]:
    if shutil.which("podman") is None:
        pytest.skip("podman not installed (apt-get install podman containernetworking-plugins runc)")
    with real_agent(tmp_path, ports=8, pool=16) as agent:
        assert agent.agent is not None
        agent.agent.pool.seed(profiles(OTHER, 312, 4))
        pm = Podman(tmp_path, agent)
        try:
            yield pm, agent
        finally:
            pm("rm", "-f", "-t", "0", *NAMES, check=False)
    assert leftovers() == []


def bindings(agent: AgentThread) -> dict[str, dict[str, Any]]:
    return {b["container"]: b for b in jsonline.call(agent.socket, "list")["bindings"]}


def test_podman_run_gets_the_tenant_vlan_and_rm_releases(podman: tuple[Podman, AgentThread]) -> None:
    pm, agent = podman
    times = [
        pm.run("pwxcni-p1", "pwxcni-web"),
        pm.run("pwxcni-p2", "pwxcni-web"),
        pm.run("pwxcni-q1", "pwxcni-other"),
    ]
    wired = bindings(agent)
    ids = {n: pm("inspect", "--format", "{{.Id}}", n).stdout.strip() for n in NAMES}
    assert set(wired) == set(ids.values())
    for name in NAMES:
        b = wired[ids[name]]
        link = pm("exec", name, "ip", "link", "show", "eth0").stdout
        assert b["mac"] in link and pm.ip_of(name) == f"{b['ip']}/{b['prefix']}"
        assert b["source"].startswith("cni:pwxcni-")
    assert wired[ids["pwxcni-q1"]]["vlan"] == 312 and wired[ids["pwxcni-p1"]]["vlan"] == 311
    p1_ip = wired[ids["pwxcni-p1"]]["ip"]
    assert (
        pm("exec", "pwxcni-p2", "ping", "-c", "3", "-W", "1", "-w", "10", p1_ip, check=False).returncode == 0
    )
    p2_ip = wired[ids["pwxcni-p2"]]["ip"]  # q1 holds p1's address in its own tenant: ask for p2's
    assert wired[ids["pwxcni-q1"]]["ip"] == p1_ip, "overlapping subnets"
    assert (
        pm("exec", "pwxcni-q1", "ping", "-c", "3", "-W", "1", "-w", "3", p2_ip, check=False).returncode != 0
    )
    pm("rm", "-f", "-t", "0", *NAMES)
    assert bindings(agent) == {}
    status = jsonline.call(agent.socket, "status")
    assert status["profiles_free"] == {NET: 8, OTHER: 4} and status["ports_free"] == status["ports_total"]
    print(f"\npodman run -d with prewire: {summary(times)}")
