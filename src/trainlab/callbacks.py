"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

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
    """Lightning's Rich bar without the ``v_num`` entry.

    Our logger versions are long readable labels (model, data, overrides) that the bar would cut
    to a few meaningless characters; the run folder already says which run this is.
    """

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
