"""`prewire demo`: build the lab, two tenants on the same subnet, a burst of containers, checks, report."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from prewire.demo import isolation, scenario
from prewire.measure import report
from prewire.measure.stats import summary


@dataclass
class DemoResult:
    containers: int
    servers: int
    wired: int = 0
    failed: list[str] = field(default_factory=list)
    hot_path: dict[str, float] = field(default_factory=dict)
    network_ready: dict[str, float] = field(default_factory=dict)
    predistribute_s: float = math.nan
    burst_s: float = math.nan
    release_s: float = math.nan
    same_tenant: tuple[int, int] = (0, 0)
    cross_tenant: tuple[int, int] = (0, 0)
    leaks: dict[str, int] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)
    timeline: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.wired == self.containers
            and not self.failed
            and self.same_tenant[0] == self.same_tenant[1]
            and self.cross_tenant[0] == self.cross_tenant[1]
            and not any(self.leaks.values())
            and not self.leftovers
        )


def _bar(console: Console, label: str, total: int) -> Progress:
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    progress.add_task(label, total=total)
    return progress


def _timeline(
    s: scenario.Started, predistributed_unix: float, stop_unix: float, released_unix: float
) -> list[tuple[str, float]]:
    """One container's life in the seed's steps, ms relative to its start being detected."""
    t = s.timings
    detected = float(t.get("detected_unix", math.nan))
    steps = [("pre-distributed", (predistributed_unix - detected) * 1000.0), ("start detected", 0.0)]
    if "attached" in t:
        steps.append(("vswitch VLAN set", float(t["attached"])))
    if not math.isnan(s.ready_ms):
        steps.append(("switch applies profile (first frame)", s.ready_ms))
    if "ready" in t:
        steps.append(("network ready on server", float(t["ready"])))
    steps.append(("stop detected", (stop_unix - detected) * 1000.0))
    steps.append(("released", (released_unix - detected) * 1000.0))
    return sorted(steps, key=lambda x: x[1])


def run(
    containers: int = 200,
    servers: int = 4,
    switches: int = 1,
    png: str = "prewire-demo.png",
    json_out: str | None = None,
    console: Console | None = None,
) -> DemoResult:
    console = console or Console()
    result = DemoResult(containers, servers)
    say = lambda msg: console.print(f"[dim]{msg}[/dim]")  # noqa: E731
    console.rule("prewire demo")
    started: list[scenario.Started] = []
    st = scenario.lab_up(servers, switches, say=say)
    try:
        networks = scenario.create_networks(st)
        console.print(
            f"tenants: {', '.join(networks)} (same subnet {scenario.TENANTS[0][2]}, isolated by VLAN)"
        )
        per_server = math.ceil(containers / (servers * len(networks))) + 4
        result.predistribute_s = scenario.predistribute(st, networks, per_server)
        predistributed_unix = time.time()
        console.print(
            f"pre-distributed {per_server} profiles per network to each server's pool and the switch "
            f"in {result.predistribute_s:.2f} s"
        )
        wanted = scenario.plan(containers, st, networks)
        with _bar(console, "burst", containers) as bar:
            started, result.burst_s = scenario.burst(
                st, wanted, lambda n: bar.update(bar.task_ids[0], completed=n)
            )
        result.wired = sum(1 for s in started if not s.error)
        result.failed = [f"{s.name}: {s.error}" for s in started if s.error]
        result.hot_path = summary(s.hot_path_ms for s in started if not math.isnan(s.hot_path_ms))
        result.network_ready = summary(s.ready_ms for s in started if not math.isnan(s.ready_ms))
        endpoints = [
            isolation.Endpoint(s.name, s.tenant, s.netns, s.mac, s.ip) for s in started if not s.error
        ]
        matrix = isolation.check(endpoints, per_kind=min(40, max(4, containers // 5)))
        result.same_tenant = (matrix.same_passed, matrix.same_total)
        result.cross_tenant = (matrix.cross_passed, matrix.cross_total)
        for probe in matrix.failed[:5]:
            console.print(f"[red]check failed[/red] {probe.src.name} -> {probe.dst.name}: {probe.detail}")
        stop_unix = time.time()
        with _bar(console, "release", containers) as bar:
            result.release_s = scenario.release(
                st, started, lambda n: bar.update(bar.task_ids[0], completed=n)
            )
        released_unix = time.time()
        result.leaks = scenario.leaks(st)
        first = next((s for s in started if not s.error), None)
        if first is not None:
            result.timeline = _timeline(first, predistributed_unix, stop_unix, released_unix)
    finally:
        scenario.lab_down()
        result.leftovers = scenario.leftovers()
    report.render(
        png,
        f"prewire demo: {containers} containers on {servers} servers",
        {
            "hot path (start detected -> wired)": [s.hot_path_ms for s in started],
            "network ready (-> switch admitted)": [s.ready_ms for s in started],
        },
        result.timeline,
    )
    _print_summary(console, result, png)
    if json_out:
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump({**asdict(result), "ok": result.ok}, fh, indent=2, default=str)
    return result


def _fmt(stats: dict[str, float], key: str) -> str:
    value = stats.get(key, math.nan)
    return "-" if value is None or math.isnan(value) else f"{value:.2f} ms"


def _print_summary(console: Console, r: DemoResult, png: str) -> None:
    table = Table(title="prewire demo summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("containers wired", f"{r.wired}/{r.containers} on {r.servers} servers")
    for label, stats in (("hot path", r.hot_path), ("network ready", r.network_ready)):
        for key in ("p50", "p95", "p99", "max"):
            table.add_row(f"{label} {key}", _fmt(stats, key))
    table.add_row("burst duration", f"{r.burst_s:.2f} s")
    table.add_row("release duration", f"{r.release_s:.2f} s")
    table.add_row("same-tenant checks passed", f"{r.same_tenant[0]}/{r.same_tenant[1]}")
    table.add_row("cross-tenant isolation checks passed", f"{r.cross_tenant[0]}/{r.cross_tenant[1]}")
    table.add_row("leaks found", str(sum(v for v in r.leaks.values() if v > 0) + len(r.leftovers)))
    table.add_row("report", png)
    console.print(table)
    for line in r.failed[:5]:
        console.print(f"[red]failed[/red] {line}")
    if r.leftovers:
        console.print(f"[red]left behind[/red] {' '.join(r.leftovers[:20])}")
    console.print("[green]all checks passed[/green]" if r.ok else "[red]some checks failed[/red]")


def result_dict(r: DemoResult) -> dict[str, Any]:
    return {**asdict(r), "ok": r.ok}
