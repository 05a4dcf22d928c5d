"""One run: hardware, the run folder, checkpoints, outputs, preflight checks."""
