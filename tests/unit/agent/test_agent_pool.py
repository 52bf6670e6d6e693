"""The local profile pool: FIFO takes, background refill below the watermark, Exhausted rules."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from prewire.agent.pool import LocalPool
from prewire.agent.state import Store
from prewire.errors import Exhausted, NotFound, Unavailable


def profiles(network: str, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "mac": f"02:00:00:00:01:{i:02x}",
            "ip": f"10.0.0.{i}",
            "prefix": 24,
            "gateway": "10.0.0.254",
            "vlan": 7,
            "network": network,
        }
        for i in range(start, start + count)
    ]


class FakeController:
    """Blocking like prewire.client.ControllerClient; all-or-none like the real one."""

    def __init__(self, stock: int = 100, down: bool = False) -> None:
        self.stock, self.down = stock, down
        self.calls: list[tuple[str, str, int]] = []
        self.next = 1

    def pool_take(self, server: str, network: str, count: int) -> list[dict[str, Any]]:
        self.calls.append((server, network, count))
        if self.down:
            raise Unavailable("controller down")
        if network == "t/unknown":
            raise NotFound("no such network")
        if count > self.stock:
            raise Exhausted("not that many")
        self.stock -= count
        out = profiles(network, self.next, count)
        self.next += count
        return out

    def report_endpoints(self, server: str, bound: Any = (), released: Any = ()) -> Any:
        return {}


def test_take_is_fifo_and_refills_below_watermark(tmp_path: Path) -> None:
    async def scenario() -> None:
        controller = FakeController()
        pool = LocalPool(Store(str(tmp_path)), "s1", controller, size=8)
        pool.seed(profiles("t/n", 200, 5))
        first = await pool.take("t/n")
        assert first["ip"] == "10.0.0.200" and (await pool.take("t/n")) == first  # taken = bound later
        for _ in range(2):  # the caller's bind removes it; then 3 left < low watermark 4: refill
            pool.store.log({"op": "drop", "macs": [(await pool.take("t/n"))["mac"]]})
        for _ in range(500):  # the refill runs in a thread: poll its result
            if controller.calls and pool.store.free_count("t/n") == 8:
                break
            await asyncio.sleep(0.01)
        assert controller.calls and pool.store.free_count("t/n") == 8

    asyncio.run(scenario())


def test_empty_network_waits_for_controller_then_exhausted_when_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = LocalPool(Store(str(tmp_path)), "s1", FakeController(stock=3), size=8)
        got = await pool.take("t/new")  # nothing local: fetched now; 8 and 4 refused, 2 granted
        assert got["network"] == "t/new" and pool.store.free_count("t/new") == 2
        down = LocalPool(Store(str(tmp_path / "b")), "s1", FakeController(down=True), size=8)
        with pytest.raises(Exhausted, match="unreachable"):
            await down.take("t/n")
        with pytest.raises(NotFound):
            await LocalPool(Store(str(tmp_path / "c")), "s1", FakeController(), size=8).take("t/unknown")
        with pytest.raises(Exhausted, match="no controller"):
            await LocalPool(Store(str(tmp_path / "d")), "s1", None).take("t/n")

    asyncio.run(scenario())


def test_normalize_rejects_incomplete_profiles(tmp_path: Path) -> None:
    pool = LocalPool(Store(str(tmp_path)), "s1", None)
    with pytest.raises(Unavailable, match="without"):
        pool.seed([{"mac": "02:00:00:00:00:01", "network": "t/n"}])
    pool.seed([{**profiles("t/n", 1, 1)[0], "mac": "02:AA:00:00:00:01", "vlan": "9"}])
    assert pool.store.free["t/n"]["02:aa:00:00:00:01"]["vlan"] == 9
