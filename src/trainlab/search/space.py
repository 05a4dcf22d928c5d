"""Search spaces: Hydra's sweep grammar and upstream's ``search_space`` mappings -> Optuna distributions.

``params`` values use Hydra's override grammar, read by Hydra's own parser:

- ``interval(a, b)``: floats in [a, b]; ``int(interval(a, b))``: integers; ``tag(log, ...)``: log scale
- ``range(start, stop, step)``: Hydra's (and Python's) range, ``stop`` excluded: ``range(1, 6)`` is 1..5
- ``choice(a, b, c)`` or ``a,b,c``: categorical
- anything else: a fixed value, passed to every trial as it is
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from trainlab.config.errors import UserError

_CATEGORICAL_TYPES = (type(None), bool, int, float, str)


def _categorical(key: str, values: Iterable[Any]) -> CategoricalDistribution:
    values = list(values)
    bad = [v for v in values if not isinstance(v, _CATEGORICAL_TYPES)]
    if bad:
        raise UserError(f"hydra.sweeper.params.{key}: choice values must be numbers, strings, true/false or null; "
                        f"got {bad[0]!r}")
    return CategoricalDistribution(values)


def _from_override(override: Override) -> BaseDistribution:
    key, value = override.get_key_element(), override.value()
    if isinstance(value, ChoiceSweep):
        return _categorical(key, value.list)
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise UserError(f"hydra.sweeper.params.{key}: {override.get_value_element_as_str()} is empty")
        if value.shuffle or value.step < 0 or len(values) == 1:
            return _categorical(key, values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise UserError(f"hydra.sweeper.params.{key}: {override.get_value_element_as_str()} is not a sweep Optuna can "
                    "search; use interval(), tag(log, interval()), range() or choice()")


def _from_mapping(key: str, spec: Mapping[str, Any]) -> BaseDistribution:
    """One entry of upstream's ``search_space``: {type: float | int | categorical, low, high, step, log, choices}."""
    kind = spec.get("type")
    if kind == "categorical":
        return _categorical(key, spec.get("choices") or [])
    if kind in ("int", "float"):
        if spec.get("low") is None or spec.get("high") is None:
            raise UserError(f"hydra.sweeper.search_space.{key}: type {kind} needs low and high")
        cls, cast = (IntDistribution, int) if kind == "int" else (FloatDistribution, float)
        step = spec.get("step")
        return cls(cast(spec["low"]), cast(spec["high"]), log=bool(spec.get("log", False)),
                   step=cast(step) if step is not None else (1 if kind == "int" else None))
    raise UserError(f"hydra.sweeper.search_space.{key}.type={kind!r} must be float, int or categorical")


def parse_space(params: Mapping[str, Any] | None, search_space: Mapping[str, Any] | None,
                arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The distributions to search and the fixed overrides every trial gets.

    ``arguments`` are the command line's overrides: sweeps there (``optimizer.lr=interval(1e-4,1e-2)``)
    join the space, like hydra-optuna-sweeper does; the rest are passed on unchanged.
    """
    parser = OverridesParser.create()
    by_key: dict[str, tuple[str, Override]] = {}  # a key on the command line replaces the same key in params
    from_config = [(f"{key}={value}", True) for key, value in (params or {}).items()]
    for line, from_params in itertools.chain(from_config, ((arg, False) for arg in arguments)):
        try:
            override = parser.parse_override(line)
        except HydraException as exc:
            where = "hydra.sweeper.params" if from_params else "the command line"
            raise UserError(f"{where}: cannot parse {line!r}: {exc}") from None
        by_key.pop(override.get_key_element(), None)
        by_key[override.get_key_element()] = (line, override)
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for key, (line, override) in by_key.items():
        if not override.is_sweep_override():
            fixed.append(line)
            continue
        try:
            space[key] = _from_override(override)
        except ValueError as exc:  # optuna's check of low/high/step
            raise UserError(f"hydra.sweeper.params: {line}: {exc}") from None
    for key, spec in (search_space or {}).items():
        try:
            space[key] = _from_mapping(key, spec)
        except ValueError as exc:
            raise UserError(f"hydra.sweeper.search_space.{key}: {exc}") from None
    return space, fixed


def check_keys(config: DictConfig, names: Iterable[str]) -> None:
    """Every searched name is a key of the composed config or a config group (``model=...``)."""
    choices = set(config.hydra.runtime.choices) if "hydra" in config else set()
    keys = _all_keys(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]))
    missing = object()
    for name in names:
        if name.startswith(("+", "~")) or name in choices:
            continue
        if OmegaConf.select(config, name, default=missing, throw_on_resolution_failure=False) is missing:
            close = difflib.get_close_matches(name, keys, n=1)
            hint = f"; did you mean {close[0]}?" if close else "; add it with +key to create it"
            raise UserError(f"hydra.sweeper.params: {name} is not a key of the config nor a config group{hint}")


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


def as_override(name: str, value: Any) -> str:
    """``name=value`` in Hydra's override grammar (strings quoted where the grammar needs it)."""
    return f"{name}={Transformer.str(value)}"
