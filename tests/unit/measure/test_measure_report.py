from pathlib import Path

from prewire.measure import machine, report


def test_report_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    report.render(
        str(out),
        "t",
        {"hot path": [1.0, 2.0, 3.0], "empty": []},
        [("pre-distributed", -50.0), ("start detected", 0.0), ("ready", 2.0)],
        {"prewire": 2.0, "bridge": 15.0},
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_machine_description_has_the_recorded_keys() -> None:
    info = machine.describe()
    assert {"cores", "kernel", "ovs", "ovs_datapath", "memory_gib"} <= set(info)
