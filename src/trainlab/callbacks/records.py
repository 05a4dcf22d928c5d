"""What a run leaves behind for people: per-epoch records, a summary and a plot of the curves."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.callbacks.batch_size import BatchSizeFinder
from trainlab.callbacks.effective_batch import effective_batch, warn_other_batch
from trainlab.callbacks.energy import EnergyMeter
from trainlab.config.errors import UserError
from trainlab.run.durable import (DiskFull, append_json_line, read_json, read_json_lines, save_figure,
                                  write_atomic, write_json)
from trainlab.run.folder import CURVES, EPOCHS, SUMMARY, RunFolder
from trainlab.run.provenance import git_commit, git_dirty, package_versions
from trainlab.run.root import repo_root
from trainlab.callbacks.gpu_monitor import GpuMonitor

# callbacks whose summary() becomes a section of training_summary.json
SUMMARY_SECTIONS = {"energy": EnergyMeter, "gpu": GpuMonitor, "batch_size_finder": BatchSizeFinder}

log = logging.getLogger(__name__)


def parameter_counts(module: torch.nn.Module) -> dict[str, float]:
    """Total and trainable parameters, and the model's size in MB (parameters + buffers)."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    size = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    return {"params_total": total, "params_trainable": trainable, "size_mb": size / 2**20}


def batch_samples(module: pl.LightningModule, batch: Any) -> int:
    """Samples in a training batch: the module's own count when it has one (labelled nodes of a graph
    batch), else the length of the batch's first tensor (windows, images)."""
    count = getattr(module, "batch_samples", None)
    if count is not None:
        return int(count(batch))
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    return len(first) if hasattr(first, "__len__") else 1


def kept_checkpoint(trainer: pl.Trainer) -> Optional[dict[str, Any]]:
    """The summary's ``checkpoint``: the file the run keeps as its best (``test`` holds its metrics; evaluate.py reads
    it) and the metric that chose it, ``kept_by`` (null: the last epoch's, no checkpoint callback watches one), with
    its ``score``. Where ``kept_by`` is not the summary's ``monitor`` (callbacks.model_checkpoint.monitor set apart
    from optimized_metric), ``best_value`` and ``best_epoch`` are not the checkpoint's: the record says whose each
    figure is. None where no checkpoint was kept."""
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback is not None else ""
    if not path:
        return None
    score = getattr(callback, "best_model_score", None)
    return {"file": Path(path).name, "kept_by": getattr(callback, "monitor", None),
            "score": float(score) if score is not None else None}


class RunRecords(pl.Callback):
    """Writes ``epochs.jsonl``, ``training_summary.json`` and ``training_curves.png`` into the run folder.

    One JSON line per training epoch: epoch, every epoch-level metric (train and val loss, val
    metrics, energy when measured), seconds, training samples per second and the learning rate.
    Lightning aggregates epoch metrics after the ``on_train_epoch_end`` hooks, so an epoch's line is
    written when the next epoch starts, or when training ends (also by an exception): a crash loses
    at most the epoch it interrupted. Model size and parameter counts also go to every logger.

    Args:
        output_dir: the run folder.
        monitor, mode: the metric whose best value and epoch the summary reports.
        hardware: the hardware profile's name, recorded in the summary.
        seed: the run's ``seed``, recorded in the summary beside the versions and the git commit.
    """

    def __init__(self, output_dir: str, monitor: str = "val/loss", mode: str = "min", hardware: str = "cpu",
                 seed: Optional[int] = None):
        if mode not in ("min", "max"):  # anything else reported the largest value as the best, without a word
            raise UserError(f"callbacks.run_records.mode={mode!r} must be min or max (optimized_mode's, by default)")
        self.dir = Path(output_dir)
        self.monitor, self.mode, self.hardware, self.seed = monitor, mode, hardware, seed
        self.epochs: list[dict[str, Any]] = []
        self._pending: Optional[dict[str, Any]] = None
        self._epoch_start = 0.0
        self._samples = 0
        self._fit_start = 0.0
        self.sizes: dict[str, float] = {}
        self.batch: dict[str, int] = {}
        self._end_line: Optional[str] = None  # the model against its baselines, logged after the test
        self._caution: Optional[str] = None  # how not to read that line (Baselines.caution), a warning after it
        self._legend: Optional[str] = None  # what the test table's short metric names mean
        self._restored: Optional[dict[str, Any]] = None  # the state a resume restored (earlier epochs)
        self.stopped_by: Optional[str] = None
        self.resumed_at: Optional[int] = None  # the epoch a resumed run started at

    # -- a resumed run carries the earlier run's records over -----------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"dir": str(self.dir), "epochs": list(self.epochs), "batch": dict(self.batch)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Called when training resumes from a checkpoint: its records are read in :meth:`on_train_start`,
        which knows the checkpoint's path."""
        self._restored = state_dict

    def _earlier_epochs(self, trainer: pl.Trainer) -> Optional[list[dict[str, Any]]]:
        """The epochs a resume carries (None: no resume): the epochs.jsonl of the checkpoint's own folder (a
        copied or moved run's; not the folder it was written in, ``dir`` in its state), which also holds the
        epoch the checkpoint ended. A last line cut by a kill is skipped
        (:func:`trainlab.run.durable.read_json_lines`); epochs the file lacks, or all when it is gone or
        damaged, come from the list saved in the checkpoint (which ends before the checkpoint's own epoch,
        whose line is written after it)."""
        if self._restored is None:
            return None
        ckpt = trainer.ckpt_path
        folder = RunFolder.of_checkpoint(Path(ckpt)).path if ckpt and Path(ckpt).is_file() else Path(
            self._restored.get("dir", ""))
        saved = list(self._restored.get("epochs", []))
        epochs = list(saved)
        if (folder / EPOCHS).is_file():
            try:
                epochs = read_json_lines(folder / EPOCHS)
            except UserError as exc:
                log.warning("%s; the records saved in the checkpoint are carried over instead", exc)
        known = {r.get("epoch") for r in epochs}
        epochs += [r for r in saved if r.get("epoch") not in known]
        return sorted(epochs, key=lambda r: r.get("epoch", 0))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Keep the records of the epochs before the one training starts at: those of the checkpoint's
        run (a ``ckpt_path=`` resume into a new folder), or this folder's own (a run continued in its
        folder, e.g. a requeued SLURM job): records go on, never start over or repeat an epoch."""
        self.resumed_at = trainer.current_epoch or None
        batches, every = trainer.num_training_batches, trainer.log_every_n_steps
        if trainer.is_global_zero and trainer.loggers and every > 1 and batches < every and not trainer.fast_dev_run:
            log.info("trainer.log_every_n_steps=%d is more than the %d training batch(es) of an epoch: what is logged "
                     "per step (train/loss, the learning rate) gets a point every %d steps, less than once an epoch "
                     "(epoch values are logged every epoch); trainer.log_every_n_steps=1 logs every step",
                     every, batches, every)
        if self._restored is not None and trainer.is_global_zero:
            warn_other_batch(self._restored.get("batch") or {}, self.batch)
        carried, self._restored = self._earlier_epochs(trainer), None
        own = self.dir / EPOCHS
        if carried is None and own.is_file():
            carried = read_json_lines(own)
        if carried is None:
            return
        self.epochs = [r for r in carried if r.get("epoch", 0) < trainer.current_epoch]
        if trainer.is_global_zero:  # rewritten whole: resuming in the same folder must not repeat epochs
            self.dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.dir / EPOCHS, "".join(json.dumps(r) + "\n" for r in self.epochs))

    # -- per epoch ---------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.perf_counter()
        self.sizes = parameter_counts(pl_module)
        self.batch = effective_batch(trainer)
        note = getattr(trainer.datamodule, "training_batch_note", lambda: None)()
        if note and trainer.is_global_zero:  # not data.batch_size samples a batch: a star graph that trains whole
            log.info("effective batch %d: %s, x trainer.accumulate_grad_batches %d x %d process(es); %s",
                     self.batch["effective_batch_size"], note[0], self.batch["accumulate_grad_batches"],
                     self.batch["processes"], note[1])
        elif self.batch["batch_size"] and trainer.is_global_zero:
            b = self.batch
            log.info("effective batch %d = data.batch_size %d x trainer.accumulate_grad_batches %d x %d process(es)",
                     b["effective_batch_size"], b["batch_size"], b["accumulate_grad_batches"], b["processes"])
        for logger in trainer.loggers:
            logger.log_metrics({f"model/{k}": float(v) for k, v in self.sizes.items()}, step=0)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer)
        self._epoch_start, self._samples = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._samples += batch_samples(pl_module, batch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self._epoch_start
        lrs = [group["lr"] for opt in trainer.optimizers for group in opt.param_groups]
        self._pending = {"epoch": trainer.current_epoch, "seconds": round(seconds, 4),
                         "samples_per_second": round(self._samples / seconds, 2) if seconds > 0 else None,
                         "lr": lrs[0] if len(lrs) == 1 else lrs}

    def _flush(self, trainer: pl.Trainer) -> None:
        if self._pending is None:
            return
        record, self._pending = self._pending, None
        # epoch-level values only: step values are stale snapshots, lr-* duplicates "lr" below
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if not k.startswith(("test/", "lr-")) and not k.endswith("_step")}
        record = {"epoch": record.pop("epoch"), **metrics, **record}
        self.epochs.append(record)
        if trainer.is_global_zero:
            self.dir.mkdir(parents=True, exist_ok=True)
            append_json_line(self.dir / EPOCHS, record)

    # -- at the end --------------------------------------------------------------------------
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after every callback's on_train_end: the energy meter has its totals by now
        if trainer.is_global_zero:
            self._write_summary(trainer)
            self._plot()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        from trainlab.run.preemption import stop_reason

        if trainer.state.fn == "test":  # training had ended and its records were written: they stand (a run
            return  # stopped by Ctrl-C or an error while testing is one whose test did not end)
        self.stopped_by = stop_reason(exception) or f"exception ({type(exception).__name__})"
        try:
            self._flush(trainer)
            self.on_fit_end(trainer, pl_module)
        except (OSError, DiskFull) as exc:  # a full disk (often the very reason the run stops): keep the first error
            log.warning("records not written completely on the way out: %s", exc)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from trainlab.metrics.names import legend

        explained = legend(k for k in trainer.callback_metrics if k.startswith("test/"))
        self._legend = f"test metrics: {explained}" if explained and trainer.is_global_zero else None
        path = self.dir / SUMMARY
        if trainer.is_global_zero and path.is_file():
            summary = read_json(path, "its test metrics are in the log; evaluate.py ckpt_path=<run> tests it again")
            summary["test"] = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
            notes = trainer.datamodule.score_notes() if hasattr(trainer.datamodule, "score_notes") else []
            if notes:  # a scale that fell back (MASE's), said in the log when the data were read
                summary["notes"] = notes
            undefined = getattr(pl_module, "undefined_metrics", None)
            if undefined:  # the test scores recorded as NaN, and why (trainlab.metrics.undefined)
                summary["undefined"] = dict(undefined)
            self._add_baselines(trainer, pl_module, summary)
            write_json(path, summary)

    def _add_baselines(self, trainer: pl.Trainer, pl_module: pl.LightningModule, summary: dict[str, Any]) -> None:
        """The data module's baselines on the test split (hook: trainlab.evaluation.baselines), beside
        the model's score: the run's end line, ``summary["baselines"]`` and every logger."""
        from trainlab.evaluation.baselines import baselines_of, model_name

        baselines = baselines_of(trainer.datamodule, "test")
        if baselines is None:
            return
        name = model_name(pl_module)
        summary["baselines"] = baselines.summary(name, summary["test"].get(baselines.key))
        self._end_line, self._caution = summary["baselines"]["line"], baselines.caution
        for logger in trainer.loggers:
            logger.log_metrics(baselines.logged(), step=trainer.global_step)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # after Lightning's table of test metrics: what its short names mean, then the model against
        # its baselines (the forecasting baselines' line, trainlab.callbacks.baselines, comes last)
        if stage != "test":
            return
        for line in (self._legend, self._end_line):
            if line:
                log.info("%s", line)
        if self._caution:
            log.warning("%s", self._caution)
        self._legend = self._end_line = self._caution = None

    def best_epoch(self) -> tuple[Optional[int], Optional[float]]:
        # an epoch whose monitored score was undefined (NaN, trainlab.metrics.undefined) is never the best: min and
        # max keep a NaN met first, as every comparison with it is false
        scored = [(r[self.monitor], r["epoch"]) for r in self.epochs
                  if isinstance(r.get(self.monitor), (int, float)) and not math.isnan(r[self.monitor])]
        if not scored:
            return None, None
        value, epoch = (min if self.mode == "min" else max)(scored)
        return epoch, value

    def _write_summary(self, trainer: pl.Trainer) -> None:
        epoch, value = self.best_epoch()
        early = trainer.early_stopping_callback
        summary = {
            "monitor": self.monitor,
            "best_value": value,
            "best_epoch": epoch,
            "epochs_run": len(self.epochs),
            "wall_seconds": round(time.perf_counter() - self._fit_start, 3),
            "resumed_at_epoch": self.resumed_at,
            "stopped_by": self.stopped_by or ("early stopping" if early and early.stopped_epoch > 0
                                              else "max_epochs or max_steps"),
            "checkpoint": kept_checkpoint(trainer),
            **self.sizes,
            **self.batch,
            "hardware": self.hardware,
            # the arithmetic's order: a convolution's gradients differ in the 7th digit between 1 and 2 threads,
            # and hardware.num_threads=null (the default) leaves the count to the machine, unrecorded before
            "threads": torch.get_num_threads(),
            "precision": str(trainer.precision),
            "seed": self.seed,
            "versions": package_versions(),
            "git_commit": git_commit(repo_root()),
            "git_dirty": git_dirty(repo_root()),
            **{section: next((cb.summary() for cb in trainer.callbacks if isinstance(cb, kind)), None)
               for section, kind in SUMMARY_SECTIONS.items()},
        }
        write_json(self.dir / SUMMARY, summary)

    def _plot(self) -> None:
        if not self.epochs:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker

        epochs = [r["epoch"] for r in self.epochs]
        # fixed margins: a layout engine measures every tick label first and took more than half of
        # the plot's time (~0.25 s, paid by every trial of a sweep)
        fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 4))
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
        losses = []
        for key, label in (("train/loss_epoch", "train"), ("val/loss", "validation")):
            points = [(r["epoch"], r[key]) for r in self.epochs if key in r]
            if points:
                ax_loss.plot(*zip(*points), marker="o", label=label)
                losses += [value for _, value in points if value > 0]
        best, _ = self.best_epoch()
        if best is not None:
            ax_loss.axvline(best, color="grey", linestyle="--", label=f"best {self.monitor} (epoch {best})")
        ax_loss.set(xlabel="epoch", ylabel="loss", title="loss", yscale="log")
        # plain numbers on the log axis (its default 1.7x10^-1 labels are wider than the margin); the
        # minor ticks (2, 3, ... x a power of ten) labelled only when the losses span under a decade
        plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:.3g}")
        ax_loss.yaxis.set_major_formatter(plain)
        within_decade = bool(losses) and max(losses) < 10 * min(losses)
        ax_loss.yaxis.set_minor_formatter(plain if within_decade else matplotlib.ticker.NullFormatter())
        ax_loss.legend()
        lrs = [r["lr"] if not isinstance(r["lr"], list) else r["lr"][0] for r in self.epochs]
        ax_lr.plot(epochs, lrs, marker="o")
        ax_lr.set(xlabel="epoch", ylabel="learning rate", title="learning rate")
        for ax in (ax_loss, ax_lr):
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        save_figure(fig, self.dir / CURVES, dpi=100)
        plt.close(fig)
