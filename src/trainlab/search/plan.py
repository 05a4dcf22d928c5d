"""A sweep's plan: everything about ``hydra.sweeper`` that can be checked is checked here, before any
trial, and gathered in one :class:`SweepPlan` that :class:`trainlab.search.sweep.OptunaSearch` runs.

Also here: how the sampler is built (and re-seeded), how many trials run at once, how the CPU
threads and the GPUs are divided between the slots.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import optuna
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from optuna.distributions import BaseDistribution

from trainlab.callbacks import not_kept_by
from trainlab.config.checks import check_direction
from trainlab.config.errors import UserError
from trainlab.config.instantiate import import_callable
from trainlab.config.schemas import check_schema_additions
from trainlab.run.cores import crowded_cores
from trainlab.search.checks import (SAMPLER_NAMES, check_chosen_by_group, check_companions, check_directions,
                                    check_enqueue, check_grid, check_hyperband, check_objectives,
                                    check_objectives_measurable,
                                    check_sweep_families, check_value_types, idle_pruner, with_epochs_shortcut)
from trainlab.search.gpu_slots import gpu_overrides, shared_gpus
from trainlab.search.handover import build_pruner, instantiate_node
from trainlab.search.sweep_folder import STUDY_FILE, beside_a_sweep
from trainlab.search.shared import storage_url
from trainlab.search.space import as_override, check_keys, empty_space, grid_values, parse_space
from trainlab.search.variants import check_every_variant, composer

log = logging.getLogger(__name__)

_SAMPLER_PACKAGES = {"CmaEsSampler": "cmaes"}  # samplers whose extra package Optuna imports late
# arguments Optuna's constructors take unchecked: their least value (TPE with n_ei_candidates=0 failed
# the sweep at its 11th trial: 'The size of `samples` must be positive')
_SAMPLER_LEAST = {"TPESampler": {"n_startup_trials": 0, "n_ei_candidates": 1},
                  "CmaEsSampler": {"n_startup_trials": 0, "popsize": 1}}


@dataclass
class SweepPlan:
    """One checked sweep (one study). Built by :func:`plan_sweep`; tests may build one directly.

    Args:
        space: parameter -> distribution, in the order the parameters are drawn.
        n_trials: trials to finish (COMPLETE or PRUNED) in the study, counting earlier runs'.
        storage, study_name: where the study lives (:func:`trainlab.search.shared.storage_url`).
        sweep_dir: the folder for results and job folders (``<sweep_dir>/<trial number>``).
        directions: one per objective.
        objectives: what each direction judges: ``objective`` (the job's return value) first, then
            facts the job records on its trial (:data:`trainlab.search.checks.JOB_FACTS`).
        fixed: overrides every trial gets.
        search_file: what the search file sets outside hydra (key -> value as typed), compared when a study goes on.
        slot_overrides: per slot, overrides its trials get (the slot's GPU); empty: none.
        gpu_shared: where trials at once share GPUs, the words that say so (each trial's hand-over
            carries them to its energy meter and GPU monitor); None: each has its own, or none.
        metric: the monitored metric's name, for messages.
        sampler: the sampler's config node; None keeps the study's own sampler (never re-seeded).
        pruner: the pruner's config node as a plain mapping; None: no pruning.
        custom: fn(cfg, trial) suggesting more parameters, or None.
        enqueue: configurations (parameter -> value) run first, through ``study.enqueue_trial``.
        warm_start: a sweep folder whose finished trials are copied into a new study first.
    """

    space: dict[str, BaseDistribution]
    n_trials: int
    storage: str
    study_name: str
    sweep_dir: Path
    directions: list[str] = field(default_factory=lambda: ["minimize"])
    objectives: list[str] = field(default_factory=lambda: ["objective"])
    fixed: list[str] = field(default_factory=list)
    search_file: dict[str, str] = field(default_factory=dict)
    slot_overrides: list[list[str]] = field(default_factory=list)
    gpu_shared: Optional[str] = None
    metric: str = "objective"
    trial_key: str = "+optuna_trial"
    max_failure_rate: float = 0.0
    sampler: Optional[DictConfig] = None
    pruner: Optional[dict[str, Any]] = None
    custom: Optional[Callable[[DictConfig, optuna.trial.Trial], None]] = None
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    warm_start: Optional[Path] = None
    seed_offset: int = 0  # added to a seeded sampler's seed (a study that follows an earlier one)

    @property
    def slots(self) -> int:
        return max(1, len(self.slot_overrides))

    def build_sampler(self, trials_before: int = 0) -> Optional[optuna.samplers.BaseSampler]:
        """The sampler; a seeded one gets seed + ``trials_before``, so that a continued study (or
        another process of a shared one) draws new points instead of repeating the first run's."""
        if self.sampler is None:
            return None
        return build_sampler(self.sampler, self.space, trials_before + self.seed_offset)

    @property
    def seeded(self) -> bool:
        return self.sampler is not None and self.sampler.get("seed") is not None


# --- the sampler -------------------------------------------------------------------------------------

def build_sampler(node: Any, space: Mapping[str, BaseDistribution], trials_before: int = 0) -> optuna.samplers.BaseSampler:
    if not node or "_target_" not in node:
        raise UserError(f"hydra.sweeper.sampler is not set; pick one with hydra/sweeper/sampler=tpe ({SAMPLER_NAMES})")
    target = str(node["_target_"])
    module, _, name = target.rpartition(".")
    try:
        getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"hydra.sweeper.sampler._target_={target} is not an Optuna sampler that can be imported; "
                        f"pick one with hydra/sweeper/sampler={SAMPLER_NAMES}") from None
    needs = _SAMPLER_PACKAGES.get(name)
    if needs and importlib.util.find_spec(needs) is None:  # imported only at the first model-based sample
        raise UserError(f"hydra.sweeper.sampler._target_={target} needs the '{needs}' package: pip install {needs}, "
                        "or choose another sampler (tpe, random, qmc)")
    for arg, least in _SAMPLER_LEAST.get(name, {}).items():
        value = node.get(arg)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            # Optuna takes it and fails at the first model-based draw, trials into the sweep, with a traceback
            raise UserError(f"hydra.sweeper.sampler.{arg}={value} must be a whole number of {least} or more "
                            f"({name} takes it unchecked, and fails or misbehaves once the sweep is under way)")
    kwargs = {}
    if name == "GridSampler" and not node.get("search_space"):
        kwargs["search_space"] = grid_values(space)
    if trials_before and node.get("seed") is not None:
        kwargs["seed"] = int(node["seed"]) + trials_before
    return instantiate_node(node, "hydra.sweeper.sampler", **kwargs)


# --- slots: trials at once, and the threads and GPUs each gets ----------------------------------------

def is_in_process(launcher: Any) -> bool:
    """Whether the launcher runs jobs inside this process (Hydra's basic launcher).

    Hydra has no public name for its basic launcher (it lives in ``hydra._internal``) and no flag
    saying where a launcher runs its jobs: the class is the only sign. The one place this is read.
    """
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    return isinstance(launcher, BasicLauncher)


def on_scheduler(launcher: Any) -> bool:
    """Whether each job gets its own allocation from a cluster scheduler (SLURM through submitit:
    ours, ``hydra/launcher=slurm``, or hydra-submitit-launcher's own), so that this machine's cores
    and GPUs say nothing about a job's."""
    return _is_a(launcher, "SlurmLauncher")


def _is_a(launcher: Any, class_name: str) -> bool:
    """Whether the launcher is (or subclasses) a plugin class of that name: by name, since the plugin
    packages are optional and importing one to test against it would make it required."""
    return any(cls.__name__ == class_name for cls in type(launcher).__mro__)


def pool_size(launcher: Any) -> Optional[int]:
    """How many jobs Hydra's joblib launcher runs at once (its ``hydra.launcher.n_jobs``, -1: every
    core joblib sees), or None for launchers without a pool of their own."""
    if not _is_a(launcher, "JoblibLauncher"):
        return None
    size = int(getattr(launcher, "joblib", {}).get("n_jobs") or -1)
    if size < 0:  # joblib's convention: -1 all cores, -2 all but one ...
        size = max(1, _joblib_cores() + 1 + size)
    return size


def _joblib_cores() -> int:
    """The cores joblib counts for ``n_jobs=-1`` (it also reads cgroup limits)."""
    import joblib

    return joblib.cpu_count()


def machine_cores() -> int:
    """The cores this process may run on (its affinity, or its cgroup's CPU quota where that is fewer)."""
    from trainlab.run.cores import usable_cores

    return usable_cores()


def count_slots(n_jobs: int, launcher: Any) -> int:
    """Trials at once: ``n_jobs``, or fewer where the launcher cannot run that many (said in a warning:
    slots beyond it would hold asked trials that wait for a worker)."""
    if n_jobs > 1 and is_in_process(launcher):
        log.warning("hydra.sweeper.n_jobs=%d with the basic launcher, which runs jobs inside this process: "
                    "trials run one at a time; for parallel trials add hydra/launcher=joblib "
                    "(or submitit_local)", n_jobs)
        return 1
    pool = pool_size(launcher)
    if pool is not None and n_jobs > pool:
        log.warning("hydra.sweeper.n_jobs=%d, but the joblib launcher runs at most %d job(s) at once "
                    "(hydra.launcher.n_jobs=%s; negative: counted from the %d cores it sees): %d trials run at once; "
                    "to run more, raise hydra.launcher.n_jobs too (beyond the cores, trials share them)",
                    n_jobs, pool, launcher.joblib.get("n_jobs"), _joblib_cores(), pool)
        return pool
    cap = array_parallelism(launcher)
    if cap is not None and n_jobs > cap:
        log.warning("hydra.sweeper.n_jobs=%d, but hydra.launcher.array_parallelism=%d caps the SLURM jobs that run "
                    "at once: %d trials run at once; to run more, raise hydra.launcher.array_parallelism too",
                    n_jobs, cap, cap)
        return cap
    return n_jobs


def array_parallelism(launcher: Any) -> Optional[int]:
    """A submitit launcher's ``array_parallelism`` (its jobs running at once), or None for other launchers.

    submitit applies it within one sbatch array (``--array=0-9%4``), and the sweep submits each trial as
    an array of its own, so left to submitit it capped nothing: ``n_jobs`` trials ran at once whatever it
    said. Here it caps the sweep's slots instead."""
    if not on_scheduler(launcher):
        return None
    value = getattr(launcher, "params", {}).get("array_parallelism")
    return int(value) if value is not None else None


def _given(key: str, fixed: Sequence[str], space: Mapping[str, Any]) -> bool:
    return key in space or any(f.split("=", 1)[0].lstrip("+~") == key for f in fixed)


def thread_override(config: DictConfig, slots: int, launcher: Any, fixed: Sequence[str],
                    space: Mapping[str, Any]) -> list[str]:
    """Parallel trials on this machine split its CPU threads, unless the command line or the space
    sets them; a scheduler's jobs keep their own allocation's (torch follows the job's CPU set)."""
    key = "hardware.num_threads"
    if slots == 1 or "hardware" not in config or _given(key, fixed, space) or on_scheduler(launcher):
        return []
    return [f"{key}={max(1, machine_cores() // slots)}"]


# --- the plan ------------------------------------------------------------------------------------------

def pin_sweep_dir(config: DictConfig, folder: Optional[Path] = None) -> Path:
    """Resolve ``hydra.sweep.dir`` once (or set it to ``folder``: a stage's) and hand the literal to
    every job.

    Its ``${uid:}`` is drawn per composed config: a job composed again (in a launcher's worker process,
    or anew per trial) would otherwise land in a folder of its own. The launcher composes each job from this same config
    object, so a stage that sets another folder moves the jobs that follow.
    """
    sweep_dir = (folder or Path(str(config.hydra.sweep.dir))).resolve()
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(sweep_dir)
        overrides = [o for o in config.hydra.overrides.hydra if not str(o).startswith("hydra.sweep.dir=")]
        config.hydra.overrides.hydra = [*overrides, as_override("hydra.sweep.dir", str(sweep_dir))]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    return sweep_dir


def discard_empty_sweep_dir(config: DictConfig, top: Optional[Path] = None) -> Optional[str]:
    """Remove the sweep folder a refused sweep leaves empty (the study could not be opened, ...), and
    its empty parents up to ``top`` (a staged search's folder), as
    :func:`trainlab.run.folder.discard_unstarted_run` does for a run; a note for the error line."""
    folder, removed = Path(str(config.hydra.sweep.dir)), False
    while folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        removed = True
        if top is None or folder == top:
            break
        folder = folder.parent
    return "nothing was run, so its sweep folder was removed" if removed else None


def check_warm_start(source: Path, plan: SweepPlan, searched: Mapping[str, BaseDistribution], config: DictConfig,
                     typed: Any = None) -> None:
    """The warm start's study against this one's space, directions and metric, before anything is written
    (when the study was opened first, a refusal left an optuna.db behind). ``searched``: the space before
    ``fix_top_of`` fixed some of its keys, which a refusal names."""
    from trainlab.search.warmstart import earlier_trials

    try:
        earlier_trials(source, plan.space, plan.directions, str(config.get("optimized_metric", "objective")), typed)
    except UserError as exc:
        fixed = [k for k in searched if k not in plan.space]
        if not fixed:
            raise
        raise UserError(f"{exc} (hydra.sweeper.fix_top_of fixes {', '.join(fixed)}: a warm start needs a sweep that "
                        "searched only the parameters left)") from None


def plan_sweep(conf: Mapping[str, Any], config: DictConfig, arguments: Sequence[str], launcher: Any) -> SweepPlan:
    """Check ``hydra.sweeper`` (``conf``) and the command line's ``arguments``; nothing is written
    before every check has passed."""
    check_chosen_by_group(conf)
    conf = with_epochs_shortcut(conf, config, arguments)
    given = OmegaConf.select(config, "hydra.overrides.hydra", default=None)  # +hydra.sweeper.<key>=...
    check_schema_additions(config, OmegaConf.to_container(given, resolve=False) if given is not None else [])
    for key in ("n_trials", "n_jobs"):
        if conf[key] is None or conf[key] < 1:
            raise UserError(f"hydra.sweeper.{key}={conf[key]} must be 1 or more")
    if not 0.0 <= conf["max_failure_rate"] <= 1.0:
        raise UserError(f"hydra.sweeper.max_failure_rate={conf['max_failure_rate']} must be within 0..1")
    directions = check_directions(conf["direction"])
    check_direction(directions, config)
    objectives = check_objectives(conf.get("objectives"), directions)
    check_objectives_measurable(objectives, config)
    space, fixed = parse_space(conf.get("params"), conf.get("search_space"), arguments)
    custom = None
    if conf.get("custom_search_space"):
        custom = import_callable(conf["custom_search_space"],
                                 f"hydra.sweeper.custom_search_space={conf['custom_search_space']}")
    if not space and custom is None:
        raise UserError(empty_space(conf.get("params"), conf.get("search_space"), arguments))
    check_keys(config, space, arguments, conf.get("search_space"))
    check_value_types(config, space)
    check_sweep_families(config, space, fixed)
    check_every_variant(config, space, fixed, composer(launcher, config), conf.get("params"))
    given_grid = (conf["sampler"] or {}).get("search_space")
    if given_grid and str((conf["sampler"] or {}).get("_target_", "")).endswith(".GridSampler"):
        check_grid(given_grid, space)  # before Optuna's constructor meets a value that is no list
    sampler = build_sampler(conf["sampler"], space)  # checked before anything is written
    pruner = OmegaConf.to_container(conf["pruner"], resolve=True) if conf.get("pruner") else None
    if pruner and len(directions) > 1 and pruner["_target_"] != "optuna.pruners.NopPruner":
        overrides = [str(o).lstrip("+~") for o in (given or [])]
        asked = ([o for o in overrides if o.startswith("hydra/sweeper/pruner=")][-1:]  # the last choice wins
                 or [o for o in overrides if o.startswith("hydra.sweeper.pruner.")])
        if asked:  # chosen on the command line, not the search file's default: it would be dropped
            raise UserError(f"{asked[0]}: Optuna cannot prune a study with {len(directions)} objectives (there is no "
                            "single value to compare trials by); drop it, or search one objective")
        log.warning("hydra.sweeper.pruner=%s is not used: Optuna cannot prune a study with %d objectives "
                    "(there is no single value to compare trials by); every trial runs to its end",
                    pruner["_target_"], len(directions))
        pruner = None
    build_pruner(pruner)  # a bad pruner argument is found here, not in every job
    check_hyperband(pruner, config)
    stage_trials = None
    if conf.get("stages"):
        from trainlab.search.stages import stage_counts

        stage_trials = [int(n) for n in stage_counts(conf, conf["n_trials"])]
    for warning in idle_pruner(pruner, config, int(conf["n_trials"]), bool(conf.get("warm_start")), stage_trials):
        log.warning(warning)
    if "optimized_metric" in config and (why := not_kept_by(str(config.optimized_metric), config.get("callbacks"))):
        log.warning("a trial's value is its %s at its last epoch, not its best, and its checkpoint (best_checkpoint, "
                    "evaluate.py) not its best by it: %s", config.optimized_metric, why)
    check_companions(conf, directions)
    n_trials = int(conf["n_trials"])
    if isinstance(sampler, optuna.samplers.GridSampler):
        grid = given_grid or grid_values(space)
        size = math.prod(len(v) for v in grid.values())
        if size < n_trials:
            log.info("the grid has %d points: n_trials %d -> %d", size, n_trials, size)
            n_trials = size
    enqueue = check_enqueue(conf.get("enqueue"), space)
    if len(enqueue) > n_trials:  # the later ones would wait in the study, unrun, until a continued sweep
        raise UserError(f"hydra.sweeper.enqueue has {len(enqueue)} configurations, but hydra.sweeper.n_trials={n_trials}"
                        f" (they count towards it): raise n_trials to {len(enqueue)} or more, or enqueue fewer")
    warm_start = Path(str(conf["warm_start"])).expanduser().resolve() if conf.get("warm_start") else None
    if warm_start is not None and not warm_start.is_dir():
        raise UserError(f"hydra.sweeper.warm_start={conf['warm_start']} is not a folder; give an earlier sweep's folder")
    if warm_start is not None and warm_start == Path(str(config.hydra.sweep.dir)).resolve():
        raise UserError(f"hydra.sweeper.warm_start={conf['warm_start']} is this sweep's own folder: its trials are in the "
                        "study already (they would be copied into it twice); to continue it, leave out warm_start")
    slots = count_slots(int(conf["n_jobs"]), launcher)
    if slots > n_trials:
        log.info("hydra.sweeper.n_jobs=%d for %d trials: %d slots", slots, n_trials, n_trials)
        slots = n_trials
    on_cpu = str(config.get("hardware", {}).get("accelerator")) == "cpu"
    crowded = crowded_cores(slots, machine_cores(), "trials", f"hydra.sweeper.n_jobs={slots}",
                            "hydra.sweeper.n_jobs={cores}") if on_cpu and not on_scheduler(launcher) else None
    if crowded:  # worded as a multirun's jobs are (trainlab.run.preflight)
        log.warning("%s", crowded)
    fixed += thread_override(config, slots, launcher, fixed, space)
    slot_overrides = gpu_overrides(config, slots, on_scheduler(launcher), lambda key: _given(key, fixed, space))
    sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
    beside = None if conf.get("stages") or not sweep_dir.is_dir() else beside_a_sweep(sweep_dir)
    if beside:  # a new study would begin in a trial's folder, or among the sweeps
        raise UserError(f"hydra.sweep.dir={config.hydra.sweep.dir} {beside[0]}; to continue a sweep, give hydra.sweep.dir "
                        f"as {beside[1]}; for a new sweep, a folder of its own")
    storage = storage_url(conf.get("storage"), sweep_dir / STUDY_FILE)  # a given file's place checked there
    from trainlab.search.study import search_file_fixed
    plan = SweepPlan(
        space=space, n_trials=n_trials, sweep_dir=sweep_dir,
        storage=storage, study_name=conf.get("study_name") or sweep_dir.name, directions=directions, objectives=objectives,
        fixed=fixed, search_file=search_file_fixed(config, fixed), slot_overrides=slot_overrides,
        gpu_shared=shared_gpus(config, slots, on_scheduler(launcher), assigned=any(slot_overrides)),
        metric=str(config.get("optimized_metric", "objective")),
        trial_key="optuna_trial" if "optuna_trial" in config else "+optuna_trial",
        max_failure_rate=float(conf["max_failure_rate"]), sampler=conf["sampler"], pruner=pruner, custom=custom,
        enqueue=enqueue, warm_start=warm_start)
    if conf.get("fix_top_of"):
        from trainlab.search.stages import fix_top_of_earlier

        plan = fix_top_of_earlier(plan, conf)
    if warm_start is not None:  # against the space the study searches: fix_top_of takes keys out of it
        check_warm_start(warm_start, plan, space, config, conf["warm_start"])
    pin_sweep_dir(config, sweep_dir)  # the first write, after every check
    return plan
