"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

import logging
import math
import shutil
import signal
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from trainlab.config.errors import UserError
from trainlab.models.step_logging import logs_this_step
from trainlab.run.durable import copy_file

log = logging.getLogger(__name__)


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
        self._trainer = trainer  # its ckpt_path, when load_state_dict restores this callback from it

    _state_key: Optional[str] = None
    _trainer: Optional[pl.Trainer] = None

    @property
    def state_key(self) -> str:
        """Lightning's key (class name and monitor settings, which are fixed at construction), built
        once: Lightning reads it for every hook it calls on this callback, ~7 times a training step."""
        if self._state_key is None:
            self._state_key = super().state_key
        return self._state_key

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        """Lightning's saves here only every ``every_n_train_steps`` steps or ``train_time_interval``;
        with neither set (checkpoints per epoch, the default) it has nothing to do."""
        if self._every_n_train_steps >= 1 or self._train_time_interval is not None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    # last.ckpt is what a resume continues from (ckpt_path=<run>, a requeued job), so it is written at the
    # end of every training epoch, and only there. Lightning wrote it only when a top-k checkpoint was
    # saved at the same step: an epoch outside the top k (every epoch that early stopping waits out)
    # left last.ckpt epochs behind, so "last" was evaluated and resumed as an older epoch. With several
    # validations an epoch (trainer.val_check_interval < 1) or validation every n epochs, Lightning wrote
    # it after each validation, inside the epoch: a resume from there re-entered the epoch with loaders
    # that start it over, and ended with other weights than the run that was not stopped.
    _epoch_ending = False
    _last_step = 0  # global step of the last.ckpt written (none before the first step, as Lightning's)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning.pytorch.trainer.states import TrainerFn

        self._epoch_ending = True
        try:
            super().on_train_epoch_end(trainer, pl_module)
            if (self.save_last and trainer.state.fn == TrainerFn.FITTING and not trainer.fast_dev_run
                    and not trainer.sanity_checking and self._last_step != trainer.global_step):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        finally:
            self._epoch_ending = False

    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]) -> None:
        if not self._epoch_ending:  # mid-epoch (a validation, every_n_train_steps): not a state to resume
            return
        super()._save_last_checkpoint(trainer, monitor_candidates)
        self._last_step = trainer.global_step

    # A checkpoint written at an epoch's end (last.ckpt, and top-k ones with validation once an epoch) is
    # written before Lightning steps ReduceLROnPlateau for that epoch (after every on_train_epoch_end hook),
    # and a resume never made that step: resumed after epoch 1 of scheduler=plateau, epoch 2 trained at 1e-3
    # where the run that was not stopped had cut it to 1e-4. The metric the step takes goes into the
    # checkpoint, and the resumed run makes the step before it trains.
    PLATEAU_STEPS = "trainlab_plateau_steps"  # checkpoint key: scheduler index -> the monitored value
    _plateau_steps: Optional[dict[int, float]] = None

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        progress = trainer.fit_loop.epoch_progress.current
        if progress.processed != progress.ready or progress.completed >= progress.processed:
            return  # not between an epoch's training part and its plateau step (fit_loop.on_advance_end)
        due = {index: float(trainer.callback_metrics[config.monitor])
               for index, config in enumerate(trainer.lr_scheduler_configs)
               if config.reduce_on_plateau and config.interval == "epoch"
               and (trainer.current_epoch + 1) % config.frequency == 0 and config.monitor in trainer.callback_metrics}
        if due:
            checkpoint[self.PLATEAU_STEPS] = due

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
        self._plateau_steps = checkpoint.get(self.PLATEAU_STEPS)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        steps, self._plateau_steps = self._plateau_steps or {}, None
        for index, value in steps.items():  # after Lightning restored the schedulers' state
            pl_module.lr_scheduler_step(trainer.lr_scheduler_configs[int(index)].scheduler, torch.tensor(value))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old_dir = state_dict.get("dirpath")
        if self.dirpath is None or old_dir is None or Path(old_dir) == Path(self.dirpath):
            super().load_state_dict(state_dict)
            return
        new_dir = Path(self.dirpath)
        new_dir.mkdir(parents=True, exist_ok=True)
        # the earlier run's checkpoints where they are now: beside the checkpoint resumed from (a run folder
        # moved or copied to another machine holds them; the paths stored in its state name the old place)
        resumed_from = self._trainer.ckpt_path if self._trainer is not None else None
        here = Path(resumed_from).resolve().parent if resumed_from else None

        def carried(path: str) -> str:
            """The file's copy in this run's folder ("" when the earlier file is gone)."""
            if not path:
                return ""
            found = here / Path(path).name if here is not None else None
            found = found if found is not None and found.is_file() else Path(path)
            if not found.is_file():
                return ""
            copy = new_dir / found.name
            if not copy.exists():
                copy_file(found, copy)  # a kill mid-copy leaves no cut-short checkpoint in this run
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


class EarlyStopping(pl.callbacks.EarlyStopping):
    """Lightning's EarlyStopping, resumed with the configured patience.

    Lightning restored the checkpoint's ``patience`` over the configured one, so raising
    ``callbacks.early_stopping.patience`` to train on a run that early stopping ended did nothing (the
    resumed run stopped after one epoch), and it kept the stop it had recorded, which the resumed run's
    ``training_summary.json`` then gave as its own end. A resume that the configured patience would
    stop at once is refused before it starts (:func:`trainlab.run.checks.check_resume`).
    """

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        self.patience = patience
        if early_stop(state_dict, patience) is None:  # with this patience, the run goes on: no stop was made
            self.stopped_epoch = 0
            self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
            self.stopping_reason_message = None


def early_stop(state: dict[str, Any], patience: int) -> Optional[str]:
    """Why early stopping ends a run whose EarlyStopping state (a checkpoint's) is ``state``, judged with
    ``patience``; None when the run goes on."""
    reason = EarlyStoppingReason(state.get("stopping_reason", EarlyStoppingReason.NOT_STOPPED.value))
    if reason in (EarlyStoppingReason.NOT_STOPPED, EarlyStoppingReason.PATIENCE_EXHAUSTED):
        wait = int(state.get("wait_count", 0))
        return f"its metric had not improved for {wait} validation(s)" if wait >= patience else None
    return state.get("stopping_reason_message") or reason.name.lower().replace("_", " ")


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
        from trainlab.run.durable import DiskFull

        if DiskFull.of(exception) is not None:  # a full disk takes no more checkpoints; the earlier ones stand
            return
        if trainer.global_step == 0:  # stopped before the first step (a check, a bad setting): nothing to keep
            return
        try:
            trainer.save_checkpoint(self.path)
        except Exception as exc:  # noqa: BLE001 - only a full disk is answered here, the rest re-raised
            full = DiskFull.of(exc)
            if full is None:
                raise
            # what stopped the run (Ctrl-C, a signal, an error) stays its answer: exit 130 and its own line,
            # where this error took its place (exit 2, a line naming on_exception.ckpt)
            from trainlab.run.preemption import stop_reason

            why = "Ctrl-C" if isinstance(exception, KeyboardInterrupt) else stop_reason(exception) or \
                type(exception).__name__
            log.warning("%s: %s; %s not written, the run resumes from its last finished epoch", why, full.what,
                        self.path.name)


class RichProgressBar(pl.callbacks.RichProgressBar):
    """Lightning's Rich bar, kept to one line, counting epochs from 1, redrawn at most ``1 / min_interval_s``
    times a second.

    Redrawing after every batch cost ~20% of an epoch of the default LSTM on 2 CPU cores (11 ms
    steps); a time limit keeps slow steps updating every batch and fast ones cheap. Lightning's bar
    says ``Epoch 1/1`` during the second of two epochs (it counts from 0 and shows the last index) and
    lets its metrics wrap over several lines on an 80-column terminal; here it says ``Epoch 2/2``,
    drops the processing speed below 100 columns, shows ``train/loss_step`` as ``loss``, leaves out
    ``v_num`` (our long version labels cut short) and ``train/loss_epoch`` (in epochs.jsonl), and shows
    only the metrics that fit on the line, in the order the module logs them.

    Step values (``train/loss_step``) are not logged with ``prog_bar=True``: Lightning turns every
    progress-bar value into a Python float after every batch, a host-device synchronisation per step
    on a GPU. The bar reads them itself, once per logging step (when Lightning's loggers read them
    anyway), and shows the last value read.

    Args:
        min_interval_s: least time between two redraws during training.
        step_keys: step-level metrics shown as last logged.
        **kwargs: passed to lightning's RichProgressBar (refresh_rate, leave, theme, ...).
    """

    BAR_WIDTH = 12  # below 100 columns

    def __init__(self, min_interval_s: float = 0.1, step_keys: tuple[str, ...] = ("train/loss_step",), **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self.step_keys = tuple(step_keys)
        self._last_draw = 0.0
        self._step_values: dict[str, float] = {}

    def _width(self) -> int:
        return self._console.width if self._console is not None else shutil.get_terminal_size().columns

    def configure_columns(self, trainer: pl.Trainer) -> list:
        columns = super().configure_columns(trainer)
        if self._width() < 100:
            columns[1].bar_width = self.BAR_WIDTH  # the bar
            columns = columns[:4]  # without the speed (RunRecords writes samples per second per epoch)
        return columns

    def _get_train_description(self, current_epoch: int) -> str:
        text = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None and self.trainer.max_epochs > 0:
            text += f"/{self.trainer.max_epochs}"
        return f"{text:{len(self.validation_description)}}"

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
        metrics.pop("train/loss_epoch", None)
        if "train/loss_step" in metrics:
            metrics = {"loss": metrics.pop("train/loss_step"), **metrics}
        width = self._width()
        # before the metrics: description (padded to "Validation"), bar, batches ("12/345"), times
        # ("0:00:12 • 0:01:40"), the speed at 100 columns and more ("123.45it/s"), one blank after each
        batches = len(str(self.total_train_batches)) * 2 + 1 if self.total_train_batches != float("inf") else 3
        fixed = len(self._get_train_description(trainer.current_epoch)) + batches + 17 + 4
        fixed += self.BAR_WIDTH if width < 100 else 40 + 12
        budget = width - fixed - 1
        shown = {}
        for name, value in metrics.items():
            text = f"{name}: {value:{self.theme.metrics_format}}" if isinstance(value, float) else f"{name}: {value}"
            if len(text) + 1 > budget:
                break
            budget -= len(text) + 1
            shown[name] = value
        return shown


class ModelSummary(pl.callbacks.RichModelSummary):
    """Lightning's Rich model summary without the FLOPs column and total when nothing was counted.

    Lightning counts FLOPs only for modules with an ``example_input_array``; ours have none (input
    sizes come from the data), so the column would be a row of zeros.
    """

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int,
                  **summarize_kwargs: Any) -> None:
        from rich import get_console
        from rich.table import Table

        if total_flops:
            pl.callbacks.RichModelSummary.summarize(summary_data, total_parameters, trainable_parameters,
                                                    model_size, total_training_modes, total_flops,
                                                    **summarize_kwargs)
            return
        from lightning.pytorch.utilities.model_summary.model_summary import (
            get_formatted_model_size, get_human_readable_count)

        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name, _ in columns:
            table.add_column(name, justify="right" if name in ("Params", "In sizes", "Out sizes") else "left")
        for row in zip(*(values for _, values in columns)):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        console.print(f"params: {get_human_readable_count(trainable_parameters).strip()} trainable, "
                      f"{get_human_readable_count(total_parameters - trainable_parameters).strip()} frozen, "
                      f"{get_formatted_model_size(model_size)} MB")


class FiniteLoss(pl.Callback):
    """Stop at a training loss that is NaN or infinite, naming the epoch and step where it first was.

    Reading the loss after every step would make the host wait for the GPU every step (a
    host-device synchronisation stops the CPU from queueing the next step while the GPU works).
    So each step only keeps a reference to its detached loss (no kernel, no wait), and the host
    reads the kept losses, stacked, once, on the steps whose metrics Lightning writes to the loggers
    (every ``trainer.log_every_n_steps``: logging reads values then anyway), or every
    ``check_every_n_steps`` steps when set, and at every epoch's end; past ``STACK_EVERY`` kept
    losses they are stacked into one device tensor meanwhile (one kernel), so a run that never
    logs holds one float per step. The steps' epoch, global step and batch are kept as plain Python
    numbers, so the message names the first non-finite loss even though training ran on for a few
    steps. The run's records and an on-exception checkpoint are still written by their callbacks;
    in a sweep the trial is recorded FAIL with this message.

    Args:
        check_every_n_steps: steps between two reads (null: on the logging steps).
    """

    STACK_EVERY = 256

    def __init__(self, check_every_n_steps: Optional[int] = None):
        if check_every_n_steps is not None and check_every_n_steps < 1:
            raise UserError(f"callbacks.finite_loss.check_every_n_steps={check_every_n_steps} must be at least 1")
        self.check_every_n_steps = check_every_n_steps
        self._steps: list[tuple[int, int, int]] = []  # (epoch, global step, batch) since the last read
        self._losses: list[torch.Tensor] = []  # their losses not yet stacked, on the device
        self._stacked: list[torch.Tensor] = []  # the earlier ones, stacked

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        self._losses.append(loss.detach())
        self._steps.append((trainer.current_epoch, trainer.global_step, batch_idx))
        if len(self._losses) == self.STACK_EVERY:
            self._stacked.append(self._stack())
        due = (len(self._steps) >= self.check_every_n_steps if self.check_every_n_steps
               else logs_this_step(trainer))
        if due:
            self._check()

    def _stack(self) -> torch.Tensor:
        """The kept losses as one 1-d tensor (a non-scalar loss by its sum: finite only if every term is)."""
        device = self._losses[0].device
        stacked = torch.stack([(loss if loss.dim() == 0 else loss.sum()).to(device, torch.float32)
                               for loss in self._losses])
        self._losses.clear()
        return stacked

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check()

    def _check(self) -> None:
        """Read the kept losses (one host-device synchronisation); raise if one since the last read was bad."""
        if not self._steps:
            return
        parts = self._stacked + ([self._stack()] if self._losses else [])
        device = parts[0].device
        values = torch.cat([part.to(device) for part in parts]).tolist()
        self._stacked.clear()
        bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
        if bad is not None:
            epoch, step, batch_idx = self._steps[bad]
            raise UserError(
                f"the training loss became {values[bad]} at epoch {epoch}, step {step} (batch "
                f"{batch_idx} of the epoch); lower optimizer.lr, set trainer.gradient_clip_val=1.0, or look "
                "for extreme or missing values in the data"
            )
        self._steps.clear()


class SignalStop(Exception):
    """Raised inside training by :class:`StopOnSignal` (the signal's name as message), so that
    Lightning's exception hooks write the checkpoint and the records."""


class StopOnSignal(pl.Callback):
    """Stops training at the next batch boundary once :meth:`handler` has received a signal; before
    training has started (data and model being built, Lightning's set-up and sanity check), at once.

    A handler that raised at once during training could land inside a checkpoint save or a
    DataLoader; a batch boundary is a clean place, and batches here take milliseconds to seconds.
    Before training nothing is saved, and waiting for the first batch could take minutes (a large
    catalogue's graph). Installed, with its handler, by :func:`trainlab.run.preemption.stop_on_signals`.

    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self.epoch: Optional[int] = None
        self.previous: dict[int, Any] = {}
        self.interrupted = False  # Ctrl-C: Lightning writes the checkpoint and records, then exits 1 silently
        self.training = False  # until the first batch's loop starts, a signal stops the run at once

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.training = True
        self._check(trainer)  # a signal during Lightning's set-up or sanity check

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.interrupted, self.epoch = True, trainer.current_epoch

    def handler(self, signum: int, frame: Any) -> None:
        self.received.append(signal.Signals(signum).name)
        if not self.training:  # building data and model, Lightning's set-up: nothing a raise could cut short
            raise SignalStop(self.received[0])

    def pass_on_sigterm(self) -> None:
        """Call the SIGTERM handler that was there before, if one was and SIGTERM came: a sweep's,
        which raises to stop the sweep. Called once training has unwound (by
        :func:`trainlab.run.preemption.stop_on_signals`), not from :meth:`handler`: raised from there,
        its exception landed wherever the signal did (inside a lock, a checkpoint write). Neither the
        script's own quiet stop nor the handler of submitit's time-limit signal is called: they would
        exit from inside the run."""
        from trainlab.config.errors import is_quiet_stop

        previous = self.previous.get(signal.SIGTERM)
        if "SIGTERM" in self.received and callable(previous) and not is_quiet_stop(previous):
            previous(signal.SIGTERM, None)

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
