"""What a run prints: its folder first, Lightning's messages once and without advertisements, and
a launcher's lines about its own machinery left out."""

from __future__ import annotations

import logging
import os
import warnings

from hydra.core.hydra_config import HydraConfig


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
    # Lightning advises prepending `srun` on every run of a machine that has it (a SLURM login node, CI),
    # also outside any allocation, where the advice is wrong; inside a SLURM job it is kept
    if "SLURM_JOB_ID" not in os.environ:
        warnings.filterwarnings("ignore", message=r".*The `srun` command is available on your system but is not used")
