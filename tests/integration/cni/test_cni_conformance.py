"""CNI conformance against a REAL agent (real OVS bridge, netns, pre-wired ports): the plugin is driven
exactly as a runtime drives it (env + stdin), and the kernel is checked afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire import jsonline
from prewire.agent import nl
from tests.integration.agent.pwxag_env import addr_of
from tests.integration.cni.pwxcni_env import (
    NET,
    AgentThread,
    Plugin,
    leftovers,
    make_netns,
    profiles,
    real_agent,
    sh,
)

pytestmark = pytest.mark.root


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Plugin, AgentThread]]:
    with real_agent(tmp_path) as agent:
        yield Plugin(tmp_path / "bin", agent.socket), agent
    assert leftovers() == []


def ok(result: tuple[int, object, str]) -> object:
    rc, out, err = result
    assert rc == 0 and err == "", (out, err)
    return out


def test_add_wires_eth0_and_add_twice_is_the_same_attachment(env: tuple[Plugin, AgentThread]) -> None:
    cni, _ = env
    path = make_netns("pwxcni-a")
    first = ok(cni("ADD", "ctr-a", path))
    again = ok(cni("ADD", "ctr-a", path))
    assert first == again
    assert isinstance(first, dict)
    (iface,), (ip,) = first["interfaces"], first["ips"]
    assert iface == {"name": "eth0", "mac": iface["mac"], "sandbox": path}
    assert ip["address"].startswith("10.231.0.") and ip["gateway"] == "10.231.0.254" and ip["interface"] == 0
    assert first["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.231.0.254"}]
    eth0 = addr_of("pwxcni-a")
    assert eth0 is not None and eth0["address"] == iface["mac"] and "UP" in eth0["flags"]
    assert [f"{a['local']}/{a['prefixlen']}" for a in eth0["addr_info"] if a["family"] == "inet"] == [
        ip["address"]
    ]
    assert "via 10.231.0.254 dev eth0" in sh("ip", "-n", "pwxcni-a", "route", "show", "default")
    status = jsonline.call(cni.socket, "status")
    assert status["bindings"] == 1 and status["profiles_free"][NET] == 7
    ok(cni("CHECK", "ctr-a", path, conf=cni.conf(prevResult=first)))
    ok(cni("DEL", "ctr-a", path))
    assert addr_of("pwxcni-a") is None
    assert jsonline.call(cni.socket, "status")["profiles_free"][NET] == 8
    nl.remove_netns("pwxcni-a")


def test_del_without_add_succeeds(env: tuple[Plugin, AgentThread]) -> None:
    cni, _ = env
    assert ok(cni("DEL", "never-added", "/run/netns/pwxcni-none")) is None
    assert ok(cni("DEL", "never-added")) is None  # no CNI_NETNS at all


def test_del_after_the_netns_was_deleted_releases_everything(env: tuple[Plugin, AgentThread]) -> None:
    cni, _ = env
    path = make_netns("pwxcni-b")
    ok(cni("ADD", "ctr-b", path))
    nl.remove_netns("pwxcni-b")
    ok(cni("DEL", "ctr-b", path))
    status = jsonline.call(cni.socket, "status")
    assert status["bindings"] == 0 and status["profiles_free"][NET] == 8
    assert status["ports_free"] == status["ports_total"]
    ok(cni("DEL", "ctr-b", path))  # and again: idempotent


def test_check_fails_after_the_interface_was_removed_by_hand(env: tuple[Plugin, AgentThread]) -> None:
    cni, _ = env
    path = make_netns("pwxcni-c")
    result = ok(cni("ADD", "ctr-c", path))
    sh("ip", "-n", "pwxcni-c", "link", "del", "eth0")
    rc, out, err = cni("CHECK", "ctr-c", path, conf=cni.conf(prevResult=result))
    assert rc != 0 and err == "" and out["code"] != 0 and "ctr-c/eth0" in out["msg"]
    jsonline.call(cni.socket, "reconcile")  # the agent repairs it with the same profile
    assert ok(cni("ADD", "ctr-c", path)) == result
    ok(cni("CHECK", "ctr-c", path, conf=cni.conf(prevResult=result)))
    ok(cni("DEL", "ctr-c", path))
    nl.remove_netns("pwxcni-c")


def test_gc_with_empty_valid_attachments_releases_only_this_networks_cni_attachments(
    env: tuple[Plugin, AgentThread],
) -> None:
    cni, _ = env
    paths = {n: make_netns(f"pwxcni-g{n}") for n in range(3)}
    ok(cni("ADD", "ctr-g0", paths[0]))
    ok(cni("ADD", "ctr-g1", paths[1], ifname="net1"))
    other = Plugin(cni.exe.parent.parent / "bin2", cni.socket, name="pwxcni-other")
    ok(other("ADD", "ctr-g2", paths[2]))  # another network config: outside this GC
    ok(
        cni(
            "GC",
            conf=cni.conf(**{"cni.dev/valid-attachments": [{"containerID": "ctr-g0", "ifname": "eth0"}]}),
        )
    )
    assert {b["container"] for b in jsonline.call(cni.socket, "list")["bindings"]} == {"ctr-g0", "ctr-g2"}
    ok(cni("GC", conf=cni.conf(**{"cni.dev/valid-attachments": []})))
    assert [b["container"] for b in jsonline.call(cni.socket, "list")["bindings"]] == ["ctr-g2"]
    assert addr_of("pwxcni-g0") is None and addr_of("pwxcni-g1", "net1") is None
    assert addr_of("pwxcni-g2") is not None
    ok(other("DEL", "ctr-g2", paths[2]))
    for n in range(3):
        nl.remove_netns(f"pwxcni-g{n}")


def test_status_and_try_again_later(env: tuple[Plugin, AgentThread]) -> None:
    cni, _ = env
    assert ok(cni("STATUS")) is None
    path = make_netns("pwxcni-e")
    rc, out, err = cni("ADD", "ctr-e", path, conf=cni.conf(network="acme/empty"))
    assert rc != 0 and err == "" and out["code"] == 11, out  # no profile, no controller: try again later
    assert jsonline.call(cni.socket, "status")["bindings"] == 0, "nothing half-wired"
    rc, out, _ = cni("ADD", "ctr-e", "/run/netns/pwxcni-gone")
    assert rc != 0 and out["code"] == 4  # netns gone before wiring
    nl.remove_netns("pwxcni-e")


def test_seeded_pool_is_independent_per_network(env: tuple[Plugin, AgentThread]) -> None:
    cni, agent = env

    async def seed() -> None:  # in the agent's loop: its state is single-threaded
        assert agent.agent is not None
        agent.agent.pool.seed(profiles("acme/db", 312, 2, third=1))

    agent.run(seed())
    path = make_netns("pwxcni-d")
    out = ok(cni("ADD", "ctr-d", path, conf=cni.conf(network="acme/db")))
    assert isinstance(out, dict) and out["ips"][0]["address"].startswith("10.231.1.")
    ok(cni("DEL", "ctr-d", path))
    nl.remove_netns("pwxcni-d")
