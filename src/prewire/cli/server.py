"""`prewire server list|register|pool`."""

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

app = typer.Typer(no_args_is_help=True, help="Servers (one agent each).")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List servers with the profiles they hold."""
    with cli_errors(), client(url, token) as c:
        rows = c.list_servers()
    if as_json:
        print_json(rows)
    else:
        print_table(
            "servers",
            ["name", "switch", "switch port", "in pool", "bound"],
            [(r["name"], r["switch"], r["switch_port"], r["held"], r["bound"]) for r in rows],
        )


@app.command("register")
def register(
    name: str,
    switch: Annotated[str | None, typer.Option("--switch")] = None,
    switch_port: Annotated[str | None, typer.Option("--switch-port")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register (or update) a server."""
    with cli_errors(), client(url, token) as c:
        c.register_server(name, switch, switch_port)
    print(f"server {name} registered")


@app.command("pool")
def pool(name: str, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Profiles a server holds."""
    with cli_errors(), client(url, token) as c:
        rows = c.pool(name)
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"pool of {name}",
            ["mac", "ip", "vlan", "network", "state"],
            [(r["mac"], f"{r['ip']}/{r['prefix']}", r["vlan"], r["network"], r["state"]) for r in rows],
        )
