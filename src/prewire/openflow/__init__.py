"""Minimal OpenFlow 1.3: a struct codec and an asyncio connection."""

from prewire.openflow import codec
from prewire.openflow.connection import OFConnection

__all__ = ["OFConnection", "codec"]
