"""Allocation rules (pure functions): VLAN IDs, IPv4 host addresses and MAC addresses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prewire.errors import Conflict, Exhausted, InvalidInput

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
VLAN_MIN, VLAN_MAX = 1, 4094
MAX_PREFIX = 30  # a /31 or /32 has no host left once network, broadcast (and gateway) are excluded


@dataclass(frozen=True)
class VlanRange:
    low: int = 100
    high: int = 3999

    def __post_init__(self) -> None:
        if not (VLAN_MIN <= self.low <= self.high <= VLAN_MAX):
            raise InvalidInput(
                f"invalid VLAN range {self.low}-{self.high}: use LOW-HIGH within 1-4094", details="vlan_range"
            )

    @classmethod
    def parse(cls, text: str) -> VlanRange:
        try:
            low, high = (int(x) for x in text.split("-", 1))
        except ValueError:
            raise InvalidInput(f"invalid VLAN range {text!r}: write LOW-HIGH, e.g. 100-3999") from None
        return cls(low, high)


def choose_vlan(used: Iterable[int], vrange: VlanRange, requested: int | None = None) -> int:
    """The requested VLAN if it is in range and free, else the lowest free VLAN of the range."""
    taken = set(used)
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise InvalidInput(f"invalid vlan {requested!r}: give an integer", details="vlan")
        if not vrange.low <= requested <= vrange.high:
            raise InvalidInput(
                f"vlan {requested} is outside the range {vrange.low}-{vrange.high}: pick one inside it",
                details="vlan",
            )
        if requested in taken:
            raise Conflict(
                f"vlan {requested} is already used by another network: pick another", details="vlan"
            )
        return requested
    for vid in range(vrange.low, vrange.high + 1):
        if vid not in taken:
            return vid
    raise Exhausted(f"no free VLAN left in {vrange.low}-{vrange.high}: delete a network or widen the range")


@dataclass(frozen=True)
class Subnet:
    """An IPv4 subnet with an optional gateway; knows which addresses may be handed out."""

    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None = None

    @classmethod
    def parse(cls, cidr: str, gateway: str | None = None) -> Subnet:
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"invalid subnet {cidr!r}: give an IPv4 CIDR such as 10.0.0.0/24 ({exc})", details="subnet"
            ) from None
        if net.prefixlen > MAX_PREFIX:
            raise InvalidInput(f"subnet {cidr} is too small: use a /30 or larger", details="subnet")
        gw = None
        if gateway is not None:
            try:
                gw = ipaddress.IPv4Address(gateway)
            except (ValueError, TypeError):
                raise InvalidInput(
                    f"invalid gateway {gateway!r}: give an IPv4 address", details="gateway"
                ) from None
            if gw not in net or gw in (net.network_address, net.broadcast_address):
                raise InvalidInput(f"gateway {gateway} is not a host address of {cidr}", details="gateway")
        return cls(net, gw)

    @property
    def prefix(self) -> int:
        return self.network.prefixlen

    @property
    def capacity(self) -> int:
        """How many profiles the subnet can ever hold."""
        return self.network.num_addresses - 2 - (1 if self.gateway else 0)

    def hosts(self) -> Iterator[ipaddress.IPv4Address]:
        for ip in self.network.hosts():
            if ip != self.gateway:
                yield ip

    def free_hosts(self, used: Iterable[str], count: int) -> list[str]:
        """The first `count` handable addresses not in `used`; Exhausted if there are not enough."""
        taken = set(used)
        out: list[str] = []
        if count <= 0:
            return out
        for ip in self.hosts():
            s = str(ip)
            if s not in taken:
                out.append(s)
                if len(out) == count:
                    return out
        raise Exhausted(
            f"subnet {self.network} has only {len(out)} free addresses, {count} needed: "
            "release profiles or use a larger subnet",
            details="subnet",
        )


def mac_for(fabric: int, index: int) -> str:
    """The MAC of counter value `index`: 02 (locally administered, unicast), fabric byte, 32-bit index."""
    if not 0 <= fabric <= 0xFF or not 0 <= index <= 0xFFFFFFFF:
        raise Exhausted("MAC space of this fabric is used up: start a new fabric id")
    raw = (0x02 << 40) | (fabric << 32) | index
    return ":".join(f"{(raw >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def normalize_mac(mac: str) -> str:
    """Lower-case aa:bb:cc:dd:ee:ff, or InvalidInput."""
    m = mac.strip().lower().replace("-", ":") if isinstance(mac, str) else ""
    if not MAC_RE.match(m):
        raise InvalidInput(f"invalid MAC {mac!r}: write it as aa:bb:cc:dd:ee:ff", details="mac")
    return m


def refill_amount(free: int, low: int, target: int, capacity_left: int) -> int:
    """How many profiles to pre-allocate: up to `target` once the pool fell below `low`."""
    if free >= low:
        return 0
    return max(0, min(target - free, capacity_left))
