"""prewire: per-tenant container VLANs wired in milliseconds from pre-distributed port profiles."""

__version__ = "0.1.0"
