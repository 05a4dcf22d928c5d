"""glibc's malloc in a training process and its DataLoader workers: freed host memory kept for the next
step (``hardware.host_memory_keep_mb``, :func:`keep_host_memory`), given back when a run called from Python
ends (:func:`reset_host_memory`), and left to glibc in the workers (:func:`worker_start`)."""

from __future__ import annotations

import os
import platform
from typing import Optional

# glibc's mallopt parameters (malloc.h), and where both thresholds start (DEFAULT_TRIM_THRESHOLD,
# DEFAULT_MMAP_THRESHOLD_MIN: 128 kB)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GLIBC_START = 128 << 10


def _mallopt(trim: int, mmap: int) -> Optional[bool]:
    """Set glibc's trim and mmap thresholds (bytes); None where malloc is not glibc's, else whether it took them."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    import ctypes

    libc = ctypes.CDLL(None)
    return libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1 and libc.mallopt(_M_MMAP_THRESHOLD, mmap) == 1


def keep_host_memory(keep_mb: Optional[int]) -> str:
    """Make glibc's malloc keep freed host memory for the next training step; returns what was done.

    By default glibc hands big blocks (above a threshold it adapts as it goes, 128 kB to 32 MB) to
    the kernel with mmap and returns them on free, and trims the top of its heap when more than
    twice that threshold lies free there. A training step allocates and frees the same activation
    buffers every step, so the next step gets its memory from the kernel again, page by page: the
    default LSTM on one CPU thread took 100,000-200,000 minor page faults per epoch in some runs
    (1.5 s epochs) and almost none in others (1.0 s), depending on where the adaptive threshold
    settled. Blocks below a quarter of ``keep_mb`` now come from the heap, and up to ``keep_mb``
    free at its top stays there: page faults per epoch drop to a few (benchmarks/epoch_time.py
    prints them). The cost is resident memory that stays at the run's peak, as a GPU's caching
    allocator does. None leaves glibc's defaults; ``keep_mb`` is at least 1 (checked with the
    profile's other sizes, before any torch flag is set). Settings are process-wide: DataLoader
    workers fork with them, and :func:`worker_start` sets them back there.
    """
    if keep_mb is None:
        return "glibc defaults"
    global _host_memory_kept
    done = _mallopt(keep_mb << 20, max(keep_mb >> 2, 1) << 20)
    _host_memory_kept = bool(done)
    if done is None:
        return f"not set ({platform.system()} without glibc's malloc)"
    return f"{keep_mb} MB kept" if done else "glibc refused the settings"


_host_memory_kept = False  # whether keep_host_memory changed glibc's thresholds in this process


def reset_host_memory() -> None:
    """After a run that kept host memory (:func:`keep_host_memory`), called from Python: glibc's thresholds
    back at their start (128 kB; glibc has no call that makes it adapt them again) and the memory kept
    returned to the system, instead of up to ``host_memory_keep_mb`` held for steps that no longer come."""
    global _host_memory_kept
    if _host_memory_kept and _mallopt(_GLIBC_START, _GLIBC_START):
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    _host_memory_kept = False


def worker_start(worker_id: int) -> None:
    """A DataLoader worker's ``worker_init_fn`` where the training process keeps host memory
    (:func:`keep_host_memory`): glibc's thresholds back at their start (128 kB), then Lightning's
    seeding of the worker.

    The kept memory is for the training step's buffers; a forked worker inherited it and kept, of what
    its items allocate and free, up to ``host_memory_keep_mb`` each (measured, 2 workers, items that
    allocate 4 x 48 MB temporaries: 190 MB private memory per worker after an epoch, 7 MB with glibc's
    thresholds; the shipped families' workers hold 8-12 MB either way, their batches are small). glibc
    then keeps its thresholds fixed at 128 kB instead of raising them as it goes: a worker's blocks above
    that size are mapped anew per batch, a few page faults per 4 kB page, nothing beside a batch's work.
    Lightning adds its own ``worker_init_fn`` (seeding under ``seed_everything(workers=True)``) only to
    loaders without one, so it is called here as Lightning would."""
    _mallopt(_GLIBC_START, _GLIBC_START)
    if int(os.environ.get("PL_SEED_WORKERS", 0)):
        from lightning.fabric.utilities.seed import pl_worker_init_function

        pl_worker_init_function(worker_id)
