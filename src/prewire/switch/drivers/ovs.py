"""Driver of the lab/whitebox OVS switch: the switch agent's JSON-lines socket (option `socket`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from prewire import jsonline
from prewire.errors import InvalidInput, PrewireError
from prewire.switch.base import PortActivity, SwitchDevice, SwitchHealth, SwitchProfile

BATCH = 5000


class OvsSwitch(SwitchDevice):
    driver_name = "ovs"

    def __init__(self, name: str, options: Mapping[str, str]) -> None:
        super().__init__(name, options)
        self.socket = self.options.get("socket", "")
        if not self.socket:
            raise InvalidInput(f"ovs switch {name} needs option 'socket' (the switch agent's switch.sock)")
        self.timeout = float(self.options.get("timeout", 30) or 30)
        self._client = jsonline.Client(self.socket, timeout=self.timeout)
        self._lock = threading.Lock()

    def _call(self, op: str, **params: object) -> object:
        with self._lock:
            try:
                return self._client.call(op, **params)
            except PrewireError:
                self._client.close()  # reconnect on the next call
                raise

    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        items = [{"mac": p.mac, "vlan": p.vlan, "network": p.network} for p in profiles]
        # the agent validates each batch whole; larger loads go in chunks of BATCH
        for i in range(0, len(items), BATCH):
            self._call("load", profiles=items[i : i + BATCH])

    def remove_profiles(self, macs: Sequence[str]) -> None:
        for i in range(0, len(macs), BATCH):
            self._call("remove", macs=list(macs[i : i + BATCH]))

    def held_profiles(self) -> list[SwitchProfile]:
        result = self._call("held")
        assert isinstance(result, list)
        return sorted(SwitchProfile(p["mac"], int(p["vlan"]), p.get("network", "")) for p in result)

    def active_ports(self) -> list[PortActivity]:
        result = self._call("active")
        assert isinstance(result, list)
        return sorted(PortActivity(a["port"], a["mac"], int(a["vlan"])) for a in result)

    def health(self) -> SwitchHealth:
        try:
            h = self._call("health")
        except PrewireError as exc:
            return SwitchHealth(False, detail=exc.message)
        assert isinstance(h, dict)
        # reachable: the agent accepts profiles (it persists them even while its bridge is away)
        return SwitchHealth(True, int(h["profiles"]), str(h["detail"]), dict(h["extra"]))

    def close(self) -> None:
        with self._lock:
            self._client.close()
