"""`prewire controller init|serve|token`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from prewire.cli.output import cli_errors
from prewire.controller.service import DEFAULT_STATE_DIR, TOKEN_FILE

app = typer.Typer(no_args_is_help=True, help="The controller daemon.")

StateDir = Annotated[Path, typer.Option("--state-dir", help="database (SQLite) and admin token live here")]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url", envvar="PREWIRE_DB_URL", help="e.g. postgresql://user@host/db (default: SQLite)"
    ),
]


@app.command("init")
def init(state_dir: StateDir = DEFAULT_STATE_DIR, db_url: DbUrl = None) -> None:
    """Create the database (migrations) and the admin token (0600); idempotent."""
    from prewire.controller.service import init_state

    with cli_errors():
        store, _token = init_state(state_dir, db_url)
        store.dispose()
    print(f"controller initialised: database {store.safe_url}, admin token {state_dir / TOKEN_FILE}")


@app.command("serve")
def serve(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    db_url: DbUrl = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8700,
    vlan_range: Annotated[str, typer.Option("--vlan-range", help="LOW-HIGH")] = "100-3999",
    pool_low: Annotated[int, typer.Option("--pool-low", help="refill a network's pool below this")] = 16,
    pool_target: Annotated[int, typer.Option("--pool-target", help="refill up to this many free")] = 64,
    batch_size: Annotated[int, typer.Option("--batch-size", help="profiles per switch batch")] = 256,
    resync_interval: Annotated[float, typer.Option("--resync-interval", help="seconds")] = 30.0,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Run the REST API (uvicorn) and the pre-distribution to switches."""
    import uvicorn

    from prewire.api import create_app
    from prewire.controller.base import ControllerConfig
    from prewire.controller.predistribute import Predistributor
    from prewire.controller.service import open_controller
    from prewire.domain.allocation import VlanRange

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with cli_errors():
        config = ControllerConfig(VlanRange.parse(vlan_range), pool_low, pool_target)
        ctl = open_controller(state_dir, db_url, config)
        pre = Predistributor(ctl, batch_size=batch_size, resync_interval=resync_interval)
    uvicorn.run(create_app(ctl, pre), host=host, port=port, log_level=log_level)


@app.command("token")
def token(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Print the admin token."""
    path = state_dir / TOKEN_FILE
    try:
        print(path.read_text().strip())
    except OSError as exc:
        print(
            f"error: cannot read {path} ({exc.strerror}): run `prewire controller init` first",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
