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
    tag = codec.parse_flow_mod(vs._port_flow(5, 100)[8:])
    assert tag.match == Match(in_port=5) and tag.table_id == 0
    vs._port_vlan = {5: 100, 6: 100, 7: 200}
    (flood,) = (codec.parse_flow_mod(m[8:]) for m in vs._vlan_msgs(100))
    assert flood.match == Match(vlan_vid=100) and flood.output_ports() == [1, 5, 6]
    assert all(codec.parse_flow_mod(m[8:]).command == codec.DELETE_STRICT for m in vs._vlan_msgs(300))
    alone = ServerVSwitch("pwxswu", 0, rundir="/nonexistent", announce_interval=0)
    alone._port_vlan = dict(vs._port_vlan)
    (local,) = (codec.parse_flow_mod(m[8:]) for m in alone._vlan_msgs(100))
    assert local.output_ports() == [5, 6]


def test_bad_attach_is_rejected_before_any_io() -> None:
    vs = ServerVSwitch("pwxswu", 1, rundir="/nonexistent", announce_interval=0)
    for ofport, vlan in [(5, 0), (5, 4095), (1, 100), (0, 100)]:
        with pytest.raises(InvalidInput):
            asyncio.run(vs.attach(ofport, MAC, vlan))


def test_only_a_port_joining_or_leaving_its_vlan_changes_flows() -> None:
    vs = ServerVSwitch("pwxswu", 1, rundir="/nonexistent", announce_interval=0)
    b = "02:00:00:00:00:0b"
    vs._macs = {(5, MAC): Attachment(5, MAC, 100), (5, b): Attachment(5, b, 100)}
    vs._port_vlan = {5: 100}
    assert vs._forget(Attachment(5, MAC, 100)) == []  # port 5 still carries b: no flow changes
    msgs = vs._forget(Attachment(5, b, 100))
    assert len(msgs) == 2  # the last MAC: the port flow and the VLAN flow go
    assert vs.ports() == {}
