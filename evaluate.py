"""Evaluate a finished run: ``python evaluate.py ckpt_path=<.ckpt file or run directory>``.

Rebuilds data and model from the run's saved config, restores the checkpoint (weights and the data
scaling fit at training time), tests on the chosen split, times inference and writes into
outputs/eval/runs/<date>_<time>_<suffix>/: metrics.json, report.json, report.md, predictions.png
and, for attention models, attention_heatmap.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TRAINLAB_ROOT", str(Path(__file__).resolve().parent))

from trainlab.errors import report_user_errors  # noqa: E402 - after TRAINLAB_ROOT
from trainlab.schemas import register_configs  # noqa: E402

register_configs()


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint named by ``cfg.ckpt_path``; returns what metrics.json holds."""
    import lightning.pytorch as pl
    import torch

    from trainlab.checkpoints import load_checkpoint, load_run_config, resolve_checkpoint, run_dir_of
    from trainlab.evaluation import measure_latency, plot_attention, plot_predictions, predictions, write_report
    from trainlab.hardware import apply_hardware
    from trainlab.restore import restore_model_and_data
    from trainlab.runs import route_lightning_logs

    route_lightning_logs()
    ckpt = resolve_checkpoint(cfg.ckpt_path)
    run_cfg = load_run_config(run_dir_of(ckpt))
    run_cfg.hardware = apply_hardware(cfg.hardware)  # this machine's workers and precision
    if cfg.batch_size is not None:
        run_cfg.data.batch_size = cfg.batch_size
    try:
        model, datamodule = restore_model_and_data(run_cfg, load_checkpoint(ckpt), str(ckpt))
        trainer = pl.Trainer(accelerator=cfg.hardware.accelerator, devices=cfg.hardware.devices,
                             precision=cfg.hardware.precision, logger=False, enable_checkpointing=False,
                             default_root_dir=cfg.paths.output_dir)
        run = trainer.test if cfg.split == "test" else trainer.validate
        metrics = run(model, datamodule=datamodule)[0]
        loader = datamodule.test_dataloader() if cfg.split == "test" else datamodule.val_dataloader()
        model.to(trainer.strategy.root_device)
        latency = measure_latency(model, loader, warmup=cfg.latency.warmup, max_batches=cfg.latency.max_batches)
        out_dir = Path(cfg.paths.output_dir)
        pred, true = predictions(model, loader)
        plot_predictions(pred, true, datamodule.table.target_names, out_dir / "predictions.png")
        plots = ["predictions.png"]
        if plot_attention(model.net, loader, out_dir / "attention_heatmap.png"):
            plots.append("attention_heatmap.png")
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    report = {
        "checkpoint": str(ckpt),
        "run_dir": str(run_dir_of(ckpt)),
        "split": cfg.split,
        "metrics": {k: float(v) for k, v in metrics.items()},
        "baseline_last_value_rmse": datamodule.last_value_rmse(cfg.split),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    write_report({**report, "latency": latency, "plots": plots}, out_dir)
    print(f"report written to {out_dir}: metrics.json, report.json, report.md, {', '.join(plots)}")
    return {**report, "latency": latency, "plots": plots}


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    with report_user_errors():
        evaluate(cfg)


if __name__ == "__main__":
    main()
