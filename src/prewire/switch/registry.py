"""Switch drivers are entry points of group `prewire.switch_drivers`; the controller picks one per switch."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from prewire.errors import InvalidInput
from prewire.switch.base import SwitchDevice

GROUP = "prewire.switch_drivers"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_drivers() -> list[str]:
    return sorted(_entry_points())


def create_device(driver: str, name: str, options: Mapping[str, str]) -> SwitchDevice:
    """Instantiate driver `driver` for switch `name`; InvalidInput for an unknown driver."""
    ep = _entry_points().get(driver)
    if ep is None:
        known = ", ".join(available_drivers()) or "none installed"
        raise InvalidInput(f"unknown switch driver {driver!r}; use one of: {known}")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, SwitchDevice)):
        raise InvalidInput(f"switch driver {driver!r} ({ep.value}) is not a SwitchDevice")
    return cls(name, options)
