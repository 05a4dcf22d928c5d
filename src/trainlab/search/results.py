"""What a sweep leaves in its folder and prints: trials.csv, optimization_results.yaml, progress lines.

Per-trial facts the sweeper records as user attributes (Optuna keeps them in the study file):
``run_dir``, ``seconds`` (wall time of the job) and ``fail_reason``. Epochs come from the values the
job reported: one per validation epoch, keyed by the 0-based epoch.

Surplus trials (asked by one of several processes sharing a study when the others had taken the last
places, see :mod:`trainlab.search.shared`) are FAIL in Optuna but were never launched: they are not
counted as failures; trials.csv lists them with state SURPLUS. Several processes write these files
into one folder: each is written whole to a temporary file, then renamed over the old one.
"""

from __future__ import annotations

import csv
import io
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
from trainlab.search.shared import is_surplus

TRIALS_CSV = "trials.csv"
RESULTS_YAML = "optimization_results.yaml"


def epochs_run(trial: FrozenTrial) -> int:
    return len(trial.intermediate_values)


def pruned_at(trial: FrozenTrial) -> Optional[int]:
    """The 0-based epoch after which the pruner stopped the trial (as in checkpoint names)."""
    return trial.last_step if trial.state == TrialState.PRUNED else None


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial, or the Pareto front when the study has several objectives (empty before any)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return []
    return [study.best_trial] if len(study.directions) == 1 else list(study.best_trials)


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
    states = Counter(t.state for t in trials if not is_surplus(t))
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
                "number": t.number, "state": "SURPLUS" if is_surplus(t) else t.state.name,
                "value": ";".join(repr(v) for v in t.values) if t.values else "",
                **{name: t.params.get(name, "") for name in names},
                "epochs": epochs_run(t), "pruned_at_epoch": _blank(pruned_at(t)),
                "seconds": f"{seconds:.1f}" if seconds is not None else "",
                "run_dir": t.user_attrs.get("run_dir", ""), "fail_reason": t.user_attrs.get("fail_reason", ""),
            })
        write_atomic(path, handle.getvalue())


def _blank(value: Any) -> Any:
    return "" if value is None else value


def summary(study: optuna.Study, storage: str, metric: str) -> dict[str, Any]:
    """optimization_results.yaml: upstream's keys (name, best_params, best_value) plus where the best run is."""
    trials = study.get_trials(deepcopy=False)
    states = Counter("surplus" if is_surplus(t) else t.state.name.lower() for t in trials)
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
        "trials": {state: states[state] for state in ("complete", "pruned", "fail", "running", "surplus")
                   if states[state] or state != "surplus"},
        "epochs_trained": sum(epochs_run(t) for t in trials),
    })
    return result


def write_results(study: optuna.Study, sweep_dir: Path, storage: str, metric: str) -> dict[str, Any]:
    """Write trials.csv and optimization_results.yaml into ``sweep_dir``; return the summary."""
    write_trials_csv(study, sweep_dir / TRIALS_CSV)
    result = summary(study, storage, metric)
    write_atomic(sweep_dir / RESULTS_YAML, OmegaConf.to_yaml(OmegaConf.create(result)))
    return result
