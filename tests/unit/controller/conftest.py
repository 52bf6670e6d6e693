"""A fresh controller on a temporary SQLite database for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prewire.controller.service import Controller
from tests.unit.controller.ctl_helpers import make_controller, sqlite_url


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Controller]:
    c = make_controller(sqlite_url(tmp_path))
    yield c
    c.store.dispose()
