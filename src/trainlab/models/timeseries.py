"""The regression task: one LightningModule for every time-series net."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch
from torch import nn
from torchmetrics import MetricCollection

from trainlab.config.errors import UserError
from trainlab.metrics.regression import (AverageAbsoluteAccuracy, MeanAbsolutePercentageError,
                                        MeanAbsoluteScaledError, RootMeanSquaredError, StandardR2,
                                        SymmetricMeanAbsolutePercentageError, zero_floor)
from trainlab.models.step_logging import record_train_loss
from trainlab.models.task import NetCall, TaskModule
from trainlab.models.window_scaling import DEFAULT as DEFAULT_WINDOW_SCALING, WindowScaler

LOSSES: dict[str, Callable[[], nn.Module]] = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}


class RegressionModule(TaskModule):
    """Trains a net that maps (batch, window, inputs) to (batch, steps x targets).

    The net's output is read as (batch, steps, targets) and, with ``window_scaling``, mapped back
    from the window's own scale (see trainlab.models.window_scaling). The loss is computed on the
    data module's standardised targets; metrics (RMSE, MAPE, sMAPE, MASE, average absolute
    accuracy) in the targets' original units over every step and target, with the error taken in
    standard units before it is scaled by ``target_std`` (exact for a series far from 0, see
    trainlab.metrics.regression); R2 per target on the standardised values, averaged. Logged keys:
    ``train/loss``, ``val/loss``, ``val/rmse``, ``val/mape``, ``val/smape``, ``val/mase``, ``val/r2``,
    ``val/aaa`` and the same under ``test/``.

    Args:
        net: the network (see trainlab.models.nets).
        optimizer: partial optimizer, completed with the parameters in configure_optimizers.
        scheduler: partial LR scheduler or None; OneCycleLR gets ``total_steps`` from the trainer.
        loss: "mse", "mae" or "huber".
        target_mean, target_std: per-target scaling used by the data module (from the data).
        monitor: metric ReduceLROnPlateau watches.
        window_scaling: "none", "revin" or "last" (see trainlab.models.window_scaling; its DEFAULT).
            A checkpoint is rebuilt with the mode it was trained with, whatever the default is now
            (trainlab.run.trained; one from before the setting existed: "none", ADDED_LATER).
        target_channels: input channel of each target's past values (from the data).
        steps: consecutive steps predicted per window (from the data).
        mase_scale: per-target MASE denominator in original units (from the data; 1 when absent).
        compile: compile the net's forward with torch.compile (see TaskModule).
    """

    family = "timeseries"  # trainlab.config.families: models and data of one family go together
    ADDED_LATER = {"window_scaling": "none"}  # checkpoints written before it existed scaled globally only

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
        window_scaling: str = DEFAULT_WINDOW_SCALING,
        target_channels: Sequence[int] = (),
        steps: int = 1,
        mase_scale: Optional[Sequence[float]] = None,
    ):
        super().__init__(net, optimizer, scheduler, compile)
        if loss not in LOSSES:
            raise UserError(f"model.loss={loss!r} is not one of {', '.join(LOSSES)}")
        # The partials stay out of the checkpoint's hyperparameters: they would need pickled code,
        # which torch.load(weights_only=True) refuses. train.py logs the whole config instead.
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.criterion = LOSSES[loss]()
        self.scaler = WindowScaler(window_scaling, target_channels)
        self.steps = steps
        self.register_buffer("target_mean", torch.tensor(list(target_mean or [0.0]), dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(list(target_std or [1.0]), dtype=torch.float32))
        # not saved in the state dict: checkpoints written before MASE existed still load strictly
        self.register_buffer("mase_scale", torch.tensor(list(mase_scale or [1.0]), dtype=torch.float32),
                             persistent=False)
        metrics = MetricCollection({
            "rmse": RootMeanSquaredError(),
            "mape": MeanAbsolutePercentageError(),
            "smape": SymmetricMeanAbsolutePercentageError(),
            "mase": MeanAbsoluteScaledError(),
            "r2": StandardR2(),
            "aaa": AverageAbsoluteAccuracy(),
        }, compute_groups=False)  # groups form from equal states: a first batch with zero error would merge them
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, window, inputs) -> (batch, steps, targets) in the data module's standard units;
        (batch, targets) when steps is 1, the shape of the data module's targets."""
        scaled, centre, spread = self.scaler.scale(x)
        out = self.checked_output(self.net(scaled), (x.shape[0], self.steps * len(self.target_std)),
                                  "(batch, data.steps x targets)", flat=True)  # step-major; or (batch, steps, targets)
        y = self.scaler.unscale(out.reshape(x.shape[0], self.steps, -1), centre, spread)
        return y[:, 0] if self.steps == 1 else y

    def net_call(self, batch: tuple[torch.Tensor, torch.Tensor]) -> NetCall:
        x = batch[0][:2]
        n, targets = x.shape[0], len(self.target_std)
        return NetCall({"x": self.scaler.scale(x)[0]}, (n, self.steps * targets),
                       f"(batch, data.steps x targets) = ({n}, {self.steps} x {targets})",
                       f"the data gives {targets} target(s) and data.steps={self.steps}: build the last layer with "
                       f"the output_size the pipeline passes (model.net.output_size: null takes it from the data)",
                       flat=True)

    def to_original_units(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.target_std + self.target_mean

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch  # (batch, window, inputs), (batch, [steps,] targets)
        pred = self(x)
        loss = self.criterion(pred, y)
        if stage == "train":
            record_train_loss(self, loss, weight=x.shape[0])
            return loss
        (self.val_loss if stage == "val" else self.test_loss).update(loss, weight=x.shape[0])
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        # (batch, [steps,] targets) flattened to (samples, targets): one code path for any number of
        # steps and targets. The error is taken in standard units, then scaled: no cancellation at 1e9
        n = len(self.target_std)
        pred, y = pred.reshape(-1, n), y.reshape(-1, n)
        error = (pred - y) * self.target_std
        metrics.update(error=error, target=self.to_original_units(y), pred=self.to_original_units(pred),
                       floor=zero_floor(self.mase_scale), scaled_error=error / self.mase_scale,
                       standard_pred=pred, standard_target=y)
        return loss

    def eval_metrics(self, stage: str) -> tuple[MetricCollection, ...]:
        return (self.val_metrics if stage == "val" else self.test_metrics,)

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, _ = batch
        return self.to_original_units(self(x))
