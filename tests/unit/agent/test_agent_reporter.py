"""Asynchronous endpoint reports: batched, retried while the controller is down, persisted releases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prewire.agent.reporter import Reporter
from prewire.agent.state import Store
from prewire.errors import Unavailable


class Controller:
    def __init__(self) -> None:
        self.down = True
        self.reports: list[tuple[list[Any], list[str]]] = []

    async def report_endpoints(self, server: str, bound: Any = (), released: Any = ()) -> Any:
        if self.down:
            raise Unavailable("down")
        self.reports.append((list(bound), list(released)))
        return {}

    def pool_take(self, server: str, network: str, count: int) -> Any:
        return []


def binding(container: str, mac: str) -> dict[str, Any]:
    return {"container": container, "ifname": "eth0", "port": "p1", "profile": {"mac": mac, "network": "t/n"}}


def test_reports_survive_a_controller_outage(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = Store(str(tmp_path))
        controller = Controller()
        reporter = Reporter(store, "s1", controller)
        task = asyncio.get_running_loop().create_task(reporter.run(linger=0.001, max_backoff=0.02))
        reporter.bound(binding("a", "02:00:00:00:00:01"))
        reporter.bound(binding("b", "02:00:00:00:00:02"))
        store.released["02:00:00:00:00:03"] = None
        await asyncio.sleep(0.1)
        assert reporter.failures > 0 and reporter.pending() == 3
        controller.down = False
        for _ in range(200):
            if not reporter.pending():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        assert reporter.pending() == 0
        bound = [b["container"] for report in controller.reports for b in report[0]]
        released = [m for report in controller.reports for m in report[1]]
        assert sorted(bound) == ["a", "b"] and released == ["02:00:00:00:00:03"]
        assert not Store(str(tmp_path)).released  # the 'reported' record is journalled

    asyncio.run(scenario())


def test_release_before_report_cancels_the_bound_report(tmp_path: Path) -> None:
    async def scenario() -> None:
        reporter = Reporter(Store(str(tmp_path)), "s1", None)
        reporter.bound(binding("a", "02:00:00:00:00:01"))
        reporter.released("02:00:00:00:00:01")
        assert await reporter.flush() and reporter.pending() == 0

    asyncio.run(scenario())
