"""Sampled reachability / isolation matrix with real ARP and ICMP from inside the containers.

Tenants may use overlapping subnets, so an ARP request for another tenant's IP may legitimately be
answered by a container of the *same* tenant holding the same address.  The check is therefore on the
answering MAC: a same-tenant pair passes when the peer's own MAC answers (and ICMP gets through); a
cross-tenant pair passes when no MAC of another tenant answers.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

_REPLY = re.compile(r"reply from \S+ \[([0-9a-fA-F:]{17})\]")


@dataclass(frozen=True)
class Endpoint:
    name: str
    tenant: str
    netns: str  # name under /run/netns
    mac: str
    ip: str


@dataclass(frozen=True)
class Probe:
    src: Endpoint
    dst: Endpoint
    same_tenant: bool
    passed: bool
    detail: str


@dataclass(frozen=True)
class Matrix:
    probes: list[Probe]

    @property
    def same_passed(self) -> int:
        return sum(p.passed for p in self.probes if p.same_tenant)

    @property
    def same_total(self) -> int:
        return sum(p.same_tenant for p in self.probes)

    @property
    def cross_passed(self) -> int:
        return sum(p.passed for p in self.probes if not p.same_tenant)

    @property
    def cross_total(self) -> int:
        return sum(not p.same_tenant for p in self.probes)

    @property
    def failed(self) -> list[Probe]:
        return [p for p in self.probes if not p.passed]


def sample_pairs(
    endpoints: Sequence[Endpoint], per_kind: int, seed: int = 7
) -> list[tuple[Endpoint, Endpoint, bool]]:
    """Up to `per_kind` same-tenant and `per_kind` cross-tenant ordered pairs, drawn reproducibly."""
    rng = random.Random(seed)
    same: list[tuple[Endpoint, Endpoint, bool]] = []
    cross: list[tuple[Endpoint, Endpoint, bool]] = []
    if len(endpoints) < 2:
        return []
    attempts = 0
    while (len(same) < per_kind or len(cross) < per_kind) and attempts < per_kind * 50:
        attempts += 1
        a, b = rng.sample(list(endpoints), 2)
        if a.tenant == b.tenant and len(same) < per_kind:
            same.append((a, b, True))
        elif a.tenant != b.tenant and len(cross) < per_kind:
            cross.append((a, b, False))
    return same + cross


def _netns_exec(netns: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def arp_replies(src: Endpoint, ip: str, timeout_s: int = 1) -> set[str]:
    """MACs that answer an ARP request for `ip` sent from `src`'s eth0."""
    busybox = shutil.which("busybox") or "busybox"
    proc = _netns_exec(src.netns, [busybox, "arping", "-c", "2", "-w", str(timeout_s), "-I", "eth0", ip], 10)
    return {m.lower() for m in _REPLY.findall(proc.stdout)}


def ping(src: Endpoint, ip: str, tries: int = 1) -> bool:
    """True as soon as one of `tries` echo requests (1 s wait each) is answered."""
    return any(
        _netns_exec(src.netns, ["ping", "-c", "1", "-W", "1", ip], 10).returncode == 0 for _ in range(tries)
    )


TRIES = 3  # a reachability probe may lose a frame on a loaded userspace datapath: it is retried


def probe(src: Endpoint, dst: Endpoint, same_tenant: bool, foreign_macs: frozenset[str]) -> Probe:
    replies = arp_replies(src, dst.ip)
    if same_tenant:
        for _ in range(TRIES - 1):
            if dst.mac.lower() in replies:
                break
            replies |= arp_replies(src, dst.ip)
        leaked = (
            replies & foreign_macs
        )  # overlapping subnets: another tenant's holder of the IP must not answer
        ok = dst.mac.lower() in replies and not leaked and ping(src, dst.ip, TRIES)
        detail = f"arp replies {sorted(replies)}"
    else:
        for _ in range(TRIES - 1):  # as many chances to leak as a reachable probe gets to answer
            replies |= arp_replies(src, dst.ip)
        leaked = replies & foreign_macs
        ok = not leaked
        detail = f"answered by another tenant: {sorted(leaked)}" if leaked else "no foreign answer"
    return Probe(src, dst, same_tenant, ok, detail)


def check(endpoints: Sequence[Endpoint], per_kind: int = 20, workers: int = 4) -> Matrix:
    """Run the sampled matrix; probes run a few at a time."""
    by_tenant: dict[str, set[str]] = {}
    for ep in endpoints:
        by_tenant.setdefault(ep.tenant, set()).add(ep.mac.lower())
    pairs = sample_pairs(endpoints, per_kind)

    def run(pair: tuple[Endpoint, Endpoint, bool]) -> Probe:
        src, dst, same = pair
        foreign = frozenset(m for t, macs in by_tenant.items() if t != src.tenant for m in macs)
        return probe(src, dst, same, foreign)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Matrix(list(pool.map(run, pairs)))
