"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

import shutil
import signal
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.config.errors import UserError


class EpochSeed(pl.Callback):
    """Reseed torch's global RNG from (seed, epoch) at the start of every training epoch.

    Lightning checkpoints do not carry the global RNG, so dropout masks after a resume would
    differ from an uninterrupted run; reseeding per epoch makes epoch k draw the same numbers
    either way. Together with trainlab.data.timeseries.windows.EpochSeededSampler, a run resumed from an
    epoch-end checkpoint ends with the same weights as one that never stopped.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        torch.manual_seed(self.seed * 7_919 + trainer.current_epoch)


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Lightning's ModelCheckpoint that keeps its top-k when a run is resumed into a new run folder.

    Every ``train.py`` command writes a new run folder, resumes included. Lightning forgets the kept
    checkpoints and their scores when the folder changes, so a resumed run would call its first new
    epoch "best" even if an earlier one was better. Here the earlier run's kept checkpoints are
    copied into the new folder and their scores carried over: the resumed run tests (and reports)
    the same best checkpoint an uninterrupted run would, and its folder is complete on its own.
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Lightning warns about a checkpoint folder that is not empty; a requeued SLURM job continues in
        its own folder (trainlab.run.preemption) and finds its own checkpoints there."""
        from trainlab.run.preemption import is_requeued_attempt

        with warnings.catch_warnings():
            if is_requeued_attempt():
                warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            super().setup(trainer, pl_module, stage)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old_dir = state_dict.get("dirpath")
        if self.dirpath is None or old_dir is None or Path(old_dir) == Path(self.dirpath):
            super().load_state_dict(state_dict)
            return
        new_dir = Path(self.dirpath)
        new_dir.mkdir(parents=True, exist_ok=True)

        def carried(path: str) -> str:
            """The file's copy in this run's folder ("" when the earlier file is gone)."""
            if not path or not Path(path).is_file():
                return ""
            copy = new_dir / Path(path).name
            if not copy.exists():
                shutil.copy2(path, copy)
            return str(copy)

        best_k = {carried(p): score for p, score in state_dict.get("best_k_models", {}).items()}
        best_k.pop("", None)
        super().load_state_dict({
            **state_dict,
            "dirpath": self.dirpath,
            "best_k_models": best_k,
            "best_model_path": carried(state_dict.get("best_model_path", "")),
            "kth_best_model_path": carried(state_dict.get("kth_best_model_path", "")),
            "last_model_path": carried(state_dict.get("last_model_path", "")),
        })


class CheckpointOnException(pl.Callback):
    """Save ``<dirpath>/<filename>.ckpt`` when training ends by an exception (Ctrl-C included).

    Lightning's OnExceptionCheckpoint does the same, but its presence also makes every ``fit`` without
    a ``ckpt_path`` look for a "last" checkpoint to resume from, with a warning; runs here resume only
    when ``ckpt_path`` says so.

    Args:
        dirpath: folder of the checkpoint (the run's checkpoints/).
        filename: file name without ``.ckpt``.
    """

    def __init__(self, dirpath: str, filename: str = "on_exception"):
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        trainer.save_checkpoint(self.path)


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


class FiniteLoss(pl.Callback):
    """Stop at the first training loss that is NaN or infinite, with the epoch and step in the message.

    Checked every step (one host sync per step, negligible beside the step itself). The run's records
    and an on-exception checkpoint are still written by their callbacks; in a sweep the trial is
    recorded FAIL with this message.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None or bool(torch.isfinite(loss).all()):
            return
        raise UserError(
            f"the training loss became {float(loss)} at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step} (batch {batch_idx} of the epoch); lower optimizer.lr, set "
            "trainer.gradient_clip_val=1.0, or look for extreme or missing values in the data"
        )


class SignalStop(Exception):
    """Raised inside training by :class:`StopOnSignal` (the signal's name as message), so that
    Lightning's exception hooks write the checkpoint and the records."""


class StopOnSignal(pl.Callback):
    """Stops training at the next batch boundary once :meth:`handler` has received a signal.

    A handler that raised at once could land inside a checkpoint save or a DataLoader; a batch
    boundary is a clean place, and batches here take milliseconds to seconds. Installed, with its
    handler, by :func:`trainlab.run.preemption.stop_on_signals`.

    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self.epoch: Optional[int] = None
        self.previous: dict[int, Any] = {}

    def handler(self, signum: int, frame: Any) -> None:
        self.received.append(signal.Signals(signum).name)
        previous = self.previous.get(signum)
        # SIGTERM goes on to a handler that was there before (a sweep's, which stops the sweep); the
        # handler of submitit's time-limit signal is not called: it would exit from inside training
        if signum == signal.SIGTERM and callable(previous):
            previous(signum, frame)

    def _check(self, trainer: pl.Trainer) -> None:
        self.epoch = trainer.current_epoch
        if self.received:
            raise SignalStop(self.received[0])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._check(trainer)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        if not trainer.sanity_checking:
            self._check(trainer)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)
