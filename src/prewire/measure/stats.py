"""Percentiles and summaries, no I/O."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Iterable[float]) -> dict[str, float]:
    """count, p50, p95, p99, max and mean of a sample (milliseconds in, milliseconds out)."""
    data = list(values)
    if not data:
        return {
            "count": 0,
            "p50": math.nan,
            "p95": math.nan,
            "p99": math.nan,
            "max": math.nan,
            "mean": math.nan,
        }
    return {
        "count": len(data),
        "p50": percentile(data, 50),
        "p95": percentile(data, 95),
        "p99": percentile(data, 99),
        "max": max(data),
        "mean": statistics.fmean(data),
    }


def median(values: Iterable[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


def ratio(ours: float, theirs: float) -> float:
    """theirs / ours: how many times faster prewire is (>1 means faster)."""
    if ours <= 0 or math.isnan(ours) or math.isnan(theirs):
        return math.nan
    return theirs / ours
