"""Suite-wide fixtures: tiers are selected by marker; root-only tiers skip cleanly without root."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (kernel objects, OVS, services)")
    for item in items:
        if any(item.get_closest_marker(m) for m in ("root", "e2e", "postgres", "faults")):
            item.add_marker(skip)
