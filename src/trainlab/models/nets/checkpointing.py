"""Gradient checkpointing for the nets' blocks: keep fewer activations, recompute them in backward.

``torch.utils.checkpoint`` (non-reentrant) drops a block's inner activations after the forward pass
and runs the block again during backward to get them back: activation memory falls to about one
block's worth plus each block's input, at the price of a second forward per block. The
recomputation replays the RNG state, so dropout masks match; batch-norm layers would update their
running statistics a second time, so here they are frozen while a block is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextmanager
def frozen_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Batch-norm layers in ``module`` normalise as usual but leave their running statistics alone."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def wanted(module: nn.Module, enabled: bool) -> bool:
    """Checkpoint only when it saves something: training with gradients on (not in eval or no_grad)."""
    return enabled and module.training and torch.is_grad_enabled()


def checkpointed(block: nn.Module, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` (a pass through ``block``) with its activations recomputed in backward."""
    return checkpoint(function, *args, use_reentrant=False,
                      context_fn=lambda: (nullcontext(), frozen_norm_statistics(block)))
