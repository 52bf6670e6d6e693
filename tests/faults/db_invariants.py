"""Consistency of a controller database, read directly (SQLite or PostgreSQL), after any fault."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

STATES = ("free", "server", "bound")


@dataclass
class DbReport:
    """Counts and every violation found (an empty `violations` means consistent)."""

    states: dict[str, int] = field(default_factory=dict)
    per_server: dict[str, dict[str, int]] = field(default_factory=dict)  # server -> state -> count
    per_network: dict[str, dict[str, int]] = field(default_factory=dict)  # tenant/net -> state -> count
    server_profiles: dict[str, dict[str, str]] = field(default_factory=dict)  # server -> mac -> state
    profiles: int = 0
    networks: int = 0
    violations: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {"profiles": self.profiles, "networks": self.networks, "states": self.states}


def _rows(conn: Any, sql: str) -> list[Any]:
    return list(conn.execute(text(sql)).all())


def check_database(url: str) -> DbReport:
    """Every profile in exactly one consistent state; no duplicate MAC, IP or VLAN; counts add up."""
    engine = create_engine(url)
    rep = DbReport()
    try:
        with engine.connect() as conn:
            nets = {
                nid: (f"{tenant}/{name}", subnet, gateway, vlan)
                for nid, tenant, name, subnet, gateway, vlan in _rows(
                    conn,
                    "SELECT n.id, t.name, n.name, n.subnet, n.gateway, n.vlan "
                    "FROM networks n JOIN tenants t ON t.id = n.tenant_id",
                )
            }
            servers = dict(_rows(conn, "SELECT id, name FROM servers"))
            profiles = _rows(
                conn, "SELECT id, mac, ip, network_id, state, server_id, container, ifname FROM profiles"
            )
            counter = _rows(conn, "SELECT value FROM meta WHERE key = 'mac_counter'")
    finally:
        engine.dispose()
    rep.networks, rep.profiles = len(nets), len(profiles)
    vlans = Counter(v[3] for v in nets.values())
    rep.violations += [f"VLAN {v} used by {n} networks" for v, n in vlans.items() if n > 1]
    macs = Counter(p[1] for p in profiles)
    rep.violations += [f"MAC {m} in {n} profiles" for m, n in macs.items() if n > 1]
    ips = Counter((p[3], p[2]) for p in profiles)
    rep.violations += [f"IP {ip} twice in network {nid}" for (nid, ip), n in ips.items() if n > 1]
    mac_counter = int(counter[0][0]) if counter else 0
    rep.states = {s: 0 for s in STATES}
    for pid, mac, ip, nid, state, sid, container, _ifname in profiles:
        where = f"profile {pid} ({mac})"
        if state not in STATES:
            rep.violations.append(f"{where} in unknown state {state!r}")
            continue
        rep.states[state] += 1
        if nid not in nets:
            rep.violations.append(f"{where} belongs to no network ({nid})")
            continue
        ref, subnet, gateway, _vlan = nets[nid]
        rep.per_network.setdefault(ref, {s: 0 for s in STATES})[state] += 1
        if (state == "free") != (sid is None):
            rep.violations.append(f"{where} is {state} with server_id={sid}")
        if (state == "bound") != (container is not None):
            rep.violations.append(f"{where} is {state} with container={container!r}")
        if sid is not None:
            if sid not in servers:
                rep.violations.append(f"{where} held by unknown server id {sid}")
            else:
                name = servers[sid]
                rep.per_server.setdefault(name, {s: 0 for s in STATES})[state] += 1
                rep.server_profiles.setdefault(name, {})[mac] = state
        net = ipaddress.IPv4Network(subnet)
        addr = ipaddress.IPv4Address(ip)
        if addr not in net or addr in (net.network_address, net.broadcast_address) or ip == gateway:
            rep.violations.append(f"{where} has IP {ip} that {subnet} (gateway {gateway}) cannot hand out")
        if int(mac.replace(":", "")[-8:], 16) >= mac_counter:
            rep.violations.append(f"{where} has a MAC beyond the MAC counter {mac_counter}")
    return rep
