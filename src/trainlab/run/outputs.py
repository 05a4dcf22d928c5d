"""What a run writes about itself: its label, its loggers, its resolved config."""

from __future__ import annotations

import inspect
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Optional

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from trainlab.config.instantiate import build, build_all

_UNSAFE = re.compile(r"[^A-Za-z0-9=.,_+-]+")


def run_label(max_len: int = 120) -> str:
    """``<model>_<data>`` plus the command-line overrides, safe as one folder name.

    TensorBoard lists runs by folder, so ``make tensorboard`` over all of outputs/ shows which model
    and which overrides each curve belongs to, e.g. ``lstm_synthetic__optimizer.lr=0.01``.
    """
    if not HydraConfig.initialized():
        return "run"
    hc = HydraConfig.get()
    choices = hc.runtime.choices
    label = f"{choices.get('model', 'model')}_{choices.get('data', 'data')}"
    # left out: model and data (already in front), where things are written, the sweeper's hand-over
    skip = ("model=", "data=", "optuna_trial=", "+optuna_trial=", "logger.", "paths.")
    overrides = [o for o in hc.overrides.task if not o.startswith(skip)]
    if overrides:
        label += "__" + ",".join(overrides)
    return _UNSAFE.sub("-", label)[:max_len]


def build_callbacks(nodes: Optional[DictConfig], progress_bar: bool, has_logger: bool) -> list[Any]:
    """Instantiate the callbacks group, leaving out what Lightning would refuse: the progress bar
    under ``trainer.enable_progress_bar=false``, the LR monitor under ``logger=none``."""
    from lightning.pytorch.callbacks import LearningRateMonitor, ProgressBar

    refused = () if progress_bar else (ProgressBar,)
    refused += () if has_logger else (LearningRateMonitor,)
    return [c for c in build_all(nodes, "callbacks") if not isinstance(c, refused)]


def build_loggers(nodes: Optional[DictConfig], label: str) -> list[Any]:
    """Instantiate the logger group; ``label`` names each logger's run: TensorBoard's and CSV's
    ``version``, MLflow's ``run_name`` (unless the config gives one)."""
    loggers = []
    for name, node in (nodes or {}).items():
        if not node:
            continue
        from hydra.utils import get_class

        takes = inspect.signature(get_class(node._target_)).parameters
        named = {key: label for key in ("version", "run_name") if key in takes and node.get(key) is None}
        loggers.append(build(node, f"logger.{name}", **named))
    return loggers


def task_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config as a resolved plain dict, without Hydra's own ``hydra`` node."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


def save_resolved_config(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    """Write resolved_config.yaml (hardware 'auto' values already concrete) and return it as a dict."""
    resolved = task_config(cfg)
    path = Path(output_dir) / "resolved_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(resolved))
    return resolved


def route_lightning_logs() -> None:
    """Let Lightning's messages reach the console and train.log once, through Hydra's root handlers.

    Lightning adds its own stdout handler when it is imported; under Hydra every line would print
    twice.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "torchmetrics"):
        logger = logging.getLogger(name)
        if logging.getLogger().handlers:
            logger.handlers.clear()
            logger.propagate = True
    # Lightning 2.6 warns about its own use of a torch API on every run: nothing a user can act on
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    # Lightning advises prepending `srun` on every run of a machine that has it (a SLURM login node, CI),
    # also outside any allocation, where the advice is wrong; inside a SLURM job it is kept
    if "SLURM_JOB_ID" not in os.environ:
        warnings.filterwarnings("ignore", message=r".*The `srun` command is available on your system but is not used")
