"""Peak memory of a piece of work on the CPU, where peak RSS cannot see it.

Freed tensor memory often stays with the process (glibc keeps it), so peak RSS does not move when
a change halves the activations a backward pass keeps. torch's profiler records every allocation
and free made by an operator; adding them up in time order gives the highest amount of tensor
memory alive at once. On a GPU use ``torch.cuda.max_memory_allocated`` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile


def cpu_peak_bytes(work: Callable[[], Any]) -> int:
    """Highest total of CPU tensor bytes alive at once while ``work()`` runs (allocated inside it).

    Uses the profiler's raw allocation records (``[memory]`` events: a timestamp and a signed byte
    count each), in time order. The per-operator figures of ``prof.events()`` cannot be ordered:
    a parent operator's frees sort before its children's allocations. The raw records sit on
    ``prof.profiler.kineto_results``, not a documented attribute; it is read here and nowhere else.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            work()
    records = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]" and e.device_type() == DeviceType.CPU)
    live = peak = 0
    for _, nbytes in records:
        live += nbytes
        peak = max(peak, live)
    return peak
