"""`prewire tenant create|list|delete`."""

from __future__ import annotations

from typing import Annotated

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

app = typer.Typer(no_args_is_help=True, help="Tenants (each gets its own token).")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="tenant name")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and print its token (shown only once)."""
    with cli_errors(), client(url, token) as c:
        out = c.create_tenant(name)
    if as_json:
        print_json(out)
    else:
        print(f"tenant {out['name']} created; token: {out['token']}")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List tenants."""
    with cli_errors(), client(url, token) as c:
        rows = c.list_tenants()
    if as_json:
        print_json(rows)
    else:
        print_table("tenants", ["name", "networks"], [(r["name"], r["networks"]) for r in rows])


@app.command("delete")
def delete(name: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete a tenant that has no networks left."""
    with cli_errors(), client(url, token) as c:
        c.delete_tenant(name)
    print(f"tenant {name} deleted")
