"""Where the CLI finds the controller and its token, and one call to it (output helpers: prewire.cli.output).

URL: --url, else $PREWIRE_URL, else the lab's /run/prewire/lab/lab.json "controller_url", else
http://127.0.0.1:8700.  Token: --token, else $PREWIRE_TOKEN, else the file named by lab.json
"admin_token_file", else /var/lib/prewire/controller/admin.token (when readable).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from prewire.cli.output import cli_errors
from prewire.client import ControllerClient
from prewire.errors import Unauthorized

LAB_STATE = Path("/run/prewire/lab/lab.json")
DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_TOKEN_FILE = Path("/var/lib/prewire/controller/admin.token")
T = TypeVar("T")

UrlOption = Annotated[
    str | None, typer.Option("--url", envvar="PREWIRE_URL", help="controller URL", show_default=False)
]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="PREWIRE_TOKEN", help="bearer token", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _lab_state(path: Path | None = None) -> dict[str, Any]:
    try:
        path = path or LAB_STATE
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_token(path: str | Path) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def resolve(url: str | None, token: str | None, lab_state: Path | None = None) -> tuple[str, str | None]:
    """(url, token) following the order in the module docstring."""
    lab = _lab_state(lab_state) if url is None or token is None else {}
    if url is None:
        url = str(lab.get("controller_url") or DEFAULT_URL)
    if token is None:
        lab_file = lab.get("admin_token_file")
        token = (_read_token(lab_file) if lab_file else None) or _read_token(DEFAULT_TOKEN_FILE)
    return url, token


def client(url: str | None, token: str | None) -> ControllerClient:
    url, token = resolve(url, token)
    if not token:
        raise Unauthorized(
            f"no token found: pass --token, set PREWIRE_TOKEN, or make {DEFAULT_TOKEN_FILE} readable"
        )
    return ControllerClient(url, token)


def call(url: str | None, token: str | None, op: Callable[[ControllerClient], T]) -> T:
    """`op` on a client of the controller; a PrewireError becomes one error line and exit status 1."""
    with cli_errors(), client(url, token) as c:
        return op(c)
