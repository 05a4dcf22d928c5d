"""A plain multilayer perceptron: the features-only baseline of the graph family."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import initialise


class MLP(nn.Module):
    """``num_layers`` hidden layers (Linear, ReLU, dropout) and a linear output layer.

    It sees one row at a time, nothing around it: beside a GNN of the same width it shows what
    a star's own features tell without the graph.

    Args:
        in_channels: features per row.
        hidden_channels: width of the hidden layers.
        out_channels: outputs (classes).
        num_layers: hidden layers.
        dropout: after every hidden layer.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 2, num_layers: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        require_sizes(in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels,
                      num_layers=num_layers)
        require_dropout(dropout)
        layers: list[nn.Module] = []
        width = in_channels
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_channels), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_channels
        layers.append(nn.Linear(width, out_channels))
        self.layers = nn.Sequential(*layers)
        initialise(self, "kaiming")  # He init for ReLU units, as the GNN's default

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (rows, in_channels) -> (rows, out_channels)
