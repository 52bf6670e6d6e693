"""Tenants, their tokens, and their VLAN networks."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from prewire.controller.base import ServiceBase
from prewire.domain.allocation import Subnet, choose_vlan
from prewire.domain.model import Network, Principal, ProfileState, Tenant, check_name
from prewire.errors import Conflict, InvalidInput, Unauthorized
from prewire.store.tables import Meta, NetworkRow, ProfileRow, TenantRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TenancyMixin(ServiceBase):
    def authenticate(self, token: str | None) -> Principal:
        """The principal of a bearer token: admin, a tenant, or Unauthorized."""
        if not token:
            raise Unauthorized("missing bearer token: pass Authorization: Bearer TOKEN")
        if self.config.admin_token and hmac.compare_digest(token.encode(), self.config.admin_token.encode()):
            return Principal()
        digest = hash_token(token)
        name = self.store.read(
            lambda s: s.scalars(select(TenantRow.name).where(TenantRow.token_hash == digest)).first()
        )
        if name is None:
            raise Unauthorized("unknown token: use the admin token or a tenant token from `tenant create`")
        return Principal(tenant=name)

    # -- tenants ---------------------------------------------------------------------------------------
    def create_tenant(self, principal: Principal, name: str) -> tuple[Tenant, str]:
        """A new tenant and its token (shown once; only its hash is stored)."""
        self._require_admin(principal)
        check_name("tenant", name)
        token = "pwt_" + secrets.token_urlsafe(32)

        def work(s: Session) -> None:
            if s.scalars(select(TenantRow.id).where(TenantRow.name == name)).first() is not None:
                raise Conflict(f"tenant {name!r} already exists: pick another name", details="name")
            s.add(TenantRow(name=name, token_hash=hash_token(token)))

        self.store.write(work)
        return Tenant(name=name), token

    def list_tenants(self, principal: Principal) -> list[Tenant]:
        def work(s: Session) -> list[Tenant]:
            stmt = (
                select(TenantRow.name, func.count(NetworkRow.id))
                .outerjoin(NetworkRow)
                .group_by(TenantRow.name)
                .order_by(TenantRow.name)
            )
            if not principal.is_admin:
                stmt = stmt.where(TenantRow.name == principal.tenant)
            return [Tenant(name=n, networks=c) for n, c in s.execute(stmt)]

        return self.store.read(work)

    def delete_tenant(self, principal: Principal, name: str) -> None:
        self._require_admin(principal)

        def work(s: Session) -> None:
            row = self._tenant_row(s, name)
            if s.scalars(select(NetworkRow.id).where(NetworkRow.tenant_id == row.id)).first() is not None:
                raise Conflict(f"tenant {name!r} still has networks: delete them first")
            s.delete(row)

        self.store.write(work)

    # -- networks --------------------------------------------------------------------------------------
    def create_network(
        self,
        principal: Principal,
        tenant: str,
        name: str,
        subnet: str,
        vlan: int | None = None,
        gateway: str | None = None,
    ) -> Network:
        check_name("tenant", tenant)
        check_name("network", name)
        self._require_tenant(principal, tenant)
        sub = Subnet.parse(subnet, gateway)
        if sub.capacity < max(1, self.config.pool_low):
            raise InvalidInput(
                f"subnet {subnet} holds {sub.capacity} profiles, fewer than the pool's low watermark "
                f"{self.config.pool_low}: use a larger subnet",
                details="subnet",
            )

        def work(s: Session) -> int:
            trow = self._tenant_row(s, tenant)
            if s.scalars(
                select(NetworkRow.id).where(NetworkRow.tenant_id == trow.id, NetworkRow.name == name)
            ).first():
                raise Conflict(f"network {tenant}/{name} already exists: pick another name", details="name")
            s.execute(self._lock(select(Meta).where(Meta.key == "vlan_lock")))  # serializes VLAN choice
            vid = choose_vlan(s.scalars(select(NetworkRow.vlan)), self.config.vlan_range, vlan)
            row = NetworkRow(
                tenant_id=trow.id,
                name=name,
                subnet=str(sub.network),
                gateway=gateway and str(sub.gateway),
                vlan=vid,
            )
            s.add(row)
            s.flush()
            return row.id

        net_id = self.store.write(work)
        self.refill(net_id)  # type: ignore[attr-defined]
        return self.get_network(principal, tenant, name)

    def _network_view(self, s: Session, row: NetworkRow, tenant: str) -> Network:
        counts = dict(
            s.execute(
                select(ProfileRow.state, func.count())
                .where(ProfileRow.network_id == row.id)
                .group_by(ProfileRow.state)
            ).all()
        )
        return Network(
            tenant=tenant,
            name=row.name,
            subnet=row.subnet,
            vlan=row.vlan,
            gateway=row.gateway,
            profiles={st.value: int(counts.get(st.value, 0)) for st in ProfileState},
        )

    def get_network(self, principal: Principal, tenant: str, name: str) -> Network:
        self._require_tenant(principal, tenant)
        return self.store.read(lambda s: self._network_view(s, self._network_row(s, tenant, name), tenant))

    def list_networks(self, principal: Principal) -> list[Network]:
        def work(s: Session) -> list[Network]:
            stmt = (
                select(NetworkRow, TenantRow.name).join(TenantRow).order_by(TenantRow.name, NetworkRow.name)
            )
            if not principal.is_admin:
                stmt = stmt.where(TenantRow.name == principal.tenant)
            return [self._network_view(s, row, t) for row, t in s.execute(stmt).all()]

        return self.store.read(work)

    def delete_network(self, principal: Principal, tenant: str, name: str) -> None:
        """Delete a network and its profiles; refused while a container is bound to one of them."""
        self._require_tenant(principal, tenant)

        def work(s: Session) -> None:
            row = self._network_row(s, tenant, name, lock=True)
            bound = s.scalar(
                select(func.count()).where(
                    ProfileRow.network_id == row.id, ProfileRow.state == ProfileState.BOUND
                )
            )
            if bound:
                raise Conflict(
                    f"network {tenant}/{name} still has {bound} bound endpoints: stop those containers first"
                )
            s.execute(delete(ProfileRow).where(ProfileRow.network_id == row.id))
            s.delete(row)

        self.store.write(work)
        self._changed()
