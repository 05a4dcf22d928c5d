"""Time-series family: sources, sliding windows, the data module (conf/data: synthetic, elnino, file)."""
