"""Loggers of conf/logger: Lightning's TensorBoard and CSV loggers, and MLflow (``mlflow.py``).

:func:`build_loggers` instantiates the group and names each logger's run after the run itself
(:func:`run_label`), so TensorBoard over all of outputs/ tells the runs apart.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Optional

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from trainlab.config.composition import task_overrides
from trainlab.config.errors import UserError
from trainlab.config.instantiate import build, group_nodes, import_target

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
    # left out: model and data (already in front), the logger choice (the logger itself shows the run),
    # where things are written, the sweeper's hand-over
    skip = ("model=", "data=", "optuna_trial=", "+optuna_trial=", "logger=", "logger.", "paths.")
    overrides = [o for o in task_overrides() if not o.startswith(skip)]
    if overrides:
        label += "__" + ",".join(overrides)
    return _UNSAFE.sub("-", label)[:max_len]


def build_loggers(nodes: Optional[DictConfig], label: str) -> list[Any]:
    """Instantiate the logger group; ``label`` names each logger's run: TensorBoard's and CSV's
    ``version``, MLflow's ``run_name`` (unless the config gives one)."""
    from lightning.pytorch.loggers import Logger

    loggers = []
    for name, node in group_nodes(nodes, "logger"):
        takes = inspect.signature(import_target(node._target_, f"logger.{name}")).parameters
        named = {key: label for key in ("version", "run_name") if key in takes and node.get(key) is None}
        logger = build(node, f"logger.{name}", Logger, **named)
        try:  # opened here, not at the start of fit: TensorBoard's writer imports its package only then
            logger.experiment
        except ImportError as exc:
            raise UserError(f"logger={name} needs the Python package {exc.name}, which is not installed; pip install "
                            f"{exc.name} (it is in requirements.txt), or choose another logger: logger=csv or "
                            "logger=none") from None
        loggers.append(logger)
    return loggers
