"""Release a binding: interface, vswitch flows, port, profile; the controller is told asynchronously.

- the container's netns still exists: its macvlan is deleted (in a worker thread: the kernel spends ~10 ms
  in RCU waits there, which must not stall the event loop);
- the netns is gone: the kernel already removed the macvlan with it; nothing to do in the kernel.
Either way the pre-wired port (which never left the pool netns and OVS) loses a user (with its last user
it goes back to the port pool), the
profile back to the local pool (journalled as released, reported to the controller by the reporter), and
the vswitch forgets the MAC; the switch prunes the VLAN on its own when the MAC stops appearing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from prewire.agent.state import Binding
from prewire.agent.wire import unwire

if TYPE_CHECKING:
    from prewire.agent.core import Agent

log = logging.getLogger("prewire.agent.release")


async def release_binding(agent: Agent, key: str, binding: Binding) -> str:
    """Release `binding` (the caller holds the key's lock); returns what happened to the interface."""
    profile = binding["profile"]
    try:
        interface = await asyncio.to_thread(
            unwire, binding["netns"], binding.get("netns_id"), binding["ifname"], profile["mac"]
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
    agent.reporter.released(profile["mac"])
    agent.timings.count("releases")
    return interface
