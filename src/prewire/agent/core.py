"""`Agent`: the ONE wire/release entry that every runtime enters (netns watcher, docker watcher, CNI via
the socket), plus the socket operations built on it (check, gc, list, status, wait).

Wire = take a pre-wired port and a profile from memory, journal the binding (intent first, so a crash
leaves a trace reconcile can follow), run the kernel hot path (wire.py), attach the vswitch, mark ready.
Per (container, ifname) operations are serialised; different containers wire concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Protocol

from prewire.agent.pool import LocalPool
from prewire.agent.ports import Port, PortPool
from prewire.agent.release import unwire_in_thread
from prewire.agent.reporter import Reporter
from prewire.agent.state import Binding, Store, binding_key
from prewire.agent.timings import Timer, Timings
from prewire.agent.wire import PortBusy, VSwitch, Wirer, check, netns_identity
from prewire.errors import Conflict, InvalidInput, NotFound, PrewireError, Unavailable

log = logging.getLogger("prewire.agent")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


class Watcher(Protocol):
    """A runtime watcher (netns, docker): detects start/stop by itself and calls `Agent.wire/release`."""

    source: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def alive(self, container: str) -> bool | None: ...


def result(binding: Binding) -> dict[str, Any]:
    profile = binding["profile"]
    return {
        **{k: profile[k] for k in ("mac", "ip", "prefix", "gateway", "vlan", "network")},
        "container": binding["container"],
        "port": binding["port"],
        "ifname": binding["ifname"],
        "netns": binding["netns"],
        "source": binding["source"],
        "state": binding["state"],
        "timings": binding.get("timings", {}),
    }


class Agent:
    def __init__(
        self,
        server: str,
        store: Store,
        pool: LocalPool,
        ports: PortPool,
        vswitch: VSwitch,
        reporter: Reporter | None = None,
        timings: Timings | None = None,
        ipv6_link_local: bool = False,
    ) -> None:
        self.server, self.store, self.pool, self.ports, self.vswitch = server, store, pool, ports, vswitch
        self.reporter = reporter or Reporter(store, server, None)
        self.timings = timings or Timings()
        self.wirer = Wirer(ports.pool_netns, ipv6_link_local)
        self.watchers: dict[str, Watcher] = {}
        self.errors: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    @contextlib.asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    def busy(self, key: str) -> bool:
        return key in self._locks

    # -- wire --------------------------------------------------------------------------------------------
    async def wire(
        self,
        network: str,
        container: str,
        ifname: str = "eth0",
        netns: str | None = None,
        source: str = "socket",
        timer: Timer | None = None,
    ) -> dict[str, Any]:
        """Wire `container` (idempotent per (network, container, ifname)); returns the binding."""
        timer = timer or Timer()
        if not network or "/" not in network:
            raise InvalidInput(f"network {network!r} must be TENANT/NAME")
        if not container or not _IFNAME.match(ifname) or not netns:
            raise InvalidInput("wire needs a container id, a netns and an interface name of at most 15 chars")
        key = binding_key(container, ifname)
        async with self._lock(key):
            try:
                return await self._wire_locked(key, network, container, ifname, netns, source, timer)
            except PrewireError as exc:
                self.errors[key] = {
                    "container": container,
                    "ifname": ifname,
                    "network": network,
                    "error": exc.kind,
                    "message": exc.message,
                }
                self.timings.count("wire_errors")
                self._notify(container, exc)
                raise

    async def _wire_locked(
        self, key: str, network: str, container: str, ifname: str, netns: str, source: str, timer: Timer
    ) -> dict[str, Any]:
        identity = netns_identity(netns)
        old = self.store.bindings.get(key)
        if old is not None:
            if old["network"] != network:
                raise Conflict(f"{key} is wired to {old['network']}, not {network}; release it first")
            if old["netns_id"] == identity and old["state"] == "ready":
                return result(old)
            if old["netns_id"] != identity:  # a new container reusing the name: the old one is gone
                await self._release_locked(key)
                old = None
        if identity is None:
            raise NotFound(f"netns {netns} of container {container} is gone; nothing was wired")
        if old is not None and old["port"] in self.ports.ports:  # repair after a crash: same port+profile
            port, binding = self.ports.ports[old["port"]], old
            self.ports.free.pop(port.host, None)
        else:
            # the VLAN's shared port on this server (a peek at the pool gives the network's VLAN; the
            # profile itself is taken below with no await between the take and the journalled bind)
            vlan = int(old["profile"]["vlan"]) if old else int((await self.pool.take(network))["vlan"])
            port, _ = await self.ports.take_for_vlan(vlan)
            timer.mark("port")
            try:
                profile = dict(old["profile"]) if old else await self.pool.take(network)
            except PrewireError:
                self.ports.unuse(port.host)
                raise
            timer.mark("profile")
            binding = {
                "network": network,
                "container": container,
                "ifname": ifname,
                "netns": netns,
                "netns_id": identity,
                "source": source,
                "profile": profile,
                "port": port.host,
                "ofport": port.ofport,
                "state": "wiring",
            }
            self.store.log({"op": "bind", "key": key, "binding": binding})
        try:
            port = await self._kernel(key, binding, port, timer)
            profile = binding["profile"]
            await self.vswitch.attach(port.ofport, profile["mac"], int(profile["vlan"]))
            timer.mark("attached")
        except BaseException as exc:
            await self._undo(key, binding, port)
            if isinstance(exc, PrewireError):
                raise
            if isinstance(exc, Exception):
                raise Unavailable(f"wiring {key} failed: {type(exc).__name__}: {exc}") from exc
            raise
        timer.mark("ready")
        self.store.log({"op": "update", "key": key, "fields": {"state": "ready", "timings": timer.as_dict()}})
        self.errors.pop(key, None)
        self.timings.wired(timer)
        self.reporter.bound(binding)
        self._notify(container, None)
        return result(binding)

    async def _kernel(self, key: str, binding: Binding, port: Port, timer: Timer) -> Port:
        avoid: set[str] = set()
        for _ in range(4):
            try:
                self.wirer.wire(port, binding["profile"], binding["netns"], binding["ifname"], timer.mark)
                return port
            except PortBusy:  # a dying netns still holds this MAC on the VLAN's port: use another port
                avoid.add(port.host)
                self.ports.unuse(port.host)
                port, _ = await self.ports.take_for_vlan(int(binding["profile"]["vlan"]), frozenset(avoid))
                self.store.log(
                    {"op": "update", "key": key, "fields": {"port": port.host, "ofport": port.ofport}}
                )
        raise Unavailable(f"no usable pre-wired port for {key}; retry")

    async def _undo(self, key: str, binding: Binding, port: Port) -> None:
        profile = binding["profile"]
        with contextlib.suppress(Exception):
            await unwire_in_thread(binding["netns"], binding["netns_id"], binding["ifname"], profile["mac"])
        with contextlib.suppress(Exception):
            await self.vswitch.detach(port.ofport, profile["mac"], int(profile["vlan"]))
        self.store.log({"op": "unbind", "key": key, "report": False})
        self.ports.unuse(port.host)

    # -- release -----------------------------------------------------------------------------------------
    async def release(self, container: str, ifname: str = "eth0") -> dict[str, Any]:
        """Give back what `container` holds (idempotent; fine when its netns is already gone)."""
        key = binding_key(container, ifname)
        async with self._lock(key):
            self.errors.pop(key, None)
            return await self._release_locked(key)

    async def _release_locked(self, key: str) -> dict[str, Any]:
        from prewire.agent.release import release_binding

        binding = self.store.bindings.get(key)
        if binding is None:
            return {"released": False}
        interface = await release_binding(self, key, binding)
        return {"released": True, "interface": interface}

    # -- queries -----------------------------------------------------------------------------------------
    async def check(self, container: str, ifname: str = "eth0") -> dict[str, Any]:
        binding = self.store.bindings.get(binding_key(container, ifname))
        if binding is None:
            raise NotFound(f"{container}/{ifname} is not wired on {self.server}")
        ok = await asyncio.to_thread(check, binding["netns"], ifname, binding["profile"]["mac"])
        if not ok:
            raise NotFound(
                f"{container}/{ifname} is bound but missing from its netns; the agent will repair it"
            )
        return result(binding)

    async def gc(self, valid: list[dict[str, Any]], source: str = "socket") -> dict[str, Any]:
        keep = {binding_key(str(v.get("container")), str(v.get("ifname") or "eth0")) for v in valid}
        stale = [b for k, b in self.store.bindings.items() if b["source"] == source and k not in keep]
        for binding in stale:
            await self.release(binding["container"], binding["ifname"])
        return {"released": [f"{b['container']}/{b['ifname']}" for b in stale]}

    def list(self) -> dict[str, Any]:
        return {
            "bindings": [result(b) for b in self.store.bindings.values()],
            "errors": list(self.errors.values()),
        }

    def status(self, brief: bool = False) -> dict[str, Any]:
        """The agent's state; `brief` leaves out the hot-path percentiles (a sort of every sample kept:
        too dear for a caller that polls the binding count)."""
        if brief:
            return {"server": self.server, "bindings": len(self.store.bindings), "errors": len(self.errors)}
        return {
            "server": self.server,
            "bindings": len(self.store.bindings),
            "profiles_free": self.pool.networks(),
            "ports_free": len(self.ports.free),
            "ports_total": len(self.ports.ports),
            "report_pending": self.reporter.pending(),
            "errors": len(self.errors),
            "watchers": sorted(self.watchers),
            "hot_path_ms": self.timings.summary(),
            "counters": dict(self.timings.counters),
        }

    async def wait(self, container: str, timeout: float = 10.0, ifname: str = "eth0") -> dict[str, Any]:
        """Until `container` is wired (netns runtime: by the watcher); raises its wire error if any."""
        key = binding_key(container, ifname)
        binding = self.store.bindings.get(key)
        if binding is not None and binding["state"] == "ready":
            return result(binding)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(container, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise Unavailable(
                f"{container} was not wired within {timeout}s; check `prewire container list`"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.get(container, []).remove(future)
        return result(self.store.bindings[key])

    def _notify(self, container: str, error: PrewireError | None) -> None:
        for future in self._waiters.pop(container, []):
            if not future.done():
                future.set_exception(error) if error else future.set_result(None)
