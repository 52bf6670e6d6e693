"""The switch agent daemon: profile table + AMPP logic + OpenFlow channel + local socket API.

The agent opens the ToR bridge's management socket (`<rundir>/<bridge>.mgmt`) as an OpenFlow service
connection and asks for packet-ins and flow-removed messages (SET_CONFIG miss_send_len, SET_ASYNC), so no
OVSDB controller target and no reconnect backoff are involved; the bridge stays fail_mode=secure and its
flows survive an agent restart.  Socket ops: load, remove, held, active, health, stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from prewire import jsonline
from prewire.errors import InvalidInput, PrewireError
from prewire.measure.stats import summary
from prewire.openflow import OFConnection, codec
from prewire.switchagent.ampp import PACKET_IN_BURST, PACKET_IN_METER, PACKET_IN_PPS, Ampp
from prewire.switchagent.table import ProfileTable

log = logging.getLogger(__name__)
OVS_RUNDIR = "/var/run/openvswitch"
PORT_DELETED = 1


class SwitchAgent:
    def __init__(
        self,
        name: str,
        bridge: str,
        state_dir: str,
        *,
        ageing: int = 300,
        rundir: str = OVS_RUNDIR,
        trunks: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.bridge = bridge
        self.state_dir = state_dir
        self.mgmt = os.path.join(rundir, f"{bridge}.mgmt")
        self.socket_path = os.path.join(state_dir, "switch.sock")
        os.makedirs(state_dir, exist_ok=True)
        self.table = ProfileTable(os.path.join(state_dir, "profiles.json"))
        self.ampp = Ampp(self.table, ageing=ageing)
        self.trunk_names = set(trunks)  # ports to other switches: every VLAN, no admission
        self.conn: OFConnection | None = None
        self.connected = asyncio.Event()
        self.admit_us: deque[float] = deque(maxlen=100_000)
        # (mac, packet-in received, flow installed) on CLOCK_MONOTONIC, for first-frame-to-admission figures
        self.admit_log: deque[tuple[str, float, float]] = deque(maxlen=10_000)
        self.counts = {"packet_in": 0, "admit": 0, "deny": 0, "move": 0, "aged": 0, "leave": 0}
        self._port_names: dict[int, str] = {}
        self._server: asyncio.AbstractServer | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await jsonline.serve(self.socket_path, self.handle)
        self._loop_task = asyncio.create_task(self._connect_loop())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self.conn is not None:
            await self.conn.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    # -- OpenFlow channel ------------------------------------------------------------------------------
    async def _connect_loop(self) -> None:
        failures = 0
        while True:
            conn: OFConnection | None = None
            try:
                conn = await OFConnection.open_unix(self.mgmt)
                await self._setup(conn)
            except PrewireError as exc:
                if failures % 50 == 0:  # every 10 s while the bridge is away
                    log.warning("switch agent %s: %s; retrying", self.name, exc.message)
                failures += 1
                if conn is not None:
                    await conn.close()
                await asyncio.sleep(0.2)
                continue
            failures = 0
            self.connected.set()
            await conn.closed.wait()
            self.connected.clear()
            log.warning(
                "switch agent %s: lost the OpenFlow channel of %s; reconnecting", self.name, self.bridge
            )

    async def _setup(self, conn: OFConnection) -> None:
        # asynchronous messages are on from the start and held back until the state is restored, so
        # no flow-removed or first frame that arrives meanwhile is lost
        backlog: list[tuple[int, bytes]] = []
        conn.on_message = lambda mtype, body: backlog.append((mtype, body))
        await conn.transact([codec.set_config(), codec.set_async()])
        flows = codec.parse_flow_stats(await conn.multipart(codec.flow_stats_request()))
        metered = await self._packet_in_meter(conn)
        names_before = dict(self._port_names)
        await self._refresh_ports(conn)
        self.ampp.trunks = self._trunk_ofports()
        # a reconnect (not a start) remembers the admissions of the lost channel, kept only on a port that
        # still has the same number and name (OVS may renumber after a restart) and is not a trunk
        remembered = [
            a
            for a in self.ampp.admissions()
            if a.port in names_before
            and self._port_names.get(a.port) == names_before[a.port]
            and a.port not in self.ampp.trunks
        ]
        await conn.transact(self.ampp.base_flows(metered) + self.ampp.restore(flows, remembered))
        self.conn = conn
        conn.on_message = self._on_message
        for mtype, body in backlog:
            self._on_message(mtype, body)

    @staticmethod
    async def _packet_in_meter(conn: OFConnection) -> bool:
        """Police table-miss packet-ins with an OpenFlow meter (added, or modified if it exists)."""
        for command in (0, 1):
            try:
                await conn.transact(
                    [codec.meter_mod(PACKET_IN_METER, PACKET_IN_PPS, PACKET_IN_BURST, command)]
                )
                return True
            except PrewireError:
                continue
        log.warning("this switch has no OpenFlow meters: packet-ins are only debounced")
        return False

    def _trunk_ofports(self) -> list[int]:
        return sorted(no for no, name in self._port_names.items() if name in self.trunk_names)

    async def _refresh_ports(self, conn: OFConnection) -> None:
        ports = codec.parse_port_desc(await conn.multipart(codec.port_desc_request()))
        self._port_names = {p.port_no: p.name for p in ports}

    def _on_message(self, mtype: int, body: bytes) -> None:
        conn = self.conn
        if conn is None:
            return
        if mtype == codec.PACKET_IN:
            self._on_packet_in(conn, codec.parse_packet_in(body))
        elif mtype == codec.FLOW_REMOVED:
            msgs = self.ampp.on_flow_removed(codec.parse_flow_removed(body))
            if msgs:
                self.counts["aged"] += 1
                for m in msgs:
                    conn.send(m)
        elif mtype == codec.PORT_STATUS:
            reason, port = codec.parse_port_status(body)
            if reason == PORT_DELETED:
                self._port_names.pop(port.port_no, None)
                msgs = self.ampp.drop_port(port.port_no)
            else:
                self._port_names[port.port_no] = port.name
                msgs = []
            for m in msgs + self.ampp.set_trunks(self._trunk_ofports()):
                conn.send(m)
        elif mtype == codec.ERROR:
            log.warning("switch agent %s: %s", self.name, codec.parse_error(body))

    def _on_packet_in(self, conn: OFConnection, pin: codec.PacketIn) -> None:
        t0 = time.perf_counter()
        self.counts["packet_in"] += 1
        frame = codec.parse_frame(pin.data)
        if frame is None or pin.match.in_port is None:
            return
        verdict = self.ampp.on_frame(pin.in_port, frame, time.monotonic())
        for m in verdict.msgs:
            conn.send(m)
        if verdict.action == "left":
            self.counts["move"] += 1
        if verdict.action == "released":
            self.counts["leave"] += 1
        if verdict.action == "admit":
            # the frame re-enters the pipeline behind the flow mods (OVS handles a channel in order)
            conn.send(codec.packet_out(pin.data, [codec.output(codec.TABLE)], in_port=pin.in_port))
            if verdict.msgs:
                self.counts["admit"] += 1
                self.counts["move"] += verdict.moved_from is not None
                self._spawn(self._time_admission(conn, t0, frame.eth_src))
        elif verdict.action == "deny":
            self.counts["deny"] += 1

    async def _time_admission(self, conn: OFConnection, t0: float, mac: str) -> None:
        with contextlib.suppress(PrewireError):
            await conn.barrier()
            t1 = time.perf_counter()
            self.admit_us.append((t1 - t0) * 1e6)
            now = time.monotonic()
            self.admit_log.append((mac, now - (t1 - t0), now))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, msgs: list[bytes]) -> None:
        if msgs and self.conn is not None and self.connected.is_set():
            await self.conn.transact(msgs)

    # -- socket API ------------------------------------------------------------------------------------
    async def handle(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "load":
            profiles = request.get("profiles")
            if not isinstance(profiles, list):
                raise InvalidInput("load needs 'profiles': a list of {mac, vlan, network}")
            batch = self.table.load(profiles)
            await self._send(self.ampp.undeny(p.mac for p in batch))
            return {"loaded": len(batch), "profiles": len(self.table)}
        if op == "remove":
            macs = request.get("macs")
            if not isinstance(macs, list):
                raise InvalidInput("remove needs 'macs': a list of MAC addresses")
            gone = self.table.remove(macs)
            await self._send(self.ampp.forget(p.mac for p in gone))
            return {"removed": len(gone), "profiles": len(self.table)}
        if op == "held":
            return [{"mac": p.mac, "vlan": p.vlan, "network": p.network} for p in self.table.profiles()]
        if op == "active":
            return await self._active()
        if op == "health":
            return self._health()
        if op == "stats":
            result: dict[str, Any] = {"counts": dict(self.counts), "admit_us": list(self.admit_us)}
            if request.get("log"):
                result["admit_log"] = [list(e) for e in self.admit_log]
            return result
        raise InvalidInput(f"unknown op {op!r}; use load, remove, held, active, health or stats")

    async def _active(self) -> list[dict[str, Any]]:
        admissions = self.ampp.admissions()
        if self.conn is not None and any(a.port not in self._port_names for a in admissions):
            with contextlib.suppress(PrewireError):
                await self._refresh_ports(self.conn)
        return [
            {
                "port": self._port_names.get(a.port, str(a.port)),
                "ofport": a.port,
                "mac": a.mac,
                "vlan": a.vlan,
                "admitted_unix": self.ampp.admitted_at.get(a.mac),
            }
            for a in admissions
        ]

    def _health(self) -> dict[str, Any]:
        up = self.connected.is_set()
        samples = list(self.admit_us)
        return {
            "reachable": True,
            "profiles": len(self.table),
            "detail": f"bridge {self.bridge} " + ("connected" if up else "not connected (retrying)"),
            "extra": {
                "name": self.name,
                "bridge": self.bridge,
                "openflow": up,
                "admissions": len(self.ampp.where),
                **self.counts,
                "admit_ms": summary(u / 1000 for u in samples) if samples else {},
            },
        }
