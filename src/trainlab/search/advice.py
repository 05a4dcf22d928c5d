"""Recommendations drawn from a study: each rule reads the trials and says something only when the
data supports it (tests build studies where each must fire and where each must stay silent).

- ``edge``: the best value sits at the edge of its range: widen the range.
- ``unimportant``: a parameter explains almost none of the variation (fANOVA importance below
  :data:`UNIMPORTANT`): freeze it, at the best trial's value, and spend the trials elsewhere.
- ``convergence``: when the best was found; if the last quarter of the trials improved the best by
  more than :data:`IMPROVING` of the spread of the trials' values (their interquartile range) the
  search has not converged: run more trials.
- ``pruning`` (:mod:`.pruned`): every trial pruned, none complete (what to change); fraction pruned and
  epochs saved; a warm-up that looks too long (the pruned trials were
  all stopped at the first check the warm-up allowed: they were bad earlier) or too short (at the
  end of the warm-up, the complete trials' values do not rank them as their final values do).
- ``overfitting``: the top trials' best validation loss is far above their final training loss.
- ``failures``: failed trials grouped by reason.
- ``disagreement``: the top trials are about equally good (within :data:`TIE` of the spread of the
  trials' values) yet far apart on an important parameter:
  the optimum is not pinned down, more trials are needed.
- ``not finite``: complete trials that scored inf or nan (diverged runs), which every rule leaves out.
- ``no variation``: every complete trial scored the same: the parameters made no difference.

The rules read the complete trials run in this study with finite values (:func:`own_complete`: a
warm start's copies are the earlier study's); Optuna's own functions (fANOVA, the plots) are given an
in-memory study of them (:func:`analysed_study`), as they read every complete trial of a study.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Optional

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from trainlab.search.sweep_folder import METRIC
from trainlab.search.trials import finite, own_complete
from trainlab.search.pruned import all_pruned_advice, pruning_advice
from trainlab.search.importance import fmt as _fmt, importances, searched, too_few_to_rank
from trainlab.search.shared import is_copied, is_surplus

EDGE = 0.1  # a best value within the outer 10 % of its range counts as "at the edge"
UNIMPORTANT = 0.05  # fANOVA importance (they sum to 1) below which a parameter hardly matters
# improvement of the best over the last quarter, in units of the spread of the trials' values (their
# interquartile range), that means "not converged": a gain relative to the best overstated progress near
# 0 (random values on [0, 1]: 0.0004 -> 0.00005 read '86.5%') and meant nothing across 0 (r2 -0.2 -> 0.1)
IMPROVING = 0.05
OVERFIT_RATIO = 1.5  # best val loss / final train loss of the top trials above which they overfit
TOP = 3
DISAGREE_SPREAD = 0.5  # top trials spread over half a parameter's range or more
# top trials within 2 % of the spread of the trials' values (see spread) count as about equally good; 2 % of
# the best's own value was no tolerance at all for an error whose best is 0 (0.0001 'stood out' from 0)
TIE = 0.02


def not_finite(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials of this study whose value is inf or nan (a diverged run): left out of every rule."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not is_copied(t) and not finite(t)]


def _sign(study: optuna.Study) -> int:
    return 1 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1


def top_trials(study: optuna.Study, k: int = 5) -> list[FrozenTrial]:
    return sorted(own_complete(study), key=lambda t: _sign(study) * t.value)[:k]


def choices(study: optuna.Study) -> list[str]:
    """For each searched choice (a categorical parameter), which value is best: each value's best
    trial, best first, and the values no complete trial tried (range-edge advice has nothing to say
    of unordered choices, and the top 5 alone does not show how the others fared)."""
    complete, lines = own_complete(study), []
    sign = _sign(study) if len(study.directions) == 1 else 1
    for name in sorted(searched(complete)):
        dist = next(t.distributions[name] for t in complete if name in t.distributions)
        if not isinstance(dist, CategoricalDistribution):
            continue
        best: dict[Any, tuple[float, int]] = {}
        for t in complete:
            if name in t.params:
                value, count = best.get(t.params[name], (t.values[0], 0))
                best[t.params[name]] = (min(value, t.values[0], key=lambda v: sign * v), count + 1)
        ranked = sorted(best.items(), key=lambda item: sign * item[1][0])
        shown = ", ".join(f"{_fmt(choice)} {_fmt(value)} ({count} trial{'s' if count > 1 else ''})"
                          for choice, (value, count) in ranked)
        lines.append(f"  {name} (best trial of each choice): {shown}{_not_complete(study, name, dist, best)}")
    return lines


def _not_complete(study: optuna.Study, name: str, dist: CategoricalDistribution, complete: Any) -> str:
    """The choices no complete trial has: those tried only in trials pruned, failed or still running, with their
    states (a value whose trials were all pruned was said to be 'never tried'), then the rest."""
    states: dict[Any, list[str]] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)):
        if not is_copied(t) and name in t.params and t.params[name] not in complete:
            states.setdefault(t.params[name], []).append(t.state.name.lower())
    tried = [f"{_fmt(c)} ({', '.join(f'{n} {s}' for s, n in sorted(Counter(states[c]).items()))})"
             for c in dist.choices if c in states]
    untried = [_fmt(c) for c in dist.choices if c not in complete and c not in states]
    return ((f"; no complete trial: {', '.join(tried)}" if tried else "")
            + (f"; never tried: {', '.join(untried)}" if untried else ""))


def position(value: Any, dist: Any) -> Optional[float]:
    """Where a value lies in its range, 0 (low end) .. 1 (high end); None for unordered choices."""
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        low, high, log = dist.low, dist.high, dist.log
    elif isinstance(dist, CategoricalDistribution) and all(isinstance(c, (int, float)) for c in dist.choices):
        ordered = sorted(dist.choices)
        return ordered.index(value) / (len(ordered) - 1) if len(ordered) > 1 else None
    else:
        return None
    if high <= low:
        return None
    if log:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


# --- the rules ---------------------------------------------------------------------------------------

def edge_advice(study: optuna.Study, found: Optional[dict[str, float]] = None) -> list[str]:
    """The best value at the edge of its range, for each parameter that matters (not one fANOVA finds
    hardly matters: where its best lies is noise, and the advice to freeze it would contradict this
    one), once the trials can rank the parameters (:func:`too_few_to_rank`: the best of 3 random trials sat at
    an edge of one of 2 parameters more often than not). Ordered numeric choices (e.g. batch sizes)
    are spoken of as choices; unordered ones and a choice of two have no edge. Where several trials
    score exactly as the best (:func:`tied_best`), the edge is advised only when they all sit at it: 20
    perfect fits (0) over x in [0.5, 1] advised 'widen x upwards' from the first of them, at 0.91."""
    best = top_trials(study, 1)
    if not best or too_few_to_rank(study):
        return []
    found = importances(study) if found is None else found
    tied = tied_best(study)
    advice = []
    for name, dist in best[0].distributions.items():
        value, where = best[0].params[name], position(best[0].params[name], dist)
        if where is None or dist.single() or found.get(name, 1.0) < UNIMPORTANT or EDGE < where < 1 - EDGE:
            continue
        low = where <= EDGE
        others = [position(t.params[name], dist) for t in tied if name in t.params]
        if not all(w is not None and (w <= EDGE if low else w >= 1 - EDGE) for w in others):
            continue  # trials as good as the best lie inside the range: the optimum is not at this edge
        if isinstance(dist, CategoricalDistribution):
            if len(dist.choices) > 2:
                choices = ", ".join(map(_fmt, sorted(dist.choices)))
                advice.append(f"the best {name}={_fmt(value)} is the {'smallest' if low else 'largest'} of its choices "
                              f"({choices}): add a {'smaller' if low else 'larger'} one")
            continue
        side = "downwards" if low else "upwards"
        how = (" by a factor (its range is log-scaled)" if dist.log
               else " (below 0 only if negative values make sense for it)" if low and dist.low == 0 else "")
        advice.append(f"the best {name}={_fmt(value)} sits at the {'low' if low else 'high'} edge of its range "
                      f"[{_fmt(dist.low)}, {_fmt(dist.high)}]: widen it {side}{how}")
    return advice


def tied_best(study: optuna.Study) -> list[FrozenTrial]:
    """The complete trials that score exactly as the best does (perfect fits scoring 0, a metric that
    saturates): which of them is 'the best' is the order they ran in, not the data."""
    best = top_trials(study, 1)
    return [t for t in own_complete(study) if best and t.values[0] == best[0].values[0]]


def unimportant_advice(study: optuna.Study, found: Optional[dict[str, float]] = None) -> list[str]:
    """The parameters that hardly matter, in one line with the best trial's values to freeze them at
    (a 20-parameter study made 18 lines of it); not before the trials can rank them (:func:`too_few_to_rank`)."""
    if too_few_to_rank(study):
        return []
    found = importances(study) if found is None else found
    best = top_trials(study, 1)
    if not found or not best:
        return []
    frozen = {name: value for name, value in found.items() if value < UNIMPORTANT and name in best[0].params}
    if len(frozen) == 1:
        ((name, value),) = frozen.items()
        return [f"{name} hardly matters (importance {value:.3f} < {UNIMPORTANT}): freeze it at "
                f"{_fmt(best[0].params[name])} (the best trial's) and search the rest"]
    values = ", ".join(f"{name}={_fmt(best[0].params[name])}" for name in frozen)
    return [f"{len(frozen)} parameters hardly matter (importance < {UNIMPORTANT} each): freeze them at the best "
            f"trial's values ({values}) and search the rest"] if frozen else []


def spread(values: Sequence[float]) -> tuple[float, str]:
    """How far apart the trials' values typically lie, and what that measure is called: their
    interquartile range; where the middle half of them tie (many perfect fits scoring 0), their standard
    deviation; 0 when they all do."""
    if len(values) < 2:
        return 0.0, "standard deviation"
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return (high - low, "interquartile range") if high > low else (statistics.pstdev(values), "standard deviation")


def convergence(study: optuna.Study) -> Optional[dict[str, Any]]:
    """When the best was found and how much the last quarter of the complete trials improved it, in
    units of the spread of their values (:func:`spread`; ``last_quarter_gain``); None for fewer than 8
    complete trials, several objectives, or values that do not vary (nothing to measure against)."""
    trials = sorted(own_complete(study), key=lambda t: t.number)
    if len(trials) < 8 or len(study.directions) != 1:
        return None
    width, measure = spread([t.value for t in trials])
    if width == 0:
        return None
    sign = _sign(study)
    best_so_far: list[float] = []
    for t in trials:
        best_so_far.append(t.value if not best_so_far else min(best_so_far[-1], t.value, key=lambda v: sign * v))
    cut = len(trials) - len(trials) // 4 - 1  # the best before the last quarter
    before, after = best_so_far[cut], best_so_far[-1]
    found_at = next(i for i, v in enumerate(best_so_far) if v == after)
    return {"best_trial": trials[found_at].number, "found_at": found_at + 1, "complete": len(trials),
            "before": before, "after": after, "spread": f"{measure} {_fmt(width)}",
            "last_quarter_gain": sign * (before - after) / width}


def convergence_line(found: dict[str, Any]) -> str:
    """The report's line: where the best was found, what the last quarter did to it, and what that means."""
    moved = (f"improved the best from {_fmt(found['before'])} to {_fmt(found['after'])}, "
             f"{found['last_quarter_gain']:.2g} of the spread of the trials' values ({found['spread']})"
             if found["last_quarter_gain"] else f"did not improve the best ({_fmt(found['after'])})")
    verdict = ("still improving: run more trials" if found["last_quarter_gain"] > IMPROVING
               else "settled: more trials of this search are unlikely to help much")
    return (f"convergence: best found by trial {found['best_trial']} ({found['found_at']} of {found['complete']} "
            f"complete trials); the last quarter of the trials {moved}: {verdict}")


def convergence_advice(study: optuna.Study) -> list[str]:
    found = convergence(study)
    if found is None or found["last_quarter_gain"] <= IMPROVING:
        return []
    return [f"not converged: the last quarter of the trials improved the best from {_fmt(found['before'])} to "
            f"{_fmt(found['after'])}, {found['last_quarter_gain']:.2g} of the spread of the trials' values "
            f"({found['spread']}; best found at complete trial {found['found_at']} of "
            f"{found['complete']}): run more trials"]


def overfitting_advice(study: optuna.Study) -> list[str]:
    """Only where the objective is a validation loss, minimised: a maximised metric (accuracy) or
    another one (val/rmse against an MSE training loss) is no measure against the training loss."""
    metric = study.user_attrs.get(METRIC)
    if study.directions != [optuna.study.StudyDirection.MINIMIZE] or (metric and not str(metric).endswith("loss")):
        return []
    pairs = [(t.number, min(t.intermediate_values.values()) if t.intermediate_values else t.value,
              t.user_attrs["final_train_loss"]) for t in top_trials(study, TOP) if "final_train_loss" in t.user_attrs]
    pairs = [(n, val, train) for n, val, train in pairs if train and train > 0]
    if len(pairs) < 2:
        return []
    ratio = statistics.median(val / train for _, val, train in pairs)
    if ratio <= OVERFIT_RATIO:
        return []
    shown = ", ".join(f"#{n} {val:.4g} vs {train:.4g}" for n, val, train in pairs)
    return [f"the top trials overfit: validation loss {ratio:.1f}x their final training loss ({shown}); "
            "add regularisation (dropout, weight decay), more data, or stop earlier"]


# a number standing alone (a value, a count), not one inside a name: val/r2, conv2d, fp16 stay as written
_NUMBER = re.compile(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?")


def failure_groups(study: optuna.Study) -> dict[str, list[int]]:
    """Failed trials by reason, numbers in a reason replaced by # so that one cause is one group; a
    group whose trials all failed with the same words is keyed by them as written."""
    groups: dict[str, list[int]] = defaultdict(list)
    reasons: dict[str, set[str]] = defaultdict(set)
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if is_surplus(t):
            continue
        reason = str(t.user_attrs.get("fail_reason", "no reason recorded"))
        groups[_NUMBER.sub("#", reason)].append(t.number)
        reasons[_NUMBER.sub("#", reason)].add(reason)
    shown = {(next(iter(reasons[key])) if len(reasons[key]) == 1 else key): numbers for key, numbers in groups.items()}
    return dict(sorted(shown.items(), key=lambda item: -len(item[1])))


def failure_advice(study: optuna.Study) -> list[str]:
    return [f"{len(numbers)} trial(s) failed with \"{reason}\" (trials {listed(numbers)})"
            for reason, numbers in failure_groups(study).items()]


def listed(numbers: Sequence[int], most: int = 10) -> str:
    """Trial numbers for a line of the report: the first ``most``, then how many more (a sweep of
    10,000 trials with half of them failed made one line of 5,000 numbers)."""
    shown = ", ".join(map(str, numbers[:most]))
    return shown + (f" and {len(numbers) - most} more" if len(numbers) > most else "")


def not_finite_advice(study: optuna.Study) -> list[str]:
    """Complete trials whose value is inf or nan: their runs diverged; every other rule leaves them out."""
    trials = not_finite(study)
    if not trials:
        return []
    values = sorted({_fmt(v) for t in trials for v in t.values if not math.isfinite(v)})
    numbers = listed([t.number for t in trials])
    return [f"{len(trials)} complete trial(s) scored {' / '.join(values)} (trials {numbers}): "
            "their runs diverged (a learning rate too high?); the analysis leaves them out"]


def no_variation_advice(study: optuna.Study) -> list[str]:
    """Every complete trial scored the same: the parameters made no difference to the metric."""
    complete = own_complete(study)
    if len(complete) < 2 or len({t.values[0] for t in complete}) > 1:
        return []
    return [f"all {len(complete)} complete trials scored {_fmt(complete[0].values[0])}: the searched parameters made "
            "no difference to it; check that the optimized metric is one training changes"]


def disagreement_advice(study: optuna.Study, found: Optional[dict[str, float]] = None) -> list[str]:
    if len(study.directions) != 1:
        return []
    top = top_trials(study, TOP)
    if len(top) < TOP:
        return []
    best, (width, _) = top[0].value, spread([t.value for t in own_complete(study)])
    if any(abs(t.value - best) > TIE * width for t in top):
        return []  # the best stands out: no tie to break
    found = importances(study) if found is None else found
    advice = []
    for name, dist in top[0].distributions.items():
        if found and found.get(name, 1.0) < UNIMPORTANT:
            continue  # that one hardly matters: its spread says nothing
        where = [position(t.params.get(name), dist) for t in top if name in t.params]
        if None in where or len(where) < TOP:
            continue
        if max(where) - min(where) >= DISAGREE_SPREAD:
            values = ", ".join(_fmt(t.params[name]) for t in top)
            advice.append(f"the top {TOP} trials score alike (within {TIE:.0%} of the spread of the trials' values) "
                          f"but disagree on {name} ({values}): the optimum is not pinned down; run more trials")
    return advice


def recommendations(study: optuna.Study, found: Optional[dict[str, float]] = None) -> list[str]:
    """Every rule's advice, in the order of the module's docstring (``found``: the study's
    :func:`importances`, when already computed: fANOVA on many trials takes seconds)."""
    single = len(study.directions) == 1
    found = (importances(study) if found is None else found) if single else {}
    advice = edge_advice(study, found) if single else []
    if single:
        advice += unimportant_advice(study, found) + convergence_advice(study)
    advice += all_pruned_advice(study) + pruning_advice(study)
    advice += overfitting_advice(study) + failure_advice(study)
    if single:
        advice += disagreement_advice(study, found)
    return advice + not_finite_advice(study) + no_variation_advice(study)
