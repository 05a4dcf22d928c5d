"""The one pipeline from a composed config to a run: every entry point, benchmark and test calls it.

    prepare(cfg)                  hardware profile applied, trainer and families checked
    build_model_and_data(cfg)     data module -> sizes from the data -> net -> task module
    assemble(cfg)                 ... plus loggers, callbacks and the trainer of conf/trainer

train.py, evaluate.py, search/refine (through train.py), benchmarks/ and tests/ all go through these
functions, so a change in how a run is put together is made once. A saved run is built again through them
too, with its checkpoint's weights and statistics: :func:`trainlab.run.restore.restore`.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from trainlab.config.checks import check_config
from trainlab.config.errors import UserError
from trainlab.config.families import base_class, check_families, check_nothing_taken_out
from trainlab.config.instantiate import build
from trainlab.config.schemas import check_schema_additions, check_trainer
from trainlab.config.search_path import check_shadowed_choices
from trainlab.run.console import route_lightning_logs
from trainlab.run.folder import CHECKPOINTS, LAST, RESOLVED_CONFIG, RunFolder
from trainlab.run.durable import DiskFull, write_atomic

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Everything a run is made of, built from one config."""

    cfg: DictConfig
    datamodule: Any
    model: Any
    trainer: Any


def prepare(cfg: DictConfig, *, training: bool = True) -> DictConfig:
    """Check what can be checked before anything is built, apply the hardware profile (and check the
    trainer's devices against this machine), and return the
    config to build from: a copy whose ``hardware`` is concrete (``auto`` became what this machine
    has), so that the trainer's and data's interpolations (``${hardware.precision}``) and the saved
    resolved config see the real values. The config given is left as it is.
    """
    from trainlab.config.invocation import task_overrides
    from trainlab.config.interpolations import check_interpolations
    from trainlab.run.hardware import apply_hardware
    from trainlab.run.trainer_devices import check_trainer_devices
    from trainlab.run.repeatability import say_gpu_repeat

    route_lightning_logs()
    check_shadowed_choices()
    check_schema_additions(cfg, task_overrides())
    if training:  # before values: another family's data interpolates keys this model lacks (gaia's ${model.net.num_layers})
        check_nothing_taken_out(cfg)
        check_families(cfg)
    check_interpolations(cfg)
    hardware = apply_hardware(cfg.hardware)
    cfg = copy.deepcopy(cfg)
    cfg.hardware = hardware
    check_trainer_devices(cfg.trainer)  # what the trainer gets, ``trainer.*`` overrides of the profile included
    if training:
        check_config(cfg)  # first: epochs=N sets trainer.max_epochs, which check_trainer weighs min_epochs against
        check_trainer(cfg.trainer, test=bool(cfg.get("test")))
        say_gpu_repeat(cfg)
    return cfg


def bind_data_dims(net: DictConfig, dims: dict[str, int], key: str = "model.net") -> dict[str, int]:
    """Sizes a net takes from the data: keys left null are filled, keys set must agree.

    ``dims['in']`` feeds ``input_size`` or ``in_channels``; ``dims['out']`` feeds ``output_size`` or
    ``out_channels`` (whichever the net has). Returns the keyword arguments to pass to instantiate.
    """
    names = {"in": ("input_size", "in_channels"), "out": ("output_size", "out_channels")}
    filled: dict[str, int] = {}
    for side, value in dims.items():
        for name in names[side]:
            if name not in net:
                continue
            given = net[name]
            if given is not None and given != value:
                raise UserError(
                    f"{key}.{name}={given} contradicts the data, which has {value} "
                    f"{'feature' if side == 'in' else 'target'} column(s); remove the override "
                    f"(null takes the size from the data) or choose data with {given}"
                )
            filled[name] = value
    return filled


def build_net(cfg: DictConfig, datamodule: Any) -> Any:
    """The plain nn.Module of ``cfg.model.net``, sized by the data; a window longer than the net's
    ``receptive_field`` (convolutional nets state theirs) is logged once, and tiles smaller than its downsampling:
    advice for a run still to train, not repeated for a saved run's data (evaluate.py, predict.py)."""
    from torch import nn

    net = build(cfg.model.net, "model.net", kind=nn.Module, **bind_data_dims(cfg.model.net, datamodule.dims))
    if getattr(datamodule, "advising", True):
        check_receptive_field(net, getattr(datamodule, "window", None))
        check_downsampling(net, getattr(datamodule, "tile_shape", None))
    return net


def check_downsampling(net: Any, tile_shape: Optional[tuple[int, int]], trained: bool = False) -> None:
    """Warn when tiles are smaller than a net's downsampling (a U-Net's ``multiple``, 2**depth): they are padded
    up to it, edge values repeated, and its deepest level sees mostly padding (5 x 5 tiles in a depth-3 U-Net:
    8 x 8, 1 pixel at the bottleneck), which trained without a word. ``trained``: the net is a run's, whose
    settings predict.py keeps (model.net.depth is no fix there: larger images, or a run of a depth that fits)."""
    multiple = getattr(net, "multiple", None)
    if multiple is None or tile_shape is None or min(tile_shape) >= multiple:
        return
    fits = max(1, min(tile_shape).bit_length() - 1)  # the deepest depth whose 2**depth the tiles' side holds
    fix = (f"give images of at least {multiple} x {multiple} px, or a run trained with model.net.depth={fits}"
           if trained else f"give model.net.depth={fits} or larger tiles")
    log.warning(f"tiles of {tile_shape[0]} x {tile_shape[1]} px are smaller than {type(net).__name__}'s downsampling "
                f"of {multiple} (2**model.net.depth): each is padded to {multiple} px with its edge values repeated, "
                f"and its deepest level sees mostly padding; {fix}")


def check_receptive_field(net: Any, window: Optional[int]) -> None:
    """Warn when the window holds steps no output can see (a field beyond the window is fine)."""
    import inspect

    receptive = getattr(net, "receptive_field", None)
    if receptive is not None and window is not None and window > receptive:
        # the net's own keys (cnn: num_layers, tcn: num_blocks); it named both, one a key the net has not
        own = inspect.signature(type(net)).parameters
        widen = ", ".join(f"model.net.{k}" for k in ("num_blocks", "num_layers", "kernel_size", "dilation_base")
                          if k in own)
        log.warning(f"data.window={window} is longer than {type(net).__name__}'s receptive field of {receptive} "
                    f"steps: its first {window - receptive} step(s) never reach the forecast; shorten data.window "
                    f"or widen the field{f' ({widen})' if widen else ''}")


def build_task_module(cfg: DictConfig, datamodule: Any, optimizer: Any = None, scheduler: Any = None) -> Any:
    """The LightningModule of ``cfg.model``, holding its net, with the data module's arguments for it; the net's
    arguments, defaults included, are set on it for its checkpoints (trainlab.run.trained.net_arguments)."""
    from trainlab.run.trained import net_arguments

    model = build(cfg.model, "model", kind=base_class("model"), net=build_net(cfg, datamodule), optimizer=optimizer,
                  scheduler=scheduler, **datamodule.model_kwargs())
    model.net_arguments = net_arguments(cfg.model.net, bind_data_dims(cfg.model.net, datamodule.dims))
    return model


def build_data(cfg: DictConfig) -> Any:
    """The data module of ``cfg.data``, with the DataLoader settings of ``cfg.hardware`` (their one home)."""
    from trainlab.run.host_memory import worker_start

    datamodule = build(cfg.data, "data", kind=base_class("data"))
    hw = cfg.hardware
    datamodule.set_loader_options(num_workers=hw.num_workers, pin_memory=hw.pin_memory,
                                  persistent_workers=hw.persistent_workers, prefetch_factor=hw.prefetch_factor,
                                  worker_init_fn=worker_start if hw.host_memory_keep_mb is not None else None)
    return datamodule


def build_model_and_data(cfg: DictConfig, *, training: bool = True,
                         ckpt: Optional[dict[str, Any]] = None) -> tuple[Any, Any]:
    """(task module, data module). ``training=False`` leaves out optimizer and scheduler (evaluation); ``ckpt``: the
    checkpoint a resume starts from, whose data state decides how the data are read (their categories)."""
    datamodule = build_data(cfg)
    state = (ckpt or {}).get(type(datamodule).__qualname__)
    if isinstance(state, dict):
        datamodule.read_as_saved(state)
    optimizer = build(cfg.optimizer, "optimizer") if training else None
    scheduler = build(cfg.scheduler, "scheduler") if training and cfg.get("scheduler") else None
    return build_task_module(cfg, datamodule, optimizer, scheduler), datamodule


def task_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config as a resolved plain dict, without Hydra's own ``hydra`` node."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


def save_resolved_config(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    """Write resolved_config.yaml (hardware 'auto' values already concrete) and return it as a dict."""
    resolved = task_config(cfg)
    path = RunFolder(output_dir) / RESOLVED_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, OmegaConf.to_yaml(resolved))
    return resolved


def _processes(cfg: DictConfig, overrides: dict[str, Any]) -> int:
    """The training processes a trainer of ``cfg`` (and ``overrides``) starts: devices x nodes, or 0 where
    Lightning counts them on its own (``devices=-1``, ``auto`` on a GPU)."""
    devices = overrides.get("devices", cfg.trainer.get("devices", 1))
    if isinstance(devices, str):
        text = devices.strip()
        if text == "auto":
            devices = 1 if overrides.get("accelerator", cfg.trainer.get("accelerator")) == "cpu" else -1
        elif text.lstrip("-").isdigit():
            devices = int(text)
        else:  # GPU ids: '0,1'
            devices = [part for part in text.split(",") if part.strip()]
    count = len(devices) if isinstance(devices, Sequence) else int(devices)
    return 0 if count < 0 else count * _nodes(cfg, overrides)


def _nodes(cfg: DictConfig, overrides: dict[str, Any]) -> int:
    """The machines a trainer of ``cfg`` (and ``overrides``) trains on: ``trainer.num_nodes``."""
    return int(overrides.get("num_nodes", cfg.trainer.get("num_nodes", 1)) or 1)


def build_trainer(cfg: DictConfig, *, callbacks: Sequence[Any] = (), loggers: Sequence[Any] = (), **overrides: Any):
    """The Lightning Trainer of ``conf/trainer``, with atomic checkpoint writes; ``overrides`` replace
    config keys for uses other than training (evaluation runs without logger or checkpoints)."""
    from lightning.pytorch.profilers import PassThroughProfiler

    from trainlab.run.checkpoint_io import AtomicCheckpointIO
    from trainlab.run.preemption import cluster_plugins
    from trainlab.run.profiling import NoProfiler, use_lean_dispatch

    route_lightning_logs()  # again: evaluate.py imports Lightning after prepare(), and its import adds a handler
    trainer = build(cfg.trainer, "trainer", callbacks=list(callbacks), logger=list(loggers) or False,
                    plugins=[AtomicCheckpointIO(), *cluster_plugins(_processes(cfg, overrides), _nodes(cfg, overrides))],
                    **overrides)
    if type(trainer.profiler) is PassThroughProfiler:  # none asked for: the same, minus its cost per hook
        trainer.profiler = NoProfiler()  # (set here: conf/trainer's profiler key takes a name, not an object)
        use_lean_dispatch()  # and each hook goes only to the callbacks that have it
    return trainer


def assemble(cfg: DictConfig, extra_callbacks: Sequence[Any] = (), ckpt_path: Optional[str] = None) -> Run:
    """A training run: model, data, loggers, callbacks and trainer; the resolved config is saved and
    handed to every logger. ``ckpt_path``: the checkpoint a resumed run starts from, checked against
    the model and data built here before anything trains."""
    from trainlab.callbacks import build_callbacks, lightnings_checkpoint
    from trainlab.loggers import build_loggers, run_label, run_tags
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.checks import FitChecks
    from trainlab.run.ranks import check_ranks_can_start
    from trainlab.run.resume_checks import check_resume
    from trainlab.run.spawned import SpawnedRankSetup, spawns_ranks
    from trainlab.run.trained import resume_with_trained_net

    ckpt = load_checkpoint(Path(ckpt_path)) if ckpt_path else None  # read once, for both
    if ckpt is not None:  # the net's arguments whose default changed since, as the checkpoint was built
        cfg = resume_with_trained_net(cfg, ckpt, ckpt_path)
    model, datamodule = build_model_and_data(cfg, ckpt=ckpt)
    check_resume(cfg, model, datamodule, ckpt_path, ckpt)
    loggers = build_loggers(cfg.logger, run_label(), open_runs=not cfg.trainer.get("fast_dev_run"),
                            tags=run_tags(ckpt_path))
    callbacks = build_callbacks(cfg.callbacks, cfg.trainer.enable_progress_bar, bool(loggers),
                                cfg.trainer.enable_model_summary)
    callbacks += lightnings_checkpoint([*callbacks, *extra_callbacks], Path(cfg.paths.output_dir) / CHECKPOINTS)
    trainer = build_trainer(cfg, callbacks=[FitChecks(cfg.optimized_metric, cfg.optimized_mode), *callbacks, *extra_callbacks],
                            loggers=loggers)
    check_ranks_can_start(trainer, str(cfg.trainer.strategy))
    if spawns_ranks(trainer):  # ranks in fresh interpreters: their logging and hardware set up there too
        trainer.callbacks.append(SpawnedRankSetup(cfg.hardware))
    resolved = save_resolved_config(cfg, cfg.paths.output_dir)
    for logger in trainer.loggers:  # not `loggers`: fast_dev_run swaps them for a dummy, never finalized
        logger.log_hyperparams(resolved)
    return Run(cfg, datamodule, model, trainer)


def fit_and_test(run: Run, ckpt_path: Optional[str]) -> dict[str, float]:
    """Fit, record the best checkpoint in the run folder, test it (``cfg.test``); the logged metrics."""
    from trainlab.run.preemption import ctrl_c_raises
    from trainlab.run.ranks import EveryRankError, leave_together, peer_gone

    trainer, model, datamodule = run.trainer, run.model, run.datamodule
    try:
        with ctrl_c_raises(trainer):
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            RunFolder.of_checkpoint(Path(best)).record_best(best)
        if run.cfg.test:
            with ctrl_c_raises(trainer):
                trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")})
    except EveryRankError as exc:  # every process of a multi-process run stops: rank 0 says why
        leave_together(trainer, exc)
        raise
    except Exception as exc:  # noqa: BLE001 - only a full disk and a peer gone are answered here, the rest re-raised
        gone = peer_gone(trainer, exc)
        if gone is not None:
            raise gone from None
        full = DiskFull.of(exc)
        if full is None:
            raise
        raise full.then(_after_a_full_disk(run.cfg, trainer.fit_loop.done), "the run folder's disk") from None
    return metrics


def _after_a_full_disk(cfg: DictConfig, fitted: bool) -> str:
    """What to do once a full disk stopped the run: test it (``fitted``: its training loop ended, the
    records or the test did not), resume it (it has a checkpoint of a finished epoch) or start it again
    (it has none), after freeing space."""
    from trainlab.config.spelling import command_line
    from trainlab.run.preemption import resume_hint

    folder = Path(cfg.paths.output_dir)
    # {remedy}, {Remedy}: filled by DiskFull.then (free some space on ..., make ... writable again)
    elsewhere = " (or choose another disk with paths.log_dir=<folder>)"
    if fitted:
        return ("Training ended; {remedy}" + elsewhere + ", then test its best checkpoint: "
                + _braced(command_line("evaluate.py", [], ckpt_path=folder)))
    if (folder / CHECKPOINTS / LAST).is_file():
        return "{Remedy}, then resume: " + _braced(resume_hint(str(folder)))
    return "{Remedy}" + elsewhere + ", then start it again: " + _braced(resume_hint(None))


def _braced(text: str) -> str:
    """``text`` kept as it is through ``str.format`` (a command may hold ``${...}``)."""
    return text.replace("{", "{{").replace("}", "}}")


def objective(run: Run, metrics: dict[str, float]) -> float:
    """The value a sweep optimises: the checkpoint's best score of ``optimized_metric`` (also known
    when a resume trained no more), else its last logged value."""
    cfg, checkpoint = run.cfg, run.trainer.checkpoint_callback
    same_metric = checkpoint is not None and checkpoint.monitor == cfg.optimized_metric
    score = checkpoint.best_model_score if same_metric else None
    if score is None and cfg.optimized_metric not in metrics:
        raise UserError(f"optimized_metric={cfg.optimized_metric} was never logged; logged: {sorted(metrics)}")
    if score is not None and math.isinf(float(score)) and math.isnan(float(metrics.get(cfg.optimized_metric, 0.0))):
        # Lightning keeps an undefined (NaN) epoch as the worst value, -inf or inf: a run whose every epoch was
        # undefined (AUROC on a validation split of one class) read 'best val/auroc -inf'; it is NaN, undefined
        return float("nan")
    return float(score) if score is not None else metrics[cfg.optimized_metric]
