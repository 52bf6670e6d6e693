"""A server's OVS bridge: the tenant VLAN of each container port through OpenFlow flow mods."""

from prewire.vswitch.server import Attachment, ServerVSwitch

__all__ = ["Attachment", "ServerVSwitch"]
