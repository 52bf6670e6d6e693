"""`prewire bench`: translation only; the measurement lives in prewire.bench."""

from __future__ import annotations

import json
import math
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from prewire.errors import Conflict, InvalidInput
from prewire.lab import state as labstate


def command(
    containers: int = typer.Option(1000, "--containers", help="burst size and top of the scale curve"),
    servers: int = typer.Option(4, "--servers", help="emulated servers"),
    switches: int = typer.Option(1, "--switches", help="emulated ToR switches"),
    repeat: int = typer.Option(3, "--repeat", help="runs per figure (the median is quoted)"),
    probes: int = typer.Option(20, "--probes", help="containers started one by one at each scale level"),
    json_out: str | None = typer.Option(None, "--json", help="write every figure as JSON"),
    png: str | None = typer.Option(None, "--png", help="write a PNG report"),
) -> None:
    """Measure prewire against its peers on this machine, in one run."""
    from prewire.bench import run as bench

    if containers < 2 or servers < 1 or switches < 1 or repeat < 1 or probes < 1:
        raise InvalidInput("--containers must be >= 2; --servers, --switches, --repeat, --probes >= 1")
    if labstate.load() is not None:
        raise Conflict("a lab is already up; run `prewire lab down` first (the bench builds its own)")
    console = Console()
    result = bench.run(containers, servers, switches, repeat, probes, json_out, png, say=console.print)
    _print(console, result)
    ok = not result.get("leftovers") and not any(result.get("scale_in", {}).get("leaks", {}).values())
    raise typer.Exit(0 if ok else 1)


def _ms(v: Any) -> str:
    return "-" if not isinstance(v, int | float) or math.isnan(v) else f"{v:.2f}"


def _print(console: Console, r: dict[str, Any]) -> None:
    table = Table(title="prewire bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for c in r.get("scale_curve", []):
        table.add_row(
            f"{c['present']} present: hot path p50/p99 ms",
            f"{_ms(c['hot_path']['p50'])} / {_ms(c['hot_path']['p99'])}",
        )
        table.add_row(
            f"{c['present']} present: network ready p50/p99 ms",
            f"{_ms(c['network_ready']['p50'])} / {_ms(c['network_ready']['p99'])}",
        )
    burst = r.get("burst", {})
    table.add_row("burst: all started at once -> all wired, s (median)", _ms(burst.get("duration_s")))
    table.add_row("burst incl. the runtime creating them, s (median)", _ms(burst.get("with_runtime_s")))
    table.add_row("burst containers/s", _ms(burst.get("rate_per_s")))
    table.add_row("scale-in s (median)", _ms(r.get("scale_in", {}).get("duration_s")))
    for name, peer in r.get("peers", {}).items():
        table.add_row(f"{name} add/del p50 ms", f"{_ms(peer['add']['p50'])} / {_ms(peer['del']['p50'])}")
    for name, value in r.get("ratios", {}).items():
        table.add_row(name, _ms(value))
    for role, res in r.get("resources", {}).items():
        table.add_row(
            f"{role} cpu s / 1000, rss MiB (all of them)",
            f"{_ms(res['cpu_s_per_1000'])}, {_ms(res['rss_mib'])}",
        )
    console.print(table)
    console.print("targets met: " + json.dumps(r.get("targets_met", {})))
