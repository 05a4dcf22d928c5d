"""Optimizer and LR-scheduler wiring shared by every LightningModule of this project.

Configs hand modules partial constructors (``_partial_: true``); :func:`configure_optimizers` completes
them with the parameters, the trainer's step count (OneCycleLR) and the monitored metric (plateau).
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from torch.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau

from trainlab.config.errors import UserError

_STEP_SCHEDULERS = (OneCycleLR, CyclicLR)  # stepped every batch; the rest once per epoch
# how many of a run's scheduler steps are tried before it trains (a step of torch's schedulers costs ~10 us)
TRIED_STEPS = 5000


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


def _refused_value(partial: Any, exc: ValueError) -> str:
    """torch's own check of an optimizer's argument names neither the key nor a value it takes (``Invalid learning
    rate: -1``, ``Invalid beta parameter at index 0: 1.5``, ``Invalid weight_decay value: -0.1``): the key whose value
    its message quotes, and that argument's default as an example; torch's words alone where no key holds it."""
    func, keywords = getattr(partial, "func", None), getattr(partial, "keywords", None) or {}
    quoted = str(exc).rpartition(":")[2].strip()
    for key, value in keywords.items():
        values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        try:
            held = any(isinstance(v, (int, float)) and float(v) == float(quoted) for v in values)
        except ValueError:  # the message ends in no number
            break
        if held:
            shown = f"[{', '.join(str(v) for v in values)}]" if len(values) > 1 or values != [value] else str(value)
            parameter = inspect.signature(func).parameters.get(key) if func is not None else None
            default = None if parameter is None else parameter.default
            written = f"[{','.join(str(d) for d in default)}]" if isinstance(default, tuple) else str(default)
            example = (f" (e.g. its default, optimizer.{key}={written})"
                       if isinstance(default, (int, float, tuple)) and not isinstance(default, bool) else "")
            return (f"optimizer.{key}={shown} is refused by {func.__name__ if func else 'the optimizer'} ({exc}); give a "
                    f"value it takes{example}")
    return f"optimizer: {exc}"


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
        raise UserError(_refused_value(make_optimizer, exc)) from None
    momentum = optimizer.defaults.get("momentum")
    if isinstance(momentum, (int, float)) and momentum >= 1:  # torch checks >= 0 only (SGD, RMSprop)
        raise UserError(f"optimizer.momentum={momentum} must be below 1 (e.g. optimizer.momentum=0.9): at 1 or more "
                        "each step adds all of the step before, and the weights run away")
    target = getattr(make_scheduler, "func", None)
    if not _moves(optimizer) and (make_scheduler is None or _scales_the_rate(target)):
        scaled = f" ({target.__name__} only scales it)" if make_scheduler is not None else ""
        raise UserError(f"optimizer.lr={_rates(optimizer)} trains nothing{scaled}: each step moves a weight by the "
                        "learning rate times its update; give one above 0 (e.g. optimizer.lr=0.001)")
    if make_scheduler is None:
        return optimizer
    extra = {}
    if target is OneCycleLR and not {"total_steps", "epochs"} & set(make_scheduler.keywords):
        extra["total_steps"] = int(module.trainer.estimated_stepping_batches)
    _check_arguments(make_scheduler, "scheduler", optimizer=optimizer, **extra)
    try:
        scheduler = make_scheduler(optimizer=optimizer, **extra)
    except (ValueError, ArithmeticError) as exc:  # torch's checks ("Factor should be < 1.0.", without the key),
        # or a division by zero (CyclicLR's step_size_up=0)
        raise UserError(f"scheduler: {_named(make_scheduler)} cannot be built: {exc}; {_CHANGE}") from None
    config = {"scheduler": scheduler, "interval": "step" if isinstance(scheduler, _STEP_SCHEDULERS) else "epoch"}
    if isinstance(scheduler, ReduceLROnPlateau):  # it steps on a metric, so it is not tried: its counts checked
        _check_plateau(scheduler, make_scheduler)
        config["monitor"] = monitor
    else:
        _try_schedule(make_optimizer, make_scheduler, extra, _run_steps(_trainer_of(module), config["interval"]))
    return {"optimizer": optimizer, "lr_scheduler": config}


def _check_plateau(scheduler: ReduceLROnPlateau, make_scheduler: Callable[..., Any]) -> None:
    """What ReduceLROnPlateau's constructor lets through: a negative ``patience`` cuts the learning rate after
    every validation, improving or not, a negative ``cooldown`` or ``threshold`` acts as 0 or counts a worse
    value as better, a negative ``min_lr`` lets the rate fall below 0."""
    for key, value in (("patience", scheduler.patience), ("cooldown", scheduler.cooldown),
                       ("threshold", scheduler.threshold), ("min_lr", min(scheduler.min_lrs)), ("eps", scheduler.eps)):
        if value < 0:
            raise UserError(f"scheduler.{key}={value} must be 0 or more ({_named(make_scheduler)}); {_CHANGE}")


def _trainer_of(module: pl.LightningModule) -> Optional[pl.Trainer]:
    """The trainer that holds ``module``, or None (Lightning's ``module.trainer`` raises outside one)."""
    try:
        return module.trainer
    except RuntimeError:  # "... is not attached to a `Trainer`": a loop of one's own, a test
        return None


def _run_steps(trainer: Optional[pl.Trainer], interval: str) -> Optional[int]:
    """How many times Lightning will step a scheduler of this ``interval`` in the run (None: not known)."""
    if trainer is None:
        return None
    if interval == "epoch":  # each epoch takes a step at least: max_steps bounds the epochs of max_epochs=-1
        bounds = [n for n in (trainer.max_epochs, trainer.max_steps) if n is not None and n > 0]
        return min(bounds) if bounds else None
    steps = trainer.estimated_stepping_batches
    return int(steps) if math.isfinite(steps) else None


def _try_schedule(make_optimizer: Callable[..., torch.optim.Optimizer], make_scheduler: Callable[..., Any],
                  extra: dict[str, Any], steps: Optional[int]) -> None:
    """Step a copy of the scheduler, over one throwaway parameter, through the run's first ``TRIED_STEPS`` steps.

    Some values fail only when the scheduler steps: CosineAnnealingLR with ``T_max=0`` divides by zero at its
    first step (the end of epoch 1), StepLR with ``step_size=0`` likewise, OneCycleLR given fewer
    ``total_steps`` than the run takes raises once it passes them, and a ``gamma`` below 0 makes the learning
    rate negative (the optimizer then climbs the loss, without a word). Tried here they are named before
    anything trains instead of in a traceback an epoch, or hours, later.
    """
    tried = TRIED_STEPS if steps is None else min(steps, TRIED_STEPS)
    of_run = "" if steps is None else f" of this run's {steps}"
    optimizer = make_optimizer(params=[torch.nn.Parameter(torch.zeros(1))])
    step = 0
    try:
        trial = copy.deepcopy(make_scheduler)  # a stateful lr_lambda of one's own is stepped in a copy, not the run's
    except Exception:  # noqa: BLE001 - what cannot be copied (a lambda is shared, and stateless) is tried itself
        trial = make_scheduler
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()": nothing is optimised
            scheduler = trial(optimizer=optimizer, **extra)
            moved = _moves(optimizer)  # a warm-up from 0 (LambdaLR) moves from its second step on
            for step in range(1, tried + 1):
                scheduler.step()
                moved = moved or _moves(optimizer)
                rates = [group["lr"] for group in optimizer.param_groups]
                bad = next((rate for rate in rates if not (math.isfinite(rate) and rate >= 0)), None)
                if bad is not None:
                    raise UserError(f"scheduler: {_named(make_scheduler)} takes the learning rate to {bad:.4g} at its step "
                                    f"{step}{of_run}; a learning rate must stay finite and >= 0: {_CHANGE}")
    except UserError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:  # torch's schedulers on values they do not take
        raise UserError(f"scheduler: {_named(make_scheduler)} fails at its step {step}{of_run}: {exc}; "
                        f"{_CHANGE}") from None
    except Exception as exc:  # noqa: BLE001 - only the scheduler runs here: a lr_lambda of one's own, say, raising
        raise UserError(f"scheduler: {_named(make_scheduler)} fails at its step {step}{of_run}: "
                        f"{type(exc).__name__}: {exc}; the error is in its code or values") from None
    if not moved:  # optimizer.lr=0 (the scheduler scales it), or a schedule that holds the rate at 0
        raise UserError(f"scheduler: {_named(make_scheduler)} keeps the learning rate at 0 through its {tried} steps"
                        f"{of_run} (optimizer.lr={_rates(make_optimizer(params=[torch.nn.Parameter(torch.zeros(1))]))}): "
                        "nothing would train; give optimizer.lr above 0 (e.g. optimizer.lr=0.001), or " + _CHANGE)


def _scales_the_rate(target: Any) -> bool:
    """Whether ``target`` is one of torch's schedulers that multiply the optimizer's learning rate (cosine,
    plateau, step, lambda, ...): from 0 they stay at 0, or climb to a floor of their own (cosine's ``eta_min``).
    OneCycleLR and CyclicLR set the rate from their own values; a scheduler of one's own is tried instead."""
    return (isinstance(target, type) and target.__module__ == torch.optim.lr_scheduler.__name__
            and not issubclass(target, _STEP_SCHEDULERS))


def _moves(optimizer: torch.optim.Optimizer) -> bool:
    """Whether a step of ``optimizer`` can change a weight: some group's learning rate is above 0."""
    return any(float(group["lr"]) > 0 for group in optimizer.param_groups)


def _rates(optimizer: torch.optim.Optimizer) -> str:
    """The groups' learning rates, as given: ``0`` (one group), ``[0, 0.001]``."""
    rates = [float(group["lr"]) for group in optimizer.param_groups]
    return f"{rates[0]:g}" if len(set(rates)) == 1 else "[" + ", ".join(f"{rate:g}" for rate in rates) + "]"


_CHANGE = "change these values (conf/scheduler/ shows working ones)"


def _named(make_scheduler: Callable[..., Any]) -> str:
    """``CosineAnnealingLR (scheduler.T_max=0, scheduler.eta_min=1e-06)``: the class and the values it was given."""
    func = getattr(make_scheduler, "func", None)
    if func is None:  # a callable of one's own (from Python), not a partial of the config
        return getattr(make_scheduler, "__name__", repr(make_scheduler))
    values = ", ".join(f"scheduler.{key}={value}" for key, value in make_scheduler.keywords.items())
    return f"{func.__name__} ({values})"
