"""Shared state and row helpers of the controller's service mixins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from prewire.domain.allocation import VlanRange
from prewire.domain.model import Principal, Profile
from prewire.errors import Forbidden, InvalidInput, NotFound
from prewire.store import Store
from prewire.store.tables import NetworkRow, ProfileRow, ServerRow, TenantRow

log = logging.getLogger("prewire.controller")


@dataclass(frozen=True)
class ControllerConfig:
    """Tunables: VLAN range, pool watermarks (per network, free profiles kept ahead of demand)."""

    vlan_range: VlanRange = field(default_factory=VlanRange)
    pool_low: int = 16
    pool_target: int = 64
    max_take: int = 4096
    admin_token: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.pool_low <= self.pool_target:
            raise InvalidInput(
                f"pool watermarks low={self.pool_low} target={self.pool_target}: need 0<=low<=target"
            )


class ServiceBase:
    """Holds the store, the configuration and the listeners woken when profiles change."""

    def __init__(self, store: Store, config: ControllerConfig | None = None) -> None:
        self.store = store
        self.config = config or ControllerConfig()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a listener must never fail a request
                log.exception("change listener failed")

    def known_drivers(self) -> list[str] | None:
        """Installed switch drivers (entry points), or None when the registry is not available."""
        try:
            from prewire.switch.registry import available_drivers
        except ImportError:
            return None
        return available_drivers()

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("this call needs the admin token")

    @staticmethod
    def _require_tenant(principal: Principal, tenant: str) -> None:
        if not principal.is_admin and principal.tenant != tenant:
            raise Forbidden(f"your token belongs to tenant {principal.tenant!r}, not {tenant!r}")

    def _lock(self, stmt: Select) -> Select:  # type: ignore[type-arg]
        return stmt.with_for_update() if self.store.is_postgres else stmt

    def _tenant_row(self, s: Session, name: str) -> TenantRow:
        row = s.scalars(select(TenantRow).where(TenantRow.name == name)).first()
        if row is None:
            raise NotFound(f"tenant {name!r} does not exist: create it with `prewire tenant create {name}`")
        return row

    def _network_row(self, s: Session, tenant: str, name: str, lock: bool = False) -> NetworkRow:
        stmt = select(NetworkRow).join(TenantRow).where(TenantRow.name == tenant, NetworkRow.name == name)
        row: NetworkRow | None = s.scalars(self._lock(stmt) if lock else stmt).first()
        if row is None:
            raise NotFound(f"network {tenant}/{name} does not exist: list them with `prewire network list`")
        return row

    def _server_row(self, s: Session, name: str) -> ServerRow:
        row = s.scalars(select(ServerRow).where(ServerRow.name == name)).first()
        if row is None:
            raise NotFound(f"server {name!r} is not registered: register it with POST /v1/servers")
        return row


def to_profile(p: ProfileRow, net: NetworkRow, tenant: str, server: str | None = None) -> Profile:
    return Profile(
        mac=p.mac,
        ip=p.ip,
        prefix=int(net.subnet.rsplit("/", 1)[1]),  # stored normalized by Subnet.parse
        gateway=net.gateway,
        vlan=net.vlan,
        network=f"{tenant}/{net.name}",
        state=p.state,
        server=server,
    )
