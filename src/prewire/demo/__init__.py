"""`prewire demo`: the whole technique on this machine, with the numbers that prove it."""
