"""Lightning's "no profiler" and its hook dispatch, without their per-call cost.

With ``trainer.profiler`` unset, Lightning uses its PassThroughProfiler, which records nothing but is
still entered around every hook it dispatches: ``with trainer.profiler.profile(name)`` for each hook of
each callback, of the module and of the strategy, about 200 times per training step with the default
callbacks. Its ``profile`` is a generator-based context manager (a generator object, an enter and an
exit each time, ~1 µs); :class:`NoProfiler` returns one shared ``contextlib.nullcontext`` instead
(~0.15 µs). A profiler the user asks for (``trainer.profiler=simple``, ``debug=profiler``) is used as given.

Lightning also calls every hook of every callback, six per training step, whether the callback has it
or not: a call of :class:`~lightning.pytorch.callbacks.Callback`'s empty method, after building the
profiler's action name from the callback's ``state_key`` (EarlyStopping's is the repr of a dict, built
again each time). With the default thirteen callbacks that is ~11 µs a hook, where one of the six has
any callback behind it. :func:`use_lean_dispatch` puts in Lightning's place a dispatch that, for a
trainer with a :class:`NoProfiler`, calls only the callbacks that define the hook, in the same order,
with the same arguments; any other trainer (a profiler asked for, a trainer trainlab did not build)
goes through Lightning's own function.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any, Optional

from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer import call

log = logging.getLogger(__name__)
_NOTHING = contextlib.nullcontext()
_LIGHTNINGS = call._call_callback_hooks
# the signature the lean dispatch stands in for; another Lightning keeps its own dispatch
_EXPECTED = ["trainer", "hook_name", "args", "monitoring_callbacks", "kwargs"]


class NoProfiler(PassThroughProfiler):
    """PassThroughProfiler whose ``profile(name)`` costs a method call: nothing is recorded either way."""

    def profile(self, action_name: str) -> contextlib.nullcontext:  # type: ignore[override]
        return _NOTHING


def defines_hook(callback: Callback, hook_name: str) -> bool:
    """Whether ``callback`` has a ``hook_name`` of its own (its class's or set on it), not the base
    class's empty method. Looked up on every call, not remembered per class: a class given a hook later
    (``mock.patch.object``, a hook added between two runs of one process) is dispatched to as Lightning
    would, and the two lookups cost less than a cache's."""
    if hook_name in getattr(callback, "__dict__", ()):
        return True
    return getattr(type(callback), hook_name, None) is not getattr(Callback, hook_name, None)


def lean_call_callback_hooks(trainer: Any, hook_name: str, *args: Any, monitoring_callbacks: Optional[bool] = None,
                             **kwargs: Any) -> None:
    """Lightning's ``_call_callback_hooks`` for a trainer with a :class:`NoProfiler`: the callbacks
    without the hook are skipped and no profiler action is named; otherwise Lightning's own."""
    if type(trainer.profiler) is not NoProfiler:
        _LIGHTNINGS(trainer, hook_name, *args, monitoring_callbacks=monitoring_callbacks, **kwargs)
        return
    if call.log.isEnabledFor(logging.DEBUG):
        call.log.debug(f"{trainer.__class__.__name__}: calling callback hook: {hook_name}")
    pl_module = trainer.lightning_module
    if pl_module:
        previous = pl_module._current_fx_name
        pl_module._current_fx_name = hook_name
    callbacks = trainer.callbacks
    if monitoring_callbacks is not None:  # True: early stopping and checkpoints only; False: all but those
        callbacks = [cb for cb in callbacks if isinstance(cb, (EarlyStopping, Checkpoint)) == monitoring_callbacks]
    for callback in callbacks:
        if defines_hook(callback, hook_name):
            fn = getattr(callback, hook_name)
            if callable(fn):
                fn(trainer, trainer.lightning_module, *args, **kwargs)
    if pl_module:
        pl_module._current_fx_name = previous


def use_lean_dispatch() -> bool:
    """Put :func:`lean_call_callback_hooks` in Lightning's place (once); False, leaving Lightning's, when
    its dispatch is not the one this stands in for (another Lightning release): said once per process, on
    rank 0, since every run of it then pays Lightning's cost per hook."""
    global _FALLBACK_SAID
    if call._call_callback_hooks is lean_call_callback_hooks:
        return True
    if list(inspect.signature(_LIGHTNINGS).parameters) != _EXPECTED:
        if not _FALLBACK_SAID:
            from lightning import __version__ as lightning_version

            from trainlab.run.console import process_rank

            _FALLBACK_SAID = True
            if process_rank() == 0:
                log.info("Lightning %s's hook dispatch (lightning.pytorch.trainer.call._call_callback_hooks) is not the "
                         "one trainlab's lean dispatch stands in for: hooks go through Lightning's own dispatch, so runs "
                         "are a little slower (trainlab.run.profiling)", lightning_version)
        return False
    call._call_callback_hooks = lean_call_callback_hooks
    return True


_FALLBACK_SAID = False  # the line that Lightning's dispatch is kept, once per process
