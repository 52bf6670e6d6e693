"""prewire's domain: the model and the allocation rules, free of any I/O."""
