"""Helpers shared by controller and API tests: a controller on a temporary SQLite, table snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from prewire.controller.base import ControllerConfig
from prewire.controller.service import Controller
from prewire.domain.allocation import VlanRange
from prewire.store import Store
from prewire.store.tables import Base

ADMIN_TOKEN = "pwa_test_admin"
# the controller allocates 02:<random fabric byte>:<counter>: a literal 02:.. MAC may be a real profile
# (fabric byte 0 made "02:00:00:00:00:00" the first MAC handed out, 1 run in 256)
NEVER_ALLOCATED = "06:00:00:00:00:01"


def make_controller(url: str, pool_low: int = 4, pool_target: int = 8, vlans: str = "100-3999") -> Controller:
    store = Store(url)
    store.migrate()
    return Controller(
        store, ControllerConfig(VlanRange.parse(vlans), pool_low, pool_target, 4096, ADMIN_TOKEN)
    )


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'controller.db'}"


def snapshot(ctl: Controller) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove that a refused request wrote nothing."""

    def work(s: Any) -> dict[str, list[tuple[Any, ...]]]:
        return {
            t.name: sorted(tuple(r) for r in s.execute(select(t)).all()) for t in Base.metadata.sorted_tables
        }

    return ctl.store.read(work)
