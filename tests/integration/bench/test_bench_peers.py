"""The peers really run (bridge plugin, ovs-vsctl) and leave nothing behind."""

import subprocess

import pytest

from prewire.bench import peers

pytestmark = pytest.mark.root


def _leftovers() -> str:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    nss = subprocess.run(["ip", "netns"], capture_output=True, text=True, check=True).stdout
    brs = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True, check=True).stdout
    found = [w for w in (links + nss + brs).split() if w.rstrip(":").split("@")[0].startswith("pwb")]
    return " ".join(found)


def test_bridge_plugin_adds_and_deletes() -> None:
    result = peers.bridge_plugin(3)
    assert result.error == ""
    assert len(result.add_ms) == 3 and len(result.del_ms) == 3
    assert _leftovers() == ""


def test_ovs_vsctl_script_adds_and_deletes() -> None:
    result = peers.ovs_vsctl_script(3)
    assert result.error == ""
    assert len(result.add_ms) == 3 and len(result.del_ms) == 3
    assert _leftovers() == ""
