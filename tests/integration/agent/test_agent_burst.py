"""200 netns containers through the watcher: one at a time (hot-path timings) and in one burst; all
released afterwards with nothing left over.  Prints the timings; never asserts wall-clock times."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from prewire.agent.daemon import start_agent, stop_agent
from prewire.measure.stats import summary
from tests.integration.agent.pwxag_env import envs, eventually, leftovers, profiles, sh

pytestmark = pytest.mark.root
NET = "acme/web"
COUNT = int(os.environ.get("PWXAG_BURST", "200"))


def test_sequential_then_burst(tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        with envs(tmp_path, 7) as (env,):
            agent, handles = await start_agent(env.config(ports=COUNT + 40, pool_size=COUNT), controller=None)
            report: dict[str, object] = {}
            try:
                agent.pool.seed(profiles(NET, 107, 7, 250, third=0) + profiles(NET, 107, 7, 250, third=1))
                for phase in ("sequential", "burst"):
                    names = [f"{phase[0]}{i}" for i in range(COUNT)]
                    if phase == "sequential":
                        results = []
                        for name in names:
                            await asyncio.to_thread(env.container, name, NET)
                            results.append(await agent.wait(name, 20))
                    else:
                        for name in names:
                            await asyncio.to_thread(env.container, name, NET)
                        results = [await agent.wait(name, 60) for name in names]
                    assert len({r["mac"] for r in results}) == COUNT
                    report[phase] = {
                        stage: summary([r["timings"][stage] for r in results if stage in r["timings"]])
                        for stage in ("port", "profile", "linked", "addressed", "attached", "ready")
                    }
                    report[phase + "_kernel_ms"] = summary(
                        [r["timings"]["addressed"] - r["timings"]["profile"] for r in results]
                    )
                    for name in names:
                        await asyncio.to_thread(env.remove, name)
                    await eventually(lambda: not agent.store.bindings, timeout=60)
                links = sh("ip", "-n", agent.ports.pool_netns, "-o", "link").splitlines()
                assert len(links) == len(agent.ports.ports) + 1
                assert len(agent.ports.free) == len(agent.ports.ports)
                assert agent.pool.networks()[NET] == 500
                report["ports_total"] = len(agent.ports.ports)
            finally:
                await stop_agent(agent, handles)
                agent.ports.destroy()
            return report

    report = asyncio.run(scenario())
    print(json.dumps(report, indent=1))
    assert leftovers() == []
