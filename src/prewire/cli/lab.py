"""`prewire lab up|down|status`: the one-machine fabric (translation only; see prewire.lab)."""

from __future__ import annotations

import json
import time

import typer

from prewire.errors import PrewireError
from prewire.lab import state as labstate

# prewire.lab.fabric/status (pyroute2, ovsdbapp) are imported inside the commands: `prewire --help` and the
# other commands do not pay for them.
DEFAULT_PORT = 8700

app = typer.Typer(no_args_is_help=True, help="The lab fabric: emulated servers, ToR switches, controller.")


def _fail(exc: PrewireError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(1)


@app.command()
def up(
    servers: int = typer.Option(2, "--servers", help="emulated servers (1..64)"),
    switches: int = typer.Option(1, "--switches", help="ToR switches (servers spread over them)"),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="controller port (next free one is taken)"),
    pool_size: int | None = typer.Option(None, "--pool-size", help="agent local pool size per network"),
    ports: int | None = typer.Option(None, "--ports", help="pre-wired ports per server"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Build the lab (idempotent)."""
    from prewire.lab import fabric

    began = time.perf_counter()
    say = (lambda _m: None) if quiet else (lambda m: typer.echo(f"lab: {m}", err=True))
    try:
        st = fabric.up(servers, switches, port=port, pool_size=pool_size, ports=ports, progress=say)
    except PrewireError as exc:
        _fail(exc)
        return
    typer.echo(
        f"lab up: {len(st.servers)} server(s), {len(st.switches)} switch(es), controller {st.controller_url} "
        f"(admin token {st.admin_token_file}) in {time.perf_counter() - began:.1f} s"
    )


@app.command()
def down() -> None:
    """Remove every object and process the lab made."""
    from prewire.lab import fabric

    try:
        existed = fabric.down()
    except PrewireError as exc:
        _fail(exc)
        return
    typer.echo("lab down" if existed else "lab down: no lab was up")


@app.command("status")
def status_(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Servers, switches, ports, profiles held, VLANs active per port."""
    from prewire.lab import status

    try:
        st = labstate.load()
        if st is None:
            if as_json:
                typer.echo(json.dumps({"up": False}))
            else:
                typer.echo("lab: not up (prewire lab up)")
            raise typer.Exit(3)
        info = status.collect(st)
    except PrewireError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps({"up": True, **info}, indent=2, default=str))
        return
    ctl = info["controller"]
    typer.echo(f"controller {ctl['url']} pid {ctl['pid']} {'up' if ctl['alive'] else 'DOWN'}")
    for sw in info["switches"]:
        held = sw.get("profiles_held", "-")
        typer.echo(
            f"switch {sw['name']} bridge {sw['bridge']} pid {sw['pid']} {'up' if sw['alive'] else 'DOWN'} "
            f"ports {','.join(sw['ports']) or '-'} profiles {held}"
        )
        for port, vlans in (sw.get("vlans_by_port") or {}).items():
            macs = sum(1 for a in sw.get("active") or [] if isinstance(a, dict) and a.get("port") == port)
            typer.echo(f"  port {port}: vlans {','.join(map(str, vlans))} ({macs} mac(s))")
    for srv in info["servers"]:
        typer.echo(
            f"server {srv['name']} bridge {srv['bridge']} on {srv['switch']}:{srv['switch_port']} pid {srv['pid']} "
            f"{'up' if srv['alive'] else 'DOWN'} ports {srv['ports']} containers {srv['containers']}"
        )
    if info["spine"]:
        typer.echo(f"spine {info['spine']}")
