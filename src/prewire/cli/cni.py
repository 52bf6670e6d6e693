"""`prewire cni ...`: install the CNI plugin, write conflists, set podman up for the CNI backend."""

from __future__ import annotations

import json

import typer

from prewire.cni import install

app = typer.Typer(no_args_is_help=True, help="CNI plugin (podman, containerd, CRI-O, Kubernetes).")


@app.command("install")
def install_cmd(
    bin_dir: str = typer.Option(install.DEFAULT_BIN_DIR, help="CNI plugin directory."),
    python: str = typer.Option("", help="Interpreter for the shebang (default: this virtualenv's)."),
    podman: bool = typer.Option(False, "--podman", help="Also write the podman containers.conf drop-in."),
    conf_dir: str = typer.Option(install.DEFAULT_CONF_DIR, help="CNI config directory (for --podman)."),
    host_root: str = typer.Option("", help="Write under this prefix (installer container: /host)."),
) -> None:
    """Install the `prewire` plugin executable into the CNI bin dir."""
    path = install.install_plugin(bin_dir, python or None, host_root=host_root)
    typer.echo(f"installed {path}")
    if podman:
        typer.echo(f"wrote {install.configure_podman(bin_dir=bin_dir, conf_dir=conf_dir)}")


@app.command("conflist")
def conflist_cmd(
    name: str = typer.Argument(..., help="CNI network name (what `podman run --network` takes)."),
    network: str = typer.Option("", help="prewire network TENANT/NET."),
    agent_socket: str = typer.Option(install.DEFAULT_AGENT_SOCKET, help="Agent socket; may hold {server}."),
    server: str = typer.Option("", help="Server whose agent wires (fills {server} in --agent-socket)."),
    conf_dir: str = typer.Option(install.DEFAULT_CONF_DIR, help="CNI config directory."),
    log_file: str = typer.Option("", help="Plugin log file (one line per call)."),
    stdout: bool = typer.Option(False, "--print", help="Print the conflist instead of writing it."),
    remove: bool = typer.Option(False, "--remove", help="Remove the conflist of NAME."),
) -> None:
    """Write (or print, or remove) the conflist of a prewire network."""
    if remove:
        gone = install.remove_conflist(name, conf_dir)
        typer.echo(f"removed {install.conflist_path(name, conf_dir)}" if gone else f"no conflist {name}")
        return
    if not network:
        raise typer.BadParameter("--network TENANT/NET is required", param_hint="--network")
    conf = install.conflist(name, network, agent_socket, server or None, log_file=log_file or None)
    if stdout:
        typer.echo(json.dumps(conf, indent=2))
    else:
        typer.echo(f"wrote {install.write_conflist(conf, conf_dir)}")


@app.command("podman-setup")
def podman_setup_cmd(
    bin_dir: str = typer.Option(install.DEFAULT_BIN_DIR, help="CNI plugin directory."),
    conf_dir: str = typer.Option(install.DEFAULT_CONF_DIR, help="CNI config directory."),
) -> None:
    """Write the podman drop-in: cgroupfs, runc, CNI backend, nofile ulimits."""
    typer.echo(f"wrote {install.configure_podman(bin_dir=bin_dir, conf_dir=conf_dir)}")
