"""What a resume says about the settings it changes from the run it goes on from (a resume composes its config
anew, so any setting not given again takes its default, and any given differently takes effect).

Every setting that differs is said: in a warning where it changes what is trained, so the resume will not end
as that run would have (``trainer.gradient_clip_val: null -> 0.5``, ``hardware.precision``, ``model.loss``), or
as information where a resume is meant to change it (more epochs, a raised patience) or it changes how the run
is shown or fed but not what it learns (the progress bar, the logger, loader workers). Only the model's and the
data's settings were said before; a changed trainer, callback or hardware setting went on without a word.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

# top-level keys that are not the run's settings: where it writes, its name, the resume itself, the sweep's
# bookkeeping, Hydra's own; the seed has a warning of its own (resume_checks.warn_other_seed)
NOT_SETTINGS = ("hydra", "paths", "ckpt_path", "task_name", "optuna_trial", "seed")

# keys a resume is meant to change: its length, its test, the patience that lets an early-stopped run go on
MEANT_TO_CHANGE = ("trainer.max_epochs", "epochs", "trainer.max_steps", "trainer.max_time", "test",
                   "callbacks.early_stopping.patience")

# keys that change how a run is shown, logged or fed, not what it learns (README: loader workers draw nothing of
# their own, so hardware.num_workers=2 trains as 0 does)
NOT_WHAT_IT_LEARNS = ("logger", "trainer.default_root_dir", "trainer.enable_progress_bar",
                      "trainer.enable_model_summary", "trainer.log_every_n_steps", "trainer.profiler",
                      "callbacks.rich_progress_bar", "callbacks.model_summary", "callbacks.lr_monitor",
                      "callbacks.gpu_monitor", "callbacks.energy", "hardware.name", "hardware.num_workers",
                      "hardware.pin_memory", "hardware.persistent_workers", "hardware.prefetch_factor",
                      "hardware.memory_gb", "hardware.host_memory_keep_mb")

# said by a line of their own, with what they change: the effective batch (a warning where it changes, an
# information line where it stays the same; trainlab.callbacks.effective_batch.warn_other_batch)
SAID_ELSEWHERE = ("data.batch_size", "trainer.accumulate_grad_batches", "trainer.devices", "trainer.num_nodes",
                  "hardware.devices")


def setting_groups(keys: Iterable[str]) -> tuple[str, ...]:
    """The top-level keys of a run config whose differences a resume says (``model``, ``trainer``, ...)."""
    return tuple(k for k in keys if k not in NOT_SETTINGS)


def _under(line: str, keys: Sequence[str]) -> bool:
    """Whether a ``key: old -> new`` line is about one of ``keys`` or a key below one (``logger.tensorboard.x``)."""
    key = line.split(": ", 1)[0]
    return any(key == k or key.startswith(f"{k}.") for k in keys)


def say_changed_settings(differs: list[str], ckpt_path: str, repeat: str) -> None:
    """One warning listing every setting of this resume that differs from the checkpoint's run and changes what it
    trains (``model.net.dropout: 0.1 -> 0.2``; the tensors still fit, or it was refused), and one information line
    for the differences a resume is meant to have. ``repeat``: how that run was started."""
    said = [d for d in differs if not _under(d, SAID_ELSEWHERE)]
    told = [d for d in said if _under(d, MEANT_TO_CHANGE + NOT_WHAT_IT_LEARNS)]
    shown = [d for d in said if d not in told]
    if told:
        log.info("ckpt_path=%s: this resume goes on with %s (settings a resume may change: its length, its test, "
                 "early stopping's patience, its display, its logger, its loader workers)", ckpt_path, "; ".join(told))
    if shown:
        log.warning("ckpt_path=%s: this resume's settings differ from that run's: %s; it goes on with them, so it will "
                    "not end as that run would have%s", ckpt_path, "; ".join(shown),
                    repeat or "; resume with that run's settings for that")
