"""A multirun job's own error (a bug) when the job ran in another process (``hydra/launcher=joblib``,
``submitit_local``, ``submitit_slurm``): its traceback kept in the job's log, one line where the command ends.

Hydra's ``run_job`` keeps the exception in the job's result, which such a launcher pickles back; a pickled
exception loses its traceback. The command then printed a traceback of the sweeper's frames ending in
``raise self._return_value``, and the job's own frames were nowhere: not in the run's ``train.log``, not in
submitit's log. :class:`JobErrors` (a Hydra callback, conf/hydra/default.yaml) logs the traceback inside the
job, to its ``train.log`` and its stderr, and notes that file on the exception (its ``__dict__`` travels with
the pickle); :func:`worker_error_line` is the command's one line for it. The basic launcher's jobs run in
the command's process, where the exception keeps its traceback (Hydra's report), and ``hydra/launcher=slurm``
prints it in the job itself (:func:`trainlab.run.slurm.finish_in_job`): neither is touched here.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback as HydraCallback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

TRACEBACK_IN = "trainlab_traceback_in"  # the exception's attribute: the job's log file that holds its traceback
# a job's errors the sweep reads from its result, each one line already (trainlab.run.slurm.SWEEP_OUTCOMES)
OUTCOMES = ("RunStopped", "TrialFailed", "TrialPruned")
IN_PROCESS = ("BasicLauncher", "TrainlabSlurmLauncher")  # launchers whose jobs' tracebacks are not lost


def _log_file() -> Optional[str]:
    """The file Hydra's job logging writes (the run's ``train.log``: the root logger's last file handler), or None."""
    files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    return files[-1] if files else None


class JobErrors(HydraCallback):
    """Inside a job run by a launcher in another process: its error's traceback to the job's log."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        raised = job_return._return_value if job_return.status == JobStatus.FAILED else None
        launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
        mode = OmegaConf.select(config, "hydra.mode", default=None)
        if not isinstance(raised, Exception) or type(raised).__name__ in OUTCOMES or \
                str(getattr(mode, "name", mode)) != "MULTIRUN" or launcher.rsplit(".", 1)[-1] in IN_PROCESS:
            return
        where = _log_file()
        log.error("this job's run raised %s: %s", type(raised).__name__, raised, exc_info=raised)
        try:
            setattr(raised, TRACEBACK_IN, where or "this job's stderr")
        except AttributeError:  # an exception class with __slots__: the line says less
            pass


def worker_error_line(exc: BaseException) -> Optional[str]:
    """The command's one line for a job's error that :class:`JobErrors` noted, or None."""
    where = getattr(exc, TRACEBACK_IN, None)
    if where is None:
        return None
    return f"a job of this multirun failed: {type(exc).__name__}: {exc}; its traceback is in {where}"
