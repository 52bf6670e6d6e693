"""The one-machine lab fabric: emulated servers, ToR switches and a controller on this host."""
