"""Lab netns runtime pieces that need no root: names, records, start times."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from prewire.errors import InvalidInput
from prewire.runtime import netns as rt


def test_invalid_names_are_refused_before_anything_is_made(tmp_path: Path) -> None:
    for bad in ("", "-x", "a/b", "a b", "x" * 64):
        with pytest.raises(InvalidInput):
            rt.create_container(str(tmp_path), bad, "t/n")
    assert os.listdir(tmp_path) == []


def test_records_and_liveness(tmp_path: Path) -> None:
    me = {
        "name": "me",
        "network": "t/n",
        "netns": "pwct-me",
        "pid": os.getpid(),
        "start_time": rt.start_time(os.getpid()),
    }
    gone = {**me, "name": "gone", "start_time": -1}
    (tmp_path / "me.json").write_text(json.dumps(me))
    (tmp_path / "gone.json").write_text(json.dumps(gone))
    (tmp_path / ".tmp.json.tmp").write_text("{")
    (tmp_path / "broken.json").write_text("{")
    records = {r["name"]: r["alive"] for r in rt.list_containers(str(tmp_path))}
    assert records == {"me": True, "gone": False}
    assert rt.read_record(str(tmp_path / "broken.json")) is None
    assert rt.start_time(2**22 + 12345) is None
