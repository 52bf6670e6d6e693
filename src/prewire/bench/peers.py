"""Peers measured side by side with prewire on the same machine, in the same run.

- the reference CNI `bridge` plugin (containernetworking-plugins from the distribution): ADD and DEL;
- a script around OVS: veth pair, peer into the netns, `ovs-vsctl add-port BR PORT tag=V` per container;
- prewire's own CNI path: the installed plugin executable, run as a runtime runs it, against the lab's
  agents (so the figure includes the plugin's process start and the hand-off to the warm agent).

Every object made here starts with `pwb` and is removed before returning, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pyroute2 import IPRoute, netns

from prewire.cni import install
from prewire.errors import PrewireError, Unavailable

CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
PEER_BRIDGE = "pwbbr0"
PEER_OVS = "pwbovs0"


@dataclass
class PeerResult:
    name: str
    add_ms: list[float] = field(default_factory=list)
    del_ms: list[float] = field(default_factory=list)
    error: str = ""


def cni_dir() -> str:
    for d in CNI_DIRS:
        if os.path.exists(os.path.join(d, "bridge")):
            return d
    raise Unavailable(
        "the reference CNI plugins are not installed: apt-get install containernetworking-plugins"
    )


@contextlib.contextmanager
def _namespaces(prefix: str, count: int) -> Iterator[list[str]]:
    names = [f"{prefix}{i}" for i in range(count)]
    try:
        for name in names:
            netns.create(name)
        yield names
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                netns.remove(name)


def _run_cni(plugin: str, command: str, ns: str, config: dict[str, object], path: str) -> float:
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": ns,
        "CNI_NETNS": f"/run/netns/{ns}",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": path,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [os.path.join(path, plugin)],
        input=json.dumps(config).encode(),
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    elapsed = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        raise RuntimeError(
            f"{plugin} {command} failed: {proc.stdout.decode()[:200]} {proc.stderr.decode()[:200]}"
        )
    return elapsed


def bridge_plugin(count: int) -> PeerResult:
    """ADD then DEL `count` containers with the reference bridge plugin and host-local IPAM."""
    result = PeerResult("cni-bridge")
    try:
        path = cni_dir()
    except Unavailable as exc:
        result.error = exc.message
        return result
    state = tempfile.mkdtemp(prefix="pwb-ipam-")
    config: dict[str, object] = {
        "cniVersion": "1.0.0",
        "name": "pwbench",
        "type": "bridge",
        "bridge": PEER_BRIDGE,
        "ipam": {"type": "host-local", "subnet": "10.250.0.0/16", "dataDir": state},
    }
    try:
        with _namespaces("pwbn", count) as names:
            for ns in names:
                result.add_ms.append(_run_cni("bridge", "ADD", ns, config, path))
            for ns in names:
                result.del_ms.append(_run_cni("bridge", "DEL", ns, config, path))
    except RuntimeError as exc:
        result.error = str(exc)
    finally:
        shutil.rmtree(state, ignore_errors=True)
        with IPRoute() as ipr, contextlib.suppress(Exception):
            ipr.link("del", ifname=PEER_BRIDGE)
    return result


def _vsctl(*args: str) -> None:
    subprocess.run(["ovs-vsctl", "--timeout=30", *args], check=True, capture_output=True)


def ovs_vsctl_script(count: int, vlan: int = 100) -> PeerResult:
    """Per container: veth pair, peer into the netns, `ovs-vsctl add-port ... tag=V`; then del-port."""
    result = PeerResult("ovs-vsctl")
    if not shutil.which("ovs-vsctl"):
        result.error = "ovs-vsctl not installed"
        return result
    _vsctl("--may-exist", "add-br", PEER_OVS, "--", "set", "bridge", PEER_OVS, "datapath_type=netdev")
    try:
        with _namespaces("pwbo", count) as names, IPRoute() as ipr:
            for i, ns in enumerate(names):
                host, peer = f"pwbh{i}", f"pwbc{i}"
                start = time.perf_counter()
                ipr.link("add", ifname=host, kind="veth", peer=peer)
                idx = ipr.link_lookup(ifname=peer)[0]
                ipr.link("set", index=idx, net_ns_fd=ns)
                ipr.link("set", index=ipr.link_lookup(ifname=host)[0], state="up")
                _vsctl("add-port", PEER_OVS, host, f"tag={vlan}")
                result.add_ms.append((time.perf_counter() - start) * 1000.0)
            for i in range(count):
                host = f"pwbh{i}"
                start = time.perf_counter()
                _vsctl("--if-exists", "del-port", PEER_OVS, host)
                with contextlib.suppress(Exception):
                    ipr.link("del", ifname=host)
                result.del_ms.append((time.perf_counter() - start) * 1000.0)
    except (subprocess.CalledProcessError, OSError) as exc:
        result.error = str(exc)
    finally:
        with contextlib.suppress(Exception):
            _vsctl("--if-exists", "del-br", PEER_OVS)
        with IPRoute() as ipr:
            for i in range(count):
                with contextlib.suppress(Exception):
                    ipr.link("del", ifname=f"pwbh{i}")
    return result


def prewire_cni(targets: Sequence[tuple[str, str]]) -> PeerResult:
    """ADD then DEL one container per (network, agent socket) with prewire's CNI plugin, installed into a
    throwaway bin dir; the agents must hold pre-distributed profiles of those networks."""
    result = PeerResult("prewire-cni")
    bin_dir = tempfile.mkdtemp(prefix="pwb-cni-")
    try:
        install.install_plugin(bin_dir=bin_dir)
        configs: list[dict[str, object]] = [
            {
                "cniVersion": "1.0.0",
                "name": "pwbench",
                "type": install.PLUGIN_TYPE,
                "network": net,
                "agentSocket": sock,
            }
            for net, sock in targets
        ]
        with _namespaces("pwbp", len(targets)) as names:
            tried: list[tuple[str, dict[str, object]]] = []
            try:
                for ns, config in zip(names, configs, strict=True):
                    tried.append((ns, config))  # a failed ADD is DELed too (the CNI spec asks for it)
                    result.add_ms.append(_run_cni(install.PLUGIN_TYPE, "ADD", ns, config, bin_dir))
            finally:
                for ns, config in tried:  # DEL is idempotent; one failing does not stop the others
                    try:
                        result.del_ms.append(_run_cni(install.PLUGIN_TYPE, "DEL", ns, config, bin_dir))
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                        result.error = result.error or str(exc)
    except (RuntimeError, PrewireError, OSError, subprocess.TimeoutExpired) as exc:
        result.error = getattr(exc, "message", None) or str(exc)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    return result
