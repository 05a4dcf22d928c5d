"""Find the largest training batch that fits on the GPU before fitting (Lightning's batch-size finder).

Lightning's BatchSizeFinder trains a few steps at growing batch sizes (doubling, then optionally a
binary search) until one runs out of memory, and keeps the largest that did not. This subclass adds
what a run here needs: it refuses the cases where the search means nothing or cannot work, it
treats the hardware profile's memory budget (``hardware.memory_gb``) as the card's size, and it
writes the size it found into the run's ``resolved_config.yaml`` and ``training_summary.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from omegaconf import OmegaConf

from trainlab.config.errors import UserError
from trainlab.config.invocation import task_overrides
from trainlab.run.durable import write_atomic
from trainlab.run.folder import RESOLVED_CONFIG

log = logging.getLogger(__name__)

KEY = "callbacks.batch_size_finder"


def over_budget(peak_bytes: int, memory_gb: Optional[float]) -> Optional[str]:
    """An out-of-memory message when ``peak_bytes`` exceed the ``memory_gb`` budget, else None.

    The message reads like CUDA's own ("CUDA out of memory"), which is what Lightning's finder
    recognises as "too large, step back"; the budget is the profile's promise that a run stays
    within it (a card shared with other work, or a profile written for a smaller card).
    """
    if memory_gb is None or peak_bytes <= memory_gb * 1024**3:
        return None
    return (f"CUDA out of memory: the step reserved {peak_bytes / 1024**3:.2f} GB, above the "
            f"hardware.memory_gb={memory_gb} budget")


def sweep_searches(key: str) -> bool:
    """Whether this run is a job of a sweep whose search space (or command line) varies ``key``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    hydra = HydraConfig.get()
    if str(hydra.mode) != "RunMode.MULTIRUN":
        return False
    params = hydra.sweeper.get("params") or {}
    overridden = {o.split("=", 1)[0].lstrip("+~") for o in task_overrides()}
    return key in params or key in overridden


def refusal(trainer: pl.Trainer, datamodule: Any) -> Optional[str]:
    """Why the finder cannot run in this run (one line), or None."""
    from lightning.pytorch.accelerators import CUDAAccelerator

    if not isinstance(trainer.accelerator, CUDAAccelerator):
        return (f"{KEY}.enabled=true needs an NVIDIA GPU: on a CPU nothing runs out of memory, so the "
                "search would only stop at its trial limit; set data.batch_size yourself")
    if trainer.world_size > 1 or isinstance(trainer.strategy, pl.strategies.ParallelStrategy):
        return (f"{KEY}.enabled=true cannot run under {type(trainer.strategy).__name__} with {trainer.world_size} "
                "process(es) (Lightning's finder does not support distributed strategies); find the size on one "
                "GPU, then set data.batch_size")
    if sweep_searches("data.batch_size"):
        return (f"{KEY}.enabled=true in a sweep that searches data.batch_size: the finder would overwrite "
                "the sampled value; drop data.batch_size from the search space or disable the finder")
    if getattr(datamodule, "sampled", True) is False:
        return (f"{KEY}.enabled=true but this graph trains as one whole-graph batch (data.batch_size is "
                "unused): set hardware.max_nodes_per_graph to sample subgraphs, or disable the finder")
    return None


def record_in_resolved_config(output_dir: str | Path, batch_size: int) -> None:
    """Set ``data.batch_size`` in ``<output_dir>/resolved_config.yaml`` (written before fitting)."""
    path = Path(output_dir) / RESOLVED_CONFIG
    if not path.is_file():
        return
    resolved = OmegaConf.load(path)
    OmegaConf.update(resolved, "data.batch_size", int(batch_size), force_add=True)
    write_atomic(path, OmegaConf.to_yaml(resolved))


class BatchSizeFinder(pl.callbacks.BatchSizeFinder):
    """Lightning's BatchSizeFinder, run once before fitting when ``enabled``.

    Args:
        enabled: run the search (false: this callback does nothing, and train.py leaves it out).
        output_dir: the run folder, whose resolved_config.yaml gets the size found.
        memory_gb: the hardware profile's device memory budget (null: the card's own size).
        mode: "power" (doubling until too large) or "binsearch" (then halving the gap).
        steps_per_trial: training steps tried at each size.
        init_val: the first size tried.
        max_trials: sizes tried at most.
    """

    def __init__(self, enabled: bool = False, output_dir: Optional[str] = None, memory_gb: Optional[float] = None,
                 mode: str = "power", steps_per_trial: int = 3, init_val: int = 2, max_trials: int = 25):
        super().__init__(mode=mode, steps_per_trial=steps_per_trial, init_val=init_val, max_trials=max_trials,
                         batch_arg_name="batch_size")
        self.enabled, self.output_dir, self.memory_gb = enabled, output_dir, memory_gb
        self.initial: Optional[int] = None
        self._searching = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: Optional[str] = None) -> None:
        if not self.enabled or stage != "fit":
            return
        reason = refusal(trainer, trainer.datamodule)
        if reason:
            raise UserError(reason)
        super().setup(trainer, pl_module, stage)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.enabled:
            return
        self.initial = getattr(trainer.datamodule, "batch_size", None)
        self._searching = True
        try:
            super().on_fit_start(trainer, pl_module)
        finally:
            self._searching = False
        found = self.optimal_batch_size
        log.info("batch size finder: data.batch_size %s -> %s (mode %s, budget %s GB)", self.initial, found,
                 self._mode, self.memory_gb if self.memory_gb is not None else "the card's")
        if found is not None and self.output_dir and trainer.is_global_zero:
            record_in_resolved_config(self.output_dir, found)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._searching and self.memory_gb is not None:
            torch.cuda.reset_peak_memory_stats(trainer.strategy.root_device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._searching and self.memory_gb is not None:
            message = over_budget(torch.cuda.max_memory_reserved(trainer.strategy.root_device), self.memory_gb)
            if message:
                raise RuntimeError(message)  # Lightning's finder takes it as out of memory: a smaller size

    # Lightning's finder also runs before validate/test/predict when asked; here only before fitting
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        if not self.enabled:
            return {"ran": False}
        return {"ran": True, "initial_batch_size": self.initial, "found_batch_size": self.optimal_batch_size,
                "mode": self._mode, "memory_gb": self.memory_gb}
