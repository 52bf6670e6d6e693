"""The server vswitch's flow mods and its RARP announcement, without a bridge."""

from __future__ import annotations

import asyncio

import pytest

from prewire.errors import InvalidInput
from prewire.openflow import codec
from prewire.openflow.codec import Match
from prewire.vswitch.server import Attachment, ServerVSwitch, rarp_frame

MAC = "02:00:00:00:00:0a"


def test_rarp_announcement() -> None:
    frame = rarp_frame(MAC)
    assert len(frame) == 60
    parsed = codec.parse_frame(frame)
    assert parsed == codec.Frame("ff:ff:ff:ff:ff:ff", MAC, 0, 0x8035)


def test_port_and_vlan_flows() -> None:
    vs = ServerVSwitch("pwxswu", 1, rundir="/nonexistent", announce_interval=0)
    tag, untag = (codec.parse_flow_mod(m[8:]) for m in vs._port_msgs(Attachment(5, MAC, 100)))
    assert tag.match == Match(in_port=5, eth_src=MAC) and tag.table_id == 0
    assert untag.match == Match(vlan_vid=100, eth_dst=MAC) and untag.output_ports() == [5]
    vs._ports = {
        (5, MAC): Attachment(5, MAC, 100),
        (6, "02:00:00:00:00:0b"): Attachment(6, "02:00:00:00:00:0b", 100),
    }
    flood, remote = (codec.parse_flow_mod(m[8:]) for m in vs._vlan_msgs(100))
    assert flood.output_ports() == [1, 5, 6] and remote.output_ports() == [1]
    assert all(codec.parse_flow_mod(m[8:]).command == codec.DELETE_STRICT for m in vs._vlan_msgs(200))
    alone = ServerVSwitch("pwxswu", 0, rundir="/nonexistent", announce_interval=0)
    alone._ports = dict(vs._ports)
    (local,) = (codec.parse_flow_mod(m[8:]) for m in alone._vlan_msgs(100))
    assert local.output_ports() == [5, 6]


def test_bad_attach_is_rejected_before_any_io() -> None:
    vs = ServerVSwitch("pwxswu", 1, rundir="/nonexistent", announce_interval=0)
    for ofport, vlan in [(5, 0), (5, 4095), (1, 100), (0, 100)]:
        with pytest.raises(InvalidInput):
            asyncio.run(vs.attach(ofport, MAC, vlan))


def test_containers_sharing_a_vlan_port_rewrite_the_flood_flow_only_when_the_port_set_changes() -> None:
    vs = ServerVSwitch("pwxswu", 1, rundir="/nonexistent", announce_interval=0)
    vs._ports[(5, MAC)] = Attachment(5, MAC, 100)
    before = vs._vlan_ports(100)
    vs._ports[(5, "02:00:00:00:00:0b")] = Attachment(5, "02:00:00:00:00:0b", 100)
    assert vs._vlan_ports(100) == before == {5}
    msgs = vs._detach_msgs(Attachment(5, MAC, 100))
    assert len(msgs) == 2  # the MAC's own two flows; the VLAN still has port 5
    msgs = vs._detach_msgs(Attachment(5, "02:00:00:00:00:0b", 100))
    assert len(msgs) == 4  # ... and with the last MAC the VLAN's flood/remote flows go too
