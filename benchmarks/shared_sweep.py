"""Several sweep processes on one Optuna study (the SLURM-array pattern), started as a user starts them.

``--processes`` (3) copies of ``train.py -m hparams_search=optuna`` start at once from the repository
root with the same ``hydra.sweep.dir``, storage and study name, on the embedded synthetic series made
small, one torch thread each, no pruner, ``--trials`` trials of ``--epochs`` epochs in total. Then,
for reference, the same sweep in one process (``--no-baseline`` leaves it out).

Storage (``--storage``): ``sqlite`` (the sweep folder's optuna.db, the default), ``journal``
(``journal:<sweep folder>/optuna.journal``) or ``postgresql`` (a throwaway server started as the
tests start it, src/trainlab/testing/postgres.py; ``--url`` names an existing database instead).

Figures per run: processes, trials finished (COMPLETE + PRUNED: must equal --trials), wall time (the
first start to the last exit), trials finished per minute, duplicates (trial ids that two run
folders' .hydra/overrides.yaml were started with: must be 0), lost (asked trials that are neither
finished, FAIL with a reason, nor surplus: must be 0), surplus (asked when the study was full, never
launched) and failed trials. The exit status is 1 when a must-be figure is off or a process failed.
Wall times are only meaningful on a quiet machine: the load average is printed before and after.

Run: ``make bench-shared`` (under a minute on 2 cores), ``make bench-shared ARGS="--storage postgresql"``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from trainlab.testing.postgres import PostgresUnavailable, throwaway_postgres  # noqa: E402
from trainlab.search.shared import is_surplus, open_storage, storage_url  # noqa: E402

STUDY = "shared-bench"
# small data, one thread per process, quiet runs, no pruner: every trial trains all its epochs
COMMON = ["data.source.num_rows=1000", "data.window=16", "hardware.num_threads=1", "hydra/sweeper/pruner=nop",
          "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


@dataclass
class Run:
    processes: int
    wall: float
    finished: int
    duplicates: int
    lost: int
    surplus: int
    failed: int
    exit_codes: list[int]

    @property
    def per_minute(self) -> float:
        return 60.0 * self.finished / self.wall


def storage_of(kind: str, url: Optional[str], sweep_dir: Path) -> Optional[str]:
    """hydra.sweeper.storage for this run (None: the sweep folder's optuna.db)."""
    return {"sqlite": None, "journal": f"journal:{sweep_dir}/optuna.journal", "postgresql": url}[kind]


def launched_ids(sweep_dir: Path) -> list[int]:
    ids = []
    for overrides in sweep_dir.glob("*/.hydra/overrides.yaml"):
        for item in yaml.safe_load(overrides.read_text()):
            if item.startswith("optuna_trial="):
                ids.append(int(re.search(r"trial_id:(\d+)", item).group(1)))
    return ids


def run(processes: int, storage: Optional[str], study: str, sweep_dir: Path, args: argparse.Namespace) -> Run:
    argv = [sys.executable, "train.py", "-m", "hparams_search=optuna", f"hydra.sweeper.n_trials={args.trials}",
            f"trainer.max_epochs={args.epochs}", f"hydra.sweeper.study_name={study}", f"hydra.sweep.dir={sweep_dir}",
            *([f"hydra.sweeper.storage={storage}"] if storage else []), *COMMON,
            f"paths.log_dir={sweep_dir.parent}/runs"]
    print(f"  {processes} x python {shlex.join(argv[1:])}", flush=True)
    sweep_dir.mkdir(parents=True)
    env = {**os.environ, "TRAINLAB_ROOT": str(ROOT)}  # never another checkout's configs
    start = time.perf_counter()
    started = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=(sweep_dir / f"process{i}.out").open("w"),
                                stderr=subprocess.STDOUT) for i in range(processes)]
    codes = [process.wait() for process in started]
    wall = time.perf_counter() - start
    for i, code in enumerate(codes):
        if code != 0:
            tail = (sweep_dir / f"process{i}.out").read_text().splitlines()[-15:]
            print(f"process {i} failed (exit {code}):\n" + "\n".join("    " + line for line in tail), file=sys.stderr)

    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=study,
                               storage=open_storage(storage_url(storage, sweep_dir / "optuna.db"))).trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    surplus = [t for t in trials if is_surplus(t)]
    failed = [t for t in trials if t.state == TrialState.FAIL and not is_surplus(t) and t.user_attrs.get("fail_reason")]
    ids = launched_ids(sweep_dir)
    return Run(processes, wall, len(finished), duplicates=sum(n - 1 for n in Counter(ids).values()),
               lost=len(trials) - len(finished) - len(surplus) - len(failed), surplus=len(surplus),
               failed=len(failed), exit_codes=codes)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", choices=("sqlite", "journal", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="--storage postgresql: an existing database's SQLAlchemy URL instead of "
                                      "a throwaway server (postgresql+psycopg2://<user>@<host>:<port>/<db>)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12, help="n_trials of the study (all processes together)")
    parser.add_argument("--epochs", type=int, default=3, help="trainer.max_epochs of each trial")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the one-process run")
    parser.add_argument("--keep", type=Path, help="write the sweep folders here and keep them (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.url and args.storage != "postgresql":
        parser.error("--url goes with --storage postgresql")

    server = throwaway_postgres() if args.storage == "postgresql" and not args.url else nullcontext(args.url)
    load_before, started = os.getloadavg()[0], time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="trainlab-bench-shared-") as tmp:
        out = args.keep.resolve() if args.keep else Path(tmp)
        try:
            with server as url:
                for processes in ([args.processes] + ([] if args.no_baseline else [1])):
                    sweep_dir = out / f"{args.storage}-{processes}p"
                    study = f"{STUDY}-{processes}p-{os.getpid()}"  # new on an existing database too
                    runs.append(run(processes, storage_of(args.storage, url, sweep_dir), study, sweep_dir, args))
        except PostgresUnavailable as exc:
            print(f"error: --storage postgresql: {exc}", file=sys.stderr)
            return 2

    print()
    print(f"command : {shlex.join(sys.orig_argv)}")
    print(f"setting : {args.trials} trials of {args.epochs} epochs, storage {args.storage}; {' '.join(COMMON)}")
    print(f"machine : {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{time.perf_counter() - started:.0f} s in all")
    header = (f"{'processes':>9}{'finished':>10}{'wall s':>9}{'trials/min':>12}{'duplicates':>12}{'lost':>6}"
              f"{'surplus':>9}{'failed':>8}  exit codes")
    print(header)
    print("-" * len(header))
    for r in runs:
        print(f"{r.processes:>9}{r.finished:>10}{r.wall:>9.1f}{r.per_minute:>12.1f}{r.duplicates:>12}{r.lost:>6}"
              f"{r.surplus:>9}{r.failed:>8}  {' '.join(map(str, r.exit_codes))}")
    print("-" * len(header))
    if len(runs) == 2:
        print(f"speed-up of {runs[0].processes} processes over 1: {runs[0].per_minute / runs[1].per_minute:.2f}x "
              "(trials per minute; includes each process's start-up)")
    bad = [r for r in runs if r.finished != args.trials or r.duplicates or r.lost or any(r.exit_codes)]
    print("check   : " + ("PASS: every run finished exactly the trials asked for, no duplicate, none lost"
                          if not bad else f"FAIL in {len(bad)} run(s): see the table"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
