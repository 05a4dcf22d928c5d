"""Recommendations drawn from a study (trainlab.search.advice): each rule fires on a study built for
it and stays silent on one built against it. Studies are constructed (create_trial), no training."""

from __future__ import annotations

import math
import random
from typing import Any, Optional

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from trainlab.search import advice

SPACE = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}


def add(study: optuna.Study, params: dict[str, Any], value: Optional[float], state: TrialState = TrialState.COMPLETE,
        steps: Optional[dict[int, float]] = None, **attrs: Any) -> None:
    study.add_trial(create_trial(params=params, distributions={k: SPACE[k] for k in params}, state=state,
                                 value=value if state == TrialState.COMPLETE else None,
                                 intermediate_values=steps or {}, user_attrs=attrs))


def new_study(**user_attrs: Any) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for key, value in user_attrs.items():
        study.set_user_attr(key, value)
    return study


def test_edge_fires_for_a_best_at_the_end_of_its_range_only():
    at_edge, inside = new_study(), new_study()
    for x, value in ((0.98, 0.1), (0.5, 0.5), (0.2, 0.9)):
        add(at_edge, {"x": x}, value)
        add(inside, {"x": x}, 0.1 if x == 0.5 else value + 0.5)
    assert advice.edge_advice(at_edge) == ["the best x=0.98 sits at the high edge of its range [0, 1]: widen it upwards"]
    assert advice.edge_advice(inside) == []


def quadratic_study(weight_y: float, n: int = 30) -> optuna.Study:
    """value = (x - 0.3)^2 + weight_y * (y - 0.6)^2 over random points."""
    rng, study = random.Random(0), new_study()
    for _ in range(n):
        x, y = rng.random(), rng.random()
        add(study, {"x": x, "y": y}, (x - 0.3) ** 2 + weight_y * (y - 0.6) ** 2)
    return study


def test_a_parameter_that_hardly_matters_is_to_be_frozen_at_the_best_value():
    study = quadratic_study(weight_y=0.0)
    (line,) = advice.unimportant_advice(study)
    best_y = study.best_trial.params["y"]
    assert line.startswith("y hardly matters") and f"freeze it at {best_y:.4g}" in line
    assert advice.unimportant_advice(quadratic_study(weight_y=1.0)) == []  # both matter
    assert advice.unimportant_advice(quadratic_study(weight_y=0.0, n=6)) == []  # too few trials to say


def test_convergence_fires_while_the_best_still_improves_in_the_last_quarter():
    improving, settled = new_study(), new_study()
    for i in range(12):
        add(improving, {"x": i / 12}, 1.0 - 0.05 * i)  # a new best every trial
        add(settled, {"x": i / 12}, 0.2 if i == 2 else 1.0 - 0.01 * i)  # best at trial 2, nothing better later
    (line,) = advice.convergence_advice(improving)
    assert line.startswith("not converged: the best improved by") and "run more trials" in line
    assert advice.convergence_advice(settled) == []


def test_warm_up_too_long_when_every_pruned_trial_stopped_at_its_first_allowed_check():
    too_long, fine = new_study(pruner={"n_warmup_steps": 2}), new_study(pruner={"n_warmup_steps": 2})
    for i in range(3):
        add(too_long, {"x": 0.1 * i}, None, TrialState.PRUNED, steps={0: 3.0, 1: 3.0, 2: 3.0})
        add(fine, {"x": 0.1 * i}, None, TrialState.PRUNED, steps={s: 3.0 for s in range(3 + i)})
    (line,) = advice.pruning_advice(too_long)
    assert line.startswith("warm-up may be too long: all 3 pruned trials were stopped at the first check allowed")
    assert advice.pruning_advice(fine) == []


def test_warm_up_too_short_when_early_values_rank_trials_unlike_their_final_values():
    too_short, fine = new_study(pruner={"n_warmup_steps": 1}), new_study(pruner={"n_warmup_steps": 1})
    for i in range(6):
        final = 0.1 * i
        add(too_short, {"x": 0.1 * i}, final, steps={0: 5.0, 1: 1.0 - 0.1 * i, 2: final})  # ranks reversed
        add(fine, {"x": 0.1 * i}, final, steps={0: 5.0, 1: 1.0 + 0.1 * i, 2: final})  # same ranks
    (line,) = advice.pruning_advice(too_short)
    assert line.startswith("warm-up may be too short: at step 1") and "Spearman -1.00" in line
    assert advice.pruning_advice(fine) == []
    assert advice.pruning_advice(new_study()) == []  # no pruner recorded: nothing to judge


def test_overfitting_of_the_top_trials():
    overfit, fine = new_study(), new_study()
    for i in range(4):
        add(overfit, {"x": 0.2 * i}, 0.5 + i, steps={0: 0.5 + i}, final_train_loss=0.1)
        add(fine, {"x": 0.2 * i}, 0.5 + i, steps={0: 0.5 + i}, final_train_loss=0.45 + i)
    (line,) = advice.overfitting_advice(overfit)
    assert line.startswith("the top trials overfit: validation loss")
    assert advice.overfitting_advice(fine) == []
    assert advice.overfitting_advice(quadratic_study(1.0)) == []  # no training loss recorded


def test_failures_are_grouped_by_reason():
    study = new_study()
    add(study, {"x": 0.5}, 0.3)
    for reason in ("optimizer: Invalid learning rate: -0.01", "CUDA out of memory", "optimizer: Invalid learning rate: -0.02"):
        add(study, {"x": 0.1}, None, TrialState.FAIL, fail_reason=reason)
    add(study, {}, None, TrialState.FAIL, fail_reason="surplus: 3 trials before it were finished")  # not a failure
    assert advice.failure_advice(study) == [
        '2 trial(s) failed with "optimizer: Invalid learning rate: #" (trials 1, 3)',
        '1 trial(s) failed with "CUDA out of memory" (trials 2)']
    assert advice.failure_advice(quadratic_study(1.0)) == []


def test_top_trials_that_tie_but_disagree_on_an_important_parameter():
    apart, together = new_study(), new_study()
    for i, x in enumerate((0.1, 0.5, 0.9)):
        add(apart, {"x": x, "y": 0.5}, 1.0 + 0.001 * i)
        add(together, {"x": 0.5 + 0.01 * i, "y": 0.5}, 1.0 + 0.001 * i)
    for study in (apart, together):
        add(study, {"x": 0.3, "y": 0.5}, 3.0)
    (line,) = advice.disagreement_advice(apart, found={"x": 0.9, "y": 0.1})
    assert line.startswith("the top 3 trials are within 2% of each other but disagree on x (0.1, 0.5, 0.9)")
    assert advice.disagreement_advice(together, found={"x": 0.9, "y": 0.1}) == []
    assert advice.disagreement_advice(apart, found={"x": 0.01, "y": 0.99}) == []  # x hardly matters


def test_pruning_stats_count_fractional_epochs_of_jobs_that_recorded_them():
    study = new_study()
    add(study, {"x": 0.1}, 0.5, steps={s: 1.0 for s in range(8)}, epochs=4)  # 2 checks per epoch
    add(study, {"x": 0.2}, None, TrialState.PRUNED, steps={s: 2.0 for s in range(3)}, epochs=1.5)
    assert advice.pruning_stats(study) == {"trials": 2, "pruned": 1, "epochs_trained": 5.5, "epochs_saved": 2.5}


def test_spearman_ranks_with_ties():
    assert math.isclose(advice.spearman([3.0, 1.0, 2.0], [1.0, 2.0, 3.0]), -0.5)
    assert math.isclose(advice.spearman([1.0, 1.0, 2.0], [1.0, 2.0, 3.0]), 0.8660254, rel_tol=1e-6)  # mean ranks
    assert advice.spearman([1.0, 1.0], [1.0, 2.0]) is None  # a constant side says nothing


def test_int_positions_count_like_floats():
    assert advice.position(5, IntDistribution(1, 5)) == 1.0 and advice.position(1, IntDistribution(1, 5)) == 0.0
