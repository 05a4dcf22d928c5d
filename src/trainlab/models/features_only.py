"""The features-only baseline of the graph family: what a star's own features tell, without the graph.

A small MLP (:class:`trainlab.models.nets.mlp.MLP`, as wide as the default GNN) trained on the
same split and the same features (imputed and scaled as the GNN sees them), with the care a
baseline needs to be fair: mini-batches, AdamW, early stopping on the validation loss and the best
epoch's weights kept. Plain PyTorch rather than a Lightning trainer: it runs inside a run that
already has one, in a second or two, and must leave that run's RNG state and outputs alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from trainlab.models.nets.mlp import MLP


@dataclass
class FeaturesOnly:
    """A fitted features-only classifier and the facts of its training."""

    net: MLP
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    class_weights: Optional[torch.Tensor] = None  # (classes,) the loss weights it trained with; None: all 1

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (rows, classes)."""
        self.net.eval()
        return self.net(x).softmax(dim=-1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.predict(x).argmax(dim=1) == y).float().mean())

    def facts(self) -> dict[str, Any]:
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "best_val_loss": round(self.best_val_loss, 6)}

    def weights_list(self) -> Optional[list[float]]:
        """The class weights it trained with, in output order (None: unweighted)."""
        return None if self.class_weights is None else [round(float(w), 6) for w in self.class_weights]


def fit_features_only(x: torch.Tensor, y: torch.Tensor, train: torch.Tensor, val: torch.Tensor, num_classes: int,
                      seed: int, hidden_channels: int = 64, num_layers: int = 2, dropout: float = 0.1, lr: float = 3e-3,
                      weight_decay: float = 1e-4, batch_size: int = 256, max_steps_per_epoch: int = 50,
                      max_epochs: int = 300, patience: int = 20, max_batch_size: int = 4096,
                      max_val_rows: int = 50_000, class_weights: Optional[torch.Tensor] = None) -> FeaturesOnly:
    """Train an MLP on rows ``train`` of ``x`` (rows, features) against labels ``y`` (int64 in
    [0, num_classes)); stop when the
    loss on rows ``val`` has not improved for ``patience`` epochs and keep the best epoch's weights.

    Batches grow beyond ``batch_size`` on big catalogues so that an epoch takes at most
    ``max_steps_per_epoch`` steps, up to ``max_batch_size`` rows; beyond that (over ~200,000 training
    stars) an epoch is that many steps of rows drawn afresh, and the validation loss is taken on a
    seeded ``max_val_rows``, so a 1e6-star catalogue costs what a 200,000-star one does (a whole pass
    per epoch took ~2 CPU s there: up to 10 minutes at the end of the run, before its last line).
    ``class_weights`` (classes,) weigh the loss as the model's ``model.class_weights`` do (None: all 1).
    Everything random (weights, order, dropout) comes from ``seed``
    inside a forked RNG, so the surrounding run's random state is untouched.
    """
    train_ids = train.nonzero().reshape(-1)
    batch = min(max(batch_size, -(-len(train_ids) // max_steps_per_epoch)), max(batch_size, max_batch_size))
    rows_per_epoch = batch * max_steps_per_epoch
    # gradients on and a private RNG: Lightning's test hooks and evaluate.py run under inference mode
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        x, y = x.clone(), y.clone()  # normal tensors, also when the caller's were made in inference mode
        val_ids = val.nonzero().reshape(-1)
        if len(val_ids) > max_val_rows:
            val_ids = val_ids[torch.randperm(len(val_ids), generator=torch.Generator().manual_seed(seed))[:max_val_rows]]
        x_val, y_val = x[val_ids], y[val_ids]
        torch.manual_seed(seed)
        net = MLP(x.shape[1], hidden_channels, num_classes, num_layers, dropout)
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        order = torch.Generator().manual_seed(seed)
        best_loss, best_epoch, best_state, epoch = float("inf"), 0, None, 0
        for epoch in range(max_epochs):
            net.train()
            for ids in train_ids[torch.randperm(len(train_ids), generator=order)[:rows_per_epoch]].split(batch):
                optimizer.zero_grad()
                nn.functional.cross_entropy(net(x[ids]), y[ids], weight=class_weights).backward()
                optimizer.step()
            net.eval()
            with torch.inference_mode():
                loss = float(nn.functional.cross_entropy(net(x_val), y_val, weight=class_weights))
            if loss < best_loss:
                best_loss, best_epoch = loss, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            elif epoch - best_epoch >= patience:
                break
    net.load_state_dict(best_state)
    return FeaturesOnly(net.eval(), epoch + 1, best_epoch, best_loss, class_weights)
