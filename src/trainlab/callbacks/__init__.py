"""Lightning callbacks of conf/callbacks: training control (``training.py``), the run's records
(``records.py``) and GPU energy (``energy.py``), next to Lightning's own.

:func:`build_callbacks` instantiates the group, leaving out what Lightning would refuse.
"""

from __future__ import annotations

from typing import Any, Optional

from omegaconf import DictConfig

from trainlab.config.instantiate import build_all


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
    return [c for c in build_all(nodes, "callbacks", Callback)
            if not isinstance(c, refused) and getattr(c, "enabled", True) is not False]
