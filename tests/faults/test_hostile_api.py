"""Scenario 7 (REST half) of issue 7: hostile input against the controller's API.

Schemathesis generates requests (positive and negative) from the served OpenAPI document, each sent with
the admin token, a tenant token, a wrong token or an empty one; hand-written cases add huge bodies, wrong
types, SQL-ish strings, unicode names and bad tokens.  Invariants: the controller never crashes and never
answers 5xx, a refused request changes nothing (fingerprint of the database), a tenant token never sees
another tenant's data, and the database stays consistent.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from prewire.store import default_url
from tests.faults.api_cases import Case, cases
from tests.faults.api_world import TENANTS, Fingerprint, World, seed
from tests.faults.db_invariants import check_database
from tests.faults.faults_support import ControllerProc, env_int, report

pytestmark = [pytest.mark.faults, pytest.mark.root]

REQUESTS = env_int("PREWIRE_FAULTS_API_REQUESTS", 10_000)
SEED = env_int("PREWIRE_FAULTS_SEED", 7)
WHO = ("admin", TENANTS[0], TENANTS[1], "wrong", "empty", "generated")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ctl = ControllerProc(tmp_path_factory.mktemp("hostile") / "ctl")
    try:
        ctl.start()
        yield seed(ctl)
    finally:
        ctl.stop()


class Tally:
    """What the generated requests did, and every invariant they broke."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.fp = Fingerprint(world.ctl.state_dir / "controller.db")
        self.status: collections.Counter[str] = collections.Counter()
        self.violations: list[str] = []
        self.crashes = 0
        self.sent = 0
        self.session = requests.Session()

    def headers(self, who: str) -> dict[str, str] | None:
        if who == "generated":
            return None  # keep whatever schemathesis generated (in negative mode often a broken token)
        if who == "wrong":
            return {"Authorization": "Bearer pwt_not-a-token"}
        if who == "empty":
            return {"Authorization": ""}
        return self.world.headers(who)

    def send(self, case: Any, who: str) -> None:
        self.sent += 1
        before = self.fp.now()
        try:
            resp = case.call(
                base_url=self.world.ctl.url, session=self.session, headers=self.headers(who), timeout=60
            )
        except requests.RequestException as exc:
            self.crashes += 1
            self.violations.append(f"{case.operation.label} as {who}: no answer ({type(exc).__name__})")
            return
        label = f"{case.operation.label} as {who}"
        self.status[f"{resp.status_code // 100}xx"] += 1
        if resp.status_code >= 500:
            self.violations.append(f"{label}: HTTP {resp.status_code} {resp.text[:200]}")
        elif resp.status_code >= 300 and self.fp.now() != before:
            self.violations.append(f"{label}: refused with {resp.status_code} but the database changed")
        elif resp.status_code < 300 and who in TENANTS:
            other = TENANTS[1 - TENANTS.index(who)]
            leaked = [s for s in self.world.secrets_of(other) if s in resp.text]
            if leaked:
                self.violations.append(f"{label}: tenant {who} saw {other}'s {leaked[:3]}")


def test_generated_requests(world: World) -> None:
    """REQUESTS schemathesis cases (half positive, half negative) -> 0 crashes, 0 5xx, 0 partial writes."""
    schema = schemathesis.openapi.from_url(f"{world.ctl.url}/openapi.json")
    tally = Tally(world)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        budget = tally.sent + REQUESTS // 2
        strategy = st.tuples(schema.as_strategy(generation_mode=mode), st.sampled_from(WHO))
        for attempt in range(20):  # hypothesis may end a run early (duplicates): run again until done
            if tally.sent >= budget:
                break

            @hypothesis.seed(SEED + attempt)
            @settings(
                max_examples=budget - tally.sent,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(drawn=strategy)
            def run(drawn: tuple[Any, str]) -> None:
                tally.send(*drawn)

            run()
    total = sum(tally.status.values())
    rep = check_database(default_url(world.ctl.state_dir))
    figures = {
        "requests": total,
        "by_status": dict(tally.status),
        "crashes": tally.crashes,
        "controller_alive": world.ctl.alive(),
        "violations": len(tally.violations),
        "db_violations": len(rep.violations),
        "logged_internal_errors": len(world.ctl.crashed_lines()),
        **rep.figures(),
    }
    tally.fp.close()
    report("scenario7-hostile-api-generated", figures)
    assert not tally.violations, "\n".join(tally.violations[:30])
    assert world.ctl.alive(), world.ctl.tail()
    assert not rep.violations, rep.violations[:10]
    assert not world.ctl.crashed_lines(), world.ctl.tail()
    assert tally.sent >= REQUESTS, f"only {tally.sent} requests generated"


def _send(http: httpx.Client, world: World, case: Case) -> httpx.Response:
    headers: dict[str, Any] = {"Content-Type": "application/json", **case.headers}
    if case.who.startswith("raw:"):
        headers["Authorization"] = case.who[4:].encode("latin-1")
    elif case.who != "none":
        headers.update(world.headers(case.who))
    return http.request(case.method, case.path, content=case.content(), headers=headers)


def test_handwritten_cases(world: World) -> None:
    """Huge bodies, wrong types, SQL-ish, unicode, bad tokens, cross-tenant reach -> 4xx, nothing written."""
    fp = Fingerprint(world.ctl.state_dir / "controller.db")
    violations: list[str] = []
    status: collections.Counter[str] = collections.Counter()
    all_cases = cases()
    with httpx.Client(base_url=world.ctl.url, timeout=120) as http:
        for case in all_cases:
            before = fp.now()
            try:
                resp = _send(http, world, case)
            except httpx.TransportError as exc:
                violations.append(f"{case.name}: no answer ({type(exc).__name__})")
                continue
            status[str(resp.status_code)] += 1
            changed = fp.now() != before
            if resp.status_code >= 500:
                violations.append(f"{case.name}: HTTP {resp.status_code} {resp.text[:200]}")
            elif case.expect == "refused" and not 400 <= resp.status_code < 500:
                violations.append(f"{case.name}: accepted with {resp.status_code} {resp.text[:200]}")
            elif case.expect in ("refused", "unchanged") and changed:
                violations.append(f"{case.name}: {resp.status_code} but the database changed")
        violations += _isolation(http, world)
    fp.close()
    rep = check_database(default_url(world.ctl.state_dir))
    report(
        "scenario7-hostile-api-handwritten",
        {
            "cases": len(all_cases),
            "by_status": dict(status),
            "violations": len(violations),
            "db_violations": len(rep.violations),
            "controller_alive": world.ctl.alive(),
        },
    )
    assert not violations, "\n".join(violations)
    assert world.ctl.alive() and not world.ctl.crashed_lines(), world.ctl.tail()
    assert not rep.violations, rep.violations[:10]


def _isolation(http: httpx.Client, world: World) -> list[str]:
    """Each tenant's listings hold its own data only; the other tenant's data is still all there."""
    bad = []
    for me, other in (TENANTS, TENANTS[::-1]):
        h = world.headers(me)
        for path in ("/v1/tenants", "/v1/networks", "/v1/endpoints"):
            resp = http.get(path, headers=h)
            leaked = [s for s in world.secrets_of(other) if s in resp.text]
            if resp.status_code != 200 or leaked:
                bad.append(f"{me} GET {path}: {resp.status_code}, sees {other}'s {leaked[:3]}")
        mine = [e["mac"] for e in http.get("/v1/endpoints", headers=h).json()]
        if sorted(mine) != sorted(world.macs[me][:4]):
            bad.append(f"{me}'s endpoints {mine} != the 4 bound at setup")
    return bad
