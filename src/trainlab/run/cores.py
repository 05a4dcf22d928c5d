"""The CPU cores this process may use: its affinity (a SLURM job's or ``taskset``'s CPU set) and its cgroup's
CPU quota (``docker run --cpus=2``, a Kubernetes CPU limit, a systemd slice's ``CPUQuota``) and a SLURM job's
CPUs per task, not the machine's count.

``os.cpu_count()`` and the affinity both say 64 in a container limited to two CPUs on a 64-core host, and
torch starts as many threads as the affinity has cores; the kernel then lets them run for two CPUs' worth
of each scheduling period and stops them all for the rest (CFS throttling), so a step took longer than it
would on two threads. Read without torch, so that a sweep's planning imports nothing heavy.
"""

from __future__ import annotations

import math
import os
from pathlib import PurePosixPath
from typing import Any, NamedTuple, Optional

# where the kernel lists this process's cgroups, and where cgroup file systems are mounted (module
# attributes, so that a test can point them at a folder of its own)
PROC_CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota_in(folder: str, v2: bool) -> Optional[float]:
    """CPUs that the cgroup ``folder`` allows (its quota over its period), or None without a limit there."""
    if v2:  # cpu.max: "<quota> <period>" in microseconds, or "max <period>"
        fields = (_read(f"{folder}/cpu.max") or "max").split()
        quota, period = fields[0], fields[1] if len(fields) > 1 else "100000"
    else:  # v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us
        quota, period = _read(f"{folder}/cpu.cfs_quota_us") or "-1", _read(f"{folder}/cpu.cfs_period_us") or "100000"
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:  # "max", or a file the kernel did not write in the format above
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cpu_quota() -> Optional[int]:
    """The CPUs this process's cgroup may use, rounded up (1.5 -> 2), or None where no CPU quota applies.

    Each cgroup from this process's own up to the root may set one, and the smallest holds. Inside a
    container, ``/proc/self/cgroup`` names the host's path (``/docker/<id>``) or ``/`` (a cgroup namespace),
    and the container's own cgroup is mounted at the root of ``/sys/fs/cgroup``: folders that do not
    exist here are skipped, and the root is always read.
    """
    listing = _read(PROC_CGROUP)
    if listing is None:
        return None
    limits = []
    for line in listing.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # cgroup v2's unified hierarchy: "0::/path"
            mounts, v2 = [CGROUP_ROOT], True
        elif "cpu" in controllers.split(","):  # v1, mounted as cpu,cpuacct or cpu (often both, one a link)
            mounts, v2 = [f"{CGROUP_ROOT}/{controllers}", f"{CGROUP_ROOT}/cpu"], False
        else:
            continue
        relative = PurePosixPath(path.strip() or "/").relative_to("/")
        for mount in dict.fromkeys(mounts):
            for part in (relative, *relative.parents):
                folder = f"{mount}/{part}" if str(part) != "." else mount
                if os.path.isdir(folder) and (limit := _quota_in(folder, v2)) is not None:
                    limits.append(limit)
    return max(1, math.ceil(min(limits))) if limits else None


def affinity_cores() -> int:
    """CPU cores in this process's affinity (all of the machine's where the platform has none)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def slurm_cpus() -> Optional[int]:
    """The CPUs a SLURM job gave each of its tasks (``SLURM_CPUS_PER_TASK``, from ``--cpus-per-task``), or None
    outside a job or where none were asked. A cluster that binds no CPU set to its tasks (no task/affinity or
    task/cgroup plugin) leaves the process the whole node's affinity, and torch took a thread per core of the
    node, the cores of other jobs on it too."""
    if "SLURM_JOB_ID" not in os.environ:
        return None
    given = os.environ.get("SLURM_CPUS_PER_TASK", "").strip()
    return int(given) if given.isdigit() and int(given) > 0 else None


class CpuLimit(NamedTuple):
    """CPUs allotted below the affinity: how many, the words that name who set them, and whether they are each
    SLURM task's own (``--cpus-per-task``) rather than shared by the job's processes on the machine."""

    cpus: int
    source: str
    per_task: bool


def cpu_limit() -> Optional[CpuLimit]:
    """The fewest CPUs this process is allotted: the cgroup's CPU quota (:func:`cpu_quota`) or the SLURM job's
    CPUs per task (:func:`slurm_cpus`); None where neither sets any."""
    limits = []
    quota = cpu_quota()
    if quota is not None:
        limits.append(CpuLimit(quota, f"the cgroup's CPU quota of {quota} CPU(s)", False))
    slurm = slurm_cpus()
    if slurm is not None:
        limits.append(CpuLimit(slurm, f"the SLURM job's {slurm} CPU(s) per task (SLURM_CPUS_PER_TASK)", True))
    return min(limits, key=lambda limit: limit.cpus) if limits else None


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity, or fewer where its cgroup's CPU quota or its SLURM job
    allots fewer."""
    limit = cpu_limit()
    return min(affinity_cores(), limit.cpus) if limit is not None else affinity_cores()


def busy_cores(threads: int) -> Optional[str]:
    """Where other work already holds this process's cores, the words that say so for ``threads`` torch threads.

    torch's threads meet at the end of every operation; when the machine's one-minute load average is at or
    above the usable cores, one of them waits for a core another process holds, and the rest wait for it.
    The default LSTM on 8,700 rows, load average 3-4 on 2 cores, fitted 2 epochs of 60 steps in 50.6-64.7 s on 2
    threads and 1.6-2.3 s on 1 (README "Speed and the GPU path"). None where there is no such load, one thread,
    or no load average on this platform."""
    cores = usable_cores()
    if threads < 2 or not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    if load < cores:
        return None
    return (f"the machine's load average is {load:.1f} on {cores} usable cores: other work holds them, and torch's "
            f"{threads} threads wait on each other for a core at every step (on a busy 2-core machine steps were "
            "7-40x slower than on one thread); hardware.num_threads=1 trains faster while the machine is this busy")


def too_many_workers(num_workers: int) -> Optional[str]:
    """The words for ``hardware.num_workers`` above the usable cores, or None: the loader's workers and the training
    process then take turns on the cores. torch says it in a multi-line warning at each loader it makes
    (``This DataLoader will create 64 worker processes ...``), naming no setting; the run says this once instead
    (trainlab.run.hardware silences torch's)."""
    cores = usable_cores()
    if num_workers <= cores:
        return None
    return (f"hardware.num_workers={num_workers} starts more loader processes than the {cores} CPU core(s) this "
            "process may use: they and training take turns on the cores, which slows the run (and each holds a copy "
            f"of what it loads); give hardware.num_workers={cores} or fewer")


def crowded_cores(at_once: int, cores: int, unit: str, cause: str, fix: str) -> Optional[str]:
    """The one warning for more jobs (or a sweep's trials) running at once on this machine than it has usable cores,
    or None: ``cause`` is the setting that runs ``at_once`` of them, ``fix`` the one that gives each a core. Said
    alike for a sweep's slots and a multirun's jobs, under joblib and submitit_local."""
    if at_once <= cores:
        return None
    return (f"{cause}: {at_once} {unit} at once on {cores} cores: they share the cores, and each takes longer "
            f"({fix.format(cores=cores)} gives each a core)")


def multirun_crowding(config: Any) -> Optional[str]:
    """:func:`crowded_cores` for a multirun of Hydra's basic sweeper whose launcher runs its jobs here at once, on
    the CPU: joblib (``hydra.launcher.n_jobs`` of them; negative: counted from the cores joblib sees) or
    submitit_local (every job of a batch at once). A sweep's trials are said by its plan (trainlab.search.plan),
    SLURM's jobs get cores of their own. Jobs not countable (a sweep Hydra itself refuses): None."""
    from omegaconf import OmegaConf

    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    if not sweeper.endswith("BasicSweeper") or str(OmegaConf.select(config, "hardware.accelerator")) != "cpu":
        return None
    jobs = basic_sweep_jobs(config)
    if jobs is None:
        return None
    batch = OmegaConf.select(config, "hydra.sweeper.max_batch_size", default=None)
    at_once = min(jobs, int(batch)) if isinstance(batch, int) and batch > 0 else jobs  # a batch is launched at a time
    if launcher.endswith("JoblibLauncher"):
        import joblib

        size = int(OmegaConf.select(config, "hydra.launcher.n_jobs", default=-1) or -1)
        pool = max(1, joblib.cpu_count() + 1 + size) if size < 0 else size
        return crowded_cores(min(at_once, pool), usable_cores(), "jobs", f"hydra/launcher=joblib hydra.launcher.n_jobs="
                             f"{size} for {jobs} jobs", "hydra.launcher.n_jobs={cores}")
    if launcher.endswith("LocalLauncher"):
        return crowded_cores(at_once, usable_cores(), "jobs", f"hydra/launcher=submitit_local, which starts all "
                             f"{at_once} jobs at once", "hydra/launcher=joblib hydra.launcher.n_jobs={cores}")
    return None


def basic_sweep_jobs(config: Any) -> Optional[int]:
    """The jobs Hydra's basic sweeper makes of a multirun, counted as it counts them: its ``hydra.sweeper.params``
    (a config's own sweep) then the command line's overrides, the later one of a key in place of the earlier, each
    sweep's values multiplied, a glob over a group's options (``model=glob(*)``) expanded by Hydra's config loader.
    Only the command line's comma lists were counted: a config's params and a glob made one job each. None where
    Hydra cannot parse them (it says why itself)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    params = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    given = [f"{key}={value}" for key, value in (params.items() if OmegaConf.is_dict(params) else [])]
    given += [str(o) for o in OmegaConf.select(config, "hydra.overrides.task", default=[]) or []]
    loader = GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None
    counts: dict[str, int] = {}
    try:
        for override in OverridesParser.create(config_loader=loader).parse_overrides(given):
            sweep = override.is_sweep_override()
            counts[override.get_key_element()] = len(list(override.sweep_string_iterator())) if sweep else 1
    except (HydraException, TypeError, ValueError, AssertionError):  # a bad sweep, an interval: Hydra refuses it
        return None
    jobs = 1
    for count in counts.values():
        jobs *= count
    return jobs
