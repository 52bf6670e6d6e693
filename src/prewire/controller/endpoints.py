"""The endpoint ledger: which container a profile is bound to, reported by the agents in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from prewire.controller.base import ServiceBase
from prewire.domain.allocation import normalize_mac
from prewire.domain.model import (
    BoundReport,
    Endpoint,
    ItemResult,
    Principal,
    ProfileEvent,
    ProfileState,
    transition,
)
from prewire.errors import Conflict, NotFound, PrewireError
from prewire.store.tables import NetworkRow, ProfileRow, ServerRow, TenantRow


class EndpointMixin(ServiceBase):
    def report(
        self,
        principal: Principal,
        server: str,
        bound: Sequence[BoundReport],
        released: Sequence[str | tuple[str, str | None]],
    ) -> dict[str, list[ItemResult]]:
        """Apply a server's batch; idempotent; each item succeeds or fails alone (per-item results, in order).

        Order: plain-MAC releases (they concern bindings reported *before* this batch), then bindings, then
        releases that name their container (mac, container) - those are ignored when the profile is bound to
        another container by now (the MAC was reused), so their place in the batch does not matter."""
        self._require_admin(principal)

        def work(s: Session) -> dict[str, list[ItemResult]]:
            srv = self._server_row(s, server)
            pairs = [item if isinstance(item, tuple) else (item, None) for item in released]
            macs = {
                m.strip().lower()
                for m in [b.mac for b in bound] + [m for m, _ in pairs]
                if isinstance(m, str)
            }
            rows = (
                {r.mac: r for r in s.scalars(select(ProfileRow).where(ProfileRow.mac.in_(macs)))}
                if macs
                else {}
            )
            out_r: dict[int, ItemResult] = {}
            for i, (m, c) in enumerate(pairs):
                if c is None:
                    out_r[i] = self._one(rows, srv, m, lambda row: self._release(row, None))
            out_b = [self._one(rows, srv, b.mac, lambda row, b=b: self._bind(row, b)) for b in bound]
            for i, (m, c) in enumerate(pairs):
                if c is not None:
                    out_r[i] = self._one(rows, srv, m, lambda row, c=c: self._release(row, c))
            return {"bound": out_b, "released": [out_r[i] for i in range(len(pairs))]}

        return self.store.write(work)

    @staticmethod
    def _one(rows: dict[str, ProfileRow], srv: ServerRow, raw: str, apply: object) -> ItemResult:
        try:
            mac = normalize_mac(raw)
            row = rows.get(mac)
            if row is None:
                raise NotFound(f"profile {mac} does not exist (its network was deleted?)", details=mac)
            if row.server_id != srv.id:
                raise Conflict(f"profile {mac} is not held by server {srv.name}: take it from the pool first")
            message = apply(row)  # type: ignore[operator]
            return ItemResult(mac, True, message=message or "")
        except PrewireError as exc:
            return ItemResult(str(raw), False, exc.kind, exc.message)

    @staticmethod
    def _bind(row: ProfileRow, b: BoundReport) -> str:
        same = (row.state, row.container, row.ifname) == (ProfileState.BOUND.value, b.container, b.ifname)
        row.state = transition(ProfileState(row.state), ProfileEvent.BIND, row.mac).value
        row.container, row.ifname, row.port = b.container, b.ifname, b.port or row.port
        return "unchanged" if same else ""

    @staticmethod
    def _release(row: ProfileRow, container: str | None) -> str:
        if row.state == ProfileState.BOUND and container and row.container != container:
            return f"bound to {row.container} now; release of {container} ignored"
        was = row.state
        row.state = transition(ProfileState(row.state), ProfileEvent.RELEASE, row.mac).value
        row.container = row.ifname = row.port = None
        return "unchanged" if was == ProfileState.SERVER else ""

    def list_endpoints(self, principal: Principal, server: str | None = None) -> list[Endpoint]:
        """Bound profiles (a tenant sees its own), optionally of one server (for agent reconciliation)."""

        def work(s: Session) -> list[Endpoint]:
            stmt = (
                select(ProfileRow, NetworkRow, TenantRow.name, ServerRow)
                .join(NetworkRow, ProfileRow.network_id == NetworkRow.id)
                .join(TenantRow)
                .join(ServerRow, ProfileRow.server_id == ServerRow.id)
                .where(ProfileRow.state == ProfileState.BOUND)
                .order_by(TenantRow.name, NetworkRow.name, ProfileRow.id)
            )
            if not principal.is_admin:
                stmt = stmt.where(TenantRow.name == principal.tenant)
            if server is not None:
                stmt = stmt.where(ServerRow.name == server)
            return [
                Endpoint(
                    mac=p.mac,
                    ip=p.ip,
                    vlan=n.vlan,
                    network=f"{t}/{n.name}",
                    server=srv.name,
                    container=p.container or "",
                    ifname=p.ifname or "",
                    port=p.port or "",
                    switch=srv.switch,
                    switch_port=srv.switch_port,
                )
                for p, n, t, srv in s.execute(stmt).all()
            ]

        return self.store.read(work)
