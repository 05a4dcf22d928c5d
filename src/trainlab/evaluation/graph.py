"""Evaluation of the graph family: confusion matrix, ROC and PR curves of the split, a map of the
predictions, a per-star predictions file (keyed by the catalogue's identifier, e.g. Gaia's
source_id), and the features-only, majority-class and chance baselines (see
:mod:`trainlab.evaluation` for the two functions' contract)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from trainlab.data.csv_writing import as_csv
from trainlab.evaluation.baselines import model_name
from trainlab.metrics.classification import CurveFigures
from trainlab.run.durable import save_figure, write_atomic

log = logging.getLogger(__name__)


def forward_batch(model: Any, batch: Any, device: torch.device) -> int:
    """The forward pass on one graph batch; returns the nodes it classifies for the split (the
    split's stars in a whole-graph batch, the seeds of an ego net), not the context around them."""
    batch = batch.to(device)
    model(batch.x, batch.edge_index)
    return int(batch.target_mask.sum())


@torch.inference_mode()
def predict(model: Any, loader: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class probabilities (n, classes), labels (n,) and node indices (n,) of every target node."""
    model.eval()
    device = next(model.parameters()).device
    probs, labels, nodes = [], [], []
    for batch in loader:
        batch = batch.to(device)
        mask = batch.target_mask
        probs.append(model(batch.x, batch.edge_index)[mask].float().softmax(dim=-1).cpu())
        labels.append(batch.y[mask].cpu())
        ids = batch.n_id if "n_id" in batch else torch.arange(batch.num_nodes, device=device)
        nodes.append(ids[mask].cpu())
    return torch.cat(probs), torch.cat(labels), torch.cat(nodes)


@torch.inference_mode()
def artifacts(model: Any, datamodule: Any, split: str, out_dir: Path) -> dict[str, Any]:
    model.weigh_classes(datamodule)  # the features-only baseline weighs the classes as the model did
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    probs, labels, nodes = predict(model, loader)
    names = list(model.class_names)
    curves = CurveFigures(len(names), names)
    curves.update(probs, labels)
    plots = curves.save(out_dir, split)
    plot_map(datamodule.table.map_plane(nodes.numpy()), labels.numpy(), probs.argmax(dim=1).numpy(), names,
             out_dir / f"{split}_map.png", split)
    plots.append(f"{split}_map.png")
    counts = torch.bincount(labels, minlength=len(names)).double()
    majority = datamodule.majority_class()
    graph = datamodule.graph
    predictions = write_predictions(datamodule, nodes.numpy(), labels.numpy(), probs.numpy(), names,
                                    out_dir / f"{split}_predictions.csv")
    accuracy = float((probs.argmax(dim=1) == labels).double().mean())
    versus = datamodule.baselines(split).summary(model_name(model), accuracy)
    log.info("%s", versus["line"])
    if versus["caution"]:
        log.warning("%s", versus["caution"])
    return {"plots": plots, "files": [predictions], "extra": {
        "versus_baselines": versus["line"],
        "baselines_caution": versus["caution"],
        "baseline_features_only_accuracy": versus["scores"]["features only"],
        "baseline_features_only_epochs": versus["details"]["features_only"]["epochs_run"],
        "class_weights": versus["details"]["class_weights"],  # model.class_weights resolved; None: unweighted
        "baseline_majority_class": names[majority],
        "baseline_majority_accuracy": float(counts[majority] / counts.sum()),
        "baseline_chance_accuracy": 1.0 / len(names),  # a uniform random guess
        "missing_values_imputed": versus["details"]["missing_values"],
        "stars_left_out": versus["details"]["left_out"],
        "predictions_file": predictions,
        f"{split}_nodes": int(counts.sum()),
        "graph_nodes": int(graph.num_nodes),
        "graph_edges": int(graph.num_edges),
        "batches": "sampled ego nets" if datamodule.sampled else "whole graph",
    }}


def write_predictions(datamodule: Any, nodes: np.ndarray, labels: np.ndarray, probs: np.ndarray, names: list[str],
                      path: Path) -> str:
    """One row per star of the split: its identifier (int64, exact), true and predicted class, the
    class probabilities; returns the file's name."""
    import pandas as pd

    table = datamodule.table
    frame = pd.DataFrame({table.id_name: table.ids[nodes], "label": np.asarray(names)[labels],
                          "predicted": np.asarray(names)[probs.argmax(axis=1)]})
    for k, name in enumerate(names):
        frame[f"p_{name}"] = probs[:, k]
    write_atomic(path, as_csv(frame, table.written_as, float_format="%.6g"))  # as the catalogue is written
    return path.name


def plot_map(plane: tuple[np.ndarray, str, str], labels: Optional[np.ndarray], predicted: np.ndarray, names: list[str],
             path: Path, split: str, limit: int = 20000) -> None:
    """The split's stars on a map, coloured by predicted class, misclassified ones ringed in black (``labels``
    None: stars without labels, predict.py's, nothing ringed).
    ``plane``: (stars, 2) coordinates and the two axes' labels (``StarTable.map_plane``: x, y in pc, or
    the two angles in degrees for a catalogue without distances, drawn as on the sky: longitude
    increasing to the left)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions, xlabel, ylabel = plane
    if len(predicted) > limit:  # keep the file small and the drawing quick: an even subsample
        keep = np.linspace(0, len(predicted) - 1, limit).astype(int)
        positions, predicted = positions[keep], predicted[keep]
        labels = None if labels is None else labels[keep]
    fig, ax = plt.subplots(figsize=(7, 6.5), constrained_layout=True)
    counts = np.bincount(predicted, minlength=len(names))
    for k in np.argsort(-counts, kind="stable"):  # the most stars first: a rare class drawn under them was hidden
        chosen = predicted == k
        ax.scatter(positions[chosen, 0], positions[chosen, 1], s=4, alpha=0.7, color=f"C{k % 10}",
                   label=f"predicted {names[k]}")
    handles, texts = ax.get_legend_handles_labels()  # the legend in the classes' order
    order = np.argsort(np.argsort(-counts, kind="stable"))  # class k's place in the drawing order
    handles, texts = [handles[i] for i in order], [texts[i] for i in order]
    if labels is not None:
        wrong = predicted != labels
        handles.append(ax.scatter(positions[wrong, 0], positions[wrong, 1], s=22, facecolors="none",
                                  edgecolors="black", linewidths=0.6))
        texts.append(f"misclassified ({int(wrong.sum())} of {len(labels)})")
    ax.set(title=f"{split}: predicted classes", xlabel=xlabel, ylabel=ylabel, aspect="equal")
    if xlabel.endswith("(deg)"):
        ax.invert_xaxis()  # east to the left, as the sky is seen
    ax.legend(handles, texts, loc="upper right", fontsize=8, markerscale=2)
    save_figure(fig, path, dpi=100)
    plt.close(fig)
