"""`prewire demo`: the main job (translation only; the pipeline lives in prewire.demo)."""

from __future__ import annotations

import typer

from prewire.errors import Conflict, InvalidInput
from prewire.lab import state as labstate


def command(
    containers: int = typer.Option(200, "--containers", help="containers in the burst"),
    servers: int = typer.Option(4, "--servers", help="emulated servers"),
    switches: int = typer.Option(1, "--switches", help="emulated ToR switches"),
    png: str = typer.Option("prewire-demo.png", "--png", help="where to write the PNG report"),
    json_out: str | None = typer.Option(None, "--json", help="also write the results as JSON"),
) -> None:
    """Build the lab, start a burst of containers for two tenants, check isolation and leaks, report."""
    from prewire.demo import run as demo

    if containers < 2 or servers < 1 or switches < 1:
        raise InvalidInput("--containers must be >= 2, --servers and --switches >= 1")
    if labstate.load() is not None:
        raise Conflict(
            "a lab is already up; run `prewire lab down` first (the demo builds and removes its own)"
        )
    result = demo.run(containers, servers, switches, png=png, json_out=json_out)
    raise typer.Exit(0 if result.ok else 1)
