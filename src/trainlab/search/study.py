"""Opening a sweep's study: create it, or continue it when it still fits the plan.

A continued study keeps what its first sweep gave it: the name it was created with (a renamed or
copied sweep folder keeps its study's), its directions, the metric its values are (the study's
``metric`` user attribute) and its search space. Each difference is refused with the way on: continue as
before, or start a new study. Trials of this host's sweeps that were killed are told FAIL here
(:func:`trainlab.search.shared.close_orphans`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import optuna
import sqlalchemy
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from trainlab.config.errors import UserError
from trainlab.search.plan import SweepPlan
from trainlab.search.sweep_folder import METRIC, STUDY_FILE, intended_directions, searched_the_other_way
from trainlab.search.shared import close_orphans, create_or_load, is_copied, is_surplus, storage_url

log = logging.getLogger(__name__)

FIXED = "fixed"  # a study's user attribute: the settings its trials share, key -> value as typed
SEARCH_FILE = "search_file"  # a study's user attribute: what its search file set outside hydra, key -> value
# settings that change where a trial writes or how fast it runs, not what it learns: not compared
_UNRANKED = ("hydra.", "paths.", "logger", "callbacks", "trainer.enable_", "hardware.num_threads", "hardware.num_workers",
             "hardware.devices")


def open_study(plan: SweepPlan) -> optuna.Study:
    """Create the plan's study or continue it; its sampler and pruner are set by the caller."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress lines say what matters
    own_file = plan.sweep_dir / STUDY_FILE
    if plan.storage == storage_url(None, own_file) and own_file.is_file():
        try:
            others = optuna.get_all_study_names(storage=plan.storage)
        except sqlalchemy.exc.SQLAlchemyError:  # a new file whose tables another process is creating now
            others = []
        if others and plan.study_name not in others:
            # the folder was renamed or copied: its study keeps the name it was created with
            raise UserError(f"{own_file} holds the study {others[0]}, not {plan.study_name} (the folder's name: was "
                            f"it renamed or copied?); continue it with hydra.sweeper.study_name={others[0]}, or give "
                            "another hydra.sweep.dir for a new study")
    try:
        study = create_or_load(plan.storage, plan.study_name, plan.directions)
    except (ValueError, ImportError) as exc:
        hint = ("; for psycopg2 (pip install psycopg2-binary) write postgresql+psycopg2://..."
                if isinstance(exc, ImportError) and plan.storage.startswith("postgresql:") else "")
        raise UserError(f"hydra.sweeper.storage={plan.storage}: cannot open the study: {exc}{hint}") from None
    # a new study in the sweep folder's own file would share the folder's trial folders (0, 1, ...)
    new_study = ("give another hydra.sweep.dir for a new study" if plan.storage == storage_url(None, own_file)
                 else "use another hydra.sweeper.study_name for a new study")
    found = [d.name.lower() for d in study.directions]
    if found != plan.directions and intended_directions(plan.sweep_dir, study) == plan.directions:
        raise UserError(f"{plan.sweep_dir}: {searched_the_other_way(study)}, and a study keeps its directions; to search "
                        f"on toward the most, warm start a new sweep from it: hydra.sweeper.warm_start={plan.sweep_dir} "
                        "with another hydra.sweep.dir")
    if found != plan.directions:
        raise UserError(f"study {plan.study_name} in {plan.storage} has direction {found}, not {plan.directions}; "
                        f"continue it with its direction (optimized_mode as before), or {new_study}")
    metric = study.user_attrs.get(METRIC)
    if metric is not None and metric != plan.metric:
        raise UserError(f"study {plan.study_name} in {plan.storage} ranks its trials by {metric}, not {plan.metric}: "
                        f"their values would be compared with each other; continue it with optimized_metric={metric}, "
                        f"or {new_study}")
    if metric is None and study.trials == []:  # a study of an earlier version keeps no name: not guessed
        study.set_user_attr(METRIC, plan.metric)
    if plan.custom is None:  # a custom function draws further parameters of its own, trial by trial
        from trainlab.search.warmstart import space_difference

        earlier = [t for t in study.get_trials(deepcopy=False)  # enqueued ones have no distributions yet
                   if t.distributions and not is_copied(t) and not is_surplus(t)]
        # another process's RUNNING trial may be drawing its parameters one by one right now (and a killed
        # one may have stopped half-way): only trials that ran tell which parameters the space had
        ran = [t for t in earlier if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        difference = space_difference(earlier, plan.space) or space_difference(ran, plan.space, added=True)
        if difference:
            raise UserError(f"study {plan.study_name} in {plan.storage} has {len(earlier)} trial(s) already, and "
                            f"{difference}; a continued study keeps its space: {new_study}, or search as before")
    compare_fixed(study, plan)
    close_orphans(study)  # trials of this host's sweeps that were killed
    return study


def compare_fixed(study: optuna.Study, plan: SweepPlan) -> None:
    """The settings fixed for every trial (``trainer.max_epochs=1``, ``model.net.hidden_size=8``), kept with a new
    study and compared when it is continued: a continued sweep with other ones mixed trials of, say, 1 and 10 epochs in
    one ranking, TPE's model and the best, without a word. Said in a warning, since a setting may not change what is
    learnt (those of :data:`_UNRANKED` are not compared)."""
    fixed = {key: value for key, _, value in (o.lstrip("+~").partition("=") for o in plan.fixed)
             if not key.startswith(_UNRANKED)}
    changed = []
    # the search file's own settings too: one edited between runs (trainer.max_epochs: 10 -> 3) was not compared
    for attr, now in ((FIXED, fixed), (SEARCH_FILE, {k: v for k, v in plan.search_file.items()
                                                     if not k.startswith(_UNRANKED)})):
        earlier = study.user_attrs.get(attr)
        if earlier is None:  # a study of an earlier version keeps none: not guessed
            if not study.trials:
                study.set_user_attr(attr, now)
            continue
        changed += [f"{key}: {earlier.get(key, '(not set)')} -> {now.get(key, '(not set)')}"
                    for key in sorted(set(earlier) | set(now)) if earlier.get(key) != now.get(key)]
    if changed:
        log.warning("study %s is continued with other fixed settings than its earlier trials had (%s): all are ranked "
                    "as one study, and its best may come from either; if the change alters what a trial learns, give "
                    "another hydra.sweep.dir for a new study", plan.study_name, "; ".join(changed))


def search_file_fixed(config: DictConfig, fixed: Sequence[str]) -> dict[str, str]:
    """What the sweep's search file sets outside hydra (``trainer.max_epochs: 10``), as the sweep resolves it."""
    from trainlab.config.rerun import search_file_settings
    from trainlab.config.spelling import grammar_value

    runtime = OmegaConf.select(config, "hydra.runtime", default=None)
    if runtime is None or not runtime.get("choices", {}).get("hparams_search"):
        return {}
    typed = {f.split("=", 1)[0].lstrip("+~") for f in fixed}
    search, sources = runtime.choices.hparams_search, runtime.get("config_sources")
    found = search_file_settings(search, config, runtime.choices, typed, sources)
    written = search_file_settings(search, None, runtime.choices, typed, sources)
    # hparams_search comes before model in train.yaml's defaults: a model key the model's file sets again
    # (model.net.dropout) took its value in every trial, the search file's unread and unsaid. (An experiment or
    # debug mode that sets optimized_metric or trainer.max_epochs again is read after it on purpose: not said.)
    for key, value in found.items():
        was = written.get(key)
        if key.startswith("model.") and not (isinstance(was, str) and "${" in was) and was != value:
            log.warning("hparams_search=%s sets %s: %s, but the model's config (model=%s), read after the search "
                        "file, sets it again, so every trial runs with %s; to run the trials with %s, give %s=%s on "
                        "the command line, or search it (hydra.sweeper.params)", search, key, grammar_value(was),
                        runtime.choices.get("model"), grammar_value(value), grammar_value(was), key,
                        grammar_value(was))
    return {key: grammar_value(value) for key, value in found.items()}
