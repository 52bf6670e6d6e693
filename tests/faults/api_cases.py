"""Hand-written hostile requests: huge bodies, wrong types, SQL-ish strings, unicode, bad tokens, and
one tenant reaching for another's data.  Each case says what it must get:

    refused    a 4xx and no change in the database
    unchanged  any status below 500, no change in the database (per-item batch answers)
    any        any status below 500
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.faults.api_world import SERVER, TENANTS

A, B = TENANTS
ADMIN_ONLY = (
    "GET /v1/servers",
    "GET /v1/switches",
    "GET /v1/switches/status",
    f"GET /v1/servers/{SERVER}/pool",
)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    who: str = "admin"  # admin | tenant name | none | raw:<Authorization header value>
    body: Any = None  # JSON-able value, or bytes sent as they are
    expect: str = "refused"
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes | None:
        if self.body is None or isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def _bodies(path: str, field_name: str, values: list[Any], who: str = "admin") -> list[Case]:
    return [Case(f"{path} {field_name}={v!r:.40}", "POST", path, who, {field_name: v}) for v in values]


SQLISH = ["x'; DROP TABLE tenants;--", "' OR '1'='1", f"{A}' --", "1; DELETE FROM profiles", "%' OR 1=1 #"]
UNICODE = [
    "租户",
    "\uff54\uff45\uff4e\uff41\uff4e\uff54",  # fullwidth "tenant"
    "tenant\u0000x",
    "a\u202eb",
    "😀",
    "e\u0301",
    "İ",
    "ß",
    "\ufeffname",
    "a" * 33,
]
MAC = "06:00:00:00:00:01"  # never allocated (the controller's MACs are 02:<fabric>:<counter>)
ODD_BODIES: list[Any] = [[], "x", 123, b"null", b""]
BAD_COUNTS: list[Any] = [0, -1, 10**30, "5", 1.5, True, None, []]


def cases() -> list[Case]:
    take = f"/v1/servers/{SERVER}/pool/take"
    out = [
        # huge bodies
        Case("10 MB tenant name", "POST", "/v1/tenants", body={"name": "a" * 10_000_000}),
        Case("20 MB of garbage", "POST", "/v1/tenants", body=b"\x8f" * 20_000_000),
        Case("100k nested arrays", "POST", "/v1/tenants", body=b"[" * 100_000 + b"]" * 100_000),
        Case("100k nested objects", "POST", "/v1/networks", body=b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
        Case(
            "200k MACs returned",
            "POST",
            f"/v1/servers/{SERVER}/pool/return",
            body={"macs": [MAC] * 200_000},
            expect="unchanged",
        ),
        Case(
            "50k bad bindings",
            "POST",
            f"/v1/servers/{SERVER}/endpoints/report",
            body={"bound": [{"mac": f"zz{i}", "container": "c"} for i in range(50_000)]},
            expect="unchanged",
        ),
        Case("take more than the subnet holds", "POST", take, body={"network": f"{A}/small", "count": 4096}),
        Case("take more than max", "POST", take, body={"network": f"{A}/net1", "count": 4097}),
        # wrong types and malformed JSON
        *[Case(f"tenants body {b!r:.30}", "POST", "/v1/tenants", body=b) for b in ODD_BODIES],
        *_bodies("/v1/tenants", "name", [5, None, [], {}, True, 1.5]),
        Case("unknown field", "POST", "/v1/tenants", body={"name": "pwxfa-x", "admin": True}),
        Case("invalid UTF-8", "POST", "/v1/tenants", body=b'{"name": "\xff\xfe"}'),
        Case("NaN", "POST", take, body=b'{"network": "pwxfa-alpha/net1", "count": NaN}'),
        Case(
            "text/plain",
            "POST",
            "/v1/tenants",
            body=b'{"name": "pwxfa-plain"}',
            expect="any",
            headers={"Content-Type": "text/plain"},
        ),
        *[
            Case(f"take count={c!r}", "POST", take, body={"network": f"{A}/net1", "count": c})
            for c in BAD_COUNTS
        ],
        *[
            Case(
                f"network {k}={v!r}",
                "POST",
                "/v1/networks",
                body={"tenant": A, "name": "n9", "subnet": "10.99.0.0/24", k: v},
            )
            for k, v in (
                ("subnet", 10),
                ("subnet", "10.0.0.0/33"),
                ("subnet", "::/0"),
                ("subnet", "10.0.0.1/24"),
                ("vlan", "100"),
                ("vlan", 1e3),
                ("vlan", 99999),
                ("vlan", -1),
                ("gateway", 5),
                ("gateway", "10.98.0.1"),
                ("subnet", "10.0.0.0/31"),
            )
        ],
        # SQL-ish strings, in bodies, paths and tokens
        *_bodies("/v1/tenants", "name", SQLISH),
        *_bodies("/v1/servers", "name", SQLISH),
        *[
            Case(f"take network {s!r}", "POST", take, body={"network": f"{A}/{s}", "count": 1})
            for s in SQLISH
        ],
        *[Case(f"delete tenant {s!r}", "DELETE", f"/v1/tenants/{quote(s, safe='')}") for s in SQLISH],
        *[
            Case(f"get network {s!r} as {A}", "GET", f"/v1/networks/{quote(s, safe='')}/net1", A)
            for s in SQLISH
        ],
        Case(
            "return SQL-ish MACs",
            "POST",
            f"/v1/servers/{SERVER}/pool/return",
            body={"macs": SQLISH},
            expect="unchanged",
        ),
        *[Case(f"token {s!r}", "GET", "/v1/tenants", f"raw:Bearer {s}") for s in SQLISH],
        # unicode names
        *_bodies("/v1/tenants", "name", UNICODE),
        *_bodies("/v1/networks", "tenant", UNICODE),
        *[Case(f"path {u!r}", "GET", f"/v1/networks/{quote(u, safe='')}/net1", "admin") for u in UNICODE[:6]],
        Case("NUL in path", "DELETE", "/v1/tenants/a%00b"),
        # wrong or absent tokens
        *[
            Case(f"no token {c}", c.split()[0], c.split()[1], "none")
            for c in (
                *ADMIN_ONLY,
                "GET /v1/tenants",
                "GET /v1/networks",
                "GET /v1/endpoints",
                "POST /v1/tenants",
            )
        ],
        *[
            Case(f"token {t!r:.30}", "GET", "/v1/networks", f"raw:{t}")
            for t in (
                "Bearer",
                "Bearer  x",
                "Basic YWRtaW46YWRtaW4=",
                "Bearer pwa_guess",
                "Bearer " + "x" * 60_000,
                "Bearer pwt_" + "\u00e9" * 10,
                "Token abc",
            )
        ],
        # a tenant token on admin calls, and reaching into the other tenant
        *[Case(f"{A} calls {c}", c.split()[0], c.split()[1], A) for c in ADMIN_ONLY],
        Case(f"{A} creates a tenant", "POST", "/v1/tenants", A, {"name": "pwxfa-evil"}),
        Case(f"{A} takes profiles", "POST", take, A, {"network": f"{A}/net1", "count": 1}),
        Case(
            f"{A} reports", "POST", f"/v1/servers/{SERVER}/endpoints/report", A, {"bound": [], "released": []}
        ),
        Case(f"{A} registers a switch", "POST", "/v1/switches", A, {"name": "pwxfa-sw", "driver": "fake"}),
        Case(f"{A} reads {B}'s network", "GET", f"/v1/networks/{B}/net1", A),
        Case(f"{A} deletes {B}'s network", "DELETE", f"/v1/networks/{B}/net1", A),
        Case(f"{A} deletes {B}", "DELETE", f"/v1/tenants/{B}", A),
        Case(
            f"{A} creates a network for {B}",
            "POST",
            "/v1/networks",
            A,
            {"tenant": B, "name": "n", "subnet": "10.97.0.0/24"},
        ),
        # methods and paths that do not exist
        Case("PUT tenants", "PUT", "/v1/tenants", body={"name": "x"}),
        Case("dot-dot path", "GET", "/v1/../../etc/passwd"),
        Case("8 KB path", "GET", "/v1/networks/" + "a" * 8000 + "/b"),
    ]
    return out
