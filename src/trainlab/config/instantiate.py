"""Instantiate config nodes with their arguments checked first, so bad values get clear messages.

Hydra's ``instantiate`` hands values straight to constructors: a string where an int belongs
surfaces as an error deep inside torch. :func:`check_node` compares every ``_target_`` node with its
callable's signature (unknown arguments, wrong scalar types) and names the config key.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import typing
from types import UnionType
from typing import Any, Optional

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.errors import UserError, did_you_mean, unwrap_user_error

_SCALARS = (bool, int, float, str)


def _scalar_types(annotation: Any) -> Optional[tuple[Any, ...]]:
    """The scalar types an annotation admits (and the values of its ``Literal``s), or None when it is not a plain
    scalar annotation. Unions written either way: ``Optional[int]`` and ``float | Tensor`` (torch's ``lr``; a
    config cannot hold a tensor, so a number is what it takes: ``optimizer.lr=abc`` reached Adam's comparison,
    a TypeError traceback)."""
    if annotation in _SCALARS:
        return (annotation,)
    if typing.get_origin(annotation) is typing.Literal:  # save_last: bool | Literal["link"]
        args = typing.get_args(annotation)
        return args if all(isinstance(a, _SCALARS) for a in args) else None
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        admitted: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is type(None) or _is_tensor(arg):
                continue
            inner = _scalar_types(arg)
            if inner is None:
                return None
            admitted.extend(inner)
        return tuple(admitted) + ((type(None),) if type(None) in typing.get_args(annotation) else ())
    return None


def _is_tensor(annotation: Any) -> bool:
    return getattr(annotation, "__name__", "") == "Tensor" and getattr(annotation, "__module__", "").startswith("torch")


def _fits(value: Any, types: tuple[Any, ...]) -> bool:
    """Whether ``value`` is of one of ``types``, or one of the ``Literal`` values kept beside them."""
    kinds = tuple(t for t in types if isinstance(t, type) and t is not type(None))
    if value is None:
        return type(None) in types
    if any(not isinstance(t, type) and value == t and type(value) is type(t) for t in types):
        return True
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int):
        return int in kinds or float in kinds
    return bool(kinds) and isinstance(value, kinds)


def _whole_number(value: Any, types: tuple[type, ...]) -> Optional[int]:
    """``64.0`` given where only an int fits (``data.batch_size=64.0``, or a YAML value written with a
    point): the int it means. None when ``value`` is not such a float."""
    if isinstance(value, float) and int in types and float not in types and value.is_integer():
        return int(value)
    return None


def _type_name(types: tuple[Any, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ if isinstance(t, type) else repr(t) for t in types)


def _type_example(setting: str, value: Any, types: tuple[type, ...], default: Any) -> str:
    """``"; e.g. <setting>=<value>"``: the number of a value written with a unit (``24h``, ``64MB``: the
    unit goes), else the argument's own default where it is one, else a value of the first type."""
    from trainlab.config.composition import _EXAMPLES

    numeric = [t for t in types if t in (int, float)]
    number = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[^\W\d_][\w/%]*\s*", value) if isinstance(value, str) else None
    if number and numeric:
        return f" (the number alone, without a unit); e.g. {setting}={number.group(1)}"
    if default is not inspect.Parameter.empty and default is not None and _fits(default, types):
        return f"; e.g. {setting}={str(default).lower() if isinstance(default, bool) else default}"
    kind = next((t for t in types if t in _EXAMPLES), None)
    return f"; e.g. {setting}={_EXAMPLES[kind]}" if kind else ""


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
    if isinstance(error, SyntaxError) and error.filename:  # raised by the compiler: the place is the error's own
        where = f" ({error.filename}, line {error.lineno})"  # (the last frame is importlib's)
    return (f"{setting}: importing {module_name} failed{where}: {type(error).__name__}: {error}; the error is in "
            "that module (or one it imports), not in the config")


def check_node(node: Any, key: str, given: frozenset[str] = frozenset()) -> None:
    """Check every ``_target_`` node under ``node`` against its callable's signature.

    ``given``: arguments of the top node that the caller passes itself; the callable must take them.
    """
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_node(item, f"{key}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    if "_target_" in node:
        target = import_target(node._target_, key) if isinstance(node._target_, str) else node._target_
        arguments = arguments_of(target)
        if arguments is not None:
            _check_arguments(node, key, target, arguments, given)
    for name in node:
        if name not in given:
            check_node(node[name], f"{key}.{name}")


class Arguments(typing.NamedTuple):
    """What a callable takes by name (:func:`arguments_of`)."""

    signature: inspect.Signature  # its own, as shown in messages
    parameters: dict[str, inspect.Parameter]  # its own named arguments, then those its bases take through **kwargs
    hints: dict[str, Any]  # their annotations, each read from the function that declares it
    takes_any: bool  # whether some other keyword is taken too (a **kwargs that is not handed on to a base)


def arguments_of(target: Any) -> Optional[Arguments]:
    """The arguments ``target`` takes by name; None when Python cannot tell (a builtin).

    A class whose ``__init__`` hands its ``**kwargs`` on to its base's (``super().__init__(..., **kwargs)``,
    read from its source) takes the base's arguments too, and nothing else: trainlab's ModelCheckpoint and
    EarlyStopping, and a user's subclass of them. Read as "takes anything", a misspelt
    ``+callbacks.model_checkpoint.save_top_kk=3`` passed every check and ended in Hydra's traceback of the
    base's TypeError after the data was built, and ``save_last=sometimes`` reached Lightning unchecked. A
    ``**kwargs`` kept by the class itself, or one whose source cannot be read, still takes anything."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    function = _constructor(target) if inspect.isclass(target) else target
    parameters = {name: p for name, p in signature.parameters.items()
                  if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    hints = {name: hint for name, hint in _hints(function).items() if name in parameters}
    keywords = next((p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    takes_any = keywords is not None
    owner = _defining_class(target) if inspect.isclass(target) else None
    while takes_any and owner is not None and getattr(function, "__signature__", None) is None:
        passed = _passes_on(function, keywords)
        base = _defining_class(owner, after=owner)
        if passed is None or base is None:
            break
        function = _constructor(base, owner=base)
        try:
            base_signature = inspect.signature(function)
        except (TypeError, ValueError):
            break
        positional, named = passed
        base_parameters = [p for p in base_signature.parameters.values() if p.name != "self"]
        taken = {p.name for p in base_parameters[:positional]} | named  # the subclass gives these itself
        base_hints = _hints(function)
        for p in base_parameters:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            if p.name not in parameters and p.name not in taken:
                parameters[p.name] = p
                if p.name in base_hints:
                    hints[p.name] = base_hints[p.name]
        keywords = next((p.name for p in base_parameters if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        takes_any, owner = keywords is not None, base
    return Arguments(signature, parameters, hints, takes_any)


def _defining_class(cls: type, after: Optional[type] = None) -> Optional[type]:
    """The first class of ``cls``'s MRO (past ``after``) that defines ``__init__``; None at ``object``."""
    mro = inspect.getmro(cls)
    start = mro.index(after) + 1 if after is not None else 0
    return next((c for c in mro[start:] if "__init__" in vars(c) and c is not object), None)


def _constructor(cls: type, owner: Optional[type] = None) -> Any:
    return vars(owner or _defining_class(cls) or object).get("__init__", cls.__init__)


def _hints(function: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - unresolvable hints: skip type checks, keep name checks
        return {}


def _passes_on(function: Any, keywords: str) -> Optional[tuple[int, set[str]]]:
    """Whether ``function`` (an ``__init__``) calls a base's ``__init__`` with ``**<keywords>``: then the number of
    positional arguments and the names of the keywords it gives that call itself; None when it does not (or its
    source cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "__init__"):
            continue
        if any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == keywords for k in call.keywords):
            positional = sum(not isinstance(a, ast.Starred) for a in call.args)
            if not isinstance(call.func.value, ast.Call):  # Base.__init__(self, ...): self is not an argument
                positional = max(positional - 1, 0)
            return positional, {k.arg for k in call.keywords if k.arg is not None}
    return None


def _check_arguments(node: DictConfig, key: str, target: Any, arguments: Arguments, given: frozenset[str]) -> None:
    """The keys of ``node`` and the arguments ``given`` by the caller against what ``target`` takes
    (:func:`arguments_of`): each is an argument it takes, of a type it takes, and every argument it needs is
    there (a user's own class with another signature than the config's fails here, naming the key and the
    signature, not in Hydra's multi-line TypeError)."""
    params, hints, takes_any = arguments.parameters, arguments.hints, arguments.takes_any
    shown = f"{node._target_}{arguments.signature}"
    refused = sorted(name for name in given if name not in params and not takes_any)
    if refused:
        raise UserError(f"{key}._target_={shown} does not take {', '.join(refused)}, which trainlab passes to it "
                        f"(from the pipeline and the data module); add {'them' if len(refused) > 1 else 'it'} to its arguments (or **kwargs)")
    own = arguments.signature.parameters
    needed = [name for name, p in own.items() if p.default is p.empty and name not in node.keys() and name not in given
              and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if needed and not node.get("_partial_") and "_args_" not in node:
        raise UserError(f"{key}._target_={shown} needs {', '.join(needed)}, which the config does not give; add "
                        f"{' '.join(f'{key}.{name}=<value>' for name in needed)}")
    for name in node:
        if (name.startswith("_") and name.endswith("_")) or name in given:
            continue
        if OmegaConf.is_missing(node, name):
            raise UserError(f"{key}.{name} has no value (??? in the config); set it: {key}.{name}=<value>")
        parameter = params.get(name)
        if parameter is None:
            if not takes_any:
                valid = [p for p in params if p != "self"]
                below = next((c for c in node if isinstance(node.get(c), DictConfig) and name in node[c]), None)
                hint = did_you_mean(name, valid, prefix=f"{key}.") or (  # a key one node too high (an indent off)
                    f"did you mean {key}.{below}.{name}?" if below is not None else "")
                from trainlab.config.families import set_by_a_file

                found = set_by_a_file(f"{key}.{name}")  # a key of an experiment file, which nobody typed
                head = f"{found[0]} sets {key}.{name}, which" if found is not None else f"{key}.{name}"
                raise UserError(f"{head} is not an argument of {node._target_}; {hint + ' ' if hint else ''}"
                                f"valid ones: {', '.join(valid)}")
            continue
        types = _scalar_types(hints.get(name))
        value = OmegaConf.select(node, name)
        if types and isinstance(value, (DictConfig, ListConfig)):  # data.fanout=[5,5]: a TypeError traceback
            raise UserError(f"{key}.{name}={OmegaConf.to_container(value)} must be {_type_name(types)}, not a "
                            f"{'list' if isinstance(value, ListConfig) else 'mapping'}"
                            f"{_type_example(f'{key}.{name}', value, types, parameter.default)}")
        if types and not _fits(value, types):
            whole = _whole_number(value, types)
            if whole is None:
                raise UserError(f"{key}.{name}={value!r} must be {_type_name(types)}"
                                f"{_type_example(f'{key}.{name}', value, types, parameter.default)}")
            node[name] = whole  # ints stay ints: 64.0 is 64, 64.5 is refused above


def build(node: DictConfig, key: str, kind: Optional[type] = None, **kwargs: Any) -> Any:
    """Check ``node`` and instantiate it, with ``kwargs`` filled in (objects the config can't hold).

    ``kind``: the class what it builds must be (a LightningModule for ``model``): a user's own
    ``_target_`` of another kind is refused before it is built (a data module given as the model)."""
    if kind is not None:
        check_target_kind(node._target_, key, kind)
    check_node(node, key, frozenset(kwargs))
    # "partial": constructors get plain lists and dicts, never ListConfig/DictConfig (which would
    # end up in checkpoints that torch.load(weights_only=True) cannot read)
    try:
        built = instantiate(node, _convert_="partial", **kwargs)
    except InstantiationException as exc:
        user_error = unwrap_user_error(exc)
        if user_error is not None:  # our own constructors' messages already name key and fix
            raise user_error from None
        cause = exc.__cause__
        if isinstance(cause, _argument_errors()):  # a library refusing a value it was given
            raise UserError(f"{key}: {cause}") from None
        raise
    if kind is not None:
        _check_kind(type(built), key, kind, node._target_)
    return built


def check_target_kind(target: Any, key: str, kind: type) -> None:
    """The class ``_target_`` names is a subclass of ``kind`` (a factory function: checked by
    :func:`build` on what it returns)."""
    cls = import_target(target, key) if isinstance(target, str) else target
    if inspect.isclass(cls):
        _check_kind(cls, key, kind, str(target) if isinstance(target, str) else cls.__qualname__)


def _check_kind(cls: type, key: str, kind: type, path: str) -> None:
    """``cls`` (a ``_target_`` class, or the type of what a factory returned) is a subclass of ``kind``,
    or a UserError naming what it is instead."""
    if issubclass(cls, kind):
        return
    bases = [cls.__name__]  # along each class's last base: mixins come first, so the lineage skips them
    while len(bases) < 3 and cls.__bases__[-1] is not object:
        cls = cls.__bases__[-1]
        bases.append(cls.__name__)
    raise UserError(f"{key}._target_={path} builds a {' < '.join(bases)}, not a {kind.__module__}.{kind.__qualname__}; "
                    f"{key} must be one{_KIND_HINTS.get(key, '')}")


# what to do when a _target_ is of the wrong kind, where the class to derive from is ours
_KIND_HINTS = {
    "data": " (derive your data module from it: the pipeline takes the sizes, the model's data arguments and "
            "the DataLoader settings from it; CONTRIBUTING.md)",
    "model": " (derive your task module from it, or from a family's, e.g. trainlab.models.timeseries."
             "RegressionModule: training, its checks and evaluate.py use its net, loss, metrics and optimizer wiring)",
}


def _argument_errors() -> tuple[type[Exception], ...]:
    """ValueError and Lightning's MisconfigurationException, imported only when an error is at hand
    (importing lightning costs seconds, and this module is imported early)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    return (ValueError, MisconfigurationException)


def group_nodes(nodes: Optional[DictConfig], key: str) -> list[tuple[str, DictConfig]]:
    """(name, node) of each child of a group such as callbacks or logger that builds something; a child
    that is not a node with a ``_target_`` (``+callbacks.x=3``) is refused: nothing would read it. Null
    children are switched off."""
    for name, child in (nodes or {}).items():
        if child and not (isinstance(child, DictConfig) and "_target_" in child):
            shown = OmegaConf.to_container(child) if isinstance(child, DictConfig) else child
            raise UserError(f"{key}.{name}={shown!r} builds nothing, so nothing would read it: give it a class "
                            f"({key}.{name}._target_=<module.Class> and its arguments), or null to switch it off")
    return [(name, child) for name, child in (nodes or {}).items() if child]


def build_all(nodes: Optional[DictConfig], key: str, kind: Optional[type] = None) -> list[Any]:
    """Instantiate every child of a group such as callbacks (None: empty), each of ``kind``."""
    return [build(child, f"{key}.{name}", kind) for name, child in group_nodes(nodes, key)]
