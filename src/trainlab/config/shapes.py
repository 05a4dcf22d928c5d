"""A value of the wrong shape or type for a typed key, as one line naming the key and the fix.

OmegaConf refuses a mapping given where a typed key takes a list, or a list where it takes a mapping,
with the same words whichever way round (``Cannot merge DictConfig with ListConfig``), on the command
line (``hydra.sweeper.enqueue={optimizer.lr:0.001}``, where a list of mappings is wanted) and in a file,
where it does not even name the key. The key's type is read from its schema: OmegaConf's error carries it
for the command line; for a file, the sweeper's keys (the one typed node of this repository with lists
and mappings) are looked up in the file (:func:`shape_problem`). A value of another type in a file
(``n_trials: [3]``, ``enqueue: 5``) came in OmegaConf's words (``AnyNode is not a ListConfig, list or
tuple``): :func:`file_value_problem` says it as the command line's refusal does.
:func:`trainlab.config.composition.composition_problem` asks here.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Optional

from trainlab.config.spelling import KIND_WORDS

_MERGE = re.compile(r"Cannot merge (?:DictConfig|ListConfig) with (?:DictConfig|ListConfig)")


def shape_problem(exc: BaseException, argv: list[str]) -> Optional[str]:
    """The one line for a mapping/list mix-up (None when ``exc`` is no such refusal)."""
    from omegaconf.errors import ConfigTypeError

    cause = exc.__cause__
    if isinstance(cause, ConfigTypeError) and _MERGE.match(str(cause)) and cause.full_key:
        key = str(cause.full_key)
        given = next((a for a in argv if a.lstrip("+~").split("=", 1)[0] == key and "=" in a), f"{key}=...")
        value = given.split("=", 1)[1]
        if getattr(cause, "object_type", None) is list:
            items = typing.get_args(next(iter(typing.get_args(getattr(cause, "ref_type", None))), None))
            if items and items[0] is not Any:  # a list of names or numbers: brackets around the mapping won't do
                kind = KIND_WORDS[items[0]][1] if items[0] in KIND_WORDS else items[0]
                return (f"{given} is a mapping, but {key} takes a list of {kind} (or null): "
                        f"{key}=[<item>,...]")
            return (f"{given} is a mapping, but {key} takes a list (or null); put it in brackets: "
                    f"{key}=[{value}]")
        return f"{given} is a list, but {key} takes a mapping {{key:value}}; e.g. {key}={{a:1}}"
    found = re.match(r"In '([^']+)': ConfigTypeError raised while composing config:\n" + _MERGE.pattern, str(exc))
    if found:
        from trainlab.config.file_problems import _file

        path = _file(found.group(1), argv)
        return _misshapen_sweeper_key(path) or (
            f"{path} gives a mapping where its key takes a list, or a list where it takes a mapping; correct that "
            "key's shape in the file")
    # a name where a typed node goes (sampler: tpe onto the TPE sampler's node): OmegaConf named neither file key nor fix
    named = re.match(r"In '([^']+)': ValidationError raised while composing config:\nMerge error: \w+ is not a "
                     r"subclass of \w+", str(exc))
    if named:
        from trainlab.config.file_problems import _file

        return _misshapen_sweeper_key(_file(named.group(1), argv))
    return None


def _misshapen_sweeper_key(path: str) -> Optional[str]:
    """The line for the first ``hydra.sweeper`` key that the file (under ``# @package _global_``) sets to a mapping
    where its schema takes a list, or to a list where it takes a mapping; None when there is none."""
    from omegaconf import DictConfig, ListConfig

    from hydra_plugins.trainlab_optuna_sweeper import MAPPING_KEYS, OptunaSweeperConf

    sweeper = _file_node(path, "hydra.sweeper")
    if not isinstance(sweeper, DictConfig):
        return None
    from trainlab.search.checks import PRUNER_NAMES, SAMPLER_NAMES

    for group, names in (("sampler", SAMPLER_NAMES), ("pruner", PRUNER_NAMES)):  # as check_chosen_by_group says it
        value = sweeper.get(group)
        if isinstance(value, (str, int, float, bool)):
            option = value if str(value) in names.split(" | ") else "<option>"
            return (f"{path} sets hydra.sweeper.{group} to the name {value}; a {group} is chosen as a config group: in "
                    f"the file's defaults list, - override /hydra/sweeper/{group}: {option} ({names}), and its "
                    f"settings under hydra.sweeper.{group}")
    for name, hint in typing.get_type_hints(OptunaSweeperConf).items():
        key, value = f"hydra.sweeper.{name}", sweeper.get(name)
        kinds = {typing.get_origin(a) for a in (*typing.get_args(hint), hint)}
        if (list in kinds or typing.List in kinds) and isinstance(value, DictConfig):
            items = _list_items(hint)
            if items is not None:
                return f"{path} sets {key} to a mapping, but {key} takes a list of {items} (or null); e.g. {name}: [...]"
            return (f"{path} sets {key} to a mapping, but {key} takes a list (or null); write each mapping as a list "
                    "entry starting with '- '")
        if name in MAPPING_KEYS and isinstance(value, ListConfig):
            return (f"{path} sets {key} to a list, but {key} takes a mapping (key: value on lines of their own, "
                    "without '- ')")
    return None


def _list_items(hint: Any) -> Optional[str]:
    """The words for what a list of ``hint`` (``Optional[List[int]]``) holds, None for a list of anything."""
    inner = next((a for a in (*typing.get_args(hint), hint) if typing.get_origin(a) in (list, typing.List)), None)
    items = typing.get_args(inner)[0] if inner is not None and typing.get_args(inner) else Any
    if items is Any:
        return None
    return KIND_WORDS[items][1] if items in KIND_WORDS else str(items)


def _file_node(path: str, key: str) -> Any:
    """What the config file at ``path`` sets ``key`` to (None: nothing, or the file cannot be read)."""
    from omegaconf import DictConfig, OmegaConf

    try:
        loaded = OmegaConf.load(path)
    except (OSError, ValueError):
        return None
    return OmegaConf.select(loaded, key, default=None) if isinstance(loaded, DictConfig) else None


def file_value_problem(message: str, argv: list[str]) -> Optional[str]:
    """A value a config file sets that its typed node refuses (Hydra's ``In '<file>': ValidationError ...``), in
    the words of the command line's refusal (:func:`trainlab.config.composition.typed_value_line`), with the
    file's path; None when the message or the schema does not say enough."""
    import re

    from omegaconf import OmegaConf

    from trainlab.config.composition import typed_value_line
    from trainlab.config.file_problems import _file

    found = re.match(r"In '([^']+)': ValidationError raised while composing config:\n.+?\n\s*full_key: (\S+)\n"
                     r"\s*object_type=(\w+)", message)
    owner = _schema(found.group(3)) if found else None
    if owner is None:
        return None
    path, key = _file(found.group(1), argv), found.group(2)
    parts = key.split(".")  # a file of a group sets its keys below the group's package: hardware/x.yaml's precision
    value = next((v for i in range(len(parts)) if (v := _file_node(path, ".".join(parts[i:]))) is not None), None)
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return typed_value_line(key, owner, parts[-1], value, file=path)


def _schema(name: str) -> Optional[type]:
    """The dataclass of Hydra's ConfigStore named ``name`` (an error's ``object_type=OptunaSweeperConf``)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    def nodes(repo: dict[str, Any]) -> Any:
        for entry in repo.values():
            yield from nodes(entry) if isinstance(entry, dict) else [entry.node]

    return next((t for node in nodes(ConfigStore.instance().repo)
                 if (t := OmegaConf.get_type(node)) is not None and t.__name__ == name), None)
