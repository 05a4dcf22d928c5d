"""The checks of ``hydra.sweeper`` that need no study and no launcher: directions and objectives,
enqueued configurations, keys that act only together, the grid, how samplers and pruners are chosen,
a pruner that cannot prune (with the epochs=N shortcut applied), a model and data of different families.
:func:`trainlab.search.plan.plan_sweep` runs them before anything is written; each refusal is a
:class:`~trainlab.config.errors.UserError` naming the key and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf, read_write
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from trainlab.config.checks import apply_epochs_shortcut
from trainlab.config.errors import UserError, did_you_mean
from trainlab.config.families import experiment_options, family_mismatch, option_target
from trainlab.config.spelling import KIND_WORDS

DIRECTIONS = ("minimize", "maximize")
# what a job records on its trial (trainlab.search.pruning), usable as further objectives of a
# multi-objective search
JOB_FACTS = ("fit_seconds", "energy_joules", "epochs")
SAMPLER_NAMES = "tpe | random | cmaes | grid | nsgaii | nsgaii_small | qmc"
PRUNER_NAMES = "median | percentile | successive_halving | hyperband | nop"


def check_directions(direction: Any) -> list[str]:
    directions = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
    lowered = [str(d).lower() for d in directions]
    if not lowered:  # Optuna's own refusal came later, as the study's storage failing to open it
        raise UserError(f"hydra.sweeper.direction={direction} names no direction; give minimize or maximize (a list of "
                        "them for several objectives)")
    if any(d not in DIRECTIONS for d in lowered):
        raise UserError(f"hydra.sweeper.direction={direction} must be minimize or maximize (or a list of them)")
    return lowered


def check_objectives(objectives: Any, directions: list[str]) -> list[str]:
    """``hydra.sweeper.objectives``: null (the job returns every value) or ``[objective, <job fact>...]``."""
    if not objectives:  # the job's return value holds every objective
        return ["objective"] if len(directions) == 1 else [f"objective[{i}]" for i in range(len(directions))]
    names = [str(o) for o in objectives]
    if names[0] != "objective" or any(n not in JOB_FACTS for n in names[1:]):
        raise UserError(f"hydra.sweeper.objectives={names}: the first must be objective (what the job returns), "
                        f"the others facts a job records: {', '.join(JOB_FACTS)}")
    if len(names) != len(directions):
        raise UserError(f"hydra.sweeper.objectives has {len(names)} entries but hydra.sweeper.direction "
                        f"{len(directions)}; give one direction per objective, e.g. [minimize, minimize]")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"hydra.sweeper.objectives={names} names {', '.join(twice)} twice; name each objective once")
    maximised = [n for n, d in zip(names[1:], directions[1:]) if d == "maximize"]
    if maximised:  # costs: maximised, the front would favour the slowest, hungriest trials
        raise UserError(f"hydra.sweeper.direction maximizes {', '.join(maximised)}, a cost of the trial; give minimize "
                        f"for it: hydra.sweeper.direction=[{directions[0]},{','.join(['minimize'] * (len(names) - 1))}]")
    return names


def check_objectives_measurable(objectives: list[str], config: DictConfig) -> None:
    """What train.py's jobs cannot give is refused before the first trial, which would fail on it:
    they return one value (``optimized_metric``), and measure energy on NVIDIA GPUs only."""
    if "optimized_metric" not in config:  # another task function: it may return several values
        return
    if len(objectives) > 1 and objectives[0] != "objective":
        raise UserError(f"hydra.sweeper.direction has {len(objectives)} entries, but train.py returns one value "
                        f"(optimized_metric={config.optimized_metric}); say what the others judge: "
                        f"hydra.sweeper.objectives=[objective, fit_seconds] (a job records {', '.join(JOB_FACTS)})")
    if "energy_joules" in objectives and str(config.get("hardware", {}).get("accelerator")) == "cpu":
        profile = OmegaConf.select(config, "hydra.runtime.choices.hardware", default="cpu")
        raise UserError("hydra.sweeper.objectives names energy_joules, which is measured on NVIDIA GPUs only, and "
                        f"hardware={profile} trains on the CPU; use fit_seconds, or a GPU profile")


def checks_per_trial(config: DictConfig) -> Optional[int]:
    """The validation checks (pruning steps) a trial makes, where the config says it plainly: one per
    epoch for ``trainer.max_epochs`` epochs; None otherwise (checks within an epoch, -1 epochs ...)."""
    trainer = config.get("trainer") or {}
    epochs = trainer.get("max_epochs")
    per_epoch = trainer.get("val_check_interval") in (None, 1, 1.0)
    if not per_epoch or trainer.get("check_val_every_n_epoch") not in (None, 1):
        return None
    return int(epochs) if isinstance(epochs, int) and epochs > 0 else None


def idle_pruner(pruner: Optional[Mapping[str, Any]], config: DictConfig, n_trials: int,
                warm: bool = False, stage_trials: Optional[list[int]] = None) -> list[str]:
    """Why a pruner asked for can never stop a trial of this sweep: its warm-up outlasts every trial,
    or its start-up trials are all the trials there are (``warm``: copied trials count among them). A staged
    search's stages (``stage_trials``) are studies of their own, each with its own start-up trials."""
    if not pruner:
        return []
    name, why = str(pruner.get("_target_", "")).rpartition(".")[2], []
    checks = checks_per_trial(config)
    warmup = pruner.get("n_warmup_steps")
    if checks is not None and isinstance(warmup, int) and warmup >= checks:
        why.append(f"{name} never prunes here: hydra.sweeper.pruner.n_warmup_steps={warmup} is not below the {checks} "
                   f"validation check(s) a trial makes (trainer.max_epochs={checks}); lower n_warmup_steps")
    startup = pruner.get("n_startup_trials")
    if not isinstance(startup, int) or warm:
        return why
    if stage_trials and startup >= min(stage_trials):
        idle = [i + 1 for i, count in enumerate(stage_trials) if startup >= count]
        where = "here" if len(idle) == len(stage_trials) else f"in stage {', '.join(map(str, idle))}"
        why.append(f"{name} never prunes {where}: hydra.sweeper.pruner.n_startup_trials={startup} trials run unpruned "
                   f"in each stage (a study of its own), and hydra.sweeper.stage_trials={list(stage_trials)}; lower "
                   "n_startup_trials or raise those stages' trials")
    elif not stage_trials and startup >= n_trials:
        why.append(f"{name} never prunes here: hydra.sweeper.pruner.n_startup_trials={startup} trials run unpruned, "
                   f"and the sweep has {n_trials}; lower n_startup_trials or raise hydra.sweeper.n_trials")
    return why


def check_enqueue(entries: Any, space: Mapping[str, BaseDistribution]) -> list[dict[str, Any]]:
    """``hydra.sweeper.enqueue``: a list of {parameter: value}, each parameter searched, each value in range."""
    checked = []
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, (Mapping, DictConfig)):
            raise UserError(f"hydra.sweeper.enqueue[{i}] must be a mapping parameter -> value, got {entry!r}")
        params = OmegaConf.to_container(entry) if isinstance(entry, DictConfig) else dict(entry)
        if not params:  # Optuna enqueued a trial that fixes nothing: an ordinary sampled one
            raise UserError(f"hydra.sweeper.enqueue[{i}] is empty; give the values to run first, e.g. "
                            f"{{{next(iter(space), 'optimizer.lr')}: <value>}} (the parameters left out are sampled), "
                            "or drop it")
        if params in checked:  # Optuna skips a configuration the study has: it ran once
            raise UserError(f"hydra.sweeper.enqueue[{i}] repeats hydra.sweeper.enqueue[{checked.index(params)}] "
                            f"({params}), which runs once; drop one")
        for key, value in params.items():
            if key not in space:  # a misspelling is named, as in hydra.sweeper.stages
                close = did_you_mean(key, space)
                raise UserError(f"hydra.sweeper.enqueue[{i}].{key} is not a searched parameter; searched: "
                                f"{', '.join(space)}{'; ' + close if close else ''}")
            problem = not_in(space[key], value)
            if problem:
                raise UserError(f"hydra.sweeper.enqueue[{i}].{key}={value!r} {problem}")
        checked.append(params)
    return checked


def not_in(dist: BaseDistribution, value: Any) -> Optional[str]:
    """Why ``value`` is not one of ``dist``'s values (None when it is): Optuna would replace such a
    value of an enqueued trial with a sampled one, saying so only in a Python warning."""
    if isinstance(dist, CategoricalDistribution):
        # true == 1 in Python: a flag is one of the choices only as a flag
        same = [c for c in dist.choices if c == value and isinstance(c, bool) == isinstance(value, bool)]
        return None if same else f"is not one of its choices {list(dist.choices)}"
    if isinstance(value, bool):  # float(True) is 1.0: the trial got model.net.num_layers=true
        return f"is {str(value).lower()}, not a number; its search range is {dist.low}..{dist.high}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"is not a number; its search range is {dist.low}..{dist.high}"
    if not dist.low <= number <= dist.high:
        return f"is outside its search range {dist.low}..{dist.high}"
    if isinstance(dist, IntDistribution) and not number.is_integer():
        return f"is not a whole number; its search range is {dist.low}..{dist.high}"
    step = getattr(dist, "step", None)
    if step and not math.isclose((number - dist.low) / step, round((number - dist.low) / step), abs_tol=1e-9):
        below = dist.low + step * math.floor((number - dist.low) / step)
        return (f"is not on its search grid {dist.low}..{dist.high} step {step}; the nearest values are "
                f"{below:g} and {below + step:g}")
    return None


def contains(dist: BaseDistribution, value: Any) -> bool:
    return not_in(dist, value) is None


def check_companions(conf: Mapping[str, Any], directions: list[str]) -> None:
    """Keys that do something only together with another: set alone they would be ignored."""
    needs = {"stage_trials": ("stages", "it gives each of hydra.sweeper.stages its number of trials"),
             "fix_top": ("fix_top_of", "it says how many of that earlier sweep's parameters to fix")}
    for key, (other, what) in needs.items():
        if conf.get(key) is not None and not conf.get(other):
            raise UserError(f"hydra.sweeper.{key}={conf[key]} without hydra.sweeper.{other}: {what}; add "
                            f"hydra.sweeper.{other}, or drop {key}")
    if conf.get("pick") and len(directions) == 1:
        raise UserError(f"hydra.sweeper.pick={conf['pick']} picks a trial of a Pareto front, but this search has one "
                        "objective and so one best; drop pick (or search two objectives: hparams_search="
                        "optuna_two_objectives)")
    if conf.get("pick"):
        from trainlab.search.front import check_pick

        try:
            check_pick(OmegaConf.to_container(conf["pick"]) if isinstance(conf["pick"], DictConfig) else conf["pick"],
                       len(directions))
        except UserError as exc:
            raise UserError(f"hydra.sweeper.{exc}") from None


def check_grid(grid: Mapping[str, Any], space: Mapping[str, BaseDistribution]) -> None:
    """``hydra.sweeper.sampler.search_space`` (GridSampler's grid) names every searched parameter, no other."""
    missing, extra = [k for k in space if k not in grid], [k for k in grid if k not in space]
    if missing or extra:
        problem = f"lacks {', '.join(missing)}" if missing else f"names {', '.join(extra)}, which is not searched"
        raise UserError(f"hydra.sweeper.sampler.search_space {problem}; the grid gives values to exactly the searched "
                        f"parameters ({', '.join(space)}), or leave it null for every value of the discrete ones")
    for key, values in grid.items():  # a value off the space failed the sweep at its first trial, with a traceback
        if isinstance(values, str) or not isinstance(values, (Sequence, ListConfig)) or not values:
            raise UserError(f"hydra.sweeper.sampler.search_space.{key}={values!r} must be a list of its values, e.g. "
                            f"{grid_example(space[key])}")
        for value in values:
            problem = not_in(space[key], value)
            if problem:
                raise UserError(f"hydra.sweeper.sampler.search_space.{key}: {value!r} {problem}; the grid's values lie in "
                                "the searched space")


def grid_example(dist: BaseDistribution) -> str:
    return str(list(dist.choices)) if isinstance(dist, CategoricalDistribution) else f"[{dist.low}, {dist.high}]"


def check_chosen_by_group(conf: Mapping[str, Any]) -> None:
    """``hydra.sweeper.sampler=tpe`` sets the key to a bare name; samplers and pruners are config groups
    (``hydra/sweeper/sampler=tpe``) whose option brings the ``_target_`` and its own keys."""
    for key, names in (("sampler", SAMPLER_NAMES), ("pruner", PRUNER_NAMES)):
        value = conf.get(key)
        if value is not None and not isinstance(value, (Mapping, DictConfig)):
            raise UserError(f"hydra.sweeper.{key}={value} sets the key to a name; choose the {key} as a config group, "
                            f"with slashes: hydra/sweeper/{key}={value} ({names})")


def check_sweep_families(config: DictConfig, space: Mapping[str, BaseDistribution], fixed: Sequence[str]) -> None:
    """Every trial's model and data are of one family, as train.py requires of a run
    (:func:`trainlab.config.families.family_mismatch`): checked here for each pair the sweep can give
    (the composed config's, a fixed ``model=``/``data=`` of the space, each searched choice, and what
    each ``experiment=`` a trial can get chooses where the command line does not), so that a mismatch
    is refused before the first trial instead of failing every trial it reaches."""
    if not all(isinstance(config.get(g), DictConfig) and "_target_" in config[g] for g in ("model", "data")):
        return  # another task function's config
    chosen = OmegaConf.select(config, "hydra.runtime.choices", default=None) or {}
    sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=None)  # a user's folders too
    given = {o.split("=", 1)[0]: o.split("=", 1)[1] for o in fixed if "=" in o and not o.startswith(("+", "~"))}

    def candidates(group: str, by_experiment: Mapping[str, str]) -> list[tuple[str, Optional[str], bool]]:
        """(option name, its _target_, whether the sweep searches it) for each option trials may get;
        the command line's choice wins over the experiment's, as in Hydra."""
        dist = space.get(group)
        if isinstance(dist, CategoricalDistribution):
            return [(str(c), option_target(group, str(c), sources=sources), True) for c in dist.choices]
        option = given.get(group) or by_experiment.get(group)
        if option is not None:  # a plain model=... of the space or the command line, or the experiment's
            return [(option, option_target(group, option, sources=sources), False)]
        return [(str(chosen.get(group, config[group]._target_)), str(config[group]._target_), False)]

    experiment = space.get("experiment")
    experiments = [(str(c), True) for c in experiment.choices] if isinstance(experiment, CategoricalDistribution) \
        else [(given.get("experiment") or chosen.get("experiment"), False)]
    for name, experiment_searched in experiments:
        by_experiment = experiment_options(name, sources) if name else {}
        for model, model_target, model_searched in candidates("model", by_experiment):
            for data, data_target, data_searched in candidates("data", by_experiment):
                problem = model_target and data_target and family_mismatch(model_target, data_target, model, data,
                                                                             sources)
                if not problem:
                    continue
                from_experiment = [f"{g}={o}" for g, o in (("model", model), ("data", data))
                                   if g not in given and not isinstance(space.get(g), CategoricalDistribution)
                                   and by_experiment.get(g) == o]
                if from_experiment:
                    problem += f" ({' and '.join(from_experiment)} chosen by experiment={name})"
                group, option = (("model", model) if model_searched else ("data", data) if data_searched
                                 else ("experiment", name))
                searched = model_searched or data_searched or (experiment_searched and from_experiment)
                drop = f"; or drop {option} from the sweep's {group} choices" if searched else ""
                raise UserError(f"{problem}{drop} (each trial of this sweep would fail on it)")


def check_value_types(config: DictConfig, space: Mapping[str, BaseDistribution]) -> None:
    """A searched key whose config value is a number gets numbers, and a whole number whole numbers:
    ``choice(16, abc)`` for ``data.batch_size`` or ``interval(1, 5)`` for ``model.net.num_layers``
    passed Optuna and failed in the trials that drew such a value (``num_layers=2.7``)."""
    missing = object()
    for key, dist in space.items():
        current = OmegaConf.select(config, key, default=missing, throw_on_resolution_failure=False)
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            continue  # a string, a flag, null or a node: its type says too little
        parent = OmegaConf.select(config, key.rpartition(".")[0], default=None) if "." in key else config
        if isinstance(parent, DictConfig) and OmegaConf.get_type(parent) not in (dict, None):
            continue  # a typed schema's key (trainer, hardware): its declared type rules (limit_train_batches: 5, 0.5)
        whole = isinstance(current, int)
        if isinstance(dist, CategoricalDistribution):
            bad = [v for v in dist.choices
                   if v is not None and (isinstance(v, (str, bool)) or (whole and isinstance(v, float)))]
            if bad:
                one, several = KIND_WORDS[int if whole else float]
                raise UserError(f"{key}: its choices {list(dist.choices)} hold {bad[0]!r}, but {key}={current} in the "
                                f"config is {one}; give {several} only")
        elif whole and not isinstance(dist, IntDistribution):
            high = int(math.floor(dist.high))
            raise UserError(f"{key}: its search draws fractions ({dist.low:g}..{dist.high:g}), but {key}={current} in "
                            f"the config is a whole number; search whole numbers: {key}=range({math.ceil(dist.low)}, "
                            f"{high + 1}) or {key}=int(interval({math.ceil(dist.low)}, {high}))")


def check_hyperband(pruner: Optional[Mapping[str, Any]], config: DictConfig) -> None:
    """Hyperband's settings, which Optuna checks only in each trial's first report: a reduction factor
    below 2 or a min_resource below 1 failed every trial (ZeroDivisionError), a max_resource below 1
    too (math domain error; hparams_search=optuna_hyperband takes it from trainer.max_epochs, -1
    with no epoch limit), and a max_resource below min_resource left no bracket: nothing was pruned."""
    if not pruner or str(pruner.get("_target_")).rpartition(".")[2] != "HyperbandPruner":
        return
    key = "hydra.sweeper.pruner"
    low, high, factor = pruner.get("min_resource"), pruner.get("max_resource"), pruner.get("reduction_factor")
    if not isinstance(factor, int) or factor < 2:
        raise UserError(f"{key}.reduction_factor={factor} must be a whole number of 2 or more (each rung keeps "
                        "1/reduction_factor of its trials); Optuna's default is 3")
    if not isinstance(low, int) or low < 1:
        raise UserError(f"{key}.min_resource={low} must be a whole number of 1 or more: the validation checks a trial "
                        "makes before its first rung judges it")
    if high == "auto":
        return
    epochs = OmegaConf.select(config, "trainer.max_epochs", default=None)
    source = f" (trainer.max_epochs={epochs})" if high == epochs else ""
    if not isinstance(high, int) or high < low:
        raise UserError(f"{key}.max_resource={high}{source} must be a whole number of at least min_resource={low}: "
                        f"Hyperband's brackets span min_resource..max_resource checks; give the checks a trial makes "
                        f"({key}.max_resource=<epochs>), or auto (the longest trial so far)")


def with_epochs_shortcut(conf: Mapping[str, Any], config: DictConfig, arguments: Sequence[str]) -> Mapping[str, Any]:
    """``epochs=N`` (which sets ``trainer.max_epochs`` in each trial) applied to the sweep's config too, and
    ``conf``'s pruner read again from it: Hydra resolved ``hydra.sweeper`` before the sweep started, so under
    ``epochs=2`` Hyperband's ``max_resource: ${trainer.max_epochs}`` was the search file's 10, and the warning of
    a warm-up as long as the trials never came. A contradicting ``trainer.max_epochs`` is refused here, before
    the first trial (each trial failed on it)."""
    before = OmegaConf.select(config, "trainer.max_epochs", default=None)
    with read_write(config):
        apply_epochs_shortcut(config, list(arguments))
    pruner = OmegaConf.select(config, "hydra.sweeper.pruner", default=None)
    if conf.get("pruner") is None or pruner is None or config.trainer.max_epochs == before:
        return conf
    return {**conf, "pruner": pruner}
