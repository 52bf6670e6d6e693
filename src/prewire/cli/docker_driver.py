"""`prewire docker-driver run`: the Docker network driver `prewire` (libnetwork remote driver)."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import httpx
import typer

from prewire.dockerdriver import server

app = typer.Typer(no_args_is_help=True, help="Docker network driver (docker network create -d prewire).")


@app.command("run")
def run_cmd(
    agent_socket: str = typer.Option(..., help="The local agent's socket (<agent state dir>/agent.sock)."),
    name: str = typer.Option("prewire", help="Driver name for `docker network create -d NAME`."),
    state_dir: str = typer.Option("/run/prewire/docker-driver", help="Where endpoints are remembered."),
    plugin_dir: str = typer.Option(server.PLUGIN_DIR, help="Docker's plugin socket directory."),
    scratch_netns: str = typer.Option("", help="Netns the agent wires into before the hand-over."),
    ifname_prefix: str = typer.Option("pwd", help="Prefix of the interfaces handed to docker."),
    no_reconcile: bool = typer.Option(False, "--no-reconcile", help="Skip the start-up check with dockerd."),
) -> None:
    """Serve the driver on <plugin-dir>/<name>.sock until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    driver = server.build(agent_socket, name, state_dir, scratch_netns, ifname_prefix)
    if driver.endpoints and not no_reconcile:  # before serving: no call in flight
        try:
            released = driver.reconcile(server.docker_endpoints())
        except (httpx.HTTPError, OSError) as exc:
            typer.echo(f"dockerd not answering ({exc}): start-up reconcile skipped", err=True)
        else:
            if released:
                typer.echo(f"released {len(released)} endpoint(s) docker no longer has", err=True)
    servers: list[server.DriverServer] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        for srv in servers:
            srv.close()
        driver.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)  # before the socket exists: a stop always cleans up
    signal.signal(signal.SIGINT, stop)
    servers.append(server.DriverServer(driver, name, plugin_dir))
    servers[0].start()
    typer.echo(f"prewire docker driver {name} listening on {servers[0].socket_path}", err=True)
    while True:
        signal.pause()
