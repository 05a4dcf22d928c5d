"""The node-classification task: one LightningModule for every graph net."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import torch
from torch import nn
from torchmetrics import MetricCollection


from trainlab.config.errors import UserError
from trainlab.metrics.classification import CurveFigures, classification_metrics
from trainlab.models.step_logging import record_train_loss
from trainlab.models.task import NetCall, TaskModule

log = logging.getLogger(__name__)


def check_class_weights(spec: Union[None, str, Sequence[float]], class_names: Sequence[str]) -> None:
    """Refuse a ``model.class_weights`` that is not None, "balanced" or one positive number per class."""
    if spec is None or spec == "balanced":
        return
    hint = f"give null, balanced or one positive weight per class {list(class_names)}"
    if isinstance(spec, str) or not isinstance(spec, Sequence):
        raise UserError(f"model.class_weights={spec!r} is not a choice; {hint}")
    try:
        values = [float(w) for w in spec]
    except (TypeError, ValueError):
        raise UserError(f"model.class_weights={list(spec)} holds a non-number; {hint}") from None
    if len(values) != len(class_names):
        raise UserError(f"model.class_weights has {len(values)} weight(s), the data {len(class_names)} classes; {hint}")
    if not all(math.isfinite(w) and w > 0 for w in values):
        raise UserError(f"model.class_weights={values} must all be positive; {hint}")


def class_weight_tensor(spec: Union[str, Sequence[float]], counts: torch.Tensor) -> torch.Tensor:
    """(classes,) float32 loss weights: the given ones, or for "balanced" stars / (classes x count) of
    the training stars ``counts`` (a class without training stars gets 0: it cannot be learnt)."""
    if spec != "balanced":
        return torch.tensor([float(w) for w in spec], dtype=torch.float32)
    counts = counts.double()
    weights = counts.sum() / (len(counts) * counts.clamp(min=1))
    return torch.where(counts > 0, weights, torch.zeros_like(weights)).float()


class NodeClassificationModule(TaskModule):
    """Trains a net that maps a graph batch to one logit per class for every node.

    Batches are PyG ``Data`` objects (trainlab.data.graph.module): loss and metrics cover only the nodes
    in ``batch.target_mask`` (the split's stars, or the seeds of an ego net); the other nodes are
    context. Loss: cross-entropy, its classes weighed by ``class_weights``. Logged keys:
    ``train/loss_step``, ``train/loss_epoch``, ``val/loss`` and ``test/loss``, and for val and test every score of
    :func:`trainlab.metrics.classification.classification_metrics` (accuracy and F1 macro
    on the progress bar). Confusion matrix, ROC and PR curves go to TensorBoard at the end of every
    validation and test epoch, every ``figures_every_n_epochs`` epochs for validation.

    Args:
        net: the network (trainlab.models.nets.gnn.GNN), ``net(x, edge_index) -> logits``.
        optimizer: partial optimizer, completed with the parameters in configure_optimizers.
        scheduler: partial LR scheduler or None.
        class_names: class labels in output order (from the data).
        label_smoothing: cross-entropy label smoothing in [0, 1) (Szegedy et al. 2016).
        class_weights: each class's weight in the loss: None (all 1), "balanced" (training stars /
            (classes x the class's training stars), sklearn's ``class_weight="balanced"``: a 0.1% class
            counts as much as a 99.9% one), or one positive number per class in output order. The
            features-only baseline trains with the same weights (:meth:`weigh_classes`).
        figures_every_n_epochs: draw validation figures every n epochs (drawing three figures costs
            more than a whole full-graph epoch of a small catalogue); the last epoch always draws.
        monitor: metric ReduceLROnPlateau watches.
        compile: compile the net's forward with torch.compile (see TaskModule).
    """

    family = "graph"  # trainlab.config.families: models and data of one family go together
    SHOWN = ("accuracy", "f1_macro")  # on the progress bar besides the loss

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Optional[Callable[..., Any]] = None,
        class_names: Optional[Sequence[str]] = None,
        label_smoothing: float = 0.0,
        class_weights: Union[None, str, Sequence[float]] = None,
        figures_every_n_epochs: int = 10,
        monitor: str = "val/loss",
        compile: bool = False,
    ):
        super().__init__(net, optimizer, scheduler, compile)
        if not 0.0 <= label_smoothing < 1.0:
            raise UserError(f"model.label_smoothing={label_smoothing} must be in [0, 1)")
        if figures_every_n_epochs < 1:
            raise UserError(f"model.figures_every_n_epochs={figures_every_n_epochs} must be at least 1")
        # the partials stay out of the checkpoint's hyperparameters (see RegressionModule)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        given = getattr(net, "out_channels", None)  # a user's net may keep no such attribute (checked on a batch)
        num_classes = len(class_names) if class_names else given
        if given is not None and num_classes != given:
            raise UserError(f"model.net.out_channels={net.out_channels} but the data has {num_classes} classes "
                            f"{list(class_names)}; leave out_channels null")
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        check_class_weights(class_weights, self.class_names)
        # resolved on the data in setup(); not saved: the checkpoint keeps model.class_weights itself
        self.register_buffer("class_weight", None, persistent=False)
        metrics = classification_metrics(num_classes)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_curves = CurveFigures(num_classes, self.class_names)
        self.test_curves = CurveFigures(num_classes, self.class_names)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            self.weigh_classes(datamodule)

    def weigh_classes(self, datamodule: Any) -> Optional[torch.Tensor]:
        """Resolve ``class_weights`` on the data's training stars (Lightning's ``setup`` hook, and
        evaluate.py), put them in the loss and hand them to the data module's features-only baseline."""
        spec = self.hparams.class_weights
        weights = None if spec is None else class_weight_tensor(spec, datamodule.train_class_counts())
        if weights is not None and self.class_weight is None:
            log.info("class weights in the loss and the features-only baseline (model.class_weights=%s): %s", spec,
                     {n: round(float(w), 4) for n, w in zip(self.class_names, weights)})
        self.class_weight = None if weights is None else weights.to(self.device)
        datamodule.class_weights = weights
        return weights

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.checked_output(self.net(x, edge_index), (x.shape[0], len(self.class_names)),
                                   "(nodes, classes)")  # logits

    def net_call(self, batch: Any) -> NetCall:
        nodes, classes = batch.x.shape[0], len(self.class_names)
        return NetCall({"x": batch.x, "edge_index": batch.edge_index}, (nodes, classes),
                       f"(nodes, classes) = ({nodes}, {classes}), a logit per class for every node of the batch",
                       f"the data has {classes} classes {self.class_names}: build the last layer with the "
                       f"out_channels the pipeline passes (model.net.out_channels: null takes it from the data), "
                       f"and return every node's logits, not a pooled graph's")

    @staticmethod
    def _targets(batch: Any) -> tuple[torch.Tensor, int]:
        """(indices of the target nodes, their count).

        Normally found on the host by the data module (StarGraphDataModule.on_before_batch_transfer):
        found on the device, ``logits[mask]`` and ``int(mask.sum())`` would each make the host wait
        for the GPU every step. Batches that did not pass through the hook are handled here.
        """
        if getattr(batch, "target_nodes", None) is None:
            targets = batch.target_mask.nonzero().flatten()
            return targets, len(targets)
        return batch.target_nodes, batch.num_targets

    def batch_samples(self, batch: Any) -> int:
        """Labelled nodes a batch trains on (RunRecords counts samples per second with it)."""
        return self._targets(batch)[1]

    def _shared_step(self, batch: Any, stage: str) -> Optional[torch.Tensor]:
        targets, n = self._targets(batch)
        if n == 0:  # a random node part without training stars: nothing to learn from
            return None
        logits = self(batch.x, batch.edge_index).index_select(0, targets).float()  # (n, classes); fp32 under AMP
        y = batch.y.index_select(0, targets)
        loss = nn.functional.cross_entropy(logits, y, weight=self.class_weight,
                                           label_smoothing=self.hparams.label_smoothing)
        if stage == "train":
            record_train_loss(self, loss, weight=n, batch_size=n)
            return loss
        (self.val_loss if stage == "val" else self.test_loss).update(loss, weight=n)
        probs = logits.softmax(dim=-1)
        (self.val_metrics if stage == "val" else self.test_metrics).update(probs, y)  # logged at the epoch's end
        (self.val_curves if stage == "val" else self.test_curves).update(probs, y)
        return loss

    def eval_metrics(self, stage: str) -> tuple[MetricCollection, ...]:
        return (self.val_metrics,) if stage == "val" else (self.test_metrics,)

    def figures_due(self) -> bool:
        epoch = self.current_epoch + 1
        return epoch % self.hparams.figures_every_n_epochs == 0 or epoch == self.trainer.max_epochs

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Class probabilities of the batch's target nodes, (n, classes)."""
        return self(batch.x, batch.edge_index)[batch.target_mask].float().softmax(dim=-1)
