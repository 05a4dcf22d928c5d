"""Which searched parameters matter: fANOVA importances over a study's own complete trials, and the
gate before them (enough trials a parameter, some variation to explain). The recommendations
(:mod:`trainlab.search.advice`), the analysis and ``make stage2`` (top-k by importance) read these.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Optional

import optuna
from optuna.trial import FrozenTrial

from trainlab.search.trials import own_complete

MIN_TRIALS_FOR_IMPORTANCE = 10
# complete trials a searched parameter before fANOVA ranks them (2 parameters: the 10 above); ranked from
# k + 1 trials, the report showed 2 parameters' importances on 3 random trials
TRIALS_PER_PARAMETER = 5
# fANOVA ranks a seeded sample of this many complete trials beyond: on 1,000 trials it took 60 s here, on
# 300 13 s, ranking alike (0.82 / 0.18 against 0.84 / 0.16); a 2,000-trial report ran for minutes
MAX_RANKED = 300


def fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def searched(trials: Sequence[FrozenTrial]) -> set[str]:
    """The parameters searched in ``trials``: those with more than one possible value (a range of one
    value, or a single choice, is a setting that was fixed, not searched)."""
    return {name for t in trials for name, dist in t.distributions.items() if not dist.single()}


def trials_to_rank(study: optuna.Study) -> int:
    """How many complete trials ranking the study's searched parameters takes: :data:`TRIALS_PER_PARAMETER`
    a parameter, :data:`MIN_TRIALS_FOR_IMPORTANCE` at least (the importances, and the advice drawn
    from them, range edges and what to freeze, share this one gate)."""
    return max(MIN_TRIALS_FOR_IMPORTANCE, TRIALS_PER_PARAMETER * len(searched(own_complete(study))))


def too_few_to_rank(study: optuna.Study) -> Optional[str]:
    """Why the study's complete trials say nothing yet about its parameters (None when they may):
    fewer than :func:`trials_to_rank`. fANOVA gave one trial's two parameters 0.500 each (make stage2
    fixed the 'more important' of them), and the report ranked 2 parameters on 3 random trials."""
    complete, names = own_complete(study), searched(own_complete(study))
    if len(complete) >= trials_to_rank(study):
        return None
    return (f"too few trials to rank: {len(complete)} complete trial(s) for {len(names)} searched parameter(s), "
            f"ranking them takes {trials_to_rank(study)} ({TRIALS_PER_PARAMETER} a parameter, "
            f"{MIN_TRIALS_FOR_IMPORTANCE} at least)")


def not_ranked(study: optuna.Study) -> Optional[str]:
    """Why fANOVA cannot rank the study's parameters (None when it can): too few complete trials
    (:func:`too_few_to_rank`), or every complete trial scored the same (nothing to explain)."""
    if too_few_to_rank(study):
        return too_few_to_rank(study)
    values = {t.values[0] for t in own_complete(study)}
    if len(values) == 1:
        return (f"all {len(own_complete(study))} complete trials scored {fmt(values.pop())}: there is no variation "
                "to explain")
    return None


def rankable(study: optuna.Study) -> list[str]:
    """The searched parameters fANOVA can rank: those every complete trial has (Optuna leaves a
    conditional parameter, absent from some trials, out), in the order first seen."""
    complete = own_complete(study)
    names = searched(complete)
    order = list(dict.fromkeys(name for t in complete for name in t.distributions if name in names))
    return [name for name in order if all(name in t.params for t in complete)]


def unranked(study: optuna.Study) -> dict[str, int]:
    """Searched parameters that only some complete trials have (conditional ones): name -> how many."""
    complete = own_complete(study)
    counts = {name: sum(name in t.params for t in complete) for name in searched(complete)}
    return {name: n for name, n in sorted(counts.items()) if n < len(complete)}


def analysed_study(study: optuna.Study, most: Optional[int] = None) -> optuna.Study:
    """An in-memory study of the complete trials the rules read (:func:`own_complete`), for Optuna's own
    functions (fANOVA, the plots), which read every complete trial of a study, a warm start's copies
    and diverged runs' inf included. ``most``: at most that many, a seeded sample of them beyond."""
    trials = own_complete(study)
    if most is not None and len(trials) > most:
        trials = sorted(random.Random(0).sample(trials, most), key=lambda t: t.number)
    analysed = optuna.create_study(directions=study.directions)
    analysed.add_trials(trials)
    return analysed


def ranked_study(study: optuna.Study) -> optuna.Study:
    """The trials fANOVA ranks: :func:`analysed_study`, a sample of :data:`MAX_RANKED` beyond."""
    return analysed_study(study, MAX_RANKED)


def importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances (seeded: the same study gives the same figures) of the rankable parameters
    (:func:`rankable`) over :func:`ranked_study`; empty when they cannot be ranked (:func:`not_ranked`).
    With several objectives, for the first (the job's own metric): Optuna wants one target."""
    names = rankable(study)
    if not_ranked(study) or not names:
        return {}
    target = (lambda trial: trial.values[0]) if len(study.directions) > 1 else None
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return optuna.importance.get_param_importances(ranked_study(study), evaluator=evaluator, params=names,
                                                       target=target)
    except (RuntimeError, ValueError):
        return {}
