"""The job side of an Optuna trial: what a run started by the sweeper receives and how it ends.

The sweeper (:mod:`trainlab.search.sweep`) asks the study for a trial and launches one job with the
trial's parameters plus one :class:`~trainlab.search.handover.TrialHandover` (the root key
``optuna_trial``). The job reopens the study in its own process, rebuilds the trial from its id and
reports to it at every validation check (:class:`trainlab.search.pruning.OptunaPruning`). How the job
ends tells the sweeper the trial's fate:

- it returns the objective: COMPLETE
- it raises ``optuna.TrialPruned``: PRUNED (the pruner stopped it)
- it raises anything else, :class:`TrialFailed` included: FAIL, with the exception as the reason

A job in a process of its own (a joblib worker) outlives a sweep process that was killed hard
(SIGKILL, the OOM killer): nothing would record its result, and it would hold its CPU threads, memory
and GPU while the sweep is continued. :func:`stop_with_the_sweep` ends such a job within a second of
its sweep process, and so does the idle worker; the continued sweep marks its trial FAIL
(:mod:`trainlab.search.shared`).

Light on purpose: train.py imports this module before Hydra starts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from omegaconf import DictConfig

from trainlab.config.errors import known_error
from trainlab.search.handover import TrialFailed, TrialHandover, TrialOutOfSpace, sweep_process_gone

__all__ = ["TrialFailed", "optuna_trial"]

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 1.0


def _gone(sweeper: str, parent_at_start: int, watched_since: float) -> bool:
    """Whether sweep process ``sweeper`` has ended: a job it started as a child was handed to another parent
    (a reused pid cannot fool that), else :func:`~trainlab.search.handover.sweep_process_gone`."""
    pid = int(sweeper.rpartition(":")[2])
    if parent_at_start == pid:
        return os.getppid() != pid
    return sweep_process_gone(sweeper, watched_since) is not None


_watched: set[str] = set()  # sweep processes this process watches already


def stop_with_the_sweep(sweeper: Optional[str], interval_s: float = WATCH_INTERVAL_S) -> None:
    """From now on, end this process (exit 1, one error line) once the sweep process ``sweeper``
    (``<host>:<pid>``) is gone: a job running then, or a worker idle between jobs (which would keep its
    memory and GPU until joblib's idle timeout). One watcher per sweep process; none in the sweep process
    itself or for one on another host."""
    host, _, pid = str(sweeper or "").rpartition(":")
    if not pid.isdigit() or int(pid) == os.getpid() or host != socket.gethostname() or sweeper in _watched:
        return
    _watched.add(str(sweeper))
    parent, since = os.getppid(), time.time()

    def watch() -> None:
        while not _gone(str(sweeper), parent, since):
            time.sleep(interval_s)
        log.error("the sweep process that started this trial's worker (%s) has ended: this process stops; a trial "
                  "it was running is marked FAIL when the sweep command is run again", sweeper)
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watch, name=f"stop-with-sweep-{sweeper}", daemon=True).start()


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

    callbacks = [OptunaPruning.for_trial(handover, cfg.optimized_metric)]
    if handover.gpu_shared:
        from trainlab.callbacks.nvml import SharedGpu

        callbacks.append(SharedGpu(handover.gpu_shared))
    stop_with_the_sweep(handover.sweeper)
    try:
        yield callbacks
    except Exception as exc:  # noqa: BLE001 - only UserErrors (a full disk too) are converted, the rest re-raised
        from trainlab.run.durable import DiskFull

        user_error = known_error(exc)
        if user_error is None:
            raise
        if isinstance(user_error, DiskFull):  # what a lone run would do next is no step for a sweep's trial
            raise TrialOutOfSpace(user_error.what, user_error.remedy) from None
        raise TrialFailed(str(user_error)) from None  # from None: report_user_errors must not exit on it
