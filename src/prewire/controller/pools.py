"""Profile pools: pre-allocation ahead of demand (watermarks), take by a server, return by a server."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from prewire.controller.base import ServiceBase, to_profile
from prewire.domain.allocation import Subnet, mac_for, normalize_mac, refill_amount
from prewire.domain.model import (
    ItemResult,
    Principal,
    Profile,
    ProfileEvent,
    ProfileState,
    split_network_ref,
    transition,
)
from prewire.errors import Conflict, InvalidInput, PrewireError
from prewire.store.tables import Base, Meta, NetworkRow, ProfileRow, ServerRow, TenantRow

PROFILES = Base.metadata.tables["profiles"]  # Core table: bulk statements without ORM overhead


class PoolMixin(ServiceBase):
    def _allocate(
        self, s: Session, net: NetworkRow, count: int, state: ProfileState, server_id: int | None
    ) -> list[tuple[str, str]]:
        """Create `count` new profiles in this (locked) network: fresh MACs, the lowest free IPs -> (mac, ip)."""
        if count <= 0:
            return []
        sub = Subnet.parse(net.subnet, net.gateway)
        ips = sub.free_hosts(s.scalars(select(ProfileRow.ip).where(ProfileRow.network_id == net.id)), count)
        end = s.execute(
            update(Meta)
            .where(Meta.key == "mac_counter")
            .values(value=Meta.value + count)
            .returning(Meta.value)
        ).scalar_one()
        fabric = s.scalars(select(Meta.value).where(Meta.key == "fabric_id")).one()
        pairs = [(mac_for(fabric, end - count + i), ip) for i, ip in enumerate(ips)]
        rows = [
            {"mac": mac, "ip": ip, "network_id": net.id, "state": state.value, "server_id": server_id}
            for mac, ip in pairs
        ]
        s.execute(insert(PROFILES), rows)
        return pairs

    def refill(self, network_id: int | None = None) -> int:
        """Top up every network's free pool that fell below the low watermark, and trim one that grew past
        twice the target (returned profiles: their addresses go back to the subnet and the switches forget
        their MACs).  Returns the number of profiles created or deleted."""
        ids = self.store.read(
            lambda s: list(s.scalars(select(NetworkRow.id))) if network_id is None else [network_id]
        )
        created = 0
        for nid in ids:
            created += self.store.write(functools.partial(self._refill_one, nid=nid))
        if created:
            self._changed()
        return created

    def _refill_one(self, s: Session, nid: int) -> int:
        net = s.scalars(self._lock(select(NetworkRow).where(NetworkRow.id == nid))).first()
        if net is None:
            return 0
        counts = dict(
            s.execute(
                select(ProfileRow.state, func.count())
                .where(ProfileRow.network_id == nid)
                .group_by(ProfileRow.state)
            ).all()
        )
        free = int(counts.get(ProfileState.FREE.value, 0))
        left = Subnet.parse(net.subnet, net.gateway).capacity - sum(int(v) for v in counts.values())
        excess = free - 2 * self.config.pool_target
        if excess > 0:
            newest = (
                select(ProfileRow.id)
                .where(ProfileRow.network_id == nid, ProfileRow.state == ProfileState.FREE)
                .order_by(ProfileRow.id.desc())
                .limit(excess)
            )
            ids = list(s.scalars(newest))
            s.execute(delete(PROFILES).where(PROFILES.c.id.in_(ids)))
            return len(ids)
        n = refill_amount(free, self.config.pool_low, self.config.pool_target, left)
        return len(self._allocate(s, net, n, ProfileState.FREE, None))

    def take(self, principal: Principal, server: str, network: str, count: int) -> list[Profile]:
        """Give `server` `count` profiles of `network` (free ones first, new ones if needed); all or none."""
        self._require_admin(principal)
        tenant, name = split_network_ref(network)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= self.config.max_take:
            raise InvalidInput(f"invalid count {count!r}: ask for 1-{self.config.max_take}", details="count")

        def work(s: Session) -> list[Profile]:
            srv = self._server_row(s, server)
            net = self._network_row(s, tenant, name, lock=True)
            free = s.execute(
                select(ProfileRow.id, ProfileRow.mac, ProfileRow.ip)
                .where(ProfileRow.network_id == net.id, ProfileRow.state == ProfileState.FREE)
                .order_by(ProfileRow.id)
                .limit(count)
            ).all()
            if free:
                s.execute(
                    update(PROFILES)
                    .where(PROFILES.c.id.in_([f.id for f in free]))
                    .values(state=ProfileState.SERVER.value, server_id=srv.id)
                )
            pairs = [(f.mac, f.ip) for f in free]
            pairs += self._allocate(s, net, count - len(free), ProfileState.SERVER, srv.id)
            prefix = ipaddress.IPv4Network(net.subnet).prefixlen
            ref = f"{tenant}/{net.name}"
            state = ProfileState.SERVER.value
            return [Profile(mac, ip, prefix, net.gateway, net.vlan, ref, state, server) for mac, ip in pairs]

        out = self.store.write(work)
        self._changed()
        return out

    def return_profiles(self, principal: Principal, server: str, macs: Sequence[str]) -> list[ItemResult]:
        """Give profiles back to the controller's free pool; per-item results, idempotent."""
        self._require_admin(principal)

        def work(s: Session) -> list[ItemResult]:
            srv = self._server_row(s, server)
            wanted = {m.strip().lower() for m in macs if isinstance(m, str)}
            rows = (
                {r.mac: r for r in s.scalars(select(ProfileRow).where(ProfileRow.mac.in_(wanted)))}
                if wanted
                else {}
            )
            results = []
            for raw in macs:
                try:
                    mac = normalize_mac(raw)
                    row = rows.get(mac)
                    if row is None or row.state == ProfileState.FREE:
                        results.append(ItemResult(mac, True, message="already returned"))
                        continue
                    self._check_holder(row, srv, mac)
                    row.state = transition(ProfileState(row.state), ProfileEvent.RETURN, mac).value
                    row.server_id = row.container = row.ifname = row.port = None
                    results.append(ItemResult(mac, True))
                except PrewireError as exc:
                    results.append(ItemResult(str(raw), False, exc.kind, exc.message))
            return results

        out = self.store.write(work)
        self._changed()
        return out

    @staticmethod
    def _check_holder(row: ProfileRow, srv: ServerRow, mac: str) -> None:
        if row.server_id != srv.id:
            raise Conflict(f"profile {mac} is not held by server {srv.name}", details=mac)

    def pool(self, principal: Principal, server: str) -> list[Profile]:
        """Every profile a server holds (in its local pool or bound)."""
        self._require_admin(principal)

        def work(s: Session) -> list[Profile]:
            srv = self._server_row(s, server)
            rows = s.execute(
                select(ProfileRow, NetworkRow, TenantRow.name)
                .join(NetworkRow, ProfileRow.network_id == NetworkRow.id)
                .join(TenantRow)
                .where(ProfileRow.server_id == srv.id)
                .order_by(ProfileRow.id)
            ).all()
            return [to_profile(p, n, t, server) for p, n, t in rows]

        return self.store.read(work)
