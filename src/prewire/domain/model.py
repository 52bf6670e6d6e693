"""Domain objects of the controller (plain data, no I/O) and the profile state machine.

A port profile is (MAC, IP, VLAN, network).  Its life:

    free (controller pool, pre-distributed to switches)
      --take-->    server (in that server's local pool)
      --bind-->    bound (a container uses it)
      --release--> server (back in the server's local pool)
      --return-->  free
A profile is in exactly one of these places at a time.  Whether a switch holds it is tracked separately
(per switch), because pre-distribution happens while the profile is free.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from prewire.errors import Conflict, InvalidInput

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def check_name(kind: str, name: str) -> str:
    """Names are DNS-label-like: 1-32 chars of a-z, 0-9 and inner '-'."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(
            f"invalid {kind} name {name!r}: use 1-32 characters a-z, 0-9 and '-' (not at the ends)",
            details=kind,
        )
    return name


def split_network_ref(ref: str) -> tuple[str, str]:
    """'tenant/net' -> ('tenant', 'net')."""
    parts = ref.split("/") if isinstance(ref, str) else []
    if len(parts) != 2:
        raise InvalidInput(f"invalid network {ref!r}: write it as TENANT/NAME", details="network")
    return check_name("tenant", parts[0]), check_name("network", parts[1])


class ProfileState(enum.StrEnum):
    FREE = "free"
    SERVER = "server"
    BOUND = "bound"


class ProfileEvent(enum.StrEnum):
    TAKE = "take"
    BIND = "bind"
    RELEASE = "release"
    RETURN = "return"


_TRANSITIONS: dict[tuple[ProfileState, ProfileEvent], ProfileState] = {
    (ProfileState.FREE, ProfileEvent.TAKE): ProfileState.SERVER,
    (ProfileState.SERVER, ProfileEvent.BIND): ProfileState.BOUND,
    (ProfileState.BOUND, ProfileEvent.BIND): ProfileState.BOUND,  # re-bind by the holding server
    (ProfileState.BOUND, ProfileEvent.RELEASE): ProfileState.SERVER,
    (ProfileState.SERVER, ProfileEvent.RELEASE): ProfileState.SERVER,  # idempotent release
    (ProfileState.SERVER, ProfileEvent.RETURN): ProfileState.FREE,
}


def transition(state: ProfileState, event: ProfileEvent, mac: str = "") -> ProfileState:
    """The next state, or Conflict when the event is not allowed in this state."""
    nxt = _TRANSITIONS.get((state, event))
    if nxt is None:
        raise Conflict(f"profile {mac} is {state.value}: cannot {event.value} it", details=mac)
    return nxt


@dataclass(frozen=True)
class Principal:
    """Who calls: the admin (tenant None) or one tenant."""

    tenant: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.tenant is None


ADMIN = Principal()


@dataclass(frozen=True)
class Tenant:
    name: str
    networks: int = 0


@dataclass(frozen=True)
class Network:
    tenant: str
    name: str
    subnet: str
    vlan: int
    gateway: str | None = None
    profiles: dict[str, int] = field(default_factory=dict)  # state -> count

    @property
    def ref(self) -> str:
        return f"{self.tenant}/{self.name}"


@dataclass(frozen=True)
class Server:
    name: str
    switch: str | None = None
    switch_port: str | None = None
    held: int = 0
    bound: int = 0


@dataclass(frozen=True)
class Switch:
    name: str
    driver: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SwitchStatus:
    name: str
    driver: str
    state: str  # in_sync | pending | unreachable | unknown
    held: int
    desired: int
    last_error: str = ""
    last_sync: str = ""


@dataclass(frozen=True)
class Profile:
    mac: str
    ip: str
    prefix: int
    gateway: str | None
    vlan: int
    network: str  # tenant/name
    state: str = ProfileState.FREE.value
    server: str | None = None


@dataclass(frozen=True)
class Endpoint:
    mac: str
    ip: str
    vlan: int
    network: str
    server: str
    container: str
    ifname: str
    port: str
    switch: str | None = None
    switch_port: str | None = None


@dataclass(frozen=True)
class BoundReport:
    mac: str
    container: str
    ifname: str = "eth0"
    port: str = ""


@dataclass(frozen=True)
class ItemResult:
    """Outcome of one item of a batched report: ok, or the error it would have raised."""

    mac: str
    ok: bool
    error: str = ""
    message: str = ""
