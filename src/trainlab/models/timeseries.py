"""The regression task: one LightningModule for every time-series net."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.regression import MeanAbsolutePercentageError, MeanSquaredError, R2Score

from trainlab.config.errors import UserError
from trainlab.metrics.aggregation import WeightedMean
from trainlab.metrics.regression import AverageAbsoluteAccuracy
from trainlab.models.optim import configure_optimizers
from trainlab.models.step_logging import log_eval_epoch, record_train_loss

LOSSES: dict[str, Callable[[], nn.Module]] = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}


class RegressionModule(pl.LightningModule):
    """Trains a net that maps (batch, window, features) to (batch, targets).

    The loss is computed on standardised targets; metrics (RMSE, MAPE, R2, average absolute
    accuracy) on targets mapped back to their original units with ``target_mean``/``target_std``.
    Logged keys: ``train/loss``, ``val/loss``, ``val/rmse``, ``val/mape``, ``val/r2``, ``val/aaa``
    and the same under ``test/``.

    Args:
        net: the network (see trainlab.models.nets).
        optimizer: partial optimizer, completed with the parameters in configure_optimizers.
        scheduler: partial LR scheduler or None; OneCycleLR gets ``total_steps`` from the trainer.
        loss: "mse", "mae" or "huber".
        target_mean, target_std: per-target scaling used by the data module (from the data).
        monitor: metric ReduceLROnPlateau watches.
        compile: compile the net's forward with torch.compile (``nn.Module.compile``: the weights and
            checkpoint keys stay those of the plain net). Pays off on GPUs and long runs; the first
            steps wait for compilation.
    """

    family = "timeseries"  # trainlab.config.families: models and data of one family go together

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Optional[Callable[..., Any]] = None,
        loss: str = "mse",
        target_mean: Optional[Sequence[float]] = None,
        target_std: Optional[Sequence[float]] = None,
        monitor: str = "val/loss",
        compile: bool = False,
    ):
        super().__init__()
        if loss not in LOSSES:
            raise UserError(f"model.loss={loss!r} is not one of {', '.join(LOSSES)}")
        # The partials stay out of the checkpoint's hyperparameters: they would need pickled code,
        # which torch.load(weights_only=True) refuses. train.py logs the whole config instead.
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        if compile:
            self.net.compile()
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        self.criterion = LOSSES[loss]()
        self.register_buffer("target_mean", torch.tensor(list(target_mean or [0.0]), dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(list(target_std or [1.0]), dtype=torch.float32))
        metrics = MetricCollection({
            "rmse": MeanSquaredError(squared=False),
            "mape": MeanAbsolutePercentageError(),
            "r2": R2Score(),
            "aaa": AverageAbsoluteAccuracy(),
        })
        self.train_loss = WeightedMean()  # no host read per step (see WeightedMean)
        self.val_loss, self.test_loss = WeightedMean(), WeightedMean()
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def to_original_units(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.target_std + self.target_mean

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch  # (batch, window, features), (batch, targets)
        pred = self(x)
        loss = self.criterion(pred, y)
        if stage == "train":
            record_train_loss(self, loss, weight=x.shape[0])
            return loss
        (self.val_loss if stage == "val" else self.test_loss).update(loss, weight=x.shape[0])
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        # (batch, targets) flattened to (batch * targets): one code path for one or several targets
        metrics.update(self.to_original_units(pred).flatten(), self.to_original_units(y).flatten())
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def on_train_epoch_end(self) -> None:
        self.log("train/loss_epoch", self.train_loss, prog_bar=True)  # computed and reset by Lightning

    def validation_step(self, batch, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        log_eval_epoch(self, "val", self.val_metrics)

    def test_step(self, batch, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        log_eval_epoch(self, "test", self.test_metrics)

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, _ = batch
        return self.to_original_units(self(x))

    def configure_optimizers(self):
        return configure_optimizers(self, self.make_optimizer, self.make_scheduler, self.hparams.monitor)
