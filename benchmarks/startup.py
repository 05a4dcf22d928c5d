"""Start-up wall time of train.py, with the bare interpreter, ``import torch`` and ``import lightning``
as reference points.

Each command runs as a fresh subprocess of this venv's Python, from the repository root, with run
outputs sent to a temporary folder (``paths.log_dir=<tmp>``):

* ``python train.py --cfg job``: compose and print the config (no torch, no lightning);
* ``python train.py debug=fdr logger=none``: the whole pipeline on one batch of train, val and test;
* ``python train.py -m hparams_search=optuna hydra/launcher=joblib ...``: a sweep until its plan is
  made and its first trials are handed to the workers (the log line ``Optuna study ...``); the sweep
  is then stopped. What the sweep's own process does before any trial: compose, check every trial's
  model and data, count GPUs, open the study;
* ``python -c pass``, ``python -c "import torch"``, ``python -c "import lightning"``: references.

Every command runs once untimed first (page cache, lazily built caches), then the commands take turns,
``--repeats`` rounds, so that a change in the machine's load hits all of them alike. Reported: median,
min and max wall time per command.

Run: ``make bench`` (benchmarks/epoch_time.py, then this script), or
``.venv/bin/python benchmarks/startup.py --repeats 5``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]


def commands(log_dir: Path) -> dict[str, list[str]]:
    """Label -> argv; train.py runs as ``python train.py`` from the repository root, like a user's."""
    python = sys.executable
    return {
        "train.py --cfg job": [python, "train.py", "--cfg", "job", f"paths.log_dir={log_dir}"],
        "train.py debug=fdr logger=none": [python, "train.py", "debug=fdr", "logger=none",
                                           f"paths.log_dir={log_dir}"],
        SWEEP: [python, "train.py", "-m", "hparams_search=optuna", "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                "hydra.sweeper.n_trials=2", "logger=none", f"hydra.sweep.dir={log_dir}/sweep-${{now:%H%M%S%f}}",
                f"paths.log_dir={log_dir}"],
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import torch'": [python, "-c", "import torch"],
        "python -c 'import lightning'": [python, "-c", "import lightning"],
    }


SWEEP = "train.py -m (joblib, 2 slots) to its plan"
PLANNED = "Optuna study "  # the sweeper's line once the plan is made, as the first trials go out


def time_once(argv: list[str], env: dict[str, str], until: Optional[str] = None) -> tuple[float, Optional[str]]:
    """Wall seconds of one run (up to the first output line holding ``until``, when given; the process
    is then stopped), and the failure (exit status and output tail) if it failed."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if until is not None and until in line:
            seconds = time.perf_counter() - start
            process.terminate()
            process.communicate()
            return seconds, None
    process.wait()
    seconds = time.perf_counter() - start
    if process.returncode == 0 and until is None:
        return seconds, None
    tail = "\n".join("    " + line.rstrip() for line in lines[-8:])
    said = f"no line with {until!r}, " if until is not None else ""
    return seconds, f"{said}exit {process.returncode}: {shlex.join(argv)}\n{tail}"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds over all commands; default 5")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    # train.py would set TRAINLAB_ROOT to its own folder anyway; a value inherited from elsewhere must
    # not point it at another checkout
    env = {**os.environ, "TRAINLAB_ROOT": str(ROOT)}
    failures: dict[str, str] = {}  # a failed command is timed no further: its time would mean nothing
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="trainlab-startup-") as tmp:
        runs = commands(Path(tmp))
        times: dict[str, list[float]] = {label: [] for label in runs}
        for round_ in range(args.repeats + 1):  # round 0: warm-up, untimed
            for label, argv_ in runs.items():
                if label in failures:
                    continue
                seconds, failure = time_once(argv_, env, PLANNED if label == SWEEP else None)
                if failure:
                    failures[label] = failure
                elif round_ > 0:
                    times[label].append(seconds)

    print(f"command : {shlex.join(sys.orig_argv)}")
    print(f"python  : {sys.executable} ({sys.version.split()[0]}), cwd {ROOT}, {os.cpu_count()} CPUs, "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note    : PYTHONDONTWRITEBYTECODE is set, so no new .pyc files are written "
              "(the repository's own modules are compiled on every start)")
    print(f"runs    : 1 untimed warm-up each, then {args.repeats} alternated rounds; outputs under paths.log_dir=<tmp>")
    print()
    width = max(len(label) for label in times) + 2
    header = f"{'command':<{width}}{'median s':>10}{'min s':>9}{'max s':>9}"
    print(header)
    print("-" * len(header))
    for label, seconds in times.items():
        if label in failures:
            print(f"{label:<{width}}{'FAILED':>10}")
        else:
            print(f"{label:<{width}}{statistics.median(seconds):>10.3f}{min(seconds):>9.3f}{max(seconds):>9.3f}")
    for label, failure in failures.items():
        print(f"\n{label} FAILED, {failure}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
