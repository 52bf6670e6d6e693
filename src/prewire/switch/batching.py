"""Pure helpers of pre-distribution: what a switch must load/remove, in batches, with retry backoff."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from prewire.switch.base import SwitchProfile

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive batches of at most `size` items."""
    if size < 1:
        raise ValueError("batch size must be >= 1")
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


@dataclass(frozen=True)
class SyncPlan:
    """Changes that bring a switch from what it holds to what it should hold."""

    load: list[SwitchProfile] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.load and not self.remove


def plan(desired: Mapping[str, SwitchProfile], held: Mapping[str, int]) -> SyncPlan:
    """Load what is missing or has another VLAN; remove what should no longer be there (sorted)."""
    load = sorted(p for mac, p in desired.items() if held.get(mac) != p.vlan)
    remove = sorted(mac for mac in held if mac not in desired)
    return SyncPlan(load, remove)


class Backoff:
    """Exponential backoff with jitter: initial, x factor per failure, capped at maximum."""

    def __init__(self, initial: float = 0.2, maximum: float = 30.0, factor: float = 2.0) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self.failures = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.failures = 0
