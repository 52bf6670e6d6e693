"""`prewire` entry point: one typer app with a sub-app per area, each in its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from prewire.errors import PrewireError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="prewire: millisecond tenant VLANs.",
)

# (command name, module, attribute): each module owns its commands; a module that is absent is skipped
# so that a partial install still answers --help.
_SUBAPPS: list[tuple[str, str]] = [
    ("controller", "prewire.cli.controller"),
    ("tenant", "prewire.cli.tenant"),
    ("network", "prewire.cli.network"),
    ("server", "prewire.cli.server"),
    ("switch", "prewire.cli.switch"),
    ("lab", "prewire.cli.lab"),
    ("container", "prewire.cli.container"),
    ("agent", "prewire.cli.agent"),
    ("switch-agent", "prewire.cli.switch_agent"),
    ("cni", "prewire.cli.cni"),
    ("docker-driver", "prewire.cli.docker_driver"),
]
_COMMANDS: list[tuple[str, str]] = [
    ("demo", "prewire.cli.demo"),
    ("bench", "prewire.cli.bench"),
]


def _register() -> None:
    for name, module_name in _SUBAPPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        app.add_typer(module.app, name=name)
    for name, module_name in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        app.command(name)(module.command)


_register()


def main() -> None:
    try:
        app(standalone_mode=True)
    except PrewireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
