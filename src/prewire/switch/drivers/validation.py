"""Profile batch validation shared by every switch that keeps a table (fake, switch agent, vendors)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from prewire.errors import Conflict, InvalidInput
from prewire.switch.base import SwitchProfile

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(mac: object) -> str:
    text = str(mac).strip().lower().replace("-", ":")
    if not _MAC.match(text):
        raise InvalidInput(f"malformed MAC address {mac!r}; use aa:bb:cc:dd:ee:ff")
    if int(text[:2], 16) & 1:
        raise InvalidInput(f"MAC {text} is a multicast address; a profile needs a unicast MAC")
    return text


def validate_vlan(vlan: object) -> int:
    if isinstance(vlan, bool) or not isinstance(vlan, int) or not 1 <= vlan <= 4094:
        raise InvalidInput(f"VLAN {vlan!r} is outside 1-4094")
    return vlan


def parse_profiles(items: Iterable[Any]) -> list[SwitchProfile]:
    """Profiles from JSON-like dicts or SwitchProfile objects; raises InvalidInput on the first bad one."""
    result = []
    for item in items:
        mac: object
        vlan: object
        network: object
        if isinstance(item, SwitchProfile):
            mac, vlan, network = item.mac, item.vlan, item.network
        elif isinstance(item, Mapping):
            mac, vlan, network = item.get("mac"), item.get("vlan"), item.get("network", "")
        else:
            raise InvalidInput(f"profile {item!r} must be an object {{mac, vlan, network}}")
        result.append(SwitchProfile(normalize_mac(mac), validate_vlan(vlan), str(network or "")))
    return result


def validate_batch(held: Mapping[str, int], items: Iterable[Any]) -> list[SwitchProfile]:
    """Check a whole batch against the held table {mac: vlan}: malformed input or a MAC bound to
    another VLAN (held, or twice in the batch) rejects the batch before anything changes."""
    profiles = parse_profiles(items)
    seen: dict[str, int] = {}
    for p in profiles:
        bound = seen.get(p.mac, held.get(p.mac))
        if bound is not None and bound != p.vlan:
            raise Conflict(
                f"MAC {p.mac} is already bound to VLAN {bound}, not {p.vlan}; remove its profile first"
            )
        seen[p.mac] = p.vlan
    return profiles
