"""Search spaces: Hydra's sweep grammar and upstream's ``search_space`` mappings -> Optuna distributions.

``params`` values use Hydra's override grammar, read by Hydra's own parser:

- ``interval(a, b)``: floats in [a, b]; ``int(interval(a, b))``: integers; ``tag(log, ...)``: log scale
  (on an interval or a range of step 1; any other tag, or log on a choice or with a step, is refused)
- ``range(start, stop, step)``: Hydra's (and Python's) range, ``stop`` excluded: ``range(1, 6)`` is 1..5
- ``choice(a, b, c)`` or ``a,b,c``: categorical
- anything else: a fixed value, passed to every trial as it is
"""

from __future__ import annotations

import itertools
import shlex
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from trainlab.config.errors import UserError, did_you_mean
from trainlab.config.search_path import options_with_key
from trainlab.search.entry_words import entry_type

log = logging.getLogger(__name__)

_CATEGORICAL_TYPES = (type(None), bool, int, float, str)


def _categorical(where: str, values: Iterable[Any]) -> CategoricalDistribution:
    values = list(values)
    bad = [v for v in values if not isinstance(v, _CATEGORICAL_TYPES)]
    if bad:
        raise UserError(f"{where}: choice values must be numbers, strings, true/false or null; got {bad[0]!r}")
    return CategoricalDistribution(values)


def _numeric(where: str, low: Any, high: Any, log: bool = False, step: Any = None,
             kind: type = float) -> BaseDistribution:
    """An int or float distribution, its ends checked here so that the message names the fix."""
    try:
        low, high = (_whole(where, end) for end in (low, high)) if kind is int else (float(low), float(high))
    except (TypeError, ValueError):
        raise UserError(f"{where}: its ends {low!r} and {high!r} must be numbers") from None
    if low > high:
        raise UserError(f"{where}: the low end {low} is above the high end {high}; swap them")
    if log and low <= 0:
        linear = "set log: false" if where.startswith("hydra.sweeper.search_space") else "drop tag(log, ...)"
        raise UserError(f"{where}: a log scale needs a low end above 0, got {low}; start at a small positive "
                        f"value (e.g. 1e-6), or {linear}")
    if log and step is not None and not (kind is int and step == 1):
        # Optuna draws a log scale without a step (its own refusal names neither the entry nor the fix)
        raise UserError(f"{where}: a log scale takes no step (got step {step}); drop the step (a log scale over "
                        f"{low}..{high}) or the log scale")
    if step is not None:
        try:
            step = _whole(where, step, "step") if kind is int else float(step)
        except (TypeError, ValueError):
            raise UserError(f"{where}: its step {step!r} must be a number") from None
        _check_step(where, low, high, step)
    if kind is int:
        return IntDistribution(low, high, log=log, step=step if step is not None else 1)
    return FloatDistribution(low, high, log=log, step=float(step) if step is not None else None)


def in_words(dist: BaseDistribution) -> str:
    """A distribution as a message says it: ``1e-05..0.001 on a log scale``, ``whole numbers 32..128 step 32``,
    ``the choices [16, 32]`` (Optuna's repr read ``FloatDistribution(high=0.001, log=True, low=1e-05, step=None)``)."""
    if isinstance(dist, CategoricalDistribution):
        return f"the choices {list(dist.choices)}"
    whole = isinstance(dist, IntDistribution)
    step = getattr(dist, "step", None)
    return (f"{'whole numbers ' if whole else ''}{dist.low:g}..{dist.high:g}{' on a log scale' if dist.log else ''}"
            f"{f' step {step:g}' if step and not (whole and step == 1) else ''}")


def _whole(where: str, end: Any, what: str = "end") -> int:
    """An end or the step of an integer range: a whole number (8.5 was cut to 8 without a word)."""
    if isinstance(end, bool) or not isinstance(end, (int, float, str)):
        raise TypeError(end)
    number = float(end)
    if not number.is_integer():
        raise UserError(f"{where}: its {what} {end!r} is not a whole number, and type int draws whole numbers; give "
                        f"a whole {what}, or type float")
    return int(number)


def _check_step(where: str, low: Any, high: Any, step: Any) -> None:
    """A step that does not divide the range: Optuna lowered the high end, saying so only in a Python warning."""
    if step <= 0:
        raise UserError(f"{where}: step {step} must be above 0")
    count = (high - low) / step
    if not math.isclose(count, round(count), rel_tol=0, abs_tol=1e-9):
        below = low + math.floor(count) * step
        raise UserError(f"{where}: step {step} does not divide {low}..{high} (the last value would be {below:g}); "
                        f"give high {below:g} or {below + step:g}")


TAGS = ("log",)  # the tags of Hydra's sweep grammar the sweeper reads


def _check_tags(where: str, value: Any) -> bool:
    """Whether the sweep is tagged ``log``; any other tag, or a scale on a choice, is refused: it was
    dropped without a word (``tag(lg, interval(...))`` searched a linear scale)."""
    tags = set(getattr(value, "tags", None) or ())
    unknown = sorted(tags - set(TAGS))
    if unknown:
        raise UserError(f"{where}: tag {', '.join(unknown)} means nothing to the sweeper; the one tag it reads is log "
                        "(tag(log, interval(a, b)): a log scale)")
    return "log" in tags


def _from_override(override: Override, where: str) -> BaseDistribution:
    """``where``: the culprit for messages (``hydra.sweeper.params: <key>=<sweep>``)."""
    value = override.value()
    log = _check_tags(where, value)
    unordered = isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and (value.shuffle or value.step < 0))
    if log and unordered:
        raise UserError(f"{where}: a choice has no scale, so tag(log, ...) would do nothing; drop it, or search "
                        "tag(log, interval(a, b)) for a log scale")
    if isinstance(value, ChoiceSweep):
        return _categorical(where, value.list)
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise UserError(f"{where} holds no value: range(start, stop, step) counts from start up to stop "
                            "(excluded) by a positive step, e.g. range(32, 129, 16) is 32..128; fix its ends")
        if value.shuffle or value.step < 0 or len(values) == 1:
            return _categorical(where, values)
        kind = int if all(isinstance(v, int) for v in values) else float
        return _numeric(where, values[0], values[-1], log=log, step=value.step, kind=kind)
    if isinstance(value, IntervalSweep):
        kind = int if isinstance(value.start, int) and isinstance(value.end, int) else float
        return _numeric(where, value.start, value.end, log=log, kind=kind)
    raise UserError(f"{where} is not a sweep Optuna can search; use interval(), tag(log, interval()), range() "
                    "or choice()")


def _from_mapping(where: str, spec: Any) -> BaseDistribution:
    """One entry of upstream's ``search_space``: {type: float | int | categorical, low, high, step, log, choices}."""
    if not isinstance(spec, (Mapping, DictConfig)):
        raise UserError(f"{where}={spec!r} must be a mapping: {{type: float, low: 1e-5, high: 1e-2, log: true}}, "
                        "{type: int, low: 1, high: 5}, or {type: categorical, choices: [16, 32]}")
    kind = entry_type(where, spec)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, (Sequence, ListConfig)) or isinstance(choices, str) or not choices:
            raise UserError(f"{where}.choices={choices!r} must be a list of two or more values, e.g. [16, 32, 64]")
        return _categorical(where, choices)
    if spec.get("low") is None or spec.get("high") is None:
        raise UserError(f"{where}: type {kind} needs low and high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}.log={log!r} must be true or false")
    return _numeric(where, spec["low"], spec["high"], log=log, step=spec.get("step"),
                    kind=int if kind == "int" else float)


def _single_value(dist: BaseDistribution) -> tuple[bool, Any]:
    """(True, the value) for a distribution that holds one value only."""
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices) == 1, dist.choices[0]
    return dist.low == dist.high, dist.low


def _searchable(where: str, key: str, dist: BaseDistribution) -> BaseDistribution:
    """A parameter with one value would be 'searched' without ever changing: refused with the fix."""
    single, value = _single_value(dist)
    if single:
        raise UserError(f"{where} has one value ({value!r}), so nothing would be searched; fix it with "
                        f"{as_override(key, value)} on the command line, which takes it out of the search, or give "
                        "two or more values")
    return dist


def parse_space(params: Mapping[str, Any] | None, search_space: Mapping[str, Any] | None,
                arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The distributions to search and the fixed overrides every trial gets.

    ``arguments`` are the command line's overrides: sweeps there (``optimizer.lr=interval(1e-4,1e-2)``)
    join the space, like hydra-optuna-sweeper does; the rest are passed on unchanged.
    """
    examples = {"params": "sweep, e.g. {optimizer.lr: 'tag(log, interval(1e-5, 1e-3))'}",
                "search_space": "entry, e.g. {optimizer.lr: {type: float, low: 1e-5, high: 1e-3, log: true}}"}
    for key, given in (("params", params), ("search_space", search_space)):
        if given is not None and not isinstance(given, (Mapping, DictConfig)):
            raise UserError(f"hydra.sweeper.{key}={given!r} must be a mapping parameter -> {examples[key]}, or null")
    parser = OverridesParser.create()
    by_key: dict[str, tuple[str, Override, str]] = {}  # a key on the command line replaces the same key in params
    from_config = [(f"{key}={value}", "hydra.sweeper.params") for key, value in (params or {}).items()]
    for line, where in itertools.chain(from_config, ((arg, "the command line") for arg in arguments)):
        try:
            override = parser.parse_override(line)
        except HydraException as exc:
            raise UserError(f"{where}: cannot parse {line!r}: {_grammar_problem(exc)}") from None
        earlier = by_key.pop(override.get_key_element(), None)
        if (earlier is not None and earlier[2] == where  # twice on the command line, one a sweep: which was meant?
                and (override.is_sweep_override() or earlier[1].is_sweep_override())):
            raise UserError(f"{override.get_key_element()} is given twice on {where} ({earlier[0]} and {line}); "
                            "keep one")
        if earlier is not None and earlier[2] != where:
            _say_replaced(line, f"{earlier[2]}' {earlier[0]}", override.is_sweep_override())
        by_key[override.get_key_element()] = (line, override, where)
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for key, (line, override, where) in by_key.items():
        if not override.is_sweep_override():
            fixed.append(line)
            continue
        culprit = f"{where}: {line}"
        try:
            space[key] = _searchable(culprit, key, _from_override(override, culprit))
        except ValueError as exc:  # optuna's check of low/high/step
            raise UserError(f"{culprit}: {exc}") from None
    for key, spec in (search_space or {}).items():
        culprit = f"hydra.sweeper.search_space.{key}"
        if key in by_key and by_key[key][2] == "the command line":  # it replaces the entry, as one of params
            entry = OmegaConf.to_container(spec) if isinstance(spec, DictConfig) else spec
            _say_replaced(by_key[key][0], f"{culprit}={entry}", by_key[key][1].is_sweep_override())
            continue
        if key in by_key:  # the fix was a search file's alone: given on the command line, params: null dropped the rest
            try:
                typed = shlex.quote(f"{key}={as_sweep(_from_mapping(culprit, spec))}")
            except (UserError, ValueError):
                typed = f"'{key}=interval(a, b)'"
            raise UserError(f"{culprit} and hydra.sweeper.params: {by_key[key][0]} both search {key}; keep one: on the "
                            f"command line give {typed} instead, which replaces the search file's range; in a search "
                            "file that extends optuna (whose params hold the model's space, hparams_search/space/"
                            "<model>.yaml), params: null searches its search_space alone")
        try:
            space[key] = _searchable(culprit, key, _from_mapping(culprit, spec))
        except ValueError as exc:
            raise UserError(f"{culprit}: {exc}") from None
    return space, fixed


def _grammar_problem(exc: HydraException) -> str:
    """Hydra's refusal of a sweep in one line; a misspelt function (``intrval``) is told the nearest one (Hydra's
    own message listed every function it has, on a second line)."""
    from trainlab.config.composition import unknown_function

    function = unknown_function(str(exc))
    if function is None:
        return " ".join(str(exc).split())
    return (f"{function} (the sweeper reads interval(a, b), range(start, stop, step), choice(...) and "
            "tag(log, ...))")


def empty_space(params: Optional[Mapping[str, Any]], search_space: Optional[Mapping[str, Any]],
                arguments: Sequence[str]) -> str:
    """Why :func:`parse_space` found nothing to search: no entries, or each fixed on the command line (which was
    told 'give hydra.sweeper.params', though the search file gave them, and nothing of the values that fixed them)."""
    searched = [*(params or {}), *(search_space or {})]
    typed = [a for a in arguments if a.split("=", 1)[0].lstrip("+~") in searched]
    if not typed:
        return ("the search space is empty: give hydra.sweeper.params (e.g. optimizer.lr: tag(log, interval(1e-5, "
                "1e-3))) or hydra.sweeper.search_space")
    key = typed[-1].split("=", 1)[0].lstrip("+~")
    over = f"over {(params or {})[key]}" if key in (params or {}) else "as hydra.sweeper.search_space gives it"
    return (f"the search space is empty: the command line fixes every parameter the search file searches "
            f"({' '.join(typed)}), so nothing is left to search; leave out the ones to search (without {typed[-1]}, "
            f"{key} is searched {over})")


def _say_replaced(line: str, replaced: str, sweep: bool) -> None:
    """A search file's entry that the command line replaces: said, since the file's range is not searched."""
    done = "searched as the command line gives it" if sweep else "fixed at that value, not searched"
    log.info("%s on the command line replaces %s: %s", line, replaced, done)


def params_override_problem(argv: Sequence[str]) -> str | None:
    """The command line sets ``hydra.sweeper.params.<key>`` in a way Hydra refuses: what to write instead.

    Hydra reads the dots of ``optimizer.lr`` in ``hydra.sweeper.params.optimizer.lr=...`` as nested
    keys, and an unquoted sweep there as a sweep over Hydra's own config; its messages name neither.
    A sweep given as an override of the key itself replaces the search file's entry.
    """
    prefix = "hydra.sweeper.params."
    parser = None
    for arg in argv:
        name, _, value = arg.lstrip("+~").partition("=")
        if not name.startswith(prefix) or name == prefix:
            continue
        key = name[len(prefix):]
        if arg.startswith("~"):
            if "." in key:
                return (f"{arg}: a parameter cannot be removed from the search this way; fix it at a value instead "
                        f"({key}=<value> on the command line leaves it out of the search)")
            continue
        if "." not in key:  # a quoted value for a plain key is fine; an unquoted sweep is not
            parser = parser or OverridesParser.create()
            try:
                if not parser.parse_override(arg).is_sweep_override():
                    continue
            except HydraException:
                continue  # Hydra's own message says what does not parse
        sweep = value.strip().strip("'\"") or "<sweep>"
        return (f"{arg}: Hydra reads this as nested keys or as a sweep over its own config; give the sweep as an "
                f"override of the key itself: {key}={sweep} (it replaces the search file's range), or fix it at a "
                f"value: {key}=<value>")
    return None


def check_keys(config: DictConfig, names: Iterable[str], arguments: Sequence[str] = (),
               search_space: Optional[Mapping[str, Any]] = None) -> None:
    """Every searched name is a key of the composed config or a config group (``model=...``); a refusal names
    where the name was given: the command line (``arguments``), ``hydra.sweeper.search_space`` or ``params``."""
    typed = {a.split("=", 1)[0].lstrip("+~"): a for a in arguments if "=" in a}
    choices = set(config.hydra.runtime.choices) if "hydra" in config else set()
    keys = _all_keys(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]))
    missing = object()
    for name in names:
        if name.startswith(("+", "~")) or name in choices:
            continue
        if OmegaConf.select(config, name, default=missing, throw_on_resolution_failure=False) is missing:
            close = did_you_mean(name, keys)
            hint = f"; {close}" if close else "; add it with +key to create it"
            group, _, rest = name.partition(".")
            sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=None)  # a user's folders too
            owners = options_with_key(group, rest, sources) if group in choices else []
            if owners:
                chosen = config.hydra.runtime.choices[group]
                hint = (f": it is a key of {' or '.join(owners)}, but {group}={chosen} is selected; select "
                        f"{owners[0]}, or search {group}={chosen}'s own keys")
            where = (f"the command line: {typed[name]}" if name in typed else "hydra.sweeper.search_space"
                     if name in (search_space or {}) else "hydra.sweeper.params")
            raise UserError(f"{where}: {name} is not a key of the config nor a config group{hint}")


def _all_keys(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, DictConfig):
        return []
    keys = []
    for key in node:
        full = f"{prefix}{key}"
        keys.append(full)
        keys.extend(_all_keys(node._get_node(key), full + "."))
    return keys


def grid_values(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of every parameter, for ``optuna.samplers.GridSampler``; only discrete spaces have them."""
    grid = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            grid[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise UserError(f"hydra/sweeper/sampler=grid needs discrete values, but {key} is continuous; "
                            "write it as choice(...) or range(...)")
    return grid


def as_sweep(dist: BaseDistribution) -> str:
    """A distribution in Hydra's sweep grammar, which :func:`_from_override` reads back as the same one."""
    if isinstance(dist, CategoricalDistribution):
        from trainlab.config.spelling import grammar_value

        return f"choice({', '.join(grammar_value(v) for v in dist.choices)})"
    if isinstance(dist, IntDistribution):
        sweep = f"range({dist.low}, {dist.high + dist.step}{f', {dist.step}' if dist.step != 1 else ''})"
    else:
        sweep = f"interval({dist.low!r}, {dist.high!r})" if dist.step is None else \
            f"range({dist.low!r}, {round(dist.high + dist.step / 2, 12)!r}, {dist.step!r})"  # its stop is excluded
    return f"tag(log, {sweep})" if dist.log else sweep


def as_override(name: str, value: Any) -> str:
    """``name=value`` in Hydra's override grammar (strings quoted where the grammar needs it)."""
    from trainlab.config.spelling import grammar_value

    return f"{name}={grammar_value(value)}"


def suggest(trial: Any, space: Mapping[str, BaseDistribution]) -> None:
    """Draw the space's parameters, in its order: what ``study.ask(space)`` does, after the ask
    (an enqueued trial gets its given values here)."""
    for name, dist in space.items():
        if isinstance(dist, FloatDistribution):
            trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
        elif isinstance(dist, IntDistribution):
            trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            trial.suggest_categorical(name, dist.choices)
