"""Per-container hot-path timings, their summary (socket `status`/`list`) and Prometheus text metrics.

Stages, in milliseconds after the start was detected: `profile` (taken from the local pool), `port`
(pre-wired port taken), `linked` (interface created in the container netns), `addressed` (IP and default
route set), `attached` (vswitch flows installed), `ready` (binding recorded: network ready on this server).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Any

from prewire.measure.stats import summary

STAGES = ("profile", "port", "linked", "addressed", "attached", "ready")


def clock_ms() -> float:
    return time.perf_counter_ns() / 1e6


@dataclass
class Timer:
    """Marks of one wire, relative to `start` (a `clock_ms()` value: when the start was detected)."""

    start: float = field(default_factory=clock_ms)
    detected_unix: float = field(default_factory=time.time)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str) -> None:
        self.marks[stage] = round(clock_ms() - self.start, 4)

    def as_dict(self) -> dict[str, Any]:
        return {"detected_unix": self.detected_unix, **self.marks}


class Timings:
    """Recent hot-path durations and counters of one agent."""

    def __init__(self, keep: int = 100_000) -> None:
        self.hot: collections.deque[float] = collections.deque(maxlen=keep)
        self.counters: collections.Counter[str] = collections.Counter()
        self.total_ms = 0.0

    def wired(self, timer: Timer) -> None:
        ready = timer.marks.get("ready")
        if ready is not None:
            self.hot.append(ready)
            self.total_ms += ready
        self.counters["wires"] += 1

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def summary(self) -> dict[str, float]:
        return summary(self.hot)

    def prometheus(self, gauges: dict[str, float]) -> str:
        """Prometheus text exposition (summary of hot-path ms, counters, gauges)."""
        lines = [
            "# HELP prewire_agent_hot_path_ms start detected -> network ready on this server",
            "# TYPE prewire_agent_hot_path_ms summary",
        ]
        stats = self.summary()
        for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            if stats["count"]:
                lines.append(f'prewire_agent_hot_path_ms{{quantile="{q}"}} {stats[key]:.4f}')
        lines.append(f"prewire_agent_hot_path_ms_sum {self.total_ms:.4f}")
        lines.append(f"prewire_agent_hot_path_ms_count {len(self.hot)}")
        for name, count in sorted(self.counters.items()):
            lines += [f"# TYPE prewire_agent_{name}_total counter", f"prewire_agent_{name}_total {count}"]
        for name, value in sorted(gauges.items()):
            metric, _, label = name.partition("|")
            labels = f'{{network="{label}"}}' if label else ""
            lines.append(f"prewire_agent_{metric}{labels} {value}")
        return "\n".join(lines) + "\n"


async def serve_metrics(port: int, render: Any) -> asyncio.AbstractServer:
    """A minimal HTTP/1.0 `/metrics` endpoint on 127.0.0.1:`port` (render() -> text)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            ok = request.split(b" ")[1:2] in ([b"/metrics"], [b"/"])
            body = render().encode() if ok else b"not found\n"
            status = b"200 OK" if ok else b"404 Not Found"
            writer.write(
                b"HTTP/1.0 "
                + status
                + b"\r\nContent-Type: text/plain; version=0.0.4\r\n"
                + b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)
