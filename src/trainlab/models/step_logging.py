"""How the task modules log losses and metrics: no host read per training step, no ``self.log`` per batch."""

from __future__ import annotations

from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch

from trainlab.metrics.undefined import say_undefined


def logs_this_step(trainer: pl.Trainer) -> bool:
    """Whether Lightning writes step metrics to the loggers after the current training batch.

    Lightning decides this in a private property (``_LoggerConnector.should_update_logs``: every
    ``log_every_n_steps`` batches counted from 1, never when it is 0, and on the step that stops the
    run). It is read here, in one place, so that our per-step work happens on exactly those steps:
    a value logged on another step would reach the loggers up to ``log_every_n_steps - 1`` steps
    stale, and a read on another step would be a second host-device synchronisation.
    """
    return bool(trainer._logger_connector.should_update_logs)


def record_train_loss(module: pl.LightningModule, loss: torch.Tensor, weight: Union[torch.Tensor, float],
                      batch_size: Optional[int] = None) -> None:
    """Add the step's loss to the epoch mean (``module.train_loss``) and log ``train/loss_step``.

    The epoch mean stays on the device (trainlab.metrics.aggregation.WeightedMean). The step value
    goes to Lightning only on the steps its loggers write (:func:`logs_this_step`):
    ``self.log`` costs ~1 ms a call, a tenth of a small LSTM step. It is not flagged ``prog_bar``:
    Lightning converts every progress-bar value to a Python float after every batch, which on a GPU
    is a host-device synchronisation per step even when the value did not change; the progress bar
    (trainlab.callbacks.training.RichProgressBar) shows the last logged value instead.
    """
    module.train_loss.update(loss, weight)
    # also on the run's first step: runs shorter than the logging interval still show a step loss
    if logs_this_step(module.trainer) or module.trainer.global_step == 0:
        module.log("train/loss_step", loss.detach(), on_step=True, on_epoch=False, batch_size=batch_size)


def log_eval_epoch(module: pl.LightningModule, stage: str, *collections: Any, shown: tuple[str, ...] = ()) -> None:
    """At a validation or test epoch's end: log ``<stage>/loss`` and every metric of ``collections``.

    During the epoch the modules only update their metric objects (``<stage>_loss``, a
    WeightedMean, and the torchmetrics collections): each ``self.log`` call costs Lightning's
    bookkeeping, and a handful per batch made up several percent of an epoch of the default LSTM.
    Logged here once, as objects, Lightning computes them (synchronised across processes by
    torchmetrics) and resets them. ``shown`` names the metrics, without prefix, also put on the
    progress bar (the loss always is).
    """
    module.log(f"{stage}/loss", getattr(module, f"{stage}_loss"), prog_bar=True)
    # scores undefined on this epoch's data (one class in the targets): NaN, said once, kept for the callbacks; a
    # data module that warned of the split's one class (SkyDataModule.one_class) said it already
    data = getattr(module.trainer, "datamodule", None)
    say_undefined(module, stage, *collections, said_elsewhere=stage in (getattr(data, "one_class", None) or {}))
    for collection in collections:
        for key, metric in collection.items():
            module.log(key, metric, prog_bar=key.split("/", 1)[-1] in shown)
