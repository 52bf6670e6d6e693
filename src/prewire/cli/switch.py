"""`prewire switch list|status|register`."""

from __future__ import annotations

from typing import Annotated

import typer

from prewire.cli.context import JsonOption, TokenOption, UrlOption, call
from prewire.cli.output import cli_errors, emit, table
from prewire.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Switches that profiles are pre-distributed to.")

SWITCHES = table(
    "switches",
    ["name", "driver", "options"],
    lambda r: (r["name"], r["driver"], " ".join(f"{k}={v}" for k, v in r["options"].items())),
)
STATUS = table(
    "switch status",
    ["name", "driver", "state", "held", "desired", "last sync", "last error"],
    lambda r: (r["name"], r["driver"], r["state"], r["held"], r["desired"], r["last_sync"], r["last_error"]),
)


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List registered switches."""
    emit(as_json, call(url, token, lambda c: c.list_switches()), SWITCHES)


@app.command("status")
def status(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Pre-distribution state of every switch: profiles held vs. desired."""
    emit(as_json, call(url, token, lambda c: c.switch_status()), STATUS)


def _options(items: list[str]) -> dict[str, str]:
    opts: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"invalid --option {item!r}: write KEY=VALUE")
        opts[key] = value
    return opts


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
        opts = _options(option or [])
    call(url, token, lambda c: c.register_switch(name, driver, opts))
    print(f"switch {name} registered")
