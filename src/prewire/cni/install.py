"""Install the CNI plugin executable, write conflists for prewire networks, configure podman's CNI backend.

All writes are atomic (temporary file + rename), so a runtime never reads half a plugin or conflist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prewire.errors import InvalidInput

PLUGIN_TYPE = "prewire"
DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_CONF_DIR = "/etc/cni/net.d"
DEFAULT_AGENT_SOCKET = "/run/prewire/agent/agent.sock"
PODMAN_DROPIN = "/etc/containers/containers.conf.d/50-prewire.conf"
# cniVersion of the conflists we write: podman 4 / libcni 1.1 know results up to 1.0.0; the plugin
# answers GC and STATUS only for configs that say 1.1.0 (Kubernetes runtimes with libcni >= 1.2).
CONFLIST_VERSION = "1.0.0"
PODMAN_CONF = """\
# written by prewire (prewire cni podman-setup): podman with the CNI backend on this machine.
# nproc: podman asks for 1048576 unless told, above this machine's hard limit (runc then fails EPERM).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"

[network]
network_backend = "cni"
cni_plugin_dirs = [{bin_dirs}]
network_config_dir = "{conf_dir}"
"""


def _atomic_write(path: Path, data: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def plugin_source() -> str:
    """The shim's source (installed as `<lib dir>/prewire_cni.py`)."""
    return (Path(__file__).with_name("plugin.py")).read_text()


def install_plugin(
    bin_dir: str = DEFAULT_BIN_DIR,
    python: str | None = None,
    name: str = PLUGIN_TYPE,
    host_root: str = "",
) -> Path:
    """Install `<bin_dir>/<name>`: a 5-line stub (shebang `<python> -IS`) that runs the stdlib-only shim
    from `<bin_dir>/prewire.d/` with its byte code cached (compiling the shim on every call costs ~5 ms).

    `host_root` prefixes every path written (an installer container writing into the host's /opt/cni/bin
    mounted at /host/opt/cni/bin) while the stub refers to the unprefixed paths.
    """
    interpreter = python or sys.executable
    if not os.path.isabs(interpreter) or (not host_root and not os.access(interpreter, os.X_OK)):
        raise InvalidInput(f"python {interpreter!r} is not an executable absolute path: pass --python")
    lib_dir = os.path.join(bin_dir, f"{name}.d")
    root = Path(host_root or "/")
    module = root / lib_dir.lstrip("/") / "prewire_cni.py"
    _atomic_write(module, plugin_source(), 0o644)
    stub = f"#!{interpreter} -IS\nimport sys\nsys.path.insert(0, {lib_dir!r})\nfrom prewire_cni import main\nmain()\n"
    target = root / bin_dir.lstrip("/") / name
    _atomic_write(target, stub, 0o755)
    if not host_root:  # run it once: proves it works and caches the byte code for that interpreter
        probe = subprocess.run(
            [str(target)],
            input=b'{"cniVersion":"1.1.0"}',
            env={"CNI_COMMAND": "VERSION"},
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            raise InvalidInput(f"installed plugin {target} does not run: {probe.stderr.decode()[-300:]}")
    return target


def conflist(
    name: str,
    network: str,
    agent_socket: str = DEFAULT_AGENT_SOCKET,
    server: str | None = None,
    cni_version: str = CONFLIST_VERSION,
    dns: dict[str, Any] | None = None,
    log_file: str | None = None,
) -> dict[str, Any]:
    """A conflist for one prewire network (one plugin, type `prewire`)."""
    tenant, _, net = network.partition("/")
    if not tenant or not net or "/" in net:
        raise InvalidInput(f"network {network!r} must be TENANT/NET")
    if "{server}" in agent_socket and not server:
        raise InvalidInput("agent socket contains {server}: pass --server")
    plugin: dict[str, Any] = {"type": PLUGIN_TYPE, "network": network, "agentSocket": agent_socket}
    if server:
        plugin["server"] = server
    if dns:
        plugin["dns"] = dns
    if log_file:
        plugin["logFile"] = log_file
    return {"cniVersion": cni_version, "name": name, "plugins": [plugin]}


def conflist_path(name: str, conf_dir: str = DEFAULT_CONF_DIR) -> Path:
    return Path(conf_dir) / f"50-{name}.conflist"


def write_conflist(conf: dict[str, Any], conf_dir: str = DEFAULT_CONF_DIR) -> Path:
    """Write a conflist built by `conflist()`; returns its path."""
    path = conflist_path(str(conf["name"]), conf_dir)
    _atomic_write(path, json.dumps(conf, indent=2) + "\n", 0o644)
    return path


def remove_conflist(name: str, conf_dir: str = DEFAULT_CONF_DIR) -> bool:
    """Remove the conflist of `name`; False when it was not there."""
    try:
        conflist_path(name, conf_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def configure_podman(
    path: str = PODMAN_DROPIN, bin_dir: str = DEFAULT_BIN_DIR, conf_dir: str = DEFAULT_CONF_DIR
) -> Path:
    """Drop-in containers.conf: cgroupfs, runc, the CNI backend, nofile ulimits (DESIGN.md machine facts)."""
    dirs = ", ".join(json.dumps(d) for d in dict.fromkeys([bin_dir, DEFAULT_BIN_DIR, "/usr/lib/cni"]))
    target = Path(path)
    _atomic_write(target, PODMAN_CONF.format(bin_dirs=dirs, conf_dir=conf_dir), 0o644)
    return target
