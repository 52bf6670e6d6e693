"""`prewire` entry point: one command group whose sub-commands live in their own modules and are
imported only when used (importing every area up front costs a second per CLI call)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer import _click as click
from typer.core import TyperGroup

from prewire.errors import PrewireError

# command name -> (module, attribute): `app` is a typer.Typer of sub-commands, `command` one function.
_AREAS: dict[str, tuple[str, str, str]] = {
    "controller": ("prewire.cli.controller", "app", "controller database, token and REST API"),
    "tenant": ("prewire.cli.tenant", "app", "tenants and their tokens"),
    "network": ("prewire.cli.network", "app", "tenant VLAN networks"),
    "server": ("prewire.cli.server", "app", "servers known to the controller"),
    "switch": ("prewire.cli.switch", "app", "switches and their pre-distribution status"),
    "lab": ("prewire.cli.lab", "app", "the one-machine lab fabric"),
    "container": ("prewire.cli.container", "app", "lab containers"),
    "agent": ("prewire.cli.agent", "app", "the server agent"),
    "switch-agent": ("prewire.cli.switch_agent", "app", "the AMPP switch agent of an OVS ToR"),
    "cni": ("prewire.cli.cni", "app", "the CNI plugin: install, conflists"),
    "docker-driver": ("prewire.cli.docker_driver", "app", "the Docker network driver"),
    "demo": ("prewire.cli.demo", "command", "the main job: the whole technique with its numbers"),
    "bench": ("prewire.cli.bench", "command", "measure prewire against its peers"),
}


def _load(name: str) -> click.Command | None:
    module_name, attr, _help = _AREAS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    target: Any = getattr(module, attr)
    if attr == "command":
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        return typer.main.get_command(single)
    command = typer.main.get_group(target)  # a group even with one sub-command (`agent run`)
    command.name = name
    return command


class _LazyGroup(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_AREAS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _AREAS:
            return None
        return _load(cmd_name)


app = typer.Typer(
    cls=_LazyGroup,
    name="prewire",
    help="prewire: per-tenant container VLANs wired in milliseconds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """prewire: per-tenant container VLANs wired in milliseconds."""


def main() -> None:
    try:
        app(prog_name="prewire")
    except PrewireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
