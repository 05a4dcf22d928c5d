"""Lightning callbacks this project adds to the stock ones (conf/callbacks)."""

from __future__ import annotations

import logging
import math
import shutil
import signal
import threading
import time
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.config.errors import UserError
from trainlab.config.quiet_stop import started_by_lightning
from trainlab.models.step_logging import logs_this_step
from trainlab.run.console import process_rank
from trainlab.run.ranks import EveryRankError, first_finding, launched_here, on_rank

log = logging.getLogger(__name__)


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
        if min_interval_s < 0:  # redrawn at every batch, as 0 asks, without a word
            raise UserError(f"callbacks.rich_progress_bar.min_interval_s={min_interval_s} must be 0 or more (seconds "
                            "between redraws; 0: every batch)")
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

    def __init__(self, max_depth: int = 1, header_style: str = "bold magenta"):
        """``header_style``: the table header's Rich style, the one setting Lightning's Rich summary reads from
        its ``**summarize_kwargs`` (any other key went there and was ignored without a word)."""
        if max_depth < -1:  # Lightning's ValueError traceback at the start of fit
            raise UserError(f"callbacks.model_summary.max_depth={max_depth} must be -1 (every layer), 0 (no summary) "
                            "or more (layers nested that deep)")
        super().__init__(max_depth=max_depth, header_style=header_style)

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
            self._check(trainer)

    def _stack(self) -> torch.Tensor:
        """The kept losses as one 1-d tensor (a non-scalar loss by its sum: finite only if every term is)."""
        device = self._losses[0].device
        stacked = torch.stack([(loss if loss.dim() == 0 else loss.sum()).to(device, torch.float32)
                               for loss in self._losses])
        self._losses.clear()
        return stacked

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: pl.Trainer) -> None:
        """Read the kept losses (one host-device synchronisation); raise if one since the last read was bad,
        on this rank or (a multi-process run) on another: :func:`trainlab.run.ranks.first_finding`."""
        if not self._steps:
            return
        parts = self._stacked + ([self._stack()] if self._losses else [])
        device = parts[0].device
        values = torch.cat([part.to(device) for part in parts]).tolist()
        self._stacked.clear()
        bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
        found = None if bad is None else (self._steps[bad][1], self._steps[bad][0], self._steps[bad][2], values[bad])
        # every rank checks at the same steps: all of them stop together, on the first rank's finding (one
        # rank alone stopping left the others waiting in the next gradient all-reduce, forever)
        first = first_finding(trainer, found, width=4)
        if first is not None:
            rank, (step, epoch, batch_idx, value) = first
            raise EveryRankError(
                f"the training loss became {value} at epoch {int(epoch)}, step {int(step)} (batch "
                f"{int(batch_idx)} of the epoch{on_rank(trainer, rank)}); lower optimizer.lr, set "
                "trainer.gradient_clip_val=1.0, or look for extreme or missing values in the data"
            )
        self._steps.clear()


class SignalStop(BaseException):
    """Raised inside training by :class:`StopOnSignal` (the signal's name as message), so that
    Lightning's exception hooks write the checkpoint and the records (Lightning hands any BaseException but
    KeyboardInterrupt to them). Before training it is raised from the signal handler, wherever the signal lands:
    not an Exception, so that no ``except Exception`` on the way (a module imported for a ``_target_``, a file
    reader) turns it into another error. A time-limit signal that came while a job imported its callbacks ended
    it with 'importing trainlab.callbacks.records failed ... SignalStop: SIGUSR2; the error is in that module'."""


def _lightning_notifier_muted(signum: int, frame: Any) -> None:
    """In place of Lightning's SIGTERM notifier in a multi-process run (:meth:`StopOnSignal.setup`)."""


_NOTIFIER_KEPT_SAID: list[bool] = []  # once per process


def _say_notifier_kept(trainer: pl.Trainer) -> None:
    """Once, on rank 0: this Lightning's SIGTERM notifier (a private method, trainer._signal_connector's
    _sigterm_notifier_fn) is not where trainlab mutes it, so it stays."""
    if _NOTIFIER_KEPT_SAID or not trainer.is_global_zero:
        return
    from lightning import __version__ as lightning_version

    _NOTIFIER_KEPT_SAID.append(True)
    log.warning("Lightning %s has no trainer._signal_connector._sigterm_notifier_fn, which trainlab mutes in a "
                "multi-process run: Lightning's SIGTERM handler stays, and a SIGTERM while a rank is in a collective "
                "may leave the ranks waiting for each other (trainlab.callbacks.training)", lightning_version)


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
        self.testing = False  # that Ctrl-C came while the trained model was tested
        self.training = False  # until the first batch's loop starts, a signal stops the run at once
        # this process's rank (from the environment until setup knows it: a rank other than 0 is told apart before
        # its fit, and stays quiet); whether Lightning's launcher started it
        self.rank, self.launched = process_rank(), started_by_lightning()
        self.agreeing = False  # a multi-process run past its ranks' meeting: signals are agreed on (setup)
        self.sigint_before_fit: Any = None  # Ctrl-C's handler that a multi-process fit replaced

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """A multi-process run, once its ranks have met: a signal is noted and agreed on where every rank gets to
        (the start of training, batch ends, the end of the test), never acted on by one rank alone. Raised at
        once during the sanity check, rank 1 alone removed the run folder and printed its own line.

        Lightning's SIGTERM handler, which it puts in front once set-up is done (for fit and again for the test),
        calls this one and nothing else: its own broadcasts from inside the handler, wherever the signal landed.
        A SIGTERM to rank 0 while the other rank was in the gradients' all-reduce left both waiting forever, and
        so did one to every rank while a rank was still setting up its test."""
        if trainer.world_size == 1:  # one process: its own lines, whatever rank its environment names
            self.rank, self.launched = 0, False
            return
        self.rank, self.launched, self.agreeing = trainer.global_rank, launched_here(trainer), True
        connector = getattr(trainer, "_signal_connector", None)
        if connector is not None and hasattr(type(connector), "_sigterm_notifier_fn"):
            connector._sigterm_notifier_fn = _lightning_notifier_muted
        else:  # another Lightning: set all the same, the attribute would be read by nothing
            _say_notifier_kept(trainer)
        in_main = threading.current_thread() is threading.main_thread()
        if stage == "fit" and in_main and signal.SIGTERM in self.previous and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a job started in the background: left alone
            # Ctrl-C reaches every rank wherever it is; as a KeyboardInterrupt, one rank met the checkpoint's
            # barrier while another was still in a collective, and each rank said its own line: noted, it stops
            # them at one batch end too. The test gets the handler from before fit back (:meth:`teardown`)
            before = signal.signal(signal.SIGINT, self.handler)
            # a rank other than 0 noted Ctrl-C from its start (stop_on_signals): the test gets Ctrl-C's own back
            self.sigint_before_fit = signal.default_int_handler if before == self.handler else before
            self.previous.setdefault(signal.SIGINT, self.sigint_before_fit)  # for a fit that ends by an exception

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """After fit, Ctrl-C is a KeyboardInterrupt again: a multi-process run's test stops on it at once, on
        every rank (no checkpoint's barrier to meet there)."""
        if stage == "fit" and self.sigint_before_fit is not None:
            signal.signal(signal.SIGINT, self.sigint_before_fit)
            self.sigint_before_fit = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)  # a signal during Lightning's set-up or sanity check: stopped before training started
        self.training = True

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.testing = trainer.state.fn == "test"  # after training: nothing to resume, the test to run again
        if isinstance(exception, KeyboardInterrupt):
            self.interrupted, self.epoch = True, trainer.current_epoch

    def handler(self, signum: int, frame: Any) -> None:
        self.received.append(signal.Signals(signum).name)
        if not self.training and not self.agreeing:  # building data and model: nothing a raise could cut short
            raise SignalStop(self.received[0])

    def pass_on_sigterm(self) -> None:
        """Call the SIGTERM handler that was there before, if one was and SIGTERM came: a sweep's,
        which raises to stop the sweep. Called once training has unwound (by
        :func:`trainlab.run.preemption.stop_on_signals`), not from :meth:`handler`: raised from there,
        its exception landed wherever the signal did (inside a lock, a checkpoint write). Neither the
        script's own quiet stop nor the handler of submitit's time-limit signal is called: they would
        exit from inside the run."""
        from trainlab.config.quiet_stop import is_quiet_stop

        previous = self.previous.get(signal.SIGTERM)
        if "SIGTERM" in self.received and callable(previous) and not is_quiet_stop(previous):
            previous(signal.SIGTERM, None)

    def _check(self, trainer: pl.Trainer) -> None:
        self.epoch = trainer.current_epoch
        if trainer.world_size > 1:
            # every rank stops at the same batch end, on whichever rank received the signal (SLURM signals
            # every rank, a kill one); a rank that stopped alone left the others in a collective
            found = [signal.Signals[self.received[0]].value] if self.received else None
            first = first_finding(trainer, found, width=1)
            if first is not None:
                stop = SignalStop(signal.Signals(int(first[1][0])).name)
                stop.every_rank = True  # trainlab.run.ranks.alone
                raise stop
        elif self.received:
            raise SignalStop(self.received[0])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._check(trainer)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        # ranks of a multi-process run may run one validation batch fewer than others: no collective here
        if not trainer.sanity_checking and trainer.world_size == 1:
            self._check(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A multi-process run's ranks finish the test together (no collective at its batch ends: a rank may
        have one batch fewer); here, where they all are, they agree on a signal any of them got meanwhile,
        and rank 0 says that the test ran to its end."""
        if trainer.world_size == 1 or not self.training:
            return
        found = [signal.Signals[self.received[0]].value] if self.received else None
        first = first_finding(trainer, found, width=1)
        if first is None:
            return
        name = signal.Signals(int(first[1][0])).name
        self.received = self.received or [name]  # rank 0 passes a SIGTERM on to a sweep's handler, whoever got it
        if trainer.is_global_zero:
            log.warning("%s came while testing: the %d processes of this run finish the test together, so it ran to "
                        "its end; the run is complete", name, trainer.world_size)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        # training had ended: a signal (a scheduler's preemption, `kill`) stops the test as Ctrl-C does; one
        # process only, as for validation (a multi-process run's ranks finish the test)
        if self.received and trainer.world_size == 1:
            self.testing = True
            raise SignalStop(self.received[0])

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)
