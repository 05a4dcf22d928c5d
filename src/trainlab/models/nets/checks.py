"""Argument checks shared by the nets: clear messages instead of errors deep inside torch."""

from __future__ import annotations

from trainlab.config.errors import UserError


def require_sizes(**sizes: int | None) -> None:
    """Every size given must be a positive int; None means 'not taken from the data yet'."""
    for key, value in sizes.items():
        if value is None:
            raise UserError(f"model.net.{key} is unset; it comes from the data, or set it to a positive int")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"model.net.{key}={value!r} must be a positive integer")


def require_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"model.net.dropout={dropout} must be in [0, 1)")
