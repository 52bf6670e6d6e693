"""`prewire network create|list|show|delete`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prewire.cli.context import JsonOption, TokenOption, UrlOption, call
from prewire.cli.output import Row, cli_errors, emit, table
from prewire.domain.model import split_network_ref
from prewire.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Tenant VLAN networks.")

RefArgument = Annotated[str, typer.Argument(metavar="TENANT/NAME")]
COLUMNS = ["network", "vlan", "subnet", "gateway", "free", "on servers", "bound"]


def _row(n: Row) -> list[Any]:
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


def _split(ref: str, vlan: str | None = None) -> tuple[str, str]:
    """TENANT/NAME checked (and --vlan, if given) before the controller is asked."""
    with cli_errors():
        tenant, name = split_network_ref(ref)
        if vlan is not None and not vlan.strip().isdigit():
            raise InvalidInput(f"invalid --vlan {vlan!r}: give a number such as 100")
    return tenant, name


@app.command("create")
def create(
    ref: RefArgument,
    subnet: Annotated[str, typer.Option("--subnet", help="IPv4 CIDR, e.g. 10.1.0.0/24")],
    vlan: Annotated[str | None, typer.Option("--vlan", help="VLAN ID (default: the lowest free)")] = None,
    gateway: Annotated[str | None, typer.Option("--gateway", help="gateway IP (never handed out)")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a network; its pool of profiles is pre-allocated and pre-distributed at once."""
    tenant, name = _split(ref, vlan)
    vlan_id = None if vlan is None else int(vlan)
    out = call(url, token, lambda c: c.create_network(tenant, name, subnet, vlan_id, gateway))
    emit(
        as_json,
        out,
        lambda n: print(f"network {n['tenant']}/{n['name']} created: vlan {n['vlan']}, subnet {n['subnet']}"),
    )


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List networks (a tenant token sees its own only)."""
    emit(as_json, call(url, token, lambda c: c.list_networks()), table("networks", COLUMNS, _row))


@app.command("show")
def show(
    ref: RefArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Show one network."""
    tenant, name = _split(ref)
    out = call(url, token, lambda c: c.get_network(tenant, name))
    emit(as_json, out, lambda n: table("network", COLUMNS, _row)([n]))


@app.command("delete")
def delete(ref: RefArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete a network with no bound endpoints."""
    tenant, name = _split(ref)
    call(url, token, lambda c: c.delete_network(tenant, name))
    print(f"network {ref} deleted")
