"""AMPP admission logic of the OVS ToR: which (port, MAC, VLAN) may pass, as OpenFlow flow mods.

Pure logic (no I/O): each event returns the flow mods to send.  Pipeline of the ToR bridge:
  table 0  in_port=P,eth_src=M,vlan=V -> goto 1   (admission; idle_timeout = ageing, flow-removed on)
           in_port=P,eth_src=M,vlan=V -> drop      (deny: unknown source / wrong VLAN; hard timeout)
           in_port=T(runk),eth_src=M,vlan=V -> CONTROLLER, goto 1   (M, admitted here, moved away)
           in_port=T(runk) -> goto 1              (trunk to other ToRs: admitted there)
           vlan=none -> drop;  miss -> CONTROLLER  (first frame of a source: packet-in to the agent)
  table 1  vlan=V,eth_dst=M -> output P            (where M is admitted)
           vlan=V -> output every port where V is admitted, and the trunks   (flood, pruned)
           miss -> drop
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prewire.openflow import codec
from prewire.openflow.codec import Frame, Match
from prewire.switchagent.table import ProfileTable

KIND_BASE, KIND_ADMIT, KIND_DENY, KIND_FDB, KIND_FLOOD, KIND_AWAY, KIND_TRUNK = 1, 4, 5, 6, 7, 8, 9
PRIO_ADMIT, PRIO_AWAY, PRIO_TRUNK, PRIO_DENY, PRIO_UNTAGGED = 100, 60, 50, 10, 1
PRIO_LEAVE = 200
# A server's "this MAC left" frame (the de-associate of IEEE 802.1Qbg VDP, carried in the IEEE 802 local
# experimental ethertype): the ToR takes the MAC's profile off the port at once instead of waiting for
# the ageing time, so a released container's VLAN is pruned from the port right away.
LEAVE_ETHERTYPE = 0x88B5
REASON_IDLE, REASON_HARD = 0, 1
PACKET_IN_METER = 1  # table-miss packet-ins are policed to PACKET_IN_PPS (burst PACKET_IN_BURST)
PACKET_IN_PPS, PACKET_IN_BURST = 5000, 5000


@dataclass
class Verdict:
    action: str  # "admit" | "deny" | "ignore" | "left" (an admitted MAC now behind a trunk) | "released"
    msgs: list[bytes] = field(default_factory=list)
    moved_from: int | None = None


@dataclass(frozen=True, order=True)
class Admission:
    port: int
    mac: str
    vlan: int


class Ampp:
    """Admissions of one ToR bridge, decided from the local profile table alone."""

    def __init__(
        self, table: ProfileTable, ageing: int = 300, deny_hold: int = 2, trunks: Iterable[int] = ()
    ) -> None:
        self.table = table
        self.admitted_at: dict[str, float] = {}  # MAC -> wall-clock time of its (latest) admission
        self.trunks = sorted(set(trunks))  # ofports of links to other switches: all VLANs, no admission
        self.ageing = ageing
        self.deny_hold = deny_hold
        self.where: dict[str, Admission] = {}  # mac -> its admission (one port per MAC)
        self._denied: dict[tuple[int, str, int], float] = {}  # debounce of unknown sources
        self._flooding: dict[int, list[int]] = {}  # vlan -> ports of the flood flow last sent

    # -- flows -----------------------------------------------------------------------------------------
    def base_flows(self, metered: bool = False) -> list[bytes]:
        ck = codec.pw_cookie(KIND_BASE)
        to_ctl = [codec.apply_actions([codec.output(codec.CONTROLLER)])]
        if metered:
            to_ctl.insert(0, codec.meter(PACKET_IN_METER))
        return [
            *self._trunk_flows(),
            codec.flow_mod(codec.ADD, Match(), to_ctl, table_id=0, priority=0, cookie=ck),
            codec.flow_mod(
                codec.ADD, Match(eth_type=LEAVE_ETHERTYPE), to_ctl, table_id=0, priority=PRIO_LEAVE, cookie=ck
            ),
            codec.flow_mod(codec.ADD, Match(vlan_vid=0), table_id=0, priority=PRIO_UNTAGGED, cookie=ck),
            codec.flow_mod(codec.ADD, Match(), table_id=1, priority=0, cookie=ck),
        ]

    def _admit_flow(self, a: Admission) -> bytes:
        return codec.flow_mod(
            codec.ADD,
            Match(in_port=a.port, eth_src=a.mac, vlan_vid=a.vlan),
            [codec.goto_table(1)],
            table_id=0,
            priority=PRIO_ADMIT,
            idle_timeout=self.ageing,
            flags=codec.FF_SEND_FLOW_REM,
            cookie=codec.pw_cookie(KIND_ADMIT, a.vlan, a.port),
        )

    @staticmethod
    def _unadmit_flow(a: Admission) -> bytes:
        return codec.flow_mod(
            codec.DELETE_STRICT,
            Match(in_port=a.port, eth_src=a.mac, vlan_vid=a.vlan),
            table_id=0,
            priority=PRIO_ADMIT,
        )

    @staticmethod
    def _fdb_flow(a: Admission) -> bytes:
        return codec.flow_mod(
            codec.ADD,
            Match(vlan_vid=a.vlan, eth_dst=a.mac),
            [codec.apply_actions([codec.output(a.port)])],
            table_id=1,
            priority=100,
            cookie=codec.pw_cookie(KIND_FDB, a.vlan, a.port),
        )

    @staticmethod
    def _unfdb_flow(vlan: int, mac: str) -> bytes:
        return codec.flow_mod(
            codec.DELETE_STRICT, Match(vlan_vid=vlan, eth_dst=mac), table_id=1, priority=100
        )

    def _trunk_flows(self) -> list[bytes]:
        ck = codec.pw_cookie(KIND_TRUNK)
        return [self._delete_kind(KIND_TRUNK)] + [
            codec.flow_mod(codec.ADD, Match(in_port=t), [codec.goto_table(1)], priority=PRIO_TRUNK, cookie=ck)
            for t in self.trunks
        ]

    def set_trunks(self, ports: Iterable[int]) -> list[bytes]:
        """The trunk ports changed (a port named as trunk came or went): re-derive their flows."""
        new = sorted(set(ports))
        if new == self.trunks:
            return []
        self.trunks = new
        msgs = [*self._trunk_flows(), self._delete_kind(KIND_AWAY)]
        msgs += [m for a in self.where.values() for m in self._away_flows(a)]
        return msgs + self._flood_flows(*{a.vlan for a in self.where.values()})

    @staticmethod
    def _delete_kind(kind: int, match: Match | None = None) -> bytes:
        """Delete every table-0 flow of this cookie kind (and `match`, if given)."""
        return codec.flow_mod(
            codec.DELETE, match or Match(), cookie=codec.pw_cookie(kind), cookie_mask=codec.COOKIE_KIND_MASK
        )

    def _away_flows(self, a: Admission) -> list[bytes]:
        """Detectors: a frame from an admitted MAC arriving on a trunk means it moved to another ToR."""
        actions = [codec.apply_actions([codec.output(codec.CONTROLLER)]), codec.goto_table(1)]
        ck = codec.pw_cookie(KIND_AWAY, a.vlan)
        return [
            codec.flow_mod(
                codec.ADD,
                Match(in_port=t, eth_src=a.mac, vlan_vid=a.vlan),
                actions,
                priority=PRIO_AWAY,
                cookie=ck,
            )
            for t in self.trunks
        ]

    def _unaway_flows(self, mac: str) -> list[bytes]:
        return [self._delete_kind(KIND_AWAY, Match(eth_src=mac))] if self.trunks else []

    def ports_of(self, vlan: int) -> list[int]:
        return sorted({a.port for a in self.where.values() if a.vlan == vlan})

    def _flood_flows(self, *vlans: int) -> list[bytes]:
        """Flood flows of these VLANs whose port set changed (an unchanged flow is not rewritten)."""
        msgs = []
        for vlan in sorted(set(vlans)):
            local = self.ports_of(vlan)
            ports = local + [t for t in self.trunks if t not in local] if local else []
            if self._flooding.get(vlan) != ports:
                msgs.append(self._flood_flow(vlan, ports))
                self._flooding[vlan] = ports
        return msgs

    def _flood_flow(self, vlan: int, ports: list[int]) -> bytes:
        if not ports:  # the VLAN's last MAC left: prune it everywhere
            return codec.flow_mod(codec.DELETE_STRICT, Match(vlan_vid=vlan), table_id=1, priority=10)
        return codec.flow_mod(
            codec.ADD,
            Match(vlan_vid=vlan),
            [codec.apply_actions([codec.output(p) for p in ports])],
            table_id=1,
            priority=10,
            cookie=codec.pw_cookie(KIND_FLOOD, vlan),
        )

    # -- events ----------------------------------------------------------------------------------------
    def on_frame(self, in_port: int, frame: Frame, now: float) -> Verdict:
        """First frame of a source on a port (packet-in): admit, deny, or ignore (already decided)."""
        if frame.vlan == 0:
            return Verdict("ignore")
        if frame.ethertype == LEAVE_ETHERTYPE:  # only the port where the MAC is admitted can release it
            a = self.where.get(frame.eth_src)
            if a is None or a.port != in_port or a.vlan != frame.vlan:
                return Verdict("ignore")
            self.admitted_at.pop(a.mac, None)
            return Verdict("released", self.forget([a.mac]))
        if in_port in self.trunks:
            a = self.where.get(frame.eth_src)
            if a is None or a.vlan != frame.vlan:
                return Verdict("ignore")
            return Verdict("left", self.forget([a.mac]), moved_from=a.port)
        profile = self.table.get(frame.eth_src)
        if profile is None or profile.vlan != frame.vlan:
            key = (in_port, frame.eth_src, frame.vlan)
            if self._denied.get(key, 0.0) > now:
                return Verdict("ignore")
            self._denied[key] = now + self.deny_hold
            if len(self._denied) > 4096:
                self._denied = {k: t for k, t in self._denied.items() if t > now}
            deny = codec.flow_mod(
                codec.ADD,
                Match(in_port=in_port, eth_src=frame.eth_src, vlan_vid=frame.vlan),
                table_id=0,
                priority=PRIO_DENY,
                hard_timeout=self.deny_hold,
                cookie=codec.pw_cookie(KIND_DENY, frame.vlan, in_port),
            )
            return Verdict("deny", [deny])
        new = Admission(in_port, frame.eth_src, frame.vlan)
        old = self.where.get(new.mac)
        if old == new:
            return Verdict("admit")  # a packet-in that raced the flow install
        self.where[new.mac] = new
        self.admitted_at[new.mac] = time.time()
        msgs = [self._admit_flow(new), self._fdb_flow(new), *self._away_flows(new)]
        if old is None:
            return Verdict("admit", msgs + self._flood_flows(new.vlan))
        # the MAC moved: its profile leaves the old port (and the VLAN with it, if that was the last MAC)
        msgs[:0] = [self._unadmit_flow(old), *self._unaway_flows(old.mac)]
        if old.vlan != new.vlan:
            msgs.append(self._unfdb_flow(old.vlan, old.mac))
        return Verdict("admit", msgs + self._flood_flows(new.vlan, old.vlan), moved_from=old.port)

    def on_flow_removed(self, removed: codec.FlowRemoved) -> list[bytes]:
        """An admission aged out (or was deleted): drop it and prune its VLAN if it was the last MAC."""
        m = removed.match
        if removed.reason not in (REASON_IDLE, REASON_HARD):  # our own deletes already updated the state
            return []
        if codec.pw_cookie_kind(removed.cookie) != KIND_ADMIT or m.eth_src is None:
            return []
        a = self.where.get(m.eth_src)
        if a is None or a != Admission(m.in_port or 0, m.eth_src, m.vlan_vid or 0):
            return []
        del self.where[a.mac]
        # deleting the admission too keeps switch and state in step if it was re-added meanwhile
        return [
            self._unadmit_flow(a),
            *self._unaway_flows(a.mac),
            self._unfdb_flow(a.vlan, a.mac),
            *self._flood_flows(a.vlan),
        ]

    def forget(self, macs: Iterable[str]) -> list[bytes]:
        """Profiles removed: their MACs leave their ports; VLANs with no MAC left are pruned."""
        msgs: list[bytes] = []
        vlans: set[int] = set()
        for mac in macs:
            a = self.where.pop(mac, None)
            if a is not None:
                msgs += [self._unadmit_flow(a), *self._unaway_flows(a.mac), self._unfdb_flow(a.vlan, a.mac)]
                vlans.add(a.vlan)
        return msgs + self._flood_flows(*vlans)

    def drop_port(self, port: int) -> list[bytes]:
        """A port left the bridge: its MACs leave it and their VLANs are pruned from it."""
        return self.forget([a.mac for a in self.where.values() if a.port == port])

    def undeny(self, macs: Iterable[str]) -> list[bytes]:
        """Profiles loaded: lift the short deny of these MACs so their next frame is admitted."""
        wanted = set(macs)
        keys = [k for k in self._denied if k[1] in wanted]
        msgs = []
        for port, mac, vlan in keys:
            del self._denied[(port, mac, vlan)]
            msgs.append(
                codec.flow_mod(
                    codec.DELETE_STRICT,
                    Match(in_port=port, eth_src=mac, vlan_vid=vlan),
                    table_id=0,
                    priority=PRIO_DENY,
                )
            )
        return msgs

    def restore(self, flows: Sequence[codec.FlowStats], remembered: Sequence[Admission] = ()) -> list[bytes]:
        """Rebuild state from the bridge's flows and converge them on the table.

        After an agent restart the flows are the memory.  After a lost channel (ovs-vswitchd restarted
        and lost every flow) the agent still `remembered` its admissions: those whose profile still holds
        come back too, so containers that only listen stay reachable."""
        self.where.clear()
        self._flooding.clear()
        msgs: list[bytes] = []
        for f in flows:
            m = f.match
            if codec.pw_cookie_kind(f.cookie) != KIND_ADMIT or m.eth_src is None or m.in_port is None:
                continue
            a = Admission(m.in_port, m.eth_src, m.vlan_vid or 0)
            profile = self.table.get(a.mac)
            if profile is None or profile.vlan != a.vlan or a.mac in self.where:
                msgs.append(self._unadmit_flow(a))
            else:
                self.where[a.mac] = a
        for a in remembered:
            profile = self.table.get(a.mac)
            if a.mac not in self.where and profile is not None and profile.vlan == a.vlan:
                self.where[a.mac] = a
        live_fdb = {(a.vlan, a.mac) for a in self.where.values()}
        vlans = {a.vlan for a in self.where.values()}
        for f in flows:
            kind, m = codec.pw_cookie_kind(f.cookie), f.match
            if kind == KIND_FDB and m.eth_dst and (m.vlan_vid, m.eth_dst) not in live_fdb:
                msgs.append(self._unfdb_flow(m.vlan_vid or 0, m.eth_dst))
            elif kind == KIND_FLOOD and m.vlan_vid:
                vlans.add(m.vlan_vid)
        # re-adding the kept admissions applies the current ageing time to them
        msgs += [self._admit_flow(a) for a in self.where.values()]
        msgs += [self._fdb_flow(a) for a in self.where.values()]
        msgs.append(self._delete_kind(KIND_AWAY))
        msgs += [m for a in self.where.values() for m in self._away_flows(a)]
        for vlan in sorted(vlans):  # rewritten whatever the bridge had
            self._flooding.pop(vlan, None)
            msgs += self._flood_flows(vlan)
        return msgs

    def admissions(self) -> list[Admission]:
        return sorted(self.where.values())
