"""The end of every forecasting run: the model's figures beside the classical baselines'.

Logged under the evaluated split (``test/`` at the end of training, so they reach every logger,
``training_summary.json`` and the metrics train.py returns): ``<split>/baseline_<name>_<metric>``
for each baseline the data module computes on the model's own windows, and
``<split>/rmse_vs_best_naive`` (best naive RMSE / model RMSE: above 1 the model wins). One line is
logged, and a loud warning, with what this run could still change, when a naive forecast wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl

from trainlab.evaluation.baselines import apart

log = logging.getLogger(__name__)

LABELS = {"last_value": "last value", "seasonal_naive": "seasonal naive", "ets": "ETS"}
NAIVE = ("last_value", "seasonal_naive")
NO_SEASON = "seasonal naive: no season length (set data.season_length)"
SEASON_OFF = "seasonal naive: none (data.season_length=0)"
# the source's season that the training rows are too short for: setting it would be refused
SEASON_DROPPED = "seasonal naive: none (season length {} does not fit the training rows)"


@dataclass
class RunSettings:
    """The settings the advice after a lost comparison depends on; None where not known (evaluate.py
    does not know how training ended).

    window_scaling: model.window_scaling; target_inputs: data.target_inputs; window: data.window;
    season: the season length in use (None: none known); season_off: data.season_length=0 said there is
    none; epochs_exhausted: every trainer.max_epochs ran without early stopping ending training; dropped: the
    source's season, left out because the training rows are too few for it (warned when the data loaded)."""

    window_scaling: Optional[str] = None
    target_inputs: Optional[bool] = None
    window: Optional[int] = None
    season: Optional[int] = None
    epochs_exhausted: Optional[bool] = None
    season_off: bool = False
    dropped: Optional[int] = None

    @classmethod
    def of(cls, pl_module: Any, datamodule: Any, epochs_exhausted: Optional[bool] = None) -> "RunSettings":
        scaling = getattr(getattr(pl_module, "scaler", None), "mode", None)
        return cls(scaling, getattr(datamodule, "target_inputs", None), getattr(datamodule, "window", None),
                   getattr(datamodule, "season_length", None), epochs_exhausted,
                   getattr(datamodule, "given_season", None) == 0, getattr(datamodule, "dropped_season", None))


def advice(settings: RunSettings) -> str:
    """What to try when a naive forecast wins: only the remedies this run does not already use."""
    tips = []
    if settings.window_scaling == "none":
        tips.append("model.window_scaling=last or revin (trends)")
    if settings.target_inputs is False:
        tips.append("data.target_inputs=true (past values as inputs)")
    if settings.season and settings.window is not None and settings.window < 2 * settings.season:
        tips.append(f"data.window={2 * settings.season} or more (two cycles of season length {settings.season}; "
                    f"now {settings.window})")
    if settings.season is None and settings.window is not None and not settings.season_off \
            and not settings.dropped:  # a data module's; a dropped season was refused if given, and said why
        tips.append("data.season_length, if the series has a cycle")
    if settings.epochs_exhausted:
        tips.append("more trainer.max_epochs (training ran them all without early stopping)")
    if tips:
        return "try " + ", ".join(tips)
    if settings.epochs_exhausted is None:  # evaluate.py: it said training had run to early stopping, unknown there
        return ("the simple remedies of the data and model (window scaling, past values as inputs, a window of two "
                "seasons) are already in effect; whether training ran until early stopping is not known here: "
                "the run's training_summary.json says (stopped_by), and if it did, the series may be close to a "
                "random walk, where the last value is hard to beat")
    return ("the simple remedies (window scaling, past values as inputs, a window of two seasons, training until "
            "early stopping) are already in effect: the series may be close to a random walk, where the last value "
            "is hard to beat")


def ratio_text(model_rmse: float, best_label: str, best_rmse: float) -> tuple[str, bool]:
    """The verdict after the arrow and whether the model lost; finite for any zero RMSE."""
    if best_rmse == 0 and model_rmse == 0:
        return f"as exact as the {best_label} (both rmse 0)", False
    if model_rmse == 0:
        return "exact (rmse 0), better than every naive", False
    if best_rmse == 0:
        return f"WORSE than the {best_label}, which is exact (rmse 0)", True
    ratio = best_rmse / model_rmse
    if ratio >= 1:
        return f"{_times(ratio)}x better than the best naive", False
    return f"{_times(1 / ratio)}x WORSE than the {best_label}", True


def _times(ratio: float) -> str:
    """A ratio of RMSEs, with the digits that tell it from 1: '1.00x WORSE' read as a tie and made a loud warning
    with equal numbers look wrong (a model one epoch in, echoing the last value: 1.314 against 1.314)."""
    digits = 2
    while f"{ratio:.{digits}f}" == f"{1:.{digits}f}" and digits < 8:
        digits += 1
    return f"{ratio:.{digits}f}"


def comparison(model_rmse: float, scores: dict[str, dict[str, float]], split: str = "test",
               settings: Optional[RunSettings] = None) -> tuple[str, Optional[str]]:
    """The one-line summary of ``split`` and, when a naive baseline beats the model, the warning."""
    naive = {n: s["rmse"] for n, s in scores.items() if n in NAIVE}
    best = min(naive, key=naive.get)
    model_text, best_text = apart(model_rmse, naive[best])  # the numbers the verdict compares, told apart
    parts = [f"{split} rmse {model_text}"] + [
        f"{LABELS.get(n, n)} {best_text if n == best else format(s['rmse'], '.4g')}" for n, s in scores.items()]
    if "seasonal_naive" not in scores:  # skipped only when no season length is in use, or 0 is given
        dropped = settings.dropped if settings is not None else None
        parts.append(SEASON_OFF if settings is not None and settings.season_off else
                     SEASON_DROPPED.format(dropped) if dropped else NO_SEASON)
    verdict, lost = ratio_text(model_rmse, LABELS[best], naive[best])
    line = " | ".join(parts) + f" -> {verdict}"
    ets = scores.get("ets", {}).get("rmse")
    if ets is not None and model_rmse > ets:
        line += f"; ETS is {_times(model_rmse / ets)}x better" if ets > 0 else "; ETS is exact (rmse 0)"
    warning = None
    if lost:
        warning = (f"THE MODEL LOSES TO THE NAIVE FORECAST: {LABELS[best]} rmse {best_text} < model "
                   f"{model_text} on the same {split} windows; {advice(settings or RunSettings())}")
    return line, warning


def baseline_metrics(scores: dict[str, dict[str, float]], model_rmse: float, stage: str = "test") -> dict[str, float]:
    """Flat ``<stage>/baseline_<name>_<metric>`` keys plus ``<stage>/rmse_vs_best_naive`` (1 when both
    are exact, inf when only the model is)."""
    flat = {f"{stage}/baseline_{n}_{k}": v for n, s in scores.items() for k, v in s.items()}
    best = min(s["rmse"] for n, s in scores.items() if n in NAIVE)
    flat[f"{stage}/rmse_vs_best_naive"] = best / model_rmse if model_rmse > 0 else (1.0 if best == 0 else float("inf"))
    return flat


class BaselineReport(pl.Callback):
    """Logs the data module's baselines beside the test metrics and prints the comparison line.

    Does nothing for data modules without ``baseline_scores`` (graph and image families)."""

    def __init__(self) -> None:
        self.scores: dict[str, dict[str, float]] = {}
        # (windows scored, windows of the split, the setting that cut it) of a test cut short
        self.cut: Optional[tuple[int, int, str]] = None
        self.epochs_exhausted: Optional[bool] = None  # known once training ends

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        stopper = trainer.early_stopping_callback
        stopped_early = stopper is not None and stopper.stopped_epoch > 0
        limit = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        self.epochs_exhausted = bool(limit) and trainer.current_epoch >= limit and not stopped_early

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule: Any = trainer.datamodule
        # Lightning calls this hook before the module's own, which logs the epoch's metrics: the
        # model's RMSE is read from its metric object (computed once; Lightning reuses the result)
        metrics = getattr(pl_module, "test_metrics", None)
        rmse = dict(metrics.items()).get("test/rmse") if metrics is not None else None
        if not hasattr(datamodule, "baseline_scores") or rmse is None:
            return
        model_rmse = float(rmse.compute())  # every rank: it gathers the metric's states from all of them
        if not trainer.is_global_zero:  # the baselines are the data's, the same on every rank: rank 0 fits and
            return  # logs them (every rank fitted ETS on the whole split, a DDP run's cores busy twice over)
        # trainer.limit_test_batches scores the model on the split's first windows (one process: the
        # loader keeps its order): the baselines on the same ones. Its error counts one per window,
        # step and target
        seen = int(rmse.weight) // (getattr(pl_module, "steps", 1) * len(getattr(pl_module, "target_std", [0])))
        total = len(datamodule.truth("test"))
        # fast_dev_run (debug=fdr) sets Lightning's limit_test_batches itself: name the setting the user gave
        cause = "trainer.fast_dev_run" if trainer.fast_dev_run else "trainer.limit_test_batches"
        self.cut = (seen, total, cause) if seen < total and trainer.world_size == 1 else None
        self.scores = datamodule.baseline_scores("test", seen if self.cut else None)
        for key, value in baseline_metrics(self.scores, model_rmse).items():
            pl_module.log(key, value, rank_zero_only=True)  # no rank waits for another's value: none is sent

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # after Lightning's table of test metrics: the comparison is the run's last line
        if stage != "test" or not self.scores or not trainer.is_global_zero:
            return
        settings = RunSettings.of(pl_module, trainer.datamodule, self.epochs_exhausted)
        line, warning = comparison(float(trainer.callback_metrics["test/rmse"]), self.scores, "test", settings)
        if self.cut:
            line += f" (on the first {self.cut[0]} of {self.cut[1]} test windows: {self.cut[2]})"
        log.info(line)  # Hydra's job logging shows it on the console and keeps it in the run's log file
        if warning:
            log.warning(warning)
