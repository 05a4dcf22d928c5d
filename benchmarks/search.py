"""What pruning, staging, our sweeper and parallel trials buy in real Optuna sweeps.

Every sweep runs as a subprocess, as a user types it (``train.py -m hparams_search=...``), from the
repository root, on the embedded synthetic series made small (``data.source.num_rows=1000
data.window=16``), one torch thread per trial, the seed's LSTM space (hidden 32..128 step 16, layers
1..5, lr log 1e-5..1e-3; batch size fixed at 32) and TPE with the same seeds in every arm. Four
comparisons (``--only`` picks some):

* pruning: arms ``median`` (the seed's: 5 startup trials, 3 warm-up epochs), ``hyperband``
  (min_resource 1, max_resource = the epoch cap, reduction factor 3) and ``nop``, one report per
  epoch, per seed. A separate, labelled row ``median/4`` reports four times per epoch
  (``trainer.val_check_interval=0.25``, warm-up 4x as many checks): more looks, more report overhead.
  Epochs count every epoch a trial trained (fractional for a stop mid-epoch); wall time is printed
  beside them, since epochs alone can be gamed by more reports per epoch. Goals: median <= 0.70 and
  Hyperband <= 0.50 of nop's epochs, each with a best value within 1 % of nop's.
* staged: ``hparams_search=staged`` (architecture, then optimisation, half the trials each) against
  one stage with the same total number of trials, both with the median pruner: best value and epochs.
* peer: the loop a seed user writes by hand (benchmarks/search_peer.py: ``study.optimize(n_jobs=2)``
  with optuna-integration's PyTorchLightningPruningCallback) against ``hydra/launcher=joblib
  hydra.sweeper.n_jobs=2``, same space, trials, seed and median pruner: wall ratio (goal: ours <= 0.8x
  the peer's) and epochs.
* parallel: ``n_jobs=2`` against ``n_jobs=1`` with joblib, random sampler, no pruner (the same trials
  in both arms): wall ratio (target <= 0.60 on 2 cores).

Arms alternate their order from seed to seed, so that drift in the machine's load hits all alike;
verdicts use medians over seeds. Wall times mean something only on a quiet machine: the load average
is printed before and after. Run: ``make bench-search`` (the full setting: long on 2 shared cores),
``--quick`` to check the script (figures only indicative), ``--keep DIR`` to keep the sweep folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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

GOALS = {"median": 0.70, "hyperband": 0.50}  # epochs of the arm / epochs of nop
BEST_GAP = 0.01  # an arm's best may be this much worse than nop's (relative)
PEER_GOAL = 0.80  # wall(ours) / wall(peer)
PARALLEL_GOAL = 0.60  # wall(n_jobs=2) / wall(n_jobs=1)

COMMON = ["data.source.num_rows=1000", "data.window=16", "hardware.num_threads=1", "data.batch_size=32",
          "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


@dataclass(frozen=True)
class Plan:
    """How big each comparison is; ``FULL`` is the issue's setting, ``QUICK`` checks the script."""

    trials: int  # per sweep (pruning, staged, peer)
    epochs: int  # trainer.max_epochs per trial
    startup: int  # median pruner: trials that always finish
    warmup: int  # median pruner: epochs before a trial may be pruned
    seeds: int  # sampler seeds --seed, --seed + 1, ...
    parallel_trials: int
    parallel_epochs: int


FULL = Plan(trials=30, epochs=10, startup=5, warmup=3, seeds=3, parallel_trials=10, parallel_epochs=4)
QUICK = Plan(trials=6, epochs=3, startup=2, warmup=1, seeds=1, parallel_trials=4, parallel_epochs=2)


@dataclass
class Sweep:
    arm: str
    seed: int
    wall: float
    epochs: float = 0.0
    best: float = float("nan")
    states: dict[str, int] = field(default_factory=dict)


def pruner_overrides(plan: Plan, arm: str) -> list[str]:
    if arm == "nop":
        return ["hydra/sweeper/pruner=nop"]
    if arm == "hyperband":
        return ["hydra/sweeper/pruner=hyperband", "hydra.sweeper.pruner.min_resource=1",
                f"hydra.sweeper.pruner.max_resource={plan.epochs}", "hydra.sweeper.pruner.reduction_factor=3"]
    checks = 4 if arm == "median/4" else 1  # reports per epoch; the warm-up counts checks
    finer = ["trainer.val_check_interval=0.25"] if checks > 1 else []
    return ["hydra/sweeper/pruner=median", f"hydra.sweeper.pruner.n_startup_trials={plan.startup}",
            f"hydra.sweeper.pruner.n_warmup_steps={plan.warmup * checks}", *finer]


def run(argv: list[str], label: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRAINLAB_ROOT": str(ROOT), "PYTHONPATH": str(ROOT / "src")}
    print(f"  {label:<11} python {shlex.join(argv[1:])}", flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join("    " + line for line in (done.stdout + done.stderr).splitlines()[-15:])
        sys.exit(f"{label} failed (exit {done.returncode}):\n{tail}")
    return done


def sweep(arm: str, seed: int, overrides: list[str], sweep_dir: Path, search: str = "optuna") -> Sweep:
    """``train.py -m hparams_search=<search> <overrides>`` into ``sweep_dir``; results read back."""
    argv = [sys.executable, "train.py", "-m", f"hparams_search={search}", *overrides, *COMMON,
            f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweep.dir={sweep_dir}", f"paths.log_dir={sweep_dir.parent}/runs"]
    start = time.perf_counter()
    run(argv, arm)
    result = Sweep(arm, seed, time.perf_counter() - start)
    folders = [sweep_dir] if (sweep_dir / "optimization_results.yaml").is_file() else \
        sorted(p.parent for p in sweep_dir.glob("*/optimization_results.yaml"))  # a staged sweep: one per stage
    bests = []
    for folder in folders:
        results = yaml.safe_load((folder / "optimization_results.yaml").read_text())
        result.epochs += float(results["epochs_trained"])
        for state, count in results["trials"].items():
            result.states[state] = result.states.get(state, 0) + count
        bests += [float(results["best_value"])] if results["best_value"] is not None else []
    result.best = min(bests, default=float("nan"))
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(title: str, rows: list[Sweep]) -> None:
    print(f"\n{title}")
    header = f"{'arm':<12}{'seed':>6}{'epochs':>9}{'complete':>10}{'pruned':>8}{'failed':>8}{'wall s':>9}{'best':>11}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r.arm:<12}{r.seed:>6}{r.epochs:>9.1f}{r.states.get('complete', 0):>10}{r.states.get('pruned', 0):>8}"
              f"{r.states.get('fail', 0):>8}{r.wall:>9.1f}{r.best:>11.5f}")


# --- the comparisons ------------------------------------------------------------------------------------

def pruning(plan: Plan, seeds: list[int], out: Path) -> None:
    arms = ["median", "hyperband", "nop", "median/4"]
    rows = []
    for i, seed in enumerate(seeds):
        order = arms if i % 2 == 0 else arms[::-1]
        for arm in order:
            rows.append(sweep(arm, seed, [f"hydra.sweeper.n_trials={plan.trials}", f"trainer.max_epochs={plan.epochs}",
                                          *pruner_overrides(plan, arm)], out / f"{arm.replace('/', 'x')}-{seed}"))
    table(f"PRUNING: {plan.trials} trials of <= {plan.epochs} epochs, TPE, one at a time; median: "
          f"{plan.startup} startup trials, warm-up {plan.warmup} epochs; median/4 (separate row): 4 reports per "
          "epoch", rows)
    nop = {r.seed: r for r in rows if r.arm == "nop"}
    for arm in ("median", "hyperband", "median/4"):
        mine = [r for r in rows if r.arm == arm]
        ratio = median([r.epochs / nop[r.seed].epochs for r in mine])
        wall = median([r.wall / nop[r.seed].wall for r in mine])
        gap = median([(r.best - nop[r.seed].best) / abs(nop[r.seed].best) for r in mine])
        goal = GOALS.get(arm)
        print(f"{arm:<10} epochs/nop {ratio:.2f}" + (f" ({verdict(ratio <= goal)}, goal <= {goal:.2f})" if goal else
                                                      " (no goal: a separate row)")
              + f", wall/nop {wall:.2f}, best vs nop {gap:+.2%} ({verdict(gap <= BEST_GAP)}, goal <= +{BEST_GAP:.0%})"
              + f"; medians over {len(mine)} seed(s)")


def staged(plan: Plan, seeds: list[int], out: Path) -> None:
    half = plan.trials // 2
    rows = []
    for i, seed in enumerate(seeds):
        runs = [("one stage", "optuna", [f"hydra.sweeper.n_trials={plan.trials}"]),
                ("staged", "staged", [f"hydra.sweeper.stage_trials=[{half},{plan.trials - half}]"])]
        for arm, search, extra in (runs if i % 2 == 0 else runs[::-1]):
            rows.append(sweep(arm, seed, [*extra, f"trainer.max_epochs={plan.epochs}", *pruner_overrides(plan, "median")],
                              out / f"{arm.replace(' ', '')}-{seed}", search=search))
    table(f"STAGED vs ONE STAGE: {plan.trials} trials in all, median pruner", rows)
    one = {r.seed: r for r in rows if r.arm == "one stage"}
    two = [r for r in rows if r.arm == "staged"]
    print(f"staged best vs one stage {median([(r.best - one[r.seed].best) / abs(one[r.seed].best) for r in two]):+.2%}, "
          f"epochs ratio {median([r.epochs / one[r.seed].epochs for r in two]):.2f} (medians; no goal)")


def peer(plan: Plan, seeds: list[int], out: Path) -> None:
    rows = []
    for i, seed in enumerate(seeds):
        for arm in (("ours", "peer") if i % 2 == 0 else ("peer", "ours")):
            if arm == "ours":
                rows.append(sweep("ours", seed, ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                                                 f"hydra.sweeper.n_trials={plan.trials}", f"trainer.max_epochs={plan.epochs}",
                                                 *pruner_overrides(plan, "median")], out / f"ours-{seed}"))
                continue
            argv = [sys.executable, "benchmarks/search_peer.py", f"--trials={plan.trials}", "--jobs=2", f"--seed={seed}",
                    f"--startup={plan.startup}", f"--warmup={plan.warmup}", f"--out={out / f'peer-{seed}'}", "--",
                    *COMMON, f"trainer.max_epochs={plan.epochs}"]
            start = time.perf_counter()
            found = json.loads(run(argv, "peer").stdout.strip().splitlines()[-1])
            rows.append(Sweep("peer", seed, time.perf_counter() - start, found["epochs"],
                              found["best"] if found["best"] is not None else float("nan"), found["states"]))
    table(f"PEER: hand-written study.optimize(n_jobs=2) + PyTorchLightningPruningCallback vs hydra/launcher=joblib "
          f"n_jobs=2; {plan.trials} trials, median pruner", rows)
    theirs = {r.seed: r for r in rows if r.arm == "peer"}
    ours = [r for r in rows if r.arm == "ours"]
    ratio = median([r.wall / theirs[r.seed].wall for r in ours])
    print(f"wall ours/peer {ratio:.2f} ({verdict(ratio <= PEER_GOAL)}, goal <= {PEER_GOAL}); epochs ours/peer "
          f"{median([r.epochs / theirs[r.seed].epochs for r in ours]):.2f}")


def parallel(plan: Plan, seeds: list[int], out: Path) -> None:
    rows = []
    for i, seed in enumerate(seeds):
        for jobs in ((1, 2) if i % 2 == 0 else (2, 1)):
            rows.append(sweep(f"n_jobs={jobs}", seed, [
                "hydra/launcher=joblib", f"hydra.sweeper.n_jobs={jobs}", "hydra/sweeper/sampler=random",
                "hydra/sweeper/pruner=nop", f"hydra.sweeper.n_trials={plan.parallel_trials}",
                f"trainer.max_epochs={plan.parallel_epochs}"], out / f"jobs{jobs}-{seed}"))
    table(f"PARALLEL: joblib, {plan.parallel_trials} trials of {plan.parallel_epochs} epochs, random sampler, no pruner",
          rows)
    one = {r.seed: r for r in rows if r.arm == "n_jobs=1"}
    ratio = median([r.wall / one[r.seed].wall for r in rows if r.arm == "n_jobs=2"])
    print(f"wall n_jobs=2 / n_jobs=1 {ratio:.2f} ({verdict(ratio <= PARALLEL_GOAL)}, goal <= {PARALLEL_GOAL})")


COMPARISONS = {"pruning": pruning, "staged": staged, "peer": peer, "parallel": parallel}


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"small setting to check the script: {QUICK}")
    parser.add_argument("--plan", nargs="+", default=[], metavar="FIELD=N",
                        help=f"change fields of the setting ({', '.join(f.name for f in dataclasses.fields(Plan))})")
    parser.add_argument("--only", nargs="+", choices=sorted(COMPARISONS), help="run these comparisons only")
    parser.add_argument("--seed", type=int, default=3407, help="sampler seed of the first run")
    parser.add_argument("--keep", type=Path, help="write the sweep folders here and keep them (default: a temp dir)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    names = {f.name for f in dataclasses.fields(Plan)}
    for item in args.plan:
        name, _, value = item.partition("=")
        if name not in names or not value.isdigit():
            parser.error(f"--plan {item}: expected FIELD=N with FIELD one of {', '.join(sorted(names))}")
        plan = dataclasses.replace(plan, **{name: int(value)})
    args.setting = plan
    return args


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    plan = args.setting
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    seeds = [args.seed + i for i in range(plan.seeds)]
    with tempfile.TemporaryDirectory(prefix="trainlab-bench-search-") as tmp:
        out = args.keep.resolve() if args.keep else Path(tmp)
        for name in args.only or COMPARISONS:
            COMPARISONS[name](plan, seeds, out / name)
    print(f"\ncommand : {shlex.join(sys.orig_argv)}")
    print(f"setting : {'quick' if args.quick else 'full'}: {plan}")
    print(f"common  : {' '.join(COMMON)}")
    print(f"machine : {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
