"""Warm starts: configurations run first, and a new study that starts from an earlier one's trials.

- ``hydra.sweeper.enqueue``: a list of configurations (parameter -> value; the parameters left out are
  sampled), handed to ``study.enqueue_trial``. The next trials the sweep asks are these, in order; they
  are ordinary trials and count towards ``n_trials``. ``skip_if_exists``: a continued study (or each
  process of a shared one) does not enqueue a configuration the study already has.
- ``hydra.sweeper.warm_start=<earlier sweep folder>``: the earlier study's finished trials (COMPLETE and
  PRUNED, with their reported values) are copied into this study once, when it is new, with
  ``study.add_trials``. The sampler sees them like its own (TPE's model of good and bad regions starts
  from them); they carry the user attribute ``copied_from`` and count neither towards ``n_trials`` nor
  in the sweep's progress. The two studies must search the same space: a parameter whose range differs
  is refused, since the copied values would say nothing about the new range.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from trainlab.config.errors import UserError
from trainlab.search.sweep_folder import (METRIC, RUN_DIR, load_sweep_study, run_dir_of, said_of, study_folder,
                                          sweep_storage)
from trainlab.search.shared import COPIED, is_copied, is_surplus
from trainlab.search.space import in_words

log = logging.getLogger(__name__)

WARM_STARTED = "warm_started_from"  # study user attribute: the folder its copied trials came from


def enqueue(study: optuna.Study, configurations: list[dict[str, Any]]) -> int:
    """Enqueue each configuration the study does not have yet; how many were added."""
    waiting_before = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    for params in configurations:
        study.enqueue_trial(params, skip_if_exists=True)
    added = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))) - waiting_before
    if added:
        log.info("%d configuration(s) from hydra.sweeper.enqueue run first", added)
    return added


def copyable(earlier: FrozenTrial) -> bool:
    return earlier.state in (TrialState.COMPLETE, TrialState.PRUNED) and not is_surplus(earlier)


def space_difference(trials: list[FrozenTrial], space: Mapping[str, BaseDistribution],
                     added: bool = False) -> Optional[str]:
    """How ``space`` differs from the one ``trials`` were drawn from ("there"), or None; ``added``:
    a parameter searched only here is a difference too."""
    seen: set[str] = set()
    for trial in trials:
        for name, dist in trial.distributions.items():
            seen.add(name)
            if name not in space:
                return f"{name} was searched there and is not here (fixed on the command line, or another model's?)"
            if space[name] != dist:
                return f"{name} was searched over {in_words(dist)} there and is {in_words(space[name])} here"
    new = [name for name in space if name not in seen]
    if added and trials and new:
        return f"{', '.join(new)} is searched here and was not there"
    return None


def check_same_space(trials: list[FrozenTrial], space: Mapping[str, BaseDistribution], source: Any) -> None:
    difference = space_difference(trials, space)
    if difference:
        raise UserError(f"hydra.sweeper.warm_start={source}: {difference}; warm starts need the same space: search "
                        "the same parameters over the same ranges, or start without hydra.sweeper.warm_start")


def earlier_trials(source: Path, space: Mapping[str, BaseDistribution], directions: list[str],
                   metric: Optional[str] = None, typed: Any = None) -> tuple[str, list[FrozenTrial]]:
    """The earlier study's name and its finished trials, checked against this study's space,
    directions (``minimize`` / ``maximize``) and metric (where both studies keep theirs): called when
    the sweep is planned, before anything is written, and again when the trials are copied. ``typed``: the
    folder as the user gave it, which a refusal names (default: ``source``)."""
    shown = source if typed is None else typed
    try:
        earlier = load_sweep_study(source)
    except UserError as exc:
        raise said_of("hydra.sweeper.warm_start", shown, source, exc) from None
    there = [d.name.lower() for d in earlier.directions]
    if there != list(directions):
        raise UserError(f"hydra.sweeper.warm_start={shown}: its study has directions {there}, this one "
                        f"{list(directions)}; warm start from a study with the same objectives")
    there_metric = earlier.user_attrs.get(METRIC)
    if metric is not None and there_metric is not None and there_metric != metric:
        raise UserError(f"hydra.sweeper.warm_start={shown}: its trials' values are {there_metric}, this sweep ranks "
                        f"by {metric}; warm start from a sweep of the same optimized_metric")
    trials = [t for t in earlier.get_trials(deepcopy=False) if copyable(t)]
    if not trials:  # the new study started from nothing, with a log line saying 0 were copied
        states = Counter(t.state.name.lower() for t in earlier.get_trials(deepcopy=False) if not is_surplus(t))
        held = ", ".join(f"{n} {state}" for state, n in states.items()) or "no trial at all"
        raise UserError(f"hydra.sweeper.warm_start={shown}: its study has no finished trial (complete or pruned) to "
                        f"start from ({held}); continue that sweep first, or leave out warm_start")
    check_same_space(trials, space, shown)
    return earlier.study_name, trials


def copy_trials(study: optuna.Study, source: Path, space: Mapping[str, BaseDistribution]) -> int:
    """Copy ``source``'s finished trials into ``study`` unless it was warm-started already; how many."""
    if study.user_attrs.get(WARM_STARTED) or any(is_copied(t) for t in study.get_trials(deepcopy=False)):
        return 0
    directions = [d.name.lower() for d in study.directions]
    name, trials = earlier_trials(source, space, directions, study.user_attrs.get(METRIC))
    base = study_folder(sweep_storage(source))

    def attrs(t: FrozenTrial) -> dict[str, Any]:
        """Its attributes, its run folder absolute: it lies in the earlier sweep's folder, not this one."""
        run_dir = run_dir_of(t, base, source)
        return {**{k: v for k, v in t.user_attrs.items() if k != "sweeper"}, COPIED: f"{name}#{t.number}",
                **({RUN_DIR: str(run_dir)} if run_dir else {})}

    copies = [create_trial(state=t.state, params=t.params, distributions=t.distributions,
                           values=t.values if t.state == TrialState.COMPLETE else None,
                           intermediate_values=t.intermediate_values, user_attrs=attrs(t))
              for t in trials]
    study.add_trials(copies)
    study.set_user_attr(WARM_STARTED, str(source))
    log.info("warm start: %d finished trials copied from %s (they do not count towards n_trials)",
             len(copies), source)
    return len(copies)
