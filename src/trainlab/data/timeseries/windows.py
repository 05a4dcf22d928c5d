"""Sliding windows served as views over one array, and a shuffle that resumes identically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch.utils.data import Dataset


class WindowDataset(Dataset):
    """Windows over a (rows, inputs) tensor without copying it.

    A batch's targets are (batch, steps, targets), or (batch, targets) when ``steps`` is 1 (one
    value per target, the shape single-step models have always had).

    Sample i covers input rows [s, s + window) with s = ``starts[i]`` (by default first_start + i *
    stride), and its targets are the ``steps`` consecutive target rows from s + window - 1 + horizon
    on: the first lies ``horizon`` steps after the window's last row, so no input row is ever a
    target row of its own sample. Memory grows with the number of rows, not rows x window: the
    tensors are shared by every split and a batch is gathered only when it is asked for
    (``__getitems__``).

    Args:
        starts: explicit window starts (the missing-value policy drops windows that touch a gap);
            None takes every ``stride``-th start from ``first_start`` to ``last_start``.
    """

    def __init__(
        self,
        features: torch.Tensor,  # (rows, num_inputs), float32
        targets: torch.Tensor,  # (rows, num_targets), float32
        window: int,
        horizon: int,
        stride: int,
        first_start: int,
        last_start: int,  # inclusive
        steps: int = 1,
        starts: Optional[torch.Tensor] = None,
    ):
        self.features, self.targets = features, targets
        self.window, self.horizon, self.stride, self.steps = window, horizon, stride, steps
        self.first_start = first_start
        if starts is None:
            starts = torch.arange(first_start, last_start + 1, stride, dtype=torch.long)
        self.starts = starts.long()
        self.length = len(self.starts)
        # (num_windows_total, num_inputs, window): a strided view, no copy
        self._feature_windows = features.unfold(0, window, 1)
        self._offsets = torch.arange(steps) + window - 1 + horizon  # target rows relative to a start

    def __len__(self) -> int:
        return self.length

    def target_rows(self) -> torch.Tensor:
        """(samples, steps): the rows of every sample's targets, in sample order."""
        return self.starts[:, None] + self._offsets

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        start = int(self.starts[index])
        y = self.targets[start + self._offsets]  # (steps, targets)
        return self.features[start : start + self.window], y[0] if self.steps == 1 else y

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        starts = self.starts[torch.as_tensor(indices, dtype=torch.long)]
        x = self._feature_windows[starts].transpose(1, 2)  # (batch, window, inputs)
        y = self.targets[starts[:, None] + self._offsets]  # (batch, steps, targets)
        return x, y[:, 0] if self.steps == 1 else y
