"""``hydra/launcher=slurm`` (conf/hydra/launcher/slurm.yaml): hydra-submitit-launcher's SLURM launcher
with resources from the hardware profile, a check against ``sinfo``, jobs watched through ``squeue``,
and requeue of jobs stopped by a signal. The work is done in :mod:`trainlab.run.slurm`.

Hydra imports every module of the ``hydra_plugins`` namespace at start-up: this one holds a
dataclass and a thin class and imports trainlab.run.slurm inside the methods.
"""

# No `from __future__ import annotations`: Hydra executes this module before it is in sys.modules,
# and dataclasses cannot resolve string annotations then.
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


@dataclass
class TrainlabSlurmConf(SlurmQueueConf):
    """submitit's SLURM keys (partition, timeout_min, mem_gb, qos, account, ...) plus this launcher's."""

    _target_: str = "hydra_plugins.trainlab_slurm_launcher.TrainlabSlurmLauncher"
    # null: from the hardware profile (GPUs only for a GPU profile; CPUs = its DataLoader workers + 1)
    gpus_per_node: Optional[int] = None
    cpus_per_task: Optional[int] = None
    # which jobs stopped by a signal are requeued (and continue in their run folder):
    # timeout: those stopped before their time limit (at most max_num_timeout times); always: also on
    # SIGTERM (preemption, scancel --signal=TERM); never
    requeue: str = "timeout"
    max_num_timeout: int = 3
    # a job pending longer than this (other than a requeued one waiting for its start) is cancelled and
    # reported with SLURM's reason; null waits forever (the reason is still printed when it changes)
    pending_timeout_min: Optional[float] = 60.0
    poll_interval_s: float = 5.0  # squeue is asked this often while jobs run


class TrainlabSlurmLauncher(SlurmLauncher):
    """See :mod:`trainlab.run.slurm`."""

    def __init__(self, requeue: str = "timeout", pending_timeout_min: Optional[float] = 60.0,
                 poll_interval_s: float = 5.0, **params: Any) -> None:
        super().__init__(**params)
        self.requeue = requeue
        self.pending_timeout_min = pending_timeout_min
        self.poll_interval_s = poll_interval_s
        self.in_flight: set[str] = set()  # ids of submitted jobs not yet returned (slots add from threads)

    def cancel_unfinished(self) -> list[str]:
        """Cancel the jobs submitted and not yet returned (a sweep that is interrupted has marked their
        trials FAIL: they would queue and start only to stop); their ids."""
        from trainlab.run.slurm import cancel_jobs

        return cancel_jobs(self.in_flight)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from trainlab.run.slurm import submit

        return submit(self, job_overrides, initial_job_idx)

    def __call__(self, *args: Any) -> JobReturn:  # inside the SLURM job
        from trainlab.run.slurm import finish_in_job, submitit_handler

        handler = submitit_handler()  # before the run replaces the signal handlers
        return finish_in_job(super().__call__(*args), self.requeue, handler)


ConfigStore.instance().store(group="hydra/launcher", name="trainlab_slurm", node=TrainlabSlurmConf,
                             provider="trainlab")
