"""Recommendations drawn from a study (trainlab.search.advice): each rule fires on a study built for
it and stays silent on one built against it. Studies are constructed (create_trial), no training."""

from __future__ import annotations

import math
import random
from typing import Any, Optional

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from trainlab.search import advice, importance, pruned
from trainlab.search.analyze import importance_lines, parallel_coordinates, plot
from trainlab.search.trials import best_trials

SPACE = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
SPACE_X = {"x": SPACE["x"]}


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
    at_edge, inside, noise = new_study(), new_study(), new_study()
    for i in range(10):
        x = 0.98 if i == 0 else 0.1 + 0.08 * i
        add(at_edge, {"x": x}, 0.1 if i == 0 else 1.0 + x)
        add(inside, {"x": x}, 0.1 if i == 5 else 1.0 + x)
    assert advice.edge_advice(at_edge, found={}) == [
        "the best x=0.98 sits at the high edge of its range [0, 1]: widen it upwards"]
    assert advice.edge_advice(inside, found={}) == []
    # the best of 3 trials at an edge is noise (the rule fired on 3 random trials): the rule waits for 10
    for x, value in ((0.98, 0.1), (0.5, 0.5), (0.2, 0.9)):
        add(noise, {"x": x}, value)
    assert advice.edge_advice(noise, found={}) == []


def test_edge_is_not_drawn_from_one_of_many_trials_that_tie_for_the_best(tmp_path):
    """An error that can be 0 exactly: 20 perfect fits over x in [0.5, 1]; the first of them (x=0.91)
    was 'the best', and the report advised 'widen x upwards' where the optimum is half the range."""
    from trainlab.search.analyze import report

    study, at_edge = sweep_folder(tmp_path / "zero"), new_study()
    for i in range(40):
        x, y = (0.91 + 0.37 * i) % 1, (0.13 + 0.61 * i) % 1
        add(study, {"x": x, "y": y}, 0.0 if x > 0.5 else (0.5 - x) * (1 + y))
        add(at_edge, {"x": x, "y": y}, 0.0 if x > 0.92 else 1 - x)  # every perfect fit at the high edge
    assert len(advice.tied_best(study)) == 20 and study.best_trial.params["x"] == 0.91
    assert advice.edge_advice(study, found={}) == []
    assert len(advice.tied_best(at_edge)) > 1 and [line.split(" sits")[0] for line in advice.edge_advice(
        at_edge, found={})] == ["the best x=0.98"]
    assert ("top trials (20 complete trials score the best value, 0, exactly: the first 5 of them are shown as they "
            "ran; the optimum is a region, not one point):") in report(tmp_path / "zero", save=False)


def edge_study(dists: dict[str, Any], best: dict[str, Any], others: list[dict[str, Any]]) -> optuna.Study:
    """The trial ``best`` (value 0) and ``others`` (values 1, 2, ...) over ``dists``."""
    study = new_study()
    for i, params in enumerate([best, *others]):
        study.add_trial(create_trial(params=params, distributions={k: dists[k] for k in params}, value=float(i)))
    return study


def test_edge_speaks_of_choices_log_scales_and_a_range_from_zero_and_skips_what_has_no_edge():
    """Ordered choices are choices, not a range [16, 64] to widen; a log range widens by a factor; a
    range from 0 says so; unordered choices, two choices and a single value have no edge."""
    dists = {"bs": CategoricalDistribution([16, 32, 64]), "lr": FloatDistribution(1e-5, 1e-1, log=True),
             "dropout": FloatDistribution(0.0, 0.5), "opt": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
             "two": CategoricalDistribution([1, 2]), "k": IntDistribution(3, 3)}
    best = {"bs": 16, "lr": 0.09, "dropout": 0.01, "opt": "rmsprop", "two": 2, "k": 3}
    others = [{"bs": 32, "lr": 1e-3 * (i + 1), "dropout": 0.1 + 0.01 * i, "opt": "adam", "two": 1, "k": 3}
              for i in range(24)]  # 5 trials for each of the 5 searched parameters
    assert advice.edge_advice(edge_study(dists, best, others), found={}) == [
        "the best bs=16 is the smallest of its choices (16, 32, 64): add a smaller one",
        "the best lr=0.09 sits at the high edge of its range [1e-05, 0.1]: widen it upwards by a factor "
        "(its range is log-scaled)",
        "the best dropout=0.01 sits at the low edge of its range [0, 0.5]: widen it downwards (below 0 only if "
        "negative values make sense for it)"]


def test_edge_stays_silent_on_a_parameter_that_hardly_matters(monkeypatch):
    """'widen the range of y' and 'y hardly matters: freeze it' were advised together (a 20-parameter
    study of 60 trials drew both for 4 parameters): where the best of a parameter that hardly matters
    lies is noise."""
    dists = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    study = edge_study(dists, {"x": 0.99, "y": 0.99}, [{"x": 0.1 * i, "y": 0.05 * i} for i in range(9)])
    monkeypatch.setattr(advice, "importances", lambda study: {"x": 0.97, "y": 0.03})
    lines = advice.recommendations(study)
    assert [line.split(" sits")[0] for line in lines if "widen it" in line] == ["the best x=0.99"]
    assert [line.split(" hardly")[0] for line in lines if "hardly matters" in line] == ["y"]


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


def test_parameters_that_hardly_matter_are_one_line_with_their_values():
    """A 20-parameter study said 'p.. hardly matters: freeze it at ...' in 18 lines."""
    dists = {f"p{i}": FloatDistribution(0.0, 1.0) for i in range(20)}
    study = new_study()
    for n in range(100):  # 5 complete trials per parameter: enough to rank them
        params = {name: (n * (i + 3) % 11) / 10 for i, name in enumerate(dists)}
        study.add_trial(create_trial(params=params, distributions=dists, value=float(n)))
    found = {"p0": 0.6, "p1": 0.2, **{f"p{i}": 0.2 / 18 for i in range(2, 20)}}
    (line,) = advice.unimportant_advice(study, found)
    best = study.trials[0].params
    assert line == ("18 parameters hardly matter (importance < 0.05 each): freeze them at the best trial's values ("
                    + ", ".join(f"p{i}={best[f'p{i}']:.4g}" for i in range(2, 20)) + ") and search the rest")
    assert advice.unimportant_advice(study, {"p0": 0.5, "p1": 0.5}) == []


def test_importances_wait_for_enough_trials_a_parameter_as_the_advice_does():
    """The report ranked 2 parameters on 3 complete trials (only the advice drawn from them waited for
    10); 20 parameters on 25."""
    few, enough = quadratic_study(1.0, n=3), quadratic_study(1.0, n=10)
    expected = ("too few trials to rank: 3 complete trial(s) for 2 searched parameter(s), ranking them takes 10 "
                "(5 a parameter, 10 at least)")
    assert importance.too_few_to_rank(few) == expected and importance.importances(few) == {}
    assert importance_lines(few, {}) == [
        f"parameter importance: not yet ({expected}; range edges and parameters to freeze wait for it too)"]
    assert importance.too_few_to_rank(enough) is None and set(importance.importances(enough)) == {"x", "y"}
    dists = {f"p{i}": FloatDistribution(0.0, 1.0) for i in range(20)}
    wide = new_study()
    for n in range(25):
        wide.add_trial(create_trial(params={name: (n * (i + 3) % 11) / 10 for i, name in enumerate(dists)},
                                    distributions=dists, value=float(n)))
    assert importance.too_few_to_rank(wide).startswith("too few trials to rank: 25 complete trial(s) for 20 searched")
    assert "takes 100 (5 a parameter" in importance.too_few_to_rank(wide)
    assert importance.importances(wide) == {} and advice.unimportant_advice(wide, {"p0": 0.99, "p1": 0.01}) == []
    assert advice.edge_advice(wide, found={}) == []


def test_convergence_fires_while_the_best_still_improves_in_the_last_quarter():
    improving, settled = new_study(), new_study()
    for i in range(12):
        add(improving, {"x": i / 12}, 1.0 - 0.05 * i)  # a new best every trial
        add(settled, {"x": i / 12}, 0.2 if i == 2 else 1.0 - 0.01 * i)  # best at trial 2, nothing better later
    (line,) = advice.convergence_advice(improving)
    assert line.startswith("not converged: the last quarter of the trials improved the best from 0.6 to 0.45")
    assert line.endswith("run more trials")
    assert advice.convergence_advice(settled) == []
    assert advice.convergence_line(advice.convergence(settled)).endswith(
        "the last quarter of the trials did not improve the best (0.2): settled: more trials of this search are "
        "unlikely to help much")


def test_convergence_is_judged_against_the_spread_of_the_values_not_the_best_alone():
    """A gain relative to the best overstated progress near 0 (random values on [0, 1], best 0.0004 ->
    0.00005: '86.5%', 'run more trials') and meant nothing across 0 (a maximised r2 -0.2 -> 0.1)."""
    near_zero = new_study()
    for i in range(40):  # values spread over [0, 1]; the last quarter's new best is tiny against that spread
        add(near_zero, {"x": i / 40}, 0.0004 if i == 5 else 0.00005 if i == 35 else 0.1 + (i * 7 % 40) / 45)
    assert advice.convergence(near_zero)["last_quarter_gain"] < advice.IMPROVING
    assert advice.convergence_advice(near_zero) == []
    assert advice.convergence_line(advice.convergence(near_zero)).endswith(
        "the last quarter of the trials improved the best from 0.0004 to 5e-05, 0.00081 of the spread of the trials' "
        "values (interquartile range 0.4333): settled: more trials of this search are unlikely to help much")
    r2 = optuna.create_study(direction="maximize")
    for i in range(12):  # r2 from -0.9 to -0.2 at trial 8; the last quarter finds 0.1
        add(r2, {"x": i / 12}, 0.1 if i == 10 else -0.2 if i == 8 else -0.9 + 0.05 * i)
    (line,) = advice.convergence_advice(r2)
    assert line == ("not converged: the last quarter of the trials improved the best from -0.2 to 0.1, 0.89 of the "
                    "spread of the trials' values (interquartile range 0.3375; best found at complete trial 11 of 12): "
                    "run more trials")
    ties = new_study()  # perfect fits: 10 of 12 trials scored 0, the interquartile range is 0
    for i in range(12):
        add(ties, {"x": i / 12}, 0.0 if i % 6 else 0.5)
    assert advice.convergence(ties)["spread"].startswith("standard deviation")
    assert advice.convergence_advice(ties) == []


def test_warm_up_too_long_when_every_pruned_trial_stopped_at_its_first_allowed_check():
    too_long, fine = new_study(pruner={"n_warmup_steps": 2}), new_study(pruner={"n_warmup_steps": 2})
    for i in range(3):
        add(too_long, {"x": 0.1 * i}, None, TrialState.PRUNED, steps={0: 3.0, 1: 3.0, 2: 3.0})
        add(fine, {"x": 0.1 * i}, None, TrialState.PRUNED, steps={s: 3.0 for s in range(3 + i)})
    (line,) = pruned.pruning_advice(too_long)
    assert line.startswith("warm-up may be too long: all 3 pruned trials were stopped at the first check allowed")
    assert pruned.pruning_advice(fine) == []


def test_warm_up_too_short_when_early_values_rank_trials_unlike_their_final_values():
    too_short, fine = new_study(pruner={"n_warmup_steps": 1}), new_study(pruner={"n_warmup_steps": 1})
    for i in range(6):
        final = 0.1 * i
        add(too_short, {"x": 0.1 * i}, final, steps={0: 5.0, 1: 1.0 - 0.1 * i, 2: final})  # ranks reversed
        add(fine, {"x": 0.1 * i}, final, steps={0: 5.0, 1: 1.0 + 0.1 * i, 2: final})  # same ranks
    (line,) = pruned.pruning_advice(too_short)
    assert line.startswith("warm-up may be too short: at step 1") and "Spearman -1.00" in line
    assert pruned.pruning_advice(fine) == []
    assert pruned.pruning_advice(new_study()) == []  # no pruner recorded: nothing to judge


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


def test_a_failure_reason_keeps_the_numbers_of_its_names():
    """Every trial failed with the same line naming val/r2 and hidden_size=64: the report printed it
    as 'val/r#' and 'hidden_size=#' (a misspelt optimized_metric's line listed metrics no one logs)."""
    study = new_study()
    reason = "optimized_metric=val/nothing is never logged; it logs: val/loss, val/r2 [model.net.hidden_size=64]"
    for _ in range(2):
        add(study, {"x": 0.1}, None, TrialState.FAIL, fail_reason=reason)
    add(study, {"x": 0.1}, None, TrialState.FAIL, fail_reason="conv2d: CUDA out of memory, tried 20 MiB")
    add(study, {"x": 0.1}, None, TrialState.FAIL, fail_reason="conv2d: CUDA out of memory, tried 40 MiB")
    assert advice.failure_advice(study) == [f'2 trial(s) failed with "{reason}" (trials 0, 1)',
                                            '2 trial(s) failed with "conv2d: CUDA out of memory, tried # MiB" (trials 2, 3)']


def test_top_trials_that_tie_but_disagree_on_an_important_parameter():
    apart, together = new_study(), new_study()
    for i, x in enumerate((0.1, 0.5, 0.9)):
        add(apart, {"x": x, "y": 0.5}, 1.0 + 0.001 * i)
        add(together, {"x": 0.5 + 0.01 * i, "y": 0.5}, 1.0 + 0.001 * i)
    for study in (apart, together):
        add(study, {"x": 0.3, "y": 0.5}, 3.0)
    (line,) = advice.disagreement_advice(apart, found={"x": 0.9, "y": 0.1})
    assert line.startswith("the top 3 trials score alike (within 2% of the spread of the trials' values) but "
                           "disagree on x (0.1, 0.5, 0.9)")
    assert advice.disagreement_advice(together, found={"x": 0.9, "y": 0.1}) == []
    assert advice.disagreement_advice(apart, found={"x": 0.01, "y": 0.99}) == []  # x hardly matters


def test_a_tie_at_a_best_of_zero_is_judged_against_the_spread_of_the_values():
    """An error whose best is 0: within 2 % of the best's own value was a tolerance of 0, so 0.0001 and
    0.0002 'stood out' from 0 among trials scoring up to 1, and top trials far apart on x said nothing."""
    tied, apart = new_study(), new_study()
    for study, runners_up in ((tied, (0.0001, 0.0002)), (apart, (0.3, 0.5))):
        for x, value in zip((0.1, 0.5, 0.9), (0.0, *runners_up)):
            add(study, {"x": x, "y": 0.5}, value)
        for i in range(6):
            add(study, {"x": 0.3, "y": 0.5}, 0.5 + 0.1 * i)
    (line,) = advice.disagreement_advice(tied, found={"x": 0.9, "y": 0.1})
    assert "disagree on x (0.1, 0.5, 0.9)" in line
    assert advice.disagreement_advice(apart, found={"x": 0.9, "y": 0.1}) == []


def test_pruning_stats_count_fractional_epochs_of_jobs_that_recorded_them():
    study = new_study()
    add(study, {"x": 0.1}, 0.5, steps={s: 1.0 for s in range(8)}, epochs=4)  # 2 checks per epoch
    add(study, {"x": 0.2}, None, TrialState.PRUNED, steps={s: 2.0 for s in range(3)}, epochs=1.5)
    assert pruned.pruning_stats(study) == {"trials": 2, "pruned": 1, "epochs_trained": 5.5, "epochs_saved": 2.5}
    pruned_only = new_study()  # 'all 5 pruned, 0 epochs saved': nothing to measure the savings against
    add(pruned_only, {"x": 0.2}, None, TrialState.PRUNED, steps={0: 2.0})
    assert pruned.pruning_stats(pruned_only)["epochs_saved"] is None
    add(pruned_only, {"x": 0.3}, 1.0)  # a complete trial that reported nothing: 0 epochs, a measure all the same
    assert pruned.pruning_stats(pruned_only)["epochs_saved"] == 0


def test_spearman_ranks_with_ties():
    assert math.isclose(pruned.spearman([3.0, 1.0, 2.0], [1.0, 2.0, 3.0]), -0.5)
    assert math.isclose(pruned.spearman([1.0, 1.0, 2.0], [1.0, 2.0, 3.0]), 0.8660254, rel_tol=1e-6)  # mean ranks
    assert pruned.spearman([1.0, 1.0], [1.0, 2.0]) is None  # a constant side says nothing


def test_int_positions_count_like_floats():
    assert advice.position(5, IntDistribution(1, 5)) == 1.0 and advice.position(1, IntDistribution(1, 5)) == 0.0


def test_overfitting_is_judged_on_a_minimised_validation_loss_only():
    """A maximised accuracy of 0.9 against a training loss of 0.3 was called '3.0x: the top trials
    overfit'; so was a val/rmse against an MSE training loss."""
    def study(direction: str, metric: Optional[str]) -> optuna.Study:
        made = optuna.create_study(direction=direction)
        if metric:
            made.set_user_attr("metric", metric)
        for i in range(4):
            add(made, {"x": 0.2 * i}, 0.9 - 0.01 * i, steps={0: 0.9 - 0.01 * i}, final_train_loss=0.3)
        return made

    assert advice.overfitting_advice(study("minimize", "val/loss"))  # fires
    assert advice.overfitting_advice(study("minimize", None))  # a study without its metric recorded: a loss
    assert advice.overfitting_advice(study("maximize", "val/acc")) == []
    assert advice.overfitting_advice(study("minimize", "val/rmse")) == []


def test_copied_trials_of_a_warm_start_are_not_ranked_nor_plotted_as_this_studys():
    """fANOVA and Optuna's plots read every complete trial: a warm start's 40 copies ranked this
    study's 12 parameters by the earlier study's values."""
    own = quadratic_study(weight_y=0.0, n=12)
    warm = quadratic_study(weight_y=0.0, n=12)
    for i in range(40):  # the earlier study: only y mattered there
        add(warm, {"x": 0.5, "y": 0.02 * i}, float(i), copied_from=f"earlier#{i}")
    assert [t.number for t in importance.analysed_study(warm).trials] == list(range(12))
    assert importance.importances(warm) == importance.importances(own)


def test_a_warm_start_into_a_widened_range_ranks_its_own_trials():
    """Widening a range at the edge advice's word and warm-starting from the earlier sweep: fANOVA on
    the copies' [0, 1] and this study's [0, 2] left x out altogether ({'y': 1.0}), where only x mattered here."""
    rng, study = random.Random(0), new_study()
    earlier, widened = {"x": FloatDistribution(0, 1), "y": SPACE["y"]}, {"x": FloatDistribution(0, 2), "y": SPACE["y"]}
    for i in range(20):
        params = {"x": rng.random(), "y": rng.random()}
        study.add_trial(create_trial(params=params, distributions=earlier, value=params["y"],
                                     user_attrs={"copied_from": f"earlier#{i}"}))
    for _ in range(15):
        params = {"x": 2 * rng.random(), "y": rng.random()}
        study.add_trial(create_trial(params=params, distributions=widened, value=(params["x"] - 1.5) ** 2))
    assert list(importance.importances(study))[0] == "x"


def test_diverged_trials_are_reported_and_left_out_of_every_rule():
    """A trial that completed with inf: convergence read 'the best improved by nan%: run more trials'
    and, maximised, inf was the best trial."""
    study = new_study()
    for i in range(12):
        add(study, {"x": 0.05 + 0.08 * i}, math.inf if i < 9 else 1.0 - 0.01 * i)
    assert advice.convergence_advice(study) == []  # 3 finite trials: too few to judge
    assert advice.not_finite_advice(study) == [
        "9 complete trial(s) scored inf (trials 0, 1, 2, 3, 4, 5, 6, 7, 8): their runs diverged (a learning rate too "
        "high?); the analysis leaves them out"]
    assert advice.not_finite_advice(quadratic_study(1.0, n=8)) == []
    maximised = optuna.create_study(direction="maximize")
    add(maximised, {"x": 0.5}, math.inf)
    add(maximised, {"x": 0.2}, 0.7)
    assert [t.number for t in best_trials(maximised)] == [1]


def test_trials_that_all_scored_the_same_are_not_ranked_and_said_so():
    same, varied = new_study(), new_study()
    for i in range(12):
        add(same, {"x": 0.08 * i, "y": 0.5}, 0.25)
        add(varied, {"x": 0.08 * i, "y": 0.5}, 0.25 + 0.01 * i)
    assert importance.not_ranked(same) == "all 12 complete trials scored 0.25: there is no variation to explain"
    assert importance.importances(same) == {}
    assert advice.no_variation_advice(same) == [
        "all 12 complete trials scored 0.25: the searched parameters made no difference to it; check that the "
        "optimized metric is one training changes"]
    assert importance.not_ranked(varied) is None and advice.no_variation_advice(varied) == []


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_fanova_ranks_a_seeded_sample_of_a_large_study(monkeypatch):
    """fANOVA on every trial of a 2,000-trial study took minutes: beyond MAX_RANKED it ranks a seeded sample."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(importance, "MAX_RANKED", 20)
    study = quadratic_study(weight_y=1.0, n=50)
    sample = [t.number for t in importance.ranked_study(study).trials]
    assert len(sample) == 20 and sample == [t.number for t in importance.ranked_study(study).trials]  # seeded
    assert len(importance.ranked_study(quadratic_study(weight_y=1.0, n=15)).trials) == 15
    assert importance_lines(study, {"x": 0.6, "y": 0.4})[0] == (
        "parameter importance (fANOVA, on a seeded sample of 20 of the 50 complete trials):")
    # the parallel-coordinate plot draws that sample: its title says so (only the header above did)
    assert parallel_coordinates(study, None).get_title() == (
        "Parallel Coordinate Plot: a seeded sample of 20 of the 50 complete trials")
    assert parallel_coordinates(quadratic_study(weight_y=1.0, n=15), None).get_title() == "Parallel Coordinate Plot"
    plt.close("all")


def test_fixed_and_conditional_parameters_are_not_ranked_as_searched_ones():
    """A range of one value was ranked (importance 0.000: 'freeze it at 3', where it was already); a
    parameter of some trials only (conditional) was left out of the ranking without a word."""
    study = new_study()
    dists = {"x": FloatDistribution(0.0, 1.0), "k": IntDistribution(3, 3), "w": FloatDistribution(0.0, 1.0)}
    for i in range(12):
        params = {"x": 0.08 * i, "k": 3, **({"w": 0.1 * (i % 10)} if i % 2 else {})}
        study.add_trial(create_trial(params=params, distributions={n: dists[n] for n in params},
                                     value=(0.08 * i - 0.3) ** 2 + params.get("w", 0.0)))
    assert importance.searched(study.trials) == {"x", "w"}
    assert importance.rankable(study) == ["x"] and importance.unranked(study) == {"w": 6}
    assert importance_lines(study, {"x": 1.0}) == [
        "parameter importance (fANOVA):", "  x: 1.000",
        "  not ranked: w (in 6 of 12 complete trials: fANOVA ranks the parameters every trial has)"]
    assert "k" not in importance.importances(study)


def test_long_lists_of_trial_numbers_are_cut():
    study = new_study()
    for i in range(25):
        add(study, {"x": 0.5}, None, TrialState.FAIL, fail_reason="CUDA out of memory")
    assert advice.failure_advice(study) == [
        '25 trial(s) failed with "CUDA out of memory" (trials 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 15 more)']


def test_a_front_lists_the_best_first_objective_first_in_its_direction():
    from trainlab.search.front import front_lines

    study = optuna.create_study(directions=["maximize", "minimize"])
    for x in (0.2, 0.9, 0.5):
        study.add_trial(create_trial(params={"x": x}, distributions=SPACE_X, values=[x, x]))
    lines = front_lines(best_trials(study), ["acc", "seconds"], study.directions)
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["#1", "#2", "#0"]


def sweep_folder(folder, directions: tuple[str, ...] = ("minimize",)) -> optuna.Study:
    """A sweep folder's study (optuna.db, named after the folder), as make analyze reads it."""
    folder.mkdir()
    return optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name=folder.name,
                               directions=list(directions))


def test_the_report_leaves_out_copied_and_diverged_trials_and_says_so(tmp_path):
    """A warm start's copies were left out of the top 5 and counted by fANOVA and the plots; diverged
    ones (inf) topped a maximised study and made convergence 'nan%'."""
    from trainlab.search.analyze import report

    study = sweep_folder(tmp_path / "sweep")
    trials = [create_trial(params={"x": 0.5}, distributions=SPACE_X, value=0.0, user_attrs={"copied_from": "a#0"})]
    for i in range(12):
        x = 0.05 + 0.075 * i
        value = math.inf if i == 11 else (x - 0.3) ** 2
        trials.append(create_trial(params={"x": x}, distributions=SPACE_X, value=value))
    study.add_trials(trials)
    text = report(tmp_path / "sweep")
    assert text.startswith("study sweep: 12 trials (and 1 copied from an earlier study, left out)\n")
    assert "#0:" not in text  # the copy's value 0.0 would top the list
    assert "1 complete trial(s) scored inf (trials 12)" in text and "nan" not in text


def test_running_trials_are_said_to_be_left_out(tmp_path):
    """A study still running was reported as '3 trials ... 0 of 3 trials pruned' with 1 of them running."""
    from trainlab.search.analyze import report

    study = sweep_folder(tmp_path / "sweep")
    study.add_trials([create_trial(params={"x": 0.1 * i}, distributions=SPACE_X, value=float(i)) for i in range(2)])
    study.add_trial(create_trial(params={"x": 0.5}, distributions=SPACE_X, state=TrialState.RUNNING))
    text = report(tmp_path / "sweep")
    assert text.startswith("study sweep: 3 trials (1 still running, left out until they end)\n")
    assert "pruning: 0 of 2 trials pruned" in text


def test_a_two_objective_report_says_which_advice_it_does_not_draw(tmp_path):
    from trainlab.search.analyze import report

    study = sweep_folder(tmp_path / "front", ("minimize", "minimize"))
    for x in (0.1, 0.5, 0.9):
        study.add_trial(create_trial(params={"x": x}, distributions=SPACE_X, values=[x, 1 - x]))
    text = report(tmp_path / "front")
    assert "Pareto front (3 trials" in text
    assert ("(range edges, importances, convergence and tied top trials judge one objective: not drawn for a front)"
            in text)


def test_the_report_reads_an_in_memory_copy_of_the_study_that_keeps_what_the_rules_read(tmp_path):
    """Each read of an SQLite study of 10,000 trials took 0.6 s and the rules read it some 30 times."""
    from trainlab.search.analyze import in_memory

    study = sweep_folder(tmp_path / "sweep")
    study.set_user_attr("pruner", {"n_warmup_steps": 2})
    add(study, {"x": 0.5}, 1.0, steps={0: 2.0}, epochs=1)
    add(study, {"x": 0.2}, None, TrialState.FAIL, fail_reason="boom")
    study.add_trial(create_trial(params={"x": 0.5}, distributions=SPACE_X, state=TrialState.RUNNING))
    copy = in_memory(optuna.load_study(study_name="sweep", storage=f"sqlite:///{tmp_path}/sweep/optuna.db"))
    assert copy.study_name == "sweep" and copy.user_attrs == {"pruner": {"n_warmup_steps": 2}}
    assert [(t.number, t.state, t.values, t.params, t.user_attrs, t.intermediate_values) for t in copy.trials] == [
        (t.number, t.state, t.values, t.params, t.user_attrs, t.intermediate_values) for t in study.trials]


def test_the_best_value_of_each_choice_is_reported():
    """Range-edge advice has nothing to say of unordered choices, and the top 5 did not show how the
    other values fared, nor that one was never tried."""
    dists = {"opt": CategoricalDistribution(["adam", "sgd", "rmsprop"]), "x": SPACE["x"]}
    for direction, expected in (("minimize", "adam 0.1 (2 trials), sgd 0.5 (1 trial)"),
                                ("maximize", "sgd 0.5 (1 trial), adam 0.3 (2 trials)")):
        study = optuna.create_study(direction=direction)
        for opt, value in (("adam", 0.3), ("sgd", 0.5), ("adam", 0.1)):
            study.add_trial(create_trial(params={"opt": opt, "x": 0.5}, distributions=dists, value=value))
        assert advice.choices(study) == [f"  opt (best trial of each choice): {expected}; never tried: rmsprop"]
    assert advice.choices(quadratic_study(1.0, n=3)) == []  # no choice searched


def test_a_choice_tried_only_in_pruned_or_failed_trials_is_not_said_to_be_never_tried():
    """A batch size whose trials were all pruned (or failed) was listed as 'never tried': the pruner judged it,
    and the report told the user to try it."""
    dists = {"opt": CategoricalDistribution(["adam", "sgd", "rmsprop", "lion"])}
    study = optuna.create_study()
    study.add_trial(create_trial(params={"opt": "adam"}, distributions=dists, value=0.1))
    for state in (TrialState.PRUNED, TrialState.PRUNED, TrialState.FAIL):
        study.add_trial(create_trial(params={"opt": "sgd"}, distributions=dists, state=state,
                                     **({"value": 0.9} if state == TrialState.PRUNED else {})))
    study.add_trial(create_trial(params={"opt": "rmsprop"}, distributions=dists, state=TrialState.FAIL))
    assert advice.choices(study) == ["  opt (best trial of each choice): adam 0.1 (1 trial); no complete trial: sgd (1 "
                                     "fail, 2 pruned), rmsprop (1 fail); never tried: lion"]


def test_a_study_of_one_complete_trial_draws_no_parallel_coordinates_and_no_warning(tmp_path, recwarn):
    """make analyze on a sweep with one complete trial drew a parallel-coordinate plot of single points per
    axis, and matplotlib printed "Attempting to set identical low and high ylims" three times above the
    report; with two trials it is drawn."""
    study = quadratic_study(weight_y=1.0, n=1)
    assert [p.name for p in plot(study, tmp_path, found={})] == ["optimization_history.png"]
    assert not [w for w in recwarn if "identical low and high ylims" in str(w.message)]
    assert "parallel_coordinate.png" in [p.name for p in plot(quadratic_study(weight_y=1.0, n=3), tmp_path, found={})]


def test_requirements_install_what_the_fanova_importances_import():
    """Optuna 5's FanovaImportanceEvaluator imports scikit-learn (its random forest), which no package of
    requirements.txt required: a venv from `make install` alone (tools/check_pythons.sh on 3.10, 3.11, 3.12)
    failed `make analyze` and the importance tests with "Tried to import 'sklearn' but failed"; CI and the
    lead's .venv had it only through the MLflow extra."""
    import re
    from importlib import metadata
    from pathlib import Path

    def name(requirement: str) -> str:
        return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

    lines = (Path(__file__).parents[1] / "requirements.txt").read_text().splitlines()
    todo = [name(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    installed = set()
    while todo:  # requirements.txt and everything they require, as this environment's metadata says
        package = todo.pop()
        if package in installed:
            continue
        installed.add(package)
        try:
            requires = metadata.requires(package) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [name(r) for r in requires if "extra ==" not in r]
    assert "scikit-learn" in installed
