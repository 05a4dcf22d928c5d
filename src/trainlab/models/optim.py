"""Optimizer and LR-scheduler wiring shared by every LightningModule of this project.

Configs hand modules partial constructors (``_partial_: true``); :func:`configure_optimizers` completes
them with the parameters, the trainer's step count (OneCycleLR) and the monitored metric (plateau).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from torch.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau

from trainlab.config.errors import UserError

_STEP_SCHEDULERS = (OneCycleLR, CyclicLR)  # stepped every batch; the rest once per epoch


def _check_arguments(partial: Any, key: str, **supplied: Any) -> None:
    """A partial from the config that lacks a required argument (``StepLR`` without ``step_size``, a
    removed ``max_lr``) is named with its config key, instead of a TypeError from deep inside."""
    func = getattr(partial, "func", None)
    if func is None:
        return
    try:
        inspect.signature(func).bind(*partial.args, **{**partial.keywords, **supplied})
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        name = missing[0] if missing else "<argument>"
        raise UserError(f"{key}: {func.__name__} {exc}; add {key}.{name}=<value> (conf/{key}/ has examples)") from None


def configure_optimizers(module: pl.LightningModule, make_optimizer: Callable[..., torch.optim.Optimizer],
                         make_scheduler: Optional[Callable[..., Any]], monitor: str) -> Any:
    """What ``LightningModule.configure_optimizers`` returns for these partials.

    Args:
        module: the module whose parameters are optimised (its trainer gives OneCycleLR's step count).
        make_optimizer: partial optimizer, completed with ``params``.
        make_scheduler: partial LR scheduler or None.
        monitor: the metric ReduceLROnPlateau watches.
    """
    _check_arguments(make_optimizer, "optimizer", params=None)
    try:
        optimizer = make_optimizer(params=module.parameters())
    except ValueError as exc:  # torch checks lr, betas, momentum ... here
        raise UserError(f"optimizer: {exc}") from None
    if make_scheduler is None:
        return optimizer
    extra = {}
    target = getattr(make_scheduler, "func", None)
    if target is OneCycleLR and not {"total_steps", "epochs"} & set(make_scheduler.keywords):
        extra["total_steps"] = int(module.trainer.estimated_stepping_batches)
    _check_arguments(make_scheduler, "scheduler", optimizer=optimizer, **extra)
    try:
        scheduler = make_scheduler(optimizer=optimizer, **extra)
    except ValueError as exc:
        raise UserError(f"scheduler: {exc}") from None
    config = {"scheduler": scheduler, "interval": "step" if isinstance(scheduler, _STEP_SCHEDULERS) else "epoch"}
    if isinstance(scheduler, ReduceLROnPlateau):
        config["monitor"] = monitor
    return {"optimizer": optimizer, "lr_scheduler": config}
