"""CNI 1.1 plugin `prewire`: a stdlib-only shim (plugin.py) that hands each request to the local agent."""
