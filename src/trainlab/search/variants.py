"""The configs a sweep's trials can get, and the keys each must have.

A sweep that searches a config group (``model=lstm,cnn``, ``experiment=gaia_fast,unet_anomaly``,
``model=choice(...)``) gives its trials configs of different shapes, but one search space: the
search file's, chosen at plan time for the composed config's model
(``space@hydra.sweeper.params: ${model}``), plus the command line's fixed overrides. A trial whose
model lacks a key of them failed when Hydra composed it (``Could not override
'model.net.hidden_size'``), one trial after another. :func:`check_every_variant` composes, before the
first trial, the config each option of each searched group gives (Hydra's own loader, as the
launcher composes a job) and refuses a key one of them lacks, naming that option and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution

from trainlab.config.errors import UserError

Compose = Callable[[list[str]], DictConfig]
SPACE_CHOICE = "hparams_search/space@hydra.sweeper.params"  # the search file's space: the model's name


def composer(launcher: Any, config: DictConfig) -> Compose:
    """overrides -> the job config they give, composed as the launcher composes a job.

    Hydra hands each launcher its config loader (``hydra_context``) in ``setup``; a stand-in launcher
    without one (tests) gets a loader over the folders the config was composed from (its
    ``hydra.runtime.config_sources``: conf/, experiments/, a user's own). Hydra has no public way to
    build a loader: ``ConfigLoaderImpl`` and ``ConfigSearchPathImpl`` are its internals, read only
    here and only then.
    """
    loader = getattr(getattr(launcher, "hydra_context", None), "config_loader", None)
    if loader is None:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra._internal.config_search_path_impl import ConfigSearchPathImpl

        search_path = ConfigSearchPathImpl()
        for source in config.hydra.runtime.config_sources:
            search_path.append(source.provider, f"{source.schema}://{source.path}")
        loader = ConfigLoaderImpl(config_search_path=search_path)
    return lambda overrides: loader.load_sweep_config(config, overrides)


def _chosen_groups(config: DictConfig, choices: Mapping[str, Any]) -> dict[str, str]:
    """The command line's choices of config groups (``hparams_search=optuna``, ``data=elnino``), not
    its sweeps: every trial's config starts from them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = OmegaConf.select(config, "hydra.overrides.task", default=None) or []
    picked = {}
    for override in OverridesParser.create().parse_overrides([str(o) for o in given]):
        if override.key_or_group in choices and not override.is_sweep_override() and not override.is_delete():
            picked[override.key_or_group] = override.input_line.partition("=")[2]
    return picked


def check_every_variant(config: DictConfig, space: Mapping[str, BaseDistribution], fixed: Sequence[str],
                        compose: Compose, params: Optional[Mapping[str, Any]] = None) -> None:
    """Each option of each searched config group gives a config that has every key the sweep sets
    (searched, or fixed on the command line); the other searched groups stay at their first option.
    ``params``: the search file's entries, for the refusal's command that searches the shared ones."""
    choices = OmegaConf.select(config, "hydra.runtime.choices", default=None) or {}
    searched = {k: [str(c) for c in d.choices] for k, d in space.items()
                if isinstance(d, CategoricalDistribution) and k in choices}
    if not searched:
        return
    set_keys = [(k, None) for k in space if k not in choices]
    set_keys += [(line.partition("=")[0], line) for line in fixed
                 if "=" in line and not line.startswith(("+", "~")) and line.partition("=")[0] not in choices]
    base = {**_chosen_groups(config, choices), **{k: options[0] for k, options in searched.items()}}
    lacking: list[tuple[str, str, str, Optional[str]]] = []  # (group, option, key, fixed line) per missing key
    tried = set()
    for group, options in searched.items():
        for option in options:
            variant = {**base, group: option}
            if tuple(variant.items()) in tried:
                continue
            tried.add(tuple(variant.items()))
            overrides = [f"{k}={v}" for k, v in variant.items()]
            try:
                trial_config = compose(overrides)
            except HydraException as exc:
                from trainlab.config.search_path import group_options, not_an_option

                sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=None)
                options = group_options(group, sources)
                if option not in options:  # Hydra said "In 'train': Could not find 'data/stars'"
                    raise UserError(not_an_option(group, option, options, f", one of the sweep's {group} choices,")) \
                        from None
                raise UserError(f"{group}={option}, one of the sweep's {group} choices, does not compose: "
                                f"{str(exc).strip().splitlines()[0]}") from None
            missing = object()
            lacking += [(group, option, key, line) for key, line in set_keys
                        if OmegaConf.select(trial_config, key, default=missing, throw_on_resolution_failure=False)
                        is missing]
    if lacking:
        group, option, key, fixed_line = lacking[0]
        shared = {k: v for k, v in (params or {}).items() if k not in {miss[2] for miss in lacking}}
        raise UserError(_missing_line(choices, group, option, searched[group], key, fixed_line, shared))


def _missing_line(chosen: Mapping[str, Any], group: str, option: str, options: Sequence[str], key: str,
                  fixed_line: Optional[str], shared: Mapping[str, Any]) -> str:
    """One line: which choice lacks the key, where the key comes from, and the fix."""
    sweep = f"{group}={option}, one of the sweep's choices {group}={','.join(options)}"
    if fixed_line is not None:
        return (f"{fixed_line} (fixed on the command line) is not a key of {sweep}, so each {group}={option} trial "
                f"would fail on it; sweep the {group} choices that have it, or drop it")
    space = chosen.get(SPACE_CHOICE)
    one_space = (f": the search space is model={space}'s (conf/hparams_search/space/{space}.yaml), one for every "
                 f"trial," if space else "")
    search = chosen.get("hparams_search") or "<file>"
    together = (" hydra.sweeper.params=null " + " ".join(f"'{k}={v}'" for k, v in shared.items()) if shared
                else " a search file of its own")
    return (f"the searched key {key} is not a key of {sweep}{one_space} so each {group}={option} trial would fail "
            f"on it; sweep one {group} at a time (-m hparams_search={search} {group}={option} searches its model's own "
            f"space), or search only the keys every choice has:{together}")
