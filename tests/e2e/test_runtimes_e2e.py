"""podman (CNI), the Docker network driver and the Docker label watcher on the lab fabric: two tenants with
overlapping subnets on two servers; same tenant reachable across servers and runtimes, the other tenant
not; everything released on rm.  Reuses a running lab (and leaves it), else brings one up and down."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.cni import install
from prewire.errors import PrewireError
from prewire.lab import state as labstate
from prewire.measure.stats import summary
from prewire.runtime import images

pytestmark = pytest.mark.e2e
SUBNET = "10.79.0.0/24"  # both tenants
TENANTS = ("pwxred", "pwxblue")
PODMAN = ("pwxe-pr0", "pwxe-pr1", "pwxe-pb1")
DOCKER = ("pwxe-dr0", "pwxe-db1", "pwxe-dl1")


def run(
    *argv: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {done.returncode}: {done.stderr.strip()[-500:]}")
    return done


def prewire(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "prewire", *args, check=check)


def answers(st: labstate.LabState | None) -> bool:
    """A lab with two servers whose agents answer."""
    if st is None or not st.ready or len(st.servers) < 2:
        return False
    try:
        return all(jsonline.call(srv.socket, "status", timeout=5.0) for srv in st.servers[:2])
    except PrewireError:
        return False


@pytest.fixture(scope="module")
def lab() -> Iterator[labstate.LabState]:
    st = labstate.load()
    reuse = answers(st)
    if not reuse:
        prewire("lab", "up", "--servers", "2", "--switches", "1", "-q")
        st = labstate.load()
    assert st is not None
    try:
        yield st
    finally:
        if not reuse:
            prewire("lab", "down", check=False)


class Fabric:
    """Tenants/networks in the lab's controller, podman set up, one docker driver per server."""

    def __init__(self, st: labstate.LabState, tmp: Path) -> None:
        self.st, self.tmp = st, tmp
        self.drivers: list[subprocess.Popen[bytes]] = []
        self.podman_env = dict(os.environ)
        self.rootfs = self.image = ""

    def setup(self) -> None:
        st, tmp = self.st, self.tmp
        for tenant in TENANTS:
            prewire("tenant", "create", tenant, check=False)
            prewire("network", "create", f"{tenant}/web", "--subnet", SUBNET, check=False)
        install.install_plugin(str(tmp / "bin"))
        conf = install.configure_podman(str(tmp / "podman.conf"), str(tmp / "bin"), str(tmp / "net.d"))
        self.podman_env["CONTAINERS_CONF"] = str(conf)
        self.rootfs = str(images.ensure_rootfs(str(tmp / "rootfs")))
        self.image = images.ensure_docker_image()
        template = st.servers[0].socket.replace(st.servers[0].name, "{server}")
        for tenant in TENANTS:
            for srv in st.servers[:2]:
                conflist = install.conflist(f"{tenant}-{srv.name}", f"{tenant}/web", template, srv.name)
                install.write_conflist(conflist, str(tmp / "net.d"))
        for i, srv in enumerate(st.servers[:2]):
            argv = ["docker-driver", "run", "--agent-socket", srv.socket, "--name", f"pwxedrv{i}"]
            argv += [
                "--state-dir",
                str(tmp / "drv"),
                "--scratch-netns",
                f"pwxedrvns{i}",
                "--ifname-prefix",
                "pwxd",
            ]
            with open(tmp / f"drv{i}.log", "wb") as log:
                self.drivers.append(subprocess.Popen([sys.executable, "-m", "prewire", *argv], stderr=log))
        for i in range(2):
            deadline = time.monotonic() + 30
            while not os.path.exists(f"/run/docker/plugins/pwxedrv{i}.sock"):
                assert time.monotonic() < deadline, (tmp / f"drv{i}.log").read_text()
                time.sleep(0.05)
        self.remove_containers()  # a previous crashed run (its drivers' names answer again now)
        for i, (name, network) in enumerate((("pwxe-red0", "pwxred/web"), ("pwxe-blue1", "pwxblue/web"))):
            run(
                "docker",
                "network",
                "create",
                "-d",
                f"pwxedrv{i}",
                "--ipam-driver",
                "null",
                "--opt",
                f"network={network}",
                name,
            )

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("podman", *args, check=check, env=self.podman_env)

    def podman_run(self, name: str, network: str) -> float:
        start = time.perf_counter()
        self.podman(
            "run", "-d", "--name", name, "--network", network, "--rootfs", self.rootfs, "sleep", "600"
        )
        return (time.perf_counter() - start) * 1000

    def docker_run(self, name: str, *opts: str) -> None:
        run(
            "docker",
            "run",
            "-d",
            "--name",
            name,
            *opts,
            "--ulimit",
            "nofile=20000:20000",
            self.image,
            "sleep",
            "600",
        )

    def remove_containers(self) -> None:
        self.podman("rm", "-f", "-t", "0", *PODMAN, check=False)
        run("docker", "rm", "-f", *DOCKER, check=False)
        run("docker", "network", "rm", "pwxe-red0", "pwxe-blue1", check=False)

    def close(self) -> None:
        self.remove_containers()
        for proc in self.drivers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        for tenant in TENANTS:
            prewire("network", "delete", f"{tenant}/web", check=False)
            prewire("tenant", "delete", tenant, check=False)


@pytest.fixture(scope="module")
def fabric(lab: labstate.LabState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fabric]:
    for tool in ("podman", "docker"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: the test set-up installs podman and docker.io")
    fab = Fabric(lab, tmp_path_factory.mktemp("runtimes"))
    try:
        fab.setup()
        yield fab
    finally:
        fab.close()


def ip4(out: str) -> str:
    return out.split("inet ", 1)[1].split("/")[0]


PING_ENV: dict[str, str] = {}  # podman exec needs the test's CONTAINERS_CONF


def reaches(exec_: list[str], ip: str) -> bool:
    argv = [*exec_, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-w", "10", ip]
    return run(*argv, check=False, env=PING_ENV or None).returncode == 0


def silent(exec_: list[str], ip: str) -> bool:
    argv = [*exec_, "ping", "-c", "5", "-i", "0.2", "-W", "1", "-w", "2", ip]
    return run(*argv, check=False, env=PING_ENV or None).returncode != 0


def bindings(st: labstate.LabState) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for srv in st.servers:
        out |= {b["container"]: b for b in jsonline.call(srv.socket, "list")["bindings"]}
    return out


def test_three_runtimes_two_tenants_two_servers(fabric: Fabric) -> None:
    times = [
        fabric.podman_run("pwxe-pr0", "pwxred-srv0"),
        fabric.podman_run("pwxe-pr1", "pwxred-srv1"),
        fabric.podman_run("pwxe-pb1", "pwxblue-srv1"),
    ]
    fabric.docker_run("pwxe-dr0", "--network", "pwxe-red0")
    fabric.docker_run("pwxe-db1", "--network", "pwxe-blue1")
    fabric.docker_run(
        "pwxe-dl1",
        "--network",
        "none",
        "--label",
        "prewire.network=pwxred/web",
        "--label",
        f"prewire.server={fabric.st.servers[1].name}",
    )
    PING_ENV.update(fabric.podman_env)
    pex = {n: ["podman", "exec", n] for n in PODMAN}
    dex = {n: ["docker", "exec", n] for n in DOCKER}
    deadline = time.monotonic() + 20
    while "inet " not in run(*dex["pwxe-dl1"], "ip", "-4", "addr", "show", "dev", "eth0", check=False).stdout:
        assert time.monotonic() < deadline, "label watcher did not wire pwxe-dl1"
        time.sleep(0.1)
    ips = {
        n: ip4(run(*cmd, "ip", "-4", "addr", "show", "dev", "eth0", env=fabric.podman_env).stdout)
        for n, cmd in {**pex, **dex}.items()
    }
    red = ["pwxe-pr0", "pwxe-pr1", "pwxe-dr0", "pwxe-dl1"]
    for a, b in (
        ("pwxe-pr0", "pwxe-pr1"),
        ("pwxe-dr0", "pwxe-pr1"),
        ("pwxe-dl1", "pwxe-pr0"),
        ("pwxe-pr1", "pwxe-dr0"),
    ):
        cmd = pex.get(a) or dex[a]
        assert reaches(cmd, ips[b]), f"{a} -> {b} ({ips[b]}) same tenant"
    blues = ("pwxe-pb1", "pwxe-db1")
    blue_ips = {ips[b] for b in blues}  # overlapping subnets: an address blue holds itself proves nothing
    for blue in blues:
        cmd = pex.get(blue) or dex[blue]
        for target in red:
            if ips[target] not in blue_ips:
                assert silent(cmd, ips[target]), f"{blue} reached {target} across tenants"
    assert reaches(dex["pwxe-db1"], ips["pwxe-pb1"]), "blue reaches blue across runtimes"
    wired = bindings(fabric.st)
    assert len(wired) == len(PODMAN) + len(DOCKER), sorted(b["network"] for b in wired.values())
    fabric.podman("rm", "-f", "-t", "0", *PODMAN)
    run("docker", "rm", "-f", *DOCKER)
    deadline = time.monotonic() + 20
    while {b["network"] for b in bindings(fabric.st).values()} & {f"{t}/web" for t in TENANTS}:
        assert time.monotonic() < deadline, "bindings left after rm"
        time.sleep(0.1)
    print("\npodman run -d with prewire (ms):", json.dumps(summary(times)))
