"""Docker libnetwork remote network driver `prewire` (unix socket under /run/docker/plugins)."""
