"""The agent with a real controller (SQLite): pool refill from the controller, asynchronous endpoint
reports, and wiring that goes on from the local pool while the controller is down."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire.agent.daemon import start_agent, stop_agent
from prewire.client import ControllerClient
from tests.integration.agent.pwxag_env import envs, eventually, leftovers

pytestmark = pytest.mark.root
NET = "pwxagt/web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Controller:
    def __init__(self, state: Path) -> None:
        self.state, self.port = state, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        cli = [sys.executable, "-m", "prewire", "controller", "init", "--state-dir", str(state)]
        subprocess.run(cli, check=True, capture_output=True)
        self.token_file = str(state / "admin.token")

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "prewire",
            "controller",
            "serve",
            "--state-dir",
            str(self.state),
            "--port",
            str(self.port),
        ]
        log = (self.state / "controller.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        client = self.client()
        deadline = time.monotonic() + 30
        while True:
            try:
                client.health()
                return
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError((self.state / "controller.log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self) -> ControllerClient:
        with open(self.token_file) as fh:
            return ControllerClient(self.url, fh.read().strip(), timeout=5)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    state = tmp_path / "controller"
    state.mkdir()
    ctl = Controller(state)
    try:
        ctl.start()
        yield ctl
    finally:
        ctl.stop()


def test_refill_reports_and_controller_outage(tmp_path: Path, controller: Controller) -> None:
    client = controller.client()
    client.create_tenant("pwxagt")
    client.create_network("pwxagt", "web", "10.219.0.0/24", vlan=2019)
    client.register_server("srvx9")

    def endpoints() -> set[str]:
        return {str(e["mac"]) for e in client.list_endpoints()}

    async def scenario() -> None:
        with envs(tmp_path, 9) as (env,):
            config = env.config(controller=controller.url, token_file=controller.token_file, pool_size=8)
            agent, handles = await start_agent(config)
            try:
                env.container("a", NET)
                a = await agent.wait("a", 20)  # empty local pool: fetched from the controller once
                assert a["vlan"] == 2019 and a["ip"].startswith("10.219.0.")
                await eventually(lambda: agent.store.free_count(NET) >= 4, 10)
                await eventually(lambda: a["mac"] in endpoints(), 10)

                controller.stop()  # the controller goes away: wiring continues from the local pool
                names = [f"o{i}" for i in range(4)]
                for name in names:
                    env.container(name, NET)
                wired = [await agent.wait(name, 20) for name in names]
                assert len({w["mac"] for w in wired} | {a["mac"]}) == 5
                env.remove("a")
                await eventually(lambda: "a/eth0" not in agent.store.bindings, 10)
                assert agent.reporter.pending() > 0

                controller.start()  # the reports catch up
                await eventually(lambda: agent.reporter.pending() == 0, 30)
                seen = endpoints()
                assert a["mac"] not in seen and {w["mac"] for w in wired} <= seen
                for name in names:
                    env.remove(name)
                await eventually(lambda: not agent.store.bindings, 10)
            finally:
                await stop_agent(agent, handles)
                agent.ports.destroy()
        assert leftovers() == []

    asyncio.run(scenario())
