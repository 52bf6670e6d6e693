"""`python -m prewire.lab.sweep [--all] [--force] [--dry-run]`: remove a stale lab.

A stale lab is what is left when its processes died (crash, killed test run): Docker containers labelled
`prewire.lab=1`, netns `pwct-*` / `pwpool*` (with their keepers), `pw*` veths, `pwtor*` / `pwsrv*` /
`pwspine` bridges and the state files.  Objects named `pwx...` belong to
other tests and are left alone unless --all is given.  A lab whose processes still run is left alone
unless --force is given (then it is taken down, processes by PID).  Safe to run when nothing exists.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prewire.errors import PrewireError
from prewire.lab import dockerrt, kernel, procs, teardown, topology
from prewire.lab import state as labstate

BRIDGE_PREFIXES = ("pwtor", "pwsrv", "pwspine")
NETNS_PREFIXES = (topology.CONTAINER_NETNS_PREFIX, topology.POOL_NETNS_PREFIX)


def _ours(name: str, prefixes: tuple[str, ...], include_tests: bool) -> bool:
    if include_tests and name.startswith("pwx"):
        return True
    return topology.is_lab_name(name) and name.startswith(prefixes)


def _netns_pids(netns: str) -> list[int]:
    """PIDs whose network namespace is `netns` (the keepers of a stale container)."""
    try:
        inode = os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/net").st_ino == inode and int(entry) != os.getpid():
                    found.append(int(entry))
    return found


def live_processes(lab_dir: Path) -> list[int]:
    try:
        st = labstate.load(lab_dir)
    except PrewireError:
        return []
    return [p.pid for p in st.procs() if procs.alive(p)] if st else []


def sweep(
    lab_dir: Path, include_tests: bool = False, dry_run: bool = False, say: Callable[[str], None] = print
) -> int:
    """Remove stale lab objects; returns how many were removed (or would be, with dry_run)."""
    count = 0

    def act(what: str, action: Callable[[], object]) -> None:
        nonlocal count
        count += 1
        say(f"{'would remove' if dry_run else 'removing'} {what}")
        if not dry_run:
            try:
                action()
            except (PrewireError, OSError) as exc:
                say(f"  failed: {exc}")

    with contextlib.suppress(PrewireError, OSError, ValueError):
        if dockerrt.available():
            for name, row in dockerrt.lab_containers().items():
                act(f"docker container {name}", partial(dockerrt.remove, row["id"]))
    with contextlib.suppress(OSError):
        for netns in kernel.list_netns():
            if _ours(netns, NETNS_PREFIXES, include_tests):
                if netns.startswith(topology.CONTAINER_NETNS_PREFIX) and not dry_run:
                    for pid in _netns_pids(netns):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                act(f"netns {netns}", partial(kernel.remove_netns, netns))
    try:
        from prewire.ovs import Ovsdb

        ovsdb = Ovsdb()
        bridges = [b for b in ovsdb.list_bridges() if _ours(b, BRIDGE_PREFIXES, include_tests)]
        if bridges:
            act(f"bridge(s) {' '.join(bridges)}", partial(ovsdb.del_bridges, bridges))
    except PrewireError as exc:
        say(f"OVS not reachable, bridges left alone: {exc.message}")
    for name, kind in kernel.list_links().items():
        if kind == "veth" and _ours(name, ("pw",), include_tests):
            act(f"link {name}", partial(kernel.delete_link, name))
    if lab_dir.exists():
        act(f"state {lab_dir}", partial(shutil.rmtree, lab_dir))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prewire.lab.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also remove pwx* test objects")
    parser.add_argument("--force", action="store_true", help="take down a lab whose processes still run")
    parser.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    parser.add_argument("--lab-dir", type=Path, default=labstate.LAB_DIR)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("sweep: needs root (network namespaces, links, OVS); nothing done", file=sys.stderr)
        return 1
    with labstate.locked(args.lab_dir):
        live = sorted(set(live_processes(args.lab_dir)) | set(live_processes(labstate.LAB_DIR)))
        if live:
            if not args.force:
                print(
                    f"sweep: the lab is running (pids {live}); use `prewire lab down` or --force",
                    file=sys.stderr,
                )
                return 1
            if not args.dry_run:
                with contextlib.suppress(PrewireError):
                    teardown.down_locked(args.lab_dir)
        count = sweep(args.lab_dir, include_tests=args.all, dry_run=args.dry_run)
    print(f"sweep: {'nothing to remove' if count == 0 else f'{count} object(s)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
