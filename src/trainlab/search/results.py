"""What a sweep leaves in its folder and prints: trials.csv, trials.jsonl, optimization_results.yaml
(and .json), progress lines.

Per-trial facts the sweeper records as user attributes (Optuna keeps them in the study file):
``run_dir``, ``seconds`` (wall time of the job) and ``fail_reason``; the job itself records
``epochs``, ``checks``, ``final_train_loss``, ``fit_seconds``, ``pruned_at_epoch`` (and
``energy_joules`` where measured), see :class:`trainlab.search.pruning.OptunaPruning`. Trials of a
study without those (older studies, constructed ones) count one epoch per reported value.

Surplus trials (asked by one of several processes sharing a study when the others had taken the last
places, see :mod:`trainlab.search.shared`) are FAIL in Optuna but were never launched: they are not
counted as failures; trials.csv lists them with state SURPLUS. Several processes write these files
into one folder: each is written whole to a temporary file, then renamed over the old one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from trainlab.run.folder import resolve_checkpoint
from trainlab.config.errors import UserError
from trainlab.search.shared import is_copied, is_surplus

# the files a sweep folder holds (a staged search's folder: STAGES_YAML and a folder per stage)
STUDY_FILE = "optuna.db"  # the study, unless hydra.sweeper.storage names another
STAGES_YAML = "stages.yaml"
TRIALS_CSV = "trials.csv"
TRIALS_JSONL = "trials.jsonl"
RESULTS_YAML = "optimization_results.yaml"
RESULTS_JSON = "optimization_results.json"


def epochs_run(trial: FrozenTrial) -> float:
    """Epochs the trial trained (fractional when a pruner stopped it between checks of an epoch)."""
    epochs = trial.user_attrs.get("epochs")
    return whole(epochs) if epochs is not None else len(trial.intermediate_values)


def pruned_at(trial: FrozenTrial) -> Optional[int]:
    """The 0-based epoch in which the pruner stopped the trial (as in checkpoint names)."""
    if trial.state != TrialState.PRUNED:
        return None
    return trial.user_attrs.get("pruned_at_epoch", trial.last_step)


def best_reported(trial: FrozenTrial, minimize: bool = True) -> Optional[float]:
    """The best value the trial reported at any check (its best validation loss), else its value."""
    reported = list(trial.intermediate_values.values())
    if reported:
        return min(reported) if minimize else max(reported)
    return trial.value if trial.values and len(trial.values) == 1 else None


def whole(value: Any) -> Any:
    """Whole floats as ints (4.0 -> 4), so that files read as the counts they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def load_sweep_study(sweep_dir: Path) -> optuna.Study:
    """The study a sweep folder belongs to (from optimization_results.yaml, else its optuna.db)."""
    import yaml

    from trainlab.search.shared import open_storage

    results = sweep_dir / RESULTS_YAML
    if results.is_file():
        info = yaml.safe_load(results.read_text())
        storage, name = info["storage"], info["study_name"]
    elif (sweep_dir / STUDY_FILE).is_file():
        storage, name = f"sqlite:///{sweep_dir.resolve() / STUDY_FILE}", sweep_dir.name
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
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial run in this study, or its Pareto front when it has several objectives (empty
    before any). Trials copied from an earlier study (warm start) are left out: they are that study's."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if not is_copied(t)]
    if not done:
        return []
    signs = [1 if d == optuna.study.StudyDirection.MINIMIZE else -1 for d in study.directions]
    if len(signs) == 1:
        return [min(done, key=lambda t: signs[0] * t.value)]
    return pareto_front(done, signs)


def pareto_front(trials: list[FrozenTrial], signs: list[int]) -> list[FrozenTrial]:
    """Trials no other trial beats in every objective (``signs``: 1 minimise, -1 maximise)."""
    scored = [(t, [s * v for s, v in zip(signs, t.values)]) for t in trials]

    def dominated(a: list[float]) -> bool:
        return any(all(x <= y for x, y in zip(b, a)) and b != a for _, b in scored)

    return sorted((t for t, a in scored if not dominated(a)), key=lambda t: t.values)


def checkpoint_of(run_dir: Optional[str]) -> Optional[str]:
    """The run's best checkpoint as evaluate.py would pick it (best.txt, else last.ckpt), or None."""
    if not run_dir:
        return None
    try:
        return str(resolve_checkpoint(run_dir))
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


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a reader (or another sweep process) never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
    try:
        with temporary.open("w", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_trials_csv(study: optuna.Study, path: Path) -> None:
    """One row per trial: number, state, value(s), each parameter, epochs, pruned-at epoch, seconds, run."""
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
                "run_dir": t.user_attrs.get("run_dir", ""), "fail_reason": t.user_attrs.get("fail_reason", ""),
            })
        write_atomic(path, handle.getvalue())


def _blank(value: Any) -> Any:
    return "" if value is None else value


def state_name(trial: FrozenTrial) -> str:
    return "SURPLUS" if is_surplus(trial) else "COPIED" if is_copied(trial) else trial.state.name


def trial_record(trial: FrozenTrial, minimize: bool = True) -> dict[str, Any]:
    """One line of trials.jsonl: the seed's per-trial JSON (trial number, hyperparameters, best
    validation loss, training time, final training loss) plus state, epochs run and pruned-at."""
    attrs = trial.user_attrs
    return {
        "trial": trial.number, "state": state_name(trial), "params": dict(trial.params),
        "values": list(trial.values) if trial.values else None,
        "best_val_loss": best_reported(trial, minimize), "final_train_loss": attrs.get("final_train_loss"),
        "training_seconds": attrs.get("fit_seconds"), "job_seconds": attrs.get("seconds"),
        "epochs": whole(epochs_run(trial)), "checks": attrs.get("checks", len(trial.intermediate_values)),
        "pruned_at_epoch": pruned_at(trial), "energy_joules": attrs.get("energy_joules"),
        "run_dir": attrs.get("run_dir"), "fail_reason": attrs.get("fail_reason"),
        "copied_from": attrs.get("copied_from"),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "completed": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
    }


def write_trials_jsonl(study: optuna.Study, path: Path) -> None:
    minimize = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    lines = [json.dumps(trial_record(t, minimize)) for t in study.get_trials(deepcopy=False)]
    write_atomic(path, "".join(line + "\n" for line in lines))


def summary(study: optuna.Study, storage: str, metric: str) -> dict[str, Any]:
    """optimization_results.yaml: upstream's keys (name, best_params, best_value) plus where the best run is."""
    trials = study.get_trials(deepcopy=False)
    states = Counter(state_name(t).lower() for t in trials)
    best = best_trials(study)
    result: dict[str, Any] = {"name": "optuna"}
    if len(study.directions) == 1:
        result["best_params"] = dict(best[0].params) if best else None
        result["best_value"] = best[0].value if best else None
    else:
        result["solutions"] = [{"params": dict(t.params), "values": list(t.values), "number": t.number} for t in best]
    top = best[0] if best else None
    result.update({
        "best_trial": top.number if top else None,
        "best_run_dir": top.user_attrs.get("run_dir") if top else None,
        "best_checkpoint": checkpoint_of(top.user_attrs.get("run_dir")) if top else None,
        "metric": metric,
        "direction": [d.name.lower() for d in study.directions] if len(study.directions) > 1
        else study.direction.name.lower(),
        "study_name": study.study_name,
        "storage": storage,
        # surplus: asked by one of several processes when the study was full, never launched (shared
        # studies only; the key is left out when there are none)
        "trials": {state: states[state] for state in ("complete", "pruned", "fail", "running", "surplus", "copied")
                   if states[state] or state not in ("surplus", "copied")},
        "epochs_trained": whole(round(sum(epochs_run(t) for t in trials if not is_copied(t)), 2)),
    })
    return result


def results_line(result: dict[str, Any], sweep_dir: Path) -> str:
    """The sweep's closing line, from its :func:`summary`: the best, the size of the Pareto front of a
    study with several objectives, or that no trial completed."""
    if result.get("solutions"):
        names = ", ".join(result["metric"] if name == "objective" else name
                          for name in result.get("objectives") or [result["metric"]])
        return (f"results in {sweep_dir}: {len(result['solutions'])} trial(s) on the Pareto front of "
                f"({names}), no single best; make analyze SWEEP={sweep_dir} lists them")
    if result.get("best_trial") is None:
        return f"results in {sweep_dir}: no trial completed, so there is no best; trials.csv says how each ended"
    return f"results in {sweep_dir}: best {result['metric']} {result['best_value']} with {result['best_params']}"


def write_results(study: optuna.Study, sweep_dir: Path, storage: str, metric: str,
                  objectives: Optional[list[str]] = None) -> dict[str, Any]:
    """Write trials.csv, trials.jsonl and optimization_results.yaml / .json into ``sweep_dir``;
    return the summary."""
    write_trials_csv(study, sweep_dir / TRIALS_CSV)
    write_trials_jsonl(study, sweep_dir / TRIALS_JSONL)
    result = summary(study, storage, metric)
    if objectives and len(objectives) > 1:
        result["objectives"] = list(objectives)
    write_atomic(sweep_dir / RESULTS_YAML, OmegaConf.to_yaml(OmegaConf.create(result)))
    write_atomic(sweep_dir / RESULTS_JSON, json.dumps(result, indent=2) + "\n")
    return result
