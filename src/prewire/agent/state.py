"""Crash-safe agent state: a JSON snapshot plus an append-only journal.

Every change is one `os.write` of a JSON line to `journal.jsonl` (no fsync: a `kill -9` of the agent loses
nothing the kernel page cache holds); `compact()` writes `state.json` atomically (tmp + rename) and
truncates the journal.  Replaying the journal over the snapshot is idempotent, so a crash between the two
steps of `compact()` is harmless.

Data: `free` {network: {mac: profile}} (insertion order = FIFO), `bindings` {"container/ifname": binding},
`released` [mac] (released locally, not yet reported to the controller).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

Profile = dict[str, Any]
Binding = dict[str, Any]


def binding_key(container: str, ifname: str) -> str:
    return f"{container}/{ifname}"


class Store:
    """The agent's persistent book-keeping (profiles held, bindings, unreported releases)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.snapshot_path = os.path.join(state_dir, "state.json")
        self.journal_path = os.path.join(state_dir, "journal.jsonl")
        self.free: dict[str, dict[str, Profile]] = {}
        self.bindings: dict[str, Binding] = {}
        self.released: dict[str, None] = {}
        self.journal_lines = 0
        self._load()
        self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    # -- persistence ------------------------------------------------------------------------------------
    def _load(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            with open(self.snapshot_path) as fh:
                data = json.load(fh)
            self.free = {net: dict(profiles) for net, profiles in data.get("free", {}).items()}
            self.bindings = dict(data.get("bindings", {}))
            self.released = dict.fromkeys(data.get("released", []))
        with contextlib.suppress(FileNotFoundError), open(self.journal_path) as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash
                self._apply(record)

    def log(self, record: dict[str, Any]) -> None:
        """Apply `record` in memory and append it to the journal."""
        self._apply(record)
        os.write(self._fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.journal_lines += 1

    def dump(self) -> str:
        return json.dumps(
            {"free": self.free, "bindings": self.bindings, "released": list(self.released)},
            separators=(",", ":"),
        )

    def compact(self, text: str | None = None) -> None:
        """Write the snapshot atomically, then truncate the journal."""
        text = self.dump() if text is None else text
        tmp = self.snapshot_path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)  # no fsync: survives kill -9 (page cache), keeps the loop fast
        os.rename(tmp, self.snapshot_path)
        os.ftruncate(self._fd, 0)
        self.journal_lines = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    # -- the records ------------------------------------------------------------------------------------
    def _apply(self, record: dict[str, Any]) -> None:
        op = record.get("op")
        if op == "add":
            bound = {b["profile"]["mac"] for b in self.bindings.values()}
            for profile in record["profiles"]:
                if profile["mac"] not in bound:
                    self.free.setdefault(profile["network"], {})[profile["mac"]] = profile
        elif op == "bind":
            binding = record["binding"]
            profile = binding["profile"]
            self.free.get(profile["network"], {}).pop(profile["mac"], None)
            self.bindings[record["key"]] = binding
        elif op == "update":
            if record["key"] in self.bindings:
                self.bindings[record["key"]].update(record["fields"])
        elif op == "unbind":
            old = self.bindings.pop(record["key"], None)
            if old is not None:
                profile = old["profile"]
                self.free.setdefault(profile["network"], {})[profile["mac"]] = profile
                if record.get("report", True):
                    self.released[profile["mac"]] = None
        elif op == "drop":
            macs = set(record["macs"])
            for profiles in self.free.values():
                for mac in macs & profiles.keys():
                    del profiles[mac]
        elif op == "reported":
            for mac in record["macs"]:
                self.released.pop(mac, None)

    # -- queries ----------------------------------------------------------------------------------------
    def free_count(self, network: str) -> int:
        return len(self.free.get(network, {}))

    def bound_macs(self) -> dict[str, str]:
        return {b["profile"]["mac"]: key for key, b in self.bindings.items()}
