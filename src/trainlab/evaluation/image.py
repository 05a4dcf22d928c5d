"""Evaluation of the image family: anomaly maps beside their tiles, image-level curves, and the
baselines a U-Net has to beat (see :mod:`trainlab.evaluation` for the two functions' contract).

Baselines, scored on the same split:

- majority class: call every tile by the commoner label (image accuracy);
- empty mask: predict no anomalous pixel (pixel IoU 0, whatever the data);
- brightness: a pixel's normalised value in the newest channel as its anomaly score (anomalies are
  bright, but so are stars and galaxies), the tile's maximum as its image score;
- difference (two-epoch data only): new epoch minus reference, the classical difference image.

The baselines' pixel AUPRC is exact (every pixel score kept), so it is scored on the split's first
batches up to ``MAX_BASELINE_PIXELS`` pixels; the image AUROC on the same tiles.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from trainlab.metrics.classification import CurveFigures, one_class_said
from trainlab.metrics.undefined import UndefinedAsNaN
from trainlab.models.image import CLASS_NAMES
from trainlab.run.durable import save_figure

MAX_BASELINE_PIXELS = 4_000_000  # ~64 MB of stored scores and targets per baseline


def forward_batch(model: Any, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> int:
    x = batch[0].to(device)  # (batch, C, H, W)
    model.image_score(model.anomaly_map(x))  # what inference delivers: the map and the tile's score
    return len(x)


def _squash(values: torch.Tensor) -> torch.Tensor:
    """Any real score into (0, 1), keeping its order: torchmetrics would pass values outside [0, 1]
    through a sigmoid, which ties large fluxes at 1.0; arctan in float64 keeps them apart."""
    return 0.5 + torch.atan(values.double()) / torch.pi


@torch.inference_mode()
def artifacts(model: Any, datamodule: Any, split: str, out_dir: Path, examples: int = 2) -> dict[str, Any]:
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    model.eval()
    device = next(model.parameters()).device
    curves = CurveFigures(2, CLASS_NAMES)
    tiles = datamodule.load()
    # NaN where undefined (a split of one label; no anomalous pixel), as the model's own scores: not 0.0
    baselines = {name: {"pixel": UndefinedAsNaN(BinaryAveragePrecision(), "pixel_auprc"),
                        "image": UndefinedAsNaN(BinaryAUROC(), "image_auroc")}
                 for name in (["brightness", "difference"] if tiles.reference_pair else ["brightness"])}
    scores, labels = [], []
    pixels = anomalous_pixels = 0
    for x, masks in loader:  # (batch, C, H, W), (batch, H, W)
        score = model.image_score(model.anomaly_map(x.to(device))).cpu()
        label = model.image_labels(masks)
        curves.update(torch.stack([1 - score, score], dim=1), label)
        scores.append(score)
        labels.append(label)
        anomalous_pixels += int(masks.sum())
        if pixels < MAX_BASELINE_PIXELS:
            for name, metrics in baselines.items():
                raw = x[:, -1] if name == "brightness" else x[:, -1] - x[:, 0]  # (batch, H, W)
                metrics["pixel"].update(_squash(raw).flatten(), masks.flatten().long())
                metrics["image"].update(_squash(raw.flatten(1).amax(dim=1)), label)
        pixels += masks.numel()
    score, label = torch.cat(scores), torch.cat(labels)
    one_class = split in (getattr(datamodule, "one_class", None) or {})  # a warning of the data module named it
    with one_class_said(one_class):
        plots = curves.save(out_dir, split)
    plots.append(plot_examples(model, datamodule, split, score, label, out_dir / f"{split}_anomaly_maps.png", examples))
    share = float(label.float().mean())
    extra: dict[str, Any] = {
        "image_score": model.hparams.image_score,
        "anomalous_tile_share": share,
        "anomalous_pixel_share": anomalous_pixels / pixels,
        "baseline_majority_accuracy": max(share, 1 - share),
        # no anomalous pixel in the masks: the empty mask's IoU is 0 / 0
        "baseline_empty_mask_iou": 0.0 if anomalous_pixels else float("nan"),
    }
    for name, metrics in baselines.items():
        with one_class_said(one_class):
            extra[f"baseline_{name}_pixel_auprc"] = float(metrics["pixel"].compute())
            extra[f"baseline_{name}_image_auroc"] = float(metrics["image"].compute())
    if tiles.kinds is not None:  # injected data: which kinds of anomaly the score finds (at 0.5)
        kinds = [tiles.kinds[i] for i in datamodule.indices[split]]
        for kind in sorted({k for joined in kinds for k in joined.split("+") if k}):
            having = torch.tensor([kind in joined.split("+") for joined in kinds])
            extra[f"recall_{kind}"] = float((score[having] >= 0.5).float().mean())
    extra.update({f"quality_{k}": v for k, v in datamodule.quality.items()})
    undefined = getattr(model, "undefined_metrics", None) or {}  # the test's, kept by trainlab.metrics.undefined
    notes = [f"{key} is undefined on this split (NaN): {why}" for key, why in undefined.items()]
    notes += [f"{key} is undefined on this split (NaN): no tile of both labels, or no anomalous pixel" for key, value
              in extra.items() if isinstance(value, float) and math.isnan(value)]
    return {"plots": plots, "extra": extra, **({"notes": notes} if notes else {})}


def plot_examples(model: Any, datamodule: Any, split: str, score: torch.Tensor, label: torch.Tensor, path: Path,
                  per_group: int = 2) -> str:
    """Tiles beside their true masks and anomaly maps, ``per_group`` of each: the anomalous tiles with
    the highest and the lowest scores (the hardest to find), and the clean tiles with the highest
    scores (the nearest to a false alarm)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    anomalous, clean = torch.where(label == 1)[0], torch.where(label == 0)[0]
    order_a = anomalous[torch.argsort(score[anomalous], descending=True)].tolist()
    order_c = clean[torch.argsort(score[clean], descending=True)].tolist()
    rows: dict[int, str] = {}  # tile -> why it is shown (a tile is shown once)
    for kind, picked in (("anomalous, top score", order_a[:per_group]),
                         ("anomalous, lowest score", order_a[::-1][:per_group]),
                         ("clean, top score", order_c[:per_group])):
        for i in picked:
            rows.setdefault(i, kind)
    dataset, tiles = datamodule.datasets[split], datamodule.load()
    index = torch.tensor(list(rows))
    images, masks = dataset.images[index], dataset.masks[index]  # (rows, C, H, W), (rows, H, W)
    maps = model.anomaly_map(images.to(next(model.parameters()).device)).cpu()
    names = [tiles.tile_names[datamodule.indices[split][i]] for i in rows]
    channels = images.shape[1]
    fig, axes = plt.subplots(len(rows), channels + 2, figsize=(2.6 * (channels + 2), 2.7 * len(rows)),
                             squeeze=False, constrained_layout=True)
    for r, (i, kind) in enumerate(rows.items()):
        for c in range(channels):
            low, high = np.percentile(images[r, c].numpy(), [1, 99.5])
            axes[r, c].imshow(images[r, c].numpy(), cmap="gray", vmin=low, vmax=high)
            axes[r, c].set_title(tiles.channel_names[c], fontsize=8)
        axes[r, channels].imshow(masks[r].numpy(), cmap="magma", vmin=0, vmax=1)
        axes[r, channels].set_title("true mask", fontsize=8)
        shown = axes[r, channels + 1].imshow(maps[r].numpy(), cmap="magma", vmin=0, vmax=1)
        axes[r, channels + 1].set_title(f"anomaly map, score {score[i]:.2f}", fontsize=8)
        axes[r, 0].set_ylabel(f"{kind}\n{names[r]}", fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(shown, ax=axes[:, -1].tolist(), shrink=0.6, label="P(anomalous pixel)")
    fig.suptitle(f"{split}: tiles, true masks and anomaly maps")
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path.name
