"""Suite-wide fixtures: tiers are selected by marker; root-only tiers skip cleanly without root."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Property tests assert behaviour, never time: no per-example deadline (a scheduling stall of the shared
# CI machine would otherwise fail an example, or make Hypothesis call the test flaky).
settings.register_profile("prewire", deadline=None)
settings.load_profile("prewire")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (kernel objects, OVS, services)")
    for item in items:
        if any(item.get_closest_marker(m) for m in ("root", "e2e", "postgres", "faults")):
            item.add_marker(skip)
