"""A minimal OpenFlow 1.3 codec: the messages prewire needs, built and parsed with `struct`.

Builders return complete messages with xid 0; the connection stamps the xid (`with_xid`).  Basics live
in `match`, parsers in `parse`; both are re-exported here so callers only import `codec`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from prewire.openflow.match import *  # noqa: F403  (re-exported: constants, Match, MAC helpers)
from prewire.openflow.match import (
    ANY,
    BARRIER_REQUEST,
    CONTROLLER,
    ECHO_REPLY,
    ECHO_REQUEST,
    FEATURES_REQUEST,
    FLOW_MOD,
    HELLO,
    METER_MOD,
    MP_FLOW,
    MP_PORT_DESC,
    MULTIPART_REQUEST,
    NO_BUFFER,
    OFPCML_NO_BUFFER,
    PACKET_OUT,
    SET_ASYNC,
    SET_CONFIG,
    VERSION,
    VID_PRESENT,
    VLAN_VID_F,
    Match,
    message,
    oxm,
    pad8,
)
from prewire.openflow.parse import *  # noqa: F403  (re-exported: the parsers)


# -- actions and instructions -------------------------------------------------------------------------
def output(port: int, max_len: int = OFPCML_NO_BUFFER) -> bytes:
    return struct.pack("!HHIH6x", 0, 16, port, max_len)


def push_vlan(ethertype: int = 0x8100) -> bytes:
    return struct.pack("!HHH2x", 17, 8, ethertype)


def pop_vlan() -> bytes:
    return struct.pack("!HH4x", 18, 8)


def set_vlan_vid(vid: int) -> bytes:
    field = oxm(VLAN_VID_F, struct.pack("!H", vid | VID_PRESENT))
    body = pad8(struct.pack("!HH", 25, 0) + field)
    return body[:2] + struct.pack("!H", len(body)) + body[4:]


def apply_actions(actions: Sequence[bytes]) -> bytes:
    acts = b"".join(actions)
    return struct.pack("!HH4x", 4, 8 + len(acts)) + acts


def goto_table(table_id: int) -> bytes:
    return struct.pack("!HHB3x", 1, 8, table_id)


def meter(meter_id: int) -> bytes:
    """Instruction: pass the packet through meter `meter_id` first."""
    return struct.pack("!HHI", 6, 8, meter_id)


def meter_mod(meter_id: int, pps: int, burst: int, command: int = 0) -> bytes:
    """Add (command 0) or modify (1) a packets-per-second meter with one drop band."""
    band = struct.pack("!HHII4x", 1, 16, pps, burst)
    return message(METER_MOD, struct.pack("!HHI", command, 2 | 4, meter_id) + band)


# -- controller-to-switch messages --------------------------------------------------------------------
def hello() -> bytes:
    # version bitmap element: only OpenFlow 1.3
    return message(HELLO, struct.pack("!HHI", 1, 8, 1 << VERSION))


def echo_request(data: bytes = b"") -> bytes:
    return message(ECHO_REQUEST, data)


def echo_reply(data: bytes = b"") -> bytes:
    return message(ECHO_REPLY, data)


def features_request() -> bytes:
    return message(FEATURES_REQUEST)


def barrier_request() -> bytes:
    return message(BARRIER_REQUEST)


def set_config(miss_send_len: int = OFPCML_NO_BUFFER, flags: int = 0) -> bytes:
    return message(SET_CONFIG, struct.pack("!HH", flags, miss_send_len))


def set_async(packet_in: int = 0b111, port_status: int = 0b111, flow_removed: int = 0b1111) -> bytes:
    """Async config for a service connection: same masks as master and slave roles."""
    return message(
        SET_ASYNC,
        struct.pack("!6I", packet_in, packet_in, port_status, port_status, flow_removed, flow_removed),
    )


def flow_mod(
    command: int,
    match: Match,
    instructions: Sequence[bytes] = (),
    *,
    table_id: int = 0,
    priority: int = 0,
    cookie: int = 0,
    cookie_mask: int = 0,
    idle_timeout: int = 0,
    hard_timeout: int = 0,
    flags: int = 0,
    out_port: int = ANY,
) -> bytes:
    body = struct.pack(
        "!QQBBHHHIIIH2x",
        cookie,
        cookie_mask,
        table_id,
        command,
        idle_timeout,
        hard_timeout,
        priority,
        NO_BUFFER,
        out_port,
        ANY,
        flags,
    )
    return message(FLOW_MOD, body + match.encode() + b"".join(instructions))


def packet_out(data: bytes, actions: Sequence[bytes], in_port: int = CONTROLLER) -> bytes:
    acts = b"".join(actions)
    return message(PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, in_port, len(acts)) + acts + data)


def flow_stats_request(
    table_id: int = 0xFF, cookie: int = 0, cookie_mask: int = 0, match: Match | None = None
) -> bytes:
    body = struct.pack("!B3xII4xQQ", table_id, ANY, ANY, cookie, cookie_mask) + (match or Match()).encode()
    return message(MULTIPART_REQUEST, struct.pack("!HH4x", MP_FLOW, 0) + body)


def port_desc_request() -> bytes:
    return message(MULTIPART_REQUEST, struct.pack("!HH4x", MP_PORT_DESC, 0))


# -- prewire's cookie convention: 0x7077 prefix, a 4-bit kind, a 12-bit VLAN, a 32-bit port --------
COOKIE_PREFIX = 0x7077 << 48
COOKIE_KIND_MASK = 0xFFFF << 48 | 0xF << 44


def pw_cookie(kind: int, vlan: int = 0, port: int = 0) -> int:
    return COOKIE_PREFIX | kind << 44 | vlan << 32 | port


def pw_cookie_kind(value: int) -> int:
    return (value >> 44) & 0xF if value >> 48 == 0x7077 else 0
