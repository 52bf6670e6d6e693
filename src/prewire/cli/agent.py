"""`prewire agent run|status|list`: the server agent daemon and a look at it through its socket."""

from __future__ import annotations

import asyncio
import logging
import os

import typer

from prewire import jsonline
from prewire.cli.output import print_json

app = typer.Typer(no_args_is_help=True, help="The server agent: wires containers to their tenant VLAN.")


@app.command("run")
def run(
    server: str = typer.Option(..., help="server name registered in the controller (e.g. srv0)"),
    bridge: str = typer.Option(..., help="the server's OVS bridge (e.g. pwsrv0)"),
    state_dir: str = typer.Option(..., help="agent state directory (socket, journal)"),
    uplink: str = typer.Option(None, help="uplink port of the bridge towards the ToR (e.g. pwu0s)"),
    runtime_dir: str = typer.Option(None, help="lab netns runtime directory to watch"),
    controller: str = typer.Option(None, help="controller URL (e.g. http://127.0.0.1:8700)"),
    token_file: str = typer.Option(None, help="file holding the controller token"),
    pool_size: int = typer.Option(64, help="profiles kept per network in the local pool"),
    ports: int = typer.Option(64, help="pre-wired ports kept free"),
    metrics_port: int = typer.Option(None, help="serve Prometheus /metrics on 127.0.0.1:PORT"),
    tag: str = typer.Option(None, hidden=True, help="override <s> in pwh<s>x<n>/pwc<s>x<n>/pwpool<s>"),
    docker: bool = typer.Option(True, help="follow dockerd's events (when its socket exists)"),
    ipv6_link_local: bool = typer.Option(
        False, help="give eth0 an IPv6 link-local address (off: its ND/MLD chatter slows userspace OVS)"
    ),
    prefix: str = typer.Option("pw", hidden=True, help="name prefix of ports and pool netns (tests: pwx...)"),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING"),
) -> None:
    """Run the agent until SIGTERM (socket STATE_DIR/agent.sock)."""
    from prewire.agent.daemon import AgentConfig
    from prewire.agent.daemon import run as run_daemon

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = AgentConfig(
        server=server,
        bridge=bridge,
        state_dir=state_dir,
        uplink=uplink,
        runtime_dir=runtime_dir,
        controller=controller,
        token_file=token_file,
        pool_size=pool_size,
        ports=ports,
        tag=tag,
        metrics_port=metrics_port,
        prefix=prefix,
        ipv6_link_local=ipv6_link_local,
        docker=docker,
    )
    asyncio.run(run_daemon(config))


def _call(state_dir: str, op: str) -> None:
    result = jsonline.call(os.path.join(state_dir, "agent.sock"), op, timeout=10.0)
    print_json(result)


@app.command("status")
def status(state_dir: str = typer.Option(..., help="agent state directory")) -> None:
    """Pools, bindings and hot-path percentiles of a running agent (JSON)."""
    _call(state_dir, "status")


@app.command("list")
def list_bindings(state_dir: str = typer.Option(..., help="agent state directory")) -> None:
    """Bindings and wiring errors of a running agent (JSON)."""
    _call(state_dir, "list")
