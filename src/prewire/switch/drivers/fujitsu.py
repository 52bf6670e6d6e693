"""Fujitsu C-Fabric over its CLI: mostly data (the command templates below).

One pprofile per VLAN (`pprofile <prefix><vlan> vlan tag <vlan>`), and per pre-distributed MAC one
vfab port-profile index binding the MAC to it (`vfab <id> pprofile <idx> vsiid mac <mac> <name>`), then
`commit`.  A vfab has 4,096 indices; the driver allocates the lowest free ones from the running config.
Options: host, username, password (CLI transport), vfab (default 1), profile_prefix (default "pw-vlan-").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from prewire.errors import Exhausted, InvalidInput, KernelError
from prewire.switch.base import PortActivity, SwitchDevice, SwitchHealth, SwitchProfile
from prewire.switch.drivers.transport import Transport, open_transport
from prewire.switch.drivers.validation import normalize_mac, validate_batch

INDICES = 4096
CONFIGURE = "configure"
PPROFILE = "pprofile {name} vlan tag {vlan}"
BIND = "vfab {vfab} pprofile {index} vsiid mac {mac} {name}"
UNBIND = "no vfab {vfab} pprofile {index}"
DROP_PPROFILE = "no pprofile {name}"
COMMIT = "commit"
EXIT = "exit"
SHOW_CONFIG = "show running-config"
SHOW_STATUS = "show vfab {vfab} pprofile status"
SHOW_HEALTH = "show system status"
RE_PPROFILE = re.compile(r"^\s*pprofile\s+(\S+)\s+vlan\s+tag\s+(\d+)\s*$")
RE_BIND = re.compile(r"^\s*vfab\s+(\d+)\s+pprofile\s+(\d+)\s+vsiid\s+mac\s+(\S+)\s+(\S+)\s*$")
RE_STATUS = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+active\s*$")
RE_ERROR = re.compile(r"^\s*(%|Error|error:)", re.MULTILINE)


class FujitsuCFabricSwitch(SwitchDevice):
    driver_name = "fujitsu_cfabric"

    def __init__(self, name: str, options: Mapping[str, str], transport: Transport | None = None) -> None:
        super().__init__(name, options)
        self.prefix = self.options.get("profile_prefix", "pw-vlan-")
        try:
            self.vfab = int(self.options.get("vfab", 1))
        except ValueError as exc:
            raise InvalidInput(f"fujitsu switch {name}: option vfab must be a number") from exc
        self._transport = transport

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = open_transport("cli", self.options)
        return self._transport

    def _ours(self, pprofile: str) -> bool:
        """Only pprofiles prewire made are read back or removed; others are left alone."""
        return pprofile.startswith(self.prefix)

    def _send(self, command: str) -> str:
        reply = self.transport.exchange(command)
        if RE_ERROR.search(reply):
            raise KernelError(f"switch {self.name} rejected {command!r}: {reply.strip().splitlines()[0]}")
        return reply

    def _run(self, commands: Sequence[str]) -> None:
        for command in commands:
            self._send(command)

    # -- reading the running config --------------------------------------------------------------------
    def _bindings(self) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
        """({mac: (index, pprofile)} of this vfab, {pprofile: vlan})."""
        binds: dict[str, tuple[int, str]] = {}
        vlans: dict[str, int] = {}
        for line in self._send(SHOW_CONFIG).splitlines():
            if m := RE_PPROFILE.match(line):
                vlans[m[1]] = int(m[2])
            elif (m := RE_BIND.match(line)) and int(m[1]) == self.vfab:
                binds[normalize_mac(m[3])] = (int(m[2]), m[4])
        return binds, vlans

    # -- rendering -------------------------------------------------------------------------------------
    def render_load(self, batch: Sequence[SwitchProfile], used: set[int], known: set[str]) -> list[str]:
        free = (i for i in range(INDICES) if i not in used)
        commands = [CONFIGURE]
        for vlan in sorted({p.vlan for p in batch}):
            name = f"{self.prefix}{vlan}"
            if name not in known:
                commands.append(PPROFILE.format(name=name, vlan=vlan))
        for p in sorted(batch):
            index = next(free, None)
            if index is None:
                raise Exhausted(
                    f"vfab {self.vfab} of switch {self.name} has no free pprofile index (4,096 used)"
                )
            commands.append(
                BIND.format(vfab=self.vfab, index=index, mac=p.mac, name=f"{self.prefix}{p.vlan}")
            )
        return [*commands, COMMIT, EXIT]

    # -- SwitchDevice ----------------------------------------------------------------------------------
    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        binds, vlans = self._bindings()
        held = {mac: vlans.get(name, 0) for mac, (_i, name) in binds.items()}
        batch = [p for p in validate_batch(held, profiles) if p.mac not in held]
        if batch:
            used = {i for i, _n in binds.values()}
            self._run(self.render_load(batch, used, set(vlans)))

    def remove_profiles(self, macs: Sequence[str]) -> None:
        wanted = {normalize_mac(m) for m in macs}
        binds, _vlans = self._bindings()
        gone = {m: b for m, b in binds.items() if m in wanted and self._ours(b[1])}
        if not gone:
            return
        still_used = {name for m, (_i, name) in binds.items() if m not in wanted}
        commands = [CONFIGURE] + [UNBIND.format(vfab=self.vfab, index=i) for i, _n in sorted(gone.values())]
        commands += [
            DROP_PPROFILE.format(name=n) for n in sorted({n for _i, n in gone.values()} - still_used)
        ]
        self._run([*commands, COMMIT, EXIT])

    def held_profiles(self) -> list[SwitchProfile]:
        binds, vlans = self._bindings()
        return sorted(
            SwitchProfile(mac, vlans[name])
            for mac, (_i, name) in binds.items()
            if name in vlans and self._ours(name)
        )

    def active_ports(self) -> list[PortActivity]:
        _binds, vlans = self._bindings()
        result = []
        for line in self._send(SHOW_STATUS.format(vfab=self.vfab)).splitlines():
            if (m := RE_STATUS.match(line)) and m[3] in vlans and self._ours(m[3]):
                result.append(PortActivity(m[4], normalize_mac(m[2]), vlans[m[3]]))
        return sorted(result)

    def health(self) -> SwitchHealth:
        try:
            detail = self._send(SHOW_HEALTH).strip().splitlines()
        except Exception as exc:  # Unavailable, KernelError
            return SwitchHealth(False, detail=str(exc))
        return SwitchHealth(True, detail=detail[0] if detail else "cli ok")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
