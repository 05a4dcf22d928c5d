"""What a run sets for its whole process, given back when the run ends (:func:`settings_kept`), so that
runs called from Python (a notebook, a script's loop of runs) leave the process as they found it.

A run sets torch's thread count and float32 precision flags and glibc's malloc thresholds (the hardware
profile: :func:`trainlab.run.hardware.set_process_flags`); Lightning sets torch's deterministic mode,
cuDNN's benchmark flag and ``CUBLAS_WORKSPACE_CONFIG`` (``trainer.deterministic``), and ``seed_everything``
sets ``PL_GLOBAL_SEED`` / ``PL_SEED_WORKERS``; a run silences advice it gives in its own words
(:func:`silence_for_the_run`). On the command line the process ends with the run; from
Python they stayed: a notebook's own torch code ran on one thread after a ``hardware.num_threads=1`` run,
in deterministic mode after a ``trainer.deterministic=true`` one. The global random generators stay as
the run's seed left them (a seeded run is the point of ``seed=``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional


# environment variables a run (Lightning's seed_everything, its deterministic mode, the hardware profile's
# threads for the ranks Lightning starts) sets for the process
_RUN_ENV = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG", "OMP_NUM_THREADS")

# warning filters runs added for themselves (silence_for_the_run), taken away when a run ends
_RUN_FILTERS: set[tuple] = set()


def silence_for_the_run(message: str) -> None:
    """Ignore the warnings whose text matches ``message`` (a regular expression, from the text's start) until the
    run ends: a library's advice the run gives in its own words, or that does not apply to it. A filter set with
    ``warnings.filterwarnings`` stayed after a run called from Python, hiding that advice from the caller's own
    code and later runs."""
    warnings.filterwarnings("ignore", message=message)
    _RUN_FILTERS.add(warnings.filters[0])


def _keep_imports_filters(before: list[tuple], during: list[tuple]) -> None:
    """Put back the warning filters added during a run that were not the run's own: a module imported during the
    run (sympy, which torch imports on first use) filters its warnings for the whole process, and its import
    will not run again."""
    theirs = [f for f in during if f not in before and f not in _RUN_FILTERS]
    for action, message, category, module, lineno in reversed(theirs):  # each goes to the front: kept in order
        warnings.filterwarnings(action, message.pattern if message else "", category,
                                module.pattern if module else "", lineno)


def _precision() -> Optional[tuple[str, bool]]:
    """torch's float32 matmul precision and cuDNN's TF32 flag, as this process has them; None where torch
    cannot say (torch >= 2.9 raises once its legacy and new precision APIs were mixed: the caller's own
    settings, which are then left to the caller)."""
    import torch  # here: the console imports this module for silence_for_the_run, also where torch is not needed

    try:
        return torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    except RuntimeError:
        return None


def _set_precision(saved: Optional[tuple[str, bool]]) -> None:
    """Back to ``saved`` through the API that sets both torch's legacy and new views alike: the matmul
    precision implies cuBLAS's TF32 flag (``highest``: off), so that flag is not set on its own."""
    import torch

    if saved is not None:
        torch.backends.cudnn.allow_tf32 = saved[1]
        torch.set_float32_matmul_precision(saved[0])


@contextmanager
def settings_kept() -> Iterator[None]:
    """Around a run: afterwards (also after an error or a Ctrl-C) torch's threads, float32 precision,
    deterministic mode and cuDNN benchmark flag, the run's environment variables and glibc's malloc
    thresholds are as they were before, and so are the warning filters but those of modules first imported
    during the run."""
    import torch

    from trainlab.run.host_memory import reset_host_memory

    threads, precision, benchmark = torch.get_num_threads(), _precision(), torch.backends.cudnn.benchmark
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    env = {name: os.environ.get(name) for name in _RUN_ENV}
    filters_before: list[tuple] = list(warnings.filters)
    filters_during: list[tuple] = []
    try:
        with warnings.catch_warnings():  # the filters and warnings.showwarning as they were, however the run ends
            try:
                yield
            finally:
                filters_during = list(warnings.filters)
    finally:
        _keep_imports_filters(filters_before, filters_during)
        torch.set_num_threads(threads)
        _set_precision(precision)
        torch.backends.cudnn.benchmark = benchmark
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_host_memory()
