"""Evaluate a finished run: ``python evaluate.py ckpt_path=<.ckpt file or run directory>``.

Rebuilds data and model from the run's saved config, restores the checkpoint (weights and whatever
the data module fit at training time), tests on the chosen split, times inference and writes into
outputs/eval/runs/<date>_<time>_<suffix>/: metrics.json, report.json, report.md and the model
family's plots (src/trainlab/evaluation/<family>.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab.config.errors import in_a_hydra_job, report_user_errors, run_command_line, stop_quietly_until_training

if __name__ == "__main__":  # first: Ctrl-C or SIGTERM while the rest imports is one line, not a traceback
    stop_quietly_until_training()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from trainlab.run.folder import discard_unstarted_run  # noqa: E402
from trainlab.run.root import claim_root  # noqa: E402

ROOT = claim_root(__file__)  # this folder is the repository, for this process and its children

from trainlab.config.schemas import register_configs  # noqa: E402

register_configs()


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint named by ``cfg.ckpt_path``; returns what metrics.json holds."""
    from trainlab.run.process import settings_kept

    with settings_kept():  # called from Python, torch's threads and flags are left as they were found
        return _evaluate(cfg)


def _evaluate(cfg: DictConfig) -> dict[str, Any]:
    import torch

    from trainlab.evaluation import family_module, measure_latency, write_report
    from trainlab.run.folder import RunFolder, load_checkpoint, note_snapshot, resolve_checkpoint
    from trainlab.config.checks import check_eval_config, override_run_data
    from trainlab.run.durable import write_json
    from trainlab.run.pipeline import build_trainer, prepare, restore
    from trainlab.run.preemption import ctrl_c_raises

    check_eval_config(cfg)
    cfg = prepare(cfg, training=False)
    ckpt = resolve_checkpoint(cfg.ckpt_path)
    saved = load_checkpoint(ckpt)
    note_snapshot(ckpt, saved)
    run_folder = RunFolder.of_checkpoint(ckpt)
    run_cfg = run_folder.config()
    given = override_run_data(run_cfg, cfg.get("data"))
    run_cfg.hardware = cfg.hardware  # this machine's workers and precision
    if cfg.batch_size is not None:
        run_cfg.data.batch_size = cfg.batch_size
    try:
        model, datamodule = restore(run_cfg, saved, str(ckpt), given, whole_file=cfg.split == "all")
        split = "val" if cfg.split == "val" else "test"  # split=all: the data module's test split is the whole file
        trainer = build_trainer(cfg, enable_checkpointing=False)
        run = trainer.test if split == "test" else trainer.validate
        with ctrl_c_raises(trainer):
            metrics = run(model, datamodule=datamodule)[0]
        loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
        device = trainer.strategy.root_device
        model.to(device).eval()
        family = family_module(model)
        latency = measure_latency(lambda batch: family.forward_batch(model, batch, device), loader, device,
                                  warmup=cfg.latency.warmup, max_batches=cfg.latency.max_batches)
        out_dir = Path(cfg.paths.output_dir)
        made = family.artifacts(model, datamodule, split, out_dir)
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    report = {
        "checkpoint": str(ckpt),
        "checkpoint_epoch": saved.get("epoch"),  # last.ckpt's name does not say it: last or best?
        "run_dir": str(run_folder.path),
        "split": cfg.split,
        "metrics": {k: float(v) for k, v in metrics.items()},
        **made["extra"],  # the family's baselines, next to the metrics they put in perspective
        **({"per_series": made["per_series"]} if "per_series" in made else {}),  # a file of several series
        **({"notes": made["notes"]} if made.get("notes") else {}),  # figures to read with care, and why
    }
    write_json(out_dir / "metrics.json", report)
    full = {**report, "latency": latency, "plots": made["plots"], "extra": made["extra"]}
    write_report(full, out_dir)
    print(f"report written to {out_dir}: metrics.json, report.json, report.md, {', '.join(made['plots'])}")
    return full


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="eval")
def main(cfg: DictConfig) -> None:
    with report_user_errors(on_error=discard_unstarted_run, exits=in_a_hydra_job()):
        evaluate(cfg)


if __name__ == "__main__":
    run_command_line(main, config_name="eval")
