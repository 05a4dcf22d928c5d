"""Evaluation of the time-series family: predicted-against-true plots, a few forecast windows
against the truth, attention heat-maps, metrics per forecast step and the classical baselines on
the same windows (see :mod:`trainlab.evaluation` for the two functions' contract)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from trainlab.callbacks.baselines import RunSettings, baseline_metrics, comparison
from trainlab.data.module import constant_columns
from trainlab.metrics.regression import forecast_scores, zero_target_warning
from trainlab.run.durable import save_figure

log = logging.getLogger(__name__)

MAX_PANELS = 8  # panels (series x targets) in predictions.png; every series is scored (report.json per_series)


def forward_batch(model: Any, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> int:
    x = batch[0].to(device)  # (batch, window, features)
    model(x)
    return len(x)


@torch.inference_mode()
def artifacts(model: Any, datamodule: Any, split: str, out_dir: Path) -> dict[str, Any]:
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    pred = predictions(model, loader, datamodule.stats)  # (samples, steps, targets)
    true = datamodule.truth(split)  # the baselines' truth, same windows and order
    names = datamodule.table.target_names
    series = datamodule.series_windows(split)  # [] for a single series
    drawn = series_panels(pred.shape[2])
    shown = series[:drawn] or [("", np.arange(len(pred)), None)]
    plot_predictions(pred[:, 0], true[:, 0], names, out_dir / "predictions.png", shown, len(series))
    plots = ["predictions.png"]
    if plot_attention(model.net, loader, out_dir / "attention_heatmap.png"):
        plots.append("attention_heatmap.png")
    if plot_forecast_windows(datamodule, split, pred, out_dir / "forecast_windows.png", series):
        plots.append("forecast_windows.png")  # whole forecasts (every step) after their windows
    scale = datamodule.stats["mase_scale"]
    scores = datamodule.baseline_scores(split)
    model_rmse = forecast_scores(pred, true, scale)["rmse"]
    # how training ended is not known here: the advice leaves trainer.max_epochs out
    line, warning = comparison(model_rmse, scores, split, RunSettings.of(model, datamodule))
    # keys name the split, as training's logged keys do (test/baseline_ets_rmse)
    extra: dict[str, Any] = {f"{split}/scored": datamodule.scored_rows(split),  # split=all: the whole file
                             f"{split}/comparison": line + (f" -- {warning}" if warning else "")}
    extra.update(baseline_metrics(scores, model_rmse, split))
    if pred.shape[1] > 1:  # metrics of every forecast step, first step = data.horizon after the window
        for step in range(pred.shape[1]):
            step_scores = forecast_scores(pred[:, step : step + 1], true[:, step : step + 1], scale)
            extra.update({f"{split}/step{step + 1}_{k}": v for k, v in step_scores.items()
                          if k in ("rmse", "mase", "smape")})
    if pred.shape[2] > 1:  # the pooled figures mix the targets' units: each target's own too
        for j, name in enumerate(names):
            own = forecast_scores(pred[:, :, j : j + 1], true[:, :, j : j + 1], np.asarray(scale)[j : j + 1])
            extra.update({f"{split}/{name}_{k}": v for k, v in own.items() if k in ("rmse", "mase", "smape", "r2")})
    made: dict[str, Any] = {"plots": plots, "extra": extra, "notes": notes(datamodule, split, pred, true, names)}
    if series:
        made["per_series"] = series_scores(datamodule, split, pred, true, series)
        left_out = [name for name, _, _ in series[drawn:]]
        if left_out:
            extra[f"{split}/series_not_plotted"] = _named(left_out)
    return made


def notes(datamodule: Any, split: str, pred: np.ndarray, true: np.ndarray, names: list[str]) -> list[str]:
    """What the report's reader must know: where MASE's scale is not the naive's own errors (the checkpoint's notes),
    targets at or across 0 in the evaluated windows (MAPE and
    AAA meaningless), constant ones (R2 undefined) (both logged when the data loads), and forecasts below 0 of targets never below 0 in training
    (counts, demand), with the RMSE the forecasts would have clipped at 0."""
    flat_true = true.reshape(-1, true.shape[-1])
    found = [*datamodule.score_notes(),  # MASE's scale as training fit it, where it fell back
             zero_target_warning(flat_true, names, f"the {split} windows", datamodule.stats["mase_scale"])]
    flat = constant_columns(flat_true, flat_true.std(axis=0))
    found += [f"the {split} targets of '{n}' are constant: R2 is undefined there (NaN); read RMSE and MASE"
              for n, c in zip(names, flat) if c]
    training = datamodule.table.targets[datamodule.training_rows()]
    scale = np.asarray(datamodule.stats["mase_scale"])
    for j, name in enumerate(names):
        below = pred[..., j] < 0
        if below.any() and np.nanmin(training[:, j]) >= 0:
            own, truth = pred[..., j : j + 1], true[..., j : j + 1]
            rmse = [forecast_scores(p, truth, scale[j : j + 1])["rmse"] for p in (own, np.maximum(own, 0))]
            found.append(f"{int(below.sum())} of {below.size} forecasts of '{name}' are below 0, though its training "
                         f"values never are (counts, demand?): clip them at 0 before use (clipped, rmse {rmse[0]:.4g} "
                         f"-> {rmse[1]:.4g})")
            log.warning(found[-1])
    return [note for note in found if note]


def series_scores(datamodule: Any, split: str, pred: np.ndarray, true: np.ndarray,
                  series: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Each series' own figures under the overall keys (``test/rmse``, ``test/aaa``, the baselines'
    ``test/baseline_<name>_<metric>``, ``test/rmse_vs_best_naive``, ``test/comparison``), its MASE
    scaled by its own training rows; one warning names the series where a naive forecast wins."""
    forecasts = datamodule.baseline_forecasts(split)
    # what the lines say of a seasonal naive left out (data.season_length=0, a season too long for the rows), as
    # the overall line says it: each series' line said 'no season length (set data.season_length)'
    settings = RunSettings.of(None, datamodule)
    rows, losing = {}, []
    for name, where, scale in series:
        own = forecast_scores(pred[where], true[where], scale)
        own["aaa"] = 1.0 - own["mape"]  # as the model logs it
        base = {b: forecast_scores(f[where], true[where], scale) for b, f in forecasts.items()}
        line, lost = comparison(own["rmse"], base, split, settings)  # lost: the warning, None when the model wins
        rows[name] = {"windows": len(where), **{f"{split}/{k}": v for k, v in own.items()},
                      **baseline_metrics(base, own["rmse"], split), f"{split}/comparison": line}
        if lost:
            losing.append(name)
    if losing:
        log.warning("a naive forecast beats the model on %d of %d series (%s); per-series figures: report.json "
                    "per_series", len(losing), len(series), _named(losing))
    return rows


def _named(names: list[str], shown: int = 10) -> str:
    """'A, B, C' or 'A, B, ... (40 in all)'."""
    return ", ".join(names[:shown]) + (f", ... ({len(names)} in all)" if len(names) > shown else "")


@torch.inference_mode()
def predictions(model: Any, loader: DataLoader, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Predictions over a split in the data's original units, (samples, steps, targets): mapped back
    in float64 with the data module's ``stats`` (float32 rounds a mean of 1e9 by up to 32)."""
    model.eval()
    device = next(model.parameters()).device
    pred = torch.cat([model(x.to(device)).cpu() for x, _ in loader]).double().numpy()
    pred = pred * stats["target_std"] + stats["target_mean"]
    return pred[:, None] if pred.ndim == 2 else pred  # single step: (samples, 1, targets)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_predictions(pred: np.ndarray, true: np.ndarray, names: list[str], path: Path,
                     series: list[tuple[str, np.ndarray, Any]], total: int = 0, limit: int = 500) -> None:
    """Predicted against true values (the first ``limit`` windows of each panel), (samples, targets):
    a panel per target of each series in ``series`` ((name, its windows' positions, _); one unnamed
    entry for a single series). ``total``: the series in the split, when more than are drawn."""
    plt = _pyplot()
    panels = [(name, where, j) for name, where, _ in series for j in range(pred.shape[1])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), squeeze=False, constrained_layout=True)
    for ax, (name, where, j) in zip(axes[:, 0], panels):
        target = names[j] if j < len(names) else str(j)
        ax.plot(true[where[:limit], j], label="true", linewidth=1.2)
        ax.plot(pred[where[:limit], j], label="predicted", linewidth=1.0, alpha=0.85)
        ax.set(title=f"{f'series {name}: ' if name else ''}{target}: predicted against true (first forecast step)",
               xlabel="window" + (" of this series" if name else ""), ylabel=target)
        ax.legend()
    if total > len(series):
        fig.suptitle(f"{len(series)} of {total} series shown; every series' figures: report.json per_series")
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def series_panels(targets: int) -> int:
    """How many series predictions.png draws: ``MAX_PANELS`` panels in all, a panel per target."""
    return max(1, MAX_PANELS // targets)


def plot_forecast_windows(datamodule: Any, split: str, pred: np.ndarray, path: Path,
                          of_series: list[tuple[str, np.ndarray, Any]] = (), count: int = 4) -> bool:
    """A few windows, evenly spread over the split: the window's history, the truth after it and
    every predicted step (first target), with the ETS forecast where there is one; ``of_series``
    (:meth:`series_windows`) names each window's series in its title."""
    dataset = datamodule.datasets[split]
    if len(dataset) == 0:
        return False
    plt = _pyplot()
    series = datamodule.load().targets[:, 0]
    rows = dataset.target_rows().numpy()  # (samples, steps)
    ets = datamodule.baseline_forecasts(split).get("ets")
    picks = np.unique(np.linspace(0, len(dataset) - 1, count).astype(int))
    owner = {int(i): name for name, where, _ in of_series for i in where}
    fig, axes = plt.subplots(len(picks), 1, figsize=(11, 2.6 * len(picks)), squeeze=False, constrained_layout=True)
    for ax, i in zip(axes[:, 0], picks):
        start = int(dataset.starts[i])
        history = np.arange(start, start + datamodule.window)
        ahead = np.arange(start + datamodule.window, rows[i, -1] + 1)
        ax.plot(history, series[history], color="grey", label="window (inputs)")
        ax.plot(ahead, series[ahead], color="black", marker=".", label="truth")
        ax.plot(rows[i], pred[i, :, 0], color="tab:blue", marker="o", label="model")
        if ets is not None:
            ax.plot(rows[i], ets[i, :, 0], color="tab:orange", marker="x", linestyle="--", label="ETS")
        named = f" (series {owner[int(i)]})" if int(i) in owner else ""
        ax.set(title=f"{split} window {i}{named}", xlabel="row", ylabel=datamodule.table.target_names[0])
        ax.legend(fontsize=8)
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return True


@torch.inference_mode()
def plot_attention(net: Any, loader: DataLoader, path: Path, rows: int = 64) -> bool:
    """Heat-map of attention weights (test windows x time steps) for nets that return them."""
    if not hasattr(net, "attention"):
        return False
    plt = _pyplot()
    net.eval()
    x, _ = next(iter(loader))
    _, weights = net(x[:rows].to(next(net.parameters()).device), return_attention=True)
    w = weights.cpu().numpy()  # (rows, window)
    fig, (ax_map, ax_mean) = plt.subplots(2, 1, figsize=(10, 7), height_ratios=[3, 1], constrained_layout=True)
    image = ax_map.imshow(w, aspect="auto", cmap="viridis")
    ax_map.set(title="attention weights per test window", xlabel="time step in window (right = most recent)",
               ylabel="test window")
    fig.colorbar(image, ax=ax_map, label="weight")
    ax_mean.bar(np.arange(w.shape[1]), w.mean(axis=0))
    ax_mean.set(title="mean weight per time step", xlabel="time step in window", ylabel="weight")
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return True
