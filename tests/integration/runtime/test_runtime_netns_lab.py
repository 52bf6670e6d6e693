"""The lab netns runtime on the real kernel: a container is a netns with a keeper; removal leaves nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prewire.agent import nl
from prewire.errors import Conflict, NotFound
from prewire.runtime import netns as rt

pytestmark = pytest.mark.root
PREFIX = "pwxagrt-"


def test_create_list_remove(tmp_path: Path) -> None:
    runtime = str(tmp_path)
    record = rt.create_container(runtime, "one", "acme/web", prefix=PREFIX)
    try:
        assert record["netns"] == PREFIX + "one" and os.path.exists(nl.netns_path(PREFIX + "one"))
        assert rt.start_time(record["pid"]) == record["start_time"]
        assert os.readlink(f"/proc/{record['pid']}/ns/net") != os.readlink("/proc/self/ns/net")
        st = os.stat(nl.netns_path(PREFIX + "one"))
        assert os.stat(f"/proc/{record['pid']}/ns/net").st_ino == st.st_ino  # the keeper holds that netns
        with nl.Rtnl(PREFIX + "one") as ns:
            lo = ns.link("lo")
            assert lo is not None and lo.flags & nl.IFF_UP
        assert [r["name"] for r in rt.list_containers(runtime) if r["alive"]] == ["one"]
        assert sorted(os.listdir(runtime)) == ["one.json"]  # no temporary file left behind
        with pytest.raises(Conflict):
            rt.create_container(runtime, "one", "acme/web", prefix=PREFIX)
    finally:
        rt.remove_container(runtime, "one", prefix=PREFIX)
    assert not os.path.exists(nl.netns_path(PREFIX + "one")) and os.listdir(runtime) == []
    assert rt.start_time(record["pid"]) is None  # keeper killed and reaped
    with pytest.raises(NotFound):
        rt.remove_container(runtime, "one", prefix=PREFIX)
