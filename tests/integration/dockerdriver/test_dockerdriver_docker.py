"""Real dockerd + the `prewire` remote network driver + a real agent: `docker run --network` gets eth0 with
the profile's MAC/IP before its process starts, same tenant reachable, other tenant not, `docker rm`
releases, nothing left behind.  The driver is registered as `pwxcnidrv` with `pwxd*` interfaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.dockerdriver import server
from prewire.runtime import images
from tests.integration.cni.pwxcni_env import NET, AgentThread, leftovers, profiles, real_agent
from tests.integration.runtime.docker_cli import docker, require_docker, run_sleeper

pytestmark = pytest.mark.root
OTHER = "other/net"
DRIVER = "pwxcnidrv"
NETWORKS = {"pwxcni-dweb": NET, "pwxcni-dother": OTHER}
NAMES = ("pwxcni-d1", "pwxcni-d2", "pwxcni-dq")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AgentThread]:
    require_docker()
    image = images.ensure_docker_image()
    assert image
    with real_agent(tmp_path) as agent:
        assert agent.agent is not None
        agent.agent.pool.seed(profiles(OTHER, 312, 4))
        driver = server.build(agent.socket, DRIVER, str(tmp_path / "drv"), "pwxcni-drvns", "pwxd")
        srv = server.DriverServer(driver, DRIVER)
        srv.start()
        try:
            for name, network in NETWORKS.items():
                docker(
                    "network",
                    "create",
                    "-d",
                    DRIVER,
                    "--ipam-driver",
                    "null",
                    "--opt",
                    f"network={network}",
                    name,
                )
            yield agent
        finally:
            docker("rm", "-f", *NAMES, check=False)
            for name in NETWORKS:
                docker("network", "rm", name, check=False)
            srv.close()
            driver.shutdown()
    assert leftovers() == []


def run(name: str, network: str) -> None:
    run_sleeper(name, network)


def bindings(agent: AgentThread) -> dict[str, dict[str, Any]]:
    return {b["container"]: b for b in jsonline.call(agent.socket, "list")["bindings"]}


def test_docker_network_driver_end_to_end(env: AgentThread) -> None:
    run("pwxcni-d1", "pwxcni-dweb")
    run("pwxcni-d2", "pwxcni-dweb")
    run("pwxcni-dq", "pwxcni-dother")
    wired = bindings(env)
    assert len(wired) == 3 and {b["source"] for b in wired.values()} == {"docker-driver"}
    by_ip: dict[str, str] = {}
    for name in NAMES:
        eid = docker(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}", name
        ).stdout.strip()
        b = wired[eid]
        first = docker("exec", name, "cat", "/sys/class/net/eth0/address").stdout.strip()
        assert first == b["mac"]
        addr = docker("exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        assert f"inet {b['ip']}/{b['prefix']}" in addr
        assert f"default via {b['gateway']}" in docker("exec", name, "ip", "route").stdout
        by_ip[name] = b["ip"]
    # eth0 was there before the container's process started: its first command already sees it, up
    # (IFF_UP; operstate follows asynchronously through the kernel's linkwatch) and addressed
    first = ["cat /sys/class/net/eth0/flags", "ip -4 -o addr show dev eth0"]
    argv = ["run", "--rm", "--network", "pwxcni-dweb", "--ulimit", "nofile=20000:20000", images.DOCKER_IMAGE]
    out = docker(*argv, "sh", "-c", "; ".join(first)).stdout.split("\n", 1)
    assert int(out[0], 16) & 1 and "inet 10.231.0." in out[1]
    assert (
        docker(
            "exec", "pwxcni-d2", "ping", "-c", "3", "-W", "1", "-w", "10", by_ip["pwxcni-d1"], check=False
        ).returncode
        == 0
    )
    assert by_ip["pwxcni-dq"] == by_ip["pwxcni-d1"], "overlapping subnets"
    assert (
        docker(
            "exec", "pwxcni-dq", "ping", "-c", "3", "-W", "1", "-w", "3", by_ip["pwxcni-d2"], check=False
        ).returncode
        != 0
    )
    live = server.docker_endpoints()
    nids = [docker("network", "inspect", "-f", "{{.Id}}", n).stdout.strip() for n in NETWORKS]
    assert set(wired) == set().union(*(live(nid) or set() for nid in nids)), "what reconcile compares"
    docker("rm", "-f", *NAMES)
    assert bindings(env) == {}
    status = jsonline.call(env.socket, "status")
    assert status["profiles_free"] == {NET: 8, OTHER: 4} and status["ports_free"] == status["ports_total"]
