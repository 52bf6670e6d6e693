"""Lab names and shapes (docs/architecture.md "Names")."""

from __future__ import annotations

import pytest

from prewire.errors import InvalidInput
from prewire.lab import topology


def test_default_lab_matches_the_architecture_names() -> None:
    plan = topology.plan(2, 1)
    assert [s.name for s in plan.servers] == ["srv0", "srv1"]
    assert [(s.bridge, s.uplink, s.switch, s.switch_port) for s in plan.servers] == [
        ("pwsrv0", "pwu0s", "tor0", "pwu0t"),
        ("pwsrv1", "pwu1s", "tor0", "pwu1t"),
    ]
    assert [(w.name, w.bridge, w.trunk) for w in plan.switches] == [("tor0", "pwtor0", None)]
    assert plan.spine is None
    assert plan.bridges() == ["pwtor0", "pwsrv0", "pwsrv1"]
    assert plan.veth_pairs() == [("pwu0s", "pwu0t"), ("pwu1s", "pwu1t")]
    assert plan.servers[1].pool_netns == "pwpool1"
    assert topology.container_netns("web") == "pwct-web"


def test_servers_are_spread_in_racks_and_tors_joined_by_a_spine() -> None:
    plan = topology.plan(8, 3)
    racks = [s.switch for s in plan.servers]
    assert racks == ["tor0", "tor0", "tor0", "tor1", "tor1", "tor1", "tor2", "tor2"]
    assert plan.spine == "pwspine"
    assert plan.bridges()[-1] == "pwspine"
    assert ("pwk2t", "pwk2p") in plan.veth_pairs()
    assert all(w.trunk and w.spine_port for w in plan.switches)


@pytest.mark.parametrize("servers,switches", [(64, 16), (1, 1), (5, 5)])
def test_every_name_fits_an_interface_name_and_is_unique(servers: int, switches: int) -> None:
    plan = topology.plan(servers, switches)
    names = plan.bridges() + [n for pair in plan.veth_pairs() for n in pair]
    assert len(names) == len(set(names))
    assert all(len(n) <= 15 and n.startswith("pw") and not n.startswith("pwx") for n in names)
    for k in range(switches):
        assert any(s.switch == f"tor{k}" for s in plan.servers)


@pytest.mark.parametrize("servers,switches", [(0, 1), (65, 1), (2, 0), (2, 3)])
def test_impossible_shapes_are_rejected(servers: int, switches: int) -> None:
    with pytest.raises(InvalidInput):
        topology.plan(servers, switches)


def test_container_names_are_checked() -> None:
    assert topology.check_container_name("web-1.a_b") == "web-1.a_b"
    for bad in ("", "-x", "UPPER", "a/b", "x" * 64, "a b"):
        with pytest.raises(InvalidInput):
            topology.check_container_name(bad)


def test_test_objects_are_not_lab_objects() -> None:
    assert topology.is_lab_name("pwtor0")
    assert not topology.is_lab_name("pwxsw0")
    assert topology.is_lab_name("pwxsw0", include_test_objects=True)
    assert not topology.is_lab_name("eth0", include_test_objects=True)
