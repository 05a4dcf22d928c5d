"""What a checkpoint was trained with, where its run's config is silent.

A run's saved config holds the keys its config files wrote; a key left to the constructor's default
was trained with the default of that day. When a default changes (``model.window_scaling`` became
``last``), the run rebuilt with today's default is another model than the one its weights learned
as. The checkpoint says what it was: its task module's hyperparameters (``save_hyperparameters``:
every argument, defaults included) and what the data gave the model (``target_channels``). Each
class reads its own arguments from them (``trained_settings``: TaskModule, SplitDataModule);
:func:`with_trained` writes them into a copy of the run's config before the run is rebuilt (evaluate.py,
predict.py: trainlab.run.restore.restore; a graph run's predict.py: trainlab.prediction.graph), and :func:`silent_changes` names them for a resume,
which composes its config anew (trainlab.run.resume_checks).

The net's constructor arguments are no hyperparameters of the task module (it takes the net built): the checkpoint
records them apart (:data:`NET_ARGUMENTS`, written by TaskModule.on_save_checkpoint from :func:`net_arguments`),
and a rebuild (``with_trained(cfg, "model", ...)``) or a resume (:func:`resume_with_trained_net`) takes those the
config leaves to a default that is another now (``model.net.dropout``: 0.0, then 0.1). Checkpoints from before the
record keep today's defaults.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

log = logging.getLogger(__name__)

NET_ARGUMENTS = "net_arguments"  # a checkpoint's record of its net: {"_target_": ..., every constructor argument}


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
    """``cfg`` (a copy where anything is added) with :func:`trained_settings` written into ``cfg[group]``; for
    ``model``, with the net's recorded arguments (:func:`trained_net_settings`) in ``cfg.model.net`` too."""
    settings = trained_settings(cfg, group, ckpt, given)
    net = trained_net_settings(cfg, ckpt) if group == "model" else {}
    if not settings and not net:
        return cfg
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for key, value in settings.items():
            cfg[group][key] = value
        for key, value in net.items():
            cfg.model.net[key] = value
    return cfg


def _plain(value: Any) -> bool:
    """Whether a value is kept in a checkpoint that ``torch.load(weights_only=True)`` reads, and compared as is."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (str, int, float, bool))


def _signature(target: Any) -> Optional[dict[str, Any]]:
    """The parameters of the class (or factory) ``target`` names, or None where it cannot be read (refused in one
    line where the run is built)."""
    import inspect

    from hydra.utils import get_method

    try:
        return dict(inspect.signature(get_method(target) if isinstance(target, str) else target).parameters)
    except (ImportError, ValueError, TypeError):
        return None


def net_arguments(net: DictConfig, given: Mapping[str, Any]) -> dict[str, Any]:
    """What ``net`` (``cfg.model.net``) builds, as a checkpoint records it: its ``_target_`` and every constructor
    argument, the config's values, ``given`` (the sizes from the data) and the defaults it leaves out; values no
    checkpoint holds as plain data (an object as default) are left out. Empty where the class cannot be read."""
    parameters = _signature(net.get("_target_"))
    if parameters is None:
        return {}
    try:
        written = OmegaConf.to_container(net, resolve=True)
    except OmegaConfBaseException:  # an interpolation a saved run's config cannot resolve: as written
        written = OmegaConf.to_container(net, resolve=False)
    written = {k: v for k, v in written.items() if k != "_target_"}
    found: dict[str, Any] = {"_target_": str(net._target_)}
    for name, parameter in parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or name == "self":
            continue
        value = given.get(name, written.get(name, parameter.default))
        if value is not parameter.empty and _plain(value):
            found[name] = _as_recorded(value)
    return found


def trained_net_settings(cfg: DictConfig, ckpt: dict[str, Any]) -> dict[str, Any]:
    """``{"dropout": 0.0}``: the net's arguments that ``cfg.model.net`` leaves to a default that differs from the
    value ``ckpt`` records it was built with (:data:`NET_ARGUMENTS`); empty for a checkpoint without the record,
    or of another net (the weights' check refuses it)."""
    record = ckpt.get(NET_ARGUMENTS)
    node = cfg.get("model", {}).get("net") if OmegaConf.is_dict(cfg.get("model")) else None
    if not isinstance(record, dict) or not OmegaConf.is_dict(node) or record.get("_target_") != node.get("_target_"):
        return {}
    parameters = _signature(node._target_) or {}
    return {k: v for k, v in record.items() if k != "_target_" and k not in node and k in parameters
            and parameters[k].default is not parameters[k].empty and _as_recorded(parameters[k].default) != v}


def _as_recorded(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def resume_with_trained_net(cfg: DictConfig, ckpt: dict[str, Any], ckpt_path: str) -> DictConfig:
    """``cfg`` for a resume of ``ckpt``: the net's arguments that the config leaves to a default other than the one
    the checkpoint was built with are the checkpoint's (:func:`trained_net_settings`), with one line saying so. A
    value the config writes (this command line's ``model.net.dropout=0.3``) is kept: the resume's check of the
    weights refuses one that does not fit them, and its warning of other settings names the rest."""
    taken = trained_net_settings(cfg, ckpt)
    if not taken:
        return cfg
    parameters = _signature(cfg.model.net._target_) or {}
    log.info("ckpt_path=%s: %s, as its run was built (the default is %s now, which this config leaves to it); give "
             "%s to resume with today's", ckpt_path, ", ".join(f"model.net.{k}={v}" for k, v in taken.items()),
             ", ".join(str(parameters[k].default) for k in taken),
             " ".join(f"model.net.{k}={parameters[k].default}" for k in taken))
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for key, value in taken.items():
            cfg.model.net[key] = value
    return cfg


def recorded_differences(differs: list[str], ckpt: dict[str, Any]) -> list[str]:
    """``differs`` (``model.net.dropout: None -> 0.3``: keys that differ between a checkpoint's saved run config and
    a resume's) with the net's arguments its saved config left out as the checkpoint records them
    (``model.net.dropout: 0.0 -> 0.3``), and without those the resume took from the record (equal to it)."""
    record = ckpt.get(NET_ARGUMENTS)
    if not isinstance(record, dict):
        return differs
    found = []
    for line in differs:
        key, _, change = line.partition(": ")
        name = key.removeprefix("model.net.")
        if key.startswith("model.net.") and name in record and change.startswith("None -> "):
            now = change.removeprefix("None -> ")
            if now == str(record[name]):
                continue
            line = f"{key}: {record[name]} -> {now}"
        found.append(line)
    return found


def predating_net_arguments(old: DictConfig, cfg: DictConfig, ckpt: dict[str, Any]) -> dict[str, Optional[str]]:
    """``{"model.net.dilation_base": "model.net.dilation_base: 2 (...) -> 3"}``: the net's arguments that a resume's
    config sets (``cfg``) where the run's own config (``old``) and the checkpoint's record of its net predate them,
    so that run was built with the argument's default (an argument added later defaults to the behaviour before
    it), each with the line saying how the resume's value differs (None: it does not). The weights fit either way,
    and such a key in neither old place read as a default left unchanged: unsaid."""
    node, was = (c.get("model", {}).get("net") if OmegaConf.is_dict(c.get("model")) else None for c in (cfg, old))
    if not OmegaConf.is_dict(node) or not OmegaConf.is_dict(was) or was.get("_target_") != node.get("_target_"):
        return {}
    record = ckpt.get(NET_ARGUMENTS) if isinstance(ckpt.get(NET_ARGUMENTS), dict) else {}
    parameters = _signature(node._target_) or {}
    found: dict[str, Optional[str]] = {}
    for name, parameter in parameters.items():
        if name in was or name in record or name not in node or parameter.default is parameter.empty:
            continue
        now = OmegaConf.select(node, name)
        found[f"model.net.{name}"] = None if _as_recorded(parameter.default) == _as_recorded(now) else (
            f"model.net.{name}: {parameter.default} (its default; that run's config predates the key) -> {now}")
    return found


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
