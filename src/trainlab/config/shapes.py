"""A mapping given where a typed key takes a list, or a list where it takes a mapping, as one line.

OmegaConf refuses both with the same words whichever way round (``Cannot merge DictConfig with
ListConfig``), on the command line (``hydra.sweeper.enqueue={optimizer.lr:0.001}``, where a list of
mappings is wanted) and in a file, where it does not even name the key. The key's type is read from
its schema: OmegaConf's error carries it for the command line; for a file, the list-typed keys of the
sweeper's schema (the one typed node of this repository with lists) are looked up in the file.
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
        key = _list_key_holding_a_mapping(path)
        if key is None:
            return (f"{path} gives a mapping where its key takes a list, or a list where it takes a mapping; "
                    "correct that key's shape in the file")
        return (f"{path} sets {key} to a mapping, but {key} takes a list (or null); write each mapping as a list "
                "entry starting with '- '")
    return None


def _list_key_holding_a_mapping(path: str) -> Optional[str]:
    """The first ``hydra.sweeper`` key typed as a list that the file (under ``# @package _global_``) sets to a mapping."""
    from omegaconf import DictConfig, OmegaConf

    from hydra_plugins.trainlab_optuna_sweeper import OptunaSweeperConf

    try:
        loaded = OmegaConf.load(path)
    except (OSError, ValueError):
        return None
    sweeper = OmegaConf.select(loaded, "hydra.sweeper", default=None) if isinstance(loaded, DictConfig) else None
    if not isinstance(sweeper, DictConfig):
        return None
    for name, hint in typing.get_type_hints(OptunaSweeperConf).items():
        kinds = {typing.get_origin(a) for a in (*typing.get_args(hint), hint)}
        if (list in kinds or typing.List in kinds) and isinstance(sweeper.get(name), DictConfig):
            return f"hydra.sweeper.{name}"
    return None
