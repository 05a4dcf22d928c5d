"""What a run writes about itself: its label, its loggers, its resolved config."""

from __future__ import annotations

import inspect
import logging
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
    # left out: model and data (already in front), the logger choice (the logger itself shows the run),
    # where things are written, the sweeper's hand-over
    skip = ("model=", "data=", "optuna_trial=", "+optuna_trial=", "logger=", "logger.", "paths.")
    overrides = [o for o in hc.overrides.task if not o.startswith(skip)]
    if overrides:
        label += "__" + ",".join(overrides)
    return _UNSAFE.sub("-", label)[:max_len]


def build_callbacks(nodes: Optional[DictConfig], progress_bar: bool, has_logger: bool,
                    model_summary: bool = True) -> list[Any]:
    """Instantiate the callbacks group, leaving out what Lightning would refuse or what the trainer
    switches off: the progress bar under ``trainer.enable_progress_bar=false``, the model summary under
    ``trainer.enable_model_summary=false``, the LR monitor under ``logger=none``."""
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, ProgressBar

    refused = () if progress_bar else (ProgressBar,)
    refused += () if model_summary else (ModelSummary,)
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


# what makes a run folder worth keeping: a checkpoint, an epoch's record, evaluation metrics
_KEPT = ("**/*.ckpt", "epochs.jsonl", "metrics.json")


def discard_unstarted_run() -> Optional[str]:
    """Remove the run folder of a run that stopped before it produced anything (a bad setting, a
    missing package, a GPU profile without a GPU), so that outputs/ holds no folders with only a log.

    Only single runs: a sweep's trial folders stay, the sweep records their failures. Returns a note
    for the error line, or None when the folder was kept.
    """
    if not HydraConfig.initialized():
        return None
    from hydra.types import RunMode

    hc = HydraConfig.get()
    folder = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN or not folder.is_dir() or any(any(folder.glob(p)) for p in _KEPT):
        return None
    import shutil

    for handler in logging.getLogger().handlers:  # the run's log file lives in the folder
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(folder):
            handler.close()
    shutil.rmtree(folder, ignore_errors=True)
    return "nothing was run, so its run folder was removed"


# Lightning's info lines that tell a user nothing: its advertisements, and the note that our own model
# summary (callbacks/model_summary.yaml) replaces its default one
_NOISE = ("💡 Tip", "Trainer already configured with model summary callbacks")


def _no_advertisement(record: logging.LogRecord) -> bool:
    return not str(record.msg).lstrip().startswith(_NOISE)


class LauncherNoise(logging.Filter):
    """Drops a Hydra launcher's lines about its own machinery, logged once per trial by our sweeper
    (which launches one trial at a time): joblib's ``Joblib.Parallel(n_jobs=..., backend=loky, ...) is
    launching 1 jobs`` and ``Launching jobs, sweep output dir : ...``, the basic launcher's ``Launching
    1 jobs locally``. The trial's own line (``#3 : optimizer.lr=...``) stays. Used by
    conf/hydra/default.yaml's hydra_logging."""

    PREFIXES = ("Joblib.Parallel(", "Launching jobs, sweep output dir", "Launching 1 jobs locally")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.PREFIXES)


def announce_run_folder() -> None:
    """Name the run folder as the first line of a run, before the seconds of imports that follow."""
    if HydraConfig.initialized():
        logging.getLogger(__name__).info("run folder: %s", HydraConfig.get().runtime.output_dir)


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
    # Lightning advertises its cloud services (litlogger, litmodels) on every run: not ours to print
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_advertisement)
    # Lightning 2.6 warns about its own use of a torch API on every run: nothing a user can act on
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
