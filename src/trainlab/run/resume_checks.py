"""Checks of a resume, made before it trains: :func:`check_resume` compares a checkpoint with the model
about to resume from it (another model, size or dataset, data changed since; no epochs left to train, a
schedule that would not continue as planned, a run early stopping ended) and warns where a resume cannot
repeat the uninterrupted run (another seed, a checkpoint written within an epoch). Each refusal is one
:class:`UserError` line.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Optional

import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from trainlab.config.errors import UserError
from trainlab.run.process import silence_for_the_run

log = logging.getLogger(__name__)


def completed_epochs(ckpt: dict[str, Any]) -> int:
    """Training epochs a Lightning checkpoint has finished: "processed" (its training part done; an
    epoch-end checkpoint is saved before Lightning marks the epoch "completed"), a mid-epoch one counts
    the epochs before it."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError):
        return int(ckpt.get("epoch", -1)) + 1


def _config_differences(old: DictConfig, new: DictConfig, keys: tuple[str, ...], resolve: bool = False,
                        anew: Optional[tuple[str, ...]] = None) -> list[str]:
    """``key: old -> new`` for every leaf of ``keys`` that differs between two run configs; ``resolve``:
    as their interpolations made them (a value taken from another key is named: ``(${trainer.max_epochs})``).
    ``anew``: the keys the resume's overrides set anew (:func:`trainlab.run.resume_settings.given_anew`); a key
    ``old`` lacks (a run of an older trainlab, before the key was added) differs only where one of them sets it,
    else it holds its default. None: every key ``old`` lacks differs."""
    found = []
    for key in keys:
        a, b = (_container(c.get(key, _ABSENT), resolve) for c in (old, new))
        found += _leaf_differences(a, b, key, anew)
    if not resolve:
        return found
    written = set(_config_differences(old, new, keys, anew=anew))
    return [d if d in written else f"{d} ({_raw_value(new, d.split(':', 1)[0])})" for d in found]


def _container(node: Any, resolve: bool) -> Any:
    """A config node as plain values (a group may be null: scheduler: none); one whose interpolations
    cannot be resolved outside its run is compared as written."""
    if not OmegaConf.is_config(node):
        return node
    try:
        return OmegaConf.to_container(node, resolve=resolve)
    except OmegaConfBaseException:
        return OmegaConf.to_container(node, resolve=False)


def _raw_value(cfg: DictConfig, key: str) -> Any:
    """``key`` as the config writes it (``${trainer.max_epochs}``)."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent)
    return OmegaConf.to_container(node, resolve=False).get(leaf) if OmegaConf.is_dict(node) else None


def _cycle_length_differences(old: DictConfig, new: DictConfig, ckpt: dict[str, Any]) -> list[str]:
    """A OneCycleLR that takes its step count from the run's length (``scheduler=onecycle``: trainlab.models.optim)
    has that count in its restored state: a resume to another length stepped past the cycle's end
    (``ValueError: Tried to step 14 times. The specified number of total steps is 13``)."""
    cycles = [s["total_steps"] for s in ckpt.get("lr_schedulers") or [] if isinstance(s, dict) and "total_steps" in s]
    scheduler = new.get("scheduler")
    if not cycles or not OmegaConf.is_config(scheduler) or {"total_steps", "epochs"} & set(scheduler):
        return []
    lengths = ("trainer.max_epochs", "trainer.max_steps", "trainer.limit_train_batches", "trainer.accumulate_grad_batches")
    return [f"{d} (the one cycle of scheduler={_option(scheduler)} was planned over that run's {cycles[0]} steps)"
            for d in _config_differences(old, new, ("trainer",)) if d.startswith(tuple(f"{k}: " for k in lengths))]


def _planned_over_length(cfg: DictConfig, ckpt: dict[str, Any], max_epochs: int) -> Optional[str]:
    """The scheduler (``scheduler=CosineAnnealingLR``) that the refusal above would name for a resume of
    this run to ``max_epochs``, or None: advising that resume (``epochs=N``) led to that refusal."""
    longer = copy.deepcopy(cfg)
    with open_dict(longer):
        longer.trainer.max_epochs = max_epochs
    scheduler = cfg.get("scheduler")
    if not OmegaConf.is_config(scheduler) or not (_config_differences(cfg, longer, ("scheduler",), resolve=True)
                                                  or _cycle_length_differences(cfg, longer, ckpt)):
        return None
    return f"scheduler={_option(scheduler)}"


def _early_stop(cfg: DictConfig, ckpt: dict[str, Any]) -> Optional[str]:
    """Why the checkpoint's early stopping ends its run there, with this run's patience (None: it goes on)."""
    from trainlab.callbacks.checkpoints import early_stop

    node = (cfg.get("callbacks") or {}).get("early_stopping")
    states = [state for key, state in (ckpt.get("callbacks") or {}).items()
              if str(key).startswith("EarlyStopping") and isinstance(state, dict)]
    return early_stop(states[0], int(node.patience)) if node and states else None


def _option(scheduler: DictConfig) -> str:
    return str(scheduler.get("_target_", "?")).rsplit(".", 1)[-1]


# a key one of two configs lacks (shown as None, as a key set to null)
_ABSENT = object()


def _leaf_differences(a: Any, b: Any, key: str, anew: Optional[tuple[str, ...]] = None) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _leaf_differences(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{key}.{k}", anew)]
    if a is _ABSENT and anew is not None:
        from trainlab.run.resume_settings import set_anew

        if not set_anew(key, anew):  # added since that run, and holding its default: not the user's change
            return []
    a, b = (None if v is _ABSENT else v for v in (a, b))
    return [] if a == b else [f"{key}: {_shown(a)} -> {_shown(b)}"]


def _shown(value: Any) -> Any:
    """A value of a difference line: a whole group set or unset (``callbacks.early_stopping: {...} -> None``)
    in short, not its every key."""
    return "{...}" if isinstance(value, dict) and len(str(value)) > 60 else value


def _saved_config(folder: Any) -> Optional[DictConfig]:
    """The checkpoint's run config as its folder's owner reads it (moved modules and classes upgraded, so
    they do not show as differences), or None when it is missing or unreadable (then only the
    tensors are compared)."""
    try:
        return folder.config()
    except UserError:
        return None


def _writes_summary(folder: Any) -> bool:
    """Whether the run's callbacks wrote training_summary.json (its run_records, by class); True where its saved
    config names no callbacks group (unreadable, or older)."""
    saved = _saved_config(folder)
    if saved is None or "callbacks" not in saved:
        return True
    group = saved.callbacks
    return isinstance(group, DictConfig) and any(
        isinstance(node, DictConfig) and str(node.get("_target_", "")).endswith(".RunRecords") for node in group.values())


def _untested_hint(folder: Any, cfg: DictConfig) -> str:
    """For a run that trained all its epochs but was stopped (killed) before its test ended: how to test it. A run
    whose callbacks write no training_summary.json (``callbacks=none``, no run_records) is not known untested."""
    if not cfg.get("test") or folder.tested() or not _writes_summary(folder):
        return ""
    from trainlab.config.spelling import command_line

    return (f"; its training ended but its test did not (stopped before or while testing): "
            f"{command_line('evaluate.py', [], ckpt_path=folder.path)} tests its best checkpoint")


def _repeat_hint(folder: Any, ckpt_path: str) -> str:
    """How the checkpoint's run was started, as a resume command: a resume composes the config anew,
    so the run's own options must be given again."""
    import shlex

    from trainlab.config.spelling import typed_setting
    from trainlab.config.rerun import one_run_overrides

    try:  # a sweep's trial as one run (hparams_search= repeated would start a sweep)
        given = [o for o in one_run_overrides(folder.overrides(), folder.path) if not o.split("=", 1)[0].lstrip(
            "+~").startswith(("ckpt_path", "trainer.max_epochs", "epochs", "paths."))]
    except UserError:
        return ""

    return (f"; that run was started with: {shlex.join(given) or '(no options)'}: repeat them after "
            f"{typed_setting('ckpt_path', ckpt_path)}")


# keys that say where a run's data lie, not what they are: a resume may read them from another place
DATA_PLACES = ("data.source.path", "data.source.target_path", "data.source.mask_dir")


def tensor_differences(own: dict[str, Any], theirs: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """How a checkpoint's ``state_dict`` (``theirs``) fails a model's (``own``): tensors it lacks, tensors
    the model lacks, and ``"<name> (32, 2) in the checkpoint, (32, 1) here"`` for shapes that differ."""
    from torch.nn.parameter import is_lazy

    missing = [k for k in own if k not in theirs]
    unexpected = [k for k in theirs if k not in own]
    # a lazy layer's (nn.LazyLinear) tensors have no shape until loading the checkpoint gives them one
    shapes = [f"{k} {tuple(theirs[k].shape)} in the checkpoint, {tuple(v.shape)} here" for k, v in own.items()
              if k in theirs and not is_lazy(v) and tuple(theirs[k].shape) != tuple(v.shape)]
    return missing, unexpected, shapes


def check_resume(cfg: DictConfig, model: pl.LightningModule, datamodule: Any, ckpt_path: Optional[str],
                 ckpt: Optional[dict[str, Any]] = None) -> None:
    """Refuse a resume that cannot continue this run: the checkpoint's tensors don't fit this model
    (another model or size; the message says which config keys differ from the checkpoint's own run),
    it belongs to another dataset or the data changed since (rows, training statistics), its optimizer
    or scheduler settings changed (the checkpoint's state would override them), or it has already
    trained ``trainer.max_epochs`` epochs. ``ckpt``: the checkpoint already loaded (read from ``ckpt_path`` if not)."""
    if not ckpt_path:
        return
    from pathlib import Path

    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder

    ckpt = ckpt if ckpt is not None else load_checkpoint(Path(ckpt_path))
    folder = RunFolder.of_checkpoint(Path(ckpt_path))
    old_cfg = _saved_config(folder)
    from trainlab.run.trained import predating_net_arguments, recorded_differences

    from trainlab.run.resume_settings import resume_anew

    anew = resume_anew(folder)
    differs = []
    if old_cfg is not None:  # the net's arguments the checkpoint records first: a key its config lacks is known there
        every = _config_differences(old_cfg, cfg, ("model", "data"))
        defaults = set(every) - set(_config_differences(old_cfg, cfg, ("model", "data"), anew=anew))
        predating = predating_net_arguments(old_cfg, cfg, ckpt)  # the cnn's dilation_base beside an older run
        named = tuple(f"{key}: " for key in predating)
        differs = [d for d in recorded_differences(every, ckpt) if d not in defaults and not d.startswith(named)]
        differs += [line for line in predating.values() if line]
    repeat = _repeat_hint(folder, ckpt_path) if differs else ""

    missing, unexpected, shapes = tensor_differences(model.state_dict(), ckpt["state_dict"])
    if missing or unexpected or shapes:
        detail = "; ".join(shapes[:2] + [f"missing {missing[:2]}" if missing else ""]
                           + [f"unexpected {unexpected[:2]}" if unexpected else ""]).strip("; ")
        # the settings first (model.net.hidden_size: 16 -> 32): they are what to change; the tensors say why
        model_first = sorted(differs, key=lambda d: not d.startswith("model."))
        settings = f" (settings that differ from that run: {'; '.join(model_first[:6])})" if differs else ""
        raise UserError(f"ckpt_path={ckpt_path} does not fit {cfg.model.net._target_}{settings}: {detail}{repeat}; "
                        "resume with the model and data of that run, or leave ckpt_path out to start afresh")
    data_key = type(datamodule).__qualname__
    data_differs = [d for d in differs if d.startswith(("data._target_", "data.source"))]
    moved = [d for d in data_differs if d.startswith(tuple(f"{k}: " for k in DATA_PLACES))]
    if moved and data_key in ckpt:  # the files moved: their contents are compared below instead
        data_differs = [d for d in data_differs if d not in moved]
        log.info("resuming on data read from another place (%s); their rows and training statistics must match the "
                 "checkpoint's", "; ".join(moved))
    other_data = [k for k in ckpt if k.endswith("DataModule") and k != data_key]
    if data_differs or (other_data and data_key not in ckpt):
        raise UserError(f"ckpt_path={ckpt_path} was trained on other data "
                        f"({'; '.join(data_differs[:4]) or 'no ' + data_key + ' state in it'}{repeat}); resume with "
                        "that run's data, or leave ckpt_path out to start afresh")
    changed = datamodule.data_differences(ckpt[data_key]) if data_key in ckpt else []
    if changed:  # same data settings: their file changed, or a setting they interpolate (the seed of a split)
        both = differs + _config_differences(old_cfg, cfg, ("seed",), anew=anew) if old_cfg is not None else []
        settings = [d for d in both if d.startswith(("data", "seed"))]
        cause = f"; settings that differ from that run: {'; '.join(settings[:4])}" if settings else ""
        raise UserError(f"ckpt_path={ckpt_path} was trained on other data: the data now differ ({'; '.join(changed)})"
                        f"{cause}; train a new run on them (leave ckpt_path out), or restore the original data (and "
                        "settings) to resume")
    # resolved: cosine's T_max is ${trainer.max_epochs}, so a resume with more epochs continued the old
    # cosine past its end (the learning rate rose again) without a word
    restored = _config_differences(old_cfg, cfg, ("optimizer", "scheduler"), resolve=True, anew=anew) \
        + _cycle_length_differences(old_cfg, cfg, ckpt) if old_cfg is not None else []
    if restored and ckpt.get("optimizer_states"):  # Lightning loads them over what this config builds
        first = next((d for d in restored if "._target_: " in d), restored[0])  # another optimizer: say that first
        raise UserError(f"ckpt_path={ckpt_path}: {first} cannot take effect on a resume, which continues "
                        "the checkpoint's optimizer and scheduler as they were (their state, learning rate included, "
                        f"is restored over these settings){repeat or _repeat_hint(folder, ckpt_path)}; resume with that "
                        "run's optimizer and scheduler settings, or leave ckpt_path out to train afresh")
    from trainlab.run.preemption import is_requeued_attempt

    if is_requeued_attempt() and folder.path.resolve() == Path(str(cfg.paths.output_dir)).resolve():
        return  # the run's next attempt (a SLURM requeue): one whose training had ended goes on to its test
    done = completed_epochs(ckpt)
    max_epochs = cfg.trainer.max_epochs
    if max_epochs is not None and max_epochs != -1 and max_epochs <= done:
        more = done + 10
        planned = _planned_over_length(cfg, ckpt, more)
        advice = (f"{planned} is planned over the run's length, so a resume cannot lengthen it: train a new run with "
                  f"more epochs (leave ckpt_path out): epochs={more}" if planned else
                  f"give more: epochs={more} (or trainer.max_epochs={more})")
        raise UserError(f"ckpt_path={ckpt_path} has already trained {done} epoch(s) and trainer.max_epochs="
                        f"{max_epochs}, so nothing would be trained; {advice}{_untested_hint(folder, cfg)}")
    stopped = _early_stop(cfg, ckpt) if done >= (cfg.trainer.get("min_epochs") or 0) else None
    if stopped:  # the run that was not stopped ended there: a resume trained on past it
        patience = cfg.callbacks.early_stopping.patience
        raise UserError(f"ckpt_path={ckpt_path}: early stopping ended that run after epoch {done} ({stopped}; "
                        f"callbacks.early_stopping.patience={patience}), and would end this one before it trains; "
                        f"to train on, raise callbacks.early_stopping.patience (e.g. {patience + 5}) or set "
                        f"callbacks.early_stopping=null{_untested_hint(folder, cfg)}")
    warn_other_seed(old_cfg, cfg, ckpt_path)
    from trainlab.run.resume_settings import DEVICE_KEYS, devices_differ, say_changed_settings, setting_groups
    from trainlab.run.trained import silent_changes

    # the other groups' settings (trainer, callbacks, hardware, ...): only the model's and data's were said;
    # the optimizer's and scheduler's take effect where the checkpoint holds no optimizer state to restore
    others = () if old_cfg is None else tuple(k for k in setting_groups(dict.fromkeys([*old_cfg, *cfg]))
                                              if k not in ("model", "data", "optimizer", "scheduler"))
    changed_too = [d for d in (_config_differences(old_cfg, cfg, others, anew=anew) if others else [])
                   if not d.startswith(tuple(f"{k}: " for k in DEVICE_KEYS))] + devices_differ(old_cfg, cfg) + restored
    all_changes = [d for d in differs if d not in moved] + silent_changes(cfg, ckpt, model, datamodule) + changed_too
    say_changed_settings(all_changes, ckpt_path, repeat or (_repeat_hint(folder, ckpt_path) if changed_too else ""))
    warn_mid_epoch(ckpt_path, ckpt)


def warn_other_seed(old_cfg: Optional[DictConfig], cfg: DictConfig, ckpt_path: str) -> None:
    """One warning when a resume runs under another ``seed`` than the checkpoint's run (a resume composes
    its config anew: a run's ``seed=1`` left out went on with the default 3407 without a word). Its training
    order and dropout are drawn from (seed, epoch), so it goes on, but will not end as that run would have."""
    if old_cfg is None or old_cfg.get("seed") == cfg.get("seed"):
        return
    log.warning("ckpt_path=%s: that run was trained with seed=%s, this resume runs with seed=%s: its training order "
                "and dropout from here on are drawn from another seed, so it will not end as that run would have; "
                "resume with seed=%s for that", ckpt_path, old_cfg.get("seed"), cfg.get("seed"), old_cfg.get("seed"))


# Lightning's own warning for the same resume: a Python warning of several lines, raised after the model was set up
_LIGHTNING_MID_EPOCH = r"You're resuming from a checkpoint that ended before the epoch ended"


def warn_mid_epoch(ckpt_path: str, ckpt: dict[str, Any]) -> None:
    """One warning when the checkpoint was written inside an epoch: its loaders keep no position, so Lightning
    starts that epoch's batches over and the resumed run does not end as the run that was never stopped.
    A run folder's last.ckpt is written at epochs' ends; one of trainlab before that was written at each
    validation (trainer.val_check_interval < 1), on_exception.ckpt when training stopped."""
    from pathlib import Path

    from trainlab.run.folder import LAST, ON_EXCEPTION

    loops = ckpt.get("loops") or {}
    epoch = (loops.get("fit_loop") or {}).get("epoch_progress", {}).get("current", {})
    if not epoch or epoch.get("processed", 0) >= epoch.get("ready", 0):
        return  # an epoch's end (or no loop state to tell)
    batches = (loops.get("fit_loop") or {}).get("epoch_loop.batch_progress", {}).get("current", {}).get("completed")
    name = Path(ckpt_path).name
    origin = {LAST: f"; {LAST} is written at epochs' ends, this one by an earlier trainlab, which wrote it at each "
                    "validation (trainer.val_check_interval)",
              ON_EXCEPTION: f"; {ON_EXCEPTION} holds the moment training stopped"}.get(name, "")
    log.warning("ckpt_path=%s was written inside epoch %d (%s of its training batches done)%s: the resume starts that "
                "epoch's batches over (loaders keep no position), so it will not end as the run that was never stopped; "
                "for that, resume from a checkpoint of an epoch's end, or train afresh",
                ckpt_path, int(epoch.get("ready", 1)) - 1, "?" if batches is None else batches, origin)
    silence_for_the_run(_LIGHTNING_MID_EPOCH)  # said here, in one line
