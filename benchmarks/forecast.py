"""Forecasting benchmark: the time-series models against last value, seasonal naive and ETS on a
panel of real series shipped inside installed packages, plus the synthetic default.

``make bench-forecast`` (``python benchmarks/forecast.py [--seeds N (default 3)] [--epochs E] [--batches B]``).

Every run goes through train.py's own ``train()`` (composed configs, the same data module,
baselines and test as ``python train.py``), with ``hardware.num_threads=1``. Chronological split
70/15/15 (the data configs' default). Two stages:

1. The default model (lstm) with each ``model.window_scaling`` (none, revin, last: the scaling and,
   with ``last``, the target form: the change from the window's last value) on every series at its
   usual window; the default is the mode with the lowest geometric mean, over series, of its best
   validation loss relative to the best mode's: chosen on the validation splits only.
2. The lstm with the chosen mode at half and twice the usual window (the split is by target row,
   so every window length is validated on the same rows); the window factor is chosen the same way.
3. lstm_attention and cnn with the chosen mode and window.

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
from trainlab.models.window_scaling import MODES  # noqa: E402 - every window scaling model.window_scaling takes

# name -> overrides choosing the data; every series with its own season (packaged.py, elnino, synthetic)
PANEL = {
    "synthetic": ["data=synthetic"],
    "co2 (weekly)": ["data=packaged", "data.source.name=co2"],
    "elnino (monthly)": ["data=elnino"],
    "tmy3 temp (hourly)": ["data=packaged", "data.source.name=tmy3_temperature"],
    "realgdp (quarterly)": ["data=packaged", "data.source.name=macrodata_realgdp"],
    "sunspots (yearly)": ["data=packaged", "data.source.name=sunspots"],
    "nile (yearly)": ["data=packaged", "data.source.name=nile"],
}
WINDOW = {"nile (yearly)": 24}  # 70 training rows; every other series: the data configs' 48
DEFAULT_WINDOW = 48
FACTORS = (0.5, 1.0, 2.0)  # window lengths tried with the chosen mode, relative to the usual one
BASELINES = ("last_value", "seasonal_naive", "ets")
OTHER_MODELS = ("lstm_attention", "cnn", "tcn")  # stage 3: run with the scaling and window chosen for lstm


def window_of(series: str, factor: float) -> int:
    return int(round(WINDOW.get(series, DEFAULT_WINDOW) * factor))


def run_one(series: str, model: str, mode: str, factor: float, seed: int, args: argparse.Namespace,
            tmp: Path) -> dict[str, float]:
    window = window_of(series, factor)
    overrides = [*PANEL[series], f"data.window={window}", f"model={model}", f"model.window_scaling={mode}", f"seed={seed}",
                 f"trainer.max_epochs={args.epochs}", f"trainer.limit_train_batches={args.batches}",
                 "hardware.num_threads=1", "trainer.enable_progress_bar=false",
                 "trainer.enable_model_summary=false", f"data.baseline_cache={ROOT / 'outputs' / 'baselines'}"]
    run_dir = tmp / f"{len(list(tmp.iterdir()))}"
    start = time.perf_counter()
    metrics = train.train(compose_cfg(overrides, run_dir))
    metrics["seconds"] = time.perf_counter() - start
    print(f"  {series:22s} {model:15s} {mode:6s} window {window:3d} seed {seed}: val loss {metrics['objective']:.4g}, "
          f"test rmse {metrics['test/rmse']:.4g} ({metrics['seconds']:.0f} s)", flush=True)
    return metrics


def median(runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def choose(results: dict, keys: dict) -> tuple:
    """The option whose geometric mean over series of (median best val loss / the best option's) is
    lowest; ``keys`` maps each option to ``series -> results key``."""
    scores = {}
    for option, key_of in keys.items():
        logs = []
        for series in PANEL:
            best = min(median(results[other(series)], "objective") for other in keys.values())
            logs.append(math.log(median(results[key_of(series)], "objective") / best))
        scores[option] = math.exp(sum(logs) / len(logs))
    return min(scores, key=scores.get), scores


def table(results: dict, chosen: str, factor: float) -> tuple[str, dict[str, int]]:
    """Markdown table of test RMSE / MASE per series; the goals for the default model."""
    models = [("lstm", m, 1.0) for m in MODES] + [("lstm", chosen, f) for f in FACTORS if f != 1.0]
    models += [(model, chosen, factor) for model in OTHER_MODELS]
    head = ["series", *BASELINES, *[f"{m} ({s}, window x{f:g})" for m, s, f in models]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    goals = {"beats_naive": 0, "mase_within_10pct_of_ets": 0, "worse_than_1.5x_ets": 0, "series": 0}
    for series in PANEL:
        runs = results[(series, "lstm", chosen, factor)]
        base = {b: (median(runs, f"test/baseline_{b}_rmse"), median(runs, f"test/baseline_{b}_mase")) for b in BASELINES}
        best_rmse = min(r for r, _ in base.values() if not math.isnan(r))
        cells = [series] + [f"{r:.4g} / {m:.3f}" if not math.isnan(r) else "-" for r, m in base.values()]
        for key in models:
            rmse, mase = median(results[(series, *key)], "test/rmse"), median(results[(series, *key)], "test/mase")
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
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (medians reported)")
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
        def run_all(model: str, mode: str, factor: float) -> None:
            for series in PANEL:
                results[(series, model, mode, factor)] = [run_one(series, model, mode, factor, s, args, tmp_path)
                                                          for s in seeds]

        print("stage 1: lstm with each model.window_scaling (chosen on validation)", flush=True)
        for mode in MODES:
            run_all("lstm", mode, 1.0)
        chosen, scores = choose(results, {m: (lambda s, m=m: (s, "lstm", m, 1.0)) for m in MODES})
        print("validation: geometric mean of best val loss / best mode's: "
              + ", ".join(f"{m} {v:.3f}" for m, v in scores.items()) + f" -> default window_scaling={chosen}")
        print(f"stage 2: lstm ({chosen}) at other window lengths (chosen on validation)", flush=True)
        for factor in FACTORS:
            if factor != 1.0:
                run_all("lstm", chosen, factor)
        factor, window_scores = choose(results, {f: (lambda s, f=f: (s, "lstm", chosen, f)) for f in FACTORS})
        print("validation: geometric mean of best val loss / best window's: "
              + ", ".join(f"x{f:g} {v:.3f}" for f, v in window_scores.items()) + f" -> window x{factor:g}")
        print(f"stage 3: {' and '.join(OTHER_MODELS)} with the chosen scaling and window", flush=True)
        for model in OTHER_MODELS:
            run_all(model, chosen, factor)
    text, goals = table(results, chosen, factor)
    minutes = (time.perf_counter() - start) / 60
    print(f"\ntest RMSE / MASE (median of {len(seeds)} seed(s); models: ratio of RMSE to the best baseline's), "
          f"{args.epochs} epochs x <= {args.batches} batches, {minutes:.1f} min\n")
    print(text)
    n = goals["series"]
    print(f"\ngoals for the default (lstm, window_scaling={chosen}, window x{factor:g}): beats last value and seasonal naive on "
          f"{goals['beats_naive']}/{n} series (goal {n}/{n}); MASE within 10% of ETS or better on "
          f"{goals['mase_within_10pct_of_ets']}/{n} (goal >= {math.ceil(n / 2)}); worse than 1.5x ETS on "
          f"{goals['worse_than_1.5x_ets']}/{n} (goal 0)")
    out = ROOT / "outputs" / "bench_forecast.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"chosen": chosen, "validation_scores": scores, "window_factor": factor,
                               "window_scores": {str(f): v for f, v in window_scores.items()}, "goals": goals,
                               "args": vars(args), "results": {" | ".join(map(str, k)): v for k, v in results.items()}},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
