"""PNG reports: latency distributions and the timeline of one container's life in the seed's steps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

SEED_REFERENCE_MS = 200.0  # the published 2015 system: virtual + physical switch configuration


def render(
    path: str,
    title: str,
    latencies: Mapping[str, Sequence[float]],
    timeline: Sequence[tuple[str, float]],
    bars: Mapping[str, float] | None = None,
) -> None:
    """Write a PNG: empirical CDFs of `latencies` (ms), the step timeline (ms offsets from the first step)
    and, optionally, a bar chart of medians (`bars`, ms) against the seed's 200 ms reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + bool(timeline) + bool(bars)
    fig, axes_ = plt.subplots(1, panels, figsize=(6.5 * panels, 4.8), squeeze=False)
    axes = list(axes_[0])
    ax = axes[0]
    for name, values in latencies.items():
        data = sorted(v for v in values if not math.isnan(v))
        if not data:
            continue
        ys = [(i + 1) / len(data) for i in range(len(data))]
        ax.step(data, ys, where="post", label=f"{name} (n={len(data)})")
    ax.axvline(SEED_REFERENCE_MS, color="grey", linestyle="--", label="seed 2015: 200 ms")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log)")
    ax.set_ylabel("fraction of containers")
    ax.set_title("latency distribution")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)

    if timeline:
        ax = axes[1]
        names = [step for step, _ in timeline]
        offsets = [ms for _, ms in timeline]
        ax.plot(offsets, range(len(names)), marker="o")
        for i, (name, ms) in enumerate(timeline):
            ax.annotate(
                f"{name}  {ms:.2f} ms", (ms, i), textcoords="offset points", xytext=(6, -3), fontsize=8
            )
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([])
        ax.invert_yaxis()
        ax.set_xlabel("ms since its start was detected (symlog)")
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(left=min(0.0, *offsets), right=max(offsets) * 3 + 1)
        ax.set_title("one container, the seed's steps")
        ax.grid(True, alpha=0.3)

    if bars:
        ax = axes[-1]
        names = list(bars)
        ax.barh(names, [bars[n] for n in names])
        ax.axvline(SEED_REFERENCE_MS, color="grey", linestyle="--", label="seed 2015: 200 ms")
        ax.set_xscale("log")
        ax.set_xlabel("median ms (log)")
        ax.set_title("side by side")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
