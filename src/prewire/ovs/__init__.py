"""Shared OVSDB helpers (ovsdbapp): bridges, ports, controllers; idempotent, batched transactions."""

from prewire.ovs.ovsdb import DEFAULT_DB, Ovsdb

__all__ = ["DEFAULT_DB", "Ovsdb"]
