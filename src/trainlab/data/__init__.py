"""Data modules and the sources they read (conf/data)."""
