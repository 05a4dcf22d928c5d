"""Instantiate config nodes with their arguments checked first, so bad values get clear messages.

Hydra's ``instantiate`` hands values straight to constructors: a string where an int belongs
surfaces as an error deep inside torch. :func:`check_node` compares every ``_target_`` node with its
callable's signature (unknown arguments, wrong scalar types) and names the config key.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Optional

from hydra.errors import InstantiationException
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.errors import UserError, unwrap_user_error

_SCALARS = (bool, int, float, str)


def _scalar_types(annotation: Any) -> Optional[tuple[type, ...]]:
    """The scalar types an annotation admits, or None when it is not a plain scalar annotation."""
    if annotation in _SCALARS:
        return (annotation,)
    if typing.get_origin(annotation) is typing.Union:
        args = typing.get_args(annotation)
        if all(a in _SCALARS or a is type(None) for a in args):
            return tuple(a for a in args if a is not type(None)) + (type(None),)
    return None


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    if value is None:
        return type(None) in types
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int):
        return int in types or float in types
    return isinstance(value, tuple(t for t in types if t is not type(None)))


def _whole_number(value: Any, types: tuple[type, ...]) -> Optional[int]:
    """``64.0`` given where only an int fits (``data.batch_size=64.0``, or a YAML value written with a
    point): the int it means. None when ``value`` is not such a float."""
    if isinstance(value, float) and int in types and float not in types and value.is_integer():
        return int(value)
    return None


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _import_target(path: str, key: str) -> Any:
    """``_target_`` imported, or a UserError saying whether the package is missing or the name misspelt."""
    import difflib
    import importlib

    try:
        return get_method(path)
    except ImportError as exc:
        module_name, _, name = path.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            raise UserError(f"{key}._target_={path}: {missing}; install the package that provides it, or fix the "
                            "name") from None
        except ImportError:
            raise UserError(f"{key}._target_={path} cannot be imported: {str(exc).splitlines()[0]}") from None
        close = difflib.get_close_matches(name, [n for n in dir(module) if not n.startswith("_")], n=3)
        raise UserError(f"{key}._target_={path}: {module_name} has no '{name}'"
                        f"{'; did you mean ' + ' or '.join(close) + '?' if close else ''}") from None


def check_node(node: Any, key: str, given: frozenset[str] = frozenset()) -> None:
    """Check every ``_target_`` node under ``node`` against its callable's signature.

    ``given``: arguments of the top node that the caller passes itself; they are not checked.
    """
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_node(item, f"{key}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    if "_target_" in node:
        target = _import_target(node._target_, key) if isinstance(node._target_, str) else node._target_
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            params = signature.parameters
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
            try:
                hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
            except Exception:  # noqa: BLE001 - unresolvable hints: skip type checks, keep name checks
                hints = {}
            for name in node:
                if (name.startswith("_") and name.endswith("_")) or name in given:
                    continue
                if OmegaConf.is_missing(node, name):
                    raise UserError(f"{key}.{name} has no value (??? in the config); set it: {key}.{name}=<value>")
                if name not in params:
                    if not takes_any:
                        valid = ", ".join(p for p in params if p != "self")
                        raise UserError(f"{key}.{name} is not an argument of {node._target_}; valid ones: {valid}")
                    continue
                types = _scalar_types(hints.get(name))
                value = OmegaConf.select(node, name)
                if types and not isinstance(value, (DictConfig, ListConfig)) and not _fits(value, types):
                    whole = _whole_number(value, types)
                    if whole is None:
                        raise UserError(f"{key}.{name}={value!r} must be {_type_name(types)}")
                    node[name] = whole  # ints stay ints: 64.0 is 64, 64.5 is refused above
    for name in node:
        if name not in given:
            check_node(node[name], f"{key}.{name}")


def build(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """Check ``node`` and instantiate it, with ``kwargs`` filled in (objects the config can't hold)."""
    check_node(node, key, frozenset(kwargs))
    # "partial": constructors get plain lists and dicts, never ListConfig/DictConfig (which would
    # end up in checkpoints that torch.load(weights_only=True) cannot read)
    try:
        return instantiate(node, _convert_="partial", **kwargs)
    except InstantiationException as exc:
        user_error = unwrap_user_error(exc)
        if user_error is not None:  # our own constructors' messages already name key and fix
            raise user_error from None
        cause = exc.__cause__
        if isinstance(cause, _argument_errors()):  # a library refusing a value it was given
            raise UserError(f"{key}: {cause}") from None
        raise


def _argument_errors() -> tuple[type[Exception], ...]:
    """ValueError and Lightning's MisconfigurationException, imported only when an error is at hand
    (importing lightning costs seconds, and this module is imported early)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    return (ValueError, MisconfigurationException)


def bind_data_dims(net: DictConfig, dims: dict[str, int], key: str = "model.net") -> dict[str, int]:
    """Sizes a net takes from the data: keys left null are filled, keys set must agree.

    ``dims['in']`` feeds ``input_size`` or ``in_channels``; ``dims['out']`` feeds ``output_size`` or
    ``out_channels`` (whichever the net has). Returns the keyword arguments to pass to instantiate.
    """
    names = {"in": ("input_size", "in_channels"), "out": ("output_size", "out_channels")}
    filled: dict[str, int] = {}
    for side, value in dims.items():
        for name in names[side]:
            if name not in net:
                continue
            given = net[name]
            if given is not None and given != value:
                raise UserError(
                    f"{key}.{name}={given} contradicts the data, which has {value} "
                    f"{'feature' if side == 'in' else 'target'} column(s); remove the override "
                    f"(null takes the size from the data) or choose data with {given}"
                )
            filled[name] = value
    return filled


def build_all(nodes: Optional[DictConfig], key: str) -> list[Any]:
    """Instantiate every ``_target_`` child of a group such as callbacks or logger (None: empty)."""
    if not nodes:
        return []
    return [build(child, f"{key}.{name}") for name, child in nodes.items() if child and "_target_" in child]


def _task_of(target: str, key: str = "_target_") -> Optional[str]:
    return getattr(_import_target(target, key), "task", None)


def options_with_task(group: str, task: str) -> list[str]:
    """Options of a config group (conf/<group>/*.yaml) whose ``_target_`` class has this task tag."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "conf" / group
    found = []
    for path in sorted(folder.glob("*.yaml")):
        node = OmegaConf.load(path)
        target = node.get("_target_") if isinstance(node, DictConfig) else None
        if isinstance(target, str) and _task_of(target) == task:
            found.append(path.stem)
    return found


def check_task(cfg: DictConfig) -> None:
    """Refuse a model and data that belong to different families (an LSTM on a star catalogue, ...).

    LightningModules and DataModules carry a class attribute ``task`` ("regression",
    "node_classification", "segmentation"); they must agree.
    """
    model_task, data_task = _task_of(cfg.model._target_, "model"), _task_of(cfg.data._target_, "data")
    if model_task is None or data_task is None or model_task == data_task:
        return
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    model_name, data_name = choices.get("model", cfg.model._target_), choices.get("data", cfg.data._target_)
    fitting = options_with_task("data", model_task)
    raise UserError(
        f"model={model_name} trains on {model_task} data, but data={data_name} serves {data_task} data; "
        f"use {' or '.join(f'data={d}' for d in fitting) or 'data that fits the model'}, or a model for "
        f"{data_task}: {', '.join(f'model={m}' for m in options_with_task('model', data_task)) or 'none yet'}"
    )
