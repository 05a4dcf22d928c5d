"""The model families, declared once: their name, what they learn, and where their parts live.

Every task module (``trainlab.models.<family>``) and data module (``trainlab.data.<family>``) carries
the class attribute ``family`` with one of these names; ``train.py`` refuses a model and data of
different families, and ``evaluate.py`` picks the evaluation module from the model's family. The
same name is used in every layer: ``conf/data`` options are grouped by it in ``conf/README.md``, the
data package is ``trainlab/data/<family>/``, the task module ``trainlab/models/<family>.py``, the
evaluation module ``trainlab/evaluation/<family>.py``, and ``tests/families.py`` lists each family's
small test runs. Adding a family means one entry here plus those modules (CONTRIBUTING.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.errors import UserError
from trainlab.config.search_path import Sources

_ABSENT = object()  # what OmegaConf.select gives for a key a file does not set


@dataclass(frozen=True)
class Family:
    """One family of models and data.

    Args:
        name: the tag carried by its task and data modules (``family = "<name>"``).
        learns: what its models predict, for messages and docs.
        evaluation: module with ``forward_batch`` and ``artifacts`` for evaluate.py.
    """

    name: str
    learns: str
    evaluation: str


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("timeseries", "forecasts of the next value(s) of a series from a sliding window",
               "trainlab.evaluation.timeseries"),
        Family("graph", "a class for every star of a catalogue, from its features and its kNN graph",
               "trainlab.evaluation.graph"),
        Family("image", "a per-pixel anomaly map and an anomaly score for every sky tile",
               "trainlab.evaluation.image"),
    )
}


def family_of(target: Any, key: str = "_target_") -> Optional[str]:
    """The family tag of a class, an instance, or a ``_target_`` string (None if it has none);
    ``key`` names the config node in the message when the string cannot be imported."""
    shown = target if isinstance(target, str) else getattr(target, "__qualname__", type(target).__qualname__)
    if isinstance(target, str):
        declared = _declared_family(target)
        if declared is not _UNREAD:
            return declared
        from trainlab.config.instantiate import import_target

        target = import_target(target, key)
    name = getattr(target, "family", None) or None  # TaskModule's own "": no family yet
    if name is not None and name not in FAMILIES:
        raise UserError(f"{key}._target_={shown} declares family {name!r}, which trainlab does not know; set its "
                        f"class attribute family to one of {', '.join(FAMILIES)}, or add the family (CONTRIBUTING.md)")
    return name


def require_family(target: str, key: str) -> str:
    """The family tag of the ``_target_`` of config node ``key`` (model or data); a user's own class
    without one is refused: the data checks, the pairing of model and data and evaluate.py's report
    all go by it."""
    name = family_of(target, key)
    if name is None:
        raise UserError(f"{key}._target_={target} has no family tag; give the class the attribute family = "
                        f"{' | '.join(repr(f) for f in FAMILIES)} (the family whose data and evaluation it fits), "
                        "e.g. by deriving it from that family's class (CONTRIBUTING.md)")
    return name


_UNREAD = object()


# One parse at a time: Python 3.11's ast.parse, run in two threads at once (trials in threads: a hand-written
# study.optimize(n_jobs=2), joblib's threading backend), can fail with "SystemError: AST constructor
# recursion depth mismatch" (CPython issue 106905); the benchmark's peer loop met it.
_PARSING = threading.Lock()


def _declared_family(path: str) -> Any:
    """The family a class of trainlab's own states in its body (``family = "timeseries"``), read from
    its source without importing it: a sweep's planning process checks every trial's model and data
    without paying for torch and Lightning, which only its trials need. ``_UNREAD`` for anything
    else (a user's class, a tag inherited or computed), which :func:`family_of` imports instead."""
    import ast
    import importlib.util

    module_name, _, class_name = path.rpartition(".")
    if not module_name.startswith("trainlab."):
        return _UNREAD
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return _UNREAD
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return _UNREAD
    with open(spec.origin, encoding="utf-8") as source, _PARSING:
        tree = ast.parse(source.read())
    body = next((node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name), ())
    for node in body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["family"]
                and isinstance(node.value, ast.Constant) and node.value.value in FAMILIES):
            return node.value.value
    return _UNREAD


def family_for(model: Any) -> Family:
    """The Family of a model (for evaluate.py); an untagged model is a bug, not a user error."""
    name = family_of(model)
    if name is None:
        raise KeyError(f"{type(model).__name__} has no `family` tag; known families: {sorted(FAMILIES)}")
    return FAMILIES[name]


def option_target(group: str, option: str, seen: tuple[str, ...] = (), sources: Sources = None) -> Optional[str]:
    """The ``_target_`` of a config group's option (conf/<group>/<option>.yaml, or a user's own folder on
    the search path), or the one it inherits through its defaults list (lstm_attention extends lstm);
    None when it has none or does not exist."""
    from trainlab.config.search_path import option_file

    path = option_file(group, option, sources)
    if path is None:
        return None
    node = OmegaConf.load(path)
    if not isinstance(node, DictConfig):
        return None
    if isinstance(node.get("_target_"), str):
        return node._target_
    parents = [d for d in node.get("defaults", []) if isinstance(d, str) and d != "_self_" and d not in seen]
    return next((t for t in (option_target(group, d, (*seen, option), sources) for d in parents) if t), None)


def experiment_options(name: str, sources: Sources = None) -> dict[str, str]:
    """The group options an experiment file chooses (``override /model: gnn`` -> ``{"model": "gnn"}``),
    read from experiment/<name>.yaml on the config search path (experiments/, conf/ or a user's own
    folder); {} when none holds it."""
    from trainlab.config.search_path import option_file

    path = option_file("experiment", name, sources)
    node = OmegaConf.load(path) if path is not None else None
    if not isinstance(node, DictConfig):
        return {}
    chosen = {}
    for entry in node.get("defaults", []):
        if isinstance(entry, DictConfig):
            for key, option in entry.items():
                group = str(key).removeprefix("override ").strip().lstrip("/")
                if isinstance(option, str) and "@" not in group:
                    chosen[group] = option
    return chosen


def options_of(group: str, family: str, sources: Sources = None) -> list[str]:
    """Options of a config group (conf/<group>/*.yaml and a user's own) whose ``_target_`` class is of
    ``family``."""
    from trainlab.config.search_path import group_options

    return [option for option in group_options(group, sources)
            if (target := option_target(group, option, sources=sources)) is not None and _family_or_none(target) == family]


def _family_or_none(target: str) -> Optional[str]:
    """The family of an option's ``_target_``, None when it cannot be imported or declares none we know
    (a list of options skips it; choosing it gets the message)."""
    try:
        return family_of(target)
    except UserError:
        return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def family_mismatch(model_target: str, data_target: str, model_name: str, data_name: str,
                    sources: Sources = None) -> Optional[str]:
    """Why a model and data of different families cannot train together (an LSTM on a star catalogue,
    ...), with the fix; None when they fit (a class without a family tag is refused). ``model_name`` and
    ``data_name`` are their config options, for the message; ``sources``: the config search path whose
    options it lists (:func:`trainlab.config.search_path.config_folders`)."""
    model_family, data_family = require_family(model_target, "model"), require_family(data_target, "data")
    if model_family == data_family:
        return None
    fitting = ' or '.join(f'data={d}' for d in options_of("data", model_family, sources)) or 'data that fits the model'
    models = ', '.join(f'model={m}' for m in options_of('model', data_family, sources)) or 'none yet'
    return (f"model={model_name} is {_article(model_family)} {model_family} model, but data={data_name} is "
            f"{data_family} data; use {fitting}, or {_article(data_family)} {data_family} model: {models}")


def base_class(key: str) -> type:
    """The class every ``model`` (task module) and ``data`` (data module) derives from, a user's own
    included: the pipeline, its checks and evaluate.py use what these bases provide (imports torch)."""
    if key == "model":
        from trainlab.models.task import TaskModule

        return TaskModule
    from trainlab.data.module import SplitDataModule

    return SplitDataModule


def check_nothing_taken_out(cfg: DictConfig, config_name: str = "train") -> None:
    """``~group`` or ``~key`` on the command line takes out a group or setting of the script's own config file
    (``conf/<config_name>.yaml``); every one of them is read (``~logger`` ended in ``Key 'logger' is not in
    struct`` and a traceback), so each is refused, naming the override and what to give instead (checked
    before anything reads them, interpolations to ``data.*`` included). A group's options are those of every
    config folder (a user's ``--config-dir`` too); groups chosen ``null`` there (``experiment``) are optional."""
    from trainlab.config.search_path import group_options
    from trainlab.run.root import repo_root

    path = repo_root() / "conf" / f"{config_name}.yaml"
    if not path.is_file():  # a primary config of the user's own (--config-name): its keys are theirs
        return
    own = OmegaConf.load(path)
    groups = [next(iter(d)) for d in own.get("defaults", []) if isinstance(d, DictConfig)
              and next(iter(d.values())) is not None]
    for group in [g for g in groups if g != "hydra"]:
        if not isinstance(cfg.get(group), DictConfig) and (group in cfg or set_by_a_file(group) is not None):
            raise UserError(group_replaced_by_value(group, cfg.get(group)))  # a file's doing, not a ~ typed
        if not isinstance(cfg.get(group), DictConfig):
            options = group_options(group)
            off = f"; {group}=none for none" if "none" in options else ""
            raise UserError(f"the config has no {group} (~{group} takes it out), and every run needs one; choose "
                            f"one instead: {group}=<option> ({', '.join(options)}){off}")
    for key in [k for k in own if k != "defaults" and k not in cfg.keys()]:  # `in` says no for a ??? value
        value = OmegaConf.to_container(own, resolve=False)[key]
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        default = f" (its default: {key}={shown})" if not isinstance(value, dict) and shown != "???" else ""
        raise UserError(f"the config has no {key} (~{key} takes it out), and every run reads it; leave ~{key} out"
                        f"{default}, or give a value: {key}=<value>")


def set_by_a_file(key: str) -> Optional[tuple[str, Any, bool]]:
    """(``experiment=<name> (<path>)``, what it sets ``key`` to, whether in its defaults list) for the chosen
    experiment, search or debug file that sets the dotted ``key`` in its body, or a group ``key`` in its defaults
    list; None when none does, or when the command line set it or took it out (``~model``)."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.checks import GLOBAL_GROUPS
    from trainlab.config.search_path import option_file

    if not HydraConfig.initialized():
        return None
    runtime = HydraConfig.get()
    if any(o.lstrip("+~").split("=")[0] == key for o in runtime.overrides.task):
        return None
    for chosen in [(g, runtime.runtime.choices[g]) for g in GLOBAL_GROUPS if runtime.runtime.choices.get(g)]:
        path = option_file(*chosen)
        text = OmegaConf.load(path) if path is not None else None
        if not isinstance(text, DictConfig):
            continue
        entries = [e for e in (text.get("defaults") or []) if isinstance(e, DictConfig)]
        in_defaults = [v for e in entries for k, v in e.items() if k.split()[-1].strip("/") == key]
        held = OmegaConf.select(text, key, default=_ABSENT, throw_on_missing=False)
        if held is not _ABSENT or in_defaults:
            return f"{chosen[0]}={chosen[1]} ({path})", held if held is not _ABSENT else in_defaults[0], \
                held is _ABSENT
    return None


def group_replaced_by_value(group: str, value: object) -> str:
    """The line for a group whose settings a config file replaced with a value: ``model: cnn`` in an experiment's body
    (meant as a choice), or ``- override /model: null`` in its defaults. It was told ``~model takes it out``, which
    nobody typed. The file is the chosen experiment, search or debug file that sets it, where one does."""
    from trainlab.config.file_problems import EXAMPLE_EXPERIMENT
    from trainlab.config.search_path import group_options

    found = set_by_a_file(group)
    if found is not None:
        value = found[1]
    shown = "null" if value is None else str(OmegaConf.to_container(value) if isinstance(value, ListConfig) else value)
    where = f"a config file sets {group}: {shown}" if found is None else \
        f"{found[0]} sets {group}: {shown}{' in its defaults list' if found[2] else ''}"
    option = value if isinstance(value, str) and value in group_options(group) else "<option>"
    return (f"{where}, which leaves the config no {group} settings; a file chooses an option in its defaults list: "
            f"'- override /{group}: {option}', under '# @package _global_' ({EXAMPLE_EXPERIMENT} shows the form); "
            f"the {group} group's options: {', '.join(group_options(group))}")


def check_families(cfg: DictConfig) -> None:
    """Refuse a model or data class of another kind (a data module as the model), and a model and data
    of different families, before a run builds anything (a sweep checks every trial's pair before its
    first trial: :func:`trainlab.search.checks.check_sweep_families`)."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.instantiate import check_target_kind

    for key in ("model", "data"):
        check_target_kind(cfg[key]._target_, key, base_class(key))
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    problem = family_mismatch(cfg.model._target_, cfg.data._target_, choices.get("model", cfg.model._target_),
                              choices.get("data", cfg.data._target_))
    if problem:
        raise UserError(problem)
