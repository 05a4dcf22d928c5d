"""Lightning's "no profiler" without its per-call cost.

With ``trainer.profiler`` unset, Lightning uses its PassThroughProfiler, which records nothing but is
still entered around every hook it dispatches: ``with trainer.profiler.profile(name)`` for each hook of
each callback, of the module and of the strategy, about 200 times per training step with the default
callbacks. Its ``profile`` is a generator-based context manager (a generator object, an enter and an
exit each time, ~1 µs); :class:`NoProfiler` returns one shared ``contextlib.nullcontext`` instead
(~0.15 µs). A profiler the user asks for (``trainer.profiler=simple``, ``debug=profiler``) is used as given.
"""

from __future__ import annotations

import contextlib

from lightning.pytorch.profilers import PassThroughProfiler

_NOTHING = contextlib.nullcontext()


class NoProfiler(PassThroughProfiler):
    """PassThroughProfiler whose ``profile(name)`` costs a method call: nothing is recorded either way."""

    def profile(self, action_name: str) -> contextlib.nullcontext:  # type: ignore[override]
        return _NOTHING
