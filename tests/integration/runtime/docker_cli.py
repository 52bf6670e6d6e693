"""The docker CLI for tests that run real containers on the machine's dockerd (shared by the runtime and
Docker driver tests)."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()[-400:]}")
    return done


def require_docker() -> None:
    """Skip the test when no dockerd answers."""
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("dockerd not running")
