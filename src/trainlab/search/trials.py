"""What a sweep's trials say, read the same way by the results files, the analysis, refine and the
stages: epochs a trial trained, the epoch it was pruned in, its best report; which trials count (run
in this study, finite values) and which is best (the Pareto front with several objectives).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainlab.search.shared import is_copied


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


def finite(trial: FrozenTrial) -> bool:
    """Whether every value of a complete trial is a number (not inf or nan: a diverged run)."""
    return all(math.isfinite(v) for v in trial.values or ())


def own_complete(study: optuna.Study) -> list[FrozenTrial]:
    """The complete trials run in this study (a warm start's copies are the earlier study's) with
    finite values (:func:`finite`: a maximised inf was taken as the best, and refine retrained it)."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not is_copied(t) and finite(t)]


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial run in this study, or its Pareto front when it has several objectives (empty
    before any), of :func:`own_complete`."""
    done = own_complete(study)
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
