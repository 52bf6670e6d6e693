"""`prewire switch list|status|register`."""

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
from prewire.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Switches that profiles are pre-distributed to.")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List registered switches."""
    with cli_errors(), client(url, token) as c:
        rows = c.list_switches()
    if as_json:
        print_json(rows)
    else:
        print_table(
            "switches",
            ["name", "driver", "options"],
            [(r["name"], r["driver"], " ".join(f"{k}={v}" for k, v in r["options"].items())) for r in rows],
        )


@app.command("status")
def status(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Pre-distribution state of every switch: profiles held vs. desired."""
    with cli_errors(), client(url, token) as c:
        rows = c.switch_status()
    if as_json:
        print_json(rows)
    else:
        print_table(
            "switch status",
            ["name", "driver", "state", "held", "desired", "last sync", "last error"],
            [
                (r["name"], r["driver"], r["state"], r["held"], r["desired"], r["last_sync"], r["last_error"])
                for r in rows
            ],
        )


@app.command("register")
def register(
    name: str,
    driver: Annotated[str, typer.Option("--driver", help="ovs, fake, brocade_vdx, fujitsu_cfabric")],
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE, repeatable")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register (or update) a switch."""
    with cli_errors():
        opts: dict[str, str] = {}
        for item in option or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidInput(f"invalid --option {item!r}: write KEY=VALUE")
            opts[key] = value
        with client(url, token) as c:
            c.register_switch(name, driver, opts)
    print(f"switch {name} registered")
