"""`prewire bench`: scale curve, burst, scale-in, peers and resources, measured in one run."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from prewire.bench import peers, resources
from prewire.demo import scenario
from prewire.lab.state import LabState
from prewire.measure import machine, report
from prewire.measure.stats import median, ratio, summary

LEVELS = (10, 100, 500, 1000)
SEED_MS = 200.0
TARGETS = {
    "hot_path_p50_ms": 2.0,
    "hot_path_p99_ms": 10.0,
    "network_ready_p50_ms": 10.0,
    "flatness_p99_ratio": 1.5,
    "burst_1000_s": 3.0,
    "scale_in_1000_s": 2.0,
}


def _pids(st: LabState) -> dict[str, list[int]]:
    return {
        "agent": [s.proc.pid for s in st.servers if s.proc],
        "switch_agent": [w.proc.pid for w in st.switches if w.proc],
    }


def _probe(st: LabState, networks: list[str], level: int, probes: int) -> dict[str, Any]:
    """With `level` containers present, start `probes` more one at a time; their timings, then remove them."""
    wanted = scenario.plan(probes, st, networks, prefix=f"p{level}x")
    samples: list[scenario.Started] = []
    for item in wanted:
        started, _ = scenario.burst(st, [item])
        samples += started
    scenario.release(st, samples)
    hot = summary(s.hot_path_ms for s in samples if not math.isnan(s.hot_path_ms))
    ready = summary(s.ready_ms for s in samples if not math.isnan(s.ready_ms))
    return {
        "present": level,
        "hot_path": hot,
        "network_ready": ready,
        "errors": sum(1 for s in samples if s.error),
        "hot_path_ms_all": [s.hot_path_ms for s in samples],
        "network_ready_ms_all": [s.ready_ms for s in samples],
    }


def run(
    containers: int = 1000,
    servers: int = 4,
    switches: int = 1,
    repeat: int = 3,
    probes: int = 20,
    json_out: str | None = None,
    png: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": machine.describe(),
        "config": {
            "containers": containers,
            "servers": servers,
            "switches": switches,
            "repeat": repeat,
            "probes": probes,
        },
        "targets": TARGETS,
        "seed_reference_ms": SEED_MS,
    }
    levels = sorted({lv for lv in LEVELS if lv < containers} | {containers})
    st = scenario.lab_up(servers, switches, say=lambda m: say(f"  {m}"))
    all_samples: list[scenario.Started] = []
    curve: list[dict[str, Any]] = []
    try:
        networks = scenario.create_networks(st)
        per_server = math.ceil((containers + probes) / (servers * len(networks))) + 8
        result["predistribute_s"] = scenario.predistribute(st, networks, per_server)
        # Scale curve: grow the population to each level, probe it.
        present: list[scenario.Started] = []
        for level in levels:
            grow = scenario.plan(level, st, networks, prefix="bg")[len(present) :]
            started, _ = scenario.burst(st, grow)
            present += started
            say(f"scale curve: {level} present")
            curve.append(_probe(st, networks, level, probes))
        result["scale_curve"] = curve
        p99s = [c["hot_path"]["p99"] for c in curve]
        result["flatness_p99_ratio"] = ratio(p99s[0], p99s[-1]) if p99s else math.nan
        scenario.release(st, present)
        # Burst and scale-in, repeated.
        runs: list[dict[str, Any]] = []
        for i in range(repeat):
            before = resources.sample(_pids(st))
            t0 = time.perf_counter()
            # staged: the runtime creates every container first, then all of them start at once
            started, burst_s = scenario.burst(
                st, scenario.plan(containers, st, networks, prefix=f"b{i}x"), staged=True
            )
            with_runtime_s = time.perf_counter() - t0
            after = resources.sample(_pids(st))
            release_s = scenario.release(st, started, staged=True)
            leaks = scenario.leaks(st)
            all_samples += started
            runs.append(
                {
                    "burst_s": burst_s,
                    "with_runtime_s": with_runtime_s,
                    "rate_per_s": containers / burst_s if burst_s > 0 else math.nan,
                    "scale_in_s": release_s,
                    "errors": sum(1 for s in started if s.error),
                    "leaks": leaks,
                    "cpu_s": {k: after[k]["cpu_s"] - before[k]["cpu_s"] for k in after},
                    "rss_mib": {k: after[k]["rss_mib"] for k in after},
                }
            )
            say(f"burst {i + 1}/{repeat}: {containers} in {burst_s:.2f} s, released in {release_s:.2f} s")
        result["burst"] = {
            "containers": containers,
            "runs": runs,
            "duration_s": median(r["burst_s"] for r in runs),
            "with_runtime_s": median(r["with_runtime_s"] for r in runs),
            "rate_per_s": median(r["rate_per_s"] for r in runs),
            "hot_path": summary(s.hot_path_ms for s in all_samples if not math.isnan(s.hot_path_ms)),
            "network_ready": summary(s.ready_ms for s in all_samples if not math.isnan(s.ready_ms)),
        }
        result["scale_in"] = {
            "containers": containers,
            "duration_s": median(r["scale_in_s"] for r in runs),
            "leaks": runs[-1]["leaks"] if runs else {},
        }
        per_k = 1000.0 / containers
        result["resources"] = (
            {
                role: {
                    "cpu_s_per_1000": median(r["cpu_s"][role] for r in runs) * per_k,
                    "rss_mib": max(r["rss_mib"][role] for r in runs),
                }
                for role in ("agent", "switch_agent")
            }
            if runs
            else {}
        )
        # the peers, on the same machine in the same run; prewire's CNI path needs the lab's agents
        targets = [
            (net, server.socket) for _n, net, server in scenario.plan(min(containers, 100), st, networks)
        ]
        result["peers"] = _peers(
            len(targets),
            repeat,
            {
                "cni_bridge": peers.bridge_plugin,
                "ovs_vsctl": peers.ovs_vsctl_script,
                "prewire_cni": lambda _count: peers.prewire_cni(targets),
            },
        )
    finally:
        scenario.lab_down()
    result["leftovers"] = scenario.leftovers()
    result["ratios"] = _ratios(result)
    result["targets_met"] = _targets_met(result)
    if json_out:
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, default=str)
    if png:
        report.render(
            png,
            f"prewire bench: {containers} containers on {servers} servers",
            {
                "prewire hot path, one at a time": [v for c in curve for v in c["hot_path_ms_all"]],
                "prewire network ready, one at a time": [v for c in curve for v in c["network_ready_ms_all"]],
                f"prewire network ready in a {containers}-start burst (queued)": [
                    s.ready_ms for s in all_samples
                ],
                "prewire CNI ADD (plugin process + agent)": result["peers"]["prewire_cni"]["add_ms_all"],
                "CNI bridge ADD": result["peers"]["cni_bridge"]["add_ms_all"],
                "ovs-vsctl add-port": result["peers"]["ovs_vsctl"]["add_ms_all"],
            },
            [],
            {n: v for n, v in _medians(result).items() if "DEL" not in n and not math.isnan(v)},
        )
    return result


def _peers(count: int, repeat: int, runners: dict[str, Callable[[int], peers.PeerResult]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, fn in runners.items():
        adds: list[float] = []
        dels: list[float] = []
        errors = []
        for _ in range(repeat):
            r = fn(count)
            adds += r.add_ms
            dels += r.del_ms
            if r.error:
                errors.append(r.error)
        out[key] = {
            "count": count,
            "add": summary(adds),
            "del": summary(dels),
            "errors": errors,
            "add_ms_all": adds,
            "del_ms_all": dels,
        }
    return out


def _probe_figure(result: dict[str, Any], series: str, key: str, worst: bool = False) -> float:
    """A per-container figure from the scale curve (containers started one at a time, so the figure is
    a container's own latency, not a queue): the median over the levels, or the worst level."""
    values = [c[series][key] for c in result.get("scale_curve", []) if not math.isnan(c[series][key])]
    if not values:
        return math.nan
    return max(values) if worst else median(values)


def _medians(result: dict[str, Any]) -> dict[str, float]:
    return {
        "prewire hot path p50": _probe_figure(result, "hot_path", "p50"),
        "prewire network ready p50": _probe_figure(result, "network_ready", "p50"),
        "prewire CNI ADD p50": result["peers"]["prewire_cni"]["add"]["p50"],
        "prewire CNI DEL p50": result["peers"]["prewire_cni"]["del"]["p50"],
        "CNI bridge ADD p50": result["peers"]["cni_bridge"]["add"]["p50"],
        "CNI bridge DEL p50": result["peers"]["cni_bridge"]["del"]["p50"],
        "ovs-vsctl add-port p50": result["peers"]["ovs_vsctl"]["add"]["p50"],
    }


def _ratios(result: dict[str, Any]) -> dict[str, float]:
    m = _medians(result)
    ours = m["prewire hot path p50"]
    return {
        "cni_bridge_add_over_prewire": ratio(ours, m["CNI bridge ADD p50"]),
        "ovs_vsctl_over_prewire": ratio(ours, m["ovs-vsctl add-port p50"]),
        "seed_200ms_over_prewire_ready": ratio(m["prewire network ready p50"], SEED_MS),
        "cni_bridge_add_over_prewire_cni_add": ratio(m["prewire CNI ADD p50"], m["CNI bridge ADD p50"]),
        "cni_bridge_del_over_prewire_cni_del": ratio(m["prewire CNI DEL p50"], m["CNI bridge DEL p50"]),
        "ovs_vsctl_over_prewire_cni_add": ratio(m["prewire CNI ADD p50"], m["ovs-vsctl add-port p50"]),
    }


def _targets_met(result: dict[str, Any]) -> dict[str, bool]:
    burst = result.get("burst", {})
    n = result["config"]["containers"]
    return {
        "hot_path_p50": _probe_figure(result, "hot_path", "p50") <= TARGETS["hot_path_p50_ms"],
        "hot_path_p99": _probe_figure(result, "hot_path", "p99", worst=True) <= TARGETS["hot_path_p99_ms"],
        "network_ready_p50": _probe_figure(result, "network_ready", "p50") <= TARGETS["network_ready_p50_ms"],
        "flat_scale_curve": result.get("flatness_p99_ratio", math.inf) <= TARGETS["flatness_p99_ratio"],
        "burst_1000": burst.get("duration_s", math.inf) * 1000 / max(n, 1) <= TARGETS["burst_1000_s"],
        "scale_in_1000": result.get("scale_in", {}).get("duration_s", math.inf) * 1000 / max(n, 1)
        <= TARGETS["scale_in_1000_s"],
        # CNI ADD no slower than the reference bridge plugin (both p50, same run)
        "cni_add_vs_bridge": result["ratios"].get("cni_bridge_add_over_prewire_cni_add", 0.0) >= 1.0,
    }
