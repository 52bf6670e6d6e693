"""`prewire switch-agent run`: the AMPP switch agent of one OVS ToR bridge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import typer

from prewire.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The AMPP switch agent of an OVS ToR.")


@app.command("run")
def run(
    name: str = typer.Option(..., help="switch name, e.g. tor0"),
    bridge: str = typer.Option(..., help="the ToR's OVS bridge (created beforehand)"),
    state_dir: str = typer.Option(..., help="directory for switch.sock and the persisted profile table"),
    ageing: int = typer.Option(300, help="seconds a silent MAC keeps its VLAN on a port (0: forever)"),
    trunk: list[str] = typer.Option(
        [],
        "--trunk",
        help="port to another switch (spine): carries every admitted VLAN, no admission; repeatable",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the switch agent in the foreground until SIGTERM/SIGINT."""
    if not 0 <= ageing <= 65535:
        raise InvalidInput(f"--ageing {ageing} is outside 0-65535 seconds")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s switch-agent %(levelname)s %(message)s",
    )
    from prewire.switchagent.agent import SwitchAgent

    async def main() -> None:
        agent = SwitchAgent(name, bridge, state_dir, ageing=ageing, trunks=trunk)
        await agent.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await agent.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
