"""Commands that run one of a sweep's runs again (a requeued job's resume line, a refused resume's
advice): the run's overrides without the sweep's own, with what its search file set given instead."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Optional

from trainlab.config.invocation import leaves, task_overrides
from trainlab.config.spelling import grammar_value


# a sweep's own overrides, which a command for one of its runs leaves out (the search, the trial's hand-over)
SWEEP_ONLY = ("hparams_search=", "optuna_trial=", "+optuna_trial=")
# the epoch cap's two spellings (epochs=N, a root shortcut, sets trainer.max_epochs; the two given apart are
# refused): a command that sets one of them replaces both
EPOCH_KEYS = ("epochs", "trainer.max_epochs")


def sets_epochs(override: str) -> bool:
    """Whether ``override`` sets the epoch cap, in either spelling (:data:`EPOCH_KEYS`)."""
    return override.split("=", 1)[0].lstrip("+~") in EPOCH_KEYS


def without_epochs(overrides: typing.Sequence[str]) -> list[str]:
    """``overrides`` without the epoch cap, for a command that gives its own (a run with ``epochs=1`` and
    ``trainer.max_epochs=50`` after it was refused: they contradict each other)."""
    return [o for o in overrides if not sets_epochs(o)]


def rerun_overrides() -> list[str]:
    """The overrides of a command that runs this run again where it ran: :func:`task_overrides`, and in a
    job of a multirun ``-m`` with the launcher's overrides as typed (``hydra/launcher=slurm
    hydra.launcher.partition=gpu``; without them the command trained on the login node), the sweep's own
    left out (it is one run's command)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    overrides = task_overrides()
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return overrides
    hc = HydraConfig.get()
    launcher = [str(o) for o in hc.overrides.hydra if str(o).startswith(("hydra/launcher=", "hydra.launcher."))]
    return ["-m", *launcher, *one_run_overrides(overrides, Path(str(hc.runtime.output_dir)),
                                                hc.runtime.choices.get("hparams_search"))]


def one_run_overrides(overrides: typing.Sequence[str], run_dir: Path, search: Optional[str] = None,
                      sources: Optional[typing.Sequence[Any]] = None) -> list[str]:
    """The overrides of a sweep's run (in ``run_dir``) as one run's command: the sweep's own left out
    (:data:`SWEEP_ONLY`; with ``hparams_search=`` the command would start a sweep), and what its search file
    (``search``, else the one ``overrides`` chose) set outside ``hydra`` given instead, as the run had it,
    unless the overrides set the key: without them the command ran another run (the search file's
    ``trainer.max_epochs: 10`` became the default 20, and a resume of the trial with ``scheduler=cosine``
    was refused: ``T_max: 10 -> 20``). ``sources``: the config folders the search file is looked up in (a
    sweep's ``hydra.runtime.config_sources``, a user's ``--config-dir`` among them), else this run's."""
    from omegaconf import OmegaConf

    from trainlab.run.folder import CONFIG, HYDRA_CONFIG

    kept = [o for o in overrides if not o.startswith(SWEEP_ONLY)]
    search = search or next((o.split("=", 1)[1] for o in reversed(overrides) if o.startswith("hparams_search=")), None)
    run = _readable(run_dir / CONFIG)  # the run's config, as Hydra wrote it
    choices = OmegaConf.select(_readable(run_dir / HYDRA_CONFIG) or OmegaConf.create(),
                               "hydra.runtime.choices", default={})  # the run's choices of config groups
    typed = {o.split("=", 1)[0].lstrip("+~") for o in kept}
    if typed & set(EPOCH_KEYS):  # epochs=1 typed: the search file's trainer.max_epochs added contradicted it
        typed |= set(EPOCH_KEYS)
    settings = search_file_settings(search, run, choices, typed, sources)
    return [*kept, *(f"{key}={grammar_value(value)}" for key, value in settings.items())]


def search_file_settings(search: Optional[str], job: Any, choices: typing.Mapping[str, Any],
                         typed: typing.Collection[str] = (),
                         sources: Optional[typing.Sequence[Any]] = None) -> dict[str, Any]:
    """What search file ``search`` (and the search files it builds on) sets outside ``hydra``: its keys
    (``trainer.max_epochs``, ``optimized_metric``) as ``job`` (a run's or a sweep's config) has them, and the
    config groups it chooses (``override /model: cnn``) as ``choices`` has them; keys in ``typed`` (given on
    the command line) left out. ``sources``: the config folders to look the files up in."""
    from omegaconf import OmegaConf

    from trainlab.config.search_path import option_file

    settings, pending, seen = {}, [search], set()
    while pending:
        option = pending.pop()
        path = option_file("hparams_search", option, sources) if option and option not in seen else None
        if path is None:
            continue
        seen.add(option)
        body = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        for entry in body.get("defaults") or []:
            if isinstance(entry, str) and entry != "_self_":  # a search file it builds on
                pending.append(entry)
            for key, chosen in (entry.items() if isinstance(entry, dict) else ()):  # override /model: cnn
                group = str(key).removeprefix("override /")
                if group != key and not group.startswith("hydra") and "@" not in group and group not in typed:
                    settings.setdefault(group, choices.get(group, chosen))
        for key, value in leaves(body):
            if key.split(".")[0] not in ("hydra", "defaults") and key not in typed and key not in settings:
                settings[key] = _job_value(job, key, value)
    return settings


def _readable(path: Path) -> Any:
    """The YAML file at ``path``, or None where it is missing or cannot be read (cut short, not YAML):
    a command's overrides are then given without what it would have added."""
    import yaml
    from omegaconf import OmegaConf

    try:
        return OmegaConf.load(path) if path.is_file() else None
    except (OSError, yaml.YAMLError, ValueError):
        return None


def _job_value(job: Any, key: str, written: Any) -> Any:
    """``key`` as the job's saved config has it (resolved), else as the search file writes it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        value = OmegaConf.select(job, key, default=written) if job is not None else written
        # a list or mapping as plain Python: Hydra's grammar (grammar_value) failed on a ListConfig (AssertionError)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except OmegaConfBaseException:  # an interpolation that only the running job resolves (${hydra:...})
        return written
