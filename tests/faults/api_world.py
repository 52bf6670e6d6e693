"""A seeded controller for the hostile-input tests: two tenants with networks and bound endpoints,
plus a cheap fingerprint of the database to detect partial writes (SQLite `PRAGMA data_version`)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.faults.faults_support import ControllerProc

TENANTS = ("pwxfa-alpha", "pwxfa-beta")
SERVER = "pwxfa-srv"
# every table an API call may change; free profiles are left out (the pool refill adds them any time)
_DUMPS = (
    "SELECT name, token_hash FROM tenants ORDER BY id",
    "SELECT id, tenant_id, name, subnet, gateway, vlan FROM networks ORDER BY id",
    "SELECT id, name, switch, switch_port FROM servers ORDER BY id",
    "SELECT id, name, driver, options FROM switches ORDER BY id",
    "SELECT mac, ip, network_id, state, server_id, container, ifname, port FROM profiles "
    "WHERE state != 'free' ORDER BY id",
)


@dataclass
class World:
    ctl: ControllerProc
    tokens: dict[str, str] = field(default_factory=dict)  # "admin" and tenant name -> token
    macs: dict[str, list[str]] = field(default_factory=dict)  # tenant -> MACs it holds

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def secrets_of(self, tenant: str) -> list[str]:
        """Strings only `tenant`'s data contains: its name and its MACs."""
        return [tenant, *self.macs[tenant]]


def seed(ctl: ControllerProc) -> World:
    """Two tenants, a network each (+ a small one for alpha), 8 profiles each taken, 4 bound."""
    world = World(ctl, {"admin": ctl.admin_token})
    with httpx.Client(base_url=ctl.url, headers=world.headers("admin"), timeout=60) as http:
        http.post("/v1/servers", json={"name": SERVER}).raise_for_status()
        for i, tenant in enumerate(TENANTS):
            resp = http.post("/v1/tenants", json={"name": tenant})
            resp.raise_for_status()
            world.tokens[tenant] = resp.json()["token"]
            net = {"tenant": tenant, "name": "net1", "subnet": f"10.9{i + 1}.0.0/24"}
            http.post("/v1/networks", json=net).raise_for_status()
            take = {"network": f"{tenant}/net1", "count": 8}
            got = http.post(f"/v1/servers/{SERVER}/pool/take", json=take)
            got.raise_for_status()
            world.macs[tenant] = [p["mac"] for p in got.json()]
            bound = [{"mac": m, "container": f"{tenant}-ct{j}"} for j, m in enumerate(world.macs[tenant][:4])]
            http.post(f"/v1/servers/{SERVER}/endpoints/report", json={"bound": bound}).raise_for_status()
        small = {"tenant": TENANTS[0], "name": "small", "subnet": "10.93.0.0/27"}
        http.post("/v1/networks", json=small).raise_for_status()
    return world


class Fingerprint:
    """Hash of every API-writable row; recomputed only when SQLite says the database changed."""

    def __init__(self, db: Path) -> None:
        self._conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        self._version = -1
        self._hash = ""

    def now(self) -> str:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            h = hashlib.sha256()
            self._conn.execute("BEGIN")
            try:
                for sql in _DUMPS:
                    h.update(repr(self._conn.execute(sql).fetchall()).encode())
            finally:
                self._conn.execute("COMMIT")
            self._version, self._hash = version, h.hexdigest()
        return self._hash

    def close(self) -> None:
        self._conn.close()
