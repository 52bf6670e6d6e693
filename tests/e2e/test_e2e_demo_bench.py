"""`prewire demo` and `prewire bench` at small sizes: they pass their checks and their JSON holds every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _prewire(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prewire", *args], capture_output=True, text=True, timeout=900
    )


def test_demo_passes_its_checks_and_writes_its_report(tmp_path: Path) -> None:
    out, png = tmp_path / "demo.json", tmp_path / "demo.png"
    proc = _prewire("demo", "--containers", "20", "--servers", "2", "--json", str(out), "--png", str(png))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["ok"] is True
    assert data["wired"] == 20
    assert data["same_tenant"][0] == data["same_tenant"][1] > 0
    assert data["cross_tenant"][0] == data["cross_tenant"][1] > 0
    assert not any(data["leaks"].values()) and data["leftovers"] == []
    assert {"p50", "p95", "p99", "max"} <= set(data["hot_path"])
    assert "pre-distributed" in {step for step, _ in data["timeline"]}
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bench_json_holds_every_figure(tmp_path: Path) -> None:
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    proc = _prewire(
        "bench",
        "--containers",
        "20",
        "--servers",
        "2",
        "--repeat",
        "1",
        "--probes",
        "3",
        "--json",
        str(out),
        "--png",
        str(png),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert {"cores", "kernel", "ovs_datapath"} <= set(data["machine"])
    assert [c["present"] for c in data["scale_curve"]] == [10, 20]
    for level in data["scale_curve"]:
        assert level["errors"] == 0
        assert {"p50", "p99"} <= set(level["hot_path"]) and {"p50", "p99"} <= set(level["network_ready"])
    assert data["burst"]["containers"] == 20 and data["burst"]["rate_per_s"] > 0
    assert not any(data["scale_in"]["leaks"].values())
    assert {"cni_bridge", "ovs_vsctl", "prewire_cni"} <= set(data["peers"])
    assert data["peers"]["prewire_cni"]["errors"] == []
    assert data["peers"]["cni_bridge"]["errors"] == []
    assert {"agent", "switch_agent"} <= set(data["resources"])
    assert set(data["targets_met"]) >= {"hot_path_p50", "burst_1000", "scale_in_1000"}
    assert data["leftovers"] == []
    assert png.read_bytes()[:4] == b"\x89PNG"
