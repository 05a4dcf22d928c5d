"""The search loop a seed user writes by hand, as a peer for ``make bench-search``.

``optuna.create_study(...).optimize(objective, n_trials, n_jobs=2)`` with optuna-integration's
``PyTorchLightningPruningCallback`` reporting ``val/loss`` each epoch; each trial composes this
repository's config (Hydra's compose API) and trains with train.py's own ``train()``, so both sides
do the same work per trial (same data, model, callbacks, loggers, one torch thread). What differs is
the orchestration: here threads of one process (``optimize(n_jobs=...)``), ours worker processes.

Run by benchmarks/search.py; by hand:
``python benchmarks/search_peer.py --trials 8 --epochs 3 --seed 3407 --out /tmp/peer -- <overrides>``.
Prints one JSON line: wall seconds, epochs reported, states, best value.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRAINLAB_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT))

# the seed's LSTM space (hidden 32..128 step 16, layers 1..5, lr log 1e-5..1e-3)
SPACE = {"model.net.hidden_size": ("int", 32, 128, 16), "model.net.num_layers": ("int", 1, 5, 1),
         "optimizer.lr": ("log", 1e-5, 1e-3, None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3407)
    parser.add_argument("--startup", type=int, default=5, help="median pruner's n_startup_trials")
    parser.add_argument("--warmup", type=int, default=3, help="median pruner's n_warmup_steps (epochs)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("overrides", nargs="*", help="train.py overrides every trial gets")
    args = parser.parse_args()
    start = time.perf_counter()

    import optuna
    from hydra import compose, initialize_config_dir
    from optuna_integration import PyTorchLightningPruningCallback

    import train as train_script  # this repository's train.py: its train(cfg, extra_callbacks)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    compose_lock = threading.Lock()  # Hydra's compose API keeps global state
    initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3")

    def objective(trial: optuna.trial.Trial) -> float:
        params = {}
        for key, (kind, low, high, step) in SPACE.items():
            params[key] = (trial.suggest_int(key, low, high, step=step) if kind == "int"
                           else trial.suggest_float(key, low, high, log=True))
        with compose_lock:
            cfg = compose("train", overrides=[*args.overrides, *(f"{k}={v}" for k, v in params.items()),
                                              f"paths.output_dir={args.out / str(trial.number)}"])
        callback = PyTorchLightningPruningCallback(trial, monitor="val/loss")
        return train_script.train(cfg, extra_callbacks=[callback])["objective"]

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=args.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=args.startup,
                                                                   n_warmup_steps=args.warmup))
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs, catch=())
    states = {s.name.lower(): sum(t.state == s for t in study.trials)
              for s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)}
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    print(json.dumps({"wall": time.perf_counter() - start, "epochs": sum(len(t.intermediate_values) for t in study.trials),
                      "states": states, "best": min(t.value for t in done) if done else None}))


if __name__ == "__main__":
    main()
