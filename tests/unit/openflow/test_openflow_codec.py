"""The OpenFlow 1.3 codec: wire layouts and round trips (no switch)."""

from __future__ import annotations

import struct

import pytest

from prewire.errors import InvalidInput
from prewire.openflow import codec
from prewire.openflow.codec import Match


def test_header_and_xid() -> None:
    msg = codec.with_xid(codec.barrier_request(), 7)
    assert codec.parse_header(msg) == (4, codec.BARRIER_REQUEST, 8, 7)
    assert codec.hello() == bytes.fromhex("04000010000000000001000800000010")


def test_match_round_trip_and_padding() -> None:
    match = Match(
        in_port=3,
        eth_dst="01:00:00:00:00:00",
        eth_dst_mask="01:00:00:00:00:00",
        eth_src="02:00:00:00:00:01",
        eth_type=0x0806,
        vlan_vid=100,
    )
    raw = match.encode()
    assert len(raw) % 8 == 0
    parsed, end = codec.parse_match(raw)
    assert parsed == match and end == len(raw)
    # vlan_vid carries OFPVID_PRESENT on the wire; 0 means "no VLAN" (matches untagged frames)
    assert struct.unpack_from("!H", Match(vlan_vid=100).encode(), 8)[0] == 0x1000 | 100
    assert struct.unpack_from("!H", Match(vlan_vid=0).encode(), 8)[0] == 0
    assert Match().encode() == bytes.fromhex("0001000400000000")


def test_bad_mac_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        Match(eth_src="02:00:00:00:01").encode()


def test_flow_mod_layout_round_trip() -> None:
    msg = codec.flow_mod(
        codec.ADD,
        Match(in_port=1, eth_src="02:00:00:00:00:01"),
        [
            codec.apply_actions(
                [
                    codec.push_vlan(),
                    codec.set_vlan_vid(100),
                    codec.output(2),
                    codec.pop_vlan(),
                    codec.output(codec.CONTROLLER),
                ]
            ),
            codec.goto_table(1),
        ],
        table_id=0,
        priority=100,
        cookie=codec.pw_cookie(4, 100, 1),
        idle_timeout=30,
        flags=codec.FF_SEND_FLOW_REM,
    )
    version, mtype, length, _xid = codec.parse_header(msg)
    assert (version, mtype, length) == (4, codec.FLOW_MOD, len(msg))
    fm = codec.parse_flow_mod(msg[8:])
    assert (fm.command, fm.table_id, fm.priority, fm.idle_timeout, fm.flags) == (0, 0, 100, 30, 1)
    assert fm.match == Match(in_port=1, eth_src="02:00:00:00:00:01")
    assert fm.output_ports() == [2, codec.CONTROLLER]
    assert codec.pw_cookie_kind(fm.cookie) == 4 and fm.cookie & 0xFFFFFFFF == 1
    assert len(codec.set_vlan_vid(5)) == 16 and len(codec.output(1)) == 16 and len(codec.push_vlan()) == 8


def test_delete_strict_uses_any_port_and_group() -> None:
    msg = codec.flow_mod(codec.DELETE_STRICT, Match(vlan_vid=7), table_id=1, priority=10)
    out_port, out_group = struct.unpack_from("!II", msg, 8 + 28)
    assert (out_port, out_group) == (codec.ANY, codec.ANY)
    assert codec.parse_flow_mod(msg[8:]).command == codec.DELETE_STRICT


def _frame(vlan: int = 100) -> bytes:
    dst, src = bytes.fromhex("ffffffffffff"), bytes.fromhex("020000000001")
    tag = struct.pack("!HH", 0x8100, vlan) if vlan else b""
    return dst + src + tag + struct.pack("!H", 0x0806) + bytes(28)


def test_packet_in_and_frame() -> None:
    body = (
        struct.pack("!IHBBQ", codec.NO_BUFFER, 64, 0, 0, 0) + Match(in_port=5).encode() + b"\0\0" + _frame()
    )
    pin = codec.parse_packet_in(body)
    assert pin.in_port == 5 and pin.data == _frame()
    frame = codec.parse_frame(pin.data)
    assert frame == codec.Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 100, 0x0806)
    assert codec.parse_frame(_frame(0)) == codec.Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0, 0x0806)
    assert codec.parse_frame(b"short") is None


def test_flow_removed_stats_and_port_desc() -> None:
    match = Match(in_port=2, eth_src="02:00:00:00:00:02", vlan_vid=9)
    fr = struct.pack("!QHBBIIHHQQ", 42, 100, 0, 0, 1, 0, 30, 0, 5, 500) + match.encode()
    removed = codec.parse_flow_removed(fr)
    assert (removed.cookie, removed.priority, removed.reason, removed.match) == (42, 100, 0, match)

    inst = codec.goto_table(1)
    m = match.encode()
    entry = struct.pack("!HBxIIHHHH4xQQQ", 48 + len(m) + len(inst), 0, 1, 0, 100, 30, 0, 1, 42, 7, 700)
    stats = codec.parse_flow_stats((entry + m + inst) * 2)
    assert (
        len(stats) == 2 and stats[0].match == match and stats[0].cookie == 42 and stats[0].idle_timeout == 30
    )

    port = struct.pack("!I4x6s2x16s", 3, bytes(6), b"pwu0t") + bytes(32)
    assert codec.parse_port_desc(port) == [codec.PortDesc(3, "pwu0t", "00:00:00:00:00:00")]


def test_packet_out_and_requests() -> None:
    msg = codec.packet_out(b"x" * 60, [codec.output(codec.TABLE)], in_port=4)
    buffer_id, in_port, alen = struct.unpack_from("!IIH", msg, 8)
    assert (buffer_id, in_port, alen) == (codec.NO_BUFFER, 4, 16) and msg.endswith(b"x" * 60)
    assert struct.unpack_from("!HH", codec.port_desc_request(), 8) == (codec.MP_PORT_DESC, 0)
    assert struct.unpack_from("!HH", codec.set_config(), 8) == (0, 0xFFFF)
    assert len(codec.set_async()) == 8 + 24
    assert codec.parse_error(struct.pack("!HH", 5, 1) + b"x") == codec.OFError(5, 1, b"x")


def test_port_status() -> None:
    port = struct.pack("!I4x6s2x16s", 3, bytes(6), b"pwu0t") + bytes(32)
    assert codec.parse_port_status(bytes([1]) + bytes(7) + port) == (
        1,
        codec.PortDesc(3, "pwu0t", "00:00:00:00:00:00"),
    )


def test_meter_mod() -> None:
    msg = codec.meter_mod(1, 5000, 100)
    assert codec.parse_header(msg)[1:3] == (codec.METER_MOD, 32)
    assert struct.unpack_from("!HHIHHII", msg, 8) == (0, 6, 1, 1, 16, 5000, 100)
