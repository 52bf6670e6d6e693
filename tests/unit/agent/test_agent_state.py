"""The agent's journal + snapshot store: replay, idempotency, compaction, torn lines."""

from __future__ import annotations

from pathlib import Path

from prewire.agent.state import Store, binding_key


def profile(i: int, network: str = "t/n") -> dict[str, object]:
    return {
        "mac": f"02:00:00:00:00:{i:02x}",
        "ip": f"10.0.0.{i}",
        "prefix": 24,
        "gateway": "10.0.0.254",
        "vlan": 100,
        "network": network,
    }


def bind(store: Store, container: str, i: int) -> None:
    binding = {
        "network": "t/n",
        "container": container,
        "ifname": "eth0",
        "netns": "x",
        "netns_id": [1, 2],
        "source": "netns",
        "profile": profile(i),
        "port": f"p{i}",
        "ofport": i,
        "state": "wiring",
    }
    store.log({"op": "bind", "key": binding_key(container, "eth0"), "binding": binding})


def test_replay_after_crash_keeps_bindings_and_pool(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    store.log({"op": "add", "profiles": [profile(i) for i in range(1, 5)]})
    bind(store, "a", 1)
    bind(store, "b", 2)
    store.log({"op": "update", "key": "a/eth0", "fields": {"state": "ready"}})
    store.log({"op": "unbind", "key": "b/eth0"})
    # no close / compact: as after kill -9
    again = Store(str(tmp_path))
    assert list(again.bindings) == ["a/eth0"] and again.bindings["a/eth0"]["state"] == "ready"
    assert list(again.free["t/n"]) == [profile(i)["mac"] for i in (3, 4, 2)]  # released goes to the tail
    assert list(again.released) == [profile(2)["mac"]]


def test_add_never_frees_a_bound_profile(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    store.log({"op": "add", "profiles": [profile(1)]})
    bind(store, "a", 1)
    store.log({"op": "add", "profiles": [profile(1)]})  # a refill or re-seed repeating the MAC
    assert store.free_count("t/n") == 0 and store.bound_macs() == {profile(1)["mac"]: "a/eth0"}


def test_compaction_then_replay_is_idempotent(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    store.log({"op": "add", "profiles": [profile(i) for i in range(1, 4)]})
    bind(store, "a", 1)
    store.compact()
    assert store.journal_lines == 0
    store.log({"op": "unbind", "key": "a/eth0", "report": False})
    store.log({"op": "reported", "macs": []})
    snapshot = store.dump()
    # crash between snapshot write and journal truncate: snapshot already holds the journal's effect
    (tmp_path / "state.json").write_text(snapshot)
    again = Store(str(tmp_path))
    assert again.dump() == snapshot


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    store.log({"op": "add", "profiles": [profile(1)]})
    store.close()
    with open(tmp_path / "journal.jsonl", "a") as fh:
        fh.write('{"op":"bind","key":')
    assert Store(str(tmp_path)).free_count("t/n") == 1


def test_drop_and_reported(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    store.log({"op": "add", "profiles": [profile(1), profile(2)]})
    bind(store, "a", 1)
    store.log({"op": "unbind", "key": "a/eth0"})
    store.log({"op": "drop", "macs": [profile(2)["mac"]]})
    store.log({"op": "reported", "macs": [profile(1)["mac"]]})
    assert list(store.free["t/n"]) == [profile(1)["mac"]] and not store.released
