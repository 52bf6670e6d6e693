"""Converge the agent's book-keeping with the kernel, OVS and the runtimes.

Run at start (after a crash or `kill -9`) and periodically:
- a binding whose netns is gone (or replaced), or whose runtime says the container stopped: released;
- a binding whose interface is missing or half-made (crash mid-wire): re-wired with the SAME profile and
  port, so a profile is never handed to a second container;
- a MAC bound twice (must not happen; defensive): the later binding is released;
- at start, every live binding's vswitch flows are re-installed (idempotent flow mods);
- ports that carry a VLAN (read back from the bridge at start, or kept after a failed flow mod) but have
  no user left lose their VLAN.
Containers that run but have no binding are wired by their watcher's own start-up scan.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from prewire.agent.wire import check, netns_identity
from prewire.errors import PrewireError

if TYPE_CHECKING:
    from prewire.agent.core import Agent

log = logging.getLogger("prewire.agent.reconcile")


async def reconcile(agent: Agent, initial: bool = False) -> dict[str, int]:
    counts = {"released": 0, "rewired": 0, "duplicates": 0, "ok": 0}
    seen: dict[str, str] = {}
    installed: set[tuple[int, str, int]] = set()
    if initial and hasattr(agent.vswitch, "attachments"):  # flows read back from the bridge at connect
        installed = {(a.ofport, a.mac, a.vlan) for a in agent.vswitch.attachments()}
    for key, binding in list(agent.store.bindings.items()):
        mac = binding["profile"]["mac"]
        if mac in seen:
            log.error("MAC %s bound to %s and %s: releasing %s", mac, seen[mac], key, key)
            await agent.release(binding["container"], binding["ifname"])
            counts["duplicates"] += 1
            continue
        seen[mac] = key
        counts[await _one(agent, key, binding, initial, installed)] += 1
    if hasattr(agent.vswitch, "prune"):
        keep = {agent.ports.ports[h].ofport for h in agent.ports.users if h in agent.ports.ports}
        try:
            counts["pruned_ports"] = len(await agent.vswitch.prune(keep))
        except PrewireError as exc:
            log.warning("pruning idle ports from the vswitch: %s", exc.message)
    if any(counts.get(k) for k in ("released", "rewired", "duplicates", "pruned_ports")):
        log.info("reconcile: %s", counts)
    return counts


async def _one(
    agent: Agent, key: str, binding: dict[str, Any], initial: bool, installed: set[tuple[int, str, int]]
) -> str:
    if agent.busy(key):  # being wired or released right now
        return "ok"
    watcher = agent.watchers.get(binding["source"])
    gone = netns_identity(binding["netns"]) != binding.get("netns_id")
    if gone or (watcher is not None and watcher.alive(binding["container"]) is False):
        await agent.release(binding["container"], binding["ifname"])
        return "released"
    present = await asyncio.to_thread(check, binding["netns"], binding["ifname"], binding["profile"]["mac"])
    if present and binding["state"] == "ready" and binding["port"] in agent.ports.ports:
        profile = binding["profile"]
        if initial and (int(binding["ofport"]), profile["mac"], int(profile["vlan"])) not in installed:
            try:
                await agent.vswitch.attach(int(binding["ofport"]), profile["mac"], int(profile["vlan"]))
            except Exception as exc:
                log.warning("re-attaching %s: %s", key, exc)
        return "ok"
    agent.store.log({"op": "update", "key": key, "fields": {"state": "repair"}})
    try:
        await agent.wire(
            binding["network"], binding["container"], binding["ifname"], binding["netns"], binding["source"]
        )
    except PrewireError as exc:
        log.warning("re-wiring %s failed: %s", key, exc.message)
    return "rewired"


async def reconcile_loop(agent: Agent, interval: float = 10.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await reconcile(agent)
        except Exception:
            log.exception("periodic reconcile failed")
