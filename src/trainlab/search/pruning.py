"""Report the monitored metric to an Optuna trial at every validation check and stop a pruned run.

Works across processes: the trial is rebuilt from its study's storage and its id
(``optuna.trial.Trial(study, trial_id)``), so the sweeper may run in another process. Optuna does not
store the pruner with the study: each job builds its own from the hand-over's pruner node.

The step a value is reported at is the 0-based count of validation checks. With Lightning's
default (``trainer.val_check_interval`` null: one check at the end of each epoch) a step is an epoch,
as in the seed. ``trainer.val_check_interval=0.25`` gives four checks per epoch, so the pruner gets
four looks per epoch and can stop a trial a quarter epoch in; every step-counted pruner setting
(``n_warmup_steps``, ``interval_steps``, Hyperband's ``min_resource``/``max_resource``) then counts
checks, not epochs: 3 warm-up epochs are ``n_warmup_steps=12`` at four checks per epoch.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import lightning.pytorch as pl
import optuna

from trainlab.callbacks.energy import EnergyMeter
from trainlab.search.handover import TrialFailed, TrialHandover
from trainlab.search.shared import open_storage

TRAIN_LOSS = "train/loss_epoch"  # every task module logs its epoch's mean training loss under this key


class OptunaPruning(pl.Callback):
    """After every validation check: ``trial.report(<monitor>, step=<check>)``, then ``should_prune()``.

    A pruned run stops after that check (``trainer.should_stop``, so its checkpoints and logs are
    written as for any run; Lightning finishes ``trainer.min_epochs`` first) and then raises
    ``optuna.TrialPruned`` from ``on_fit_end``, before any test. A NaN or infinite value stops the run
    the same way with :class:`TrialFailed`, and so does a trial the sweep has already closed (an
    interrupted sweep whose job process lives on).

    At the end of training the job writes what only it knows into the trial's user attributes
    (read by :mod:`trainlab.search.results` into trials.jsonl): ``epochs`` (optimizer steps over steps
    per epoch: a run stopped mid-epoch has a fractional count), ``checks`` (validation checks),
    ``final_train_loss`` (the last epoch's ``train/loss_epoch``), ``fit_seconds``, ``pruned_at_epoch``
    and, where the energy meter measured it, ``energy_joules``.

    Args:
        trial: the trial this run is.
        monitor: the metric to report (``optimized_metric``, e.g. ``val/loss``).
    """

    def __init__(self, trial: optuna.trial.Trial, monitor: str):
        self.trial = trial
        self.monitor = monitor
        self.single_objective = len(trial.study.directions) == 1  # Optuna prunes single objectives only
        self.checks = 0
        self.pruned_at: Optional[int] = None  # the check (step) the pruner spoke at
        self.pruned_epoch: Optional[int] = None
        self.failure: Optional[str] = None
        self.last_value: Optional[float] = None
        self._fit_start: Optional[float] = None

    @classmethod
    def for_trial(cls, handover: TrialHandover, monitor: str) -> "OptunaPruning":
        """Reopen the study (sampler unused here: the sweeper samples) and rebuild the trial."""
        study = optuna.load_study(study_name=handover.study_name, storage=open_storage(handover.storage),
                                  pruner=handover.build_pruner(), sampler=optuna.samplers.RandomSampler())
        return cls(optuna.trial.Trial(study, handover.trial_id), monitor)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.perf_counter()

    # The count of checks travels in the checkpoint: a trial resumed from its last.ckpt (a requeued
    # SLURM job) reports its next check as the step after the checkpoint's, not as step 0 again
    # (Optuna keeps the first report of a step and would ignore the resumed ones).
    def state_dict(self) -> dict[str, Any]:
        return {"checks": self.checks}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.checks = int(state_dict.get("checks", 0))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.sanity_checking or self.monitor not in trainer.callback_metrics
                or self.failure or self.pruned_at is not None):  # stopping already: nothing more to say
            return
        value, epoch, step = float(trainer.callback_metrics[self.monitor]), trainer.current_epoch, self.checks
        self.checks += 1
        if not math.isfinite(value):
            self.failure = f"{self.monitor} is {value} at epoch {epoch}"
            trainer.should_stop = True
            return
        self.last_value = value
        if not self.single_objective:
            return
        try:
            self.trial.report(value, step=step)
        except optuna.exceptions.UpdateFinishedTrialError:
            # The sweep has closed this trial: it was interrupted (SIGTERM, Ctrl-C) and marked the running
            # trials FAIL. A job that outlives its sweeper (submitit_local's, a loky worker busy with it)
            # stops here, at its next check, instead of training on for nobody.
            self.failure = f"the sweep closed trial {self.trial.number} (interrupted?); stopped at epoch {epoch}"
            trainer.should_stop = True
            return
        if self.trial.should_prune():
            self.pruned_at, self.pruned_epoch = step, epoch
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the job's own facts on the trial (it is still RUNNING: the sweeper tells its fate later)."""
        if self.failure and self.failure.startswith("the sweep closed"):
            return  # the trial is finished: it takes no more attributes
        steps_per_epoch = math.ceil(trainer.num_training_batches / max(1, trainer.accumulate_grad_batches))
        facts: dict[str, Any] = {
            "epochs": round(trainer.global_step / steps_per_epoch, 2) if steps_per_epoch else trainer.current_epoch,
            "checks": self.checks,
            "fit_seconds": round(time.perf_counter() - self._fit_start, 2) if self._fit_start else None,
            "pruned_at_epoch": self.pruned_epoch,
        }
        loss = trainer.callback_metrics.get(TRAIN_LOSS)
        if loss is not None:
            facts["final_train_loss"] = float(loss)
        energy = next((cb.total for cb in trainer.callbacks if isinstance(cb, EnergyMeter) and cb.total), None)
        if energy is not None:
            facts["energy_joules"] = round(energy.joules, 2)
        try:
            for key, value in facts.items():
                if value is not None:
                    self.trial.set_user_attr(key, value)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # the sweep closed the trial meanwhile (interrupted): its fate is told, nothing to add

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.failure:
            raise TrialFailed(self.failure)
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at epoch {self.pruned_epoch} (check {self.pruned_at}): "
                                     f"{self.monitor}={self.last_value:.6g}")
