"""An in-memory AMPP-like switch for tests: injectable delay and failure probability.

Options (strings, as in the controller's switch record): `delay` seconds per operation (default 0),
`failure_probability` 0..1 (default 0), `seed` for the random failures.  State is kept per switch name
for the life of the process, so a device re-created by the controller sees what the switch holds;
`FakeSwitch.set_down(name)` makes a switch unreachable, `FakeSwitch.reset()` forgets every switch.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prewire.errors import InvalidInput, Unavailable
from prewire.switch.base import PortActivity, SwitchDevice, SwitchHealth, SwitchProfile
from prewire.switch.drivers.validation import normalize_mac, validate_batch


@dataclass
class _State:
    profiles: dict[str, SwitchProfile] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)  # mac -> port where it was seen
    down: bool = False
    calls: int = 0


_states: dict[str, _State] = {}
_lock = threading.Lock()


class FakeSwitch(SwitchDevice):
    driver_name = "fake"

    def __init__(self, name: str, options: Mapping[str, str]) -> None:
        super().__init__(name, options)
        try:
            self.delay = float(self.options.get("delay", 0) or 0)
            self.failure_probability = float(self.options.get("failure_probability", 0) or 0)
        except ValueError as exc:
            raise InvalidInput(f"fake switch {name}: delay and failure_probability must be numbers") from exc
        if not 0 <= self.failure_probability <= 1 or self.delay < 0:
            raise InvalidInput(f"fake switch {name}: need delay >= 0 and 0 <= failure_probability <= 1")
        seed = self.options.get("seed")
        self._random = random.Random(int(seed) if seed not in (None, "") else None)
        with _lock:
            self._state = _states.setdefault(name, _State())

    # -- test hooks ------------------------------------------------------------------------------------
    @staticmethod
    def set_down(name: str, down: bool = True) -> None:
        with _lock:
            _states.setdefault(name, _State()).down = down

    @staticmethod
    def reset() -> None:
        with _lock:
            _states.clear()

    def observe(self, port: str, mac: str) -> bool:
        """A frame from `mac` arrived on `port`: apply its profile there (AMPP); False if unknown."""
        mac = normalize_mac(mac)
        with _lock:
            if mac not in self._state.profiles:
                return False
            self._state.ports[mac] = port
            return True

    # -- SwitchDevice ----------------------------------------------------------------------------------
    def _operation(self) -> _State:
        if self.delay:
            time.sleep(self.delay)
        state = self._state
        state.calls += 1
        if state.down:
            raise Unavailable(f"fake switch {self.name} is down; retry later")
        if self.failure_probability and self._random.random() < self.failure_probability:
            raise Unavailable(f"fake switch {self.name}: injected failure; retry later")
        return state

    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        state = self._operation()
        with _lock:
            batch = validate_batch({m: p.vlan for m, p in state.profiles.items()}, profiles)
            state.profiles.update((p.mac, p) for p in batch)

    def remove_profiles(self, macs: Sequence[str]) -> None:
        state = self._operation()
        wanted = {normalize_mac(m) for m in macs}
        with _lock:
            for mac in wanted:
                state.profiles.pop(mac, None)
                state.ports.pop(mac, None)

    def held_profiles(self) -> list[SwitchProfile]:
        state = self._operation()
        with _lock:
            return sorted(state.profiles.values())

    def active_ports(self) -> list[PortActivity]:
        state = self._operation()
        with _lock:
            return sorted(
                PortActivity(port, mac, state.profiles[mac].vlan) for mac, port in state.ports.items()
            )

    def health(self) -> SwitchHealth:
        state = self._state
        if state.down:
            return SwitchHealth(False, detail=f"fake switch {self.name} is down")
        return SwitchHealth(True, len(state.profiles), "fake", {"calls": state.calls})
