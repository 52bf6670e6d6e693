"""The local pool of profiles (MAC, IP, VLAN) pre-distributed to this server by the controller.

`take()` is the hot-path half: pop the oldest free profile of the network from memory.  Below the low
watermark a background refill asks the controller for more (batched).  Only when a network has no free
profile at all does a take wait for the controller, and if the controller cannot be reached it fails with
`Exhausted` (CNI 11: try again later).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Protocol

from prewire.agent.state import Profile, Store
from prewire.errors import Exhausted, InvalidInput, PrewireError, Unavailable

log = logging.getLogger("prewire.agent.pool")
PROFILE_KEYS = ("mac", "ip", "prefix", "gateway", "vlan", "network")


class Controller(Protocol):
    """What the agent needs from `prewire.client.ControllerClient` (sync or async methods)."""

    def pool_take(self, server: str, network: str, count: int) -> Any: ...
    def report_endpoints(self, server: str, bound: Any = (), released: Any = ()) -> Any: ...


async def call(fn: Any, *args: Any) -> Any:
    """Call a controller method whether it is a coroutine function or blocking (then in a thread)."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def normalize(raw: dict[str, Any], network: str) -> Profile:
    """A profile as the agent keeps it (the controller's dict, validated)."""
    try:
        profile = {k: raw[k] for k in ("mac", "ip", "prefix", "gateway", "vlan")}
    except KeyError as exc:
        raise Unavailable(f"controller sent a profile without {exc}; upgrade the controller") from exc
    profile["mac"] = str(profile["mac"]).lower()
    profile["prefix"] = int(profile["prefix"])
    profile["vlan"] = int(profile["vlan"])
    profile["network"] = str(raw.get("network") or network)
    return profile


def _retrieve(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("background refill failed: %s", task.exception())


class LocalPool:
    """Free profiles per network, kept between `low` and `size` by background refills."""

    def __init__(
        self, store: Store, server: str, controller: Controller | None, size: int = 64, low: int | None = None
    ) -> None:
        self.store = store
        self.server = server
        self.controller = controller
        self.size = size
        self.low = size // 2 if low is None else low
        self._refills: dict[str, asyncio.Task[int]] = {}
        self.targets: dict[str, int] = {}  # per-network pool size asked for by `prepare`
        self.misses = 0

    def seed(self, profiles: list[dict[str, Any]]) -> None:
        """Add profiles directly (controller-less mode, tests, refills)."""
        if profiles:
            self.store.log({"op": "add", "profiles": [normalize(p, str(p.get("network"))) for p in profiles]})

    def networks(self) -> dict[str, int]:
        return {net: len(profiles) for net, profiles in self.store.free.items()}

    async def take(self, network: str) -> Profile:
        """The oldest free profile of `network` (removed from the pool by the caller's `bind` record)."""
        free = self.store.free.get(network)
        if not free:
            self.misses += 1
            await self.refill(network, wait=True)
            free = self.store.free.get(network)
            if not free:
                raise Exhausted(
                    f"no free profile for network {network} on server {self.server}; "
                    "grow the network's pool on the controller or release containers"
                )
        profile = next(iter(free.values()))
        if len(free) - 1 < self.low_of(network):
            self.kick(network)
        return profile

    def kick(self, network: str) -> None:
        """Start a background refill of `network` unless one is running."""
        task = self._refills.get(network)
        if self.controller is not None and (task is None or task.done()):
            task = asyncio.get_running_loop().create_task(self._refill(network))
            task.add_done_callback(_retrieve)
            self._refills[network] = task

    async def refill(self, network: str, wait: bool = False) -> int:
        """Top `network` up to `size`; with wait=True an unreachable controller raises Exhausted."""
        if self.controller is None:
            if wait:
                raise Exhausted(
                    f"no free profile for network {network} on server {self.server} and no controller "
                    "configured; start the agent with --controller"
                )
            return 0
        self.kick(network)
        try:
            return await self._refills[network]
        except Unavailable as exc:
            if wait:
                raise Exhausted(
                    f"no free profile for network {network} on server {self.server} and the controller "
                    f"is unreachable ({exc.message}); retry when it is back"
                ) from exc
            return 0

    def target(self, network: str) -> int:
        return self.targets.get(network, self.size)

    async def prepare(self, network: str, count: int) -> int:
        """Pre-distribution to this server: hold at least `count` free profiles of `network` from now on
        (the network's refill target becomes `count`).  Returns how many are free."""
        if count < 0:
            raise InvalidInput("prepare needs a count >= 0")
        self.targets[network] = max(count, self.size)
        while self.store.free_count(network) < count:
            if await self.refill(network, wait=True) == 0:
                raise Exhausted(f"the controller has no more profiles of {network} for {self.server}")
        return self.store.free_count(network)

    async def discover(self) -> None:
        """Learn the fabric's networks from the controller, so that their profiles are here before the
        first container of each starts (the seed's pre-distribution to servers)."""
        lister = getattr(self.controller, "list_networks", None)
        if lister is None:
            return
        try:
            networks = await call(lister)
        except Exception as exc:
            log.debug("network discovery failed: %s", exc)
            return
        for net in networks:
            name = f"{net['tenant']}/{net['name']}"
            if self.store.free_count(name) < self.low_of(name):
                self.kick(name)

    def low_of(self, network: str) -> int:
        return self.target(network) // 2 if network in self.targets else self.low

    async def _refill(self, network: str) -> int:
        want = self.target(network) - self.store.free_count(network)
        if want <= 0 or self.controller is None:
            return 0
        while True:  # the controller hands out all or none: ask for less when it has less
            try:
                raw = await call(self.controller.pool_take, self.server, network, want)
                break
            except Exhausted:
                if want <= 1:
                    raise
                want //= 2
            except PrewireError:
                raise
            except Exception as exc:
                raise Unavailable(f"controller refill of {network} failed: {exc}") from exc
        profiles = [normalize(p, network) for p in raw]
        self.seed(profiles)
        log.info("refilled %s with %d profile(s)", network, len(profiles))
        return len(profiles)

    async def refill_loop(self, interval: float = 5.0) -> None:
        """Keep every known network above the watermark; errors are logged and retried."""
        while True:
            await self.discover()
            for network in list(self.store.free):
                if self.store.free_count(network) < self.low_of(network):
                    try:
                        await self.refill(network)
                    except PrewireError as exc:
                        log.warning("refill of %s: %s", network, exc.message)
            await asyncio.sleep(interval)
