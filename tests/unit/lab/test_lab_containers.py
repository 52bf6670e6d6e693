"""Lab container bookkeeping without a kernel: records, placement, argument checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prewire.errors import Conflict, InvalidInput, NotFound, Unavailable
from prewire.lab import containers
from prewire.lab.state import LabState, ServerState


def _lab(tmp_path: Path, servers: int = 3) -> LabState:
    st = LabState(lab_dir=str(tmp_path))
    for s in range(servers):
        runtime = tmp_path / f"srv{s}" / "runtime"
        runtime.mkdir(parents=True)
        st.servers.append(
            ServerState(
                f"srv{s}",
                s,
                f"pwsrv{s}",
                f"pwu{s}s",
                "tor0",
                f"pwu{s}t",
                f"pwpool{s}",
                str(tmp_path / f"srv{s}"),
                str(runtime),
            )
        )
    return st


def _record(st: LabState, server: int, name: str) -> None:
    path = Path(st.servers[server].runtime_dir) / f"{name}.json"
    path.write_text(json.dumps({"name": name, "network": "t/n", "netns": f"pwct-{name}", "pid": 1}))


def test_least_loaded_server_is_chosen_lowest_index_first(tmp_path: Path) -> None:
    st = _lab(tmp_path)
    assert containers.place(st).name == "srv0"
    _record(st, 0, "a")
    assert containers.place(st).name == "srv1"
    _record(st, 1, "b")
    _record(st, 2, "c")
    _record(st, 2, "d")
    assert containers.place(st).name == "srv0"


def test_records_and_find(tmp_path: Path) -> None:
    st = _lab(tmp_path)
    _record(st, 1, "web")
    (Path(st.servers[1].runtime_dir) / "broken.json").write_text("{")
    assert list(containers.records(st.servers[1])) == ["web"]
    assert containers.find(st, "web").name == "srv1"
    with pytest.raises(NotFound, match="container list"):
        containers.find(st, "nope")


@pytest.mark.parametrize(
    "name,network,runtime,error",
    [
        ("Bad Name", "t/n", "netns", InvalidInput),
        ("ok", "tn", "netns", InvalidInput),
        ("ok", "t/", "netns", InvalidInput),
        ("ok", "t/n", "lxc", InvalidInput),
        ("ok", "t/n", "podman", Unavailable),
    ],
)
def test_bad_arguments_are_rejected_before_anything_is_made(
    tmp_path: Path, name: str, network: str, runtime: str, error: type[Exception]
) -> None:
    st = _lab(tmp_path)
    with pytest.raises(error):
        containers.run(st, name, network, runtime=runtime)
    assert all(not containers.records(s) for s in st.servers)


def test_a_name_in_use_is_a_conflict(tmp_path: Path) -> None:
    st = _lab(tmp_path)
    _record(st, 2, "web")
    with pytest.raises(Conflict, match="srv2"):
        containers.run(st, "web", "t/n")


def test_unknown_server_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="srv0, srv1"):
        containers.run(_lab(tmp_path, 2), "web", "t/n", server="srv7")
