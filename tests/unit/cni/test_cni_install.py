"""`prewire cni install|conflist|podman-setup`: what lands on disk."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prewire.cli import cni as cni_cli
from prewire.cni import install, plugin
from prewire.errors import InvalidInput


def test_install_writes_a_stub_and_a_cached_shim(tmp_path: Path) -> None:
    exe = install.install_plugin(str(tmp_path))
    assert exe == tmp_path / "prewire" and os.access(exe, os.X_OK)
    first = exe.read_text().splitlines()[0]
    assert first.startswith("#!/") and first.endswith(" -IS")
    shim = tmp_path / "prewire.d" / "prewire_cni.py"
    assert shim.read_text() == Path(plugin.__file__).read_text()
    assert list((tmp_path / "prewire.d" / "__pycache__").glob("prewire_cni.*.pyc")), "byte code cached"


def test_install_refuses_a_relative_python(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--python"):
        install.install_plugin(str(tmp_path), python="python3")


def test_conflist_names_network_socket_and_server(tmp_path: Path) -> None:
    conf = install.conflist("pw-acme-web-srv1", "acme/web", "/run/lab/{server}/agent.sock", "srv1")
    assert conf == {
        "cniVersion": "1.0.0",
        "name": "pw-acme-web-srv1",
        "plugins": [
            {
                "type": "prewire",
                "network": "acme/web",
                "agentSocket": "/run/lab/{server}/agent.sock",
                "server": "srv1",
            }
        ],
    }
    path = install.write_conflist(conf, str(tmp_path))
    assert json.loads(path.read_text()) == conf and path.suffix == ".conflist"
    assert install.remove_conflist("pw-acme-web-srv1", str(tmp_path)) and not path.exists()
    assert not install.remove_conflist("pw-acme-web-srv1", str(tmp_path))


@pytest.mark.parametrize(
    ("network", "socket", "server"),
    [("acme", "/a.sock", None), ("a/b/c", "/a.sock", None), ("a/b", "/{server}.sock", None)],
)
def test_conflist_rejects_bad_input(network: str, socket: str, server: str | None) -> None:
    with pytest.raises(InvalidInput):
        install.conflist("x", network, socket, server)


def test_podman_dropin_sets_the_machine_facts(tmp_path: Path) -> None:
    path = install.configure_podman(str(tmp_path / "50-prewire.conf"), bin_dir="/opt/cni/bin")
    conf = tomllib.loads(path.read_text())
    assert conf["engine"] == {"cgroup_manager": "cgroupfs", "runtime": "runc"}
    assert conf["network"]["network_backend"] == "cni"
    assert conf["network"]["cni_plugin_dirs"][0] == "/opt/cni/bin"
    assert conf["containers"]["default_ulimits"] == ["nofile=20000:20000", "nproc=4096:4096"]


def test_cli_conflist_print_and_write(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cni_cli.app, ["conflist", "pw-t", "--network", "t/n", "--print"])
    assert printed.exit_code == 0 and json.loads(printed.output)["plugins"][0]["network"] == "t/n"
    wrote = runner.invoke(cni_cli.app, ["conflist", "pw-t", "--network", "t/n", "--conf-dir", str(tmp_path)])
    assert wrote.exit_code == 0 and (tmp_path / "50-pw-t.conflist").exists()
    missing = runner.invoke(cni_cli.app, ["conflist", "pw-t", "--conf-dir", str(tmp_path)])
    assert missing.exit_code != 0
