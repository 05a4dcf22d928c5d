"""DataLoader workers hand each batch to the training process through shared memory (``/dev/shm``), which a
container may keep small: Docker gives 64 MB unless ``--shm-size`` says otherwise.

A tensor that is not in shared memory yet is moved there while the worker's queue thread pickles it;
where that failed (``unable to allocate shared memory(shm) for file </torch_...>: No space left on
device``), the thread printed a traceback and dropped the batch, and the training process waited for it
forever. Every project collate function ends in :func:`in_shared_memory`, so the move happens in the
worker's own thread, as torch's ``default_collate`` allocates its result: a failure is then the worker's
error, which the DataLoader raises in the training process, and :func:`shared_memory_error` turns it (or
torch's own, from a worker killed by SIGBUS) into one line naming the fixes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import torch
from torch.utils.data import get_worker_info

from trainlab.config.errors import UserError

Batch = TypeVar("Batch")
SHM = "/dev/shm"
# what torch says where shared memory ran out: in a worker's allocation (file_descriptor or file_system
# sharing), and for a worker killed by SIGBUS while it wrote a batch there
_SIGNS = ("unable to allocate shared memory", "unable to write to file </torch_", "unable to open shared memory",
          "out of shared memory")


def in_shared_memory(batch: Batch) -> Batch:
    """``batch`` with its tensors (in tuples, lists, dicts or a PyG ``Data``) moved into shared memory, in a
    DataLoader worker; elsewhere (the training process) as it is."""
    if get_worker_info() is not None:
        _share(batch)
    return batch


class SharedInWorkers:
    """A library's collate function (torch_geometric's ``RandomNodeLoader``) followed by :func:`in_shared_memory`."""

    def __init__(self, collate: Callable[[Any], Any]):
        self.collate = collate

    def __call__(self, items: Any) -> Any:
        return in_shared_memory(self.collate(items))


def _share(item: Any) -> None:
    if isinstance(item, torch.Tensor):
        item.share_memory_()
    elif isinstance(item, (tuple, list)):
        for part in item:
            _share(part)
    elif isinstance(item, dict):
        for part in item.values():
            _share(part)
    elif callable(getattr(item, "share_memory_", None)):  # torch_geometric's Data and Batch
        item.share_memory_()


def _shm_size() -> str:
    try:
        stats = os.statvfs(SHM)
    except OSError:
        return "the shared memory"
    total = stats.f_blocks * stats.f_frsize >> 20
    return f"{SHM}, which holds {total} MB here{' (a Docker container gets 64 MB)' if total <= 64 else ''},"


def shared_memory_error(exc: BaseException) -> Optional[UserError]:
    """The one line for a DataLoader worker that ran out of shared memory anywhere in ``exc``'s chain, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, RuntimeError) and any(sign in str(exc) for sign in _SIGNS):
            return UserError(
                f"DataLoader workers ran out of shared memory: they pass each batch to the training process "
                f"through {_shm_size()} and the batches in flight (hardware.num_workers x hardware.prefetch_factor) "
                "did not fit; give the container more (docker run --shm-size=2g, or --ipc=host), use smaller "
                "batches (data.batch_size), or load the data in the training process: hardware.num_workers=0")
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
