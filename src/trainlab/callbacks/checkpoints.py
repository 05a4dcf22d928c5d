"""What a resumed run continues from, so that it ends as the run that was never stopped: per-epoch
reseeding, checkpoints (last.ckpt at every epoch's end, a plateau step the checkpoint was written
before, top-k kept across resumes into a new folder), early stopping resumed with the configured
patience, and the checkpoint an exception leaves."""

from __future__ import annotations

import inspect
import logging
import re
import warnings
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from trainlab.config.errors import UserError
from trainlab.run.durable import copy_file
from trainlab.run.folder import EPOCHS, RunFolder
from trainlab.run.ranks import alone

log = logging.getLogger(__name__)

class EpochSeed(pl.Callback):
    """Reseed the global generators (torch's, numpy's and Python's) from (seed, epoch) at the start of
    every training epoch.

    Lightning checkpoints do not carry the global RNG, so dropout masks after a resume would
    differ from an uninterrupted run; reseeding per epoch makes epoch k draw the same numbers
    either way. numpy's and Python's are reseeded too: a net, augmentation or dataset of one's own that
    draws from them would otherwise start a resumed epoch k where seed_everything left them (epoch 0's
    state). Together with trainlab.data.sampling.EpochSeededSampler, a run resumed from an
    epoch-end checkpoint ends with the same weights as one that never stopped.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import random

        import numpy as np

        epoch_seed = self.seed * 7_919 + trainer.current_epoch
        torch.manual_seed(epoch_seed)
        random.seed(epoch_seed)
        np.random.seed(epoch_seed % 2**32)  # numpy's legacy seed takes 32 bits


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Lightning's ModelCheckpoint that keeps its top-k when a run is resumed into a new run folder.

    Every ``train.py`` command writes a new run folder, resumes included. Lightning forgets the kept
    checkpoints and their scores when the folder changes, so a resumed run would call its first new
    epoch "best" even if an earlier one was better. Here the earlier run's kept checkpoints are
    copied into the new folder and their scores carried over: the resumed run tests (and reports)
    the same best checkpoint an uninterrupted run would, and its folder is complete on its own.
    """

    def __init__(self, *args: Any, filename: Optional[str] = None, monitor: Optional[str] = None, **kwargs: Any):
        """``filename`` null names a checkpoint after its epoch and the metric it is ranked on
        (``epoch03-rmse0.8123`` for ``monitor=val/rmse``): the template named val/loss whatever the run kept
        its top k on, so a run on val/rmse or val/auroc named its files after a metric it did not rank."""
        if filename is None and monitor:  # no "/" in the name: val/rmse would make a folder
            name = monitor.rsplit("/", 1)[-1]
            name += "_" if name[-1:].isdigit() else ""  # r2_0.8906, not r20.8906
            filename = f"epoch{{epoch:02d}}-{name}{{{monitor}:.4f}}"
        super().__init__(*args, filename=filename, monitor=monitor, **kwargs)

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

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: Optional[str] = None,
                               ver: Optional[int] = None, prefix: Optional[str] = None) -> str:
        """A template naming a metric the run does not log is refused: Lightning writes 0 in its place
        (``{epoch}-{val_acc:.2f}`` named every checkpoint ``0-0.00.ckpt``, each replacing the last). A metric the
        module logs, not yet logged at this save (``train/loss_epoch`` at a validation inside the first epoch), is
        not refused: Lightning writes 0 there this once."""
        from trainlab.run.checks import logged_metrics, validation_off

        template = self.filename if filename is None else filename
        if template:
            names = {match.group(1) for match in re.finditer(r"\{([^{}:]+)[:}]", template)}
            module = None if self._trainer is None else self._trainer.lightning_module
            # a test metric is logged after training only, a validation one never with validation off: no
            # checkpoint of the run has it
            never = ("test/",) if module is None or not validation_off(self._trainer) else ("test/", "val/")
            later = set() if module is None else {k for k in logged_metrics(module) if not k.startswith(never)}
            unknown = sorted(names - set(metrics) - later - {"epoch", "step"})
            if unknown:
                logged = ", ".join(sorted(name for name in {*metrics, *later} if name not in ("epoch", "step")))
                raise UserError(f"callbacks.model_checkpoint.filename='{template}' names {', '.join(unknown)}, which "
                                f"this run does not log (Lightning would write 0 there, the same name every time); "
                                f"it logs epoch, step, {logged}: name those, or leave filename null (the epoch and "
                                "the monitored metric)")
        return super().format_checkpoint_name(metrics, filename, ver, prefix)

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

    # A checkpoint of an earlier trainlab lacks the key, written at the same place: its step is
    # made from the monitored value of its epoch in the run folder's epochs.jsonl, which such a run wrote too.
    _unrecorded_epoch: Optional[int] = None  # that checkpoint's epoch
    _epoch_record: Optional[dict[str, Any]] = None  # that epoch's line of epochs.jsonl (None: not found)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        if not before_plateau_step(trainer.fit_loop.epoch_progress.current.state_dict()):
            return  # not between an epoch's training part and its plateau step (fit_loop.on_advance_end)
        # written at every epoch's end, {} with no step due: its absence marks a checkpoint of an earlier version
        checkpoint[self.PLATEAU_STEPS] = {
            index: float(trainer.callback_metrics[config.monitor])
            for index, config in plateau_due(trainer.lr_scheduler_configs, trainer.current_epoch)
            if config.monitor in trainer.callback_metrics}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
        self._plateau_steps = checkpoint.get(self.PLATEAU_STEPS)
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
        if self._plateau_steps is None and before_plateau_step(progress):
            self._unrecorded_epoch = int(progress["completed"])
            self._epoch_record = epoch_record(trainer.ckpt_path, self._unrecorded_epoch)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        steps, self._plateau_steps = self._plateau_steps or {}, None
        if self._unrecorded_epoch is not None:
            steps = self._unrecorded_steps(trainer)
        for index, value in steps.items():  # after Lightning restored the schedulers' state
            pl_module.lr_scheduler_step(trainer.lr_scheduler_configs[int(index)].scheduler, torch.tensor(value))

    def _unrecorded_steps(self, trainer: pl.Trainer) -> dict[int, float]:
        """The plateau steps due after the epoch of a checkpoint of an earlier version, from its epoch record;
        one warning when that record lacks the value (the resumed schedule then lags the run by one step)."""
        epoch, record, self._unrecorded_epoch, self._epoch_record = \
            self._unrecorded_epoch, self._epoch_record or {}, None, None
        steps = {}
        for index, config in plateau_due(trainer.lr_scheduler_configs, epoch):
            if isinstance(record.get(config.monitor), (int, float)):
                steps[index] = float(record[config.monitor])
            else:
                log.warning("ckpt_path=%s was written by an earlier trainlab, before the plateau scheduler's step after "
                            "epoch %d, and its run folder's %s has no %s of that epoch: the step is not made, so the "
                            "learning rate may be cut one epoch later than in the run that was not stopped",
                            trainer.ckpt_path, epoch, EPOCHS, config.monitor)
        return steps

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


def before_plateau_step(progress: dict[str, Any]) -> bool:
    """Whether the fit loop's epoch progress (its ``state_dict``: ready, processed, completed) lies between an
    epoch's training part and the plateau step Lightning makes after it (fit_loop.on_advance_end)."""
    return bool(progress) and progress.get("processed") == progress.get("ready") \
        and progress.get("completed", 0) < progress.get("processed", 0)


def plateau_due(configs: list[Any], epoch: int) -> list[tuple[int, Any]]:
    """(index, config) of the ReduceLROnPlateau schedulers Lightning steps after ``epoch`` (0-based)."""
    return [(index, config) for index, config in enumerate(configs)
            if config.reduce_on_plateau and config.interval == "epoch" and (epoch + 1) % config.frequency == 0]


def epoch_record(ckpt_path: Optional[str], epoch: int) -> Optional[dict[str, Any]]:
    """``epoch``'s line of the epochs.jsonl beside the checkpoint's run folder (None: no such line or file)."""
    from trainlab.run.durable import read_json_lines

    if not ckpt_path or not Path(ckpt_path).is_file():
        return None
    path = RunFolder.of_checkpoint(Path(ckpt_path)).path / EPOCHS
    try:
        records = read_json_lines(path) if path.is_file() else []
    except UserError:  # damaged beyond its last line: the caller warns that the value is missing
        records = []
    return next((r for r in records if r.get("epoch") == epoch), None)


_EARLY_STOPPING = inspect.signature(pl.callbacks.EarlyStopping.__init__)


class EarlyStopping(pl.callbacks.EarlyStopping):
    """Lightning's EarlyStopping, resumed with the configured patience.

    Lightning restored the checkpoint's ``patience`` over the configured one, so raising
    ``callbacks.early_stopping.patience`` to train on a run that early stopping ended did nothing (the
    resumed run stopped after one epoch), and it kept the stop it had recorded, which the resumed run's
    ``training_summary.json`` then gave as its own end. A resume that the configured patience would
    stop at once is refused before it starts (:func:`trainlab.run.resume_checks.check_resume`).
    """

    _restored_stop: Optional[str] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Lightning takes both as given: a negative patience stops at the first validation that does not
        # improve, as 0 does, and a negative min_delta counts a worse value as an improvement
        given = _EARLY_STOPPING.bind(self, *args, **kwargs)
        given.apply_defaults()
        patience, min_delta = given.arguments["patience"], given.arguments["min_delta"]
        key = "callbacks.early_stopping"
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise UserError(f"{key}.patience={patience} must be a whole number of validations, 0 or more "
                            f"(0: stop at the first that does not improve; e.g. {key}.patience=5)")
        if not min_delta >= 0:
            raise UserError(f"{key}.min_delta={min_delta} would count a worse value as an improvement: it is the "
                            f"least change that counts as one, 0 or more (e.g. {key}.min_delta=0.001)")
        super().__init__(*args, **kwargs)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        self.patience = patience
        self._restored_stop = early_stop(state_dict, patience)
        if self._restored_stop is None:  # with this patience, the run goes on: no stop was made
            self.stopped_epoch = 0
            self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
            self.stopping_reason_message = None

    def _run_early_stopping_check(self, trainer: pl.Trainer) -> None:
        # the scores the module found undefined this epoch (trainlab.metrics.undefined), for the check below
        self._undefined = getattr(trainer.lightning_module, "undefined_metrics", None) or {}
        super()._run_early_stopping_check(trainer)

    def _evaluate_stopping_criteria(self, current: torch.Tensor) -> tuple[bool, Optional[str]]:
        """A monitored score that is undefined this epoch (NaN: AUROC on a validation split of one class, IoU where
        no pixel is anomalous nor predicted so) counts as no improvement: Lightning stopped the run at the first
        such epoch ('is not finite'), as if training had diverged. A NaN loss still stops it."""
        if bool(torch.isnan(current)) and self.monitor in getattr(self, "_undefined", {}):
            self.wait_count += 1
            if self.wait_count < self.patience:
                return False, None
            self.stopping_reason = EarlyStoppingReason.PATIENCE_EXHAUSTED
            return True, (f"Monitored metric {self.monitor} was undefined or did not improve in the last "
                          f"{self.wait_count} records. Best score: {self.best_score:.3f}. Signaling Trainer to stop.")
        return super()._evaluate_stopping_criteria(current)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A run restored with its stop (a requeued SLURM job whose training had ended: check_resume refuses
        any other such resume) trains no epoch more; Lightning restores no ``should_stop``."""
        if self._restored_stop is not None:
            trainer.should_stop = True


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
        if not str(filename).strip() or "/" in str(filename):  # '' wrote a hidden '.ckpt'; a '/' a folder of its own
            raise UserError(f"callbacks.on_exception.filename={filename!r} must be a file name without .ckpt and "
                            "without '/' (e.g. on_exception)")
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        from trainlab.run.durable import DiskFull

        if DiskFull.of(exception) is not None:  # a full disk takes no more checkpoints; the earlier ones stand
            return
        if trainer.global_step == 0:  # stopped before the first step (a check, a bad setting): nothing to keep
            return
        if trainer.state.fn == "test":  # training had ended: its checkpoints are complete, and these weights
            return  # are the tested checkpoint's, not a snapshot of training
        try:
            if alone(trainer, exception):  # the others may be in a collective: none here (trainlab.run.ranks)
                self._save_without_barrier(trainer)
            else:
                trainer.save_checkpoint(self.path)
        except Exception as exc:  # noqa: BLE001 - only a full disk is answered here, the rest re-raised
            full = DiskFull.of(exc, self.path)
            if full is None:
                raise
            # what stopped the run (Ctrl-C, a signal, an error) stays its answer: exit 130 and its own line,
            # where this error took its place (exit 2, a line naming on_exception.ckpt)
            from trainlab.run.preemption import stop_reason

            why = "Ctrl-C" if isinstance(exception, KeyboardInterrupt) else stop_reason(exception) or \
                type(exception).__name__
            log.warning("%s: %s; %s not written, the run resumes from its last finished epoch", why, full.what,
                        self.path.name)

    def _save_without_barrier(self, trainer: pl.Trainer) -> None:
        """``trainer.save_checkpoint`` without its closing barrier, which waits for every rank: a rank stopped
        alone would wait there forever. Rank 0 holds the weights every rank shares and writes them; the
        checkpoint's contents are Lightning's (its connector is private, and its dump is what
        ``save_checkpoint`` itself writes)."""
        if trainer.is_global_zero:
            trainer.strategy.save_checkpoint(trainer._checkpoint_connector.dump_checkpoint(), self.path)
