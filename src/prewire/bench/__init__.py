"""`prewire bench`: the pipeline as a measurement, with peers measured in the same run."""
