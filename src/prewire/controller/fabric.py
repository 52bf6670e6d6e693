"""Servers and switches, and the bookkeeping of what each switch holds (for pre-distribution)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from prewire.controller.base import ServiceBase
from prewire.domain.model import Principal, ProfileState, Server, Switch, SwitchStatus, check_name
from prewire.errors import Conflict, InvalidInput, NotFound
from prewire.store.tables import NetworkRow, ProfileRow, ServerRow, SwitchProfileRow, SwitchRow, TenantRow
from prewire.switch.base import SwitchProfile


class FabricMixin(ServiceBase):
    # -- servers ---------------------------------------------------------------------------------------
    def register_server(
        self, principal: Principal, name: str, switch: str | None = None, switch_port: str | None = None
    ) -> Server:
        """Create or update a server record (idempotent, so a lab can re-register)."""
        self._require_admin(principal)
        check_name("server", name)

        def work(s: Session) -> None:
            if (
                switch is not None
                and s.scalars(select(SwitchRow.id).where(SwitchRow.name == switch)).first() is None
            ):
                raise NotFound(f"switch {switch!r} is not registered: register it first", details="switch")
            row = s.scalars(select(ServerRow).where(ServerRow.name == name)).first()
            if row is None:
                s.add(ServerRow(name=name, switch=switch, switch_port=switch_port))
            else:
                row.switch, row.switch_port = switch, switch_port

        self.store.write(work)
        return next(x for x in self.list_servers(principal) if x.name == name)

    def list_servers(self, principal: Principal) -> list[Server]:
        self._require_admin(principal)

        def work(s: Session) -> list[Server]:
            counts: dict[tuple[int | None, str], int] = {
                (sid, st): c
                for sid, st, c in s.execute(
                    select(ProfileRow.server_id, ProfileRow.state, func.count())
                    .where(ProfileRow.server_id.is_not(None))
                    .group_by(ProfileRow.server_id, ProfileRow.state)
                ).all()
            }
            return [
                Server(
                    name=r.name,
                    switch=r.switch,
                    switch_port=r.switch_port,
                    held=counts.get((r.id, ProfileState.SERVER.value), 0),
                    bound=counts.get((r.id, ProfileState.BOUND.value), 0),
                )
                for r in s.scalars(select(ServerRow).order_by(ServerRow.name))
            ]

        return self.store.read(work)

    def delete_server(self, principal: Principal, name: str) -> None:
        """Forget a server; its unbound profiles go back to the free pool.  Refused while any is bound."""
        self._require_admin(principal)

        def work(s: Session) -> None:
            row = self._server_row(s, name)
            states = set(s.scalars(select(ProfileRow.state).where(ProfileRow.server_id == row.id)))
            if ProfileState.BOUND.value in states:
                raise Conflict(f"server {name} still has bound endpoints: stop its containers first")
            for p in s.scalars(select(ProfileRow).where(ProfileRow.server_id == row.id)):
                p.state, p.server_id = ProfileState.FREE.value, None
            s.delete(row)

        self.store.write(work)

    # -- switches --------------------------------------------------------------------------------------
    def register_switch(
        self, principal: Principal, name: str, driver: str, options: Mapping[str, str]
    ) -> Switch:
        """Create or update a switch record; the pre-distributor starts feeding it."""
        self._require_admin(principal)
        check_name("switch", name)
        if not driver or not isinstance(driver, str):
            raise InvalidInput("missing switch driver: e.g. ovs, fake, brocade_vdx", details="driver")
        known = self.known_drivers()
        if known is not None and driver not in known:
            raise InvalidInput(
                f"unknown switch driver {driver!r}: use one of {', '.join(known)}", details="driver"
            )
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
            raise InvalidInput("switch options must map strings to strings", details="options")
        opts = json.dumps(dict(options), sort_keys=True)

        def work(s: Session) -> None:
            row = s.scalars(select(SwitchRow).where(SwitchRow.name == name)).first()
            if row is None:
                s.add(
                    SwitchRow(
                        name=name, driver=driver, options=opts, state="unknown", last_error="", last_sync=""
                    )
                )
            else:
                row.driver, row.options = driver, opts

        self.store.write(work)
        self._changed()
        return Switch(name=name, driver=driver, options=dict(options))

    def list_switches(self, principal: Principal) -> list[Switch]:
        self._require_admin(principal)
        return self.store.read(
            lambda s: [
                Switch(name=r.name, driver=r.driver, options=json.loads(r.options))
                for r in s.scalars(select(SwitchRow).order_by(SwitchRow.name))
            ]
        )

    def delete_switch(self, principal: Principal, name: str) -> None:
        self._require_admin(principal)

        def work(s: Session) -> None:
            row = s.scalars(select(SwitchRow).where(SwitchRow.name == name)).first()
            if row is None:
                raise NotFound(f"switch {name!r} is not registered")
            s.execute(delete(SwitchProfileRow).where(SwitchProfileRow.switch_id == row.id))
            s.delete(row)

        self.store.write(work)
        self._changed()

    def switch_status(self, principal: Principal) -> list[SwitchStatus]:
        self._require_admin(principal)

        def work(s: Session) -> list[SwitchStatus]:
            desired = s.scalar(select(func.count()).select_from(ProfileRow)) or 0
            held = dict(
                s.execute(
                    select(SwitchProfileRow.switch_id, func.count()).group_by(SwitchProfileRow.switch_id)
                ).all()
            )
            return [
                SwitchStatus(
                    r.name, r.driver, r.state, int(held.get(r.id, 0)), desired, r.last_error, r.last_sync
                )
                for r in s.scalars(select(SwitchRow).order_by(SwitchRow.name))
            ]

        return self.store.read(work)

    # -- pre-distribution bookkeeping (used by predistribute.py) ---------------------------------------
    def desired_profiles(self) -> dict[str, SwitchProfile]:
        """Every profile that exists, as switches should hold it."""
        rows = self.store.read(
            lambda s: s.execute(
                select(ProfileRow.mac, NetworkRow.vlan, TenantRow.name, NetworkRow.name)
                .join(NetworkRow, ProfileRow.network_id == NetworkRow.id)
                .join(TenantRow)
            ).all()
        )
        return {m: SwitchProfile(m, v, f"{t}/{n}") for m, v, t, n in rows}

    def held_by_switch(self, switch: str) -> dict[str, int]:
        """mac -> vlan that the switch confirmed holding."""
        return self.store.read(
            lambda s: dict(
                s.execute(
                    select(SwitchProfileRow.mac, SwitchProfileRow.vlan)
                    .join(SwitchRow)
                    .where(SwitchRow.name == switch)
                ).all()
            )
        )

    def record_switch(
        self,
        switch: str,
        loaded: Sequence[SwitchProfile] = (),
        removed: Sequence[str] = (),
        replace: bool = False,
        state: str | None = None,
        error: str = "",
    ) -> None:
        """Record a switch's confirmed changes (or its whole table with replace=True) and its state."""

        def work(s: Session) -> None:
            row = s.scalars(select(SwitchRow).where(SwitchRow.name == switch)).first()
            if row is None:
                return
            gone = [p.mac for p in loaded] + list(removed)
            if replace:
                s.execute(delete(SwitchProfileRow).where(SwitchProfileRow.switch_id == row.id))
            elif gone:
                s.execute(
                    delete(SwitchProfileRow).where(
                        SwitchProfileRow.switch_id == row.id, SwitchProfileRow.mac.in_(gone)
                    )
                )
            for p in loaded:
                s.add(SwitchProfileRow(switch_id=row.id, mac=p.mac, vlan=p.vlan))
            if state is not None:
                row.state, row.last_error = state, error
                if state == "in_sync":
                    row.last_sync = datetime.now(UTC).isoformat(timespec="seconds")

        self.store.write(work)

    def switch_records(self) -> dict[str, tuple[str, dict[str, str]]]:
        """name -> (driver, options) of every registered switch."""
        return self.store.read(
            lambda s: {r.name: (r.driver, json.loads(r.options)) for r in s.scalars(select(SwitchRow))}
        )
