"""Where the CLI finds the controller and its token, plus output helpers shared by the CLI modules.

URL: --url, else $PREWIRE_URL, else the lab's /run/prewire/lab/lab.json "controller_url", else
http://127.0.0.1:8700.  Token: --token, else $PREWIRE_TOKEN, else the file named by lab.json
"admin_token_file", else /var/lib/prewire/controller/admin.token (when readable).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from prewire.client import ControllerClient
from prewire.errors import PrewireError, Unauthorized

LAB_STATE = Path("/run/prewire/lab/lab.json")
DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_TOKEN_FILE = Path("/var/lib/prewire/controller/admin.token")

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


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a PrewireError into one line on stderr and exit status 1."""
    try:
        yield
    except PrewireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from None


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
