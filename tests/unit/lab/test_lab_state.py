"""The lab state file round-trips and is written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from prewire.errors import InvalidInput
from prewire.lab import state as labstate
from prewire.lab.state import LabState, Proc, ServerState, SwitchState


def _state(tmp_path: Path) -> LabState:
    st = LabState(lab_dir=str(tmp_path), controller_url="http://127.0.0.1:8700", admin_token_file="t")
    st.controller = Proc(pid=10, start_time=5, argv=["py", "-m", "prewire"], log="c.log")
    st.switches = [SwitchState("tor0", 0, "pwtor0", str(tmp_path / "sw"), proc=Proc(11, 6, [], "s.log"))]
    st.servers = [
        ServerState("srv0", 0, "pwsrv0", "pwu0s", "tor0", "pwu0t", "pwpool0", str(tmp_path / "a"), "r"),
    ]
    st.bridges = ["pwtor0", "pwsrv0"]
    return st


def test_state_round_trips(tmp_path: Path) -> None:
    st = _state(tmp_path)
    st.save()
    back = labstate.load(tmp_path)
    assert back == st
    assert back is not None
    assert [p.pid for p in back.procs()] == [11, 10]
    assert back.server("srv0").socket == str(tmp_path / "a" / "agent.sock")
    assert back.switch("tor0").socket == str(tmp_path / "sw" / "switch.sock")
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_state_is_none_and_corrupt_state_is_an_error(tmp_path: Path) -> None:
    assert labstate.load(tmp_path) is None
    (tmp_path / "lab.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="sweep"):
        labstate.load(tmp_path)
    (tmp_path / "lab.json").write_text('{"lab_dir": "x", "bogus": 1}')
    with pytest.raises(InvalidInput, match="sweep"):
        labstate.load(tmp_path)
    labstate.remove(tmp_path)
    labstate.remove(tmp_path)
    assert labstate.load(tmp_path) is None


def test_unknown_server_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="srv0"):
        _state(tmp_path).server("srv9")


def test_admin_token_is_read_from_its_file(tmp_path: Path) -> None:
    st = _state(tmp_path)
    token = tmp_path / "admin.token"
    token.write_text("secret\n")
    st.admin_token_file = str(token)
    assert st.admin_token() == "secret"


def test_the_lab_lock_serialises_and_leaves_no_file(tmp_path: Path) -> None:
    import fcntl
    import os

    lab_dir = tmp_path / "lab"
    with labstate.locked(lab_dir):
        fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    with labstate.locked(lab_dir):
        pass
    assert list(tmp_path.iterdir()) == []


def test_vlans_are_summarised_per_port() -> None:
    from prewire.lab.status import _vlans_by_port

    active = [
        {"port": "pwu1t", "mac": "02:00:00:00:00:01", "vlan": 101},
        {"port": "pwu0t", "mac": "02:00:00:00:00:02", "vlan": 100},
        {"port": "pwu1t", "mac": "02:00:00:00:00:03", "vlan": 100},
        {"port": "pwu1t", "mac": "02:00:00:00:00:04", "vlan": 101},
    ]
    assert _vlans_by_port(active) == {"pwu0t": [100], "pwu1t": [100, 101]}
    assert _vlans_by_port({"error": "down"}) == {}
