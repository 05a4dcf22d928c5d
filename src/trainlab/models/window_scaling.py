"""Per-window scaling of the target channels, reversed on the net's output.

A net trained on standardised values cannot output levels it never saw: on a trending series the
test years lie outside the training range. Scaling each window by its own statistics makes every
window look alike whatever its level, and the net predicts relative to the window:

- ``revin``: subtract the window's mean, divide by its standard deviation; the output is mapped
  back with the same two numbers (reversible instance normalisation, Kim et al., ICLR 2022, without
  the learnable affine; the window scalers of NeuralForecast and PyTorch Forecasting do the same).
- ``last``: subtract the window's last value, divide by the window's standard deviation: the net
  predicts the change from the last value, in units of the window's spread.
- ``none``: the data module's global standardisation only.

Only the past-target channels are scaled (other features keep their global scaling); each
target's output is mapped back with its own channel's centre and scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainlab.config.errors import UserError

MODES = ("none", "revin", "last")
# The default, chosen on validation by benchmarks/forecast.py (README: forecasting). It is the constructor's
# default (RegressionModule), so a model config without the key, a shipped one and the Python API agree; a
# checkpoint keeps the mode it was trained with (trainlab.run.trained).
DEFAULT = "last"
EPS = 1e-5  # added to the variance, as in RevIN: a flat window does not divide by zero


class WindowScaler(nn.Module):
    """``scale(x) -> (x_scaled, centre, spread)`` and ``unscale(y, centre, spread)``.

    Args:
        mode: one of MODES.
        target_channels: input channel of each target's past values (in target order).
    """

    def __init__(self, mode: str, target_channels: Sequence[int]):
        super().__init__()
        if mode not in MODES:
            raise UserError(f"model.window_scaling={mode!r} is not one of {', '.join(MODES)}")
        if mode != "none" and not target_channels:
            raise UserError(f"model.window_scaling={mode} scales the past targets, but the inputs hold none "
                            "(data.target_inputs=false); set data.target_inputs=true or model.window_scaling=none")
        self.mode = mode
        self.register_buffer("channels", torch.tensor(list(target_channels), dtype=torch.long), persistent=False)

    def scale(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (batch, window, inputs) -> scaled x, centre and spread (batch, 1, targets) each."""
        if self.mode == "none":
            ones = x.new_ones(x.shape[0], 1, 1)
            return x, ones * 0.0, ones
        past = x[:, :, self.channels]  # (batch, window, targets)
        spread = torch.sqrt(past.var(dim=1, keepdim=True, unbiased=False) + EPS)
        centre = past.mean(dim=1, keepdim=True) if self.mode == "revin" else past[:, -1:, :]
        x = x.clone()
        x[:, :, self.channels] = (past - centre) / spread
        return x, centre, spread

    def unscale(self, y: torch.Tensor, centre: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
        """y (batch, steps, targets) in window units -> the data module's (global) units."""
        return y * spread + centre
