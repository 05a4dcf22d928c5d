"""The segmentation task: one LightningModule for pixel anomaly maps with an image-level score."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAveragePrecision, BinaryF1Score, BinaryJaccardIndex

from trainlab.config.errors import UserError
from trainlab.metrics.classification import UNCHECKED, CurveFigures, classification_metrics, one_class_said
from trainlab.metrics.undefined import A_POSITIVE, BOTH_CLASSES, UndefinedAsNaN
from trainlab.models.step_logging import record_train_loss
from trainlab.models.task import NetCall, TaskModule

CLASS_NAMES = ["clean", "anomalous"]  # image-level classes; class 1 is the positive one
IMAGE_SCORES = ("max", "topk_mean")


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice over every pixel of the batch (Milletari et al. 2016, "V-Net").

    Summed over the whole batch, not per image: a clean tile has no anomalous pixel and a per-image
    Dice would be 0/0 there. ``eps`` keeps an all-clean batch finite (its loss then pushes p to 0).
    """
    intersection = (probs * target).sum()
    return 1.0 - (2.0 * intersection + eps) / (probs.sum() + target.sum() + eps)


class SegmentationModule(TaskModule):
    """Trains a net that maps images (batch, C, H, W) to anomaly logits (batch, 1, H, W).

    Loss: binary cross-entropy on logits, anomalous pixels weighted by ``pos_weight`` (they are rare:
    about 1.5% of the pixels of the default data), plus ``dice_weight`` times the soft Dice loss, which
    rewards overlap regardless of how few pixels are anomalous, plus ``image_weight`` times the
    cross-entropy of the image score against the tile's label. Both pixel losses count pixels, so a
    long streak outweighs a one-pixel hot pixel hundreds of times; the image term counts every tile
    once (with ``max`` it is the multiple-instance loss of the tile's most anomalous pixel).

    The anomaly map is the per-pixel probability (sigmoid of the logits). The image-level anomaly
    score is derived from it, without a second head: ``max`` (default) takes the most anomalous
    pixel, because the smallest anomaly, a hot pixel, covers one pixel and any average over more
    pixels dilutes it; ``topk_mean`` averages the ``top_k`` largest probabilities, steadier against a
    single noisy pixel when anomalies are known to be larger. The score is the probability of class
    "anomalous"; a tile is called anomalous when it is at least 0.5.

    Logged (``val/`` and ``test/``): ``loss``; pixel-level ``iou`` (Jaccard), ``dice`` (F1 over pixels)
    at threshold 0.5 and ``pixel_auprc`` (average precision, 200 binned thresholds: constant memory);
    image-level accuracy, balanced accuracy, precision / recall / F1 (macro, micro, weighted), AUROC,
    AUPRC, MCC, ECE and Brier (trainlab.metrics.classification). Confusion matrix, ROC and PR
    curves of the image scores go to TensorBoard at the end of validation and test.

    Args:
        net: the network (e.g. trainlab.models.nets.unet.UNet with out_channels 1).
        optimizer: partial optimizer, completed with the parameters in configure_optimizers.
        scheduler: partial LR scheduler or None.
        pos_weight: weight of anomalous pixels in the cross-entropy (1: unweighted).
        dice_weight: weight of the soft Dice loss added to it (0: cross-entropy alone).
        image_weight: weight of the image score's cross-entropy against the tile's label, added too
            (0: pixel losses alone).
        image_score: "max" or "topk_mean" (see above).
        top_k: pixels averaged by ``topk_mean``.
        monitor: metric ReduceLROnPlateau watches.
        compile: compile the net's forward with torch.compile (see TaskModule).
    """

    family = "image"  # trainlab.config.families: models and data of one family go together

    def __init__(
        self,
        net: nn.Module,
        optimizer: Optional[Callable[..., torch.optim.Optimizer]],
        scheduler: Optional[Callable[..., Any]] = None,
        pos_weight: float = 5.0,
        dice_weight: float = 1.0,
        image_weight: float = 1.0,
        image_score: str = "max",
        top_k: int = 16,
        monitor: str = "val/loss",
        compile: bool = False,
    ):
        super().__init__(net, optimizer, scheduler, compile)
        if pos_weight <= 0:
            raise UserError(f"model.pos_weight={pos_weight} must be > 0 (1: unweighted)")
        if dice_weight < 0:
            raise UserError(f"model.dice_weight={dice_weight} must be >= 0 (0: cross-entropy alone)")
        if image_weight < 0:
            raise UserError(f"model.image_weight={image_weight} must be >= 0 (0: pixel losses alone)")
        if image_score not in IMAGE_SCORES:
            raise UserError(f"model.image_score={image_score!r} is not one of {', '.join(IMAGE_SCORES)}")
        if top_k < 1:
            raise UserError(f"model.top_k={top_k} must be at least 1")
        # partials stay out of the checkpoint (see RegressionModule)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)), persistent=False)
        # NaN where undefined (trainlab.metrics.undefined): IoU and Dice where no pixel is anomalous in the masks
        # nor predicted so (0 / 0), pixel AUPRC where no pixel is anomalous; torchmetrics made them 0.0
        pixel = MetricCollection({
            "iou": UndefinedAsNaN(BinaryJaccardIndex(**UNCHECKED), "iou", A_POSITIVE),
            "dice": UndefinedAsNaN(BinaryF1Score(**UNCHECKED), "dice", A_POSITIVE),  # Dice = F1 of the pixels
            "pixel_auprc": UndefinedAsNaN(BinaryAveragePrecision(thresholds=200, **UNCHECKED), "pixel_auprc",
                                          BOTH_CLASSES),
        })
        image = classification_metrics(2)
        self.val_pixel, self.test_pixel = pixel.clone(prefix="val/"), pixel.clone(prefix="test/")
        self.val_image, self.test_image = image.clone(prefix="val/"), image.clone(prefix="test/")
        self.val_curves, self.test_curves = CurveFigures(2, CLASS_NAMES), CurveFigures(2, CLASS_NAMES)

    # -- what evaluation and prediction use ------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.checked_output(self.net(x), (x.shape[0], 1, *x.shape[2:]),
                                   "(batch, 1, height, width)")  # logits

    def net_call(self, batch: tuple[torch.Tensor, torch.Tensor]) -> NetCall:
        x = batch[0][:2]
        n, height, width = x.shape[0], x.shape[2], x.shape[3]
        return NetCall({"x": x}, (n, 1, height, width),
                       f"(batch, 1, height, width) = ({n}, 1, {height}, {width}), one anomaly logit per pixel",
                       "build the last layer with the out_channels the pipeline passes (1; model.net.out_channels: "
                       "null takes it from the data), and keep the input's height and width (padding=kernel_size // 2)")

    def anomaly_map(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that each pixel is anomalous: (batch, C, H, W) images -> (batch, H, W)."""
        return torch.sigmoid(self(x)[:, 0].float())

    def image_score(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        """Image-level anomaly score in [0, 1] from (batch, H, W) pixel probabilities -> (batch,)."""
        flat = anomaly_map.flatten(1)
        if self.hparams.image_score == "max":
            return flat.amax(dim=1)
        return flat.topk(min(self.hparams.top_k, flat.shape[1]), dim=1).values.mean(dim=1)

    @staticmethod
    def image_labels(masks: torch.Tensor) -> torch.Tensor:
        """(batch, H, W) masks -> (batch,) int64: 1 when any pixel is anomalous."""
        return (masks.flatten(1).amax(dim=1) > 0).long()

    # -- training and metrics ----------------------------------------------------------------
    def loss(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        logits = logits.float()  # (batch, H, W); the loss in fp32 also under mixed precision
        loss = nn.functional.binary_cross_entropy_with_logits(logits, masks, pos_weight=self.pos_weight)
        if self.hparams.dice_weight > 0:
            loss = loss + self.hparams.dice_weight * soft_dice_loss(torch.sigmoid(logits), masks)
        if self.hparams.image_weight > 0:
            # the image score's own cross-entropy: every tile counts once, however small its anomaly
            # (pixel losses are dominated by large streaks; a hot pixel is one pixel of thousands)
            if self.hparams.image_score == "max":
                image_logit = logits.flatten(1).amax(dim=1)  # sigmoid(max logit) = max probability
            else:
                image_logit = torch.logit(self.image_score(torch.sigmoid(logits)), eps=1e-6)
            labels = self.image_labels(masks).float()
            image_loss = nn.functional.binary_cross_entropy_with_logits(image_logit, labels)
            loss = loss + self.hparams.image_weight * image_loss
        return loss

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, masks = batch  # (batch, C, H, W), (batch, H, W) in {0, 1}
        logits = self(x)[:, 0]
        loss = self.loss(logits, masks)
        if stage == "train":
            record_train_loss(self, loss, weight=x.shape[0])
            return loss
        (self.val_loss if stage == "val" else self.test_loss).update(loss, weight=x.shape[0])
        probs = torch.sigmoid(logits.detach().float())
        pixel, image, curves = ((self.val_pixel, self.val_image, self.val_curves) if stage == "val"
                                else (self.test_pixel, self.test_image, self.test_curves))
        pixel.update(probs.flatten(), masks.flatten().long())
        scores = self.image_score(probs)
        image_probs = torch.stack([1 - scores, scores], dim=1)  # (batch, 2): clean, anomalous
        labels = self.image_labels(masks)
        image.update(image_probs, labels)
        curves.update(image_probs, labels)  # metrics are logged at the epoch's end
        return loss

    def eval_metrics(self, stage: str) -> tuple[MetricCollection, ...]:
        return (self.val_pixel, self.val_image) if stage == "val" else (self.test_pixel, self.test_image)

    def on_validation_epoch_end(self) -> None:
        with self._undefined_said("val"):
            super().on_validation_epoch_end()

    def on_test_epoch_end(self) -> None:
        with self._undefined_said("test"):
            super().on_test_epoch_end()

    def _undefined_said(self, stage: str) -> Any:
        """Quiet for torchmetrics' warning of targets of one class where the data module has warned that the
        split holds tiles of one label (SkyDataModule.one_class), and in the sanity check, whose few batches may
        hold one label and whose scores are thrown away; the user read the same fact twice, torchmetrics' after
        ours and without the split's name."""
        data = getattr(self.trainer, "datamodule", None)
        said = stage in (getattr(data, "one_class", None) or {}) or self.trainer.sanity_checking
        return one_class_said(said, *self.eval_metrics(stage))

    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        maps = self.anomaly_map(batch[0])
        return {"anomaly_map": maps, "score": self.image_score(maps)}
