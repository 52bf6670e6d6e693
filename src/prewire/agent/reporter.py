"""Asynchronous, batched binding reports to the controller, retried until it takes them.

Never on the hot path: `bound()`/`released()` only queue; a background task sends one
`report_endpoints` per batch and backs off while the controller is down.  Released MACs stay in the
persistent store until reported, so a restart re-sends them; current bindings are re-sent at start
(the report is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prewire.agent.pool import Controller, call
from prewire.agent.state import Store

log = logging.getLogger("prewire.agent.reporter")


class Reporter:
    def __init__(self, store: Store, server: str, controller: Controller | None, batch: int = 500) -> None:
        self.store = store
        self.server = server
        self.controller = controller
        self.batch = batch
        self._bound: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self.failures = 0
        self.sent = 0

    def bound(self, binding: dict[str, Any]) -> None:
        mac = binding["profile"]["mac"]
        self._bound[mac] = {
            "mac": mac,
            "container": binding["container"],
            "ifname": binding["ifname"],
            "port": binding["port"],
        }
        self._wake.set()

    def released(self, mac: str) -> None:
        self._bound.pop(mac, None)
        self._wake.set()

    def resend_all(self) -> None:
        for binding in self.store.bindings.values():
            self.bound(binding)

    def pending(self) -> int:
        return len(self._bound) + len(self.store.released)

    async def flush(self) -> bool:
        """Send one batch; True when everything queued has been taken."""
        if self.controller is None:
            self._bound.clear()
            if self.store.released:
                self.store.log({"op": "reported", "macs": list(self.store.released)})
            return True
        bound = list(self._bound.values())[: self.batch]
        released = list(self.store.released)[: self.batch]
        if not bound and not released:
            return True
        await call(self.controller.report_endpoints, self.server, bound, released)
        for item in bound:
            if self._bound.get(item["mac"]) == item:
                del self._bound[item["mac"]]
        if released:
            self.store.log({"op": "reported", "macs": released})
        self.sent += len(bound) + len(released)
        return not self._bound and not self.store.released

    async def run(self, linger: float = 0.05, max_backoff: float = 5.0) -> None:
        backoff = 0.2
        while True:
            if not self.pending():
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(linger)  # gather a burst into one batch
            try:
                await self.flush()
                backoff = 0.2
            except Exception as exc:  # controller down or failing: retry later, never raise
                self.failures += 1
                log.warning("endpoint report failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
