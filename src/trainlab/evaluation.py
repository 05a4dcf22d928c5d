"""What evaluate.py measures beyond the test metrics: latency, throughput, plots, a report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(model: torch.nn.Module, loader: DataLoader, warmup: int = 5, max_batches: int = 200) -> dict[str, float]:
    """Wall time of the forward pass per batch and per sample (P50, P95) and samples per second.

    The first ``warmup`` batches are run but not timed (allocations, kernel selection). On a GPU
    every timing is bracketed by CUDA synchronisation, so it covers the work, not its launch.
    """
    model.eval()
    device = next(model.parameters()).device
    batches = [b for _, b in zip(range(warmup + max_batches), loader)]
    if len(batches) <= warmup:  # a tiny test split: time every batch, warm up on the first
        warmup = min(1, len(batches) - 1)
    times, sizes = [], []
    for i, (x, _) in enumerate(batches):
        x = x.to(device)
        _sync(device)
        start = time.perf_counter()
        model(x)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
            sizes.append(len(x))
    t, n = np.asarray(times), np.asarray(sizes)
    per_sample = t / n
    return {
        "batches_timed": int(len(t)), "batch_size": int(n.max()),
        "batch_ms_p50": float(np.percentile(t, 50) * 1e3), "batch_ms_p95": float(np.percentile(t, 95) * 1e3),
        "sample_ms_p50": float(np.percentile(per_sample, 50) * 1e3),
        "sample_ms_p95": float(np.percentile(per_sample, 95) * 1e3),
        "samples_per_second": float(n.sum() / t.sum()),
        "device": str(device),
    }


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


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    """report.json (everything) and report.md (the same, for people)."""
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Evaluation of `{report['checkpoint']}`", "", f"Run: `{report['run_dir']}`, split: {report['split']}", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.6g} |" for k, v in report["metrics"].items()]
    lines += [f"| baseline: repeat the last value, RMSE | {report['baseline_last_value_rmse']:.6g} |", "",
              "## Inference latency", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in report["latency"].items()]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
