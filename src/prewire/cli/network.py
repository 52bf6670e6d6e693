"""`prewire network create|list|show|delete`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prewire.cli.context import (
    JsonOption,
    TokenOption,
    UrlOption,
    cli_errors,
    client,
    print_json,
    print_table,
)
from prewire.domain.model import split_network_ref
from prewire.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Tenant VLAN networks.")


def _row(n: dict[str, Any]) -> list[Any]:
    p = n.get("profiles", {})
    return [
        f"{n['tenant']}/{n['name']}",
        n["vlan"],
        n["subnet"],
        n.get("gateway") or "-",
        p.get("free", 0),
        p.get("server", 0),
        p.get("bound", 0),
    ]


COLUMNS = ["network", "vlan", "subnet", "gateway", "free", "on servers", "bound"]


@app.command("create")
def create(
    ref: Annotated[str, typer.Argument(metavar="TENANT/NAME")],
    subnet: Annotated[str, typer.Option("--subnet", help="IPv4 CIDR, e.g. 10.1.0.0/24")],
    vlan: Annotated[str | None, typer.Option("--vlan", help="VLAN ID (default: the lowest free)")] = None,
    gateway: Annotated[str | None, typer.Option("--gateway", help="gateway IP (never handed out)")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a network; its pool of profiles is pre-allocated and pre-distributed at once."""
    with cli_errors():
        tenant, name = split_network_ref(ref)
        if vlan is not None and not vlan.strip().isdigit():
            raise InvalidInput(f"invalid --vlan {vlan!r}: give a number such as 100")
        with client(url, token) as c:
            out = c.create_network(tenant, name, subnet, None if vlan is None else int(vlan), gateway)
    if as_json:
        print_json(out)
    else:
        print(f"network {out['tenant']}/{out['name']} created: vlan {out['vlan']}, subnet {out['subnet']}")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List networks (a tenant token sees its own only)."""
    with cli_errors(), client(url, token) as c:
        rows = c.list_networks()
    if as_json:
        print_json(rows)
    else:
        print_table("networks", COLUMNS, [_row(n) for n in rows])


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(metavar="TENANT/NAME")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one network."""
    with cli_errors():
        tenant, name = split_network_ref(ref)
        with client(url, token) as c:
            out = c.get_network(tenant, name)
    if as_json:
        print_json(out)
    else:
        print_table("network", COLUMNS, [_row(out)])


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(metavar="TENANT/NAME")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a network with no bound endpoints."""
    with cli_errors():
        tenant, name = split_network_ref(ref)
        with client(url, token) as c:
            c.delete_network(tenant, name)
    print(f"network {ref} deleted")
