"""Two-objective searches (validation loss and training time, or GPU energy where it is measured):
the Pareto front, which configuration to take from it, and its plot.

Optuna has no single best trial in such a study (``study.best_trials`` is the front) and cannot prune
it, so these searches run every trial to its end (conf/hparams_search/optuna_two_objectives.yaml).
Refine and the next stage take one configuration from the front by a rule the user sets:

    pick: {within: 0.01, then: 1}

"of the front trials whose objective 0 is within 1 % of the front's best objective 0, the best by
objective 1": with objectives [val/loss, fit_seconds], the fastest trial within 1 % of the best loss.
Without a rule: the best by objective 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from trainlab.config.errors import UserError
from trainlab.run.durable import save_figure

log = logging.getLogger(__name__)

FRONT_PLOT = "pareto_front.png"


def pick(front: Sequence[FrozenTrial], directions: Sequence[StudyDirection],
         rule: Optional[Mapping[str, Any]] = None) -> FrozenTrial:
    """One trial of a front by ``rule`` ({within: relative tolerance on objective 0, then: index})."""
    if not front:
        raise UserError("the Pareto front is empty: no trial completed")
    within, then = check_pick(rule, len(directions))
    signs = [1 if d == StudyDirection.MINIMIZE else -1 for d in directions]
    first = min(front, key=lambda t: signs[0] * t.values[0])
    if within is None:
        return first
    best = first.values[0]
    if within > 0 and best == 0:  # a tolerance relative to 0 is none
        log.warning("pick within=%g is relative to the best first objective, which is 0: only trials that score 0 are "
                    "within it", within)
    limit = best + abs(best) * float(within) * signs[0]
    close = [t for t in front if signs[0] * t.values[0] <= signs[0] * limit]
    return min(close, key=lambda t: (signs[then] * t.values[then], signs[0] * t.values[0]))


def check_pick(rule: Optional[Mapping[str, Any]], objectives: int) -> tuple[Optional[float], int]:
    """(within, then) of a pick rule, checked: the sweeper checks ``hydra.sweeper.pick`` with it before
    the first trial (a bad rule was found only when a stage or the results picked, after the trials)."""
    rule = dict(rule or {})
    unknown = set(rule) - {"within", "then"}
    if unknown:
        raise UserError(f"pick: unknown key(s) {', '.join(sorted(unknown))}; use within (e.g. 0.01) and then "
                        "(the objective to take the best of, e.g. 1)")
    within, then = rule.get("within"), rule.get("then", 1)
    if within is not None and (isinstance(within, bool) or not isinstance(within, (int, float)) or within < 0):
        raise UserError(f"pick.within={within} must be a fraction of 0 or more: how far from the best first objective "
                        "a trial may be (0.01: within 1 %)")
    if isinstance(then, bool) or not isinstance(then, int) or not 0 <= then < objectives:
        raise UserError(f"pick.then={then}: the study has objectives 0..{objectives - 1}; give the one to take the "
                        "best of among the trials within reach (e.g. 1)")
    return (None if within is None else float(within)), then


def front_lines(front: Sequence[FrozenTrial], names: Sequence[str],
                directions: Sequence[StudyDirection] = (StudyDirection.MINIMIZE,)) -> list[str]:
    """The front as report lines, best first objective first (the largest first where it is maximised)."""
    lines = [f"Pareto front ({len(front)} trials; {' / '.join(names)}):"]
    sign = 1 if directions[0] == StudyDirection.MINIMIZE else -1
    for t in sorted(front, key=lambda t: sign * t.values[0]):
        values = ", ".join(f"{n}={v:.5g}" for n, v in zip(names, t.values))
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        lines.append(f"  #{t.number}: {values}  [{params}]")
    return lines


def plot_front(study: optuna.Study, names: Sequence[str], out_dir: Optional[Path]) -> Optional[Path]:
    """Every complete trial, the front highlighted (Optuna's matplotlib Pareto plot), saved in ``out_dir``
    (None: drawn, not saved)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_pareto_front

    with warnings.catch_warnings():  # "experimental": noise for a reader of the report
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            axes = plot_pareto_front(study, target_names=list(names))
        except (ValueError, RuntimeError):
            return None
    path = Path(out_dir or ".") / FRONT_PLOT
    if out_dir is not None:
        save_figure(axes.figure, path, dpi=110, bbox_inches="tight")
    plt.close(axes.figure)
    return path
