"""Infrastructure for tests and benchmarks only (never imported at run time)."""
