"""Train one model: ``python train.py model=lstm hardware=cpu`` (``--help`` lists every option).

Assembly only: compose (Hydra) -> apply hardware -> seed -> instantiate -> fit -> test -> return
the monitored metric. The pieces live in src/trainlab; conf/README.md maps config groups to them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TRAINLAB_ROOT", str(Path(__file__).resolve().parent))

from trainlab.config.errors import UserError, report_user_errors, run_command_line  # noqa: E402 - after TRAINLAB_ROOT
from trainlab.config.schemas import check_trainer, register_configs  # noqa: E402
from trainlab.search.trial import optuna_trial  # noqa: E402
from trainlab.run.preemption import stop_on_signals  # noqa: E402

register_configs()


def train(cfg: DictConfig, extra_callbacks: Sequence[Any] = ()) -> dict[str, float]:
    """Fit (and test) the configured model; returns logged metrics plus ``objective``."""
    import lightning.pytorch as pl  # heavy imports here, so --help and --cfg stay fast
    import torch

    from trainlab.config.instantiate import bind_data_dims, build, check_task
    from trainlab.run.checkpoint_io import AtomicCheckpointIO
    from trainlab.run.folder import resolve_checkpoint
    from trainlab.run.hardware import apply_hardware
    from trainlab.run.preemption import cluster_plugins, requeued_checkpoint
    from trainlab.run.outputs import build_callbacks, build_loggers, route_lightning_logs, run_label, save_resolved_config

    route_lightning_logs()
    apply_hardware(cfg.hardware)
    check_trainer(cfg.trainer)
    check_task(cfg)
    # a requeued SLURM job goes on in its own folder; ckpt_path= resumes into a new one
    ckpt_path = requeued_checkpoint(cfg.paths.output_dir) or (
        str(resolve_checkpoint(cfg.ckpt_path, prefer="last")) if cfg.ckpt_path else None)
    pl.seed_everything(cfg.seed, workers=True)
    try:
        datamodule = build(cfg.data, "data")
        net = build(cfg.model.net, "model.net", **bind_data_dims(cfg.model.net, datamodule.dims))
        model = build(cfg.model, "model", net=net, optimizer=build(cfg.optimizer, "optimizer"),
                      scheduler=build(cfg.scheduler, "scheduler") if cfg.scheduler else None,
                      **datamodule.model_kwargs())
        loggers = build_loggers(cfg.logger, run_label())
        callbacks = build_callbacks(cfg.callbacks, cfg.trainer.enable_progress_bar, bool(loggers))
        trainer = build(cfg.trainer, "trainer", callbacks=[*callbacks, *extra_callbacks], logger=loggers or False,
                        plugins=[AtomicCheckpointIO(), *cluster_plugins()])
        resolved = save_resolved_config(cfg, cfg.paths.output_dir)
        for logger in trainer.loggers:  # not `loggers`: fast_dev_run swaps them for a dummy, never finalized
            logger.log_hyperparams(resolved)

        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            Path(best).parent.joinpath("best.txt").write_text(best + "\n")
        if cfg.test:
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")})
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    checkpoint = trainer.checkpoint_callback
    same_metric = checkpoint is not None and checkpoint.monitor == cfg.optimized_metric
    score = checkpoint.best_model_score if same_metric else None  # also known when a resume trained no more
    if score is None and cfg.optimized_metric not in metrics:
        raise UserError(f"optimized_metric={cfg.optimized_metric} was never logged; logged: {sorted(metrics)}")
    metrics["objective"] = float(score) if score is not None else metrics[cfg.optimized_metric]
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    with report_user_errors(), optuna_trial(cfg) as trial_callbacks, \
            stop_on_signals(cfg.paths.output_dir) as stop_callbacks:  # a signal: exit 143, or a launcher's requeue
        return train(cfg, extra_callbacks=[*trial_callbacks, *stop_callbacks])["objective"]


if __name__ == "__main__":
    run_command_line(main)
