"""predict.py's job: the run's model on data that have no answers yet.

Composed as evaluate.py composes: the run's own ``.hydra/config.yaml`` rebuilds data and model, the
checkpoint restores weights and the data's scaling, ``+data.<key>=<value>`` changes the run's data (a
newer file of the same columns: ``+data.source.path=<file>``), and this machine's ``hardware`` runs it.
Writes forecast.csv and forecast.png into ``outputs/predict/runs/<date>_<time>_<suffix>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError

PREDICT_KEYS = ("task_name", "ckpt_path", "horizon", "history", "trainer", "hardware", "paths", "data")


def check_predict_config(cfg: DictConfig) -> None:
    """predict.py's own keys: a checkpoint, a horizon, a history to plot; nothing else added."""
    from trainlab.prediction.fit import check_horizon

    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise UserError("ckpt_path is required: python predict.py ckpt_path=<run folder or .ckpt file> horizon=<steps> "
                        "(run folders are under outputs/train/runs/)")
    unknown = sorted(set(cfg) - set(PREDICT_KEYS) - {"hydra"})
    if unknown:
        raise UserError(f"predict.py does not use {', '.join(unknown)}; its keys are {', '.join(PREDICT_KEYS)} (the "
                        "model and data come from the run's own config; +data.<key>=... changes the run's data)")
    if OmegaConf.is_missing(cfg, "horizon"):
        raise UserError("horizon is required: the steps to forecast after the data's end, e.g. horizon=24")
    check_horizon(cfg.horizon)
    if cfg.history is not None and (isinstance(cfg.history, bool) or not isinstance(cfg.history, int) or cfg.history < 1):
        raise UserError(f"history={cfg.history!r} must be a whole number of rows shown before the forecast, 1 or "
                        "more (null: four horizons, at least one window)")


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Forecast ``cfg.horizon`` steps after the end of every series of the run's data; returns what
    forecast.json holds."""
    import torch

    from trainlab.config.checks import override_run_data
    from trainlab.config.families import family_of
    from trainlab.prediction.fit import check_family, check_reach
    from trainlab.prediction.plots import plot_forecasts
    from trainlab.prediction.timeseries import as_frame, forecast
    from trainlab.run.durable import write_atomic, write_json
    from trainlab.run.folder import RunFolder, load_checkpoint, note_snapshot, resolve_checkpoint
    from trainlab.run.pipeline import build_trainer, prepare, restore

    check_predict_config(cfg)
    cfg = prepare(cfg, training=False)
    ckpt = resolve_checkpoint(cfg.ckpt_path)
    saved = load_checkpoint(ckpt)
    note_snapshot(ckpt, saved)
    run_folder = RunFolder.of_checkpoint(ckpt)
    run_cfg = run_folder.config()
    check_family(family_of(run_cfg.data._target_, "data._target_"), str(run_folder.path))
    given = override_run_data(run_cfg, cfg.get("data"))
    run_cfg.hardware = cfg.hardware  # this machine's threads and precision
    if "ets_baseline" in run_cfg.data:
        run_cfg.data.ets_baseline = False  # nothing is scored: no baseline to fit
    horizon = int(cfg.horizon)
    try:
        model, data = restore(run_cfg, saved, str(ckpt), given, whole_file=True, forecast=True)
        recursive = check_reach(data, horizon)
        device = build_trainer(cfg, enable_checkpointing=False).strategy.root_device
        made = forecast(model, data, horizon, device, recursive)
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    table, out_dir = data.load(), Path(cfg.paths.output_dir)
    frame = as_frame(made, table, data.source)
    write_atomic(out_dir / "forecast.csv", frame.to_csv(index=False))
    shown = cfg.history or max(4 * horizon, data.window)
    left_out = plot_forecasts(made, table, data.source, shown, out_dir / "forecast.png")
    report = {
        "checkpoint": str(ckpt), "checkpoint_epoch": saved.get("epoch"), "run_dir": str(run_folder.path),
        "data": table.name, "horizon": horizon, "series": len(made), "targets": list(table.target_names),
        # fed back: forecasts past data.steps were read by the model as its own past values
        "recursive": recursive, "steps_per_pass": data.steps,
        "files": ["forecast.csv", "forecast.png"], **({"not_plotted": left_out} if left_out else {}),
    }
    write_json(out_dir / "forecast.json", report)
    how = f", fed back past data.steps={data.steps}" if recursive else ""
    plotted = f" (forecast.png shows {len(made) * len(table.target_names) - len(left_out)} of its panels)" if left_out else ""
    print(f"forecast of {horizon} step(s) after the end of {len(made)} series{how} written to {out_dir}: "
          f"forecast.csv, forecast.png{plotted}, forecast.json")
    return {**report, "out_dir": str(out_dir), "forecast": frame}
