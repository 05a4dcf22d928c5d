"""A U-Net for per-pixel maps of (channels, H, W) images (Ronneberger, Fischer & Brox 2015)."""

from __future__ import annotations

import math

import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.models.nets.checkpointing import checkpointed, wanted
from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import check_scheme, initialise


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch norm and ReLU, then optional 2-D dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            # no conv bias: the batch norm right after has its own shift
            layers += [nn.Conv2d(c_in, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                       nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))  # drops whole feature maps (Tompson et al. 2015)
        super().__init__(*layers)


class UNet(nn.Module):
    """Encoder-decoder with skip connections; maps (batch, in_channels, H, W) to logits (batch, out_channels, H, W).

    The encoder halves the resolution ``depth`` times (max-pooling) and doubles the channels each
    time, from ``base_channels`` to ``base_channels * 2**depth`` at the bottleneck; the decoder
    upsamples with transposed convolutions and concatenates the encoder's map of the same size.
    Any H and W work: the input is padded (edge values repeated) to a multiple of ``2**depth`` and
    the output cropped back.

    Args:
        in_channels: image channels (from the data when null).
        out_channels: maps predicted per pixel (from the data when null; 1 for anomaly masks).
        base_channels: channels of the first level.
        depth: number of down-sampling steps (receptive field grows with it).
        dropout: 2-D dropout in the bottleneck and decoder blocks.
        init: "kaiming" (default, ReLU units), "xavier" or "default" (see trainlab.models.nets.init).
        prior: starting probability of the positive class at every pixel: the last layer's bias is set
            to its log-odds, so rare anomalies don't start at 0.5 and swamp the first steps with loss
            (Lin et al. 2017, "Focal loss", section 4.1).
        checkpointing: gradient checkpointing per encoder and decoder block in training
            (trainlab.models.nets.checkpointing): each block's activations are recomputed in backward
            instead of kept. Same weights and state-dict keys either way.
    """

    def __init__(self, in_channels: int, out_channels: int = 1, base_channels: int = 16, depth: int = 3,
                 dropout: float = 0.0, init: str = "kaiming", prior: float = 0.01, checkpointing: bool = False):
        super().__init__()
        require_sizes(in_channels=in_channels, out_channels=out_channels, base_channels=base_channels, depth=depth)
        require_dropout(dropout)
        check_scheme(init)
        if not 0.0 < prior < 1.0:
            raise UserError(f"model.net.prior={prior} must lie strictly between 0 and 1")
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.multiple = 2**depth
        self.encoder = nn.ModuleList(
            ConvBlock(c_in, c_out, dropout if level == depth else 0.0)
            for level, (c_in, c_out) in enumerate(zip([in_channels, *widths[:-1]], widths))
        )
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                      for i in reversed(range(depth)))
        self.decoder = nn.ModuleList(ConvBlock(2 * widths[i], widths[i], dropout) for i in reversed(range(depth)))
        self.head = nn.Conv2d(base_channels, out_channels, 1)
        self.checkpointing = checkpointing
        initialise(self, init)
        nn.init.constant_(self.head.bias, math.log(prior / (1 - prior)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        run = self._checkpointed if wanted(self, self.checkpointing) else self._plain
        skips = []
        for level, block in enumerate(self.encoder):
            x = run(block, x if level == 0 else self.pool(x))
            skips.append(x)  # (batch, widths[level], H / 2**level, W / 2**level)
        x = skips.pop()  # the bottleneck
        for up, block in zip(self.upsample, self.decoder):
            x = run(block, torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)[..., :height, :width]  # (batch, out_channels, H, W)

    @staticmethod
    def _plain(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return block(x)

    @staticmethod
    def _checkpointed(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return checkpointed(block, block, x)
