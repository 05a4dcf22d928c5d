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

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError


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
    if isinstance(target, str):
        declared = _declared_family(target)
        if declared is not _UNREAD:
            return declared
        from trainlab.config.instantiate import import_target

        target = import_target(target, key)
    name = getattr(target, "family", None)
    if name is not None and name not in FAMILIES:
        raise KeyError(f"{target} declares family {name!r}, which trainlab.config.families does not know")
    return name


_UNREAD = object()


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
    with open(spec.origin, encoding="utf-8") as source:
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


def option_target(group: str, option: str, seen: tuple[str, ...] = ()) -> Optional[str]:
    """The ``_target_`` of a config group's option (conf/<group>/<option>.yaml), or the one it inherits
    through its defaults list (lstm_attention extends lstm); None when it has none or does not exist."""
    from trainlab.run.folder import repo_root

    folder = repo_root() / "conf" / group
    if not (folder / f"{option}.yaml").is_file():
        return None
    node = OmegaConf.load(folder / f"{option}.yaml")
    if not isinstance(node, DictConfig):
        return None
    if isinstance(node.get("_target_"), str):
        return node._target_
    parents = [d for d in node.get("defaults", []) if isinstance(d, str) and d != "_self_" and d not in seen]
    return next((t for t in (option_target(group, d, (*seen, option)) for d in parents) if t), None)


def experiment_options(name: str) -> dict[str, str]:
    """The group options an experiment file chooses (``override /model: gnn`` -> ``{"model": "gnn"}``),
    read from experiments/experiment/<name>.yaml or conf/experiment/<name>.yaml; {} when neither exists."""
    from hydra_plugins.trainlab_searchpath import experiments_dir

    from trainlab.run.folder import repo_root

    path = next((p for p in (experiments_dir() / "experiment" / f"{name}.yaml",
                             repo_root() / "conf" / "experiment" / f"{name}.yaml") if p.is_file()), None)
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


def options_of(group: str, family: str) -> list[str]:
    """Options of a config group (conf/<group>/*.yaml) whose ``_target_`` class is of ``family``."""
    from trainlab.run.folder import repo_root

    return [path.stem for path in sorted((repo_root() / "conf" / group).glob("*.yaml"))
            if (target := option_target(group, path.stem)) is not None and family_of(target) == family]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def family_mismatch(model_target: str, data_target: str, model_name: str, data_name: str) -> Optional[str]:
    """Why a model and data of different families cannot train together (an LSTM on a star catalogue,
    ...), with the fix; None when they fit (or either has no family tag). ``model_name`` and
    ``data_name`` are their config options, for the message."""
    model_family, data_family = family_of(model_target, "model"), family_of(data_target, "data")
    if model_family is None or data_family is None or model_family == data_family:
        return None
    fitting = ' or '.join(f'data={d}' for d in options_of("data", model_family)) or 'data that fits the model'
    models = ', '.join(f'model={m}' for m in options_of('model', data_family)) or 'none yet'
    return (f"model={model_name} is {_article(model_family)} {model_family} model, but data={data_name} is "
            f"{data_family} data; use {fitting}, or a {data_family} model: {models}")


def check_model_and_data_given(cfg: DictConfig) -> None:
    """``~model`` or ``~data`` on the command line takes the group out; every run needs both (checked
    before anything reads them, interpolations to ``data.*`` included)."""
    from trainlab.run.folder import repo_root

    for group in ("model", "data"):
        if not isinstance(cfg.get(group), DictConfig):
            options = ", ".join(p.stem for p in sorted((repo_root() / "conf" / group).glob("*.yaml")))
            raise UserError(f"the config has no {group} (~{group} takes it out), and every run needs one; choose "
                            f"one instead: {group}=<option> ({options})")


def check_families(cfg: DictConfig) -> None:
    """Refuse a model and data of different families before a run builds anything (a sweep checks
    every trial's pair before its first trial: :func:`trainlab.search.checks.check_sweep_families`)."""
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    problem = family_mismatch(cfg.model._target_, cfg.data._target_, choices.get("model", cfg.model._target_),
                              choices.get("data", cfg.data._target_))
    if problem:
        raise UserError(problem)
