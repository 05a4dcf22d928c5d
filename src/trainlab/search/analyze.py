"""Read a finished (or running) sweep: ``python -m trainlab.search.analyze <sweep dir>``.

Prints and writes to the sweep folder (analysis.txt; ``--out <folder>`` elsewhere, and a read-only
sweep folder, a shared project's, is analysed and printed with one warning that nothing was saved): the top-5 trials, parameter importances
(Optuna's fANOVA), the convergence of the best value, pruning statistics (fraction pruned, epochs
saved), the recommendations of :mod:`trainlab.search.advice`, and plots (optimisation history,
importances, parallel coordinates) as PNG files via ``optuna.visualization.matplotlib``. A study with
two objectives gets its Pareto front (listed and plotted, :mod:`trainlab.search.front`) instead of
a top 5.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import optuna
from optuna.trial import TrialState

from trainlab.config.errors import UserError, report_user_errors
from trainlab.run.durable import DiskFull, read_yaml, save_figure, write_atomic
from trainlab.search import advice as rules
from trainlab.search import importance as ranking
from trainlab.search.advice import convergence, recommendations, top_trials  # noqa: F401
from trainlab.search.pruned import pruning_stats  # noqa: F401
from trainlab.search.importance import analysed_study, importances, not_ranked, ranked_study, unranked  # noqa: F401
from trainlab.search.front import front_lines, plot_front
from trainlab.search.sweep_folder import (DAMAGED_RESULTS, RESULTS_YAML, STORAGE_HELP, give_storage, given_sweep,
                                          in_memory, load_sweep_study)
from trainlab.search.trials import best_trials, epochs_run, own_complete
from trainlab.search.shared import is_copied, is_surplus
from trainlab.search.tool_args import ToolParser

REPORT = "analysis.txt"
load_study = load_sweep_study  # the name this module had for it


PARALLEL_PARAMS = 8  # the parallel-coordinate plot's axes: the most important parameters (20 were unreadable)


def plot(study: optuna.Study, out_dir: Optional[Path], found: Optional[dict[str, float]] = None) -> list[Path]:
    """PNG plots in ``out_dir`` (None: drawn, not saved), of the trials the report analyses
    (:func:`analysed_study`: run here, finite values; Optuna's plots read every complete trial, a warm
    start's copies included): the history of the best value, the report's own importances (``found``;
    Optuna's plot ran fANOVA again, unseeded, and disagreed with the report's figures; none when the
    report has none, where it drew one trial's 0.5 / 0.5), and parallel coordinates of the most
    important parameters over the sample fANOVA ranks (:func:`ranked_study`; 20 axes of 10,000 lines
    were unreadable). One that Optuna cannot draw (too few trials) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    found = importances(study) if found is None else found
    shown = list(found)[:PARALLEL_PARAMS] if found else None
    made = []
    for name, draw in (("optimization_history", lambda: vis.plot_optimization_history(analysed_study(study))),
                       ("param_importances", lambda: importance_bars(found)),
                       ("parallel_coordinate", lambda: parallel_coordinates(study, shown))):
        if name == "param_importances" and not found:
            continue
        if name == "parallel_coordinate" and len(own_complete(study)) < 2:
            continue  # one trial's coordinates are a point per axis: an empty plot and three matplotlib warnings
        try:
            with warnings.catch_warnings():  # "experimental since v2.2": noise for a reader of the report
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = draw()
        except (ValueError, RuntimeError):
            continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        path = Path(out_dir or ".") / f"{name}.png"
        if out_dir is not None:
            save_figure(figure, path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        made.append(path)
    return made


def parallel_coordinates(study: optuna.Study, shown: Optional[list[str]]) -> Any:
    """Optuna's parallel coordinates of ``shown`` (None: every parameter) over :func:`ranked_study`,
    its title saying when that is a sample (only the report's importance header said so)."""
    from optuna.visualization import matplotlib as vis

    axes = vis.plot_parallel_coordinate(ranked_study(study), params=shown)
    if sample_note(study):
        axes.set_title(f"Parallel Coordinate Plot: {sample_note(study)}", y=1.03)
    return axes


def sample_note(study: optuna.Study) -> Optional[str]:
    """'a seeded sample of 300 of the 2000 complete trials' where fANOVA and the parallel coordinates
    read a sample (:func:`ranked_study`), else None."""
    complete, most = len(own_complete(study)), ranking.MAX_RANKED
    return f"a seeded sample of {most} of the {complete} complete trials" if complete > most else None


def importance_bars(found: dict[str, float]) -> Any:
    """The report's fANOVA importances as horizontal bars, the most important on top."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 1 + 0.3 * len(found)))
    names = list(found)[::-1]
    axes.barh(names, [found[n] for n in names])
    axes.set_xlabel("importance (fANOVA, they sum to 1)")
    axes.set_title("parameter importances")
    return axes


def objective_names(sweep_dir: Path, study: optuna.Study) -> list[str]:
    """The objectives' names from optimization_results.yaml (val/loss, fit_seconds, ...)."""
    from trainlab.search import results as sweep_results

    results = sweep_dir / RESULTS_YAML
    info = (read_yaml(results, DAMAGED_RESULTS) or {}) if results.is_file() else {}
    if not info.get("objectives"):
        return [f"objective {i}" for i in range(len(study.directions))]
    return sweep_results.objective_names(info)


def report(sweep_dir: Path, out_dir: Optional[Path] = None, save: bool = True) -> str:
    """The analysis as text, written with its plots into ``out_dir`` (default: the sweep folder; nothing
    written when ``save`` is false)."""
    study = in_memory(load_sweep_study(sweep_dir))  # first: a mistyped sweep folder was made, then 'holds no study'
    out = (out_dir or sweep_dir) if save else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file there, or on its way: a traceback
            raise UserError(f"--out '{out}' is a file, or inside one; give a folder for {REPORT} and the plots "
                            "(make analyze ... OUT=<folder>)") from None
    surplus = sum(is_surplus(t) for t in study.get_trials(deepcopy=False))
    copied = sum(is_copied(t) for t in study.get_trials(deepcopy=False))
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    own = len(study.get_trials(deepcopy=False)) - surplus - copied
    if own == 0:
        raise UserError(f"{sweep_dir}: study {study.study_name} has no trial of its own yet: nothing to analyse; run "
                        "(or continue) the sweep first")
    lines = [f"study {study.study_name}: {own} trials"
             + (f" ({running} still running, left out until they end)" if running else "")
             + (f" (and {surplus} surplus, never launched)" if surplus else "")
             + (f" (and {copied} copied from an earlier study, left out)" if copied else "")]
    plots: list[Path] = []
    single = len(study.directions) == 1
    complete = bool(own_complete(study))
    found = importances(study) if complete and single else {}
    if not complete:  # failed or pruned only: nothing to rank or plot, the failures are in the advice
        lines.append("top trials: none, no trial completed" + (" with a finite value" if best_trials(study) else ""))
    elif single:
        tied = len(rules.tied_best(study))
        lines.append("top trials:" if tied < 2 else f"top trials ({tied} complete trials score the best value, "
                     f"{top_trials(study, 1)[0].value:.6g}, exactly: the first {min(tied, 5)} of them are shown "
                     "as they ran; the optimum is a region, not one point):")
        for t in top_trials(study):
            params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
            lines.append(f"  #{t.number}: {t.value:.6g} after {epochs_run(t)} epochs  [{params}]")
        settled = convergence(study)
        if settled:
            lines.append(rules.convergence_line(settled))
        lines += importance_lines(study, found)
    else:
        names = objective_names(sweep_dir, study)
        lines += front_lines(best_trials(study), names, study.directions)
        front_plot = plot_front(analysed_study(study), names, out)
        plots += [front_plot] if front_plot else []
    stats = pruning_stats(study)
    saved = ("epochs saved unknown (no complete trial to measure against)" if stats["epochs_saved"] is None
             else f"{stats['epochs_saved']} saved")
    share = f" ({stats['pruned'] / stats['trials']:.0%} of the trials pruned)" if stats["trials"] else ""
    lines.append(f"pruning: {stats['pruned']} of {stats['trials']} trials pruned, {stats['epochs_trained']} "
                 f"epochs trained, {saved}{share}")
    advice = recommendations(study, found)
    if complete and single and not ranking.too_few_to_rank(study):  # else the importance line says why not
        if not rules.edge_advice(study, found):
            advice.append("no best value at a range edge")
    if complete and not single:
        advice.append("(range edges, importances, convergence and tied top trials judge one objective: not drawn "
                      "for a front)")
    lines += ["recommendations:", *(f"  {a}" for a in advice or ["none"])]
    if complete and single:  # a front's plots have no single target
        plots += plot(study, out, found)
    lines.append("plots: " + ", ".join(p.name for p in plots) + ("" if out else " (not saved)") if plots
                 else f"plots: none ({'too few trials' if complete else 'no trial completed'})")
    text = "\n".join(lines) + "\n"
    if out is not None:
        write_atomic(out / REPORT, text)
    return text


def importance_lines(study: optuna.Study, found: dict[str, float]) -> list[str]:
    """The importances, on how many trials, and the searched parameters left unranked (or why none is)."""
    ranked = len(own_complete(study))
    lines = []
    if found:
        lines.append(f"parameter importance (fANOVA{', on ' + sample_note(study) if sample_note(study) else ''}):")
        lines += [f"  {name}: {value:.3f}" for name, value in found.items()]
    elif ranking.too_few_to_rank(study):
        lines.append(f"parameter importance: not yet ({ranking.too_few_to_rank(study)}; range edges and parameters "
                     "to freeze wait for it too)")
    elif not_ranked(study):
        lines.append(f"parameter importance: none ({not_ranked(study)})")
    lines += [f"  not ranked: {name} (in {n} of {ranked} complete trials: fANOVA ranks the parameters every trial has)"
              for name, n in unranked(study).items()]
    which = rules.choices(study)
    return lines + (["choices:", *which] if which else [])


def main(argv: Optional[list[str]] = None) -> int:
    parser = ToolParser(description=__doc__.splitlines()[0], target="analyze",
                        variables={"--out": "OUT", "--storage": "STORAGE"},
                        overrides=False)
    parser.add_argument("sweep_dir", type=Path, nargs="?", help="outputs/train/multiruns/<date>_<time>_<id>")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder for {REPORT} and the plots (default: the sweep folder)")
    parser.add_argument("--storage", help=STORAGE_HELP)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # a sweep in a read-only folder (a shared project's) is read all the same; what it cannot hold is said
    with report_user_errors():  # none given: one line naming make's SWEEP=
        given_sweep(args.sweep_dir, "analyze", "analyze")
        if args.storage:
            give_storage(args.sweep_dir, args.storage)
    read_only = args.out is None and args.sweep_dir.is_dir() and not os.access(args.sweep_dir, os.W_OK)
    with report_user_errors():
        try:
            text = report(args.sweep_dir, args.out, save=not read_only)
        except Exception as exc:  # a folder it may not write, a full disk: what to do is --out, not paths.log_dir
            unwritable = DiskFull.of(exc)
            if unwritable is None:
                raise
            raise unwritable.then("{Remedy}, or save them elsewhere with --out <folder> (make analyze ... "
                                  "OUT=<folder>), and run it again", "that disk") from None
        print(text, end="")
    if read_only:
        print(f"warning: '{args.sweep_dir}' is not writable: {REPORT} and the plots were not saved; "
              f"add --out <folder> (make analyze ... OUT=<folder>) to save them there", file=sys.stderr, flush=True)
    return _verdict(args.sweep_dir)


def _verdict(sweep_dir: Path) -> int:
    """1, after the sweep's own closing verdict as the last line, for a sweep that ended without a best (every
    trial pruned or failed): its report lists the failures, but nothing is left to refine; else 0."""
    from trainlab.search import results as sweep_results

    study = load_sweep_study(sweep_dir)
    counts = sweep_results.trial_counts(study)
    if best_trials(study) or counts.get("running"):
        return 0
    print(f"error: {sweep_results.no_best_line(str(sweep_dir), counts)}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
