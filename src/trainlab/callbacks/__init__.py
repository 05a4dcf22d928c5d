"""Lightning callbacks of conf/callbacks, next to Lightning's own.

- ``checkpoints``: what a resume continues from: epoch seeding, checkpoints (last.ckpt at each epoch's
  end, top-k kept across resumes), early stopping resumed with its patience, the checkpoint on exception
- ``training``: training control and our variants of stock callbacks (progress bar, model summary,
  non-finite loss stop, stop on a signal)
- ``records``: the run's records (per-epoch records, summary, curves, the end-of-run baselines line)
- ``effective_batch``: samples per optimizer step (the records' figure), and the warning of a resume with another
- ``baselines``: a forecasting run's figures beside the classical baselines' (its last line)
- ``energy``, ``gpu_monitor``: GPU energy, and utilisation, memory and power per epoch (NVML); ``nvml``:
  which NVML board is this process's GPU (by its UUID), and what NVML can read of it
- ``batch_size``: the largest training batch that fits on the GPU

:func:`build_callbacks` instantiates the group, leaving out what Lightning would refuse; :func:`lightnings_checkpoint`
keeps Lightning's own checkpoint in the run folder for a group without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig

from trainlab.config.instantiate import build_all, group_nodes


def build_callbacks(nodes: Optional[DictConfig], progress_bar: bool, has_logger: bool,
                    model_summary: bool = True) -> list[Any]:
    """Instantiate the callbacks group, leaving out what Lightning would refuse or what the trainer
    switches off: the progress bar under ``trainer.enable_progress_bar=false``, the model summary under
    ``trainer.enable_model_summary=false``, the LR monitor under ``logger=none``; and callbacks
    switched off by their own ``enabled: false`` (Lightning calls every callback's hooks at every
    step, about a dozen each, so an idle one still costs time)."""
    from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelSummary, ProgressBar

    refused = () if progress_bar else (ProgressBar,)
    refused += () if model_summary else (ModelSummary,)
    refused += () if has_logger else (LearningRateMonitor,)
    built = build_all(nodes, "callbacks", Callback)
    for (name, _), callback in zip(group_nodes(nodes, "callbacks"), built):
        callback.trainlab_setting = f"callbacks.{name}"  # its key, for a line about it (callbacks.best_r2.monitor=...)
    return [c for c in built if not isinstance(c, refused) and getattr(c, "enabled", True) is not False]


def kept_by(nodes: Optional[DictConfig]) -> tuple[Optional[str], Optional[str]]:
    """(setting, metric): what the callbacks group's checkpoint callback keeps its best by,
    ``("callbacks.model_checkpoint.monitor", "val/loss")``; (None, None) where none of the group watches a metric
    (``callbacks=none``, a user's group without one: Lightning's own checkpoint keeps the last epoch). Read from the
    config, by the class name of each ``_target_`` (no import of Lightning: a sweep process asks too)."""
    for name, node in (nodes or {}).items():
        target = str(node.get("_target_", "")) if isinstance(node, DictConfig) else ""
        if "Checkpoint" in target.rpartition(".")[2] and node.get("monitor"):
            return f"callbacks.{name}.monitor", str(node.monitor)
    return None, None


def not_kept_by(optimized_metric: str, nodes: Optional[DictConfig]) -> Optional[str]:
    """Why a run's checkpoint is not its best by ``optimized_metric`` (None when it is): its value is then the
    metric at its last epoch, not its best (:func:`trainlab.run.pipeline.objective`)."""
    setting, metric = kept_by(nodes)
    if metric == optimized_metric:
        return None
    if metric is None:
        return (f"no callback of the callbacks group keeps a checkpoint by {optimized_metric} (Lightning's own keeps the "
                "last epoch's); add model_checkpoint to it (conf/callbacks/model_checkpoint.yaml) to keep the best")
    return (f"{setting}={metric} keeps the best checkpoint by {metric}, not by optimized_metric={optimized_metric}; "
            f"set {setting}={optimized_metric} to keep the best by it")


def lightnings_checkpoint(callbacks: Sequence[Any], folder: Path) -> list[Any]:
    """Lightning's own checkpoint (the last epoch's) in ``folder``, the run's checkpoints/, for a callbacks group
    without one (``callbacks=none``): Lightning put it in its first logger's folder
    (``tensorboard/<run name>/checkpoints/``), where the run's end said 'no checkpoint kept', evaluate.py found none
    in the run folder and the best checkpoint's record named the logger's folder as the run's."""
    from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

    if any(isinstance(c, Checkpoint) for c in callbacks):
        return []
    # epoch03-step12.ckpt: Lightning's epoch=3-step=12.ckpt, pasted as ckpt_path=<file>, is refused by Hydra's grammar
    return [ModelCheckpoint(dirpath=folder, filename="epoch{epoch:02d}-step{step}", auto_insert_metric_name=False)]
