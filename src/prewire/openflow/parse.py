"""Parsing of the switch-to-controller messages prewire reads (and of flow mods, for tests)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from prewire.openflow.match import (
    HEADER,
    Match,
    mac_str,
    parse_match,
)


@dataclass(frozen=True)
class Features:
    datapath_id: int
    n_buffers: int
    n_tables: int


@dataclass(frozen=True)
class PacketIn:
    reason: int
    table_id: int
    cookie: int
    match: Match
    data: bytes

    @property
    def in_port(self) -> int:
        return self.match.in_port or 0


@dataclass(frozen=True)
class FlowRemoved:
    cookie: int
    priority: int
    reason: int
    table_id: int
    match: Match


@dataclass(frozen=True)
class FlowStats:
    table_id: int
    priority: int
    idle_timeout: int
    hard_timeout: int
    cookie: int
    match: Match
    packet_count: int = 0


@dataclass(frozen=True)
class PortDesc:
    port_no: int
    name: str
    hw_addr: str


@dataclass(frozen=True)
class OFError:
    type: int
    code: int
    data: bytes = field(default=b"", repr=False)

    def __str__(self) -> str:
        return f"OpenFlow error type {self.type} code {self.code}"


def parse_header(data: bytes) -> tuple[int, int, int, int]:
    """(version, type, length, xid)."""
    return HEADER.unpack_from(data)  # type: ignore[return-value]


def parse_features(body: bytes) -> Features:
    dpid, n_buffers, n_tables = struct.unpack_from("!QIB", body)
    return Features(dpid, n_buffers, n_tables)


def parse_packet_in(body: bytes) -> PacketIn:
    _buffer_id, _total_len, reason, table_id, cookie = struct.unpack_from("!IHBBQ", body)
    match, pos = parse_match(body, 16)
    return PacketIn(reason, table_id, cookie, match, body[pos + 2 :])


def parse_flow_removed(body: bytes) -> FlowRemoved:
    cookie, priority, reason, table_id = struct.unpack_from("!QHBB", body)
    match, _ = parse_match(body, 40)
    return FlowRemoved(cookie, priority, reason, table_id, match)


@dataclass(frozen=True)
class FlowMod:
    command: int
    table_id: int
    priority: int
    cookie: int
    idle_timeout: int
    hard_timeout: int
    flags: int
    match: Match
    instructions: bytes = field(repr=False)

    def output_ports(self) -> list[int]:
        """Ports of the output actions in apply-actions instructions, in order."""
        ports, pos, ins = [], 0, self.instructions
        while pos + 4 <= len(ins):
            itype, ilen = struct.unpack_from("!HH", ins, pos)
            if itype == 4:
                apos = pos + 8
                while apos < pos + ilen:
                    atype, alen = struct.unpack_from("!HH", ins, apos)
                    if atype == 0:
                        ports.append(struct.unpack_from("!I", ins, apos + 4)[0])
                    apos += alen
            pos += ilen
        return ports


def parse_flow_mod(body: bytes) -> FlowMod:
    """Parse a flow_mod body (after the header): used to check what a controller sends."""
    cookie, _mask, table_id, command, idle, hard, priority, _buf, _op, _og, flags = struct.unpack_from(
        "!QQBBHHHIIIH", body
    )
    match, pos = parse_match(body, 40)
    return FlowMod(command, table_id, priority, cookie, idle, hard, flags, match, body[pos:])


def parse_error(body: bytes) -> OFError:
    etype, code = struct.unpack_from("!HH", body)
    return OFError(etype, code, body[4:])


def parse_multipart(body: bytes) -> tuple[int, int, bytes]:
    """(multipart type, flags, payload)."""
    mtype, flags = struct.unpack_from("!HH", body)
    return mtype, flags, body[8:]


def parse_flow_stats(payload: bytes) -> list[FlowStats]:
    result, pos = [], 0
    while pos + 56 <= len(payload):
        length, table_id = struct.unpack_from("!HB", payload, pos)
        priority, idle, hard, _flags = struct.unpack_from("!HHHH", payload, pos + 12)
        cookie, packets = struct.unpack_from("!QQ", payload, pos + 24)
        match, _ = parse_match(payload, pos + 48)
        result.append(FlowStats(table_id, priority, idle, hard, cookie, match, packets))
        pos += length
    return result


def parse_port_desc(payload: bytes) -> list[PortDesc]:
    result = []
    for pos in range(0, len(payload) - 63, 64):
        port_no = struct.unpack_from("!I", payload, pos)[0]
        hw = mac_str(payload[pos + 8 : pos + 14])
        name = payload[pos + 16 : pos + 32].split(b"\0", 1)[0].decode(errors="replace")
        result.append(PortDesc(port_no, name, hw))
    return result


def parse_port_status(body: bytes) -> tuple[int, PortDesc]:
    """(reason: 0 add, 1 delete, 2 modify; the port)."""
    return body[0], parse_port_desc(body[8:72])[0]


@dataclass(frozen=True)
class Frame:
    """The Ethernet header fields of a frame that prewire decides on."""

    eth_dst: str
    eth_src: str
    vlan: int  # 0: untagged
    ethertype: int


def parse_frame(data: bytes) -> Frame | None:
    if len(data) < 14:
        return None
    dst, src = mac_str(data[0:6]), mac_str(data[6:12])
    ethertype = struct.unpack_from("!H", data, 12)[0]
    vlan = 0
    if ethertype == 0x8100 and len(data) >= 18:
        vlan = struct.unpack_from("!H", data, 14)[0] & 0x0FFF
        ethertype = struct.unpack_from("!H", data, 16)[0]
    return Frame(dst, src, vlan, ethertype)


__all__ = [
    "Features",
    "FlowMod",
    "FlowRemoved",
    "FlowStats",
    "Frame",
    "OFError",
    "PacketIn",
    "PortDesc",
    "parse_error",
    "parse_features",
    "parse_flow_mod",
    "parse_flow_removed",
    "parse_flow_stats",
    "parse_frame",
    "parse_header",
    "parse_multipart",
    "parse_packet_in",
    "parse_port_desc",
    "parse_port_status",
]
