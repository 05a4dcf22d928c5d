"""Sliding windows served as views over one array, and a shuffle that resumes identically."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler


class WindowDataset(Dataset):
    """Windows over a (rows, features) tensor without copying it.

    Sample i covers feature rows [s, s + window) with s = first_start + i * stride, and its target is
    the target row s + window - 1 + horizon (``horizon`` steps after the window's last row).
    Memory grows with the number of rows, not rows x window: the tensors are shared by every split
    and a batch is gathered only when it is asked for (``__getitems__``).
    """

    def __init__(
        self,
        features: torch.Tensor,  # (rows, num_features), float32
        targets: torch.Tensor,  # (rows, num_targets), float32
        window: int,
        horizon: int,
        stride: int,
        first_start: int,
        last_start: int,  # inclusive
    ):
        self.features, self.targets = features, targets
        self.window, self.horizon, self.stride = window, horizon, stride
        self.first_start = first_start
        self.length = max(0, (last_start - first_start) // stride + 1)
        # (num_windows_total, num_features, window): a strided view, no copy
        self._feature_windows = features.unfold(0, window, 1)

    def __len__(self) -> int:
        return self.length

    def _starts(self, indices: torch.Tensor) -> torch.Tensor:
        return self.first_start + indices * self.stride

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        start = self.first_start + index * self.stride
        return self.features[start : start + self.window], self.targets[start + self.window - 1 + self.horizon]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        starts = self._starts(torch.as_tensor(indices, dtype=torch.long))
        x = self._feature_windows[starts].transpose(1, 2)  # (batch, window, features)
        y = self.targets[starts + self.window - 1 + self.horizon]  # (batch, targets)
        return x, y


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn for WindowDataset: ``__getitems__`` already returns a stacked batch."""
    return batch


class EpochSeededSampler(Sampler[int]):
    """Random order drawn from (seed, epoch) only, never from the global RNG.

    Lightning calls ``set_epoch`` before every training epoch, so a run resumed from a checkpoint
    sees the same order in epoch k as an uninterrupted one.
    """

    def __init__(self, num_samples: int, seed: int):
        self.num_samples, self.seed, self.epoch = num_samples, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.num_samples, generator=generator).tolist())
