"""Evaluate a finished run: ``python evaluate.py ckpt_path=<.ckpt file or run directory>``.

Rebuilds data and model from the run's saved config, restores the checkpoint (weights and the data
scaling fit at training time), tests on the chosen split and writes metrics.json into
outputs/eval/runs/<date>_<time>_<suffix>/.
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
    out = Path(cfg.paths.output_dir) / "metrics.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"metrics written to {out}")
    return report


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    with report_user_errors():
        evaluate(cfg)


if __name__ == "__main__":
    main()
