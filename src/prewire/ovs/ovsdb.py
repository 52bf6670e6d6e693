"""`Ovsdb`: a thin, idempotent wrapper over ovsdbapp's Open_vSwitch schema.

One IDL connection per process and database path is shared by every `Ovsdb` instance (the IDL keeps a
replica of the tables in memory; a second one would double the memory and the start-up dump).  Every write
is one OVSDB transaction that returns only after ovs-vswitchd has applied it (`cur_cfg` caught up), so the
ofports read afterwards are the assigned ones.  Calls block: asyncio callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast

from prewire.errors import InvalidInput, KernelError, NotFound, Unavailable

DEFAULT_DB = "unix:/var/run/openvswitch/db.sock"
OPENFLOW_VERSIONS = ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"]
# Only the columns these helpers use are replicated: with thousands of ports in the database, the initial
# dump of every column (statistics, status, ...) costs seconds.
_COLUMNS = {
    "Open_vSwitch": ["bridges", "cur_cfg", "next_cfg"],
    "Bridge": ["name", "ports", "controller", "datapath_type", "fail_mode", "protocols", "external_ids"],
    "Port": ["name", "interfaces"],
    "Interface": ["name", "ofport", "error", "type", "external_ids"],
    "Controller": ["target"],
}

# ovsdbapp logs failed interfaces itself; we raise them as KernelError instead.
logging.getLogger("ovsdbapp.schema.open_vswitch.impl_idl").setLevel(logging.CRITICAL)

_lock = threading.Lock()
_apis: dict[str, Any] = {}


def _api(db: str, timeout: float) -> Any:
    """The process-wide ovsdbapp API object (connected on first use; ovsdbapp allows one per process)."""
    with _lock:
        api = _apis.get(db)
        if api is not None:
            return api
        if _apis:
            raise InvalidInput(f"this process is already connected to {next(iter(_apis))}; one OVSDB only")
        try:
            from ovsdbapp.backend.ovs_idl import connection, idlutils
            from ovsdbapp.schema.open_vswitch import impl_idl

            helper = idlutils.get_schema_helper(db, "Open_vSwitch")
            for table, columns in _COLUMNS.items():
                helper.register_columns(table, columns)
            idl = connection.OvsdbIdl(db, helper)
            api = impl_idl.OvsdbIdl(connection.Connection(idl=idl, timeout=timeout))
        except Exception as exc:
            raise Unavailable(
                f"cannot connect to OVSDB at {db}: {exc}; is Open vSwitch running (scripts/services.sh)?"
            ) from exc
        _apis[db] = api
        return api


class Ovsdb:
    """Bridges and ports of the local Open vSwitch; every method is idempotent."""

    def __init__(self, db: str = DEFAULT_DB, timeout: float = 30.0) -> None:
        self.db = db
        self.timeout = timeout
        self._api = _api(db, timeout)

    # -- plumbing --------------------------------------------------------------------------------------
    def _execute(self, what: str, commands: Sequence[Any]) -> list[Any]:
        if not commands:
            return []
        try:
            with self._api.transaction(check_error=True, log_errors=False) as txn:
                for command in commands:
                    txn.add(command)
        except Exception as exc:
            raise KernelError(f"OVSDB transaction failed ({what}): {exc}") from exc
        return [command.result for command in commands]

    def _rows(self, table: str) -> list[Any]:
        # The IDL replica is updated by the connection thread under its lock.
        with self._api.ovsdb_connection.lock:
            return list(self._api.tables[table].rows.values())

    def _bridge_row(self, name: str) -> Any | None:
        for row in self._rows("Bridge"):
            if row.name == name:
                return row
        return None

    # -- bridges ---------------------------------------------------------------------------------------
    def add_bridge(
        self,
        name: str,
        datapath_type: str = "netdev",
        fail_mode: str = "secure",
        external_ids: dict[str, str] | None = None,
    ) -> None:
        """Create bridge `name` (or adjust an existing one) with the given datapath and fail mode."""
        api = self._api
        commands = [
            api.add_br(name, may_exist=True, datapath_type=datapath_type),
            api.set_fail_mode(name, fail_mode),
            api.db_set("Bridge", name, ("protocols", OPENFLOW_VERSIONS)),
        ]
        if external_ids:
            commands.append(api.db_set("Bridge", name, ("external_ids", dict(external_ids))))
        self._execute(f"add bridge {name}", commands)

    def del_bridge(self, name: str) -> None:
        """Remove bridge `name` with all its ports; nothing happens if it does not exist."""
        self.del_bridges([name])

    def del_bridges(self, names: Iterable[str]) -> None:
        """Remove several bridges in one transaction (one ovs-vswitchd reconfiguration)."""
        commands = [self._api.del_br(name, if_exists=True) for name in dict.fromkeys(names)]
        self._execute(f"delete bridge(s) {', '.join(dict.fromkeys(names))}", commands)

    def bridge_exists(self, name: str) -> bool:
        return self._bridge_row(name) is not None

    def list_bridges(self) -> list[str]:
        return sorted(str(row.name) for row in self._rows("Bridge"))

    def bridge_external_ids(self, name: str) -> dict[str, str]:
        row = self._bridge_row(name)
        if row is None:
            raise NotFound(f"OVS bridge {name} does not exist; create it first")
        return dict(row.external_ids)

    # -- ports -----------------------------------------------------------------------------------------
    def add_ports(self, bridge: str, names: Iterable[str]) -> dict[str, int]:
        """Add existing kernel interfaces `names` as ports of `bridge` in one transaction.

        Returns {name: ofport} once ovs-vswitchd has assigned them; raises KernelError naming the
        interfaces OVS could not open (for example because they do not exist).
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        if not self.bridge_exists(bridge):
            raise NotFound(f"OVS bridge {bridge} does not exist; create it before adding ports")
        api = self._api
        self._execute(
            f"add {len(wanted)} port(s) to {bridge}",
            [api.add_port(bridge, n, may_exist=True) for n in wanted],
        )
        return self._await_ofports(bridge, wanted)

    def _await_ofports(self, bridge: str, wanted: list[str]) -> dict[str, int]:
        deadline = time.monotonic() + self.timeout
        while True:
            ports = self.ofports(bridge)
            errors = self._iface_errors(wanted)
            missing = [n for n in wanted if n not in ports and n not in errors]
            if errors:
                self.del_ports(bridge, list(errors))
                detail = "; ".join(f"{n}: {e}" for n, e in sorted(errors.items()))
                raise KernelError(f"OVS could not add port(s) to {bridge}: {detail}")
            if not missing:
                return {n: ports[n] for n in wanted}
            if time.monotonic() > deadline:
                raise KernelError(f"OVS assigned no ofport to {', '.join(missing)} on {bridge} in time")
            time.sleep(0.005)

    def _iface_errors(self, names: list[str]) -> dict[str, str]:
        wanted = set(names)
        errors: dict[str, str] = {}
        for row in self._rows("Interface"):
            if row.name in wanted and row.ofport and row.ofport[0] == -1:
                errors[str(row.name)] = str(row.error[0]) if row.error else "ofport -1"
        return errors

    def del_ports(self, bridge: str, names: Iterable[str]) -> None:
        """Remove ports `names` from `bridge` in one transaction; absent ports and bridges are fine."""
        present = set(self.list_ports(bridge)) if self.bridge_exists(bridge) else set()
        gone = [n for n in dict.fromkeys(names) if n in present]
        api = self._api
        self._execute(
            f"delete {len(gone)} port(s) from {bridge}",
            [api.del_port(n, bridge=bridge, if_exists=True) for n in gone],
        )

    def set_interface_external_ids(self, name: str, ids: dict[str, str]) -> None:
        """Merge `ids` into the external_ids of interface `name` (e.g. a role marker for other daemons)."""
        commands = [self._api.db_set("Interface", name, ("external_ids", dict(ids)))]
        self._execute(f"set external_ids of {name}", commands)

    def interface_external_ids(self, name: str) -> dict[str, str]:
        for row in self._rows("Interface"):
            if row.name == name:
                return dict(row.external_ids)
        raise NotFound(f"OVS interface {name} does not exist")

    def list_ports(self, bridge: str) -> list[str]:
        """Port names of `bridge` (without the bridge's own internal port)."""
        row = self._bridge_row(bridge)
        if row is None:
            raise NotFound(f"OVS bridge {bridge} does not exist; create it first")
        with self._api.ovsdb_connection.lock:
            return sorted(str(p.name) for p in row.ports if p.name != bridge)

    def ofports(self, bridge: str) -> dict[str, int]:
        """{interface name: ofport} of `bridge`'s assigned ports (without the internal port)."""
        row = self._bridge_row(bridge)
        if row is None:
            raise NotFound(f"OVS bridge {bridge} does not exist; create it first")
        result: dict[str, int] = {}
        with self._api.ovsdb_connection.lock:
            for port in row.ports:
                for iface in port.interfaces:
                    ofport = cast(list[int], iface.ofport)
                    if iface.name != bridge and ofport and ofport[0] > 0:
                        result[str(iface.name)] = int(ofport[0])
        return result

    # -- controllers -----------------------------------------------------------------------------------
    def set_controller(self, bridge: str, targets: Sequence[str]) -> None:
        """Make `targets` the OpenFlow controllers of `bridge` (unchanged targets are left alone)."""
        if not self.bridge_exists(bridge):
            raise NotFound(f"OVS bridge {bridge} does not exist; create it first")
        if sorted(self.get_controller(bridge)) == sorted(targets):
            return
        api = self._api
        command = api.set_controller(bridge, list(targets)) if targets else api.del_controller(bridge)
        self._execute(f"set controller of {bridge}", [command])

    def get_controller(self, bridge: str) -> list[str]:
        row = self._bridge_row(bridge)
        if row is None:
            raise NotFound(f"OVS bridge {bridge} does not exist; create it first")
        with self._api.ovsdb_connection.lock:
            return [str(c.target) for c in row.controller]
