"""Raw-frame attacker and counter run inside a test netns, plus a ToR-with-servers fabric for the faults suite.

In a netns: `ip netns exec NS <python> -m tests.faults.attackkit send IFACE KIND COUNT SRC [ARGS]` and
`... count IFACE` (prints `ready`, counts marked frames until its stdin closes, then prints JSON counts).
Every attack frame carries `PWXATK:<kind>` so a counter tells attack frames from anything else.
"""

from __future__ import annotations

import asyncio
import json
import random
import select
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
MARK = b"PWXATK:"
KINDS = ("ctrl", "spof", "vlan", "arpf", "rand")
EXPERIMENTAL = 0x88B6  # IEEE local experimental ethertype
BROADCAST = "ff:ff:ff:ff:ff:ff"
PACKET_OUTGOING = 4


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def eth(dst: str, src: str, ethertype: int, payload: bytes, vlan: int = 0) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan else b""
    return (mac_bytes(dst) + mac_bytes(src) + tag + struct.pack("!H", ethertype) + payload).ljust(60, b"\0")


def arp_request(src: str, src_ip: str, target_ip: str, marker: bytes) -> bytes:
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac_bytes(src) + socket.inet_aton(src_ip)
    return eth(BROADCAST, src, 0x0806, body + bytes(6) + socket.inet_aton(target_ip) + marker)


def frames(kind: str, count: int, src: str, args: list[str]) -> list[bytes]:
    """The `count` frames of one attack from MAC `src` (see the kinds in the test)."""
    marker = MARK + kind.encode()
    if kind in ("ctrl", "spof"):  # args: [unicast dst]; half broadcast, half to the victim's MAC
        return [eth(BROADCAST if i % 2 else args[0], src, EXPERIMENTAL, marker) for i in range(count)]
    if kind == "vlan":  # args: [victim MAC, victim VLAN]
        vid = int(args[1])
        return [
            eth(BROADCAST if i % 2 else args[0], src, EXPERIMENTAL, marker, vlan=vid) for i in range(count)
        ]
    if kind == "arpf":  # args: [own IP, /24 prefix]: who-has every address of the subnet, over and over
        return [arp_request(src, args[0], f"{args[1]}.{i % 254 + 1}", marker) for i in range(count)]
    if kind == "rand":  # random unicast source MACs (seeded: the same run every time)
        rng = random.Random(7)
        out = []
        for _ in range(count):
            raw = bytes([rng.randrange(256) & 0xFC | 0x02]) + rng.randbytes(5)
            out.append(eth(BROADCAST, ":".join(f"{b:02x}" for b in raw), EXPERIMENTAL, marker))
        return out
    raise SystemExit(f"unknown attack kind {kind}")


def send(iface: str, kind: str, count: int, src: str, args: list[str]) -> int:
    """Send the frames in bursts of 20 with a short pause between (the userspace datapath keeps up)."""
    sent = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        for i, frame in enumerate(frames(kind, count, src, args)):
            sent += s.send(frame) == len(frame)
            if i % 20 == 19:
                time.sleep(0.002)
    return sent


def count(iface: str, stdin: IO[str], stdout: IO[str]) -> None:
    """Count received frames per attack kind until stdin closes."""
    seen = dict.fromkeys(KINDS, 0)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003)) as s:
        s.bind((iface, 0))
        s.setblocking(False)
        stdout.write("ready\n")
        stdout.flush()
        while True:
            ready, _w, _x = select.select([s.fileno(), stdin.fileno()], [], [], 1.0)
            if s.fileno() in ready:
                while True:
                    try:
                        data, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    at = data.find(MARK)
                    if addr[2] != PACKET_OUTGOING and at >= 0:
                        kind = data[at + len(MARK) : at + len(MARK) + 4].decode(errors="replace")
                        seen[kind] = seen.get(kind, 0) + 1
            if stdin.fileno() in ready and not stdin.readline():
                break
    stdout.write(json.dumps(seen) + "\n")
    stdout.flush()


class Counter:
    """A `count` process inside netns `ns` (started and ended by this object, by PID)."""

    def __init__(self, ns: str, iface: str = "eth0") -> None:
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.faults.attackkit", "count", iface]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"counter in {ns} did not start: {line!r}")

    def result(self) -> dict[str, int]:
        out, _err = self.proc.communicate(timeout=20)
        counts: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        return counts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def attack(ns: str, kind: str, n: int, src: str, *args: str) -> int:
    """Run one attack from inside netns `ns`: the number of frames sent."""
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.faults.attackkit", "send", "eth0"]
    out = subprocess.run([*cmd, kind, str(n), src, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"attack {kind} from {ns} failed: {out.stderr.strip()}")
    return int(out.stdout.strip())


@dataclass
class TorLab:
    """A ToR bridge behind a real switch agent, `servers` server vswitches, containers in netns."""

    tag: str
    state_dir: Path
    servers: int = 2
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def __post_init__(self) -> None:
        from prewire.vswitch import ServerVSwitch
        from tests.integration.switchagent.pwxsw_agent import AgentProcess
        from tests.integration.switchagent.pwxsw_fabric import Fabric

        self.fab = Fabric(self.tag)
        self.vswitch: dict[int, ServerVSwitch] = {}
        self.ofport: dict[str, tuple[str, int]] = {}  # container -> (server bridge, ofport)
        self.agent: AgentProcess | None = None
        try:
            self.tor = self.fab.bridge("t0")
            self.agent = AgentProcess(self.tor, str(self.state_dir))
            for s in range(1, self.servers + 1):
                bridge = self.fab.bridge(f"s{s}")
                up, _tor_port = self.fab.uplink(bridge, self.tor, s)
                vs = ServerVSwitch(bridge, up)
                self.loop.run_until_complete(vs.connect())
                self.vswitch[s] = vs
                self.loop.run_until_complete(vs.install_base_flows())
            self.agent.start()
        except BaseException:
            self.close()
            raise

    def add(self, name: str, server: int, mac: str, ip: str, vlan: int) -> None:
        ofport = self.fab.container(name, self.vswitch[server].bridge, mac, ip)
        self.ofport[name] = (self.vswitch[server].bridge, ofport)
        self.loop.run_until_complete(self.vswitch[server].attach(ofport, mac, vlan))

    def rx_packets(self, name: str) -> int:
        """Frames the server bridge took in from container `name`'s port (live OpenFlow port stats)."""
        bridge, ofport = self.ofport[name]
        cmd = ["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", bridge, str(ofport)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return int(out.split("rx pkts=", 1)[1].split(",", 1)[0])

    def close(self) -> None:
        if self.agent is not None:
            self.agent.kill()
        for vs in self.vswitch.values():
            self.loop.run_until_complete(vs.close())
        self.loop.close()
        self.fab.cleanup()


def main(argv: list[str]) -> None:
    if argv[0] == "send":
        print(send(argv[1], argv[2], int(argv[3]), argv[4], argv[5:]))
    elif argv[0] == "count":
        count(argv[1], sys.stdin, sys.stdout)
    else:
        raise SystemExit(f"usage: attackkit send|count ..., not {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
