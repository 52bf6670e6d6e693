"""The docker CLI for tests that run real containers on the machine's dockerd (shared by the runtime and
Docker driver tests)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from prewire.runtime import images


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()[-400:]}")
    return done


def require_docker() -> None:
    """Skip the test when no dockerd answers."""
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("dockerd not running")


def run_sleeper(name: str, network: str, *options: str) -> str:
    """`docker run -d` of the project's busybox image sleeping 10 minutes; returns the container id."""
    ulimit = ("--ulimit", "nofile=20000:20000")  # the machine's hard limit (DESIGN.md)
    cmd = ("run", "-d", "--name", name, "--network", network, *options, *ulimit, images.DOCKER_IMAGE)
    return docker(*cmd, "sleep", "600").stdout.strip()
