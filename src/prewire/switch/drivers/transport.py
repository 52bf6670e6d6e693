"""The small channel vendor drivers speak through: one request (a CLI line or a NETCONF RPC), one reply.

Drivers render their operations into request lists (data) and send them through a `Transport`; tests
replay recorded device transcripts with `ReplayTransport`.  Real channels (SSH CLI, NETCONF) plug in
behind the same interface.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from prewire.errors import InvalidInput, PrewireError, Unavailable


class Transport(Protocol):
    def exchange(self, request: str) -> str:
        """Send one request, return the device's reply; raise Unavailable when unreachable."""

    def close(self) -> None: ...


class TranscriptMismatch(PrewireError):
    """The driver sent something the recorded device transcript did not expect."""


class ReplayTransport:
    """Replays a recorded transcript [{"send": ..., "reply": ...}] and checks every request in order.

    A step may be {"unreachable": true} (the device is down at that point)."""

    def __init__(self, steps: list[Mapping[str, Any]]) -> None:
        self.steps = list(steps)
        self.sent: list[str] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayTransport:
        data = json.loads(Path(path).read_text())
        return cls(data["steps"] if isinstance(data, dict) else data)

    def exchange(self, request: str) -> str:
        self.sent.append(request)
        index = len(self.sent) - 1
        if index >= len(self.steps):
            raise TranscriptMismatch(f"unexpected request #{index + 1}: {request!r}")
        step = self.steps[index]
        if step.get("unreachable"):
            raise Unavailable("recorded device is unreachable; retry later")
        if _normalize(step["send"]) != _normalize(request):
            raise TranscriptMismatch(
                f"request #{index + 1} differs: sent {request!r}, recorded {step['send']!r}"
            )
        return str(step.get("reply", ""))

    def done(self) -> bool:
        return len(self.sent) == len(self.steps)

    def close(self) -> None:
        pass


def _normalize(text: str) -> str:
    return " ".join(text.split())


def open_transport(kind: str, options: Mapping[str, str]) -> Transport:
    """A real channel to the device named by `options`; replay files serve lab and tests."""
    replay = options.get("replay")
    if replay:
        return ReplayTransport.from_file(replay)
    if kind not in ("cli", "netconf"):
        raise InvalidInput(f"unknown transport kind {kind!r}")
    package = "ncclient" if kind == "netconf" else "paramiko"
    raise Unavailable(
        f"no {kind} channel to {options.get('host', '?')}: this build ships the command templates only; "
        f"install {package} and a {kind} transport, or set option 'replay' to a recorded transcript"
    )
