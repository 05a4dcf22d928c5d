"""Metrics shared by the task modules and evaluation (torchmetrics-based)."""
