"""What a sweep leaves in its folder and prints: trials.csv, trials.jsonl, optimization_results.yaml
(and .json), progress lines.

Per-trial facts the sweeper records as user attributes (Optuna keeps them in the study file):
``run_dir``, ``seconds`` (wall time of the job) and ``fail_reason``; the job itself records
``epochs``, ``checks``, ``final_train_loss``, ``fit_seconds``, ``pruned_at_epoch`` (and
``energy_joules`` where measured), see :class:`trainlab.search.pruning.OptunaPruning`. Trials of a
study without those (older studies, constructed ones) count one epoch per reported value
(:mod:`trainlab.search.trials` reads them).

Surplus trials (asked by one of several processes sharing a study when the others had taken the last
places, see :mod:`trainlab.search.shared`) are FAIL in Optuna but were never launched: they are not
counted as failures; trials.csv lists them with state SURPLUS. Several processes write these files
into one folder: each is written whole to a temporary file, then renamed over the old one.

Paths are stored relative to the folder that holds the record (:func:`as_stored`), so that a copied or
moved sweep folder keeps working: a trial's ``run_dir`` attribute relative to the study file's folder
(the sweep folder, unless ``hydra.sweeper.storage`` names another file), the files' run folders and
checkpoint relative to the sweep folder, and the folder's own study file as ``storage: null``. Paths
outside stay absolute; files and studies written before, with absolute paths, are still read
(:func:`run_dir_of`, :func:`sweep_storage`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from trainlab.run.durable import read_yaml, write_atomic
from trainlab.run.folder import resolve_checkpoint
from trainlab.config.errors import UserError
from trainlab.search.shared import is_copied, is_surplus, storage_file, storage_url
from trainlab.search.trials import best_reported, best_trials, epochs_run, pruned_at, whole

log = logging.getLogger(__name__)

# the files a sweep folder holds (a staged search's folder: STAGES_YAML and a folder per stage)
STUDY_FILE = "optuna.db"  # the study, unless hydra.sweeper.storage names another
STAGES_YAML = "stages.yaml"
TRIALS_CSV = "trials.csv"
TRIALS_JSONL = "trials.jsonl"
RESULTS_YAML = "optimization_results.yaml"
RESULTS_JSON = "optimization_results.json"
MULTIRUN_YAML = "multirun.yaml"  # the sweep's config, as the sweeper writes it
# what to do with a sweep file a power loss cut short (they are replaced whole: a kill leaves none so)
DAMAGED_RESULTS = "delete it: the sweep folder's optuna.db is read instead"
DAMAGED_MULTIRUN = "continue the sweep (the same command), which writes it again"
RUN_DIR = "run_dir"  # a trial's user attribute: its run folder (see as_stored)
METRIC = "metric"  # a study's user attribute: the optimized_metric its trials' values are


def as_stored(path: Any, base: Optional[Path]) -> str:
    """``path`` as a record in ``base`` stores it: relative to ``base`` when inside it, else absolute."""
    path = Path(path).absolute()
    if base is not None:
        for inner, outer in ((path, base.absolute()), (path.resolve(), base.resolve())):
            if inner.is_relative_to(outer):
                return inner.relative_to(outer).as_posix()
    return str(path)


def study_folder(storage: str) -> Optional[Path]:
    """The folder of a study file, which its trials' relative ``run_dir`` start from; None for a server."""
    found = storage_file(storage)
    return found.absolute().parent if found is not None else None


def run_dir_of(trial: FrozenTrial, base: Optional[Path]) -> Optional[Path]:
    """A trial's run folder, None when it has none. ``base``: the folder of the study file it was read
    from (:func:`study_folder`), where a relative one lies. An absolute one (a study written before
    paths were stored relative) is taken as it is, unless ``base`` holds a folder of its name and it
    lies elsewhere: the sweep folder was moved or copied (its trials' folders with it). A trial copied
    from an earlier study (warm start) keeps that study's folder."""
    stored = trial.user_attrs.get(RUN_DIR)
    if not stored:
        return None
    path = Path(stored)
    if not path.is_absolute():
        return (base or Path.cwd()) / path
    if base is not None and not is_copied(trial) and path.parent != base and (base / path.name).is_dir():
        return base / path.name
    return path


def sweep_storage(sweep_dir: Path) -> str:
    """The storage URL of a sweep folder's study: the one its optimization_results.yaml names, except
    that ``storage: null``, and an older file's URL of an optuna.db where this folder has its own (the
    folder's own study file at its place before a move or copy), mean this folder's optuna.db."""
    own = sweep_dir.absolute() / STUDY_FILE
    results = sweep_dir / RESULTS_YAML
    stored = (read_yaml(results, DAMAGED_RESULTS) or {}).get("storage") if results.is_file() else None
    written_at = storage_file(stored) if stored else None
    if stored and not (written_at is not None and written_at.name == STUDY_FILE and own.is_file()):
        return stored
    return storage_url(None, own)


def load_sweep_study(sweep_dir: Path) -> optuna.Study:
    """The study a sweep folder belongs to (from optimization_results.yaml, else its optuna.db)."""
    from trainlab.search.shared import load_existing

    results = sweep_dir / RESULTS_YAML
    if results.is_file():
        storage, name = sweep_storage(sweep_dir), read_yaml(results, DAMAGED_RESULTS)["study_name"]
    elif (sweep_dir / STUDY_FILE).is_file():  # the folder's name, or the file's one study (a renamed folder)
        storage, name = sweep_storage(sweep_dir), None
    elif not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir} is not a folder; give a sweep folder (outputs/train/multiruns/...)")
    elif (sweep_dir / STAGES_YAML).is_file():  # a staged search's folder holds one study a stage
        stages = sorted(p.name for p in sweep_dir.iterdir()
                        if (p / RESULTS_YAML).is_file() or (p / STUDY_FILE).is_file())
        raise UserError(f"{sweep_dir} is a staged search, with a study per stage: give one of its stages' folders "
                        f"({', '.join(str(sweep_dir / s) for s in stages) or 'none has started'})")
    else:
        raise UserError(f"{sweep_dir} holds no study ({RESULTS_YAML} or {STUDY_FILE}); give a sweep folder "
                        "(outputs/train/multiruns/...)")
    study = load_existing(storage, name, sweep_dir)
    meant = intended_directions(sweep_dir, study)
    if meant is None:
        return study
    log.warning("%s: %s; its trials are read toward the most here", sweep_dir, searched_the_other_way(study))
    return in_memory(study, meant)


def intended_directions(sweep_dir: Path, study: optuna.Study) -> Optional[list[str]]:
    """The directions the sweep in ``sweep_dir`` was run for, where its study has others: trainlab before
    8e46706 minimised the first of several objectives (hparams_search=optuna_two_objectives) whatever
    optimized_mode said, which its multirun.yaml keeps. None where the study follows its optimized_mode."""
    path = sweep_dir / MULTIRUN_YAML
    if len(study.directions) < 2 or not path.is_file():
        return None
    try:
        mode = (read_yaml(path, DAMAGED_MULTIRUN) or {}).get("optimized_mode")
    except UserError:  # a multirun.yaml cut short says nothing here; its readers refuse it
        return None
    found = [d.name.lower() for d in study.directions]
    if mode != "max" or found[0] != "minimize":
        return None
    return ["maximize", *found[1:]]


def searched_the_other_way(study: optuna.Study) -> str:
    """What a study of :func:`intended_directions` is."""
    metric = study.user_attrs.get(METRIC, "its first objective")
    return (f"its study was searched toward the least {metric}, though it ran with optimized_mode=max (trainlab before "
            "8e46706 minimised the first of several objectives whatever optimized_mode said)")


def in_memory(study: optuna.Study, directions: Optional[list[str]] = None) -> optuna.Study:
    """The study as it stands, in memory (``directions``: read toward these instead of its own), for
    readers that go through its trials many times: on an SQLite study of 10,000 trials each read took
    0.6 s, and ``study.trials`` (a deep copy) 7 s."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not 'A new study created in memory' in refine's output
    try:
        copy = optuna.create_study(study_name=study.study_name,
                                   directions=directions or [d.name.lower() for d in study.directions])
    finally:
        optuna.logging.set_verbosity(verbosity)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy


def checkpoint_of(run_dir: Optional[Path]) -> Optional[str]:
    """The run's best checkpoint as evaluate.py would pick it (best.txt, else last.ckpt), or None."""
    if not run_dir:
        return None
    try:
        return str(resolve_checkpoint(str(run_dir)))
    except UserError:  # the trial ended before its first checkpoint
        return None


def progress_line(study: optuna.Study, n_trials: int, trial: FrozenTrial, metric: str) -> str:
    """One line per finished trial: its fate, then the sweep's counts and the best so far."""
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials if not is_surplus(t) and not is_copied(t))
    finished = states[TrialState.COMPLETE] + states[TrialState.PRUNED]
    if trial.state == TrialState.COMPLETE:
        fate = f"complete after {epochs_run(trial)} epochs, {metric}={_values(trial)}"
    elif trial.state == TrialState.PRUNED:
        fate = f"PRUNED after {epochs_run(trial)} epochs, {metric}={_values(trial)}"
    else:
        fate = f"FAILED: {trial.user_attrs.get('fail_reason', 'unknown reason')}"
    best = best_trials(study)
    best_text = f"best {_values(best[0])} (trial {best[0].number})" if len(best) == 1 else f"{len(best)} on the front"
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    return (f"trial {trial.number} {fate} [{params}] | {finished}/{n_trials} done "
            f"({states[TrialState.PRUNED]} pruned), {states[TrialState.FAIL]} failed, {best_text if best else 'no best yet'}")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _values(trial: FrozenTrial) -> str:
    values = trial.values or []
    return ",".join(f"{v:.6g}" for v in values) if values else "-"


def write_trials_csv(study: optuna.Study, path: Path, run_dirs: dict[int, str]) -> None:
    """One row per trial: number, state, value(s), each parameter, epochs, pruned-at epoch, seconds, run
    (``run_dirs``: trial number -> its run folder as the file stores it)."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    columns = ["number", "state", "value", *names, "epochs", "pruned_at_epoch", "seconds", "run_dir", "fail_reason"]
    with io.StringIO() as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for t in trials:
            seconds = t.user_attrs.get("seconds")
            writer.writerow({
                "number": t.number, "state": state_name(t),
                "value": ";".join(repr(v) for v in t.values) if t.values else "",
                **{name: t.params.get(name, "") for name in names},
                "epochs": whole(epochs_run(t)), "pruned_at_epoch": _blank(pruned_at(t)),
                "seconds": f"{seconds:.1f}" if seconds is not None else "",
                "run_dir": run_dirs.get(t.number, ""), "fail_reason": t.user_attrs.get("fail_reason", ""),
            })
        write_atomic(path, handle.getvalue())


def _blank(value: Any) -> Any:
    return "" if value is None else value


def state_name(trial: FrozenTrial) -> str:
    return "SURPLUS" if is_surplus(trial) else "COPIED" if is_copied(trial) else trial.state.name


def trial_record(trial: FrozenTrial, minimize: bool = True, run_dir: Optional[str] = None) -> dict[str, Any]:
    """One line of trials.jsonl: the seed's per-trial JSON (trial number, hyperparameters, best
    validation loss, training time, final training loss) plus state, epochs run and pruned-at;
    ``run_dir`` as the file stores it."""
    attrs = trial.user_attrs
    return {
        "trial": trial.number, "state": state_name(trial), "params": dict(trial.params),
        "values": list(trial.values) if trial.values else None,
        "best_val_loss": best_reported(trial, minimize), "final_train_loss": attrs.get("final_train_loss"),
        "training_seconds": attrs.get("fit_seconds"), "job_seconds": attrs.get("seconds"),
        "epochs": whole(epochs_run(trial)), "checks": attrs.get("checks", len(trial.intermediate_values)),
        "pruned_at_epoch": pruned_at(trial), "energy_joules": attrs.get("energy_joules"),
        "run_dir": run_dir, "fail_reason": attrs.get("fail_reason"),
        "copied_from": attrs.get("copied_from"),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "completed": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
    }


def write_trials_jsonl(study: optuna.Study, path: Path, run_dirs: dict[int, str]) -> None:
    minimize = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    lines = [json.dumps(trial_record(t, minimize, run_dirs.get(t.number))) for t in study.get_trials(deepcopy=False)]
    write_atomic(path, "".join(line + "\n" for line in lines))


def summary(study: optuna.Study, storage: str, metric: str, sweep_dir: Path) -> dict[str, Any]:
    """optimization_results.yaml: upstream's keys (name, best_params, best_value) plus where the best run
    is (relative to ``sweep_dir``, the folder it is written to) and the study (``storage: null``: the
    folder's own optuna.db, as in ``hydra.sweeper.storage``)."""
    trials = study.get_trials(deepcopy=False)
    best = best_trials(study)
    result: dict[str, Any] = {"name": "optuna"}
    if len(study.directions) == 1:
        result["best_params"] = dict(best[0].params) if best else None
        result["best_value"] = best[0].value if best else None
    else:
        result["solutions"] = [{"params": dict(t.params), "values": list(t.values), "number": t.number} for t in best]
    top = best[0] if best else None
    top_dir = run_dir_of(top, study_folder(storage)) if top else None
    checkpoint, study_file = checkpoint_of(top_dir), storage_file(storage)
    own = study_file is not None and study_file.resolve() == (sweep_dir / STUDY_FILE).resolve()
    result.update({
        "best_trial": top.number if top else None,
        "best_run_dir": as_stored(top_dir, sweep_dir) if top_dir else None,
        "best_checkpoint": as_stored(checkpoint, sweep_dir) if checkpoint else None,
        "metric": metric,
        "direction": [d.name.lower() for d in study.directions] if len(study.directions) > 1
        else study.direction.name.lower(),
        "study_name": study.study_name,
        "storage": None if own else storage,
        # surplus: asked by one of several processes when the study was full, never launched (shared
        # studies only; the key is left out when there are none)
        "trials": trial_counts(study),
        "epochs_trained": whole(round(sum(epochs_run(t) for t in trials if not is_copied(t)), 2)),
    })
    return result


# what a study whose every finished trial was pruned needs: no trial ran to its end, so none has a value
ALL_PRUNED_FIX = ("continue the sweep with a longer warm-up (hydra.sweeper.pruner.n_warmup_steps) or more start-up "
                  "trials (hydra.sweeper.pruner.n_startup_trials), or without pruning (hydra/sweeper/pruner=nop)")


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """The study's own trials by state (lower-case names; surplus and copied ones apart), as
    optimization_results.yaml's ``trials``."""
    states = Counter(state_name(t).lower() for t in study.get_trials(deepcopy=False))
    return {state: states[state] for state in ("complete", "pruned", "fail", "running", "surplus", "copied")
            if states[state] or state not in ("surplus", "copied")}


def why_no_best(counts: dict[str, int]) -> str:
    """Why a study has no best, from its :func:`trial_counts`, and what to do: '(4 pruned); continue ...'."""
    held = ", ".join(f"{counts[s]} {name}" for s, name in (("complete", "complete with inf or nan"),
                                                          ("pruned", "pruned"), ("fail", "failed"),
                                                          ("running", "running")) if counts.get(s))
    if counts.get("running"):
        fix = ("its running trials may still complete: wait for the sweep (a killed sweep's running trials are "
               "marked failed when its command is run again)")
    elif counts.get("pruned") and not counts.get("fail"):
        fix = f"every trial was pruned before its end: {ALL_PRUNED_FIX}"
    elif counts.get("complete"):
        fix = "every complete trial diverged (lower optimizer.lr?); trials.csv lists them"
    else:
        fix = "trials.csv says why each failed (fail_reason); mend that and continue the sweep"
    return f"({held or 'no trial'}); {fix}"


def warn_running(study: optuna.Study, sweep_dir: Path) -> None:
    """Say that a sweep whose best is taken (refine, stage 2) still has trials running: the best so far
    may be beaten by one of them."""
    running = trial_counts(study)["running"]
    if running:
        log.warning("%s: %d trial(s) still running (the sweep goes on, or was killed): the best so far is taken; "
                    "wait for the sweep to end for its final best", sweep_dir, running)


def results_line(result: dict[str, Any], sweep_dir: Path) -> str:
    """The sweep's closing line, from its :func:`summary`: the best, the size of the Pareto front of a
    study with several objectives, or that no trial completed."""
    if result.get("solutions"):
        names = ", ".join(result["metric"] if name == "objective" else name
                          for name in result.get("objectives") or [result["metric"]])
        return (f"results in {sweep_dir}: {len(result['solutions'])} trial(s) on the Pareto front of "
                f"({names}), no single best; make analyze SWEEP={sweep_dir} lists them")
    if result.get("best_trial") is None:
        if "trials" not in result:
            return f"results in {sweep_dir}: no trial completed, so there is no best; trials.csv says how each ended"
        return f"results in {sweep_dir}: no trial completed, so there is no best {why_no_best(result['trials'])}"
    # as the progress lines write them (a raw float and a Python dict before); exact in optimization_results.yaml
    params = " ".join(f"{key}={_short(value)}" for key, value in (result.get("best_params") or {}).items())
    value = result["best_value"]
    return (f"results in {sweep_dir}: best {result['metric']} {f'{value:.6g}' if isinstance(value, float) else value} "
            f"(trial {result['best_trial']}) with {params or 'no searched parameter'}")


def no_best(result: dict[str, Any]) -> bool:
    """Whether a sweep ended, by its :func:`summary`, with nothing to take (no best, an empty front) and no
    trial still running elsewhere that could give one: its closing line is then an error and exits 1."""
    return (result.get("best_trial") is None and not result.get("solutions")
            and not (result.get("trials") or {}).get("running"))


def next_steps(result: dict[str, Any], sweep_dir: Path) -> Optional[str]:
    """What to do with a sweep that has a best (or a Pareto front): read its analysis, retrain its best longer.
    None where no trial completed (:func:`results_line` said what to do then). A staged search closes with
    its own line (:func:`trainlab.search.stages.run_stages`)."""
    import shlex

    if result.get("best_trial") is None and not result.get("solutions"):
        return None
    sweep = shlex.quote(str(sweep_dir))
    if result.get("solutions"):  # a Pareto front: no importances, no single best (make analyze says so)
        first = (result.get("objectives") or ["objective"])[0]
        first = result.get("metric", first) if first == "objective" else first
        return (f"next: make analyze SWEEP={sweep} (the Pareto front; analysis.txt), make refine SWEEP={sweep} "
                f"EPOCHS=50 (one trial of the front trained longer: the one hydra.sweeper.pick names, else the best "
                f"{first})")
    return (f"next: make analyze SWEEP={sweep} (importances, what to change in the search; analysis.txt), "
            f"make refine SWEEP={sweep} EPOCHS=50 (the best configuration trained longer)")


def write_results(study: optuna.Study, sweep_dir: Path, storage: str, metric: str,
                  objectives: Optional[list[str]] = None) -> dict[str, Any]:
    """Write trials.csv, trials.jsonl and optimization_results.yaml / .json into ``sweep_dir``;
    return the summary."""
    base = study_folder(storage)
    run_dirs = {t.number: as_stored(found, sweep_dir) for t in study.get_trials(deepcopy=False)
                if (found := run_dir_of(t, base)) is not None}
    write_trials_csv(study, sweep_dir / TRIALS_CSV, run_dirs)
    write_trials_jsonl(study, sweep_dir / TRIALS_JSONL, run_dirs)
    result = summary(study, storage, metric, sweep_dir)
    if objectives and len(objectives) > 1:
        result["objectives"] = list(objectives)
    write_atomic(sweep_dir / RESULTS_YAML, OmegaConf.to_yaml(OmegaConf.create(result)))
    write_atomic(sweep_dir / RESULTS_JSON, json.dumps(result, indent=2) + "\n")
    return result
