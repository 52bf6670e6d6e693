"""Drive the installed plugin exactly as a runtime does: environment + stdin in, stdout + exit code out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prewire import jsonline
from prewire.cni import install


@pytest.fixture(scope="session")
def cni_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed the way `prewire cni install` does it (stub + cached shim)."""
    return install.install_plugin(str(tmp_path_factory.mktemp("cnibin")))


Invoke = Callable[..., tuple[int, Any, str]]


def invoke(exe: Path, command: str | None, conf: Any, **env: str) -> tuple[int, Any, str]:
    """Run the plugin; returns (exit code, parsed stdout or None, stderr)."""
    environ = {"PATH": os.environ.get("PATH", "")}
    if command is not None:
        environ["CNI_COMMAND"] = command
    environ.update(env)
    data = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
    done = subprocess.run([str(exe)], input=data, env=environ, capture_output=True, timeout=30, check=False)
    out = done.stdout.decode()
    return done.returncode, (json.loads(out) if out.strip() else None), done.stderr.decode()


class FakeAgent:
    """A JSON-lines server speaking the agent's socket protocol with scripted answers (unit tier only:
    the real agent is exercised by tests/integration/cni)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _handle(self, request: dict[str, Any]) -> Any:
        self.requests.append(request)
        answer = self.answers.get(request["op"], {})
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(jsonline.serve(self.path, self._handle))
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[FakeAgent]:
    agent = FakeAgent(str(tmp_path / "agent.sock"))
    yield agent
    agent.close()


@pytest.fixture
def cni(cni_bin: Path) -> Invoke:
    """cni(command, conf, **env) -> (exit code, stdout JSON, stderr) of the installed plugin."""

    def call(command: str | None, conf: Any, **env: str) -> tuple[int, Any, str]:
        return invoke(cni_bin, command, conf, **env)

    return call
