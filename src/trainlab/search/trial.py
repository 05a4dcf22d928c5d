"""The job side of an Optuna trial: what a run started by the sweeper receives and how it ends.

The sweeper (:mod:`trainlab.search.sweep`) asks the study for a trial and launches one job with the
trial's parameters plus one :class:`~trainlab.search.handover.TrialHandover` (the root key
``optuna_trial``). The job reopens the study in its own process, rebuilds the trial from its id and
reports to it at every validation check (:class:`trainlab.search.pruning.OptunaPruning`). How the job
ends tells the sweeper the trial's fate:

- it returns the objective: COMPLETE
- it raises ``optuna.TrialPruned``: PRUNED (the pruner stopped it)
- it raises anything else, :class:`TrialFailed` included: FAIL, with the exception as the reason

Light on purpose: train.py imports this module before Hydra starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig

from trainlab.config.errors import unwrap_user_error
from trainlab.search.handover import TrialFailed, TrialHandover

__all__ = ["TrialFailed", "optuna_trial"]


@contextmanager
def optuna_trial(cfg: DictConfig) -> Iterator[list[Any]]:
    """Yield the callbacks a run needs for its trial (none outside a sweep).

    Inside a trial a UserError becomes :class:`TrialFailed`: the sweep records it as the trial's
    failure and goes on, where a plain run would print it and exit.
    """
    handover = TrialHandover.from_config(cfg.get("optuna_trial"))
    if handover is None:
        yield []
        return
    from trainlab.search.pruning import OptunaPruning  # lightning: only inside a sweep's job

    callback = OptunaPruning.for_trial(handover, cfg.optimized_metric)
    try:
        yield [callback]
    except Exception as exc:  # noqa: BLE001 - only UserErrors are converted, the rest re-raised
        user_error = unwrap_user_error(exc)
        if user_error is None:
            raise
        raise TrialFailed(str(user_error)) from None  # from None: report_user_errors must not exit on it
