"""Training order and batches that every family's loaders share: an order drawn from (seed, epoch)
only, so that a resumed run sees the batches an uninterrupted one would."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from trainlab.data.shared_memory import in_shared_memory


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn for datasets whose ``__getitems__`` already returns a stacked batch (windows, tiles)."""
    return in_shared_memory(batch)


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
