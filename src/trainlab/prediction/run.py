"""predict.py's job: the run's model on data that have no answers yet.

Composed as evaluate.py composes: the run's own ``.hydra/config.yaml`` rebuilds data and model, the
checkpoint restores weights and the data's scaling, ``+data.<key>=<value>`` changes the run's data (a
newer file of the same columns: ``+data.source.path=<file>``), and this machine's ``hardware`` runs it.
A series run writes forecast.csv and forecast.png, an image run the anomaly maps of ``images=<folder>``
(:mod:`trainlab.prediction.image`), a graph run the classes of the stars of ``catalogue=<file>``
(:mod:`trainlab.prediction.graph`), into ``outputs/predict/runs/<date>_<time>_<suffix>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.config.checks import check_run_reader_keys
from trainlab.config.errors import UserError

PREDICT_KEYS = ("task_name", "ckpt_path", "horizon", "history", "future", "images", "catalogue", "sheet", "trainer",
                "hardware", "paths", "data")


def check_predict_config(cfg: DictConfig) -> None:
    """predict.py's own keys: a checkpoint, a horizon, a history to plot, images, a catalogue; nothing else added."""
    check_run_reader_keys(cfg, "predict.py", PREDICT_KEYS, " horizon=<steps>")
    if cfg.history is not None and (isinstance(cfg.history, bool) or not isinstance(cfg.history, int) or cfg.history < 1):
        raise UserError(f"history={cfg.history!r} must be a whole number of rows shown before the forecast, 1 or "
                        "more (null: four horizons, at least one window)")
    if cfg.get("sheet") is not None and cfg.future is None and cfg.catalogue is None:
        raise UserError(f"sheet={cfg.sheet} picks the sheet of a workbook given as future=<file> or catalogue=<file>, "
                        "and neither is given; leave it out (the run's own data: +data.source.sheet=<name>)")


def _check_family_keys(cfg: DictConfig, family: str) -> None:
    """A series run takes ``horizon`` (required) and ``history``; an image run ``images`` (required); a graph
    run ``catalogue`` (required)."""
    from trainlab.prediction.fit import check_horizon
    from trainlab.prediction.graph import check_catalogue

    if family == "graph":
        for key in ("horizon", "history", "future", "images"):
            if cfg[key] is not None:
                raise UserError(f"{key}={cfg[key]}: a graph run's predictions are the classes of the stars of "
                                f"catalogue=<file>, with no {key}; leave it out")
        check_catalogue(cfg.catalogue)
        return
    if cfg.catalogue is not None:
        reads = ("an image run maps the anomalies of images=<folder>" if family == "image"
                 else f"a {family} run forecasts its data's series (horizon=<steps>)")
        raise UserError(f"catalogue={cfg.catalogue}: {reads} and reads no star catalogue; leave it out")
    if family == "image":
        for key in ("horizon", "history", "future"):
            if cfg[key] is not None:
                raise UserError(f"{key}={cfg[key]}: an image run's predictions are anomaly maps of images=<folder>, "
                                f"with no {key}; leave it out")
        return
    if cfg.images is not None:
        raise UserError(f"images={cfg.images}: a {family} run forecasts its data's series, it reads no images; leave "
                        "it out (a newer series file: +data.source.path=<file>)")
    if cfg.horizon is None:
        raise UserError("horizon is required: the steps to forecast after the data's end, e.g. horizon=24")
    check_horizon(cfg.horizon)


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Predict for data without answers with the run ``cfg.ckpt_path`` names; returns what forecast.json
    (series), anomaly_maps.json (images) or predictions.json (a catalogue) holds, plus ``out_dir`` and the csv's rows (``forecast``)."""
    import torch

    from trainlab.config.checks import override_run_data
    from trainlab.config.families import family_of
    from trainlab.prediction.fit import check_family
    from trainlab.run.jobs import open_run
    from trainlab.run.pipeline import build_trainer

    check_predict_config(cfg)
    cfg, ckpt, saved, run_folder, run_cfg = open_run(cfg)
    family = family_of(run_cfg.data._target_, "data._target_")
    check_family(family, str(run_folder.path))
    _check_family_keys(cfg, family)
    given = override_run_data(run_cfg, cfg.get("data"))
    run_cfg.hardware = cfg.hardware  # this machine's threads and precision
    made = {"checkpoint": str(ckpt), "checkpoint_epoch": saved.get("epoch"), "run_dir": str(run_folder.path)}
    try:
        device = build_trainer(cfg, enable_checkpointing=False).strategy.root_device
        job = JOBS[family]  # check_family refused a family without one
        return job(cfg, run_cfg, saved, str(ckpt), given, device, made, Path(cfg.paths.output_dir))
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _series(cfg: DictConfig, run_cfg: DictConfig, saved: dict, ckpt: str, given: list[str], device: Any,
            made: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from trainlab.data.csv_writing import as_csv, csv_dialect
    from trainlab.prediction.calendar import as_written, written_zone
    from trainlab.prediction.fit import check_reach, reach, warn_far_ahead
    from trainlab.prediction.future import driver_columns, read_future
    from trainlab.prediction.plots import plot_forecasts
    from trainlab.prediction.timeseries import as_frame, forecast
    from trainlab.run.durable import write_atomic, write_json
    from trainlab.run.restore import restore

    unread = [g for g in given if g.split("=", 1)[0].removeprefix("+data.").split(".")[0] in UNREAD_SERIES_KEYS]
    if unread:  # accepted and then without effect, before
        key = unread[0].split("=", 1)[0].lstrip("+")
        raise UserError(f"{unread[0]}: predict.py does not read {key} (it forecasts from the last rows of every "
                        "series, in batches of its own, and scores nothing); leave it out")
    if "ets_baseline" in run_cfg.data:
        run_cfg.data.ets_baseline = False  # nothing is scored: no baseline to fit
    horizon = int(cfg.horizon)
    model, data = restore(run_cfg, saved, ckpt, given, whole_file=True, forecast=True)
    future = None if cfg.future is None else str(cfg.future)
    after_end = check_reach(data, horizon, future)  # rows after the data's end are read (their drivers: future)
    known = read_future(future, data, horizon, cfg.get("sheet")) if future is not None else None
    recursive = after_end and data.target_inputs  # forecasts read back as the model's own past values
    forecasts = forecast(model, data, horizon, device, known)
    if recursive:  # fed back past the series' own length: said once, not forecast without a word
        warn_far_ahead(data, horizon, [len(f.history) for f in forecasts])
    table = data.load()
    frame = as_frame(forecasts, table, data.source)
    times = {}  # the csv's time column and the zone its times are written in (read back: README)
    if table.times is not None and any(g is not None and g.times is not None for g in table.times):
        times = {"time_column": getattr(data.source, "time_column", None) or "timestamp",
                 "time_zone": written_zone(table.times, getattr(data.source, "time_zone", None))}
    written = frame
    if times and times["time_column"] in frame:  # dates as the file writes them (2020-04 after 2020-03)
        written = frame.assign(**{times["time_column"]: as_written(frame[times["time_column"]], table.times,
                                                                    getattr(data.source, "time_zone", None)).to_numpy()})
    # separated as the data file is; in a model's float32 precision, 7 digits (its float64 form wrote 17, the last
    # ten noise: 6,3384857177734375 for a file of 2,94)
    write_atomic(out_dir / "forecast.csv", as_csv(written, table.written_as, float_format="%.7g"))
    shown = cfg.history or max(4 * horizon, data.window)
    left_out = plot_forecasts(forecasts, table, data.source, shown, out_dir / "forecast.png")
    report = {
        **made, "data": table.name, "horizon": horizon, "series": len(forecasts), "targets": list(table.target_names),
        # fed back: forecasts past fit.reach were read by the model as its own past values
        "recursive": recursive, "steps_per_pass": data.steps, **times, **csv_dialect(table.written_as),
        **({"future": future, "future_columns": driver_columns(data)} if future is not None else {}),
        "files": ["forecast.csv", "forecast.png"], **({"not_plotted": left_out} if left_out else {}),
    }
    write_json(out_dir / "forecast.json", report)
    how = f", fed back past {reach(data)} step(s)" if recursive else ""
    how += f"{',' if recursive else ''} with {', '.join(driver_columns(data))} from {future}" if future is not None else ""
    panels = len(forecasts) * len(table.target_names)
    plotted = f" (forecast.png shows {panels - len(left_out)} of its panels)" if left_out else ""
    print(f"forecast of {horizon} step(s) after the end of {len(forecasts)} series{how} written to {out_dir}: "
          f"forecast.csv, forecast.png{plotted}, forecast.json")
    return {**report, "out_dir": str(out_dir), "forecast": frame}


def _images(cfg: DictConfig, run_cfg: DictConfig, saved: dict, ckpt: str, given: list[str], device: Any,
            made: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from trainlab.data.csv_writing import csv_dialect
    from trainlab.prediction.image import anomaly_maps, read_images, restore_for_images, write
    from trainlab.run.durable import write_json
    from trainlab.run.pipeline import check_downsampling

    if given:  # the run's training images are not read, and its tile size, HDU and normalisation are kept
        raise UserError(f"{given[0]}: an image run's predict.py maps images=<folder> with the run's own data settings "
                        "and the checkpoint's normalisation, and reads none of its training images; leave it out")
    tiles = read_images(cfg.images, run_cfg)
    model, data = restore_for_images(run_cfg, saved, ckpt, tiles)
    # whole images of their own size, smaller ones too; the run's depth and tile size are kept here
    check_downsampling(model.net, tuple(tiles.images.shape[-2:]), trained=True)
    maps, scores = anomaly_maps(model, data, tiles, device)
    frame, files = write(tiles, maps, scores, out_dir)
    report = {**made, "images": str(cfg.images), "tiles": len(scores), "tile_shape": list(maps.shape[1:]),
              "files": files, **csv_dialect(None)}  # anomaly_scores.csv's, named as forecast.json names its own
    write_json(out_dir / "anomaly_maps.json", report)
    print(f"anomaly maps of {len(scores)} tile(s) of {cfg.images} written to {out_dir}: {', '.join(files)}, "
          "anomaly_maps.json")
    return {**report, "out_dir": str(out_dir), "forecast": frame}


def _catalogue(cfg: DictConfig, run_cfg: DictConfig, saved: dict, ckpt: str, given: list[str], device: Any,
               made: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from trainlab.data.csv_writing import csv_dialect
    from trainlab.prediction.graph import FILES, classify, restore_unlabelled, write
    from trainlab.run.durable import write_json

    if given:
        raise UserError(f"{given[0]}: a graph run's predict.py reads catalogue=<file> with the run's own data "
                        "settings; leave it out")
    model, data = restore_unlabelled(run_cfg, saved, ckpt, cfg.catalogue, cfg.get("sheet"))
    names = list(model.class_names)
    nodes, probs = classify(model, data, device)
    frame = write(data, nodes, probs, names, out_dir)
    counts = frame["predicted"].value_counts()
    report = {**made, "catalogue": str(cfg.catalogue), "stars": len(frame), "k": data.k, "classes": names,
              "predicted": {name: int(counts.get(name, 0)) for name in names}, "id_column": data.table.id_name,
              **csv_dialect(data.table.written_as),
              "stars_left_out": data.table.left_out, "missing_values_imputed": data.missing_counts(),
              "batches": "sampled ego nets" if data.sampled else "whole graph", "files": FILES}
    write_json(out_dir / "predictions.json", report)
    print(f"classes of {len(frame)} star(s) of {cfg.catalogue} written to {out_dir}: {', '.join(FILES)}, "
          "predictions.json")
    return {**report, "out_dir": str(out_dir), "forecast": frame}


# each family predict.py predicts for (fit.FORECASTS) and its job: a family added there needs one here
# (before, every family but image went to the series job)
JOBS = {"timeseries": _series, "image": _images, "graph": _catalogue}

# a series run's data keys a forecast does not read: the splits, the windows' stride and batches, the
# baselines and the season they score with, the seed of the training order
UNREAD_SERIES_KEYS = ("stride", "batch_size", "val_batch_multiplier", "val_fraction", "test_fraction", "ets_baseline",
                      "baseline_cache", "season_length", "seed")
