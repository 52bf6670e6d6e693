"""The controller CLI (tenant, network, switch, server) and `container` output: tables, --json, error lines.

The CLI runs in-process against a controller on a temporary SQLite database (FastAPI TestClient as the
HTTP transport); `container` runs against a fake lab (no netns, no docker).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from prewire.api import create_app
from prewire.cli import container as container_cli
from prewire.cli import context
from prewire.cli.main import app
from prewire.client import ControllerClient
from prewire.errors import Conflict, NotFound, Unavailable
from prewire.lab import containers
from tests.unit.controller.ctl_helpers import ADMIN_TOKEN, make_controller, sqlite_url

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`cli(*args, auth=True)`: run `prewire ARGS` (with the admin token unless auth=False)."""
    ctl = make_controller(sqlite_url(tmp_path))
    api = create_app(ctl)

    class InProcessClient(ControllerClient):
        def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
            super().__init__(url, token, timeout)
            self._http.close()
            self._http = TestClient(api, base_url=self.url, headers={"Authorization": f"Bearer {token}"})

    monkeypatch.setattr(context, "ControllerClient", InProcessClient)
    monkeypatch.setattr(context, "LAB_STATE", tmp_path / "absent.json")
    monkeypatch.setattr(context, "DEFAULT_TOKEN_FILE", tmp_path / "absent.token")
    for var in ("PREWIRE_TOKEN", "PREWIRE_URL", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str, auth: bool = True) -> Result:
        argv = [*args[:2], "--token", ADMIN_TOKEN, *args[2:]] if auth else list(args)
        return runner.invoke(app, argv)

    yield run
    ctl.store.dispose()


def ok(r: Result) -> str:
    assert r.exit_code == 0 and not r.stderr, (r.exit_code, r.stderr, r.exception)
    return r.stdout


def err(r: Result) -> str:
    assert r.exit_code == 1 and not r.stdout and r.stderr.startswith("error: "), (r.exit_code, r.output)
    assert r.stderr.count("\n") == 1
    return r.stderr


def test_tenant(cli: Any) -> None:
    assert "no token found: pass --token" in err(cli("tenant", "list", auth=False))
    assert ok(cli("tenant", "list", "--json")) == "[]\n"
    assert ok(cli("tenant", "create", "acme")).startswith("tenant acme created; token: pwt_")
    assert err(cli("tenant", "create", "acme")) == "error: tenant 'acme' already exists: pick another name\n"
    assert json.loads(ok(cli("tenant", "create", "beta", "--json"))).keys() == {"name", "token"}
    assert ok(cli("tenant", "list")) == (
        "      tenants      \n"
        "┏━━━━━━┳━━━━━━━━━━┓\n"
        "┃ name ┃ networks ┃\n"
        "┡━━━━━━╇━━━━━━━━━━┩\n"
        "│ acme │ 0        │\n"
        "│ beta │ 0        │\n"
        "└──────┴──────────┘\n"
    )
    assert (
        ok(cli("tenant", "list", "--json"))
        == json.dumps([{"name": "acme", "networks": 0}, {"name": "beta", "networks": 0}], indent=2) + "\n"
    )
    assert ok(cli("tenant", "delete", "beta")) == "tenant beta deleted\n"
    assert "does not exist" in err(cli("tenant", "delete", "beta"))
    assert "unknown token" in err(cli("tenant", "list", "--token", "bad", auth=False))


def test_network(cli: Any) -> None:
    ok(cli("tenant", "create", "acme"))
    r = cli(
        "network", "create", "acme/web", "--subnet", "10.0.0.0/24", "--vlan", "300", "--gateway", "10.0.0.1"
    )
    assert ok(r) == "network acme/web created: vlan 300, subnet 10.0.0.0/24\n"
    db = json.loads(ok(cli("network", "create", "acme/db", "--subnet", "10.1.0.0/24", "--json")))
    assert db["vlan"] == 100 and db["profiles"] == {"bound": 0, "free": 8, "server": 0}
    bad = err(cli("network", "create", "acme/x", "--subnet", "10.0.0.0/24", "--vlan", "abc"))
    assert bad == "error: invalid --vlan 'abc': give a number such as 100\n"
    # the reference is checked before the token is looked for
    bad_ref = "error: invalid network 'acme-x': write it as TENANT/NAME\n"
    assert err(cli("network", "create", "acme-x", "--subnet", "10.0.0.0/24", auth=False)) == bad_ref
    table = ok(cli("network", "list"))
    assert table.splitlines()[2].split("┃")[1:-1] == [
        f" {c} " for c in ("network ", "vlan", "subnet     ", "gateway ", "free", "on servers", "bound")
    ]
    assert "│ acme/db  │ 100  │ 10.1.0.0/24 │ -        │ 8    │ 0          │ 0     │" in table
    assert [n["vlan"] for n in json.loads(ok(cli("network", "list", "--json")))] == [100, 300]
    shown = ok(cli("network", "show", "acme/web"))
    assert shown.split("\n")[0].strip() == "network" and "│ acme/web │ 300  │" in shown
    assert json.loads(ok(cli("network", "show", "acme/web", "--json")))["gateway"] == "10.0.0.1"
    assert "does not exist" in err(cli("network", "show", "acme/nope"))
    assert ok(cli("network", "delete", "acme/db")) == "network acme/db deleted\n"
    assert err(cli("network", "delete", "bad")) == "error: invalid network 'bad': write it as TENANT/NAME\n"


def test_switch_and_server(cli: Any) -> None:
    ok(cli("tenant", "create", "acme"))
    ok(cli("network", "create", "acme/web", "--subnet", "10.0.0.0/24", "--vlan", "300"))
    assert ok(cli("switch", "register", "tor0", "--driver", "fake", "-o", "k=v", "-o", "a=b")) == (
        "switch tor0 registered\n"
    )
    assert err(cli("switch", "register", "t1", "--driver", "fake", "-o", "kv")) == (
        "error: invalid --option 'kv': write KEY=VALUE\n"
    )
    assert "│ tor0 │ fake   │ a=b k=v │" in ok(cli("switch", "list"))
    assert json.loads(ok(cli("switch", "list", "--json"))) == [
        {"driver": "fake", "name": "tor0", "options": {"a": "b", "k": "v"}}
    ]
    status = ok(cli("switch", "status"))
    assert "┃ name ┃ driver ┃ state   ┃ held ┃ desired ┃ last sync ┃ last error ┃" in status
    assert json.loads(ok(cli("switch", "status", "--json")))[0]["desired"] == 8
    assert ok(cli("server", "register", "srv0", "--switch", "tor0", "--switch-port", "p0")) == (
        "server srv0 registered\n"
    )
    assert "is not registered" in err(cli("server", "register", "srv1", "--switch", "nope"))
    with context.client("http://testserver", ADMIN_TOKEN) as c:
        c.pool_take("srv0", "acme/web", 2)
    assert "│ srv0 │ tor0   │ p0          │ 2       │ 0     │" in ok(cli("server", "list"))
    assert json.loads(ok(cli("server", "list", "--json")))[0]["switch_port"] == "p0"
    pool = ok(cli("server", "pool", "srv0"))
    assert "pool of srv0" in pool and "│ 10.0.0.1/24 │ 300  │ acme/web │ server │" in pool
    assert [p["ip"] for p in json.loads(ok(cli("server", "pool", "srv0", "--json")))] == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    assert "is not registered" in err(cli("server", "pool", "nope"))


def test_container(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container_cli.labstate, "load", lambda: None)
    assert (
        err(cli("container", "list", auth=False)) == "error: the lab is not up; run `prewire lab up` first\n"
    )
    monkeypatch.setattr(container_cli, "_lab", lambda: None)
    rows = [{"name": "pwxa", "server": "srv0", "network": "acme/web", "ip": "10.0.0.5", "vlan": 300}]
    monkeypatch.setattr(containers, "listing", lambda st: rows)
    assert ok(cli("container", "list", auth=False)) == (
        "pwxa                 srv0   acme/web             -                  10.0.0.5         vlan 300\n"
    )
    assert ok(cli("container", "list", "--json", auth=False)) == json.dumps(rows) + "\n"
    wiring = {
        "ip": "10.0.0.5",
        "prefix": 24,
        "vlan": 300,
        "server": "srv0",
        "switch": "tor0",
        "switch_port": "p0",
    }
    wiring |= {"mac": "02:00:00:00:00:01", "ready_s": 0.01234, "timings": {"ready": 3.5}, "at": Path("/x")}

    def run(st: Any, name: str, network: str, **_kw: Any) -> dict[str, Any]:
        if name == "bad":
            raise Conflict("container bad already runs on srv0; remove it first (container rm)")
        return wiring

    monkeypatch.setattr(containers, "run", run)
    assert ok(cli("container", "run", "pwxa", "--network", "acme/web", auth=False)) == (
        "pwxa: mac 02:00:00:00:00:01 ip 10.0.0.5/24 vlan 300 server srv0 switch tor0:p0 "
        "ready 12.34 ms (agent: wired 3.50 ms after detecting it)\n"
    )
    out = json.loads(ok(cli("container", "run", "pwxa", "--network", "acme/web", "--json", auth=False)))
    assert out["at"] == "/x" and list(out) == list(wiring)
    assert "already runs on srv0" in err(cli("container", "run", "bad", "--network", "a/b", auth=False))

    def rm(st: Any, name: str) -> str:
        raise NotFound(f"no lab container {name!r}; see `prewire container list`")

    monkeypatch.setattr(containers, "rm", rm)
    assert err(cli("container", "rm", "pwxa", auth=False)).startswith("error: no lab container 'pwxa'")
    r = cli("container", "exec", "pwxa", "--", auth=False)
    assert r.exit_code == 2 and r.stderr.startswith("error: no command given")

    def no_docker(name: str) -> int:
        raise Unavailable("docker is not running")

    monkeypatch.setattr("prewire.lab.dockerrt.netns_pid", no_docker)
    assert err(cli("container", "exec", "pwxzzqq", "--", "true", auth=False)) == (
        "error: no lab container 'pwxzzqq' (netns or docker); see `prewire container list`\n"
    )
