"""The peers really run (bridge plugin, ovs-vsctl, prewire's CNI plugin) and leave nothing behind."""

import subprocess
from pathlib import Path

import pytest

from prewire import jsonline
from prewire.bench import peers
from tests.integration.cni.pwxcni_env import NET, leftovers, real_agent

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


def test_prewire_cni_adds_and_deletes_through_a_real_agent(tmp_path: Path) -> None:
    with real_agent(tmp_path) as agent:
        result = peers.prewire_cni([(NET, agent.socket)] * 3)
        assert result.error == ""
        assert len(result.add_ms) == 3 and len(result.del_ms) == 3
        assert jsonline.call(agent.socket, "status")["bindings"] == 0
    assert _leftovers() == "" and leftovers() == []


def test_prewire_cni_reports_a_missing_agent_and_leaves_nothing() -> None:
    result = peers.prewire_cni([("acme/web", "/run/pwb-no-such-agent.sock")])
    assert "agent" in result.error and result.add_ms == []
    assert _leftovers() == ""
