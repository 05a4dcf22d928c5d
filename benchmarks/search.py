"""What pruning and parallel trials buy in a real Optuna sweep (``train.py -m hparams_search=optuna``).

Every sweep runs as a subprocess, exactly as a user types it, from the repository root, on the
embedded synthetic series made small (``data.source.num_rows=1000 data.window=16``) and with one
torch thread per trial (``hardware.num_threads=1``). Two comparisons:

* pruning: ``hydra/sweeper/pruner=median`` against ``hydra/sweeper/pruner=nop``. Both arms of a pair
  search the same space (the LSTM's, conf/hparams_search/space/lstm.yaml) with the same TPE seed and
  number of trials, one trial at a time (basic launcher); the median pruner's settings are printed
  and given to the median arm only (the nop pruner has none). Pair i uses sampler seed
  ``--seed + i``, so that several pairs show more than one search path. Figures per sweep: epochs
  trained (every epoch a trial reported to the study: ``epochs_trained`` in
  optimization_results.yaml), the command's wall time, and the best ``val/loss`` (``best_value``).
  Targets: the median arm trains <= 50 % of the nop arm's epochs, and its best value is at most 2 %
  worse than the nop arm's.
* parallel: ``hydra.sweeper.n_jobs=2`` against ``n_jobs=1``, both with ``hydra/launcher=joblib``
  (trials in worker processes). The random sampler with one seed and no pruner make both arms train
  the same trials for the same epochs, so the wall times differ only by how the trials are run.
  Target: wall(n_jobs=2) / wall(n_jobs=1) <= 0.6 on 2 cores. The table also gives the span from the
  first trial's start to the last one's end (optuna.db), which leaves out the command's start-up.

The arms of a pair or round alternate which goes first, so that drift in the machine's load hits
both alike; the verdicts use the medians over pairs (pruning) and rounds (parallel). Wall times are
only meaningful on a quiet machine: the load average is printed before and after.

Run: ``make bench-search`` (the full setting, about 6 minutes on 2 quiet cores), or
``.venv/bin/python benchmarks/search.py --quick`` (a few minutes; to check the script, figures only
indicative), ``--only pruning|parallel``, ``--keep DIR`` to keep the sweep folders for
``make analyze SWEEP=DIR/<sweep>``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]

PRUNED_EPOCHS_TARGET = 0.50  # median arm's epochs / nop arm's
BEST_GAP_TARGET = 0.02  # median arm's best may be this much worse than nop's (relative)
PARALLEL_TARGET = 0.60  # wall(n_jobs=2) / wall(n_jobs=1)

# small data, one thread per trial, quiet runs: the same in every sweep of both comparisons
COMMON = ["data.source.num_rows=1000", "data.window=16", "hardware.num_threads=1",
          "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


@dataclass(frozen=True)
class Plan:
    """How big each comparison is; ``FULL`` is what README quotes, ``QUICK`` checks the script."""

    trials: int  # pruning: trials per sweep
    epochs: int  # pruning: trainer.max_epochs per trial
    startup_trials: int  # median pruner: trials that always finish, to learn the median from
    warmup_steps: int  # median pruner: 0-based epochs before a trial may be pruned
    pairs: int  # (median, nop) pairs
    parallel_trials: int
    parallel_epochs: int
    rounds: int  # (n_jobs=1, n_jobs=2) rounds


# 20 trials of 10 epochs: what conf/hparams_search/optuna.yaml runs. The median pruner keeps its 5
# startup trials; warm-up 1 instead of 3 lets it stop a trial after 2 of the 10 epochs.
FULL = Plan(trials=20, epochs=10, startup_trials=5, warmup_steps=1, pairs=2,
            parallel_trials=10, parallel_epochs=4, rounds=2)
QUICK = Plan(trials=8, epochs=5, startup_trials=3, warmup_steps=1, pairs=1,
             parallel_trials=4, parallel_epochs=3, rounds=1)


@dataclass
class Sweep:
    """One finished sweep, read back from its folder."""

    arm: str
    overrides: list[str]
    wall: float  # seconds, the whole command
    epochs: int = 0
    best: float = float("nan")
    states: dict[str, int] = field(default_factory=dict)
    span: float = float("nan")  # first trial start -> last trial end, seconds
    params: dict[str, str] = field(default_factory=dict)  # the search space that ran
    patience: Optional[int] = None  # early stopping's, None when it is off


def run_sweep(arm: str, overrides: list[str], sweep_dir: Path, log_dir: Path) -> Sweep:
    """Run ``train.py -m hparams_search=optuna <overrides>`` into ``sweep_dir`` and read its results."""
    argv = [sys.executable, "train.py", "-m", "hparams_search=optuna", *overrides, *COMMON,
            f"hydra.sweep.dir={sweep_dir}", f"paths.log_dir={log_dir}"]
    env = {**os.environ, "TRAINLAB_ROOT": str(ROOT)}  # never another checkout's configs
    print(f"  {arm:<9} python {shlex.join(argv[1:])}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    sweep = Sweep(arm, overrides, time.perf_counter() - start)
    if done.returncode != 0:
        tail = "\n".join("    " + line for line in (done.stdout + done.stderr).splitlines()[-15:])
        sys.exit(f"the {arm} sweep failed (exit {done.returncode}):\n{tail}")

    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    sweep.epochs = int(results["epochs_trained"])
    sweep.best = float(results["best_value"]) if results["best_value"] is not None else float("nan")
    sweep.states = results["trials"]
    with (sweep_dir / "trials.csv").open() as handle:  # the same count, read the other way: a check
        assert sum(int(row["epochs"] or 0) for row in csv.DictReader(handle)) == sweep.epochs
    sweep.span = trial_span(sweep_dir)
    multirun = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())
    sweep.params = dict(multirun["hydra"]["sweeper"]["params"] or {})
    stopping = (multirun.get("callbacks") or {}).get("early_stopping")
    sweep.patience = stopping["patience"] if stopping else None
    return sweep


def trial_span(sweep_dir: Path) -> float:
    """Seconds from the first trial's start to the last trial's end, from the study file."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir / 'optuna.db'}")
    trials = [t for t in study.trials if t.datetime_start and t.datetime_complete]
    if not trials:
        return float("nan")
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def stopping(sweep: Sweep) -> str:
    return f"early stopping patience {sweep.patience}" if sweep.patience is not None else "no early stopping"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --- pruning: median against nop ----------------------------------------------------------------------


def pruning_overrides(plan: Plan, arm: str, seed: int) -> list[str]:
    shared = [f"hydra.sweeper.n_trials={plan.trials}", f"trainer.max_epochs={plan.epochs}",
              f"hydra.sweeper.sampler.seed={seed}"]
    if arm == "nop":
        return ["hydra/sweeper/pruner=nop", *shared]
    return ["hydra/sweeper/pruner=median", f"hydra.sweeper.pruner.n_startup_trials={plan.startup_trials}",
            f"hydra.sweeper.pruner.n_warmup_steps={plan.warmup_steps}", *shared]


def run_pruning(plan: Plan, seed: int, out: Path) -> list[tuple[Sweep, Sweep]]:
    pairs = []
    for i in range(plan.pairs):
        order = ("median", "nop") if i % 2 == 0 else ("nop", "median")
        print(f"[pruning pair {i + 1}/{plan.pairs}] sampler seed {seed + i}", flush=True)
        done = {arm: run_sweep(arm, pruning_overrides(plan, arm, seed + i), out / f"pair{i + 1}-{arm}", out / "runs")
                for arm in order}
        pairs.append((done["median"], done["nop"]))
    return pairs


def print_pruning(plan: Plan, seed: int, pairs: list[tuple[Sweep, Sweep]]) -> None:
    space = pairs[0][0].params
    print()
    print(f"PRUNING: median vs nop, {plan.trials} trials of <= {plan.epochs} epochs each "
          f"({stopping(pairs[0][0])}), one at a time (basic launcher), TPE sampler (seed {seed} + pair - 1)")
    print(f"  median pruner: n_startup_trials={plan.startup_trials}, n_warmup_steps={plan.warmup_steps} "
          "(prunes from 0-based epoch n_warmup_steps on), interval_steps=1, n_min_trials=1")
    print(f"  space: {', '.join(f'{k}: {v}' for k, v in space.items())}")
    header = f"{'pair':<6}{'arm':<8}{'seed':>6}{'epochs':>8}{'complete':>10}{'pruned':>8}{'wall s':>9}" \
             f"{'best val/loss':>15}"
    print(header)
    print("-" * len(header))
    epoch_ratios, gaps, wall_ratios = [], [], []
    for i, (med, nop) in enumerate(pairs, 1):
        for sweep in (med, nop):
            print(f"{i:<6}{sweep.arm:<8}{seed + i - 1:>6}{sweep.epochs:>8}{sweep.states['complete']:>10}"
                  f"{sweep.states['pruned']:>8}{sweep.wall:>9.1f}{sweep.best:>15.5f}")
        epoch_ratios.append(med.epochs / nop.epochs)
        gaps.append((med.best - nop.best) / abs(nop.best))
        wall_ratios.append(med.wall / nop.wall)
        print(f"{'':<6}{'ratio':<8}{'':>6}{epoch_ratios[-1]:>8.2f}{'':>18}{wall_ratios[-1]:>9.2f}"
              f"{gaps[-1]:>+14.1%}")
    print("-" * len(header))
    failed = sum(s.states["fail"] for pair in pairs for s in pair)
    if failed:
        print(f"note: {failed} trial(s) FAILED; their epochs count, their values do not")
    epoch_ratio, gap, wall_ratio = median(epoch_ratios), median(gaps), median(wall_ratios)
    print(f"epochs median/nop = {epoch_ratio:.2f} (median over {len(pairs)} pair(s)): "
          f"{verdict(epoch_ratio <= PRUNED_EPOCHS_TARGET)} (target <= {PRUNED_EPOCHS_TARGET:.2f}); "
          f"pairs meeting it: {sum(r <= PRUNED_EPOCHS_TARGET for r in epoch_ratios)}/{len(pairs)}")
    print(f"best val/loss, median vs nop = {gap:+.1%} (median over pairs; + is worse): "
          f"{verdict(gap <= BEST_GAP_TARGET)} (target <= +{BEST_GAP_TARGET:.0%}); "
          f"pairs meeting it: {sum(g <= BEST_GAP_TARGET for g in gaps)}/{len(pairs)}")
    print(f"wall median/nop = {wall_ratio:.2f} (no target; includes each command's start-up)")


# --- parallel: n_jobs=2 against n_jobs=1 --------------------------------------------------------------


def parallel_overrides(plan: Plan, n_jobs: int, seed: int) -> list[str]:
    return ["hydra/launcher=joblib", f"hydra.sweeper.n_jobs={n_jobs}", "hydra/sweeper/sampler=random",
            f"hydra.sweeper.sampler.seed={seed}", "hydra/sweeper/pruner=nop",
            f"hydra.sweeper.n_trials={plan.parallel_trials}", f"trainer.max_epochs={plan.parallel_epochs}"]


def run_parallel(plan: Plan, seed: int, out: Path) -> list[tuple[Sweep, Sweep]]:
    rounds = []
    for i in range(plan.rounds):
        order = (1, 2) if i % 2 == 0 else (2, 1)
        print(f"[parallel round {i + 1}/{plan.rounds}]", flush=True)
        done = {n: run_sweep(f"n_jobs={n}", parallel_overrides(plan, n, seed), out / f"round{i + 1}-jobs{n}",
                             out / "runs") for n in order}
        rounds.append((done[1], done[2]))
    return rounds


def print_parallel(plan: Plan, seed: int, rounds: list[tuple[Sweep, Sweep]]) -> None:
    print()
    print(f"PARALLEL: n_jobs=2 vs n_jobs=1, hydra/launcher=joblib, {plan.parallel_trials} trials of "
          f"<= {plan.parallel_epochs} epochs ({stopping(rounds[0][0])}), random sampler seed {seed}, no pruner, "
          "1 torch thread per trial")
    header = f"{'round':<7}{'arm':<10}{'epochs':>8}{'complete':>10}{'wall s':>9}{'trial span s':>14}"
    print(header)
    print("-" * len(header))
    ratios, span_ratios = [], []
    for i, (one, two) in enumerate(rounds, 1):
        for sweep in (one, two):
            print(f"{i:<7}{sweep.arm:<10}{sweep.epochs:>8}{sweep.states['complete']:>10}{sweep.wall:>9.1f}"
                  f"{sweep.span:>14.1f}")
        ratios.append(two.wall / one.wall)
        span_ratios.append(two.span / one.span)
        print(f"{'':<7}{'ratio':<10}{'':>18}{ratios[-1]:>9.2f}{span_ratios[-1]:>14.2f}")
        if one.epochs != two.epochs:
            print(f"note: the arms trained {one.epochs} and {two.epochs} epochs: not the same work")
    print("-" * len(header))
    ratio, span_ratio = median(ratios), median(span_ratios)
    print(f"wall n_jobs=2 / n_jobs=1 = {ratio:.2f} (median over {len(rounds)} round(s)): "
          f"{verdict(ratio <= PARALLEL_TARGET)} (target <= {PARALLEL_TARGET:.2f}); "
          f"trial span ratio {span_ratio:.2f} (without the command's start-up)")


# --- the command -------------------------------------------------------------------------------------


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"small setting to check the script: {QUICK}")
    parser.add_argument("--plan", nargs="+", default=[], metavar="FIELD=N",
                        help="change fields of the setting, e.g. --plan pairs=3 rounds=3 (fields: "
                             f"{', '.join(f.name for f in dataclasses.fields(Plan))})")
    parser.add_argument("--only", choices=("pruning", "parallel"), help="run one comparison only")
    parser.add_argument("--seed", type=int, default=3407, help="sampler seed of the first pair / every round")
    parser.add_argument("--keep", type=Path, help="write the sweep folders here and keep them (default: a temp dir)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    names = {f.name for f in dataclasses.fields(Plan)}
    for item in args.plan:
        name, _, value = item.partition("=")
        if name not in names or not value.isdigit() or int(value) < (0 if "steps" in name else 1):
            parser.error(f"--plan {item}: expected FIELD=N with FIELD one of {', '.join(sorted(names))} "
                         "and N a whole number (at least 1, warmup_steps at least 0)")
        plan = dataclasses.replace(plan, **{name: int(value)})
    args.setting = plan
    return args


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    plan = args.setting
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="trainlab-bench-search-") as tmp:
        out = args.keep.resolve() if args.keep else Path(tmp)
        pruning = run_pruning(plan, args.seed, out / "pruning") if args.only != "parallel" else []
        parallel = run_parallel(plan, args.seed, out / "parallel") if args.only != "pruning" else []

    print()
    print(f"command : {shlex.join(sys.orig_argv)}")
    changed = f", changed by --plan {' '.join(args.plan)}" if args.plan else ""
    print(f"setting : {'quick' if args.quick else 'full'}{changed}: {plan}")
    print(f"common  : {' '.join(COMMON)}")
    print(f"machine : {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{time.perf_counter() - started:.0f} s in all")
    if pruning:
        print_pruning(plan, args.seed, pruning)
    if parallel:
        print_parallel(plan, args.seed, parallel)


if __name__ == "__main__":
    main()
