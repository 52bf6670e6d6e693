"""The REST API in-process (FastAPI TestClient): auth, tenant isolation, error bodies, pools, reports."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from prewire.api import create_app
from prewire.controller.service import Controller
from tests.unit.controller.ctl_helpers import ADMIN_TOKEN, snapshot

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api(ctl: Controller) -> Iterator[TestClient]:
    with TestClient(create_app(ctl)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tenant(api: TestClient, name: str) -> dict[str, str]:
    r = api.post("/v1/tenants", json={"name": name}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return bearer(r.json()["token"])


def assert_error(r: Any, status: int, kind: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == kind and body["message"]
    if field:
        assert field in body["message"]


def test_health_and_openapi_without_token(api: TestClient) -> None:
    assert api.get("/v1/health").json()["status"] == "ok"
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/servers/{server}/pool/take" in paths and "/v1/endpoints" in paths


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic abc"}])
def test_wrong_token(api: TestClient, headers: dict[str, str]) -> None:
    assert_error(api.get("/v1/networks", headers=headers), 401, "unauthorized")


def test_tenant_tokens_are_isolated(api: TestClient, ctl: Controller) -> None:
    acme, blue = tenant(api, "acme"), tenant(api, "blue")
    r = api.post(
        "/v1/networks", json={"tenant": "acme", "name": "web", "subnet": "10.0.0.0/24"}, headers=acme
    )
    assert r.status_code == 201 and r.json()["vlan"] == 100
    r = api.post(
        "/v1/networks", json={"tenant": "blue", "name": "web", "subnet": "10.0.0.0/24"}, headers=blue
    )
    assert r.status_code == 201 and r.json()["vlan"] == 101  # overlapping subnet, other VLAN
    assert [n["tenant"] for n in api.get("/v1/networks", headers=blue).json()] == ["blue"]
    assert [t["name"] for t in api.get("/v1/tenants", headers=blue).json()] == ["blue"]
    assert len(api.get("/v1/networks", headers=ADMIN).json()) == 2
    before = snapshot(ctl)
    assert_error(api.get("/v1/networks/acme/web", headers=blue), 403, "forbidden")
    assert_error(api.delete("/v1/networks/acme/web", headers=blue), 403, "forbidden")
    body = {"tenant": "acme", "name": "x", "subnet": "10.1.0.0/24"}
    assert_error(api.post("/v1/networks", json=body, headers=blue), 403, "forbidden")
    assert_error(api.post("/v1/tenants", json={"name": "evil"}, headers=blue), 403, "forbidden")
    assert_error(api.get("/v1/servers", headers=blue), 403, "forbidden")
    assert snapshot(ctl) == before


BAD = [
    (
        "/v1/networks",
        {"tenant": "acme", "name": "n", "subnet": "10.0.0.0/99"},
        400,
        "invalid_input",
        "subnet",
    ),
    (
        "/v1/networks",
        {"tenant": "acme", "name": "n", "subnet": "10.2.0.0/24", "vlan": 5000},
        400,
        "invalid_input",
        "vlan",
    ),
    (
        "/v1/networks",
        {"tenant": "acme", "name": "n", "subnet": "10.2.0.0/24", "vlan": "12"},
        400,
        "invalid_input",
        "vlan",
    ),
    ("/v1/networks", {"tenant": "acme", "name": "web", "subnet": "10.2.0.0/24"}, 409, "conflict", "web"),
    (
        "/v1/networks",
        {"tenant": "acme", "name": "n", "subnet": "10.2.0.0/24", "vlan": 100},
        409,
        "conflict",
        "vlan",
    ),
    ("/v1/networks", {"tenant": "nobody", "name": "n", "subnet": "10.2.0.0/24"}, 404, "not_found", "nobody"),
    ("/v1/networks", {"tenant": "acme", "name": "n"}, 400, "invalid_input", "subnet"),
    (
        "/v1/networks",
        {"tenant": "acme", "name": "n", "subnet": "10.2.0.0/24", "extra": 1},
        400,
        "invalid_input",
        "extra",
    ),
    ("/v1/tenants", {"name": "acme"}, 409, "conflict", "acme"),
    ("/v1/tenants", {"name": "x" * 100}, 400, "invalid_input", "name"),
    ("/v1/servers", {"name": "srv1", "switch_port": "p" * 65}, 400, "invalid_input", "switch_port"),
    ("/v1/servers", {"name": "srv1", "switch_port": "p\x00"}, 400, "invalid_input", "switch_port"),
    ("/v1/switches", {"name": "sw", "driver": "no-such-driver"}, 400, "invalid_input", "driver"),
    (
        "/v1/servers/srv0/endpoints/report",
        {"bound": [{"mac": "02:00:00:00:00:01", "container": "c" * 300}]},
        400,
        "invalid_input",
        "container",
    ),
    ("/v1/tenants", {"name": "UPPER"}, 400, "invalid_input", "tenant name"),
    ("/v1/servers/srv0/pool/take", {"network": "acme/web", "count": 100000}, 400, "invalid_input", "count"),
    ("/v1/servers/srv0/pool/take", {"network": "acme/web", "count": 300}, 409, "exhausted", "free"),
    ("/v1/servers/ghost/pool/take", {"network": "acme/web", "count": 1}, 404, "not_found", "ghost"),
    ("/v1/servers/srv0/pool/take", {"network": "acmeweb", "count": 1}, 400, "invalid_input", "network"),
]


@pytest.mark.parametrize(("path", "body", "status", "kind", "field"), BAD)
def test_bad_input_leaves_database_unchanged(
    api: TestClient, ctl: Controller, path: str, body: dict[str, Any], status: int, kind: str, field: str
) -> None:
    tenant(api, "acme")
    api.post("/v1/networks", json={"tenant": "acme", "name": "web", "subnet": "10.0.0.0/24"}, headers=ADMIN)
    api.post("/v1/servers", json={"name": "srv0"}, headers=ADMIN)
    before = snapshot(ctl)
    assert_error(api.post(path, json=body, headers=ADMIN), status, kind, field)
    assert snapshot(ctl) == before


def test_malformed_json(api: TestClient, ctl: Controller) -> None:
    before = snapshot(ctl)
    r = api.post("/v1/tenants", content=b'{"name": ', headers={**ADMIN, "Content-Type": "application/json"})
    assert_error(r, 400, "invalid_input", "malformed JSON")
    assert_error(api.get("/v1/nowhere", headers=ADMIN), 404, "not_found")
    assert snapshot(ctl) == before


def test_pool_and_endpoint_flow(api: TestClient) -> None:
    acme = tenant(api, "acme")
    api.post(
        "/v1/networks",
        json={"tenant": "acme", "name": "web", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"},
        headers=ADMIN,
    )
    assert (
        api.post(
            "/v1/switches", json={"name": "tor0", "driver": "fake", "options": {"a": "b"}}, headers=ADMIN
        ).status_code
        == 201
    )
    api.post("/v1/servers", json={"name": "srv0", "switch": "tor0", "switch_port": "pwu0t"}, headers=ADMIN)
    api.post("/v1/servers", json={"name": "srv1"}, headers=ADMIN)
    r = api.post("/v1/servers/srv0/pool/take", json={"network": "acme/web", "count": 3}, headers=ADMIN)
    assert r.status_code == 200
    got = r.json()
    assert set(got[0]) == {"mac", "ip", "prefix", "gateway", "vlan", "network"}
    assert got[0]["gateway"] == "10.0.0.1" and got[0]["prefix"] == 24 and got[0]["vlan"] == 100
    other = api.post(
        "/v1/servers/srv1/pool/take", json={"network": "acme/web", "count": 1}, headers=ADMIN
    ).json()
    report = {
        "bound": [
            {"mac": got[0]["mac"], "container": "c1", "ifname": "eth0", "port": "pwh0x0"},
            {"mac": other[0]["mac"], "container": "c2"},
        ],
        "released": [{"mac": got[1]["mac"], "container": "old"}],
    }
    for _ in range(2):  # the same report twice changes nothing
        out = api.post("/v1/servers/srv0/endpoints/report", json=report, headers=ADMIN).json()
        assert [b["ok"] for b in out["bound"]] == [True, False]
        assert out["bound"][1]["error"] == "conflict" and out["released"][0]["ok"]
    eps = api.get("/v1/endpoints", headers=acme).json()
    assert [(e["container"], e["switch"], e["switch_port"]) for e in eps] == [("c1", "tor0", "pwu0t")]
    assert api.get("/v1/endpoints?server=srv1", headers=ADMIN).json() == []
    assert len(api.get("/v1/endpoints?server=srv0", headers=ADMIN).json()) == 1
    pool = api.get("/v1/servers/srv0/pool", headers=ADMIN).json()
    assert sorted(p["state"] for p in pool) == ["bound", "server", "server"]
    ret = api.post("/v1/servers/srv0/pool/return", json={"macs": [got[2]["mac"]]}, headers=ADMIN).json()
    assert ret["returned"][0]["ok"]
    assert api.get("/v1/switches", headers=ADMIN).json()[0]["options"] == {"a": "b"}
    assert api.get("/v1/switches/status", headers=ADMIN).json()[0]["state"] == "unknown"
    assert_error(api.delete("/v1/networks/acme/web", headers=acme), 409, "conflict", "bound")
    api.post("/v1/servers/srv0/endpoints/report", json={"released": [got[0]["mac"]]}, headers=ADMIN)
    assert api.delete("/v1/networks/acme/web", headers=acme).status_code == 200
    assert api.delete("/v1/tenants/acme", headers=ADMIN).status_code == 200
