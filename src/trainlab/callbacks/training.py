"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.config.errors import UserError
from trainlab.models.step_logging import logs_this_step


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

    Step values (``train/loss_step``) are not logged with ``prog_bar=True``: Lightning turns every
    progress-bar value into a Python float after every batch, a host-device synchronisation per step
    on a GPU. The bar reads them itself, once per logging step (when Lightning's loggers read them
    anyway), and shows the last value read.

    Args:
        min_interval_s: least time between two redraws during training.
        step_keys: step-level metrics shown as last logged.
        **kwargs: passed to lightning's RichProgressBar (refresh_rate, leave, theme, ...).
    """

    def __init__(self, min_interval_s: float = 0.1, step_keys: tuple[str, ...] = ("train/loss_step",), **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self.step_keys = tuple(step_keys)
        self._last_draw = 0.0
        self._step_values: dict[str, float] = {}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if logs_this_step(trainer):
            logged = trainer.callback_metrics
            self._step_values.update({k: float(logged[k]) for k in self.step_keys if k in logged})
        now = time.monotonic()
        last_batch = batch_idx + 1 >= self.total_train_batches
        if now - self._last_draw < self.min_interval_s and not last_batch:
            return
        self._last_draw = now
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        metrics = {**self._step_values, **super().get_metrics(trainer, pl_module)}
        metrics.pop("v_num", None)
        return metrics


class FiniteLoss(pl.Callback):
    """Stop at a training loss that is NaN or infinite, naming the epoch and step where it first was.

    Reading the loss after every step would make the host wait for the GPU every step (a
    host-device synchronisation stops the CPU from queueing the next step while the GPU works).
    So each step only copies its loss into a small buffer on the device (one kernel, no wait), and
    the host reads the buffer, once, on the steps whose metrics Lightning writes to the loggers
    (every ``trainer.log_every_n_steps``: logging reads values then anyway), or every
    ``check_every_n_steps`` steps when set, and at every epoch's end. The steps' epoch, global step
    and batch are kept as plain Python numbers meanwhile, so the message names the first non-finite
    loss even though training ran on for a few steps. The run's records and an on-exception
    checkpoint are still written by their callbacks; in a sweep the trial is recorded FAIL with
    this message.

    Args:
        check_every_n_steps: steps between two reads of the buffer (null: on the logging steps).
    """

    def __init__(self, check_every_n_steps: Optional[int] = None):
        if check_every_n_steps is not None and check_every_n_steps < 1:
            raise UserError(f"callbacks.finite_loss.check_every_n_steps={check_every_n_steps} must be at least 1")
        self.check_every_n_steps = check_every_n_steps
        self._steps: list[tuple[int, int, int]] = []  # (epoch, global step, batch) since the last read
        self._losses: Optional[torch.Tensor] = None  # their losses, on the device

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        n = len(self._steps)
        if self._losses is None or n == len(self._losses) or self._losses.device != loss.device:
            self._grow(loss.device, max(2 * n, self.check_every_n_steps or trainer.log_every_n_steps, 16))
        loss = loss.detach()
        self._losses[n].copy_(loss if loss.dim() == 0 else loss.sum())  # a sum is finite only if every term is
        self._steps.append((trainer.current_epoch, trainer.global_step, batch_idx))
        due = (len(self._steps) >= self.check_every_n_steps if self.check_every_n_steps
               else logs_this_step(trainer))
        if due:
            self._check()

    def _grow(self, device: torch.device, size: int) -> None:
        grown = torch.zeros(size, dtype=torch.float32, device=device)
        if self._losses is not None and self._steps:
            grown[: len(self._steps)].copy_(self._losses[: len(self._steps)])
        self._losses = grown

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check()

    def _check(self) -> None:
        """Read the buffer (one host-device synchronisation); raise if a loss since the last read was bad."""
        if self._losses is None or not self._steps:
            return
        values = self._losses[: len(self._steps)].tolist()
        bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
        if bad is not None:
            epoch, step, batch_idx = self._steps[bad]
            raise UserError(
                f"the training loss became {values[bad]} at epoch {epoch}, step {step} (batch "
                f"{batch_idx} of the epoch); lower optimizer.lr, set trainer.gradient_clip_val=1.0, or look "
                "for extreme or missing values in the data"
            )
        self._steps.clear()
