"""The server agent: local pools, pre-wired ports, the wire/release hot path, reconcile."""
