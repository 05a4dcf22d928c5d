"""Checks that need the built model, data and trainer, made before the first training step.

:class:`FitChecks` runs at ``on_fit_start``, when the data are split and the trainer knows its settings: every monitored metric must be one the task
module logs, validation must run where a metric of it is watched, and ``val_check_interval`` must
fit into an epoch. Each failure is one :class:`UserError` line, raised before anything is trained. A resume's
checks are :func:`trainlab.run.resume_checks.check_resume`.
"""

from __future__ import annotations

import logging
from typing import Optional

import lightning.pytorch as pl
from torchmetrics import MetricCollection

from trainlab.config.errors import UserError, did_you_mean

log = logging.getLogger(__name__)

# keys every task module logs itself (training loss per step and per epoch, loss per evaluation stage)
LOSS_KEYS = ("train/loss_step", "train/loss_epoch", "val/loss", "test/loss")


def logged_metrics(module: pl.LightningModule) -> set[str]:
    """The metric keys ``module`` logs: its losses (``LOSS_KEYS`` or the module's own ``loss_keys``)
    and the prefixed keys of every torchmetrics MetricCollection it holds (``val/rmse``, ...)."""
    keys = set(getattr(module, "loss_keys", LOSS_KEYS))
    for child in module.modules():
        if isinstance(child, MetricCollection):
            keys.update(child.keys(keep_base=False))
    return keys


# what a ranking callback's wrong direction does
_KEEPS = ((pl.callbacks.ModelCheckpoint, "model_checkpoint", "the checkpoints kept would be the worst"),
          (pl.callbacks.EarlyStopping, "early_stopping", "it would stop training while the metric still improves"))


def _watchers(trainer: pl.Trainer, module: pl.LightningModule) -> list[tuple[str, str, Optional[str], str, str]]:
    """(setting, metric, mode, mode's setting, what the wrong mode does) of each checkpoint or early-stopping
    callback watching a metric, named by its own key in the callbacks group (``callbacks.best_r2``: a user's
    ModelCheckpoint beside the default was named callbacks.model_checkpoint), and of ``scheduler=plateau``."""
    found = []
    for cb in trainer.callbacks:
        for kind, default, keeps in _KEEPS:
            monitor = getattr(cb, "monitor", None)
            if isinstance(cb, kind) and monitor:
                key = getattr(cb, "trainlab_setting", f"callbacks.{default}")
                found.append((f"{key}.monitor", monitor, getattr(cb, "mode", None), f"{key}.mode", keeps))
    plateau = getattr(module, "make_scheduler", None)
    if "ReduceLROnPlateau" in str(getattr(plateau, "func", "")):
        found.append(("scheduler=plateau (model.monitor)", module.hparams.get("monitor"),
                      getattr(plateau, "keywords", {}).get("mode", "min"),  # ReduceLROnPlateau's default
                      "scheduler.mode", "it would cut the learning rate while the metric still improves"))
    return found


def _monitors(trainer: pl.Trainer, module: pl.LightningModule, optimized_metric: str) -> dict[str, str]:
    """Setting name -> the metric it watches."""
    return {"optimized_metric": optimized_metric,
            **{setting: metric for setting, metric, *_ in _watchers(trainer, module)}}


def _against_direction(module: pl.LightningModule, metric: str, mode: Optional[str], key: str = "optimized_mode",
                       keeps: str = "checkpoints, early stopping and a sweep would keep the worst") -> Optional[str]:
    """``optimized_mode`` (or the setting ``key``) against the direction of the metric it ranks (a loss is better
    smaller; a torchmetrics metric says so in ``higher_is_better``): ``optimized_metric=val/rmse optimized_mode=max``
    kept the three worst checkpoints, tested the worst and stopped early when the error stopped rising, without a
    word. ``keeps``: what the wrong direction does."""
    if mode not in ("min", "max"):
        return None
    higher = False if metric in set(getattr(module, "loss_keys", LOSS_KEYS)) else None
    for child in module.modules():
        if higher is None and isinstance(child, MetricCollection):
            found = dict(child.items(keep_base=False)).get(metric)
            higher = getattr(found, "higher_is_better", None)
            if higher is None:  # a wrapper (LambdaInputTransformer: a binary AUROC on the positive class) leaves it
                higher = getattr(getattr(found, "wrapped_metric", None), "higher_is_better", None)
    if higher is None or higher == (mode == "max"):
        return None
    wanted = "max" if higher else "min"
    return (f"{key}={mode} ranks {metric} {'largest' if mode == 'max' else 'smallest'} first, but a "
            f"{'larger' if higher else 'smaller'} {metric.rsplit('/', 1)[-1]} is better: {keeps}; set {key}={wanted}")


def _callbacks_against_direction(trainer: pl.Trainer, module: pl.LightningModule,
                                 optimized_metric: str) -> Optional[str]:
    """A checkpoint or early-stopping callback, or ``scheduler=plateau``, watching another metric than
    ``optimized_metric`` (``callbacks.model_checkpoint.monitor=val/r2``) ranks it by its ``mode``, which follows
    ``optimized_mode`` (``min`` for val/loss) unless set: the direction checked for optimized_mode alone, so such a
    run kept its three worst r2 without a word. A callback on ``optimized_metric`` itself keeps a mode set on purpose."""
    for setting, monitor, mode, mode_key, keeps in _watchers(trainer, module):
        if monitor and monitor != optimized_metric:
            wrong_way = _against_direction(module, monitor, mode, mode_key, keeps)
            if wrong_way:
                shown = (f"model.monitor={monitor} (scheduler=plateau)" if mode_key == "scheduler.mode"
                         else f"{setting}={monitor}")
                return f"{shown} with {wrong_way}"
    return None


def validation_off(trainer: pl.Trainer) -> Optional[str]:
    """Why validation never runs in this fit, or None when it does."""
    if trainer.limit_val_batches == 0:
        return f"trainer.limit_val_batches={trainer.limit_val_batches} switches validation off"
    every = trainer.check_val_every_n_epoch
    if every is not None and trainer.max_epochs not in (None, -1) and every > trainer.max_epochs:
        return (f"trainer.check_val_every_n_epoch={every} is more than trainer.max_epochs={trainer.max_epochs}, "
                "so validation never runs")
    return None


def _steps_before_validation(trainer: pl.Trainer, batches: Optional[int]) -> Optional[int]:
    """Optimizer steps a fresh fit takes before its first validation (None when that cannot be known: a
    loader without a length, an interval in time). Lightning validates after the ``val_check_interval``-th
    batch of every ``check_val_every_n_epoch``-th epoch (an int interval with that null: of the fit), and
    not when ``trainer.max_steps`` ends training between two checks."""
    interval, every = trainer.val_check_interval, trainer.check_val_every_n_epoch
    if every is None:
        first_batch = interval if isinstance(interval, int) else None
    elif batches is None or isinstance(interval, int) and interval > batches:
        first_batch = None  # an interval longer than an epoch: refused on its own
    else:
        within = interval if isinstance(interval, int) else max(1, int(batches * float(interval)))
        first_batch = (every - 1) * batches + within
    if first_batch is None:
        return None
    accumulate = max(1, int(getattr(trainer, "accumulate_grad_batches", 1) or 1))
    return -(-first_batch // accumulate)


def _train_batches(trainer: pl.Trainer) -> Optional[int]:
    """Training batches per epoch, after ``limit_train_batches`` (None when the loader has no length)."""
    datamodule = trainer.datamodule
    try:
        batches = len(datamodule.train_dataloader())
    except (TypeError, NotImplementedError, AttributeError):
        return None
    limit = trainer.limit_train_batches
    if isinstance(limit, int):
        return min(batches, limit)
    return int(batches * limit) if limit is not None else batches


def _batch_limit(trainer: pl.Trainer) -> Optional[str]:
    """The setting that cuts an epoch's training batches short, as the fix to it: ``trainer.overfit_batches=1``
    (debug=overfit), ``trainer.limit_train_batches=5`` (debug=limit); None when the epoch is the whole loader."""
    if trainer.overfit_batches:
        return f"trainer.overfit_batches={trainer.overfit_batches} limits them"
    limit = trainer.limit_train_batches  # a whole number counts batches (1: one batch); 1.0 is the whole loader
    if limit is not None and (isinstance(limit, int) or limit != 1.0):
        return f"trainer.limit_train_batches={limit} limits them"
    return None


class FitChecks(pl.Callback):
    """Refuses, at ``on_fit_start`` (data set up, nothing trained yet), settings that would fail or do
    nothing later: a watched metric the module never logs, a validation metric watched while validation
    is off, ``val_check_interval`` or ``accumulate_grad_batches`` longer than an epoch.

    Args:
        optimized_metric: the run's ``optimized_metric`` (what a sweep reads at the end).
        optimized_mode: ``min`` or ``max``, checked against the metric's own direction (None: not checked).
    """

    def __init__(self, optimized_metric: str, optimized_mode: Optional[str] = None):
        self.optimized_metric = optimized_metric
        self.optimized_mode = optimized_mode

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """The net on one batch (trainlab.run.net_checks), before the optimizer takes its parameters."""
        from trainlab.run.net_checks import check_net

        if stage == "fit" and trainer.datamodule is not None:
            check_net(pl_module, trainer.datamodule)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        logged = logged_metrics(pl_module)
        watched = _monitors(trainer, pl_module, self.optimized_metric)
        during_fit = {k for k in logged if not k.startswith("test/")}
        for key, metric in watched.items():
            if metric not in (logged if key == "optimized_metric" else during_fit):
                hint = did_you_mean(metric, sorted(logged), cutoff=0.5)
                raise UserError(f"{key}={metric} is a metric that {type(pl_module).__name__} never logs; "
                                f"{hint + ' ' if hint else ''}"
                                f"during training it logs: {', '.join(sorted(during_fit))} (and test/... after it)")
        wrong_way = (_against_direction(pl_module, self.optimized_metric, self.optimized_mode)
                     or _callbacks_against_direction(trainer, pl_module, self.optimized_metric))
        if wrong_way:
            raise UserError(wrong_way)
        off = validation_off(trainer)
        needing = {k: m for k, m in watched.items() if m.startswith("val/")}
        names = ", ".join(f"{k}={m}" for k, m in needing.items())
        if off and needing:
            raise UserError(f"{off}, but {names} watch(es) validation; turn validation on, or watch a training "
                            "metric: optimized_metric=train/loss_epoch (and callbacks.early_stopping=null)")
        interval = trainer.val_check_interval
        batches = _train_batches(trainer)
        first = _steps_before_validation(trainer, batches)
        if needing and first is not None and 0 <= trainer.max_steps < first and trainer.ckpt_path is None:
            # Lightning's EarlyStopping raised a RuntimeError traceback at the end of such a fit
            raise UserError(f"trainer.max_steps={trainer.max_steps} ends training before the first validation "
                            f"(after {first} step(s)), but {names} watch(es) validation; give trainer.max_steps={first} "
                            f"or more, or validate sooner: trainer.val_check_interval={trainer.max_steps} "
                            f"(batches{', with trainer.check_val_every_n_epoch=null across epochs' if batches is not None and trainer.max_steps > batches else ''})")
        fit_batches = batches * trainer.max_epochs if batches is not None and trainer.max_epochs not in (None, -1) else None
        if needing and trainer.check_val_every_n_epoch is None and isinstance(interval, int) and fit_batches \
                and interval > fit_batches and trainer.ckpt_path is None:
            # trained and tested, then 'optimized_metric=val/loss was never logged' at the very end
            raise UserError(f"trainer.val_check_interval={interval} with trainer.check_val_every_n_epoch=null "
                            f"validates after {interval} training batches, but trainer.max_epochs={trainer.max_epochs} "
                            f"trains {fit_batches} ({batches} an epoch), and {names} watch(es) validation; give "
                            f"trainer.val_check_interval={fit_batches} or less, or more trainer.max_epochs")
        accumulate = int(trainer.accumulate_grad_batches)
        # a smoke run (debug=fdr: fast_dev_run's one batch) checks that the pipeline runs, not its steps
        if batches is not None and 0 < batches < accumulate and not trainer.fast_dev_run:
            # Lightning steps at each epoch's end and divides every batch's loss by the setting: a quarter of the
            # gradient with 4 on a one-batch epoch, while the run logged an effective batch 4x the one it had
            raise UserError(f"trainer.accumulate_grad_batches={accumulate} is more than the {batches} training "
                            f"batch(es) of an epoch: Lightning steps the optimizer at each epoch's end, after "
                            f"{batches}, and scales each batch's gradient by 1/{accumulate}; give at most "
                            f"trainer.accumulate_grad_batches={batches}, or more batches per epoch "
                            f"({_batch_limit(trainer) or 'a smaller data.batch_size'})")
        if isinstance(interval, int) and trainer.check_val_every_n_epoch is not None and batches is not None \
                and interval > batches:
            raise UserError(f"trainer.val_check_interval={interval} is more than the {batches} training batches "
                            f"of an epoch; give at most {batches}, a fraction of an epoch (0.5: twice an epoch), "
                            "or add trainer.check_val_every_n_epoch=null to count batches across epochs")
