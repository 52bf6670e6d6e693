"""Release a binding: interface, vswitch flows, port, profile; the controller is told asynchronously.

- the container's netns still exists: its macvlan is deleted (in a worker thread: the kernel spends ~10-20
  ms in RCU waits there, which must not stall the event loop; the waits are sleeps, not CPU, so many
  deletions overlap: measured here, 200 deletions cost 19 ms each one at a time, 5.4 ms with 6 threads
  (asyncio's default pool on 2 cores), 1.1 ms with 32 threads);
- the netns is gone: the kernel already removed the macvlan with it; nothing to do in the kernel.
Either way the pre-wired port (which never left the pool netns and OVS) loses a user (with its last user
it goes back to the port pool), the
profile back to the local pool (journalled as released, reported to the controller by the reporter), and
the vswitch forgets the MAC; the switch prunes the VLAN on its own when the MAC stops appearing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from prewire.agent.state import Binding
from prewire.agent.wire import unwire

if TYPE_CHECKING:
    from prewire.agent.core import Agent

log = logging.getLogger("prewire.agent.release")
UNWIRE_THREADS = 32


@functools.cache
def _unwire_pool() -> ThreadPoolExecutor:
    """Threads for interface deletions (started on demand, up to UNWIRE_THREADS)."""
    return ThreadPoolExecutor(UNWIRE_THREADS, thread_name_prefix="prewire-unwire")


async def unwire_in_thread(netns: str, identity: list[int] | None, ifname: str, mac: str) -> str:
    """`unwire` off the event loop, overlapping with other deletions."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_unwire_pool(), unwire, netns, identity, ifname, mac)


async def release_binding(agent: Agent, key: str, binding: Binding) -> str:
    """Release `binding` (the caller holds the key's lock); returns what happened to the interface."""
    profile = binding["profile"]
    try:
        interface = await unwire_in_thread(
            binding["netns"], binding.get("netns_id"), binding["ifname"], profile["mac"]
        )
    except Exception as exc:  # the netns is going away under us: the kernel cleans up
        log.warning("removing %s: %s", key, exc)
        interface = "error"
    try:
        await agent.vswitch.detach(int(binding["ofport"]), profile["mac"], int(profile["vlan"]))
    except Exception as exc:
        log.warning("vswitch detach of %s: %s", key, exc)
    agent.store.log({"op": "unbind", "key": key})
    agent.ports.unuse(binding["port"])  # the VLAN's port goes back to the pool with its last user
    if binding["port"] not in agent.ports.users and hasattr(agent.vswitch, "forget_port"):
        # normally a no-op (the last detach took the VLAN off); after an agent restart the vswitch did
        # not know the port's MACs, and the port would keep its VLAN while free
        try:
            await agent.vswitch.forget_port(int(binding["ofport"]))
        except Exception as exc:
            log.warning("vswitch: taking %s off its VLAN: %s", binding["port"], exc)
    agent.reporter.released(profile["mac"])
    agent.timings.count("releases")
    return interface
