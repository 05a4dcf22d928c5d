"""Ctrl-C and SIGTERM before training: one line and exit 130 / 143 instead of a traceback of whatever was importing
or composing (:func:`stop_quietly_until_training`, set first by the scripts), and the process's handlers and root
logger given back when a script's command line ends (:func:`process_given_back`)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def started_by_lightning() -> bool:
    """Whether Lightning's launcher started this process as a rank other than 0 of its node, told from the
    environment before any trainer exists: it sets ``LOCAL_RANK`` in the children it starts (torchrun too, with
    ``TORCHELASTIC_RUN_ID``). Such a rank's parent is its node's rank 0, which ends it on Ctrl-C (Lightning kills
    its children), so it leaves Ctrl-C to rank 0. Here, with the standard library only, because the quiet stop
    asks it from a signal handler that may land in the middle of any import."""
    local = os.environ.get("LOCAL_RANK", "")
    return local.isdigit() and int(local) != 0 and "TORCHELASTIC_RUN_ID" not in os.environ


def _loaded(name: str) -> Any:
    """A module already imported, else None. The quiet stop imports nothing: the signal can land in the middle
    of an import (``inspect`` half made, say), and an import started from the handler then met that half-made
    module and raised, out of the handler: a traceback and exit 1 instead of the one line."""
    return sys.modules.get(name)


def _run_folder_note(note: str) -> tuple[str, bool]:
    """The end of the stop line for a run whose folder Hydra has made (the folder removed when the run
    produced nothing, else named), and whether the process is a sweep's. Only modules already loaded are
    used: the run folder exists only once Hydra has made it, by then they all are."""
    hydra_config, hydra_types = _loaded("hydra.core.hydra_config"), _loaded("hydra.types")
    omegaconf, folders = _loaded("omegaconf"), _loaded("trainlab.run.folder")
    if not (hydra_config and hydra_types and omegaconf) or not hydra_config.HydraConfig.initialized():
        return note, False
    config = hydra_config.HydraConfig.get()
    select = omegaconf.OmegaConf.select
    if select(config, "mode", default=None) == hydra_types.RunMode.MULTIRUN:  # a sweep's config has no run folder
        return note, True
    folder = select(config, "runtime.output_dir", default=None, throw_on_missing=False)
    discarded = folders.discard_unstarted_run() if folders else None
    return discarded or (f"what was written is in {folder}" if folder else note), False


def _stop_quietly(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM outside training (the script's imports, Hydra composing, a run's set-up before
    :func:`trainlab.run.preemption.stop_on_signals`, evaluate.py): one line, the folder of a run that
    produced nothing removed, and exit 130 / 143 (what a shell reports for a process ended by that signal)."""
    if signum == signal.SIGINT and started_by_lightning():  # Ctrl-C reaches every rank: rank 0, its parent, says it
        return
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    note, sweep = "nothing was written", False
    try:  # the signal lands anywhere, half-made modules and Hydra's config half set included: nothing may raise
        note, sweep = _run_folder_note(note)
    except Exception as exc:  # noqa: BLE001 - the stop goes on with the note it has
        note = f"{note} (the run folder was not looked at: {type(exc).__name__})"
    print(f"error: stopped by {name}; {note}", file=sys.stderr, flush=True)  # the words stop_on_signals uses
    if sweep:  # the sweep's own handling (running trials marked FAIL) needs the exception to unwind
        raise SystemExit(128 + signum)
    # A single run or evaluate.py ends here and now. Raised from a signal handler, SystemExit can land in the
    # middle of an import, where a library that catches every exception swallows it and leaves a module half
    # made: the process then went on to Hydra's traceback of an AttributeError, exit 1. Files are written
    # whole (trainlab.run.durable), so nothing is cut short; the log is flushed first.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(128 + signum)


_stop_quietly.quiet_stop = True  # type: ignore[attr-defined]  # see is_quiet_stop


def stop_quietly_until_training() -> None:
    """Called first by the scripts: until training starts (where
    :func:`trainlab.run.preemption.stop_on_signals` takes over), Ctrl-C and SIGTERM end the process
    with one line instead of a traceback of whatever was importing. Handlers someone else set (a
    signal ignored by ``nohup``, a test runner's) are left alone."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            _QUIET_STOP_REPLACED[sig] = signal.signal(sig, _stop_quietly)


_QUIET_STOP_REPLACED: dict[int, Any] = {}  # the handlers stop_quietly_until_training replaced, given back at the end


@contextmanager
def process_given_back() -> Iterator[None]:
    """Around a script's command line (and a run of :mod:`trainlab.api`): the signal handlers and root
    logger as they were before, once it ends. The process usually ends with it; run inside a longer-lived
    one (``%run train.py`` in IPython, ``runpy``), the quiet stop's ``os._exit`` stayed the answer to every
    later Ctrl-C (the kernel died), and Hydra's handlers went on writing the finished run's train.log."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for sig, previous in list(_QUIET_STOP_REPLACED.items()):
            if is_quiet_stop(signal.getsignal(sig)):
                signal.signal(sig, previous)
            del _QUIET_STOP_REPLACED[sig]
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        for handler in [h for h in handlers if h not in root.handlers]:
            root.addHandler(handler)
        root.setLevel(level)


def is_quiet_stop(handler: object) -> bool:
    """Whether ``handler`` is the one :func:`stop_quietly_until_training` set."""
    return bool(getattr(handler, "quiet_stop", False))
