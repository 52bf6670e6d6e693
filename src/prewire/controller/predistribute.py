"""Step 1 of the seed's sequence: pre-distribute profiles to every registered switch, ahead of demand.

A supervisor thread keeps the controller's pools above their low watermark and runs one worker thread per
switch.  A worker, woken on every change (and every `resync_interval`), diffs what the switch should hold
(every profile that exists) against what it is recorded to hold, removes then loads in batches under the
switch's lock, and records each confirmed batch.  On failure it backs off exponentially and, once the
switch answers again, first reads back `held_profiles()` so that the record matches the switch's truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prewire.controller.service import Controller
from prewire.errors import PrewireError, Unavailable
from prewire.switch.base import SwitchDevice
from prewire.switch.batching import Backoff, chunks, plan
from prewire.switch.locking import SwitchLocks

log = logging.getLogger("prewire.predistribute")
DeviceFactory = Callable[[str, str, Mapping[str, str]], SwitchDevice]


def registry_factory(driver: str, name: str, options: Mapping[str, str]) -> SwitchDevice:
    """Build a device through prewire.switch.registry (imported lazily)."""
    try:
        from prewire.switch.registry import create_device
    except ImportError as exc:
        raise Unavailable(f"switch driver registry unavailable: {exc}") from None
    device: SwitchDevice = create_device(driver, name, options)
    return device


@dataclass(frozen=True)
class SyncResult:
    switch: str
    loaded: int = 0
    removed: int = 0
    resynced: bool = False


class Predistributor:
    """Feeds every switch of a controller; `start()`/`stop()` run it in background threads."""

    def __init__(
        self,
        controller: Controller,
        factory: DeviceFactory = registry_factory,
        batch_size: int = 256,
        resync_interval: float = 30.0,
        backoff: tuple[float, float] = (0.2, 30.0),
        refill: bool = True,
    ) -> None:
        self.ctl = controller
        self.factory = factory
        self.batch_size = batch_size
        self.resync_interval = resync_interval
        self.backoff = backoff
        self.refill = refill
        self.locks = SwitchLocks(controller.store.connect if controller.store.is_postgres else None)
        self._devices: dict[str, tuple[tuple[str, str], SwitchDevice]] = {}
        self._dirty: set[str] = set()  # switches to read back before the next diff
        self._workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._retired: list[threading.Thread] = []  # workers of deleted switches, joined by stop()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        controller.on_change(self.wake)

    # -- one synchronous pass (workers call it; tests call it directly) ---------------------------------
    def _device(self, name: str, driver: str, options: Mapping[str, str]) -> SwitchDevice:
        key = (driver, repr(sorted(options.items())))
        cached = self._devices.get(name)
        if cached and cached[0] == key:
            return cached[1]
        if cached:
            cached[1].close()
        device = self.factory(driver, name, options)
        self._devices[name] = (key, device)
        self._dirty.add(name)
        return device

    def sync_switch(self, name: str, resync: bool = False) -> SyncResult:
        """Bring one switch in line; raises (and marks it unreachable) on failure."""
        record = self.ctl.switch_records().get(name)
        if record is None:
            return SyncResult(name)
        with self.locks.hold(name):
            try:
                dev = self._device(name, *record)
                resynced = resync or name in self._dirty
                if resynced:
                    self.ctl.record_switch(name, loaded=dev.held_profiles(), replace=True)
                    self._dirty.discard(name)
                todo = plan(self.ctl.desired_profiles(), self.ctl.held_by_switch(name))
                for macs in chunks(todo.remove, self.batch_size):
                    dev.remove_profiles(macs)
                    self.ctl.record_switch(name, removed=macs)
                for batch in chunks(todo.load, self.batch_size):
                    dev.load_profiles(batch)
                    self.ctl.record_switch(name, loaded=batch)
            except Exception as exc:
                self._dirty.add(name)
                message = exc.message if isinstance(exc, PrewireError) else f"{type(exc).__name__}: {exc}"
                self.ctl.record_switch(name, state="unreachable", error=message)
                raise
            self.ctl.record_switch(name, state="in_sync")
        return SyncResult(name, len(todo.load), len(todo.remove), resynced)

    def run_once(self) -> list[SyncResult]:
        """Refill pools, then sync every switch once (failures are recorded and skipped)."""
        if self.refill:
            self.ctl.refill()
        out = []
        for name in sorted(self.ctl.switch_records()):
            try:
                out.append(self.sync_switch(name))
            except Exception:
                log.warning("switch %s: sync failed", name, exc_info=True)
        return out

    # -- background operation ------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()
        for _thread, event in list(self._workers.values()):
            event.set()

    def start(self) -> None:
        if self._supervisor is None:
            self._stop.clear()
            self._supervisor = threading.Thread(target=self._supervise, name="pw-predistribute", daemon=True)
            self._supervisor.start()
            self.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            self._supervisor = None
        for thread in [t for t, _event in list(self._workers.values())] + self._retired:
            thread.join(timeout)
        self._workers.clear()
        self._retired.clear()
        for _key, dev in self._devices.values():
            try:
                dev.close()
            except Exception:
                log.debug("closing a switch device failed", exc_info=True)
        self._devices.clear()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.resync_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if self.refill:
                    self.ctl.refill()
                names = set(self.ctl.switch_records())
            except Exception:
                log.warning("pre-distribution supervisor: database error", exc_info=True)
                continue
            for name in names - set(self._workers):
                event = threading.Event()
                thread = threading.Thread(
                    target=self._work, args=(name, event), name=f"pw-sw-{name}", daemon=True
                )
                self._workers[name] = (thread, event)
                thread.start()
            for name in set(self._workers) - names:
                thread, event = self._workers.pop(name)
                event.set()  # the worker sees its switch gone and exits
                self._retired = [t for t in self._retired if t.is_alive()] + [thread]

    def _work(self, name: str, event: threading.Event) -> None:
        backoff = Backoff(*self.backoff)
        last_readback = time.monotonic()
        while not self._stop.is_set():
            try:
                if name not in self.ctl.switch_records():
                    return
                readback = time.monotonic() - last_readback > self.resync_interval  # catches drift
                self.sync_switch(name, resync=readback)
                if readback:
                    last_readback = time.monotonic()
                backoff.reset()
                event.wait(self.resync_interval)
            except Exception as exc:
                log.warning("switch %s: %s (retrying)", name, exc)
                self._stop.wait(backoff.next())
                continue
            event.clear()
            self._stop.wait(0.02)  # coalesce a burst of changes into one batch
