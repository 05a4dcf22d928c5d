"""Report the monitored metric to an Optuna trial each epoch and stop the run when it is pruned.

Works across processes: the trial is rebuilt from its study's storage and its id
(``optuna.trial.Trial(study, trial_id)``), so the sweeper may run in another process. Optuna does not
store the pruner with the study: each job builds its own from ``hydra.sweeper.pruner``.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import lightning.pytorch as pl
import optuna

from trainlab.search.shared import open_storage
from trainlab.search.trial import TrialFailed


class OptunaPruning(pl.Callback):
    """After every validation epoch: ``trial.report(<monitor>, step=epoch)``, then ``should_prune()``.

    A pruned run stops at the end of that epoch (``trainer.should_stop``, so its checkpoints and logs
    are written as for any run) and then raises ``optuna.TrialPruned`` from ``on_fit_end``, before any
    test. A NaN or infinite value stops the run the same way with :class:`TrialFailed`, and so does a
    trial the sweep has already closed (an interrupted sweep whose job process lives on).

    Args:
        trial: the trial this run is.
        monitor: the metric to report (``optimized_metric``, e.g. ``val/loss``).
    """

    def __init__(self, trial: optuna.trial.Trial, monitor: str):
        self.trial = trial
        self.monitor = monitor
        self.single_objective = len(trial.study.directions) == 1  # Optuna prunes single objectives only
        self.pruned_at: Optional[int] = None
        self.failure: Optional[str] = None
        self.last_value: Optional[float] = None

    @classmethod
    def for_trial(cls, storage: str, study_name: str, trial_id: int, monitor: str,
                  pruner_node: Any = None) -> "OptunaPruning":
        """Reopen the study (sampler unused here: the sweeper samples) and rebuild the trial."""
        from hydra.utils import instantiate

        pruner = instantiate(pruner_node) if pruner_node else optuna.pruners.NopPruner()
        study = optuna.load_study(study_name=study_name, storage=open_storage(storage), pruner=pruner,
                                  sampler=optuna.samplers.RandomSampler())
        return cls(optuna.trial.Trial(study, trial_id), monitor)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value, epoch = float(trainer.callback_metrics[self.monitor]), trainer.current_epoch
        if not math.isfinite(value):
            self.failure = f"{self.monitor} is {value} at epoch {epoch}"
            trainer.should_stop = True
            return
        self.last_value = value
        if not self.single_objective:
            return
        try:
            self.trial.report(value, step=epoch)
        except optuna.exceptions.UpdateFinishedTrialError:
            # The sweep has closed this trial: it was interrupted (SIGTERM, Ctrl-C) and marked the running
            # trials FAIL. A job that outlives its sweeper (submitit_local's, a loky worker busy with it)
            # stops here, at its next epoch end, instead of training on for nobody.
            self.failure = f"the sweep closed trial {self.trial.number} (interrupted?); stopped at epoch {epoch}"
            trainer.should_stop = True
            return
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.failure:
            raise TrialFailed(self.failure)
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at epoch {self.pruned_at}: {self.monitor}={self.last_value:.6g}")
