"""Temporal Convolutional Network forecaster (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of
Generic Convolutional and Recurrent Networks for Sequence Modeling").

A stack of residual blocks; block i holds two dilated causal 1-D convolutions with dilation 2^i,
each followed by ReLU and dropout, with weight normalisation on the convolutions (the paper's
choice), and a residual connection (a 1x1 convolution where the channel count changes). The head
reads the last time step's features, as the LSTMs' heads do.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from trainlab.config.errors import UserError
from trainlab.models.nets.checkpointing import checkpointed, wanted
from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import check_scheme, initialise, initialise_linear

NORMS = ("weight", "none")


def tcn_receptive_field(kernel_size: int, num_blocks: int, convs_per_block: int = 2) -> int:
    """Steps the last output sees: each conv of block i adds (kernel_size - 1) * 2^i past steps,
    so 1 + convs_per_block * (kernel_size - 1) * (2^num_blocks - 1)."""
    return 1 + convs_per_block * (kernel_size - 1) * (2**num_blocks - 1)


class CausalConv1d(nn.Conv1d):
    """A dilated Conv1d padded on the left only: output step t sees input steps <= t, and the
    output keeps the input's length."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, channels, window)
        left = (self.kernel_size[0] - 1) * self.dilation[0]
        return super().forward(nn.functional.pad(x, (left, 0)))


class TemporalBlock(nn.Module):
    """conv -> ReLU -> dropout -> conv -> ReLU -> dropout, plus the (1x1-projected) input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float,
                 norm: str, init: str):
        super().__init__()
        convs = [CausalConv1d(c_in, out_channels, kernel_size, dilation=dilation)
                 for c_in in (in_channels, out_channels)]
        for conv in convs:
            if init != "default":  # before weight_norm: afterwards ``weight`` is computed, not stored
                initialise_linear(conv, init)
        if norm == "weight":
            convs = [weight_norm(conv) for conv in convs]
        self.conv1, self.conv2 = convs
        self.dropout = nn.Dropout(dropout)
        self.residual = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, in_channels, window) -> (batch, out, window)
        h = self.dropout(torch.relu(self.conv1(x)))
        h = self.dropout(torch.relu(self.conv2(h)))
        return torch.relu(h + self.residual(x))


class TCNNet(nn.Module):
    """Temporal Convolutional Network: residual blocks of dilated causal convolutions (dilation 1, 2,
    4, ... doubling per block); the last step's features go through a linear head.

    ``receptive_field`` is the number of past steps the forecast can see,
    1 + 2 (kernel_size - 1) (2^num_blocks - 1); a window longer than that is partly unused (the
    pipeline logs it), a receptive field longer than the window is harmless (the left padding
    stands in for the steps before the window).

    Args:
        input_size: features per time step (from the data when null).
        hidden_channels: channels of every block.
        num_blocks: residual blocks (levels); block i dilates by 2^i.
        output_size: values predicted per window, steps x targets (from the data when null).
        kernel_size: width of each convolution (>= 2).
        dropout: after each convolution's ReLU.
        norm: "weight" (weight normalisation of every convolution, as in the paper) or "none".
        init: "kaiming" (ReLU units), "xavier" or "default" (see trainlab.models.nets.init).
        checkpointing: gradient checkpointing per block in training (trainlab.models.nets.checkpointing);
            the weights and state-dict keys are the plain net's, so checkpoints load into either setting.
    """

    def __init__(self, input_size: int, hidden_channels: int = 64, num_blocks: int = 4, output_size: int = 1,
                 kernel_size: int = 3, dropout: float = 0.1, norm: str = "weight", init: str = "kaiming",
                 checkpointing: bool = False):
        super().__init__()
        require_sizes(input_size=input_size, hidden_channels=hidden_channels, num_blocks=num_blocks,
                      output_size=output_size, kernel_size=kernel_size)
        if kernel_size < 2:
            raise UserError(f"model.net.kernel_size={kernel_size} must be at least 2")
        if norm not in NORMS:
            raise UserError(f"model.net.norm={norm!r} is not one of {', '.join(NORMS)}")
        require_dropout(dropout)
        check_scheme(init)
        self.blocks = nn.ModuleList(
            TemporalBlock(input_size if i == 0 else hidden_channels, hidden_channels, kernel_size, 2**i, dropout,
                          norm, init)
            for i in range(num_blocks)
        )
        self.head = nn.Linear(hidden_channels, output_size)
        if init != "default":  # the convolutions were initialised in their blocks
            initialise(self.head, init)
            for block in self.blocks:
                if isinstance(block.residual, nn.Conv1d):
                    initialise(block.residual, init)
        self.receptive_field = tcn_receptive_field(kernel_size, num_blocks)
        self.checkpointing = checkpointing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (batch, window, features) -> (batch, features, window)
        recompute = wanted(self, self.checkpointing)
        for block in self.blocks:
            h = checkpointed(block, block, h) if recompute else block(h)  # (batch, hidden, window)
        return self.head(h[:, :, -1])  # (batch, output_size)
