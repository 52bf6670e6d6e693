"""A server's virtual switch: the tenant VLAN of each pre-wired port, through OpenFlow only.

A port carries one VLAN; every container of that VLAN on this server is a macvlan of the port (see
docs/agent.md), so the vswitch is a VLAN access switch per port and the ToR enforces which MAC may use
which VLAN (AMPP).  Pipeline (cookies carry the VLAN and port, so a restarted agent reads the ports back):
  table 0  eth_type=leave -> drop (only the agent may say a MAC left)
           in_port=P -> push VLAN V, goto 1                  | in_port=uplink -> goto 1 | miss: drop
  table 1  vlan=V -> uplink + pop + every local port of V     (OVS never sends a frame back to in_port)
Attaching a MAC to a port that already carries its VLAN changes no flow at all: the hot path only sends
the MAC's announcement (a tagged RARP, so the ToR admits it before the container speaks).  Flow mods
happen when a VLAN gains or loses a port on this server, i.e. once per VLAN, not per container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import Collection
from dataclasses import dataclass

from prewire.errors import InvalidInput, PrewireError, Unavailable
from prewire.openflow import OFConnection, codec
from prewire.openflow.codec import Match

log = logging.getLogger(__name__)
OVS_RUNDIR = "/var/run/openvswitch"
KIND_BASE, KIND_PORT, KIND_VLAN = 1, 2, 3
LEAVE_ETHERTYPE = 0x88B5  # must match prewire.switchagent.ampp.LEAVE_ETHERTYPE (kept apart: no import)
PRIO_PORT, PRIO_UPLINK, PRIO_LEAVE = 100, 50, 200
cookie = codec.pw_cookie


def rarp_frame(mac: str) -> bytes:
    """A RARP announcement from `mac` (what hypervisors send so that switches learn a moved MAC)."""
    raw = codec.mac_bytes(mac)
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + raw + bytes(4) + raw + bytes(4)
    return (b"\xff" * 6 + raw + struct.pack("!H", 0x8035) + body).ljust(60, b"\0")


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
    """OpenFlow client of one server bridge (`<rundir>/<bridge>.mgmt`); attach/detach cost flow mods only
    when a VLAN gains or loses a port here.

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
        self._macs: dict[tuple[int, str], Attachment] = {}  # (ofport, MAC) -> attachment
        self._port_vlan: dict[int, int] = {}  # ofport -> VLAN, for ports with at least one MAC
        self._lock = asyncio.Lock()
        self._announcer: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0

    async def connect(self) -> None:
        """Open the channel and read back the VLAN of every port already set up (agent restart); the
        MACs themselves are re-attached by the agent's reconcile (announcements only).  From then on
        this object's memory is the truth: a reconnect re-installs it and reads nothing back."""
        conn = await OFConnection.open_unix(self.path)
        try:
            payload = await conn.multipart(
                codec.flow_stats_request(0, cookie(KIND_PORT), codec.COOKIE_KIND_MASK)
            )
        except BaseException:
            await conn.close()
            raise
        for flow in codec.parse_flow_stats(payload):
            if flow.match.in_port is not None:
                self._port_vlan.setdefault(flow.match.in_port, (flow.cookie >> 32) & 0xFFF)
        self._conn = conn
        self._closed = False
        if self.announce_interval > 0 and self._announcer is None:
            self._announcer = asyncio.create_task(self._announce_loop())
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    async def _channel(self) -> OFConnection:
        """The open channel; after a lost one (ovs-vswitchd restarted) reconnect and re-install.  The
        new channel is handed out only once every flow is back (a half-restored one is closed)."""
        if self._conn is not None and not self._conn.closed.is_set():
            return self._conn
        if self._closed:
            raise Unavailable(f"the vswitch of {self.bridge} is closed")
        async with self._lock:
            if self._conn is None or self._conn.closed.is_set():
                log.warning("reconnecting to the OpenFlow socket of %s", self.bridge)
                conn = await OFConnection.open_unix(self.path)
                try:
                    await conn.transact(self._restore_msgs())
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
                self.reconnects += 1
            return self._conn

    def _restore_msgs(self) -> list[bytes]:
        """Every flow this vswitch stands for (after ovs-vswitchd lost them all)."""
        msgs = self._base_msgs()
        msgs += [self._port_flow(p, v) for p, v in sorted(self._port_vlan.items())]
        for vlan in sorted(set(self._port_vlan.values())):
            msgs += self._vlan_msgs(vlan)
        return msgs

    async def _watch(self) -> None:
        """Restore the flows as soon as a lost channel can be reopened (an ovs-vswitchd restart loses
        every flow), without waiting for the next attach, then re-announce every MAC to the ToR."""
        failures = 0
        while True:
            conn = self._conn
            if conn is not None and not conn.closed.is_set():
                await conn.closed.wait()
                continue
            try:
                await self._channel()
                await self.announce()
                failures = 0
            except Exception as exc:  # keep watching whatever went wrong; say it now and then
                if failures % 50 == 0:  # every ~10 s while the bridge is away
                    log.warning("vswitch %s: %s; retrying", self.bridge, getattr(exc, "message", exc))
                failures += 1
                await asyncio.sleep(0.2)

    def _base_msgs(self) -> list[bytes]:
        base = cookie(KIND_BASE)
        msgs = [
            codec.flow_mod(codec.ADD, Match(), table_id=0, priority=0, cookie=base),
            codec.flow_mod(codec.ADD, Match(), table_id=1, priority=0, cookie=base),
            codec.flow_mod(
                codec.ADD, Match(eth_type=LEAVE_ETHERTYPE), table_id=0, priority=PRIO_LEAVE, cookie=base
            ),
        ]
        if self.uplink > 0:
            msgs.append(
                codec.flow_mod(
                    codec.ADD,
                    Match(in_port=self.uplink),
                    [codec.goto_table(1)],
                    table_id=0,
                    priority=PRIO_UPLINK,
                    cookie=base,
                )
            )
        return msgs

    async def install_base_flows(self) -> None:
        await (await self._channel()).transact(self._base_msgs())

    def attachments(self) -> list[Attachment]:
        return sorted(self._macs.values())

    def ports(self) -> dict[int, int]:
        """{ofport: VLAN} of the ports that carry a VLAN."""
        return dict(self._port_vlan)

    async def attach(self, ofport: int, mac: str, vlan: int, announce: bool = True) -> None:
        """Put container MAC `mac` behind port `ofport` on VLAN `vlan` (hot path).

        With `announce`, a tagged RARP from the MAC goes out of the uplink right away, so the ToR (AMPP)
        admits the VLAN on the uplink before the container sends its first frame."""
        if not 1 <= vlan <= 4094:
            raise InvalidInput(f"VLAN {vlan} is outside 1-4094")
        if ofport == self.uplink or ofport <= 0:
            raise InvalidInput(f"ofport {ofport} is not a container port of {self.bridge}")
        att = Attachment(ofport, codec.mac_str(codec.mac_bytes(mac)), vlan)
        conn = await self._channel()
        msgs: list[bytes] = []
        for old in [a for a in self._macs.values() if a.mac == att.mac and a != att]:  # the MAC moved
            msgs += self._forget(old)
        if self._port_vlan.get(ofport) not in (None, vlan):  # the port changes VLAN: it leaves the old one
            msgs += self._leave_vlan(ofport)  # (its MACs, and the old VLAN's flood, even with no MAC known)
        self._macs[(ofport, att.mac)] = att
        if self._port_vlan.get(ofport) != vlan:
            self._port_vlan[ofport] = vlan
            msgs += [self._port_flow(ofport, vlan), *self._vlan_msgs(vlan)]
        out = [self._announce_msg(att)] if announce and self.uplink > 0 else []
        if msgs:
            await conn.transact(msgs + out)
        else:  # no flow changes: nothing to confirm, the announcement goes out in order
            for m in out:
                conn.send(m)

    async def detach(self, ofport: int, mac: str, vlan: int) -> None:
        """Forget MAC `mac` on port `ofport`; the port leaves its VLAN with its last MAC.  Idempotent.
        A leave frame tells the ToR to take the MAC's profile off the port now (also for a MAC this
        vswitch no longer knows, e.g. after an agent restart)."""
        key = (ofport, codec.mac_str(codec.mac_bytes(mac)))
        att = self._macs.get(key)
        conn = await self._channel()
        # unknown here (the agent restarted and this container is gone): still tell the ToR, which acts
        # only if the MAC is admitted on this server's port with that VLAN
        msgs = self._forget(att) if att is not None else []
        att = att or Attachment(ofport, key[1], vlan)
        out = []
        if self.uplink > 0 and 1 <= att.vlan <= 4094:
            tag = [codec.push_vlan(), codec.set_vlan_vid(att.vlan), codec.output(self.uplink)]
            out.append(codec.packet_out(leave_frame(att.mac), tag))
        if msgs:
            await conn.transact(msgs + out)
        else:
            for m in out:
                conn.send(m)

    async def prune(self, keep: Collection[int] = ()) -> list[int]:
        """Take the VLAN off every port that carries one but has neither an attached MAC nor a place in
        `keep` (the ports the agent still counts users on).  After an agent restart the ports' VLANs are
        read back from the flows; a port whose containers all went away while the agent was down would
        otherwise keep its VLAN, and the VLAN's floods, back in the free pool.  One transaction, decided
        with no await in between (a concurrent attach sees the ports already pruned).  Returns them."""
        conn = await self._channel()
        used = {a.ofport for a in self._macs.values()} | set(keep)
        idle = sorted(p for p in self._port_vlan if p not in used)
        msgs = [m for port in idle for m in self._leave_vlan(port)]
        if msgs:
            await conn.transact(msgs)
        return idle

    async def forget_port(self, ofport: int) -> None:
        """The port went back to the free pool: it leaves its VLAN (no-op when it carries none)."""
        conn = await self._channel()  # first: the state changes below go out in the same step
        msgs = self._leave_vlan(ofport)
        if msgs:
            await conn.transact(msgs)

    def _leave_vlan(self, ofport: int) -> list[bytes]:
        """Forget the port's MACs and VLAN; the flow mods that say so (none if it carries no VLAN)."""
        for key in [k for k in self._macs if k[0] == ofport]:
            del self._macs[key]
        vlan = self._port_vlan.pop(ofport, None)
        if vlan is None:
            return []
        drop = codec.flow_mod(codec.DELETE_STRICT, Match(in_port=ofport), table_id=0, priority=PRIO_PORT)
        return [drop, *self._vlan_msgs(vlan)]

    def _forget(self, att: Attachment) -> list[bytes]:
        """Drop an attachment; flow mods only if its port is left without MAC."""
        self._macs.pop((att.ofport, att.mac), None)
        if any(a.ofport == att.ofport for a in self._macs.values()):
            return []
        return self._leave_vlan(att.ofport)

    async def announce(self) -> None:
        """Re-announce every attached MAC on the uplink."""
        if self.uplink > 0 and self._macs:
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
    def _port_flow(ofport: int, vlan: int) -> bytes:
        tag = [codec.apply_actions([codec.push_vlan(), codec.set_vlan_vid(vlan)]), codec.goto_table(1)]
        return codec.flow_mod(
            codec.ADD,
            Match(in_port=ofport),
            tag,
            table_id=0,
            priority=PRIO_PORT,
            cookie=cookie(KIND_PORT, vlan, ofport),
        )

    def _vlan_msgs(self, vlan: int) -> list[bytes]:
        """The VLAN's flow for its current local ports (none: deleted)."""
        local = sorted(p for p, v in self._port_vlan.items() if v == vlan)
        if not local:
            return [codec.flow_mod(codec.DELETE_STRICT, Match(vlan_vid=vlan), table_id=1, priority=20)]
        up = [codec.output(self.uplink)] if self.uplink > 0 else []
        actions = [codec.apply_actions([*up, codec.pop_vlan(), *(codec.output(p) for p in local)])]
        return [
            codec.flow_mod(
                codec.ADD,
                Match(vlan_vid=vlan),
                actions,
                table_id=1,
                priority=20,
                cookie=cookie(KIND_VLAN, vlan),
            )
        ]

    async def close(self) -> None:
        self._closed = True  # a late caller gets Unavailable instead of reopening the channel
        for task in (self._watchdog, self._announcer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._watchdog = self._announcer = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
