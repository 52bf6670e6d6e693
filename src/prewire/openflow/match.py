"""OpenFlow 1.3 basics: constants, header, MAC helpers and the OXM match."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from prewire.errors import InvalidInput

VERSION = 4
HEADER = struct.Struct("!BBHI")

# message types
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY = 0, 1, 2, 3
FEATURES_REQUEST, FEATURES_REPLY, SET_CONFIG = 5, 6, 9
PACKET_IN, FLOW_REMOVED, PORT_STATUS, PACKET_OUT, FLOW_MOD = 10, 11, 12, 13, 14
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21
SET_ASYNC = 28
METER_MOD = 29

# flow_mod commands and flags
ADD, MODIFY, MODIFY_STRICT, DELETE, DELETE_STRICT = 0, 1, 2, 3, 4
FF_SEND_FLOW_REM = 1

# reserved ports
OFPP_MAX = 0xFFFFFF00
IN_PORT, TABLE, NORMAL, FLOOD, ALL = 0xFFFFFFF8, 0xFFFFFFF9, 0xFFFFFFFA, 0xFFFFFFFB, 0xFFFFFFFC
CONTROLLER, LOCAL, ANY = 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF
NO_BUFFER = 0xFFFFFFFF
OFPCML_NO_BUFFER = 0xFFFF

# OXM fields (class OPENFLOW_BASIC)
OXM_CLASS = 0x8000
IN_PORT_F, ETH_DST_F, ETH_SRC_F, ETH_TYPE_F, VLAN_VID_F = 0, 3, 4, 5, 6
VID_PRESENT = 0x1000
_OXM_LEN = {IN_PORT_F: 4, ETH_DST_F: 6, ETH_SRC_F: 6, ETH_TYPE_F: 2, VLAN_VID_F: 2}
_OXM_NAME = {
    IN_PORT_F: "in_port",
    ETH_DST_F: "eth_dst",
    ETH_SRC_F: "eth_src",
    ETH_TYPE_F: "eth_type",
    VLAN_VID_F: "vlan_vid",
}
_OXM_FIELD = {v: k for k, v in _OXM_NAME.items()}

# multipart types
MP_FLOW, MP_PORT_DESC = 1, 13
MP_REPLY_MORE = 1


def mac_bytes(mac: str) -> bytes:
    try:
        raw = bytes(int(part, 16) for part in mac.split(":"))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise InvalidInput(f"malformed MAC address {mac!r}; use aa:bb:cc:dd:ee:ff")
    return raw


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def message(msg_type: int, body: bytes = b"", xid: int = 0) -> bytes:
    return HEADER.pack(VERSION, msg_type, HEADER.size + len(body), xid) + body


def with_xid(msg: bytes, xid: int) -> bytes:
    return msg[:4] + struct.pack("!I", xid) + msg[8:]


# -- match --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """An OXM match on the fields prewire uses; `vlan_vid` is the VLAN id, 0 means 'untagged'."""

    in_port: int | None = None
    eth_dst: str | None = None
    eth_dst_mask: str | None = None
    eth_src: str | None = None
    eth_type: int | None = None
    vlan_vid: int | None = None

    def encode(self) -> bytes:
        oxms = b""
        if self.in_port is not None:
            oxms += oxm(IN_PORT_F, struct.pack("!I", self.in_port))
        if self.eth_dst is not None:
            mask = mac_bytes(self.eth_dst_mask) if self.eth_dst_mask else None
            oxms += oxm(ETH_DST_F, mac_bytes(self.eth_dst), mask)
        if self.eth_src is not None:
            oxms += oxm(ETH_SRC_F, mac_bytes(self.eth_src))
        if self.eth_type is not None:
            oxms += oxm(ETH_TYPE_F, struct.pack("!H", self.eth_type))
        if self.vlan_vid is not None:
            vid = self.vlan_vid | VID_PRESENT if self.vlan_vid else 0
            oxms += oxm(VLAN_VID_F, struct.pack("!H", vid))
        return pad8(struct.pack("!HH", 1, 4 + len(oxms)) + oxms)


def oxm(fld: int, value: bytes, mask: bytes | None = None) -> bytes:
    payload = value + (mask or b"")
    return struct.pack("!HBB", OXM_CLASS, (fld << 1) | (1 if mask else 0), len(payload)) + payload


def parse_match(data: bytes, offset: int = 0) -> tuple[Match, int]:
    """Parse an ofp_match at `offset`; returns the match and the offset after its padding."""
    mtype, length = struct.unpack_from("!HH", data, offset)
    if mtype != 1:
        raise InvalidInput(f"unsupported OpenFlow match type {mtype}")
    values: dict[str, object] = {}
    pos, end = offset + 4, offset + length
    while pos + 4 <= end:
        cls, fb, ln = struct.unpack_from("!HBB", data, pos)
        value = data[pos + 4 : pos + 4 + ln]
        fld, has_mask = fb >> 1, fb & 1
        pos += 4 + ln
        if cls != OXM_CLASS or fld not in _OXM_NAME:
            continue
        size = _OXM_LEN[fld]
        raw = value[:size]
        if fld in (ETH_DST_F, ETH_SRC_F):
            values[_OXM_NAME[fld]] = mac_str(raw)
            if has_mask and fld == ETH_DST_F:
                values["eth_dst_mask"] = mac_str(value[size:])
        elif fld == VLAN_VID_F:
            values["vlan_vid"] = struct.unpack("!H", raw)[0] & 0x0FFF
        else:
            values[_OXM_NAME[fld]] = int.from_bytes(raw, "big")
    return Match(**values), offset + length + (-length % 8)  # type: ignore[arg-type]


__all__ = [
    "ADD",
    "ALL",
    "ANY",
    "BARRIER_REPLY",
    "BARRIER_REQUEST",
    "CONTROLLER",
    "DELETE",
    "DELETE_STRICT",
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ERROR",
    "ETH_DST_F",
    "ETH_SRC_F",
    "ETH_TYPE_F",
    "FEATURES_REPLY",
    "FEATURES_REQUEST",
    "FF_SEND_FLOW_REM",
    "FLOOD",
    "FLOW_MOD",
    "FLOW_REMOVED",
    "HEADER",
    "HELLO",
    "IN_PORT",
    "IN_PORT_F",
    "LOCAL",
    "METER_MOD",
    "MODIFY",
    "MODIFY_STRICT",
    "MP_FLOW",
    "MP_PORT_DESC",
    "MP_REPLY_MORE",
    "MULTIPART_REPLY",
    "MULTIPART_REQUEST",
    "NORMAL",
    "NO_BUFFER",
    "OFPCML_NO_BUFFER",
    "OFPP_MAX",
    "OXM_CLASS",
    "PACKET_IN",
    "PACKET_OUT",
    "PORT_STATUS",
    "SET_ASYNC",
    "SET_CONFIG",
    "TABLE",
    "VERSION",
    "VID_PRESENT",
    "VLAN_VID_F",
    "Match",
    "mac_bytes",
    "mac_str",
    "message",
    "oxm",
    "pad8",
    "parse_match",
    "with_xid",
]
