"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import torch


class EpochSeed(pl.Callback):
    """Reseed torch's global RNG from (seed, epoch) at the start of every training epoch.

    Lightning checkpoints do not carry the global RNG, so dropout masks after a resume would
    differ from an uninterrupted run; reseeding per epoch makes epoch k draw the same numbers
    either way. Together with trainlab.data.windows.EpochSeededSampler, a run resumed from an
    epoch-end checkpoint ends with the same weights as one that never stopped.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        torch.manual_seed(self.seed * 7_919 + trainer.current_epoch)


class RichProgressBar(pl.callbacks.RichProgressBar):
    """Lightning's Rich bar, redrawn at most ``1 / min_interval_s`` times a second, without ``v_num``.

    Redrawing after every batch cost ~20% of an epoch of the default LSTM on 2 CPU cores (11 ms
    steps); a time limit keeps slow steps updating every batch and fast ones cheap. ``v_num`` would
    show our long version labels cut to a few meaningless characters.

    Args:
        min_interval_s: least time between two redraws during training.
        **kwargs: passed to lightning's RichProgressBar (refresh_rate, leave, theme, ...).
    """

    def __init__(self, min_interval_s: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self._last_draw = 0.0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        now = time.monotonic()
        last_batch = batch_idx + 1 >= self.total_train_batches
        if now - self._last_draw < self.min_interval_s and not last_batch:
            return
        self._last_draw = now
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
