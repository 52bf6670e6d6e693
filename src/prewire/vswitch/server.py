"""A server's virtual switch: the tenant VLAN of each container port, through OpenFlow only.

Pipeline (cookies carry the VLAN and port so a restarted agent reads its attachments back):
  table 0  in_port=P,eth_src=MAC -> push VLAN V, goto 1   | in_port=uplink -> goto 1 | miss: drop
  table 1  vlan=V,eth_dst=MAC -> pop, output P             (known local container)
           vlan=V,eth_dst=multicast -> uplink + pop + every local port of V   (flood; OVS skips in_port)
           vlan=V -> uplink                                (remote unicast)      | miss: drop
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from dataclasses import dataclass

from prewire.errors import InvalidInput, PrewireError
from prewire.openflow import OFConnection, codec
from prewire.openflow.codec import Match

log = logging.getLogger(__name__)
OVS_RUNDIR = "/var/run/openvswitch"
KIND_BASE, KIND_PORT, KIND_VLAN = 1, 2, 3
MULTICAST = "01:00:00:00:00:00"
cookie = codec.pw_cookie


def rarp_frame(mac: str) -> bytes:
    """A RARP announcement from `mac` (what hypervisors send so that switches learn a moved MAC)."""
    raw = codec.mac_bytes(mac)
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + raw + bytes(4) + raw + bytes(4)
    return (b"\xff" * 6 + raw + struct.pack("!H", 0x8035) + body).ljust(60, b"\0")


LEAVE_ETHERTYPE = 0x88B5  # must match prewire.switchagent.ampp.LEAVE_ETHERTYPE (kept apart: no import)


def leave_frame(mac: str) -> bytes:
    """'This MAC left the port' (a VDP de-associate): the ToR prunes the MAC's VLAN from the port now."""
    raw = codec.mac_bytes(mac)
    return (b"\xff" * 6 + raw + struct.pack("!H", LEAVE_ETHERTYPE) + b"prewire-leave").ljust(60, b"\0")


@dataclass(frozen=True, order=True)
class Attachment:
    ofport: int
    mac: str
    vlan: int


class ServerVSwitch:
    """OpenFlow client of one server bridge (`<rundir>/<bridge>.mgmt`); attach/detach are flow mods.

    `uplink_ofport` 0 means a server without uplink (local switching only).  Every `announce_interval`
    seconds (0: never) the attached MACs are re-announced on the uplink so that the ToR does not age
    out containers that only listen; keep it well under the ToR's ageing time (default 300 s)."""

    def __init__(
        self, bridge: str, uplink_ofport: int, rundir: str = OVS_RUNDIR, announce_interval: float = 100.0
    ) -> None:
        self.bridge = bridge
        self.uplink = uplink_ofport
        self.path = os.path.join(rundir, f"{bridge}.mgmt")
        self.announce_interval = announce_interval
        self._conn: OFConnection | None = None
        # (ofport, MAC) -> attachment: containers of one VLAN share that VLAN's port on this server (their
        # interfaces are macvlans of it), so a port carries many MACs and the flood flow of a VLAN only
        # changes when the VLAN gains or loses a port, not with every container (flat attach cost).
        self._ports: dict[tuple[int, str], Attachment] = {}
        self._lock = asyncio.Lock()
        self._announcer: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Open the channel and read back the attachments already installed (agent restart)."""
        self._conn = await OFConnection.open_unix(self.path)
        payload = await self._conn.multipart(
            codec.flow_stats_request(0, cookie(KIND_PORT), codec.COOKIE_KIND_MASK)
        )
        found = {}
        for flow in codec.parse_flow_stats(payload):
            m = flow.match
            if m.in_port is not None and m.eth_src is not None:
                found[(m.in_port, m.eth_src)] = Attachment(m.in_port, m.eth_src, (flow.cookie >> 32) & 0xFFF)
        self._ports = {**self._ports, **found}
        if self.announce_interval > 0 and self._announcer is None:
            self._announcer = asyncio.create_task(self._announce_loop())

    async def _channel(self) -> OFConnection:
        """The open channel; after a lost one (ovs-vswitchd restarted) reconnect and re-install."""
        if self._conn is not None and not self._conn.closed.is_set():
            return self._conn
        async with self._lock:
            if self._conn is None or self._conn.closed.is_set():
                log.warning("reconnecting to the OpenFlow socket of %s", self.bridge)
                await self.connect()
                assert self._conn is not None
                msgs = self._base_msgs()
                for vlan in sorted({a.vlan for a in self._ports.values()}):
                    msgs += [m for a in self._ports.values() if a.vlan == vlan for m in self._port_msgs(a)]
                    msgs += self._vlan_msgs(vlan)
                await self._conn.transact(msgs)
            return self._conn

    def _base_msgs(self) -> list[bytes]:
        base = cookie(KIND_BASE)
        msgs = [
            codec.flow_mod(codec.ADD, Match(), table_id=0, priority=0, cookie=base),
            codec.flow_mod(codec.ADD, Match(), table_id=1, priority=0, cookie=base),
            # only the agent (packet-out) may say that a MAC left: containers cannot forge it
            codec.flow_mod(codec.ADD, Match(eth_type=LEAVE_ETHERTYPE), table_id=0, priority=200, cookie=base),
        ]
        if self.uplink > 0:
            msgs.append(
                codec.flow_mod(
                    codec.ADD,
                    Match(in_port=self.uplink),
                    [codec.goto_table(1)],
                    table_id=0,
                    priority=50,
                    cookie=base,
                )
            )
        return msgs

    async def install_base_flows(self) -> None:
        await (await self._channel()).transact(self._base_msgs())

    def attachments(self) -> list[Attachment]:
        return sorted(self._ports.values())

    async def attach(self, ofport: int, mac: str, vlan: int, announce: bool = True) -> None:
        """Put port `ofport` (container MAC `mac`) on VLAN `vlan`: hot path, flow mods only.

        With `announce`, a tagged RARP from the MAC goes out of the uplink right away, so the ToR (AMPP)
        admits the VLAN on the uplink before the container sends its first frame."""
        if not 1 <= vlan <= 4094:
            raise InvalidInput(f"VLAN {vlan} is outside 1-4094")
        if ofport == self.uplink or ofport <= 0:
            raise InvalidInput(f"ofport {ofport} is not a container port of {self.bridge}")
        att = Attachment(ofport, codec.mac_str(codec.mac_bytes(mac)), vlan)
        conn = await self._channel()
        msgs: list[bytes] = []
        for old in [a for a in self._ports.values() if a.mac == att.mac and a != att]:  # the MAC moved
            msgs += self._detach_msgs(old)
        before = self._vlan_ports(vlan)
        self._ports[(ofport, att.mac)] = att
        msgs += self._port_msgs(att)
        if self._vlan_ports(vlan) != before:
            msgs += self._vlan_msgs(vlan)
        if announce and self.uplink > 0:
            msgs.append(self._announce_msg(att))
        await conn.transact(msgs)

    async def detach(self, ofport: int, mac: str, vlan: int) -> None:
        """Take port `ofport` off its VLAN; its frames are dropped afterwards.  Idempotent."""
        att = self._ports.get((ofport, codec.mac_str(codec.mac_bytes(mac))))
        if att is None:
            return
        conn = await self._channel()
        msgs = self._detach_msgs(att)
        if self.uplink > 0:
            tag = [codec.push_vlan(), codec.set_vlan_vid(att.vlan), codec.output(self.uplink)]
            msgs.append(codec.packet_out(leave_frame(att.mac), tag))
        await conn.transact(msgs)

    async def announce(self) -> None:
        """Re-announce every attached MAC on the uplink."""
        if self.uplink > 0 and self._ports:
            conn = await self._channel()
            await conn.transact([self._announce_msg(a) for a in self.attachments()])

    async def _announce_loop(self) -> None:
        while True:
            await asyncio.sleep(self.announce_interval)
            try:
                await self.announce()
            except PrewireError as exc:
                log.warning("announcing the MACs of %s: %s", self.bridge, exc.message)

    def _announce_msg(self, att: Attachment) -> bytes:
        actions = [codec.push_vlan(), codec.set_vlan_vid(att.vlan), codec.output(self.uplink)]
        return codec.packet_out(rarp_frame(att.mac), actions)

    @staticmethod
    def _port_msgs(att: Attachment) -> list[bytes]:
        ck = cookie(KIND_PORT, att.vlan, att.ofport)
        tag = [codec.apply_actions([codec.push_vlan(), codec.set_vlan_vid(att.vlan)]), codec.goto_table(1)]
        untag = [codec.apply_actions([codec.pop_vlan(), codec.output(att.ofport)])]
        return [
            codec.flow_mod(
                codec.ADD,
                Match(in_port=att.ofport, eth_src=att.mac),
                tag,
                table_id=0,
                priority=100,
                cookie=ck,
            ),
            codec.flow_mod(
                codec.ADD,
                Match(vlan_vid=att.vlan, eth_dst=att.mac),
                untag,
                table_id=1,
                priority=100,
                cookie=ck,
            ),
        ]

    def _vlan_ports(self, vlan: int) -> set[int]:
        return {a.ofport for a in self._ports.values() if a.vlan == vlan}

    def _detach_msgs(self, att: Attachment) -> list[bytes]:
        before = self._vlan_ports(att.vlan)
        self._ports.pop((att.ofport, att.mac), None)
        flood = self._vlan_msgs(att.vlan) if self._vlan_ports(att.vlan) != before else []
        return [
            codec.flow_mod(
                codec.DELETE_STRICT, Match(in_port=att.ofport, eth_src=att.mac), table_id=0, priority=100
            ),
            codec.flow_mod(
                codec.DELETE_STRICT, Match(vlan_vid=att.vlan, eth_dst=att.mac), table_id=1, priority=100
            ),
            *flood,
        ]

    def _vlan_msgs(self, vlan: int) -> list[bytes]:
        """The VLAN's flood and remote-unicast flows for its current local ports (none: delete)."""
        flood_match = Match(vlan_vid=vlan, eth_dst=MULTICAST, eth_dst_mask=MULTICAST)
        local = sorted(a.ofport for a in self._ports.values() if a.vlan == vlan)
        if not local:
            return [
                codec.flow_mod(codec.DELETE_STRICT, flood_match, table_id=1, priority=20),
                codec.flow_mod(codec.DELETE_STRICT, Match(vlan_vid=vlan), table_id=1, priority=10),
            ]
        up = [codec.output(self.uplink)] if self.uplink > 0 else []
        flood = [codec.apply_actions([*up, codec.pop_vlan(), *(codec.output(p) for p in local)])]
        ck = cookie(KIND_VLAN, vlan)
        msgs = [codec.flow_mod(codec.ADD, flood_match, flood, table_id=1, priority=20, cookie=ck)]
        if up:
            msgs.append(
                codec.flow_mod(
                    codec.ADD,
                    Match(vlan_vid=vlan),
                    [codec.apply_actions(up)],
                    table_id=1,
                    priority=10,
                    cookie=ck,
                )
            )
        return msgs

    async def close(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcer
            self._announcer = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
