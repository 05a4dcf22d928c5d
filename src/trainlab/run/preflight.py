"""Checks made before Hydra makes the run folder: a full disk, an unwritable output folder, a
``hydra.run.dir`` that already holds files (a run's, an evaluation's), a launcher chosen for a single
run (it launches only a multirun's jobs), a SLURM launcher on a machine without SLURM or without a
partition, or asking for more than the partition has.

:class:`Preflight` is a Hydra callback (conf/hydra/default.yaml). Hydra creates the run folder before
the task starts, and a failing ``mkdir`` there, or a launcher that cannot submit, ends in a traceback;
these checks run first and end with one line. Light on purpose (no torch, no lightning): Hydra builds
its callbacks at every start.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback as HydraCallback
from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import empty_path_problem, refuse, shell_path_hint
from trainlab.run.srun_step import (join_step_folder, publish_step_folder, remove_step_notes, srun_one_process_problem,
                                    srun_step_rank, stops_told_to_the_step)

log = logging.getLogger(__name__)

# Disk space a run needs before it starts: checkpoints (top 3 + last of the largest model here are a
# few MB), logs, records and plots. Users with big models raise it: hydra.callbacks.preflight.min_free_mb
DEFAULT_MIN_FREE_MB = 200


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def output_problem(path: str | os.PathLike, min_free_mb: float = DEFAULT_MIN_FREE_MB,
                   elsewhere: str = "paths.log_dir=<folder>") -> Optional[str]:
    """Why ``path`` (a folder that may not exist yet) cannot take a run's outputs and what to do (choose
    another place with ``elsewhere``, or what mends this one), or None if it can."""
    target = Path(path).expanduser().absolute()
    existing = _nearest_existing(target)
    cannot, mend = f"so the output folder '{target}' cannot be made there", ""
    if not existing.is_dir():
        problem = f"'{existing}' is a file, {cannot}"
    elif not os.access(existing, os.W_OK | os.X_OK):
        if os.statvfs(existing).f_flag & os.ST_RDONLY:  # mounted read-only: no space or permission mends it
            problem = f"'{existing}' is on a read-only disk, {cannot}"
        else:
            from trainlab.run.console import user_name
            from trainlab.run.permissions import let_user

            problem = f"'{existing}' is not writable by user '{user_name()}', {cannot}"
            mend = f"; or {let_user(existing, 'write')}"
    else:
        free_mb = shutil.disk_usage(existing).free / 2**20
        if free_mb >= min_free_mb:
            return None
        problem = (f"only {free_mb:.0f} MB free on the disk of '{existing}', a run needs at least "
                   f"{min_free_mb:.0f} MB (checkpoints, logs, records)")
        mend = ", or free some space there"
    return f"{problem}; choose another place with {elsewhere}{mend}"


def occupied_problem(path: str | os.PathLike) -> Optional[str]:
    """Why a single run must not start in ``path`` (``hydra.run.dir``), or None: a folder that already
    holds files. Hydra would overwrite an earlier run's ``.hydra/config.yaml`` (which evaluate.py and a
    resume read), a refused start would remove the folder with the files it held, and two runs'
    records would mix; every run gets a new folder unless told otherwise."""
    from trainlab.run.folder import CHECKPOINTS, CONFIG

    target = Path(path).expanduser().absolute()
    if not target.is_dir() or not any(target.iterdir()):
        return None
    if (target / CHECKPOINTS).is_dir():
        what = f"a training run ({CHECKPOINTS}/, {CONFIG}), whose config evaluate.py and resuming read"
    elif (target / "metrics.json").is_file():
        what = "an earlier evaluation (metrics.json, report.json), which the new one would overwrite"
    else:
        what = f"other files ({', '.join(sorted(p.name for p in target.iterdir())[:3])} ...)"
    return (f"hydra.run.dir '{target}' already holds {what}; leave hydra.run.dir out (each run gets a new "
            "folder under paths.log_dir), or name a folder that does not exist yet")


# SLURM's client commands a launcher runs on the submitting machine: submitit refuses to start without
# srun (after the sweep folder exists); ours watches its jobs with squeue and cancels with scancel (a
# missing one was a traceback with the jobs already submitted, left running unwatched)
SUBMITIT_COMMANDS = ("sbatch", "srun")
WATCH_COMMANDS = ("squeue", "scancel")


def launcher_problem(launcher: Optional[DictConfig], config: Optional[DictConfig] = None) -> Optional[str]:
    """Why a SLURM launcher cannot submit from here, or None. With the whole ``config``, the request
    (resources from the hardware profile) is also checked against what ``sinfo`` reports."""
    target = str(launcher.get("_target_", "")) if launcher else ""
    counts = (counts_problem(launcher, target) or local_gpus_problem(launcher, target)) if launcher else None
    if counts or not target.endswith("SlurmLauncher"):
        return counts
    ours = "requeue" in launcher  # src/hydra_plugins/trainlab_slurm_launcher
    name = f"hydra/launcher={_choice(config, 'hydra/launcher') or 'slurm'}"
    if OmegaConf.is_missing(launcher, "partition") or launcher.get("partition") is None:
        return f"{name} needs a partition: add hydra.launcher.partition=<name> (`sinfo -s` lists them)"
    if shutil.which("sbatch") is None:
        return (f"{name} submits with sbatch, which this machine does not have; run on a SLURM "
                "login node, or use hydra/launcher=submitit_local (or joblib) here")
    missing = [c for c in SUBMITIT_COMMANDS + (WATCH_COMMANDS if ours else ()) if shutil.which(c) is None]
    if missing:
        found = Path(shutil.which("sbatch")).parent
        return (f"{name} runs SLURM's {' and '.join(missing)}, which this machine's PATH does not have (it has "
                f"sbatch, in {found}): add the folder that holds SLURM's commands to PATH")
    if config is not None and ours:
        from trainlab.run.slurm_request import request_problem

        return request_problem(launcher, config)
    if config is None:
        return None
    from trainlab.run.slurm_request import submitit_request_problem

    return _no_gpu_asked_problem(launcher, config, name) or submitit_request_problem(launcher)


def counts_problem(launcher: DictConfig, target: str) -> Optional[str]:
    """A count of a launcher with worker processes that runs nothing or cannot be (joblib's ``n_jobs=0``; submitit's
    ``timeout_min``, ``tasks_per_node``, ... below their minimum), or None. joblib raised 'n_jobs == 0 in Parallel
    has no meaning', submitit_local 'Nothing to do!' (tasks_per_node=0), both as tracebacks after the sweep folder
    was made, and submitit_local's timeout_min=0 killed each job as it started, with no word of why."""
    if target.endswith("JoblibLauncher"):
        if launcher.get("n_jobs") == 0:
            return ("hydra.launcher.n_jobs=0 runs no job: give the number of worker processes (1 or more), or -1 for "
                    "one per core")
        return None
    if "submitit" not in target and not target.endswith("SlurmLauncher"):
        return None
    from trainlab.run.slurm_request import range_problem

    return range_problem(OmegaConf.to_container(launcher, resolve=True))


def local_gpus_problem(launcher: DictConfig, target: str) -> Optional[str]:
    """``gpus_per_node`` under ``submitit_local`` beyond the GPUs this machine has, or None: the jobs run here,
    and without a GPU submitit gave them none and they trained on the CPU, the setting ignored (exit 0)."""
    if not target.endswith("LocalLauncher") or not launcher.get("gpus_per_node"):
        return None
    from trainlab.search.gpu_slots import visible_gpu_count

    asked, have = int(launcher.gpus_per_node), visible_gpu_count()
    if asked <= have:
        return None
    return (f"hydra.launcher.gpus_per_node={asked} but this machine has {f'{have} GPU(s)' if have else 'no GPU'} "
            f"(CUDA_VISIBLE_DEVICES applies), and submitit_local runs its jobs here: " +
            ("leave it out to train on the CPU" if not have else f"ask at most hydra.launcher.gpus_per_node={have}"))


def _no_gpu_asked_problem(launcher: DictConfig, config: DictConfig, name: str) -> Optional[str]:
    """hydra-submitit-launcher's own launcher asks for no GPU unless told: a GPU profile's job would wait
    in the queue, start without one and fail (and submitit, polling ``sacct``, may wait for it forever
    where accounting is off). Ours fills the request from the hardware profile."""
    from trainlab.run.slurm_request import job_resources

    wanted = job_resources({}, config).get("gpus_per_node")
    extra = launcher.get("additional_parameters") or {}
    asked = any(launcher.get(key) for key in ("gpus_per_node", "gpus_per_task", "gres")) or any(
        "gpu" in key or "gres" in key for key in extra)
    if not wanted or asked:
        return None
    return (f"hardware={_choice(config, 'hardware')} trains on {wanted} GPU(s), but {name} asks SLURM for none "
            f"(its gpus_per_node, gpus_per_task and gres are null): use hydra/launcher=slurm, which asks for the "
            f"hardware profile's GPUs and CPUs, or add hydra.launcher.gpus_per_node={wanted}")


def _choice(config: Optional[DictConfig], group: str) -> Optional[str]:
    """The option chosen for a config group (``hydra/launcher``: slurm, ``hardware``: a100), for messages."""
    return OmegaConf.select(config, "hydra.runtime.choices", default={}).get(group) if config else None


def single_run_launcher_problem(chosen: Optional[str]) -> Optional[str]:
    """Why a single run (no ``-m``) must not start with ``hydra/launcher=<chosen>``, or None: Hydra uses a
    launcher only in a multirun, so ``train.py hydra/launcher=slurm ...`` trained here, on the login node,
    without a word."""
    if chosen in (None, "basic"):
        return None
    from trainlab.config.invocation import _script

    return (f"hydra/launcher={chosen} launches the jobs of a multirun, and without -m this run would train here, "
            f"in this process: add -m (python {_script()} -m hydra/launcher={chosen} ...), or leave hydra/launcher out")


def outside_launcher_problem() -> Optional[str]:
    """Why this process, one of several that torchrun (or ``python -m torch.distributed.launch``) started,
    must not run, or None. Each of them composed its own config and made its own run folder, and with the
    trainer's one device each trained the whole run alone: ``torchrun --nproc_per_node=2 train.py`` ended
    in two identical single-process runs, said nowhere (with ``hydra.run.dir`` set, the second was refused
    for a folder 'that already holds other files', which the first had just made). A DDP run's processes
    share one run folder only when Lightning starts them from the first (``trainer=ddp``), or SLURM's."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:  # torchrun's mark, which torch's is_torchelastic_launched reads
        return None
    world = os.environ.get("WORLD_SIZE", "1")
    if not world.isdigit() or int(world) <= 1:  # torchrun --nproc_per_node=1: one process, a plain run
        return None
    from trainlab.config.invocation import _script

    script = _script()
    return (f"{script} was started by torchrun as process {os.environ.get('RANK', '?')} of {world} (WORLD_SIZE="
            f"{world}), and each process would train the whole run alone, in a run folder of its own: start it once, "
            f"without torchrun, and trainlab starts the processes of a DDP run itself: python {script} "
            f"trainer=ddp_sim (2 CPU processes over gloo), or trainer=ddp hardware=<a GPU profile> hardware.devices=<n>; "
            f"over several machines, as SLURM jobs: python {script} -m hydra/launcher=slurm hydra.launcher.nodes=<n> "
            f"trainer=ddp trainer.num_nodes=<n>")


def claim_run_folder(path: str | os.PathLike) -> tuple[Optional[int], Optional[str]]:
    """Make ``hydra.run.dir`` and hold an exclusive lock on it until the run ends: (the lock's descriptor,
    None), or (None, why not). Two runs started at once with one ``hydra.run.dir`` both found it empty and
    trained into it, each overwriting the other's config, checkpoints and records; the second now stops here.
    (``flock``: released by the system when the process ends, however it ends.) A file system without
    ``flock`` (Lustre mounted without ``-o flock``, some NFS setups: ENOSYS, ENOLCK, EOPNOTSUPP) is run
    without the lock, as before it existed: only a lock another process holds refuses the run."""
    import errno
    import fcntl

    target = Path(path).expanduser().absolute()
    target.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            log.debug("%s: no lock on this file system (%s); two runs started into it at once are not told apart",
                      target, exc)
            return None, None
        return None, (f"hydra.run.dir '{target}' is in use by another run started at the same moment; leave "
                      "hydra.run.dir out (each run gets a new folder under paths.log_dir), or give each run its own")
    problem = occupied_problem(target)  # its files may have landed between the first look and the lock
    if problem:
        os.close(fd)
        return None, problem
    return fd, None


# The run folder this process holds (claim_run_folder's descriptor): released at the run's end by Preflight, and
# by trainlab.api whatever ended the run. Hydra calls on_run_end only after a job that returned or raised an
# Exception: a KeyboardInterrupt (Ctrl-C from Python) skipped it, and each stopped run of a loop kept its folder
# locked, refused by the same process as 'in use by another run', and its descriptor open
_held: list[int] = []


def release_run_folder() -> None:
    """Close the lock on the run folder this process holds, if any, and remove the srun step's and the SLURM
    job's notes naming it (with ``.srun_steps`` and ``.slurm_jobs`` once empty)."""
    from trainlab.run.preemption import remove_job_note

    while _held:
        os.close(_held.pop())
    remove_step_notes()
    remove_job_note()


class Preflight(HydraCallback):
    """Hydra callback (conf/hydra/default.yaml): refuse to start what cannot work, before any folder exists.

    Checks that the output location can be written and has ``min_free_mb`` free, and for sweeps that a
    SLURM launcher can submit. Prints one line and exits with status 2; nothing is half-written.

    Args:
        min_free_mb: free disk space required at the output location.
    """

    def __init__(self, min_free_mb: float = DEFAULT_MIN_FREE_MB):
        self.min_free_mb = min_free_mb

    def _check_output(self, config: DictConfig, key: str) -> None:
        from omegaconf.errors import InterpolationResolutionError

        from trainlab.config.interpolations import interpolation_problem

        for given in ("paths.log_dir", key):  # the setting the user gave, then the folder Hydra makes of it
            parent, _, name = given.rpartition(".")
            owner = OmegaConf.select(config, parent)
            try:  # item access: its error holds the raw value (select's does not)
                value = owner[name] if isinstance(owner, DictConfig) and name in owner else None
            except InterpolationResolutionError as exc:
                refuse(interpolation_problem(exc))
            # '/train/runs/...' at the top of the disk: paths.log_dir=$LOGDIR with LOGDIR unset
            empty = empty_path_problem(value, given, f"a folder: {given}=<folder>", ", so runs would go to the top "
                                       "of the disk")
            if empty:
                refuse(empty)
            hint = shell_path_hint(str(value or ""))
            if hint:
                part = next(p for p in Path(value).parts if p.startswith("~") or "$" in p)
                refuse(f"{given}={value} would make a folder named '{part}': {hint}")
        folder = OmegaConf.select(config, key)
        problem = output_problem(folder, self.min_free_mb, f"paths.log_dir=<folder> (or {key}=<folder>)") \
            if folder else None
        if problem:
            refuse(problem)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check_output(config, "hydra.run.dir")
        # a requeued SLURM job continues in its own folder; the other ranks of a DDP run (Lightning starts
        # them with LOCAL_RANK=1.. and hydra.run.dir=<rank 0's folder>) join their first rank's, and so do
        # the tasks above 0 of an srun step, once rank 0 has named its folder
        foreign = outside_launcher_problem()
        if foreign:
            if os.environ.get("RANK", "0") != "0":  # the same line from every process says nothing more
                raise SystemExit(2)
            refuse(foreign)
        step_rank = srun_step_rank()
        one_process = None if step_rank is None else srun_one_process_problem(config)
        if one_process:
            if step_rank:  # rank 0 says it; the same line from every task says nothing more
                raise SystemExit(2)
            refuse(one_process)
        if step_rank:  # srun's tasks above 0 join rank 0's folder, as Lightning's LOCAL_RANK children do
            join_step_folder(config, step_rank)
            return
        with stops_told_to_the_step(config, step_rank):
            self._claim(config)
        if step_rank == 0:
            publish_step_folder(config)

    @staticmethod
    def _claim(config: DictConfig) -> None:
        """Claim this run's folder: a first process (not a requeued job's, nor a DDP rank above 0) refuses a
        launcher chosen without -m and a folder that holds another run's files; a requeued job's first process
        continues in the folder its first attempt noted."""
        from trainlab.run.preemption import continue_in_job_folder, is_requeued_attempt, note_job_folder

        first = os.environ.get("LOCAL_RANK", "0") == "0"  # the run's first process (Lightning's others get its folder)
        joins = is_requeued_attempt() or not first
        if first and is_requeued_attempt():
            continue_in_job_folder(config)
        chosen = OmegaConf.select(config, "hydra.runtime.choices", default=None)
        problem = None if joins else (single_run_launcher_problem(chosen.get("hydra/launcher") if chosen else None)
                                      or occupied_problem(OmegaConf.select(config, "hydra.run.dir")))
        if problem:
            refuse(problem)
        if not joins:
            claimed, problem = claim_run_folder(OmegaConf.select(config, "hydra.run.dir"))
            if problem:
                refuse(problem)
            if claimed is not None:
                _held.append(claimed)
            note_job_folder(config)  # in a SLURM job: for the attempts a requeue starts

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        release_run_folder()  # a loop of runs from Python holds one folder at a time

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check_output(config, "hydra.sweep.dir")
        problem = launcher_problem(OmegaConf.select(config, "hydra.launcher"), config)
        if problem:
            refuse(problem)
        from trainlab.run.cores import multirun_crowding

        crowded = multirun_crowding(config)  # joblib's pool or submitit_local's jobs beyond this machine's cores
        if crowded:
            log.warning("%s", crowded)
