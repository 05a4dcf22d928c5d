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
from typing import Any, Optional

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
# information line where it stays the same; trainlab.callbacks.effective_batch.warn_other_batch); the devices
# are said by :func:`device_change`, as the GPUs or processes they name
SAID_ELSEWHERE = ("data.batch_size", "trainer.accumulate_grad_batches", "trainer.num_nodes")
DEVICE_KEYS = ("trainer.devices", "hardware.devices")


def setting_groups(keys: Iterable[str]) -> tuple[str, ...]:
    """The top-level keys of a run config whose differences a resume says (``model``, ``trainer``, ...)."""
    return tuple(k for k in keys if k not in NOT_SETTINGS)


def _under(line: str, keys: Sequence[str]) -> bool:
    """Whether a ``key: old -> new`` line is about one of ``keys`` or a key below one (``logger.tensorboard.x``)."""
    key = line.split(": ", 1)[0]
    return any(key == k or key.startswith(f"{k}.") for k in keys)


def given_anew(resumed: Sequence[str], run: Sequence[str]) -> tuple[str, ...]:
    """The keys a resume's overrides (``resumed``) set that the run's own (``run``) did not set alike: what the user
    changed (``logger=csv``: ``logger``). ``("",)``: every key, where a new ``experiment=`` may set any of them."""
    keys = tuple(o.lstrip("+~").split("=", 1)[0] for o in resumed if o not in set(run))
    return ("",) if "experiment" in keys else keys


def set_anew(key: str, anew: Sequence[str]) -> bool:
    """Whether ``key`` (``logger.csv.name``) is one of ``anew``, below one (``logger``) or above one."""
    return any(k == "" or key == k or key.startswith(f"{k}.") or k.startswith(f"{key}.") for k in anew)


def _devices_meant(devices: Any, accelerator: str) -> Optional[tuple[str, Any]]:
    """What ``devices`` asks for on ``accelerator``, one form for each meaning: ``("gpus", (0,))`` for 1, [0],
    "1" and "0," on a GPU (Lightning takes the first n GPUs for a count n), ``("processes", 2)`` for 2 on the CPU;
    None where it cannot be read (the run's checks refuse it)."""
    from trainlab.config.errors import UserError
    from trainlab.run.trainer_devices import device_request

    try:
        count, ids = device_request(devices, "devices")
    except UserError:
        return None
    if accelerator == "cpu":
        return ("processes", 1 if count is None else count)
    if count == -1 or (count is None and ids is None):  # -1 and auto: every GPU torch sees
        return ("gpus", "all")
    return ("gpus", tuple(ids) if ids is not None else tuple(range(count)))


def device_change(old: Any, new: Any, accelerator: str, key: str) -> list[str]:
    """``hardware.devices: 1 -> [1] (GPUs 0 -> 1)`` where the devices of the run (``old``, as its config resolves
    them) and of the resume (``new``) differ in what they name on ``accelerator``; nothing where they are two forms
    of the same (1 and [0] on a GPU). ``key``: the setting that chose the resume's devices."""
    was, now = _devices_meant(old, accelerator), _devices_meant(new, accelerator)
    if was == now and was is not None:
        return []
    if was is None or now is None or was[0] != now[0]:
        return [f"{key}: {old} -> {new}"]
    if was[0] == "processes":
        return [f"{key}: {old} -> {new} ({was[1]} -> {now[1]} training processes)"]
    return [f"{key}: {old} -> {new} (GPUs {_gpus(was[1])} -> {_gpus(now[1])})"]


def _gpus(ids: Any) -> str:
    return "all" if ids == "all" else ",".join(str(i) for i in ids)


def resume_anew(folder: Any) -> tuple[str, ...]:
    """The keys this resume's overrides set that the checkpoint's run did not set alike (its overrides.yaml; none
    where it has none)."""
    from trainlab.config.errors import UserError
    from trainlab.config.invocation import task_overrides

    try:
        run = folder.overrides()
    except UserError:
        run = []
    return given_anew(task_overrides(), run)


def devices_differ(old: Any, new: Any) -> list[str]:
    """The devices of the checkpoint's run against this resume's, as the trainer gets them (``trainer.devices``,
    which interpolates ``hardware.devices``), compared by what they name on this resume's accelerator."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if old is None:
        return []
    try:
        was = OmegaConf.select(old, "trainer.devices", default=OmegaConf.select(old, "hardware.devices"))
    except OmegaConfBaseException:  # an interpolation its run could resolve and this resume cannot
        was = OmegaConf.select(old, "hardware.devices")
    was = OmegaConf.to_container(was) if OmegaConf.is_config(was) else was
    now = new.trainer.devices
    now = OmegaConf.to_container(now) if OmegaConf.is_config(now) else now
    key = "hardware.devices" if OmegaConf.is_interpolation(new.trainer, "devices") else "trainer.devices"
    return device_change(was, now, str(new.hardware.accelerator), key)


def say_changed_settings(differs: list[str], ckpt_path: str, repeat: str) -> None:
    """One warning listing every setting of this resume that differs from the checkpoint's run and changes what it
    trains (``model.net.dropout: 0.1 -> 0.2``; the tensors still fit, or it was refused), and one information line
    for the differences a resume is meant to have. ``repeat``: how that run was started."""
    said = [d for d in differs if not _under(d, SAID_ELSEWHERE)]
    told = [d for d in said if _under(d, MEANT_TO_CHANGE + NOT_WHAT_IT_LEARNS + DEVICE_KEYS)]
    shown = [d for d in said if d not in told]
    if told:
        log.info("ckpt_path=%s: this resume goes on with %s (settings a resume may change: its length, its test, "
                 "early stopping's patience, its display, its logger, its loader workers, its devices)", ckpt_path,
                 "; ".join(told))
    if shown:
        log.warning("ckpt_path=%s: this resume's settings differ from that run's: %s; it goes on with them, so it will "
                    "not end as that run would have%s", ckpt_path, "; ".join(shown),
                    repeat or "; resume with that run's settings for that")
