"""Brocade VDX (VCS) AMPP over NETCONF: mostly data (the RPC templates below).

One port-profile per VLAN (`<prefix><vlan>`, a trunk vlan-profile allowing that VLAN), activated, with
one `static` MAC association per pre-distributed MAC.  The switch applies the profile on any
`port-profile-port` interface where an associated MAC is learned, and moves it with the MAC.
Options: host, username, password (for the NETCONF transport), profile_prefix (default "pw-vlan-").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence

from prewire.errors import KernelError
from prewire.switch.base import PortActivity, SwitchDevice, SwitchHealth, SwitchProfile
from prewire.switch.drivers.transport import Transport, open_transport
from prewire.switch.drivers.validation import normalize_mac, validate_batch

NS = "urn:brocade.com:mgmt:brocade-port-profile"
NS_EXT = "urn:brocade.com:mgmt:brocade-port-profile-ext"
EDIT = "<edit-config><target><running/></target><config>{body}</config></edit-config>"
VLAN_PROFILE = (
    '<port-profile xmlns="{ns}"><name>{name}</name><vlan-profile><switchport-basic><basic/></switchport-basic>'
    "<switchport><mode><vlan-mode>trunk</vlan-mode></mode><trunk><allowed><vlan><add>{vlan}</add></vlan>"
    "</allowed></trunk></switchport></vlan-profile></port-profile>"
)
GLOBAL = '<port-profile-global xmlns="{ns}"><port-profile><name>{name}</name>{inner}</port-profile></port-profile-global>'
ACTIVATE = "<activate/>"
DEACTIVATE = '<activate operation="delete"/>'
STATIC = "<static><mac-address>{mac}</mac-address></static>"
STATIC_DELETE = '<static operation="delete"><mac-address>{mac}</mac-address></static>'
PROFILE_DELETE = '<port-profile xmlns="{ns}" operation="delete"><name>{name}</name></port-profile>'
GET_HELD = (
    '<get-config><source><running/></source><filter type="subtree">'
    '<port-profile-global xmlns="{ns}"/></filter></get-config>'
)
GET_STATUS = '<get-port-profile-status xmlns="{ns_ext}"/>'
GET_HEALTH = (
    '<get><filter type="subtree"><system xmlns="urn:ietf:params:xml:ns:yang:ietf-system"/></filter></get>'
)


def vdx_mac(mac: str) -> str:
    """aa:bb:cc:dd:ee:ff -> aabb.ccdd.eeff (the VDX notation)."""
    h = mac.replace(":", "")
    return f"{h[0:4]}.{h[4:8]}.{h[8:12]}"


def std_mac(mac: str) -> str:
    h = mac.replace(".", "").replace(":", "").lower()
    return normalize_mac(":".join(h[i : i + 2] for i in range(0, 12, 2)))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem.iter() if _local(c.tag) == name]


def _text(elem: ET.Element, name: str) -> str:
    found = _children(elem, name)
    return (found[0].text or "").strip() if found else ""


class BrocadeVdxSwitch(SwitchDevice):
    driver_name = "brocade_vdx"

    def __init__(self, name: str, options: Mapping[str, str], transport: Transport | None = None) -> None:
        super().__init__(name, options)
        self.prefix = self.options.get("profile_prefix", "pw-vlan-")
        self._transport = transport

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = open_transport("netconf", self.options)
        return self._transport

    def profile_name(self, vlan: int) -> str:
        return f"{self.prefix}{vlan}"

    def _vlan_of(self, profile: str) -> int | None:
        suffix = profile[len(self.prefix) :]
        return int(suffix) if profile.startswith(self.prefix) and suffix.isdigit() else None

    def _rpc(self, request: str) -> ET.Element:
        reply = self.transport.exchange(request)
        try:
            root = ET.fromstring(reply)
        except ET.ParseError as exc:
            raise KernelError(f"switch {self.name} sent malformed NETCONF: {exc}") from exc
        errors = _children(root, "rpc-error")
        if errors:
            raise KernelError(f"switch {self.name} rejected the request: {_text(errors[0], 'error-message')}")
        return root

    # -- rendering (data in, request strings out) ------------------------------------------------------
    def render_load(self, profiles: Sequence[SwitchProfile]) -> str:
        by_vlan: dict[int, list[str]] = defaultdict(list)
        for p in profiles:
            by_vlan[p.vlan].append(p.mac)
        body = ""
        for vlan in sorted(by_vlan):
            name = self.profile_name(vlan)
            statics = "".join(STATIC.format(mac=vdx_mac(m)) for m in sorted(by_vlan[vlan]))
            body += VLAN_PROFILE.format(ns=NS, name=name, vlan=vlan)
            body += GLOBAL.format(ns=NS, name=name, inner=ACTIVATE + statics)
        return EDIT.format(body=body)

    def render_remove(self, held: Sequence[SwitchProfile], macs: set[str]) -> str:
        gone: dict[int, list[str]] = defaultdict(list)
        left: dict[int, int] = defaultdict(int)
        for p in held:
            if p.mac in macs:
                gone[p.vlan].append(p.mac)
            else:
                left[p.vlan] += 1
        body = ""
        for vlan in sorted(gone):
            name = self.profile_name(vlan)
            statics = "".join(STATIC_DELETE.format(mac=vdx_mac(m)) for m in sorted(gone[vlan]))
            if left[vlan]:
                body += GLOBAL.format(ns=NS, name=name, inner=statics)
            else:  # last MAC of the VLAN: deactivate and delete its port-profile
                body += GLOBAL.format(ns=NS, name=name, inner=DEACTIVATE + statics)
                body += PROFILE_DELETE.format(ns=NS, name=name)
        return EDIT.format(body=body)

    # -- SwitchDevice ----------------------------------------------------------------------------------
    def load_profiles(self, profiles: Sequence[SwitchProfile]) -> None:
        held = {p.mac: p.vlan for p in self.held_profiles()}
        batch = [p for p in validate_batch(held, profiles) if p.mac not in held]
        if batch:
            self._rpc(self.render_load(batch))

    def remove_profiles(self, macs: Sequence[str]) -> None:
        wanted = {normalize_mac(m) for m in macs}
        held = self.held_profiles()
        if any(p.mac in wanted for p in held):
            self._rpc(self.render_remove(held, wanted))

    def held_profiles(self) -> list[SwitchProfile]:
        root = self._rpc(GET_HELD.format(ns=NS))
        result = []
        for pp in _children(root, "port-profile"):
            vlan = self._vlan_of(_text(pp, "name"))
            if vlan is not None:
                result += [
                    SwitchProfile(std_mac(_text(s, "mac-address")), vlan) for s in _children(pp, "static")
                ]
        return sorted(result)

    def active_ports(self) -> list[PortActivity]:
        root = self._rpc(GET_STATUS.format(ns_ext=NS_EXT))
        result = []
        for pp in _children(root, "port-profile"):
            vlan = self._vlan_of(_text(pp, "name"))
            if vlan is None:
                continue
            for assoc in _children(pp, "mac-association"):
                for iface in _children(assoc, "applied-interface"):
                    port = f"{_text(iface, 'interface-type')} {_text(iface, 'interface-name')}"
                    result.append(PortActivity(port, std_mac(_text(assoc, "mac")), vlan))
        return sorted(result)

    def health(self) -> SwitchHealth:
        try:
            root = self._rpc(GET_HEALTH)
        except KernelError as exc:
            return SwitchHealth(False, detail=exc.message)
        except Exception as exc:  # Unavailable and transport failures
            return SwitchHealth(False, detail=str(exc))
        return SwitchHealth(True, detail=_text(root, "hostname") or "netconf ok")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
