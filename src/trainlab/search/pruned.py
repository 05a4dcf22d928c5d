"""What the pruner did in a study: trials pruned and epochs saved (:func:`pruning_stats`, in the analysis),
and the recommendations drawn from it (:mod:`.advice` lists them): every trial pruned, a warm-up that looks
too long (the pruned trials were all stopped at the first check the warm-up allowed) or too short (at its
end the complete trials rank differently from their final values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import optuna
from optuna.trial import TrialState

from trainlab.search.results import ALL_PRUNED_FIX
from trainlab.search.shared import is_copied, is_surplus
from trainlab.search.trials import epochs_run, whole

RANK_AGREEMENT = 0.3  # Spearman correlation of warm-up-end and final values below which warm-up is too short


def pruning_advice(study: optuna.Study) -> list[str]:
    """Warm-up too long / too short, judged from the trials (see the module's docstring)."""
    pruner = study.user_attrs.get("pruner") or {}
    warmup = pruner.get("n_warmup_steps")
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t) and not is_copied(t)]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    advice = []
    if warmup is not None and len(pruned) >= 3 and all(t.last_step == warmup for t in pruned):
        advice.append(f"warm-up may be too long: all {len(pruned)} pruned trials were stopped at the first "
                      f"check allowed (step {warmup}); try hydra.sweeper.pruner.n_warmup_steps={max(0, warmup // 2)}")
    complete = [t for t in trials if t.state == TrialState.COMPLETE and warmup in t.intermediate_values]
    if warmup is not None and len(complete) >= 5:
        agreement = spearman([t.intermediate_values[warmup] for t in complete], [t.value for t in complete])
        if agreement is not None and agreement < RANK_AGREEMENT:
            advice.append(f"warm-up may be too short: at step {warmup} the complete trials rank differently from "
                          f"their final values (Spearman {agreement:.2f}); the pruner judges on noise. Try "
                          f"hydra.sweeper.pruner.n_warmup_steps={warmup * 2 + 1}")
    return advice


def all_pruned_advice(study: optuna.Study) -> list[str]:
    """No trial complete, some pruned: the pruner stopped every trial that was not failing (the report
    said 'recommendations: none')."""
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t) and not is_copied(t)]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    if not pruned or any(t.state == TrialState.COMPLETE for t in trials):
        return []
    return [f"no trial ran to its end: {len(pruned)} of {len(trials)} trials were pruned, so there is no best; "
            f"{ALL_PRUNED_FIX}"]


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Rank correlation (scipy's; ties get their mean rank); None when either side is constant."""
    from scipy.stats import spearmanr

    if len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(spearmanr(a, b).statistic)


def pruning_stats(study: optuna.Study) -> dict[str, Any]:
    """Pruned trials and the epochs they did not train (against the longest complete trial; None
    without one: there is nothing to measure against, and 'all 5 pruned, 0 epochs saved' was said), of
    the trials that ran here and ended (a running trial was counted as one not pruned)."""
    trials = [t for t in study.get_trials(deepcopy=False)
              if t.state.is_finished() and not is_surplus(t) and not is_copied(t)]
    complete = [epochs_run(t) for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    saved = sum(max(0, max(complete) - epochs_run(t)) for t in pruned) if complete else None
    return {"trials": len(trials), "pruned": len(pruned),
            "epochs_trained": whole(round(sum(epochs_run(t) for t in trials), 2)),
            "epochs_saved": None if saved is None else whole(round(saved, 2))}
