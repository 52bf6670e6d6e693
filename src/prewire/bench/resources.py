"""RSS and CPU seconds of the lab's daemons, read from /proc."""

from __future__ import annotations

import os


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (and its reaped children) in seconds; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def sample(pids: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """{role: {cpu_s, rss_mib}} summed over the role's processes."""
    return {
        role: {"cpu_s": sum(cpu_seconds(p) for p in ps), "rss_mib": sum(rss_mib(p) for p in ps)}
        for role, ps in pids.items()
    }
