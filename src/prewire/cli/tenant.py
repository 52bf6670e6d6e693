"""`prewire tenant create|list|delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from prewire.cli.context import JsonOption, TokenOption, UrlOption, call
from prewire.cli.output import emit, table

app = typer.Typer(no_args_is_help=True, help="Tenants (each gets its own token).")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="tenant name")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and print its token (shown only once)."""
    out = call(url, token, lambda c: c.create_tenant(name))
    emit(as_json, out, lambda t: print(f"tenant {t['name']} created; token: {t['token']}"))


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List tenants."""
    rows = call(url, token, lambda c: c.list_tenants())
    emit(as_json, rows, table("tenants", ["name", "networks"], lambda r: (r["name"], r["networks"])))


@app.command("delete")
def delete(name: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete a tenant that has no networks left."""
    call(url, token, lambda c: c.delete_tenant(name))
    print(f"tenant {name} deleted")
