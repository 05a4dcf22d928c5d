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

The folder's layout, and where a record's paths start from: :mod:`trainlab.search.sweep_folder`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from trainlab.run.durable import write_atomic
from trainlab.run.folder import RunFolder
from trainlab.search.shared import is_copied, is_surplus, storage_file
from trainlab.search.sweep_folder import (RESULTS_JSON, RESULTS_YAML, STUDY_FILE, TRIALS_CSV, TRIALS_JSONL, as_stored,
                                          checkpoint_of, run_dir_of, study_folder)
from trainlab.search.trials import best_reported, best_trials, epochs_run, pruned_at, whole

log = logging.getLogger(__name__)


def progress_line(study: optuna.Study, n_trials: int, trial: FrozenTrial, names: str | Sequence[str]) -> str:
    """One line per finished trial: its fate, then the sweep's counts and the best so far (``names``: the
    objectives', :func:`objective_names`; a study of several has a front, never one best)."""
    names = [names] if isinstance(names, str) else list(names)
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials if not is_surplus(t) and not is_copied(t))
    finished = states[TrialState.COMPLETE] + states[TrialState.PRUNED]
    if trial.state == TrialState.COMPLETE:
        fate = f"complete after {epochs_run(trial)} epochs, {_named(trial, names)}"
    elif trial.state == TrialState.PRUNED:
        fate = f"PRUNED after {epochs_run(trial)} epochs, {_named(trial, names)}"
    else:
        fate = f"FAILED: {trial.user_attrs.get('fail_reason', 'unknown reason')}"
    best = best_trials(study)
    best_text = "no best yet" if not best else f"{len(best)} on the front" if len(study.directions) > 1 else \
        f"best {_values(best[0])} (trial {best[0].number})"
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    return (f"trial {trial.number} {fate} [{params}] | {finished}/{n_trials} done ({states[TrialState.PRUNED]} "
            f"pruned), {states[TrialState.FAIL]} failed, {best_text}")


def _named(trial: FrozenTrial, names: Sequence[str]) -> str:
    """``val/loss=0.5`` or, for several objectives, ``val/loss=0.5, fit_seconds=40``."""
    values = trial.values or []
    if len(names) != len(values) or len(names) == 1:
        return f"{names[0]}={_values(trial)}"
    return ", ".join(f"{name}={value:.6g}" for name, value in zip(names, values))


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
    top_dir = run_dir_of(top, study_folder(storage), sweep_dir) if top else None
    checkpoint, study_file = checkpoint_of(top_dir), storage_file(storage)
    known, kept_by = RunFolder(top_dir).checkpoint_kept_by() if checkpoint else (False, None)
    own = study_file is not None and study_file.resolve() == (sweep_dir / STUDY_FILE).resolve()
    result.update({
        "best_trial": top.number if top else None,
        "best_run_dir": as_stored(top_dir, sweep_dir) if top_dir else None,
        "best_checkpoint": as_stored(checkpoint, sweep_dir) if checkpoint else None,
        # where the trials' checkpoints are kept by another metric (best_value is then the trial's metric at its
        # last epoch, not the checkpoint's score): by which, or "last epoch" (no checkpoint callback watches one)
        **({"best_checkpoint_kept_by": kept_by or "last epoch"} if known and kept_by != metric else {}),
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


def no_best_line(where: str, counts: dict[str, int]) -> str:
    """The one verdict on a study without a best, in the sweep's closing line and in refine, analyze and stage 2
    (``where``: the sweep folder, or ``results in <folder>``): '<where>: no trial completed, so there is no best (3
    pruned); <what to do>'; ``yet`` while trials run, ``with a finite value`` where complete ones diverged."""
    finite = " with a finite value" if counts.get("complete") else ""
    yet = " yet" if counts.get("running") else ""
    return f"{where}: no trial completed{finite}{yet}, so there is no best {why_no_best(counts)}"


def warn_running(study: optuna.Study, sweep_dir: Path) -> None:
    """Say that a sweep whose best is taken (refine, stage 2) still has trials running: the best so far
    may be beaten by one of them."""
    running = trial_counts(study)["running"]
    if running:
        log.warning("%s: %d trial(s) still running (the sweep goes on, or was killed): the best so far is taken; "
                    "wait for the sweep to end for its final best", sweep_dir, running)


def objective_names(result: Mapping[str, Any]) -> list[str]:
    """The names of a sweep's objectives, from its :func:`summary` (optimization_results.yaml): the trials' own
    value under its metric's name (``val/loss``, stored as ``objective``), then the facts searched beside it."""
    metric = result.get("metric") or "objective"
    return [metric if name == "objective" else str(name) for name in result.get("objectives") or [metric]]


def results_line(result: dict[str, Any], sweep_dir: Path) -> str:
    """The sweep's closing line, from its :func:`summary`: the best, the size of the Pareto front of a
    study with several objectives, or that no trial completed."""
    if result.get("solutions"):
        names = ", ".join(objective_names(result))
        return (f"results in {sweep_dir}: {len(result['solutions'])} trial(s) on the Pareto front of "
                f"({names}), no single best; make analyze SWEEP={sweep_dir} lists them")
    if result.get("best_trial") is None:
        if "trials" not in result:
            return f"results in {sweep_dir}: no trial completed, so there is no best; trials.csv says how each ended"
        return no_best_line(f"results in {sweep_dir}", result["trials"])
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
        first = objective_names(result)[0]
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
                if (found := run_dir_of(t, base, sweep_dir)) is not None}
    write_trials_csv(study, sweep_dir / TRIALS_CSV, run_dirs)
    write_trials_jsonl(study, sweep_dir / TRIALS_JSONL, run_dirs)
    result = summary(study, storage, metric, sweep_dir)
    if objectives and len(objectives) > 1:
        result["objectives"] = list(objectives)
    write_atomic(sweep_dir / RESULTS_YAML, OmegaConf.to_yaml(OmegaConf.create(result)))
    write_atomic(sweep_dir / RESULTS_JSON, json.dumps(result, indent=2) + "\n")
    return result
