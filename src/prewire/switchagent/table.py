"""The switch agent's persisted profile table: {mac: (vlan, network)} as JSON, written atomically."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from prewire.errors import KernelError
from prewire.switch.base import SwitchProfile
from prewire.switch.drivers.validation import normalize_mac, validate_batch


class ProfileTable:
    """Pre-distributed profiles; every change is validated whole, then persisted before it is used."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._profiles: dict[str, SwitchProfile] = {}
        if path and os.path.exists(path):
            try:
                with open(path) as fh:
                    data = json.load(fh)
                for p in validate_batch({}, data.get("profiles", [])):
                    self._profiles[p.mac] = p
            except (OSError, ValueError) as exc:
                raise KernelError(f"cannot read profile table {path}: {exc}; fix or remove it") from exc

    def __len__(self) -> int:
        return len(self._profiles)

    def get(self, mac: str) -> SwitchProfile | None:
        return self._profiles.get(mac)

    def vlan_map(self) -> dict[str, int]:
        return {m: p.vlan for m, p in self._profiles.items()}

    def profiles(self) -> list[SwitchProfile]:
        return sorted(self._profiles.values())

    def load(self, items: Iterable[Any]) -> list[SwitchProfile]:
        """Add or replace profiles (whole batch or nothing); returns the validated batch."""
        batch = validate_batch(self.vlan_map(), items)
        new = dict(self._profiles)
        new.update((p.mac, p) for p in batch)
        self._commit(new)
        return batch

    def remove(self, macs: Sequence[str]) -> list[SwitchProfile]:
        """Forget these MACs (absent ones are ignored); returns the removed profiles."""
        wanted = {normalize_mac(m) for m in macs}
        gone = [p for m, p in self._profiles.items() if m in wanted]
        if gone:
            self._commit({m: p for m, p in self._profiles.items() if m not in wanted})
        return gone

    def _commit(self, profiles: dict[str, SwitchProfile]) -> None:
        if self.path:
            tmp = f"{self.path}.tmp"
            data = {
                "profiles": [
                    {"mac": p.mac, "vlan": p.vlan, "network": p.network} for p in sorted(profiles.values())
                ]
            }
            try:
                with open(tmp, "w") as fh:
                    json.dump(data, fh, separators=(",", ":"))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise KernelError(f"cannot write profile table {self.path}: {exc}") from exc
        self._profiles = profiles
