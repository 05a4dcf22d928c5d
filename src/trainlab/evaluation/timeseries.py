"""Evaluation of the time-series family: predicted-against-true plots, attention heat-maps, the
"repeat the last value" baseline (see :mod:`trainlab.evaluation` for the two functions' contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader


def forward_batch(model: Any, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> int:
    x = batch[0].to(device)  # (batch, window, features)
    model(x)
    return len(x)


@torch.inference_mode()
def artifacts(model: Any, datamodule: Any, split: str, out_dir: Path) -> dict[str, Any]:
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    pred, true = predictions(model, loader)
    plot_predictions(pred, true, datamodule.table.target_names, out_dir / "predictions.png")
    plots = ["predictions.png"]
    if plot_attention(model.net, loader, out_dir / "attention_heatmap.png"):
        plots.append("attention_heatmap.png")
    return {"plots": plots, "extra": {"baseline_last_value_rmse": datamodule.last_value_rmse(split)}}


@torch.inference_mode()
def predictions(model: Any, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets over a split, in the data's original units: (samples, targets) each."""
    model.eval()
    device = next(model.parameters()).device
    preds, trues = [], []
    for x, y in loader:
        preds.append(model.to_original_units(model(x.to(device))).cpu())
        trues.append(model.to_original_units(y.to(device)).cpu())
    return torch.cat(preds).numpy(), torch.cat(trues).numpy()


def plot_predictions(pred: np.ndarray, true: np.ndarray, names: list[str], path: Path, limit: int = 500) -> None:
    """Predicted against true series for each target (the first ``limit`` test steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = pred.shape[1]
    fig, axes = plt.subplots(k, 1, figsize=(11, 3.2 * k), squeeze=False, constrained_layout=True)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(true[:limit, j], label="true", linewidth=1.2)
        ax.plot(pred[:limit, j], label="predicted", linewidth=1.0, alpha=0.85)
        ax.set(title=f"{names[j] if j < len(names) else j}: predicted against true (test split)",
               xlabel="test window", ylabel=names[j] if j < len(names) else "value")
        ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@torch.inference_mode()
def plot_attention(net: Any, loader: DataLoader, path: Path, rows: int = 64) -> bool:
    """Heat-map of attention weights (test windows x time steps) for nets that return them."""
    if not hasattr(net, "attention"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
