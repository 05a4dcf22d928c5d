"""What train.py's, evaluate.py's and predict.py's jobs do with a composed config: the scripts' ``@hydra.main``
functions and :mod:`trainlab.api` (``trainlab.train``, ``trainlab.evaluate``, ``trainlab.predict``) both run these, so a run
started from Python is the command line's run.

Nothing here imports torch or lightning at module level: ``--help`` and ``--cfg`` stay fast.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig

from trainlab.config.errors import report_user_errors
from trainlab.run.folder import discard_unstarted_run


def train(cfg: DictConfig, extra_callbacks: Sequence[Any] = ()) -> dict[str, float]:
    """Fit (and test) the configured model; returns logged metrics plus ``objective``."""
    import lightning.pytorch as pl  # heavy imports here, so --help and --cfg stay fast
    import torch

    from trainlab.run.checkpoint_path import resolve_checkpoint
    from trainlab.run.pipeline import assemble, fit_and_test, objective, prepare
    from trainlab.run.preemption import requeued_checkpoint
    from trainlab.run.process import settings_kept

    with settings_kept():  # called from Python, a run leaves torch's threads and flags as it found them
        cfg = prepare(cfg)
        # a requeued SLURM job goes on in its own folder; ckpt_path= resumes into a new one
        ckpt_path = requeued_checkpoint(cfg.paths.output_dir) or (
            str(resolve_checkpoint(cfg.ckpt_path, prefer="last", log_dir=cfg.paths.log_dir)) if cfg.ckpt_path else None)
        pl.seed_everything(cfg.seed, workers=True)
        try:
            run = assemble(cfg, extra_callbacks, ckpt_path=ckpt_path)
            metrics = fit_and_test(run, ckpt_path)
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    metrics["objective"] = objective(run, metrics)
    return metrics


def refuse_search_run_once() -> None:
    """A search file chosen for a single run is refused (:func:`trainlab.config.invocation.search_run_once`)."""
    from trainlab.config.errors import UserError
    from trainlab.config.invocation import search_run_once

    problem = search_run_once()
    if problem:
        raise UserError(problem)


def train_job(cfg: DictConfig, exits: bool) -> dict[str, float]:
    """train.py's job in its run folder: :func:`train`, with a sweep's trial reporting and signal handling;
    a UserError is one line and exit 2 (``exits``), or raised to a caller in Python."""
    from trainlab.callbacks import kept_by
    from trainlab.run.console import announce_run_done, announce_run_folder, other_ranks_say_warnings_only
    from trainlab.run.preemption import stop_on_signals
    from trainlab.search.trial import optuna_trial

    other_ranks_say_warnings_only()
    announce_run_folder()
    with report_user_errors(on_error=discard_unstarted_run, exits=exits):
        refuse_search_run_once()
    with report_user_errors(on_error=discard_unstarted_run, exits=exits), optuna_trial(cfg) as trial_callbacks, \
            stop_on_signals(cfg.paths.output_dir, exits) as stop_callbacks:  # a signal: exit 143, or the launcher's
        metrics = train(cfg, extra_callbacks=[*trial_callbacks, *stop_callbacks])
    announce_run_done(cfg.paths.output_dir, cfg.optimized_metric, metrics["objective"], kept_by(cfg.get("callbacks"))[1])
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint named by ``cfg.ckpt_path``; returns what metrics.json holds."""
    from trainlab.config.families import check_nothing_taken_out
    from trainlab.run.process import settings_kept

    check_nothing_taken_out(cfg, "eval")  # ~hardware: before an interpolation to it fails
    with settings_kept():  # called from Python, torch's threads and flags are left as they were found
        return _evaluate(cfg)


def evaluate_job(cfg: DictConfig, exits: bool) -> dict[str, Any]:
    """evaluate.py's job: :func:`evaluate`; a UserError is one line and exit 2 (``exits``), or raised."""
    from trainlab.run.console import other_ranks_say_warnings_only

    other_ranks_say_warnings_only()
    with report_user_errors(on_error=discard_unstarted_run, exits=exits):
        return evaluate(cfg)


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Forecast ``cfg.horizon`` steps after the data of the run ``cfg.ckpt_path`` names (trainlab.prediction)."""
    from trainlab.config.families import check_nothing_taken_out
    from trainlab.prediction.run import predict as forecast_run
    from trainlab.run.process import settings_kept

    check_nothing_taken_out(cfg, "predict")  # ~hardware: before an interpolation to it fails
    with settings_kept():  # called from Python, torch's threads and flags are left as they were found
        return forecast_run(cfg)


def predict_job(cfg: DictConfig, exits: bool) -> dict[str, Any]:
    """predict.py's job: :func:`predict`; a UserError is one line and exit 2 (``exits``), or raised."""
    with report_user_errors(on_error=discard_unstarted_run, exits=exits):
        return predict(cfg)


def _evaluate(cfg: DictConfig) -> dict[str, Any]:
    import torch

    from trainlab.evaluation import family_module, measure_latency, write_report
    from trainlab.config.checks import check_eval_config, override_run_data
    from trainlab.run.durable import write_json
    from trainlab.run.pipeline import build_trainer
    from trainlab.run.restore import restore
    from trainlab.run.preemption import ctrl_c_raises

    check_eval_config(cfg)
    cfg, ckpt, saved, run_folder, run_cfg = open_run(cfg)
    given = override_run_data(run_cfg, cfg.get("data"))
    trained_on = copy.deepcopy(run_cfg)
    run_cfg.hardware = cfg.hardware  # this machine's workers and precision
    if cfg.batch_size is not None:
        run_cfg.data.batch_size = cfg.batch_size
    say_tested_otherwise(trained_on, run_cfg)
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
    written = ["metrics.json", "report.json", "report.md", *made.get("files", []), *made["plots"]]
    print(f"report written to {out_dir}: {', '.join(written)}")
    return full


# what makes a test's arithmetic differ from the one training ran (a mean over other batches is rounded
# otherwise; another precision), and the evaluate.py override that sets each
TESTED_WITH = {"data.batch_size": "batch_size", "data.max_nodes_per_graph": "hardware.max_nodes_per_graph",
               "hardware.precision": "hardware.precision",
               "hardware.float32_matmul_precision": "hardware.float32_matmul_precision"}


def say_tested_otherwise(trained_on: DictConfig, here: DictConfig) -> None:
    """One line when evaluate.py batches or computes otherwise than the run's own test did (``here``: the run's
    config with this machine's hardware and evaluate.py's batch_size): its figures then differ from training's
    test line in their last digits (a graph run trained with hardware.max_nodes_per_graph=200 and evaluated as
    one whole graph: its test loss differed in the last digits), and the line gives the overrides that repeat it."""
    import logging

    from omegaconf import OmegaConf

    def shown(value: Any) -> str:
        return "null" if value is None else str(value)

    values = [[OmegaConf.select(c, key, default=None) for key in TESTED_WITH] for c in (trained_on, here)]
    changed = [(key, a, b) for key, a, b in zip(TESTED_WITH, *values) if a != b]
    if changed:
        logging.getLogger(__name__).info(
            "evaluating with %s (evaluate.py takes this machine's hardware profile and its own batch_size): the "
            "metrics may differ from the run's own test line in their last digits; %s repeats that line",
            ", ".join(f"{key} {shown(a)} -> {shown(b)}" for key, a, b in changed),
            " ".join(f"{TESTED_WITH[key]}={shown(a)}" for key, a, _ in changed))


def open_run(cfg: DictConfig) -> tuple[DictConfig, Path, dict[str, Any], Any, DictConfig]:
    """What evaluate.py and predict.py open first: their config prepared, the checkpoint ``ckpt_path`` names
    (resolved, loaded, its snapshot noted) and the run folder it belongs to with that run's own config.
    Returns (cfg, ckpt, saved checkpoint, run folder, run config)."""
    from trainlab.run.checkpoint_path import load_checkpoint, note_snapshot, resolve_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.pipeline import prepare

    cfg = prepare(cfg, training=False)
    ckpt = resolve_checkpoint(cfg.ckpt_path, log_dir=cfg.paths.log_dir)
    saved = load_checkpoint(ckpt)
    note_snapshot(ckpt, saved)
    run_folder = RunFolder.of_checkpoint(ckpt)
    return cfg, ckpt, saved, run_folder, run_folder.config()
