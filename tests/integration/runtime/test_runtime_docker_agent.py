"""Real dockerd + the Docker label watcher inside a real agent: `--network none` containers labelled
`prewire.network` are wired on start and released on stop, including a stop missed while not watching."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.runtime import images
from prewire.runtime.docker import AgentDockerWatcher, DockerWatcher
from tests.integration.cni.pwxcni_env import NET, AgentThread, leftovers, real_agent
from tests.integration.runtime.docker_cli import docker, require_docker, run_sleeper

pytestmark = pytest.mark.root
NAMES = ("pwxcni-w1", "pwxcni-w2", "pwxcni-wx")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[AgentThread, AgentDockerWatcher]]:
    require_docker()
    images.ensure_docker_image()
    with real_agent(tmp_path) as agent:
        assert agent.agent is not None
        # only containers labelled for this test's server: the machine's dockerd is shared
        watcher = AgentDockerWatcher(
            agent.agent, DockerWatcher(server=agent.config.server, take_unlabelled=False)
        )
        agent.agent.watchers[watcher.source] = watcher
        agent.run(watcher.start())
        try:
            yield agent, watcher
        finally:
            docker("rm", "-f", *NAMES, check=False)
            agent.run(watcher.stop())
    assert leftovers() == []


def run(agent: AgentThread, name: str, server: str | None = None, network: str = "none") -> str:
    labels = [
        "--label",
        f"prewire.network={NET}",
        "--label",
        f"prewire.server={server or agent.config.server}",
    ]
    return run_sleeper(name, network, *labels)


def bindings(agent: AgentThread) -> dict[str, dict[str, Any]]:
    return {b["container"]: b for b in jsonline.call(agent.socket, "list")["bindings"]}


def until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll from the test thread (the agent's loop must stay free to answer the socket)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


def test_labelled_container_is_wired_on_start_and_released_on_stop(
    env: tuple[AgentThread, AgentDockerWatcher],
) -> None:
    agent, watcher = env
    cid = run(agent, "pwxcni-w1")
    until(lambda: bindings(agent).get(cid, {}).get("state") == "ready")
    b = bindings(agent)[cid]
    assert b["source"] == "docker" and b["netns"].startswith("/proc/")
    assert docker("exec", "pwxcni-w1", "cat", "/sys/class/net/eth0/address").stdout.strip() == b["mac"]
    assert f"inet {b['ip']}/{b['prefix']}" in docker("exec", "pwxcni-w1", "ip", "-4", "addr").stdout
    other = run(agent, "pwxcni-wx", server="pwxcni-elsewhere")  # another server's container: not ours
    assert watcher.alive(cid) is True and watcher.alive(other) is False
    docker("stop", "-t", "0", "pwxcni-w1")
    until(lambda: cid not in bindings(agent))
    assert jsonline.call(agent.socket, "status")["profiles_free"][NET] == 8
    assert other not in bindings(agent)


def test_a_stop_missed_while_not_watching_is_released_at_resync(
    env: tuple[AgentThread, AgentDockerWatcher],
) -> None:
    agent, watcher = env
    cid = run(agent, "pwxcni-w2")
    until(lambda: bindings(agent).get(cid, {}).get("state") == "ready")
    agent.run(watcher.stop())
    docker("rm", "-f", "pwxcni-w2")
    assert cid in bindings(agent)
    agent.run(watcher.start())
    until(lambda: cid not in bindings(agent))
