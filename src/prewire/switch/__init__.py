"""Switch side: the abstract switch device, its drivers (entry points), batching and per-switch locking."""
