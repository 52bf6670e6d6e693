"""Scenario 4 of issue 7: SIGKILL the controller mid-transaction (SQLite and PostgreSQL).

Workers drive pool transactions (take a large batch, bind half, return a quarter), each on a fresh
server so that every request has a client-side record.  The controller is killed at random moments;
while it is dead the database is checked directly, after the restart through the API too:
every profile in exactly one consistent state, each server holding exactly what its confirmed requests
gave it (an interrupted request applied entirely or not at all), no duplicate MAC/IP/VLAN, counts that
add up, and new takes that work.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import MakeController
from tests.faults.db_invariants import DbReport, check_database
from tests.faults.faults_support import ControllerProc, env_int, report

pytestmark = [pytest.mark.faults, pytest.mark.root]

KILLS = env_int("PREWIRE_FAULTS_DB_KILLS", 5)
WORKERS = env_int("PREWIRE_FAULTS_DB_WORKERS", 4)
MAX_BATCH = env_int("PREWIRE_FAULTS_DB_MAX_BATCH", 1000)
SEED = env_int("PREWIRE_FAULTS_SEED", 7)
NETWORK = "pwxfa/big"
Op = tuple[str, Any]  # ("take", count or macs) | ("bind", macs) | ("return", macs)


@dataclass
class ServerLog:
    """What the controller confirmed to one server, and the one request whose outcome is unknown."""

    name: str
    confirmed: list[Op] = field(default_factory=list)
    unknown: Op | None = None
    not_sent: bool = False  # the unknown request never reached the controller (connection refused)


def expected_view(ops: list[Op]) -> dict[str, str]:
    view: dict[str, str] = {}
    for op, arg in ops:
        if op == "take":
            view.update(dict.fromkeys(arg, "server"))
        elif op == "bind":
            view.update(dict.fromkeys(arg, "bound"))
        else:
            for mac in arg:
                view.pop(mac)
    return view


def judge(log: ServerLog, seen: dict[str, str]) -> str:
    """'ok', 'committed' / 'rolled_back' (interrupted request), or a violation message."""
    before = expected_view(log.confirmed)
    if log.unknown is None:
        return "ok" if seen == before else f"{log.name}: holds {len(seen)} profiles, confirmed {len(before)}"
    if seen == before:
        return "not_sent" if log.not_sent else "rolled_back"
    op, arg = log.unknown
    if op == "take":
        if len(seen) == arg and set(seen.values()) == {"server"}:
            return "committed"
    elif seen == expected_view([*log.confirmed, log.unknown]):
        return "committed"
    return f"{log.name}: interrupted {op} left a partial state ({len(seen)} held, {len(before)} before)"


class Load:
    """Worker threads running take/bind/return sequences against one controller until stopped."""

    def __init__(self, url: str, token: str, round_no: int) -> None:
        self.url, self.token, self.round_no = url, token, round_no
        self.logs: list[ServerLog] = []
        self.http_5xx: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, args=(w,)) for w in range(WORKERS)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a load worker hung"

    def _call(self, http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
        resp = http.post(path, json=body)
        if resp.status_code >= 500:
            with self._lock:
                self.http_5xx.append(f"{path} -> {resp.status_code} {resp.text[:200]}")
        resp.raise_for_status()
        return resp.json()

    def _work(self, worker: int) -> None:
        rng = random.Random(SEED * 1000 + self.round_no * 10 + worker)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=120) as http:
            i = 0
            while not self.stop.is_set():
                log = ServerLog(f"pwxfa-r{self.round_no}-w{worker}-{i}")
                i += 1
                try:
                    self._call(http, "/v1/servers", {"name": log.name})
                except httpx.TransportError:
                    continue
                with self._lock:
                    self.logs.append(log)
                if not self._sequence(http, log, rng.randint(1, MAX_BATCH)):
                    continue

    def _sequence(self, http: httpx.Client, log: ServerLog, count: int) -> bool:
        base = f"/v1/servers/{log.name}"
        op: Op = ("take", count)
        try:
            log.unknown = op
            got = self._call(http, f"{base}/pool/take", {"network": NETWORK, "count": count})
            macs = [p["mac"] for p in got]
            assert len(macs) == count == len(set(macs)), f"take {count} answered {len(macs)} profiles"
            log.confirmed.append(("take", macs))
            bind, ret = macs[: count // 2], macs[count // 2 : count // 2 + count // 4]
            op = log.unknown = ("bind", bind)
            bound = [{"mac": m, "container": f"c{m.replace(':', '')}", "ifname": "eth0"} for m in bind]
            out = self._call(http, f"{base}/endpoints/report", {"bound": bound, "released": []})
            assert all(r["ok"] for r in out["bound"]), out
            log.confirmed.append(op)
            op = log.unknown = ("return", ret)
            out = self._call(http, f"{base}/pool/return", {"macs": ret})
            assert all(r["ok"] for r in out["returned"]), out
            log.confirmed.append(op)
            log.unknown = None
            return True
        except httpx.ConnectError:
            log.not_sent = True
            return False
        except (httpx.TransportError, httpx.HTTPStatusError):
            return False


def api_consistent(ctl: ControllerProc, rep: DbReport) -> list[str]:
    """The API's counts equal the database's; a new take works and hands out unused profiles."""
    bad: list[str] = []
    headers = {"Authorization": f"Bearer {ctl.admin_token}"}
    with httpx.Client(base_url=ctl.url, headers=headers, timeout=60) as http:
        net = http.get(f"/v1/networks/{NETWORK}").json()
        want = rep.per_network.get(NETWORK, {})
        for state in ("server", "bound"):  # free ones are refilled in the background: not compared
            if net["profiles"].get(state, 0) != want.get(state, 0):
                bad.append(f"API {state} count {net['profiles']} != database {want}")
        for srv in http.get("/v1/servers").json():
            counts = rep.per_server.get(srv["name"], {})
            if (srv["held"], srv["bound"]) != (counts.get("server", 0), counts.get("bound", 0)):
                bad.append(f"server {srv['name']}: API held/bound {srv['held']}/{srv['bound']} != {counts}")
        probe = f"pwxfa-probe{ctl.starts}"
        http.post("/v1/servers", json={"name": probe}).raise_for_status()
        resp = http.post(f"/v1/servers/{probe}/pool/take", json={"network": NETWORK, "count": 64})
        if resp.status_code != 200:
            return [*bad, f"take after restart failed: {resp.status_code} {resp.text[:200]}"]
        macs = {p["mac"] for p in resp.json()}
        held = {m for prof in rep.server_profiles.values() for m in prof}
        if len(macs) != 64 or macs & held:
            bad.append(f"take after restart: {len(macs)} distinct, {len(macs & held)} already held")
    return bad


def test_kill_controller_mid_transaction(
    db_backend: tuple[str, str | None, Any], controllers: MakeController, tmp_path: Path
) -> None:
    backend, db_url, url_of = db_backend
    ctl = controllers(db_url, "--pool-low", "64", "--pool-target", "512")
    ctl.start()
    db = url_of(ctl.state_dir)
    headers = {"Authorization": f"Bearer {ctl.admin_token}"}
    with httpx.Client(base_url=ctl.url, headers=headers, timeout=60) as http:
        http.post("/v1/tenants", json={"name": "pwxfa"}).raise_for_status()
        http.post(
            "/v1/networks", json={"tenant": "pwxfa", "name": "big", "subnet": "10.64.0.0/12"}
        ).raise_for_status()
    rng = random.Random(SEED)
    logs: list[ServerLog] = []
    outcomes: dict[str, int] = {}
    violations: list[str] = []
    http_5xx: list[str] = []
    for round_no in range(KILLS):
        load = Load(ctl.url, ctl.admin_token, round_no)
        load.start()
        time.sleep(rng.uniform(0.5, 3.0))
        ctl.kill()
        load.join()
        logs += load.logs
        http_5xx += load.http_5xx
        rep = check_database(db)  # while the controller is dead: what the kill left behind
        violations += [f"round {round_no} (dead): {v}" for v in rep.violations]
        for log in load.logs:
            verdict = judge(log, rep.server_profiles.get(log.name, {}))
            if verdict in ("ok", "committed", "rolled_back", "not_sent"):
                outcomes[verdict] = outcomes.get(verdict, 0) + 1
            else:
                violations.append(f"round {round_no}: {verdict}")
        ctl.start()
        rep = check_database(db)
        violations += [f"round {round_no} (restarted): {v}" for v in rep.violations]
        violations += [f"round {round_no}: {v}" for v in api_consistent(ctl, rep)]
    final = check_database(db)
    figures = {
        "backend": backend,
        "kills": KILLS,
        "workers": WORKERS,
        "max_batch": MAX_BATCH,
        "servers_driven": len(logs),
        "requests_confirmed": sum(len(log.confirmed) for log in logs),
        "sequences_complete": outcomes.get("ok", 0),
        "interrupted_committed": outcomes.get("committed", 0),
        "interrupted_rolled_back": outcomes.get("rolled_back", 0),
        "refused_after_kill": outcomes.get("not_sent", 0),
        "http_5xx": len(http_5xx),
        "violations": len(violations),
        **final.figures(),
    }
    report(f"scenario4-controller-db-kill-{backend}", figures)
    assert not violations, "\n".join(violations[:30])
    assert not http_5xx, "\n".join(http_5xx[:10])
    assert outcomes.get("committed", 0) + outcomes.get("rolled_back", 0) > 0, "no request was interrupted"
    assert final.profiles > 0


def test_kill_controller_during_start(
    db_backend: tuple[str, str | None, Any], controllers: MakeController
) -> None:
    """SIGKILL while the controller creates its database (migrations, seed) and token: the next start works."""
    backend, db_url, url_of = db_backend
    ctl = controllers(db_url)
    rng = random.Random(SEED + 1)
    for _ in range(KILLS):
        ctl.spawn()
        time.sleep(rng.uniform(0.2, 2.5))
        ctl.kill()
    ctl.start()
    rep = check_database(url_of(ctl.state_dir))
    headers = {"Authorization": f"Bearer {ctl.admin_token}"}
    with httpx.Client(base_url=ctl.url, headers=headers, timeout=60) as http:
        http.post("/v1/tenants", json={"name": "pwxfa"}).raise_for_status()
        net = {"tenant": "pwxfa", "name": "n1", "subnet": "10.80.0.0/24"}
        http.post("/v1/networks", json=net).raise_for_status()
        http.post("/v1/servers", json={"name": "pwxfa-s"}).raise_for_status()
        took = http.post("/v1/servers/pwxfa-s/pool/take", json={"network": "pwxfa/n1", "count": 10})
    after = check_database(url_of(ctl.state_dir))
    report(
        f"scenario4-controller-start-kill-{backend}",
        {
            "backend": backend,
            "kills_during_start": KILLS,
            "violations": len(rep.violations + after.violations),
            "take_after_restart": took.status_code,
            **after.figures(),
        },
    )
    assert not rep.violations and not after.violations, rep.violations + after.violations
    assert took.status_code == 200 and len({p["mac"] for p in took.json()}) == 10


def test_start_after_kill_between_token_create_and_write(controllers: MakeController) -> None:
    ctl = controllers(None)
    ctl.state_dir.mkdir(parents=True)
    # what a kill between create and write left with the old, non-atomic init (fixed: temp file + rename)
    (ctl.state_dir / "admin.token").touch(mode=0o600)
    ctl.start(timeout=30)
    assert ctl.admin_token
