"""The controller facade: one object with every operation, used by the API (and tests)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from prewire.controller.base import ControllerConfig
from prewire.controller.endpoints import EndpointMixin
from prewire.controller.fabric import FabricMixin
from prewire.controller.pools import PoolMixin
from prewire.controller.tenancy import TenancyMixin
from prewire.errors import InvalidInput
from prewire.store import Store, default_url

DEFAULT_STATE_DIR = Path("/var/lib/prewire/controller")
TOKEN_FILE = "admin.token"


class Controller(TenancyMixin, FabricMixin, PoolMixin, EndpointMixin):
    """Tenancy, networks, servers, switches, pools and endpoints over one Store."""


def init_state(state_dir: Path, db_url: str | None = None) -> tuple[Store, str]:
    """Create the state directory, migrate the database and create the admin token (kept if present)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(db_url or default_url(state_dir))
    store.migrate()
    token_path = state_dir / TOKEN_FILE
    if not token_path.exists() or token_path.stat().st_size == 0:
        # an empty file is what a kill in the middle of an older, non-atomic write left: never handed out
        _create_token(token_path)
    token = token_path.read_text().strip()
    if not token:
        raise InvalidInput(f"{token_path} is empty: delete it and run `prewire controller init` again")
    return store, token


def _create_token(token_path: Path) -> None:
    """Write a new admin token atomically (0600 temp file, fsync, rename): a kill at any moment leaves
    either no token file or a complete one."""
    token = "pwa_" + secrets.token_urlsafe(32)
    tmp = token_path.with_name(f".{token_path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, token_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def open_controller(
    state_dir: Path, db_url: str | None = None, config: ControllerConfig | None = None
) -> Controller:
    """init_state + a Controller whose admin token is the state directory's."""
    store, token = init_state(state_dir, db_url)
    cfg = config or ControllerConfig()
    cfg = ControllerConfig(cfg.vlan_range, cfg.pool_low, cfg.pool_target, cfg.max_take, token)
    return Controller(store, cfg)
