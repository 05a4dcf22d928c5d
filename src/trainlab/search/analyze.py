"""Read a finished (or running) sweep: ``python -m trainlab.search.analyze <sweep dir>``.

Prints and writes to the sweep folder: the top-5 trials, parameter importances (Optuna's fANOVA),
recommendations for parameters whose best value sits at the edge of the searched range, pruning
statistics (trials and epochs saved), and plots (optimisation history, importances, parallel
coordinates) as PNG files via ``optuna.visualization.matplotlib``.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import Optional

import optuna
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from trainlab.search.results import RESULTS_YAML, best_trials, epochs_run
from trainlab.search.shared import is_surplus, open_storage

REPORT = "analysis.txt"
EDGE = 0.1  # a best value within the outer 10 % of its range counts as "at the edge"


def load_study(sweep_dir: Path) -> optuna.Study:
    """The study a sweep folder belongs to (from optimization_results.yaml, else its optuna.db)."""
    results = sweep_dir / RESULTS_YAML
    if results.is_file():
        info = yaml.safe_load(results.read_text())
        storage, name = info["storage"], info["study_name"]
    else:
        storage, name = f"sqlite:///{sweep_dir.resolve() / 'optuna.db'}", sweep_dir.name
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def top_trials(study: optuna.Study, k: int = 5) -> list[FrozenTrial]:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = 1 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1
    return sorted(done, key=lambda t: sign * t.value)[:k]


def importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances; empty when there are too few complete trials to say."""
    try:
        return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        return {}


def _position(value: float, low: float, high: float, log: bool) -> Optional[float]:
    if high <= low:
        return None
    if log:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def edge_advice(study: optuna.Study) -> list[str]:
    """"the best lr sits at the edge of its range: widen it" for every such parameter of the best trial."""
    best = best_trials(study)
    if len(best) != 1:
        return []
    advice = []
    for name, dist in best[0].distributions.items():
        value = best[0].params[name]
        if isinstance(dist, (FloatDistribution, IntDistribution)):
            where = _position(value, dist.low, dist.high, dist.log)
            low, high = dist.low, dist.high
        elif isinstance(dist, CategoricalDistribution) and all(isinstance(c, (int, float)) for c in dist.choices):
            ordered = sorted(dist.choices)
            where = ordered.index(value) / (len(ordered) - 1) if len(ordered) > 2 else None
            low, high = ordered[0], ordered[-1]
        else:
            continue
        if where is None:
            continue
        if where <= EDGE:
            advice.append(f"the best {name}={value:g} sits at the low edge of its range [{low:g}, {high:g}]: "
                          "widen it downwards")
        elif where >= 1 - EDGE:
            advice.append(f"the best {name}={value:g} sits at the high edge of its range [{low:g}, {high:g}]: "
                          "widen it upwards")
    return advice


def pruning_stats(study: optuna.Study) -> dict[str, int]:
    """Pruned trials and the epochs they did not train (against the longest complete trial)."""
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t)]  # never launched
    full = max((epochs_run(t) for t in trials if t.state == TrialState.COMPLETE), default=0)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    return {"trials": len(trials), "pruned": len(pruned), "epochs_trained": sum(epochs_run(t) for t in trials),
            "epochs_saved": sum(max(0, full - epochs_run(t)) for t in pruned)}


def plot(study: optuna.Study, sweep_dir: Path) -> list[Path]:
    """PNG plots beside the study; one that Optuna cannot draw (too few trials) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    made = []
    for name, draw in (("optimization_history", vis.plot_optimization_history),
                       ("param_importances", vis.plot_param_importances),
                       ("parallel_coordinate", vis.plot_parallel_coordinate)):
        try:
            with warnings.catch_warnings():  # "experimental since v2.2": noise for a reader of the report
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = draw(study)
        except (ValueError, RuntimeError):
            continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        path = sweep_dir / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        made.append(path)
    return made


def report(sweep_dir: Path) -> str:
    study = load_study(sweep_dir)
    surplus = sum(is_surplus(t) for t in study.trials)
    lines = [f"study {study.study_name}: {len(study.trials) - surplus} trials"
             + (f" (and {surplus} surplus, never launched)" if surplus else "")]
    if len(study.directions) == 1:
        lines.append("top trials:")
        for t in top_trials(study):
            params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
            lines.append(f"  #{t.number}: {t.value:.6g} after {epochs_run(t)} epochs  [{params}]")
        found = importances(study)
        if found:
            lines.append("parameter importance (fANOVA):")
            lines += [f"  {name}: {value:.3f}" for name, value in found.items()]
        advice = edge_advice(study)
        lines += ["recommendations:", *(f"  {a}" for a in advice)] if advice else ["no best value at a range edge"]
    stats = pruning_stats(study)
    lines.append(f"pruning: {stats['pruned']} of {stats['trials']} trials pruned, {stats['epochs_trained']} epochs "
                 f"trained, {stats['epochs_saved']} saved")
    plots = plot(study, sweep_dir)
    lines.append("plots: " + ", ".join(p.name for p in plots) if plots else "plots: none (too few trials)")
    text = "\n".join(lines) + "\n"
    (sweep_dir / REPORT).write_text(text)
    return text


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="outputs/train/multiruns/<date>_<time>_<id>")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder; give a sweep folder (outputs/train/multiruns/...)",
              file=sys.stderr)
        return 2
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(report(args.sweep_dir), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
