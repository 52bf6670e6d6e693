"""The API served by uvicorn on loopback, used through ControllerClient and the CLI; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from prewire.api import create_app
from prewire.cli.main import app as cli_app
from prewire.client import ControllerClient
from prewire.errors import Conflict, Exhausted, Forbidden, InvalidInput, NotFound, Unauthorized, Unavailable
from tests.unit.controller.ctl_helpers import ADMIN_TOKEN, make_controller

pytestmark = pytest.mark.root


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    db = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    ctl = make_controller(db, pool_low=16, pool_target=64)
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(ctl), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        ctl.store.dispose()


def test_client_maps_errors(url: str) -> None:
    with ControllerClient(url, ADMIN_TOKEN) as c:
        assert c.health()["status"] == "ok"
        token = c.create_tenant("acme")["token"]
        c.create_tenant("blue")
        with pytest.raises(Conflict):
            c.create_tenant("acme")
        net = c.create_network("acme", "web", "10.0.0.0/24", gateway="10.0.0.1")
        assert net["vlan"] == 100 and net["profiles"]["free"] == 64
        with pytest.raises(InvalidInput, match="subnet"):
            c.create_network("acme", "x", "300.0.0.0/24")
        with pytest.raises(NotFound):
            c.get_network("acme", "nope")
        c.register_server("srv0")
        with pytest.raises(Exhausted):
            c.pool_take("srv0", "acme/web", 254)
        assert len(c.pool_take("srv0", "acme/web", 253)) == 253
    with ControllerClient(url, token) as t:
        assert [n["name"] for n in t.list_networks()] == ["web"]
        with pytest.raises(Forbidden):
            t.create_network("blue", "x", "10.0.0.0/24")
    with ControllerClient(url, "bogus") as b, pytest.raises(Unauthorized):
        b.list_tenants()


def test_client_unavailable() -> None:
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with ControllerClient(f"http://127.0.0.1:{port}", "x", timeout=2) as c, pytest.raises(Unavailable):
        c.health()


def test_concurrent_api_takes(url: str) -> None:
    """50 agents ask at once over HTTP: every MAC and IP handed out exactly once."""
    with ControllerClient(url, ADMIN_TOKEN) as c:
        c.create_tenant("acme")
        c.create_network("acme", "web", "10.0.0.0/16")
        for i in range(50):
            c.register_server(f"s{i}")
        results: list[Any] = [None] * 50
        barrier = threading.Barrier(50)

        def ask(i: int) -> None:
            barrier.wait()
            try:
                results[i] = c.pool_take(f"s{i}", "acme/web", 10)
            except Exception as exc:
                results[i] = exc

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not [r for r in results if isinstance(r, Exception)]
    got = [p for r in results for p in r]
    assert len(got) == 500 == len({p["mac"] for p in got}) == len({p["ip"] for p in got})


def test_take_500_profiles(url: str) -> None:
    """Prints the time of one 500-profile take (reported, never asserted)."""
    with ControllerClient(url, ADMIN_TOKEN) as c:
        c.create_tenant("acme")
        c.create_network("acme", "web", "10.0.0.0/16")
        c.register_server("srv0")
        t0 = time.perf_counter()
        got = c.pool_take("srv0", "acme/web", 500)
        elapsed = time.perf_counter() - t0
    assert len(got) == 500
    print(f"\n500-profile take via API ({c.url}): {elapsed * 1000:.1f} ms")


def test_cli_against_server(url: str) -> None:
    runner = CliRunner()
    auth = ["--url", url, "--token", ADMIN_TOKEN]

    def run(*args: str) -> Any:
        return runner.invoke(cli_app, [*args[:2], *auth, *args[2:]])

    r = run("tenant", "create", "acme", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["name"] == "acme"
    r = run("network", "create", "acme/web", "--subnet", "10.0.0.0/24", "--vlan", "300")
    assert r.exit_code == 0 and "vlan 300" in r.stdout
    r = run("network", "create", "acme/db", "--subnet", "10.0.0.0/24", "--vlan", "300")
    assert r.exit_code == 1 and r.stderr.startswith("error: vlan 300 is already used") and not r.stdout
    assert r.stderr.count("\n") == 1
    r = run("network", "create", "acme/db", "--subnet", "10.0.0.0/24", "--vlan", "abc")
    assert r.exit_code == 1 and r.stderr == "error: invalid --vlan 'abc': give a number such as 100\n"
    r = run("network", "create", "acme-db", "--subnet", "10.0.0.0/24")
    assert r.exit_code == 1 and "TENANT/NAME" in r.stderr
    r = run("network", "list", "--json")
    assert [n["vlan"] for n in json.loads(r.stdout)] == [300]
    assert "acme/web" in run("network", "list").stdout
    assert "acme" in run("tenant", "list").stdout
    assert run("switch", "register", "tor0", "--driver", "fake", "-o", "k=v").exit_code == 0
    assert json.loads(run("switch", "list", "--json").stdout)[0]["options"] == {"k": "v"}
    assert run("switch", "status").exit_code == 0
    assert run("server", "register", "srv0", "--switch", "tor0").exit_code == 0
    assert json.loads(run("server", "list", "--json").stdout)[0]["switch"] == "tor0"
    r = runner.invoke(cli_app, ["tenant", "list", "--url", url, "--token", "bad"])
    assert r.exit_code == 1 and "unknown token" in r.stderr


def test_controller_daemon_command_lines(tmp_path: Path) -> None:
    """`controller init` then `controller serve`: health without a token, SIGTERM stops it."""
    state = tmp_path / "state"
    py = [sys.executable, "-m", "prewire"]
    subprocess.run([*py, "controller", "init", "--state-dir", str(state)], check=True, capture_output=True)
    token_file = state / "admin.token"
    first = token_file.read_text()
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    subprocess.run([*py, "controller", "init", "--state-dir", str(state)], check=True, capture_output=True)
    assert token_file.read_text() == first  # idempotent: the token is kept
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([*py, "controller", "serve", "--state-dir", str(state), "--port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "controller serve did not come up"
            time.sleep(0.05)
        with ControllerClient(f"http://127.0.0.1:{port}", first.strip()) as c:
            c.create_tenant("acme")
            assert [t["name"] for t in c.list_tenants()] == ["acme"]
            # pre-distribution runs inside `serve`: a registered switch receives every profile
            c.create_network("acme", "web", "10.0.0.0/24")
            c.register_switch("pwxctl-d", "fake", {})
            c.register_server("srv0", "pwxctl-d", "p0")
            c.pool_take("srv0", "acme/web", 100)  # below the low watermark afterwards: refilled, pushed
            deadline = time.monotonic() + 30
            while True:
                st = c.switch_status()[0]
                if st["state"] == "in_sync" and st["held"] == st["desired"] == 164:
                    break
                assert time.monotonic() < deadline, st
                time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
