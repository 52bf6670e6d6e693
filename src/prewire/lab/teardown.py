"""`down()`: remove the lab described by the state file, processes by PID, leaving nothing behind.

Order: lab Docker containers, agents (so nothing re-wires while the rest goes away), netns containers
(keepers by PID), switch agents and controller, pool netns, bridges (one OVSDB transaction), then every
veth the lab or its agents made.  Each step runs even if an earlier one failed; failures are reported
together at the end and the state file is kept for another try.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prewire.errors import PrewireError
from prewire.lab import containers, kernel, procs
from prewire.lab import state as labstate
from prewire.lab.state import LabState
from prewire.ovs import Ovsdb


def down(lab_dir: Path | None = None) -> bool:
    """Remove the lab described by the state file; False when there was none."""
    lab_dir = lab_dir or labstate.LAB_DIR
    with labstate.locked(lab_dir):
        return down_locked(lab_dir)


def down_locked(lab_dir: Path) -> bool:
    """`down` for a caller that holds the lab lock already (a failing `lab up`)."""
    st = labstate.load(lab_dir)
    if st is None:
        if lab_dir.exists():
            shutil.rmtree(lab_dir, ignore_errors=True)
        return False
    errors: list[str] = []

    def attempt(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except (PrewireError, OSError) as exc:
            errors.append(f"{what}: {exc}")

    attempt("docker containers", containers.remove_docker)
    attempt("stop agents", partial(procs.stop_all, [s.proc for s in st.servers if s.proc is not None]))
    for srv in st.servers:
        attempt(f"containers of {srv.name}", partial(containers.remove_all, srv))
    others = [w.proc for w in st.switches if w.proc is not None] + ([st.controller] if st.controller else [])
    attempt("stop switch agents and controller", partial(procs.stop_all, others))
    attempt("network namespaces", partial(_remove_netns, st))
    attempt("bridges", partial(_remove_bridges, st))
    attempt("links", partial(_remove_links, st))
    if errors:
        st.save()
        raise PrewireError(
            f"lab down incomplete ({'; '.join(errors)}); run python -m prewire.lab.sweep --force"
        )
    shutil.rmtree(lab_dir, ignore_errors=True)
    return True


def _remove_netns(st: LabState) -> None:
    for server in st.servers:
        kernel.remove_netns(server.pool_netns)


def _remove_bridges(st: LabState) -> None:
    if st.bridges:
        Ovsdb().del_bridges(st.bridges)


def _remove_links(st: LabState) -> None:
    prefixes = tuple(st.veths)
    for server in st.servers:
        prefixes += (f"pwh{server.index}x", f"pwc{server.index}x")
    for name in kernel.list_links():
        if name.startswith(prefixes):
            kernel.delete_link(name)
