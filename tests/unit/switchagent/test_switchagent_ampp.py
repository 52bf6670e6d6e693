"""AMPP admission logic as flow mods: admit, deny, move, prune, age out, restore (no OVS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prewire.openflow import codec
from prewire.openflow.codec import Frame, Match
from prewire.switchagent.ampp import KIND_ADMIT, KIND_FDB, KIND_FLOOD, Admission, Ampp
from prewire.switchagent.table import ProfileTable

A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


@pytest.fixture
def ampp(tmp_path: Path) -> Ampp:
    table = ProfileTable(str(tmp_path / "profiles.json"))
    table.load([{"mac": A, "vlan": 100}, {"mac": B, "vlan": 100}, {"mac": C, "vlan": 200}])
    return Ampp(table, ageing=60, deny_hold=2)


def mods(msgs: list[bytes]) -> list[codec.FlowMod]:
    return [codec.parse_flow_mod(m[8:]) for m in msgs]


def flood(msgs: list[bytes], vlan: int) -> list[int] | None:
    """Ports of the VLAN's flood flow in these messages ([] when deleted, None when untouched)."""
    for fm in mods(msgs):
        if fm.table_id == 1 and fm.priority == 10 and fm.match == Match(vlan_vid=vlan):
            return fm.output_ports() if fm.command == codec.ADD else []
    return None


def frame(src: str, vlan: int) -> Frame:
    return Frame("ff:ff:ff:ff:ff:ff", src, vlan, 0x0806)


def test_admit_installs_admission_fdb_and_flood(ampp: Ampp) -> None:
    v = ampp.on_frame(1, frame(A, 100), now=0)
    assert v.action == "admit" and v.moved_from is None
    admit, fdb, _ = mods(v.msgs)
    assert admit.match == Match(in_port=1, eth_src=A, vlan_vid=100) and admit.idle_timeout == 60
    assert admit.flags & codec.FF_SEND_FLOW_REM and codec.pw_cookie_kind(admit.cookie) == KIND_ADMIT
    assert fdb.match == Match(vlan_vid=100, eth_dst=A) and fdb.output_ports() == [1]
    assert flood(v.msgs, 100) == [1]
    v2 = ampp.on_frame(2, frame(B, 100), now=0)
    assert flood(v2.msgs, 100) == [1, 2]
    # a second packet-in of an admitted source (raced the install): nothing more to send
    assert ampp.on_frame(1, frame(A, 100), now=0).msgs == []


def test_unknown_mac_wrong_vlan_and_untagged_are_denied_once(ampp: Ampp) -> None:
    v = ampp.on_frame(1, frame("02:00:00:00:00:99", 100), now=0)
    (deny,) = mods(v.msgs)
    assert v.action == "deny" and deny.hard_timeout == 2 and deny.output_ports() == []
    assert ampp.on_frame(1, frame("02:00:00:00:00:99", 100), now=1).action == "ignore"  # debounced
    assert ampp.on_frame(1, frame("02:00:00:00:00:99", 100), now=3).action == "deny"
    assert ampp.on_frame(1, frame(C, 100), now=0).action == "deny"  # known MAC, wrong VLAN
    assert ampp.on_frame(1, frame(A, 0), now=0).action == "ignore"
    assert ampp.admissions() == []
    lifted = mods(ampp.undeny([C]))
    assert [(f.command, f.match) for f in lifted] == [
        (codec.DELETE_STRICT, Match(in_port=1, eth_src=C, vlan_vid=100))
    ]


def test_move_leaves_old_port_and_prunes_it(ampp: Ampp) -> None:
    ampp.on_frame(1, frame(A, 100), now=0)
    ampp.on_frame(2, frame(B, 100), now=0)
    v = ampp.on_frame(3, frame(A, 100), now=0)
    assert v.moved_from == 1
    first = mods(v.msgs)[0]
    assert first.command == codec.DELETE_STRICT and first.match == Match(in_port=1, eth_src=A, vlan_vid=100)
    assert flood(v.msgs, 100) == [2, 3]
    assert ampp.admissions() == [Admission(2, B, 100), Admission(3, A, 100)]


def test_forget_prunes_vlan_when_last_mac_leaves(ampp: Ampp) -> None:
    ampp.on_frame(1, frame(A, 100), now=0)
    ampp.on_frame(1, frame(B, 100), now=0)
    ampp.on_frame(2, frame(C, 200), now=0)
    assert flood(ampp.forget([A]), 100) is None  # B still needs VLAN 100 on port 1: flood unchanged
    msgs = ampp.forget([B, "02:00:00:00:00:77"])
    assert flood(msgs, 100) == []  # pruned
    assert flood(msgs, 200) is None
    assert ampp.admissions() == [Admission(2, C, 200)]


def test_idle_timeout_flow_removed_ages_the_mac_out(ampp: Ampp) -> None:
    ampp.on_frame(1, frame(A, 100), now=0)
    match = Match(in_port=1, eth_src=A, vlan_vid=100)
    ours = codec.FlowRemoved(codec.pw_cookie(KIND_ADMIT, 100, 1), 100, 2, 0, match)  # reason DELETE
    assert ampp.on_flow_removed(ours) == []
    aged = codec.FlowRemoved(codec.pw_cookie(KIND_ADMIT, 100, 1), 100, 0, 0, match)
    assert flood(ampp.on_flow_removed(aged), 100) == []
    assert ampp.admissions() == []
    assert ampp.on_flow_removed(aged) == []  # idempotent


def test_restore_keeps_valid_admissions_and_drops_stale_flows(ampp: Ampp) -> None:
    def stats(kind: int, match: Match, table: int = 0) -> codec.FlowStats:
        return codec.FlowStats(table, 100, 0, 0, codec.pw_cookie(kind), match)

    flows = [
        stats(KIND_ADMIT, Match(in_port=1, eth_src=A, vlan_vid=100)),
        stats(KIND_ADMIT, Match(in_port=2, eth_src="02:00:00:00:00:99", vlan_vid=100)),  # profile gone
        stats(KIND_FDB, Match(vlan_vid=100, eth_dst="02:00:00:00:00:99"), 1),
        stats(KIND_FLOOD, Match(vlan_vid=300), 1),
    ]
    msgs = mods(ampp.restore(flows))
    assert ampp.admissions() == [Admission(1, A, 100)]
    deleted = {(f.table_id, f.match) for f in msgs if f.command == codec.DELETE_STRICT}
    assert (0, Match(in_port=2, eth_src="02:00:00:00:00:99", vlan_vid=100)) in deleted
    assert (1, Match(vlan_vid=100, eth_dst="02:00:00:00:00:99")) in deleted
    assert (1, Match(vlan_vid=300)) in deleted
    assert flood(ampp.restore(flows), 100) == [1]


def test_restore_after_a_lost_channel_reinstalls_the_remembered_admissions(ampp: Ampp) -> None:
    """ovs-vswitchd restarted: the bridge has no flow left, the agent still knows its admissions."""
    ampp.on_frame(1, frame(A, 100), now=0)
    remembered = ampp.admissions()
    stale = Admission(2, "02:00:00:00:00:99", 100)  # its profile was removed meanwhile
    msgs = mods(ampp.restore([], [*remembered, stale]))
    assert ampp.admissions() == [Admission(1, A, 100)]
    added = {(f.table_id, f.match) for f in msgs if f.command == codec.ADD}
    assert (0, Match(in_port=1, eth_src=A, vlan_vid=100)) in added
    assert flood(ampp.restore([]), 100) is None  # a fresh start remembers nothing


def test_base_flows_send_misses_to_the_controller(ampp: Ampp) -> None:
    miss, leave, untagged, drop = [f for f in mods(ampp.base_flows()) if f.command == codec.ADD]
    assert miss.priority == 0 and miss.output_ports() == [codec.CONTROLLER]
    assert leave.priority > 100 and leave.output_ports() == [codec.CONTROLLER]  # above admissions
    assert untagged.match == Match(vlan_vid=0) and untagged.output_ports() == []
    assert drop.table_id == 1 and drop.output_ports() == []


def test_port_leaving_the_bridge_prunes_its_vlans(ampp: Ampp) -> None:
    ampp.on_frame(1, frame(A, 100), now=0)
    ampp.on_frame(2, frame(B, 100), now=0)
    assert flood(ampp.drop_port(2), 100) == [1]
    assert ampp.admissions() == [Admission(1, A, 100)]
    assert ampp.drop_port(9) == []


def test_metered_table_miss(ampp: Ampp) -> None:
    miss = next(f for f in mods(ampp.base_flows(metered=True)) if f.command == codec.ADD)
    assert miss.instructions.startswith(codec.meter(1)) and miss.output_ports() == [codec.CONTROLLER]


def test_trunks_carry_every_admitted_vlan_and_detect_moves_away(ampp: Ampp) -> None:
    ampp.trunks = [9]
    base = [f for f in mods(ampp.base_flows()) if f.command == codec.ADD]
    assert any(f.match == Match(in_port=9) and f.priority == 50 for f in base)
    v = ampp.on_frame(1, frame(A, 100), now=0)
    assert flood(v.msgs, 100) == [1, 9]
    away = [f for f in mods(v.msgs) if f.priority == 60]
    assert [f.match for f in away] == [Match(in_port=9, eth_src=A, vlan_vid=100)]
    assert away[0].output_ports() == [codec.CONTROLLER]
    # A's frame arrives from the trunk: it lives behind another ToR now, this ToR prunes it
    left = ampp.on_frame(9, frame(A, 100), now=0)
    assert left.action == "left" and left.moved_from == 1 and flood(left.msgs, 100) == []
    assert ampp.admissions() == []
    assert ampp.on_frame(9, frame(B, 100), now=0).action == "ignore"


def test_leave_frame_from_the_admitting_port_prunes_at_once(ampp: Ampp) -> None:
    from prewire.switchagent.ampp import LEAVE_ETHERTYPE

    assert ampp.on_frame(3, frame(A, 100), 0.0).action == "admit"
    leave = Frame("ff:ff:ff:ff:ff:ff", A, 100, LEAVE_ETHERTYPE)
    assert ampp.on_frame(4, leave, 1.0).action == "ignore"  # another port cannot release it
    assert ampp.on_frame(3, Frame("ff:ff:ff:ff:ff:ff", A, 200, LEAVE_ETHERTYPE), 1.0).action == "ignore"
    verdict = ampp.on_frame(3, leave, 1.0)
    assert verdict.action == "released"
    assert ampp.admissions() == []
    assert flood(verdict.msgs, 100) == []  # the VLAN's last MAC left: pruned
