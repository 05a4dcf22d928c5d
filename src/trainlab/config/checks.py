"""Checks of the composed config that need no torch: settings that contradict each other or would do
nothing, and the ``epochs=N`` shortcut.

Each failure is a :class:`UserError` naming the keys and the fix, raised before anything is built, so
a run that cannot do what it was asked to never starts. The checks that need the built model and data
(metrics that are never logged, validation that never runs) live in :mod:`trainlab.run.checks`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, open_dict

from trainlab.config.errors import UserError, did_you_mean

log = logging.getLogger(__name__)

# optimized_mode (checkpoints, early stopping, plateau) -> the Optuna study direction that agrees with it
DIRECTION_OF_MODE = {"min": "minimize", "max": "maximize"}
# groups whose files set keys of the whole config (``# @package _global_``), not keys under their own name
GLOBAL_GROUPS = ("experiment", "hparams_search", "debug")


def check_seed(seed: Any) -> int:
    """``seed`` as an int: ``seed=abc`` or ``seed=1.5`` is refused, ``seed=7.0`` is 7."""
    if isinstance(seed, bool) or not isinstance(seed, (int, float)) or (isinstance(seed, float) and not seed.is_integer()):
        shown = "null" if seed is None else repr(seed)  # as typed: seed=null, not Python's None
        raise UserError(f"seed={shown} must be a whole number (e.g. seed=42); it seeds every random generator")
    if not 0 <= seed < 2**32:
        raise UserError(f"seed={seed} must be within 0..{2**32 - 1} (numpy's seed range)")
    return int(seed)


def apply_epochs_shortcut(cfg: DictConfig, command_line: Optional[list[str]] = None) -> None:
    """``epochs=N`` sets ``trainer.max_epochs`` (the one home of the number of epochs).

    Giving both on the command line with different values is refused: one of them would be ignored.
    ``command_line``: the task's overrides (Hydra's ``hydra.overrides.task``); read from Hydra when None.
    """
    epochs = cfg.get("epochs")
    if epochs is None:
        return
    if command_line is None:
        from trainlab.config.invocation import task_overrides

        command_line = task_overrides()
    given = [o.split("=", 1)[1] for o in command_line if o.lstrip("+~").startswith("trainer.max_epochs=")]
    if given and str(given[-1]) != str(epochs):
        raise UserError(f"epochs={epochs} and trainer.max_epochs={given[-1]} contradict each other; "
                        "give one of them (epochs=N is a shortcut for trainer.max_epochs=N)")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or (epochs < 1 and epochs != -1):
        raise UserError(f"epochs={epochs!r} must be a whole number of epochs, 1 or more (-1: no limit)")
    with open_dict(cfg):
        cfg.trainer.max_epochs = epochs


def check_direction(directions: list[str], cfg: DictConfig) -> None:
    """A study direction that contradicts ``optimized_mode`` is refused: the study would hunt for the
    worst value while checkpoints, early stopping and the plateau scheduler keep the best."""
    mode = cfg.get("optimized_mode")
    if not directions or mode not in DIRECTION_OF_MODE or directions[0] == DIRECTION_OF_MODE[mode]:
        return
    keeps = (f"checkpoints and early stopping keep the {'lowest' if mode == 'min' else 'highest'} "
             f"{cfg.get('optimized_metric')}")
    if len(directions) > 1:  # the first objective is optimized_metric (hparams_search=optuna_two_objectives minimised
        # a val/acc of optimized_mode=max without a word)
        fixed = ",".join([DIRECTION_OF_MODE[mode], *directions[1:]])
        raise UserError(f"hydra.sweeper.direction={directions} judges the first objective, "
                        f"{cfg.get('optimized_metric')}, by {directions[0]}, which contradicts optimized_mode={mode} "
                        f"({keeps}); give hydra.sweeper.direction=[{fixed}]")
    wanted = {v: k for k, v in DIRECTION_OF_MODE.items()}[directions[0]]
    raise UserError(
        f"hydra.sweeper.direction={directions[0]} contradicts optimized_mode={mode} ({keeps}); "
        f"set optimized_mode={wanted} alone: the direction follows from it"
    )


def check_top_level_keys(cfg: DictConfig) -> None:
    """A top-level key that neither conf/train.yaml nor a config group has (``+foo=1``, or a user's
    experiment file with ``# @package _global_`` setting ``notes: ...``) is refused: nothing reads it."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from trainlab.config.errors import did_you_mean
    from trainlab.config.search_path import config_folders
    from trainlab.run.root import repo_root

    own = [k for k in OmegaConf.load(repo_root() / "conf" / "train.yaml") if k != "defaults"]  # what the code reads
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    # the groups of this run's choices, and those of its config folders (--config-path's, --config-dir's): a
    # config composed with Hydra's compose API (a notebook, a hand-written search loop) has no HydraConfig to
    # list its choices, and its folders are conf/'s
    folders = [p.name for folder in config_folders() if folder.is_dir() for p in folder.iterdir() if p.is_dir()]
    groups = sorted({g.split("/")[0] for g in [*choices, *folders]} - {"hydra"})
    for group in GLOBAL_GROUPS:  # a file of these groups without '# @package _global_': Hydra nests it under the group
        if isinstance(cfg.get(group), DictConfig) and len(cfg[group]):
            from trainlab.config.invocation import leaves
            from trainlab.config.file_problems import EXAMPLE_EXPERIMENT, unread_package_line
            from trainlab.config.search_path import option_file

            key, _ = next(iter(leaves(OmegaConf.to_container(cfg[group], resolve=False))))
            chosen = choices.get(group)
            path = option_file(group, chosen) if chosen else None
            where = f"{group}={chosen} ({path or f'{group}/{chosen}.yaml'})" if chosen else f"a {group} file"
            fix = (unread_package_line(path) if path else None) or f"add it ({EXAMPLE_EXPERIMENT} shows the form)"
            raise UserError(f"{where} sets {group}.{key}, under {group}.*, where nothing reads it: a file of the "
                            f"{group} group changes the config's own keys only with '# @package _global_' as its "
                            f"first line; {fix}")
    unknown = [k for k in cfg if k not in (*own, *groups, "hydra")]
    if unknown:
        hint = did_you_mean(unknown[0], [*own, *groups])
        raise UserError(f"{unknown[0]} is a top-level key that nothing reads (added with '+', or by a config file "
                        f"with # @package _global_); {hint + ' Else r' if hint else 'R'}emove it. The top-level "
                        f"settings: {', '.join(own)}; the groups: {', '.join(groups)}")


def _has_key(config: DictConfig, key: str) -> bool:
    """Whether ``config`` holds the dotted ``key``, a required one (``???``) included: select's default stands for
    both an absent key and a required one, which data=file's source.path is."""
    from omegaconf import OmegaConf

    parent, _, last = key.rpartition(".")
    node = OmegaConf.select(config, parent, throw_on_missing=False) if parent else config
    return isinstance(node, DictConfig) and last in node.keys()


def check_experiment_choices(cfg: DictConfig) -> None:
    """An experiment's group choice replaced on the command line (``experiment=lstm_seed model=cnn``): the
    experiment's settings for its own choice apply to the other. One it sets that the other lacks is refused
    naming both (it was ``model.net.hidden_size is not an argument of ...TemporalCNN``, a key the user never
    typed); when they all fit, one warning says that they apply."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from trainlab.config.invocation import leaves
    from trainlab.config.families import experiment_options
    from trainlab.config.search_path import option_file

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    name = choices.get("experiment")
    if not name:
        return
    for group, chosen in experiment_options(name).items():
        replaced_by = choices.get(group)
        source = option_file(group, str(replaced_by)) if replaced_by not in (None, chosen) else None
        if source is None or "/" in group:
            continue
        settings = OmegaConf.load(option_file("experiment", name)).get(group)
        if not isinstance(settings, DictConfig) or not settings:
            continue
        own = OmegaConf.load(source)
        given = [k for k, _ in leaves(OmegaConf.to_container(settings))]
        lacking = [k for k in given if not _has_key(own, k)]
        head = (f"experiment={name} chooses {group}={chosen} and sets {group} keys for it, but {group}={replaced_by} "
                f"on the command line replaced that choice")
        if lacking and not any(d != "_self_" for d in own.get("defaults", [])):  # no other file adds keys to it
            raise UserError(f"{head}, and {replaced_by} has no {', '.join(f'{group}.{k}' for k in lacking)}; leave "
                            f"{group}={replaced_by} out, or make an experiment of your own for {replaced_by} "
                            f"(experiments/experiment/{name}.yaml shows the form)")
        log.warning("%s: its %s settings apply to %s (%s)", head, group, replaced_by,
                    ", ".join(f"{group}.{k}={OmegaConf.select(cfg, f'{group}.{k}')}" for k in given))


def warn_unread_hardware_keys(cfg: DictConfig) -> None:
    """A ``hardware.<key>=...`` of the command line that reaches its reader only through an interpolation
    (``max_nodes_per_graph: ${hardware.max_nodes_per_graph}`` in the graph data options) which this run's
    config does not hold: one warning naming the options that read it (a profile's own value stays
    quiet: profiles serve every family)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from trainlab.config.search_path import config_folders

    if not HydraConfig.initialized():
        return
    given = [m for o in HydraConfig.get().overrides.task if (m := re.match(r"\+?hardware\.(\w+)=(.*)", o))]
    if not given:
        return
    used = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, [k for k in cfg if k not in ("hardware", "hydra")]))
    files = [p for folder in config_folders() for p in folder.rglob("*.yaml") if p.parent.name != "hardware"]
    for match in given:
        reference = "${hardware." + match.group(1) + "}"
        if reference in used:
            continue
        readers = sorted({f"{p.parent.name}={p.stem}" for p in files if reference in p.read_text(encoding="utf-8")})
        if readers:
            log.warning("hardware.%s=%s is read only by %s, through %s; this run has none of them, so it does "
                        "nothing here", match.group(1), match.group(2), ", ".join(readers), reference)


def warn_lone_callbacks(cfg: DictConfig) -> None:
    """``callbacks=early_stopping`` (one callback's option, or a group of the user's) is chosen instead of the
    defaults, not added to them: the run then kept no best checkpoint and wrote no epochs.jsonl or
    training_summary.json, and said only '(no checkpoint kept)' at its end. Where a callbacks group has callbacks
    but not the defaults' checkpoint and records (by class), one warning names the default callbacks it lacks and
    the keys that change, drop or add one; an empty group (``callbacks=none``) and a default dropped by its key
    (``callbacks.model_checkpoint=null``, which read 'callbacks=default is chosen instead of ...') are meant."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from trainlab.run.root import repo_root

    group = cfg.get("callbacks") or {}
    nodes = {name: node for name, node in group.items() if isinstance(node, DictConfig)}
    have = {str(node.get("_target_")) for node in nodes.values()}
    dropped = {name for name, node in group.items() if node is None}  # callbacks.<name>=null: meant, as advised
    if not nodes:
        return
    folder = repo_root() / "conf" / "callbacks"

    def default(name: str) -> DictConfig:
        return OmegaConf.load(folder / f"{name}.yaml")[name]

    def missing(name: str, node: DictConfig) -> bool:
        return name not in dropped and str(node._target_) not in have

    # every run starts here: the two files that decide first, the rest of the defaults only for the warning
    if not any(missing(name, default(name)) for name in _LOST):
        return
    defaults = {name: default(name) for name in OmegaConf.load(folder / "default.yaml").defaults if name != "_self_"}
    lacking = [name for name, node in defaults.items()
               if node.get("enabled", True) is not False and missing(name, node)]
    chosen = (HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}).get("callbacks")
    # a group file of the user's (Hydra's rule: an option replaces the group) adds to ours by naming them first
    own = chosen and not (folder / f"{chosen}.yaml").is_file()
    log.warning("%s is chosen instead of the default callbacks, not added to them: this run has no %s (%s). To keep the "
                "defaults, %sleave callbacks= out and change one (callbacks.%s.<key>=...), drop one "
                "(callbacks.<name>=null) or add your own (+callbacks.<name>._target_=<class>)",
                f"callbacks={chosen}" if chosen else "the config's callbacks group", ", ".join(lacking),
                "; ".join(what for name, what in _LOST.items() if name in lacking),
                f"begin your callbacks/{chosen}.yaml with 'defaults: [default, _self_]' (its callbacks are then added "
                "to ours), or " if own else "", next(iter(nodes)))


# the default callbacks whose absence the warning above is for, and what a run lacks without each
_LOST = {"model_checkpoint": "no best checkpoint kept", "run_records": "no epochs.jsonl, training_summary.json or curves plot"}


def check_config(cfg: DictConfig) -> None:
    """Everything :func:`train` can check on the config alone, before it builds anything."""
    check_top_level_keys(cfg)
    check_experiment_choices(cfg)
    warn_unread_hardware_keys(cfg)
    warn_lone_callbacks(cfg)
    if cfg.get("optimized_mode") not in DIRECTION_OF_MODE:
        raise UserError(f"optimized_mode={cfg.get('optimized_mode')!r} must be min or max")
    apply_epochs_shortcut(cfg)
    with open_dict(cfg):
        cfg.seed = check_seed(cfg.seed)


EVAL_SPLITS = ("test", "val", "all")  # all: every window of a (new) series file
# conf/eval.yaml's top-level keys (tests/test_time_column.py keeps this list equal to it) and +data
EVAL_KEYS = ("task_name", "ckpt_path", "split", "batch_size", "latency", "trainer", "hardware", "paths", "data")
# ... of which the run's own config holds the values: evaluate.py takes them with a '+' (+data.source.path=<file>)
EVAL_RUN_KEYS = ("data",)


# a key of the data config that a message asks to change; one followed by its column in a file is where the problem
# lies ("data.source.time_column 'date' in 'sales.csv': row 120 ('Total') is a summary ..."), whose fix is in the
# file: evaluate.py's '+' hint then told to set that key, which no value of it mends
DATA_KEY = re.compile(r"(?<![\w.+])data\.[\w.]+\w(?!\w|\.\w| '[^']*' in ')")


def run_data_hint(problem: str, kept: tuple[str, ...] = ()) -> str:
    """``problem`` (a UserError's line about the run's data, naming a ``data.<key>``) with how evaluate.py
    sets that key; keys in ``kept`` (the model's own, ``window``) are named as such and the data file offered."""
    named = list(dict.fromkeys(DATA_KEY.findall(problem)))
    free = [k for k in named if k.removeprefix("data.") not in kept]
    fixed = [k for k in named if k not in free]
    key = free[0] if free else "data.source.path" if fixed else "data.<key>"
    note = f"; the model keeps the run's {' and '.join(fixed)}" if fixed else ""
    return f"{problem} ({_reader()} sets the run's data with a '+': +{key}=<value>{note})"


def _reader() -> str:
    """The script that reads a run's data again, for messages: predict.py where it runs, else evaluate.py."""
    from trainlab.config.invocation import _script

    return "predict.py" if _script() == "predict.py" else "evaluate.py"


def override_run_data(run_cfg: DictConfig, given: Any) -> list[str]:
    """``+data.<key>=<value>`` given to evaluate.py, set on the run's data config: a data file that moved,
    or another file of the same columns. Keys the run's data config does not have are refused.
    Returns the overrides as the user wrote them (``+data.source.path=new.csv``), for messages."""
    from omegaconf import OmegaConf

    from trainlab.config.invocation import leaves

    if not given:
        return []
    applied = []
    for key, value in leaves(OmegaConf.to_container(given, resolve=True)):
        if OmegaConf.select(run_cfg.data, key, default="<absent>") == "<absent>":
            raise UserError(_absent_data_key(run_cfg.data, key))
        OmegaConf.update(run_cfg.data, key, value, merge=False)
        applied.append(f"+data.{key}={_as_typed(value)}")
    return applied


def _absent_data_key(data: DictConfig, key: str) -> str:
    """Why ``+data.<key>`` names nothing of the run's data config, and what it has there instead: the nearest
    spelling of the first part it lacks, or the keys beside it. ``+data.source.path`` for a run on built-in data
    (data=elnino, synthetic) was told "... can change what it has (e.g. +data.source.path=<file> ...)", the
    override it had just refused. A source of the user's own is not said to read no file: its keys are listed."""
    from omegaconf import OmegaConf

    line = f"+data.{key}: the run's data config has no such key"
    source = OmegaConf.select(data, "source._target_", default=None)
    if key == "source.path" and str(source).startswith("trainlab."):  # a user's own source may read one by another key
        return (f"{line}: its data come from {str(source).rsplit('.', 1)[-1]}, which reads no file, so there is no "
                f"file to replace; {_reader()} reads another file for a run trained on one (data=file, data=catalogue, "
                "data=sky_folder)")
    parts, node, depth = key.split("."), data, 0
    while depth < len(parts) - 1 and isinstance(node, DictConfig) and parts[depth] in node:
        node, depth = node[parts[depth]], depth + 1
    prefix = ".".join(["+data", *parts[:depth]]) + "."
    keys = [str(k) for k in node.keys() if not str(k).startswith("_")] if isinstance(node, DictConfig) else []
    hint = did_you_mean(parts[depth], keys, prefix=prefix) or (
        f"it has {', '.join(prefix + k for k in keys)}" if keys else f"{prefix.rstrip('.')} holds no keys")
    return f"{line}; {hint}"


def _as_typed(value: Any) -> str:
    """A value as it is written on the command line: ``false``, ``null``, ``[x,y]``."""
    if isinstance(value, list):
        return "[" + ",".join(_as_typed(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def check_run_reader_keys(cfg: DictConfig, script: str, keys: Sequence[str], also: str = "") -> None:
    """What evaluate.py and predict.py, which read a trained run, both refuse: no ``ckpt_path``, and a top-level
    key beyond their ``keys`` (added with +: nothing would read it). ``also``: what else the example command
    gives (`` horizon=<steps>``)."""
    from omegaconf import OmegaConf

    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise UserError(f"ckpt_path is required: python {script} ckpt_path=<run folder or .ckpt file>{also} "
                        f"(run folders are under {_runs_folder(cfg)})")
    unknown = sorted(set(cfg) - set(keys) - {"hydra"})  # hydra: in configs composed by tests
    if unknown:
        raise UserError(f"{script} does not use {', '.join(unknown)}; its keys are {', '.join(keys)} (the model and "
                        "data come from the run's own config; +data.<key>=... changes the run's data)")


def _runs_folder(cfg: DictConfig) -> str:
    """Where train.py's runs are, for messages: ``outputs/train/runs/``, or the folder ``paths.log_dir`` names
    instead (the messages said outputs/ either way)."""
    from omegaconf import OmegaConf

    from trainlab.run.root import repo_root

    log_dir = OmegaConf.select(cfg, "paths.log_dir", default=None, throw_on_missing=False)
    try:
        if log_dir is None or Path(log_dir).expanduser().resolve() == (repo_root() / "outputs").resolve():
            return "outputs/train/runs/"
    except (OSError, UserError, ValueError):  # no repository found, or a folder that cannot be resolved
        pass
    return f"{log_dir}/train/runs/" if log_dir is not None else "outputs/train/runs/"


def check_eval_config(cfg: DictConfig) -> None:
    """evaluate.py's own keys: a checkpoint to evaluate and a split it knows."""
    from omegaconf import OmegaConf

    check_run_reader_keys(cfg, "evaluate.py", EVAL_KEYS)
    if cfg.split not in EVAL_SPLITS:
        raise UserError(f"split={cfg.split!r} is not one of {', '.join(EVAL_SPLITS)}; e.g. split=val (all: every window of a series file)")
    devices, trainer = cfg.trainer.devices, cfg.trainer
    one_device = devices in (1, "1") or (OmegaConf.is_list(devices) and len(devices) == 1)
    if not one_device or trainer.num_nodes != 1:
        key = "hardware.devices" if OmegaConf.is_interpolation(trainer, "devices") else "trainer.devices"
        shown = f"{key}={devices}" if not one_device else f"trainer.num_nodes={trainer.num_nodes}"
        raise UserError(f"{shown}: evaluate.py tests and times the model in one process on one device (several "
                        f"would each write the same report, and time each other); leave it out, or pick one device: "
                        f"{key}=[<id>]")
    for key, low in (("warmup", 0), ("max_batches", 1)):  # below: timed as if 0 / still timed, without a word
        value = cfg.latency[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UserError(f"latency.{key}={value!r} must be a whole number, {low} or more")
