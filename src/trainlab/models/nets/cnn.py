"""A 1-D temporal convolution network on the same windows as the LSTMs."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import check_scheme, initialise


class TemporalCNN(nn.Module):
    """Stacked causal dilated Conv1d blocks (dilation 1, b, b^2, ... for ``dilation_base`` b; Bai et al. 2018,
    "TCN", use b = 2).

    Each block: causal conv -> ReLU -> dropout, with a residual connection. The head reads the last
    time step, whose receptive field is 1 + (kernel_size - 1) * (b^num_layers - 1) / (b - 1) steps.

    Args:
        in_channels: features per time step (from the data when null).
        hidden_channels: channels of every block.
        num_layers: number of blocks.
        out_channels: values predicted per window (from the data when null).
        kernel_size: width of each convolution (>= 2).
        dropout: after each block.
        init: "kaiming" (default, ReLU units), "xavier" or "default".
        dilation_base: each layer's dilation is this times the previous one's (>= 1; 1: no dilation). 2 when
            not given, which runs saved before the key existed were trained with.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 4, out_channels: int = 1,
                 kernel_size: int = 3, dropout: float = 0.1, init: str = "kaiming", dilation_base: int = 2):
        super().__init__()
        require_sizes(in_channels=in_channels, hidden_channels=hidden_channels, num_layers=num_layers,
                      out_channels=out_channels)
        if kernel_size < 2:
            raise UserError(f"model.net.kernel_size={kernel_size} must be at least 2")
        if dilation_base < 1:
            raise UserError(f"model.net.dilation_base={dilation_base} must be at least 1 (1: no dilation)")
        require_dropout(dropout)
        check_scheme(init)
        dilations = [dilation_base**i for i in range(num_layers)]
        self.inp = nn.Conv1d(in_channels, hidden_channels, 1)
        self.convs = nn.ModuleList(
            nn.Conv1d(hidden_channels, hidden_channels, kernel_size, dilation=d) for d in dilations
        )
        self.pads = [(kernel_size - 1) * d for d in dilations]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_channels, out_channels)
        initialise(self, init)
        self.receptive_field = 1 + sum(self.pads)  # steps the last output sees

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x.transpose(1, 2))  # (batch, channels, window)
        for conv, pad in zip(self.convs, self.pads):
            # left padding only: step t never sees steps after t
            h = h + self.dropout(torch.relu(conv(nn.functional.pad(h, (pad, 0)))))
        return self.head(h[:, :, -1])  # (batch, out_channels)
