"""Output helpers shared by the CLI modules: one error line on failure, JSON with --json, else text."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from prewire.errors import PrewireError

T = TypeVar("T")
Row = dict[str, Any]


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a PrewireError into one line on stderr and exit status 1."""
    try:
        yield
    except PrewireError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from None


def print_json(data: Any, compact: bool = False) -> None:
    """Indented, sorted JSON; `compact`: one line in the data's own key order (str() for the rest)."""
    print(json.dumps(data, default=str) if compact else json.dumps(data, indent=2, sort_keys=True))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def table(
    title: str, columns: Sequence[str], row: Callable[[Row], Sequence[Any]]
) -> Callable[[list[Row]], None]:
    """A text printer for `emit`: one table row per resource."""
    return lambda rows: print_table(title, columns, [row(r) for r in rows])


def emit(as_json: bool, data: T, text: Callable[[T], object], compact: bool = False) -> None:
    """Print `data` as JSON with --json, else through `text`."""
    if as_json:
        print_json(data, compact)
    else:
        text(data)
