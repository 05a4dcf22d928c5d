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
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.errors import UserError, did_you_mean, unwrap_user_error

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


def import_target(path: str, key: str) -> Any:
    """``_target_`` imported, or a UserError saying whether the package is missing or the name misspelt."""
    return import_callable(path, f"{key}._target_={path}")


def import_callable(path: str, setting: str) -> Any:
    """The object at dotted ``path``, or a UserError starting with ``setting`` (the config line that
    names it): the package is not installed (or not on PYTHONPATH), the name is misspelt, or importing
    the module failed inside it (a user's own module with a bug: their file, line and error).

    Imported here rather than by Hydra's ``get_method``, which logs its own multi-line error first."""
    import importlib
    import pkgutil

    parts, missing = path.split("."), None
    for n in range(len(parts) - 1, 0, -1):  # the longest prefix that is a module, then attributes
        module_name = ".".join(parts[:n])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):  # that module itself does not exist
                missing = missing or exc
                continue
            raise UserError(_failed_import(setting, module_name, exc)) from None
        except Exception as exc:  # noqa: BLE001 - whatever the module raised while it was imported
            raise UserError(_failed_import(setting, module_name, exc)) from None
        for i, name in enumerate(parts[n:], start=n):
            if not hasattr(obj, name):
                owner = ".".join(parts[:i])
                names = [*dir(obj), *(m.name for m in pkgutil.iter_modules(getattr(obj, "__path__", [])))]
                hint = did_you_mean(name, [a for a in names if not a.startswith("_")], n=3)
                raise UserError(f"{setting}: {owner} has no '{name}'{'; ' + hint if hint else ''}")
            obj = getattr(obj, name)
        if not callable(obj):
            raise UserError(f"{setting}: {path} is a {type(obj).__name__}, not a class or function")
        return obj
    if missing is None:
        raise UserError(f"{setting}: give the full dotted path of the class or function (package.module.Name)")
    raise UserError(f"{setting}: {missing}; install the package that provides it (your own: put the folder "
                    "that holds it on PYTHONPATH), or fix the name")


def _failed_import(setting: str, module_name: str, error: BaseException) -> str:
    """The error a module raised while it was imported, with the file and line where it was raised
    (the last frame outside Python's import machinery)."""
    import traceback

    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith("<frozen")]
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return (f"{setting}: importing {module_name} failed{where}: {type(error).__name__}: {error}; the error is in "
            "that module (or one it imports), not in the config")


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
        target = import_target(node._target_, key) if isinstance(node._target_, str) else node._target_
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
                        valid = [p for p in params if p != "self"]
                        hint = did_you_mean(name, valid, prefix=f"{key}.")
                        raise UserError(f"{key}.{name} is not an argument of {node._target_}; {hint + ' ' if hint else ''}"
                                        f"valid ones: {', '.join(valid)}")
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


def build_all(nodes: Optional[DictConfig], key: str) -> list[Any]:
    """Instantiate every ``_target_`` child of a group such as callbacks or logger (None: empty)."""
    if not nodes:
        return []
    return [build(child, f"{key}.{name}") for name, child in nodes.items() if child and "_target_" in child]
