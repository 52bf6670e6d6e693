"""`prewire container run|rm|exec|list`: lab containers (translation only; see prewire.lab.containers)."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from prewire.cli.output import Row, cli_errors, emit
from prewire.errors import NotFound, PrewireError, Unavailable
from prewire.lab import containers, topology
from prewire.lab import state as labstate
from prewire.lab.state import LabState

app = typer.Typer(no_args_is_help=True, help="Containers in the lab fabric (netns runtime).")


def _lab() -> LabState:
    st = labstate.load()
    if st is None or not st.servers:
        raise Unavailable("the lab is not up; run `prewire lab up` first")
    return st


def _ms(value: Any, scale: float = 1000.0) -> str:
    return f"{float(value) * scale:.2f} ms" if isinstance(value, int | float) else "-"


@app.command()
def run(
    name: str = typer.Argument(..., help="container name (netns pwct-NAME)"),
    network: str = typer.Option(..., "--network", help="TENANT/NET"),
    server: str | None = typer.Option(None, "--server", help="lab server (default: least loaded)"),
    runtime: str = typer.Option("netns", "--runtime", help="netns | docker | podman"),
    timeout: float = typer.Option(30.0, "--timeout", help="seconds to wait for the agent to wire it"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Start a container on a tenant network and print its wiring."""
    with cli_errors():
        result = containers.run(_lab(), name, network, server=server, runtime=runtime, timeout=timeout)
    emit(as_json, result, lambda r: _print_wiring(name, r), compact=True)


def _print_wiring(name: str, result: Row) -> None:
    timings = result.get("timings")
    wired = timings.get("ready") if isinstance(timings, dict) else None  # ms after the agent detected it
    typer.echo(
        f"{name}: mac {result.get('mac')} ip {result.get('ip')}/{result.get('prefix')} vlan {result.get('vlan')} "
        f"server {result['server']} switch {result['switch']}:{result['switch_port']} "
        f"ready {_ms(result['ready_s'])} (agent: wired {_ms(wired, 1.0)} after detecting it)"
    )


@app.command()
def rm(name: str = typer.Argument(...)) -> None:
    """Stop a container; its agent releases its interface, port, addresses and switch VLAN."""
    with cli_errors():
        server = containers.rm(_lab(), name)
    typer.echo(f"{name}: removed from {server}")


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Run a command in the container's network namespace: container exec NAME -- CMD..."""
    command = list(ctx.args)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        typer.echo("error: no command given; use `prewire container exec NAME -- CMD...`", err=True)
        raise typer.Exit(2)
    netns = topology.container_netns(topology.check_container_name(name))
    with cli_errors():
        _enter_netns(name, f"/run/netns/{netns}")
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        typer.echo(f"error: cannot run {command[0]}: {exc.strerror}", err=True)
        raise typer.Exit(127) from exc


def _enter_netns(name: str, target: str) -> None:
    """Enter the lab netns `target`, else the netns of the docker container `name`."""
    if not os.path.exists(target):
        from prewire.lab import dockerrt

        try:
            target = f"/proc/{dockerrt.netns_pid(name)}/ns/net"
        except PrewireError:
            raise NotFound(
                f"no lab container {name!r} (netns or docker); see `prewire container list`"
            ) from None
    from pyroute2 import netns as pyr_netns

    try:
        pyr_netns.setns(target, flags=0)
    except OSError as exc:
        raise Unavailable(f"cannot enter the network namespace of {name}: {exc}") from None


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every lab container with server, network, MAC, IP, VLAN."""
    with cli_errors():
        rows = containers.listing(_lab())
    emit(as_json, rows, _print_listing, compact=True)


def _print_listing(rows: list[Row]) -> None:
    for row in rows:
        typer.echo(
            f"{row['name']:<20} {row['server']:<6} {row.get('network', '-'):<20} {row.get('mac', '-'):<18} "
            f"{row.get('ip', '-'):<16} vlan {row.get('vlan', '-')}"
        )
