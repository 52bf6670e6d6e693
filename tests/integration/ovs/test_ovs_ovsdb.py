"""prewire.ovs.Ovsdb against the real ovsdb-server / ovs-vswitchd."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from prewire.errors import KernelError, NotFound
from prewire.ovs import Ovsdb

pytestmark = pytest.mark.root

TAG = f"{os.getpid() % 10000:04d}"
BRIDGE = f"pwxov{TAG}"


def vsctl(*args: str) -> str:
    return subprocess.run(["ovs-vsctl", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def ovsdb() -> Iterator[Ovsdb]:
    db = Ovsdb()
    yield db
    subprocess.run(["ovs-vsctl", "--if-exists", "del-br", BRIDGE], check=False)


@pytest.fixture
def veths() -> Iterator[list[str]]:
    names = [f"pwxov{TAG}v{i}" for i in range(3)]
    with IPRoute() as ipr:
        for name in names:
            ipr.link("add", ifname=name, kind="veth", peer=f"pwxov{TAG}p{names.index(name)}")
        try:
            yield names
        finally:
            for name in names:
                idx = ipr.link_lookup(ifname=name)
                if idx:
                    ipr.link("del", index=idx[0])


def test_bridge_is_created_idempotently_with_netdev_and_secure(ovsdb: Ovsdb) -> None:
    ovsdb.add_bridge(BRIDGE, external_ids={"prewire": "test"})
    ovsdb.add_bridge(BRIDGE)
    assert BRIDGE in ovsdb.list_bridges()
    assert vsctl("get", "Bridge", BRIDGE, "datapath_type") == "netdev"
    assert vsctl("get", "Bridge", BRIDGE, "fail_mode") == "secure"
    assert "OpenFlow13" in vsctl("get", "Bridge", BRIDGE, "protocols")
    assert ovsdb.bridge_external_ids(BRIDGE) == {"prewire": "test"}
    ovsdb.add_bridge(BRIDGE + "b")
    ovsdb.del_bridges([BRIDGE, BRIDGE + "b"])
    ovsdb.del_bridge(BRIDGE)
    assert BRIDGE not in ovsdb.list_bridges()
    assert BRIDGE + "b" not in ovsdb.list_bridges()
    assert not ovsdb.bridge_exists(BRIDGE)


def test_ports_are_added_in_one_call_with_ofports(ovsdb: Ovsdb, veths: list[str]) -> None:
    ovsdb.add_bridge(BRIDGE)
    ofports = ovsdb.add_ports(BRIDGE, veths)
    assert sorted(ofports) == sorted(veths)
    assert all(p > 0 for p in ofports.values())
    assert len(set(ofports.values())) == len(veths)
    assert ovsdb.add_ports(BRIDGE, veths) == ofports
    assert ovsdb.list_ports(BRIDGE) == sorted(veths)
    assert ovsdb.ofports(BRIDGE) == ofports
    for name, ofport in ofports.items():
        assert vsctl("get", "Interface", name, "ofport") == str(ofport)
    ovsdb.set_interface_external_ids(veths[1], {"prewire-role": "trunk"})
    assert ovsdb.interface_external_ids(veths[1]) == {"prewire-role": "trunk"}
    assert vsctl("get", "Interface", veths[1], "external_ids:prewire-role") == "trunk"
    ovsdb.del_ports(BRIDGE, [veths[0], "pwxnotaport"])
    ovsdb.del_ports(BRIDGE, [veths[0]])
    assert ovsdb.list_ports(BRIDGE) == sorted(veths[1:])


def test_missing_interface_is_an_error_and_leaves_no_port(ovsdb: Ovsdb) -> None:
    ovsdb.add_bridge(BRIDGE)
    with pytest.raises(KernelError, match=f"pwx{TAG}none"):
        ovsdb.add_ports(BRIDGE, [f"pwx{TAG}none"])
    assert ovsdb.list_ports(BRIDGE) == []


def test_missing_bridge_is_not_found(ovsdb: Ovsdb) -> None:
    with pytest.raises(NotFound):
        ovsdb.list_ports(BRIDGE)
    with pytest.raises(NotFound):
        ovsdb.add_ports(BRIDGE, ["x"])
    ovsdb.del_ports(BRIDGE, ["x"])


def test_controller_targets_are_set_and_cleared(ovsdb: Ovsdb) -> None:
    ovsdb.add_bridge(BRIDGE)
    target = f"punix:/tmp/pwx{TAG}.sock"
    ovsdb.set_controller(BRIDGE, [target])
    ovsdb.set_controller(BRIDGE, [target])
    assert ovsdb.get_controller(BRIDGE) == [target]
    assert vsctl("get-controller", BRIDGE) == target
    ovsdb.set_controller(BRIDGE, [])
    assert ovsdb.get_controller(BRIDGE) == []


def test_fifty_ports_in_one_transaction(ovsdb: Ovsdb) -> None:
    names = [f"pwxo{TAG}b{i}" for i in range(50)]
    with IPRoute() as ipr:
        try:
            for i, name in enumerate(names):
                ipr.link("add", ifname=name, kind="veth", peer=f"pwxo{TAG}c{i}")
            ovsdb.add_bridge(BRIDGE)
            ofports = ovsdb.add_ports(BRIDGE, names)
            assert sorted(ofports) == sorted(names)
            assert len(set(ofports.values())) == 50
            ovsdb.del_ports(BRIDGE, names)
            assert ovsdb.list_ports(BRIDGE) == []
        finally:
            for name in names:
                idx = ipr.link_lookup(ifname=name)
                if idx:
                    ipr.link("del", index=idx[0])
