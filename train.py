"""Train one model: ``python train.py model=lstm hardware=cpu`` (``--help`` lists every option).

Assembly only: compose (Hydra) -> apply hardware -> seed -> instantiate -> fit -> test -> return
the monitored metric. The pieces live in src/trainlab; conf/README.md maps config groups to them.
"""

from __future__ import annotations

from typing import Any, Sequence

from trainlab.config.errors import in_a_hydra_job, report_user_errors, run_command_line, stop_quietly_until_training

if __name__ == "__main__":  # first: Ctrl-C or SIGTERM while the rest imports is one line, not a traceback
    stop_quietly_until_training()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from trainlab.run.folder import discard_unstarted_run  # noqa: E402
from trainlab.run.root import claim_root  # noqa: E402

ROOT = claim_root(__file__)  # this folder is the repository, for this process and its children

from trainlab.config.schemas import register_configs  # noqa: E402
from trainlab.run.console import announce_run_folder  # noqa: E402
from trainlab.run.preemption import stop_on_signals  # noqa: E402
from trainlab.search.trial import optuna_trial  # noqa: E402

register_configs()


def train(cfg: DictConfig, extra_callbacks: Sequence[Any] = ()) -> dict[str, float]:
    """Fit (and test) the configured model; returns logged metrics plus ``objective``."""
    import lightning.pytorch as pl  # heavy imports here, so --help and --cfg stay fast
    import torch

    from trainlab.run.folder import resolve_checkpoint
    from trainlab.run.pipeline import assemble, fit_and_test, objective, prepare
    from trainlab.run.preemption import requeued_checkpoint
    from trainlab.run.process import settings_kept

    with settings_kept():  # called from Python, a run leaves torch's threads and flags as it found them
        cfg = prepare(cfg)
        # a requeued SLURM job goes on in its own folder; ckpt_path= resumes into a new one
        ckpt_path = requeued_checkpoint(cfg.paths.output_dir) or (
            str(resolve_checkpoint(cfg.ckpt_path, prefer="last")) if cfg.ckpt_path else None)
        pl.seed_everything(cfg.seed, workers=True)
        try:
            run = assemble(cfg, extra_callbacks, ckpt_path=ckpt_path)
            metrics = fit_and_test(run, ckpt_path)
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    metrics["objective"] = objective(run, metrics)
    return metrics


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="train")
def main(cfg: DictConfig) -> float:
    announce_run_folder()
    exits = in_a_hydra_job()  # main(cfg) from Python: a UserError, RunStopped or Ctrl-C is raised to the caller
    with report_user_errors(on_error=discard_unstarted_run, exits=exits), optuna_trial(cfg) as trial_callbacks, \
            stop_on_signals(cfg.paths.output_dir, exits) as stop_callbacks:  # a signal: exit 143, or the launcher's
        return train(cfg, extra_callbacks=[*trial_callbacks, *stop_callbacks])["objective"]


if __name__ == "__main__":
    run_command_line(main, config_name="train")
