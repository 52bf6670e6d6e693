"""Vendor drivers as command lists, replayed against recorded device transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from prewire.errors import Conflict, Exhausted, KernelError, Unavailable
from prewire.switch.base import PortActivity, SwitchProfile
from prewire.switch.drivers.brocade import BrocadeVdxSwitch, std_mac, vdx_mac
from prewire.switch.drivers.fujitsu import FujitsuCFabricSwitch
from prewire.switch.drivers.transport import ReplayTransport, TranscriptMismatch, open_transport

RECORDINGS = Path(__file__).parent / "recordings"
A, B, C = "02:50:56:00:00:0a", "02:50:56:00:00:0b", "02:50:56:00:00:0c"


def test_brocade_vdx_transcript() -> None:
    replay = ReplayTransport.from_file(RECORDINGS / "brocade_vdx.json")
    vdx = BrocadeVdxSwitch("vdx1", {}, transport=replay)
    # A is held already: only B and C are sent, one edit-config for the whole batch
    vdx.load_profiles([SwitchProfile(A, 100), SwitchProfile(B, 100), SwitchProfile(C, 200)])
    assert "0250.5600.000b" in replay.sent[1] and "0250.5600.000a" not in replay.sent[1]
    vdx.remove_profiles([A, C])  # VLAN 200 loses its last MAC: profile deactivated and deleted
    assert (
        '<port-profile xmlns="urn:brocade.com:mgmt:brocade-port-profile" operation="delete">'
        in replay.sent[3]
    )
    assert vdx.active_ports() == [PortActivity("tengigabitethernet 1/0/5", A, 100)]
    with pytest.raises(KernelError, match="limit reached"):
        vdx.load_profiles([SwitchProfile(B, 100), SwitchProfile(C, 200)])
    with pytest.raises(Unavailable):
        vdx.held_profiles()
    assert replay.done()


def test_brocade_rejects_conflicting_batch_before_sending() -> None:
    replay = ReplayTransport.from_file(RECORDINGS / "brocade_vdx.json")
    vdx = BrocadeVdxSwitch("vdx1", {}, transport=replay)
    with pytest.raises(Conflict):
        vdx.load_profiles([SwitchProfile(A, 300)])
    assert len(replay.sent) == 1  # only the read-back


def test_vdx_mac_notation() -> None:
    assert vdx_mac(A) == "0250.5600.000a" and std_mac("0250.5600.000A") == A


def test_fujitsu_cfabric_transcript() -> None:
    replay = ReplayTransport.from_file(RECORDINGS / "fujitsu_cfabric.json")
    cf = FujitsuCFabricSwitch("cf1", {"vfab": "1"}, transport=replay)
    # indices 0 and 2 are taken in vfab 1 (index 1 in vfab 2 does not count): B gets 1, C gets 3
    cf.load_profiles([SwitchProfile(A, 100), SwitchProfile(B, 100), SwitchProfile(C, 200)])
    cf.remove_profiles([A, C, "02:50:56:00:00:77"])
    assert cf.active_ports() == [PortActivity("1/1/0/5", A, 100)]
    with pytest.raises(KernelError, match="VLAN 300"):
        cf.load_profiles([SwitchProfile("02:50:56:00:00:0d", 300)])
    assert replay.done()


def test_fujitsu_held_and_index_exhaustion() -> None:
    show = "pprofile pw-vlan-7 vlan tag 7\n" + "".join(
        f"vfab 1 pprofile {i} vsiid mac 02:00:00:00:{i >> 8:02x}:{i & 255:02x} pw-vlan-7\n"
        for i in range(4096)
    )
    steps = [{"send": "show running-config", "reply": show}] * 2
    cf = FujitsuCFabricSwitch("cf1", {}, transport=ReplayTransport(steps))
    assert len(cf.held_profiles()) == 4096
    with pytest.raises(Exhausted):
        cf.load_profiles([SwitchProfile("02:50:56:00:00:0d", 7)])


def test_replay_detects_unexpected_requests() -> None:
    replay = ReplayTransport([{"send": "show running-config", "reply": ""}])
    with pytest.raises(TranscriptMismatch):
        replay.exchange("configure")
    with pytest.raises(TranscriptMismatch):
        replay.exchange("one too many")


def test_real_transport_is_reported_missing() -> None:
    with pytest.raises(Unavailable, match="ncclient"):
        open_transport("netconf", {"host": "vdx1"})
    assert BrocadeVdxSwitch("vdx1", {"host": "x"}).health().reachable is False
