"""`prewire docker-driver run` as a process: serves the plugin socket, answers docker, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_driver_process_serves_and_stops_cleanly(tmp_path: Path) -> None:
    sock = tmp_path / "plugins" / "pwxtdrv.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prewire",
            "docker-driver",
            "run",
            "--agent-socket",
            str(tmp_path / "none.sock"),
            "--name",
            "pwxtdrv",
            "--plugin-dir",
            str(tmp_path / "plugins"),
            "--state-dir",
            str(tmp_path / "state"),
            "--scratch-netns",
            "pwxtdrvns",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.stderr else ""
            )
            time.sleep(0.05)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://plugin") as client:
            assert client.post("/Plugin.Activate").json() == {"Implements": ["NetworkDriver"]}
            bad = client.post("/NetworkDriver.CreateEndpoint", json={"NetworkID": "x", "EndpointID": "y"})
            assert bad.status_code == 500 and "re-create it" in bad.json()["Err"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-500:]
    assert not sock.exists()
