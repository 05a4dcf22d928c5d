"""``hydra/sweeper=optuna``: an Optuna sweeper with pruning, asynchronous slots and resumable studies.

Accepts the keys of hydra-optuna-sweeper 1.3 (``sampler``, ``direction``, ``storage``, ``study_name``,
``n_trials``, ``n_jobs``, ``max_failure_rate``, ``params``, ``search_space``, ``custom_search_space``)
plus ``pruner``. The work is done in :mod:`trainlab.search.sweep`.

Hydra imports every module of the ``hydra_plugins`` namespace at start-up, for every command: this
one holds only dataclasses and a thin class, and imports optuna and trainlab.search inside methods.
"""

# No `from __future__ import annotations`: Hydra executes this module before it is in sys.modules,
# and dataclasses cannot resolve string annotations then.
import importlib.util
import sys
import types
from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# --- samplers: hydra/sweeper/sampler=<name>; one node builds one optuna.samplers object --------------


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10  # random trials before the model of good/bad regions takes over
    n_ei_candidates: int = 24
    multivariate: Optional[bool] = None
    group: bool = False
    constant_liar: bool = True  # parallel trials: treat running ones as bad, so slots explore apart


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class CmaEsSamplerConf:  # needs the `cmaes` package
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None
    n_startup_trials: int = 1
    sigma0: Optional[float] = None
    popsize: Optional[int] = None
    use_separable_cma: bool = False
    with_margin: bool = False
    consider_pruned_trials: bool = False


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"
    # null: every value of the discrete params (choice, range); a mapping key -> list otherwise
    # (mappings that default to null are typed Any: OmegaConf cannot merge a mapping from the command
    # line into a null Dict node, it fails with an AttributeError)
    search_space: Any = None
    seed: Optional[int] = None


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None
    qmc_type: str = "sobol"  # sobol | halton
    scramble: bool = False


# --- pruners: hydra/sweeper/pruner=<name> -------------------------------------------------------------


@dataclass
class MedianPrunerConf:
    """Stop a trial whose value at an epoch is worse than the median of earlier trials at that epoch."""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that always run to the end, to learn the median from
    n_warmup_steps: int = 3  # epochs (0-based steps) before a trial may be pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class PercentilePrunerConf:
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = 25.0  # keep the best 25 %
    n_startup_trials: int = 5
    n_warmup_steps: int = 3
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"  # epochs, or "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # epochs, or "auto" (the longest trial so far)
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


SAMPLERS = {"tpe": TPESamplerConf, "random": RandomSamplerConf, "cmaes": CmaEsSamplerConf, "grid": GridSamplerConf,
            "nsgaii": NSGAIISamplerConf, "qmc": QMCSamplerConf}
PRUNERS = {"median": MedianPrunerConf, "percentile": PercentilePrunerConf, "nop": NopPrunerConf,
           "successive_halving": SuccessiveHalvingPrunerConf, "hyperband": HyperbandPrunerConf}


@dataclass
class OptunaSweeperConf:
    """``hydra.sweeper`` for ``hydra/sweeper=optuna``; conf/hparams_search/optuna.yaml sets it up."""

    _target_: str = "hydra_plugins.trainlab_optuna_sweeper.TrainlabOptunaSweeper"
    _recursive_: bool = False  # sampler and pruner arrive as config nodes: trainlab.search checks, then builds
    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}, {"pruner": "nop"}])
    sampler: Any = None
    pruner: Any = None
    direction: Any = "minimize"  # minimize | maximize, or a list of them for several objectives
    # null: sqlite:///<sweep dir>/optuna.db; any SQLAlchemy URL to share a study between machines
    storage: Optional[str] = None
    # null: the sweep folder's name; the same storage and study name continue a study
    study_name: Optional[str] = None
    n_trials: int = 20  # trials to finish (complete + pruned), counting those of earlier runs
    n_jobs: int = 1  # trials at once (launchers that run jobs in other processes; the basic one runs 1)
    max_failure_rate: float = 0.0  # failed / all trials above this ends the sweep
    # key -> Hydra sweep grammar: interval(a, b), tag(log, interval(a, b)), range(a, b, step), choice(...)
    params: Any = None  # a mapping; Any, not Dict: see GridSamplerConf.search_space
    # key -> {type: float | int | categorical, low, high, step, log, choices}
    search_space: Any = None  # a mapping
    # dotted path of fn(cfg, trial) that suggests more parameters (conditional spaces)
    custom_search_space: Optional[str] = None
    # warm starts (src/trainlab/search/warmstart.py): configurations {param: value} run first (they
    # count towards n_trials), and an earlier sweep folder whose finished trials a new study starts from
    enqueue: Optional[List[Any]] = field(default=None, metadata={"example": "[{optimizer.lr:0.001}]"})
    warm_start: Optional[str] = None
    # several objectives: [objective, fit_seconds | energy_joules | epochs], one direction each; the
    # first is what the job returns, the others what it records (null: the job returns them all)
    objectives: Optional[List[str]] = field(default=None, metadata={"example": "[objective,fit_seconds]"})
    # staged search (src/trainlab/search/stages.py): a list of {name, params: [keys]}; each stage is a
    # study of its own, searching its keys with the earlier stages' best values fixed
    stages: Optional[List[Any]] = field(default=None, metadata={"example": "[{name:model,params:[model.net.hidden_size]}]"})
    # with stages: trials per stage (null: n_trials each)
    stage_trials: Optional[List[int]] = field(default=None, metadata={"example": "[10,20]"})
    # stage 2 from an earlier sweep folder: fix its fix_top most important parameters at its best values
    fix_top_of: Optional[str] = None
    fix_top: Optional[int] = None  # null: 3 (set without fix_top_of, it is refused rather than ignored)
    # several objectives: which front trial a next stage takes, {within: 0.01, then: 1}: of the trials
    # within 1 % of the best first objective, the best by objective 1 (e.g. the fastest)
    pick: Any = None  # a mapping


# keys typed Any above (their keys are the user's, or a sampler's or pruner's own) that take a mapping
MAPPING_KEYS = ("sampler", "pruner", "params", "search_space", "pick")


class TrainlabOptunaSweeper(Sweeper):
    """Runs ``n_trials`` trials of a study; see :class:`trainlab.search.sweep.OptunaSearch`."""

    def __init__(self, **sweeper_conf: Any) -> None:
        super().__init__()
        self.sweeper_conf = sweeper_conf
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None
        self.config: Optional[DictConfig] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def sweep(self, arguments: List[str]) -> Any:
        from trainlab.search.sweep import run_sweep

        run_sweep(self.sweeper_conf, hydra_context=self.hydra_context, task_function=self.task_function,
                  config=self.config, arguments=arguments)


def _answers_to_upstream_name() -> bool:
    """True when hydra-optuna-sweeper is absent (it needs Optuna < 3, so it cannot be installed here)."""
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None
    except (ImportError, ValueError):
        return True


if _answers_to_upstream_name():

    class OptunaSweeper(TrainlabOptunaSweeper):
        """Registered by Hydra as ``hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper``.

        lightning-hydra-template search files name that class in ``hydra.sweeper._target_``; Hydra
        looks plugins up by module and class name, so this alias lets those files run unchanged.
        """

    def _alias_module(name: str, **members: Any) -> None:
        module = types.ModuleType(name, "alias of hydra_plugins.trainlab_optuna_sweeper (see OptunaSweeper)")
        module.__dict__.update(members)
        sys.modules.setdefault(name, module)

    # Hydra finds the class by that name in its plugin registry, then imports the name: both must work
    OptunaSweeper.__module__ = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper"
    _alias_module("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper", OptunaSweeper=OptunaSweeper)
    _alias_module("hydra_plugins.hydra_optuna_sweeper", __path__=[])


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="trainlab")
    for name, node in SAMPLERS.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider="trainlab")
    for name, node in PRUNERS.items():
        cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider="trainlab")


register()
