"""The end of every forecasting run: the model's test figures beside the classical baselines'.

Logged under ``test/`` (so they reach every logger, ``training_summary.json`` and the metrics
train.py returns): ``test/baseline_<name>_<metric>`` for each baseline the data module computes on
the model's own test windows, and ``test/rmse_vs_best_naive`` (best naive RMSE / model RMSE: above
1 the model wins). One line is logged, and a loud warning when a naive forecast wins.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import lightning.pytorch as pl

log = logging.getLogger(__name__)

LABELS = {"last_value": "last value", "seasonal_naive": "seasonal naive", "ets": "ETS"}
NAIVE = ("last_value", "seasonal_naive")
ADVICE = ("try model.window_scaling=last or revin (trends), data.target_inputs=true (past values as inputs), "
          "a data.window of at least two data.season_length cycles, or more trainer.max_epochs")


def comparison(model_rmse: float, scores: dict[str, dict[str, float]]) -> tuple[str, Optional[str]]:
    """The one-line summary and, when a naive baseline beats the model, the warning to print."""
    parts = [f"test rmse {model_rmse:.4g}"] + [f"{LABELS.get(n, n)} {s['rmse']:.4g}" for n, s in scores.items()]
    naive = {n: s["rmse"] for n, s in scores.items() if n in NAIVE}
    best = min(naive, key=naive.get)
    ratio = naive[best] / model_rmse if model_rmse > 0 else float("inf")
    verdict = (f"{ratio:.2f}x better than the best naive" if ratio >= 1
               else f"{1 / ratio:.2f}x WORSE than the {LABELS[best]}")
    line = " | ".join(parts) + f" -> {verdict}"
    if "ets" in scores and model_rmse > scores["ets"]["rmse"]:
        line += f"; ETS is {model_rmse / scores['ets']['rmse']:.2f}x better"
    warning = None
    if ratio < 1:
        warning = (f"THE MODEL LOSES TO THE NAIVE FORECAST: {LABELS[best]} rmse {naive[best]:.4g} < model "
                   f"{model_rmse:.4g} on the same test windows; {ADVICE}")
    return line, warning


def baseline_metrics(scores: dict[str, dict[str, float]], model_rmse: float, stage: str = "test") -> dict[str, float]:
    """Flat ``<stage>/baseline_<name>_<metric>`` keys plus ``<stage>/rmse_vs_best_naive``."""
    flat = {f"{stage}/baseline_{n}_{k}": v for n, s in scores.items() for k, v in s.items()}
    best = min(s["rmse"] for n, s in scores.items() if n in NAIVE)
    flat[f"{stage}/rmse_vs_best_naive"] = best / model_rmse if model_rmse > 0 else float("inf")
    return flat


class BaselineReport(pl.Callback):
    """Logs the data module's baselines beside the test metrics and prints the comparison line.

    Does nothing for data modules without ``baseline_scores`` (graph and image families)."""

    def __init__(self) -> None:
        self.scores: dict[str, dict[str, float]] = {}

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule: Any = trainer.datamodule
        # Lightning calls this hook before the module's own, which logs the epoch's metrics: the
        # model's RMSE is read from its metric object (computed once; Lightning reuses the result)
        metrics = getattr(pl_module, "test_metrics", None)
        rmse = dict(metrics.items()).get("test/rmse") if metrics is not None else None
        if not hasattr(datamodule, "baseline_scores") or rmse is None:
            return
        self.scores = datamodule.baseline_scores("test")
        model_rmse = float(rmse.compute())
        for key, value in baseline_metrics(self.scores, model_rmse).items():
            pl_module.log(key, value)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # after Lightning's table of test metrics: the comparison is the run's last line
        if stage != "test" or not self.scores or not trainer.is_global_zero:
            return
        line, warning = comparison(float(trainer.callback_metrics["test/rmse"]), self.scores)
        log.info(line)  # Hydra's job logging shows it on the console and keeps it in the run's log file
        if warning:
            log.warning(warning)
