"""Retrain a sweep's best trial with more epochs (phase 2): ``python -m trainlab.search.refine <sweep dir>``.

Takes the best trial's own overrides (<run>/.hydra/overrides.yaml), drops what belonged to the search
(``hparams_search``, ``optuna_trial``, the epoch cap), and runs train.py once with
``trainer.max_epochs=<--epochs>`` plus any extra overrides given after the folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Optional

import yaml

from trainlab.run.folder import RunFolder, repo_root
from trainlab.search.results import RESULTS_YAML

_SEARCH_ONLY = ("hparams_search=", "optuna_trial=", "+optuna_trial=", "trainer.max_epochs=", "hydra.")


def best_overrides(sweep_dir: Path) -> list[str]:
    results = yaml.safe_load((sweep_dir / RESULTS_YAML).read_text())
    if not results.get("best_run_dir"):
        raise SystemExit(f"error: {sweep_dir} has no complete trial yet; nothing to refine")
    overrides = RunFolder(results["best_run_dir"]).overrides()
    return [o for o in overrides if not o.startswith(_SEARCH_ONLY)]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=50, help="trainer.max_epochs of the retraining")
    parser.add_argument("overrides", nargs="*", help="more overrides for train.py")
    args = parser.parse_args(argv)
    command = [sys.executable, str(repo_root() / "train.py"), *best_overrides(args.sweep_dir),
               f"trainer.max_epochs={args.epochs}", *args.overrides]
    print(" ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
