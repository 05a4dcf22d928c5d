"""Loggers of conf/logger beyond Lightning's own (MLflow)."""
