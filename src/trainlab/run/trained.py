"""What a checkpoint was trained with, where its run's config is silent.

A run's saved config holds the keys its config files wrote; a key left to the constructor's default
was trained with the default of that day. When a default changes (``model.window_scaling`` became
``last``), the run rebuilt with today's default is another model than the one its weights learned
as. The checkpoint says what it was: its task module's hyperparameters (``save_hyperparameters``:
every argument, defaults included) and what the data gave the model (``target_channels``). Each
class reads its own arguments from them (``trained_settings``: TaskModule, SplitDataModule);
:func:`with_trained` writes them into a copy of the run's config before the run is rebuilt (evaluate.py,
predict.py: trainlab.run.pipeline.restore; a graph run's predict.py: trainlab.prediction.graph), and :func:`silent_changes` names them for a resume,
which composes its config anew (trainlab.run.resume_checks).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict


def trained_settings(cfg: DictConfig, group: str, ckpt: dict[str, Any], given: Iterable[str] = ()) -> dict[str, Any]:
    """``{"window_scaling": "none"}``: the arguments of ``cfg[group]``'s class (``model`` or ``data``) that
    the config does not give, as ``ckpt`` was trained with them; ``given``: arguments passed besides the
    config (what the data module tells the model)."""
    from hydra.utils import get_class

    from trainlab.data.module import TRAINED_WITH_KEY

    node = cfg.get(group)
    trained = ckpt.get("hyper_parameters") or {}
    if not OmegaConf.is_dict(node) or not isinstance(node.get("_target_"), str):
        return {}
    try:
        cls = get_class(node._target_)
    except (ImportError, ValueError):  # refused in one line where the run is built
        return {}
    read = getattr(cls, "trained_settings", None)
    found = read(trained, {*node, *given}) if read is not None and trained else {}
    state = ckpt.get(cls.__qualname__) if group == "data" else None  # the data's own record, where it has one
    recorded = state.get(TRAINED_WITH_KEY) if isinstance(state, dict) else None
    if isinstance(recorded, dict):
        found.update({k: v for k, v in recorded.items() if k not in node and k not in given})
    return found


def with_trained(cfg: DictConfig, group: str, ckpt: dict[str, Any], given: Iterable[str] = ()) -> DictConfig:
    """``cfg`` (a copy where anything is added) with :func:`trained_settings` written into ``cfg[group]``."""
    settings = trained_settings(cfg, group, ckpt, given)
    if not settings:
        return cfg
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for key, value in settings.items():
            cfg[group][key] = value
    return cfg


def silent_changes(cfg: DictConfig, ckpt: dict[str, Any], model: Any, datamodule: Any) -> list[str]:
    """``model.window_scaling: none -> last (the default now)``: a resume's settings that its config leaves to
    a default other than the value the checkpoint was trained with."""
    found = []
    for group, built, given in (("data", datamodule, ()), ("model", model, datamodule.model_kwargs())):
        for key, was in trained_settings(cfg, group, ckpt, given).items():
            now = model.hparams.get(key) if group == "model" else getattr(built, key, was)
            if now != was:
                found.append(f"{group}.{key}: {was} -> {now} (the default now; this config leaves it out)")
    return found
