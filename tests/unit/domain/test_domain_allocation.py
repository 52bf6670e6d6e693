"""Allocation rules: VLANs, subnets/IPs, MACs, watermarks (pure, no I/O)."""

from __future__ import annotations

import ipaddress

import pytest

from prewire.domain.allocation import (
    Subnet,
    VlanRange,
    choose_vlan,
    mac_for,
    normalize_mac,
    refill_amount,
)
from prewire.errors import Conflict, Exhausted, InvalidInput


def test_vlan_lowest_free_and_explicit() -> None:
    vr = VlanRange(100, 3999)
    assert choose_vlan([], vr) == 100
    assert choose_vlan([100, 101, 103], vr) == 102
    assert choose_vlan([100], vr, 200) == 200


@pytest.mark.parametrize("vid", [99, 4000, 0, 5000])
def test_vlan_out_of_range(vid: int) -> None:
    with pytest.raises(InvalidInput, match="outside the range"):
        choose_vlan([], VlanRange(), vid)


def test_vlan_taken_and_exhausted() -> None:
    with pytest.raises(Conflict, match="already used"):
        choose_vlan([150], VlanRange(), 150)
    with pytest.raises(Exhausted, match="no free VLAN"):
        choose_vlan([10, 11], VlanRange(10, 11))


@pytest.mark.parametrize("text", ["100", "a-b", "0-10", "10-5000", "20-10"])
def test_vlan_range_invalid(text: str) -> None:
    with pytest.raises(InvalidInput):
        VlanRange.parse(text)


def test_vlan_range_parse() -> None:
    assert VlanRange.parse("200-300") == VlanRange(200, 300)


@pytest.mark.parametrize(
    ("cidr", "gw"),
    [
        ("10.0.0.0/33", None),
        ("10.0.0.1/24", None),
        ("nonsense", None),
        ("fd00::/64", None),
        ("10.0.0.0/31", None),
        ("10.0.0.0/24", "10.0.1.1"),
        ("10.0.0.0/24", "10.0.0.0"),
        ("10.0.0.0/24", "10.0.0.255"),
        ("10.0.0.0/24", "x"),
    ],
)
def test_subnet_invalid(cidr: str, gw: str | None) -> None:
    with pytest.raises(InvalidInput):
        Subnet.parse(cidr, gw)


def test_subnet_never_hands_out_network_broadcast_gateway() -> None:
    sub = Subnet.parse("10.0.0.0/29", "10.0.0.1")
    assert sub.capacity == 5
    ips = sub.free_hosts([], 5)
    assert ips == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(Exhausted, match="only 5 free"):
        sub.free_hosts([], 6)
    assert sub.free_hosts(["10.0.0.2", "10.0.0.4"], 2) == ["10.0.0.3", "10.0.0.5"]
    assert sub.free_hosts([], 0) == []


def test_mac_locally_administered_unicast_unique() -> None:
    macs = {mac_for(0x5A, i) for i in range(2000)}
    assert len(macs) == 2000
    for mac in macs:
        first = int(mac[:2], 16)
        assert first & 0x02 and not first & 0x01
        assert normalize_mac(mac) == mac
    assert mac_for(1, 0) != mac_for(2, 0)
    with pytest.raises(Exhausted):
        mac_for(1, 1 << 32)


def test_normalize_mac() -> None:
    assert normalize_mac("02-AB-cd-00-00-01") == "02:ab:cd:00:00:01"
    for bad in ["", "02:ab", "zz:zz:zz:zz:zz:zz", "02:ab:cd:00:00:01:02"]:
        with pytest.raises(InvalidInput):
            normalize_mac(bad)


def test_refill_amount() -> None:
    assert refill_amount(free=20, low=16, target=64, capacity_left=1000) == 0
    assert refill_amount(free=15, low=16, target=64, capacity_left=1000) == 49
    assert refill_amount(free=0, low=16, target=64, capacity_left=10) == 10
    assert refill_amount(free=0, low=16, target=64, capacity_left=0) == 0


def test_overlapping_subnets_are_independent() -> None:
    a, b = Subnet.parse("10.0.0.0/24"), Subnet.parse("10.0.0.0/24")
    assert a.free_hosts([], 3) == b.free_hosts([], 3)
    assert ipaddress.IPv4Address(a.free_hosts([], 1)[0]) in b.network
