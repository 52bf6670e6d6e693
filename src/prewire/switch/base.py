"""The abstract switch device every driver implements (cf. networking-generic-switch's device class).

A driver holds pre-distributed port profiles (MAC -> VLAN) in the switch *before* containers start; the
switch itself applies a profile to the port where the MAC appears (AMPP).  Operations are batched and
idempotent: loading a profile that is already held, or removing one that is not, is not an error.
Drivers raise only prewire.errors (Unavailable when the switch cannot be reached).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class SwitchProfile:
    """A port profile as a switch holds it: the MAC it is bound to and the VLAN it applies."""

    mac: str  # lower-case aa:bb:cc:dd:ee:ff
    vlan: int
    network: str = ""  # "tenant/net", informational (vendor profile names are derived from the VLAN)


@dataclass(frozen=True, order=True)
class PortActivity:
    """A MAC seen on a switch port with the VLAN its profile applied there."""

    port: str
    mac: str
    vlan: int


@dataclass(frozen=True)
class SwitchHealth:
    reachable: bool
    profiles: int = 0
    detail: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


class SwitchDevice(abc.ABC):
    """One switch, addressed by the options of its controller record (driver-specific keys)."""

    driver_name: str = "abstract"

    def __init__(self, name: str, options: Mapping[str, str]) -> None:
        self.name = name
        self.options = dict(options)

    @abc.abstractmethod
    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        """Add or replace these profiles (one batch, one commit where the switch has commits)."""

    @abc.abstractmethod
    def remove_profiles(self, macs: Sequence[str]) -> None:
        """Forget the profiles of these MACs; the switch prunes their VLAN from ports they were on."""

    @abc.abstractmethod
    def held_profiles(self) -> list[SwitchProfile]:
        """Read back every profile the switch holds (used to resynchronise)."""

    @abc.abstractmethod
    def active_ports(self) -> list[PortActivity]:
        """Which pre-distributed MACs are active on which port, with their VLAN."""

    @abc.abstractmethod
    def health(self) -> SwitchHealth:
        """Cheap reachability check."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
