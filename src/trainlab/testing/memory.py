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

from torch.profiler import ProfilerActivity, profile


def cpu_peak_bytes(work: Callable[[], Any]) -> int:
    """Highest total of CPU tensor bytes alive at once while ``work()`` runs (allocated inside it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            work()
    # self_cpu_memory_usage: what an operator itself allocated (+) or freed (-), children excluded
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak
