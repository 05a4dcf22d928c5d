"""The tasks ``srun`` starts in one job step (``srun --ntasks-per-node=2 python train.py trainer=ddp_sim``) as one
run: rank 0 chooses and claims the run folder and names it in a note under ``paths.log_dir``; the other ranks wait
for the note and run in that folder, as the ranks Lightning starts itself do. Called by :class:`Preflight`
(run/preflight.py), before Hydra makes any folder.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import refuse

# rank 0's notes naming its folder (publish_step_folder): removed at its run's end, when every rank has read it
# (each joined before DDP's start, which rank 0's run waits for); they were left behind, one per step and requeue
_published: list[Path] = []


def srun_step_rank() -> Optional[int]:
    """This process's rank (SLURM_PROCID) when it is one of several tasks that ``srun`` started in one job step
    (SLURM_STEP_ID set, SLURM_STEP_NUM_TASKS above 1), else None. Each task runs train.py itself and composes its own
    config: left alone each made a run folder of its own (Hydra's default one has the second it started in),
    or, with one ``hydra.run.dir``, the later rank 0 was refused for the folder rank 1 had just made."""
    # SLURM_STEP_NUM_TASKS, which srun sets for the tasks it starts, not SLURM_NTASKS: a batch script of
    # --ntasks=2 has that too, and python train.py typed in it is one plain run (run/preemption.py)
    tasks, rank = os.environ.get("SLURM_STEP_NUM_TASKS", "1"), os.environ.get("SLURM_PROCID", "")
    if "SLURM_STEP_ID" not in os.environ or not tasks.isdigit() or int(tasks) <= 1 or not rank.isdigit():
        return None
    return int(rank)


def _step_note(config: DictConfig) -> Path:
    """Where rank 0 of an srun step writes the run folder it chose, for the step's other ranks: a name every
    rank derives alike (the job, its step, the requeue's count), under ``paths.log_dir``, which every task of
    the step sees (as it must for one run folder)."""
    env = os.environ
    name = f"{env['SLURM_JOB_ID']}.{env['SLURM_STEP_ID']}.{env.get('SLURM_RESTART_COUNT', '0')}"
    return Path(str(OmegaConf.select(config, "paths.log_dir"))).expanduser().absolute() / ".srun_steps" / name


def publish_step_folder(config: DictConfig) -> None:
    """Rank 0 of an srun step: name its run folder to the step's other ranks (:func:`join_step_folder`)."""
    _publish(config, str(Path(str(OmegaConf.select(config, "hydra.run.dir"))).expanduser().absolute()))


@contextmanager
def stops_told_to_the_step(config: DictConfig, rank: Optional[int]) -> Iterator[None]:
    """Around rank 0's checks before it names its folder: if it stops there (a folder that holds another run's
    files, a launcher without -m ...: it says why itself), the step's other ranks are told at once and stop too;
    they waited STEP_WAIT_S for a folder that would never be named. Other ranks, or a run not of an srun step,
    pass through."""
    if rank != 0:
        yield
        return
    try:
        yield
    except BaseException:
        _publish(config, STOPPED)
        raise


STOPPED = "rank 0 stopped"  # what the note says in place of a folder (which is absolute: '/...')


def _publish(config: DictConfig, text: str) -> None:
    from trainlab.run.folder_notes import write_note

    write_note(_step_note(config), text, _published)


def srun_one_process_problem(config: DictConfig) -> Optional[str]:
    """Why the several tasks of an srun step cannot run this config: it trains in one process (trainer.devices x
    trainer.num_nodes = 1), so each task would train the whole run again, all of them in rank 0's folder; None
    where it trains in several (or the count is Lightning's to find: devices=auto, -1, GPU ids)."""
    devices = OmegaConf.select(config, "trainer.devices", default=None)
    nodes = OmegaConf.select(config, "trainer.num_nodes", default=1) or 1
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices * int(nodes) != 1:
        return None
    tasks = os.environ.get("SLURM_STEP_NUM_TASKS", "?")
    return (f"srun started {tasks} tasks of this run (SLURM_STEP_NUM_TASKS={tasks}), which trains in one process "
            "(trainer.devices x trainer.num_nodes = 1): each task would train it again in the same folder; start it "
            f"as one task (srun --ntasks=1, or python train.py without srun), or train in {tasks} processes: "
            f"trainer=ddp hardware.devices={tasks} (trainer=ddp_sim on CPUs)")


STEP_WAIT_S = 300  # rank 0's start (imports, its checks) until it names its folder, on a slow shared disk


def join_step_folder(config: DictConfig, rank: int) -> None:
    """A rank above 0 of an srun step: wait for rank 0 to name its run folder and run in it, as the ranks
    Lightning starts itself do (``hydra.run.dir`` of rank 0, no ``.hydra`` of its own). Only rank 0 decides
    the folder, and claims it; this rank makes none."""
    import time

    from omegaconf import read_write

    note, deadline = _step_note(config), time.monotonic() + STEP_WAIT_S
    while not note.is_file():
        if time.monotonic() > deadline:
            refuse(f"rank {rank} of this srun step waited {STEP_WAIT_S} s for rank 0 to name the run folder in {note}, "
                   "in vain: rank 0 stopped (its error, printed above, says why), or paths.log_dir is not a folder "
                   "every task of the step sees; give one on a shared file system (paths.log_dir=<folder>), or let "
                   "trainlab submit the job: python train.py -m hydra/launcher=slurm ...")
        time.sleep(0.2)
    folder = note.read_text()
    if folder == STOPPED:  # rank 0 said why; the same line from every task says nothing more
        raise SystemExit(2)
    with read_write(config.hydra):
        config.hydra.run.dir = folder
        config.hydra.output_subdir = None  # rank 0's .hydra is the run's


def remove_step_notes() -> None:
    """Remove the notes this process published (rank 0's, at its run's end), with ``.srun_steps`` once empty."""
    from trainlab.run.folder_notes import remove_notes

    remove_notes(_published)
