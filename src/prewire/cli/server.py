"""`prewire server list|register|pool`."""

from __future__ import annotations

from typing import Annotated

import typer

from prewire.cli.context import JsonOption, TokenOption, UrlOption, call
from prewire.cli.output import emit, table

app = typer.Typer(no_args_is_help=True, help="Servers (one agent each).")

SERVERS = table(
    "servers",
    ["name", "switch", "switch port", "in pool", "bound"],
    lambda r: (r["name"], r["switch"], r["switch_port"], r["held"], r["bound"]),
)


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List servers with the profiles they hold."""
    emit(as_json, call(url, token, lambda c: c.list_servers()), SERVERS)


@app.command("register")
def register(
    name: str,
    switch: Annotated[str | None, typer.Option("--switch")] = None,
    switch_port: Annotated[str | None, typer.Option("--switch-port")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register (or update) a server."""
    call(url, token, lambda c: c.register_server(name, switch, switch_port))
    print(f"server {name} registered")


@app.command("pool")
def pool(name: str, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Profiles a server holds."""
    rows = call(url, token, lambda c: c.pool(name))
    emit(
        as_json,
        rows,
        table(
            f"pool of {name}",
            ["mac", "ip", "vlan", "network", "state"],
            lambda r: (r["mac"], f"{r['ip']}/{r['prefix']}", r["vlan"], r["network"], r["state"]),
        ),
    )
