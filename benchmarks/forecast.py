"""Forecasting benchmark: the time-series models against last value, seasonal naive and ETS on a
panel of real series shipped inside installed packages, plus the synthetic default.

``make bench-forecast`` (``python benchmarks/forecast.py [--seeds N] [--epochs E] [--batches B]``).

Every run goes through train.py's own ``train()`` (composed configs, the same data module,
baselines and test as ``python train.py``), with ``hardware.num_threads=1``. Chronological split
70/15/15 (the data configs' default). Two stages:

1. The default model (lstm) with each ``model.window_scaling`` (none, revin, last) on every
   series; the default is the mode with the lowest geometric mean, over series, of its best
   validation loss relative to the best mode's: chosen on the validation splits only.
2. lstm_attention and cnn with the chosen mode.

Test figures (RMSE, MASE; the baselines on the same test windows) are printed per series and
model as the median over seeds, with each model's RMSE relative to the best baseline's, and the
issue's goals are checked for the default model. Results also go to outputs/bench_forecast.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from epoch_time import ROOT, compose_cfg, quiet_lightning  # noqa: E402 - also sets TRAINLAB_ROOT
import train  # noqa: E402

# name -> overrides choosing the data; every series with its own season (packaged.py, elnino, synthetic)
PANEL = {
    "synthetic": ["data=synthetic"],
    "co2 (weekly)": ["data=packaged", "data.source.name=co2"],
    "elnino (monthly)": ["data=elnino"],
    "tmy3 temp (hourly)": ["data=packaged", "data.source.name=tmy3_temperature"],
    "realgdp (quarterly)": ["data=packaged", "data.source.name=macrodata_realgdp"],
    "sunspots (yearly)": ["data=packaged", "data.source.name=sunspots"],
    "nile (yearly)": ["data=packaged", "data.source.name=nile", "data.window=24"],  # 70 training rows
}
MODES = ("none", "revin", "last")
BASELINES = ("last_value", "seasonal_naive", "ets")


def run_one(series: str, model: str, mode: str, seed: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    overrides = [*PANEL[series], f"model={model}", f"model.window_scaling={mode}", f"seed={seed}",
                 f"trainer.max_epochs={args.epochs}", f"trainer.limit_train_batches={args.batches}",
                 "hardware.num_threads=1", "trainer.enable_progress_bar=false",
                 "trainer.enable_model_summary=false", f"data.baseline_cache={ROOT / 'outputs' / 'baselines'}"]
    run_dir = tmp / f"{len(list(tmp.iterdir()))}"
    start = time.perf_counter()
    metrics = train.train(compose_cfg(overrides, run_dir))
    metrics["seconds"] = time.perf_counter() - start
    print(f"  {series:22s} {model:15s} {mode:6s} seed {seed}: val loss {metrics['objective']:.4g}, "
          f"test rmse {metrics['test/rmse']:.4g} ({metrics['seconds']:.0f} s)", flush=True)
    return metrics


def median(runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def choose_mode(results: dict, seeds: list[int]) -> tuple[str, dict[str, float]]:
    """Geometric mean over series of (best val loss of the mode / best of all modes)."""
    scores = {}
    for mode in MODES:
        logs = []
        for series in PANEL:
            best = min(median(results[(series, "lstm", m)], "objective") for m in MODES)
            logs.append(math.log(median(results[(series, "lstm", mode)], "objective") / best))
        scores[mode] = math.exp(sum(logs) / len(logs))
    return min(scores, key=scores.get), scores


def table(results: dict, chosen: str) -> tuple[str, dict[str, int]]:
    """Markdown table of test RMSE / MASE per series; the goals for the default model."""
    models = [("lstm", m) for m in MODES] + [("lstm_attention", chosen), ("cnn", chosen)]
    head = ["series", *[f"{b}" for b in BASELINES], *[f"{m} ({s})" for m, s in models]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    goals = {"beats_naive": 0, "mase_within_10pct_of_ets": 0, "worse_than_1.5x_ets": 0, "series": 0}
    for series in PANEL:
        runs = results[(series, "lstm", chosen)]
        base = {b: (median(runs, f"test/baseline_{b}_rmse"), median(runs, f"test/baseline_{b}_mase")) for b in BASELINES}
        best_rmse = min(r for r, _ in base.values() if not math.isnan(r))
        cells = [series] + [f"{r:.4g} / {m:.3f}" if not math.isnan(r) else "-" for r, m in base.values()]
        for model, mode in models:
            rmse, mase = median(results[(series, model, mode)], "test/rmse"), median(results[(series, model, mode)], "test/mase")
            cells.append(f"{rmse:.4g} / {mase:.3f} ({rmse / best_rmse:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
        rmse, mase = median(runs, "test/rmse"), median(runs, "test/mase")
        naive = [base[b][0] for b in ("last_value", "seasonal_naive") if not math.isnan(base[b][0])]
        goals["series"] += 1
        goals["beats_naive"] += int(rmse < min(naive))
        goals["mase_within_10pct_of_ets"] += int(mase <= 1.1 * base["ets"][1])
        goals["worse_than_1.5x_ets"] += int(mase > 1.5 * base["ets"][1])
    return "\n".join(lines), goals


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds per configuration (medians reported)")
    parser.add_argument("--epochs", type=int, default=8, help="trainer.max_epochs of every run")
    parser.add_argument("--batches", type=int, default=40, help="trainer.limit_train_batches of every run")
    parser.add_argument("--series", nargs="*", default=None, help="a subset of the panel (names as printed)")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    if args.series:
        for name in list(PANEL):
            if name not in args.series:
                del PANEL[name]
    quiet_lightning()
    logging.getLogger("trainlab").setLevel(logging.WARNING)
    seeds = [3407 + i for i in range(args.seeds)]
    results: dict = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print("stage 1: lstm with each model.window_scaling (chosen on validation)", flush=True)
        for series in PANEL:
            for mode in MODES:
                results[(series, "lstm", mode)] = [run_one(series, "lstm", mode, s, args, tmp_path) for s in seeds]
        chosen, scores = choose_mode(results, seeds)
        print(f"validation: geometric mean of best val loss / best mode's: "
              + ", ".join(f"{m} {v:.3f}" for m, v in scores.items()) + f" -> default window_scaling={chosen}")
        print("stage 2: lstm_attention and cnn with the chosen scaling", flush=True)
        for series in PANEL:
            for model in ("lstm_attention", "cnn"):
                results[(series, model, chosen)] = [run_one(series, model, chosen, s, args, tmp_path) for s in seeds]
    text, goals = table(results, chosen)
    minutes = (time.perf_counter() - start) / 60
    print(f"\ntest RMSE / MASE (median of {len(seeds)} seed(s); models: ratio of RMSE to the best baseline's), "
          f"{args.epochs} epochs x <= {args.batches} batches, {minutes:.1f} min\n")
    print(text)
    n = goals["series"]
    print(f"\ngoals for the default (lstm, window_scaling={chosen}): beats last value and seasonal naive on "
          f"{goals['beats_naive']}/{n} series (goal {n}/{n}); MASE within 10% of ETS or better on "
          f"{goals['mase_within_10pct_of_ets']}/{n} (goal >= {math.ceil(n / 2)}); worse than 1.5x ETS on "
          f"{goals['worse_than_1.5x_ets']}/{n} (goal 0)")
    out = ROOT / "outputs" / "bench_forecast.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"chosen": chosen, "validation_scores": scores, "goals": goals, "args": vars(args),
                               "results": {" | ".join(k): v for k, v in results.items()}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
