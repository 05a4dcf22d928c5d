"""The forecast of a trained time-series model from the end of each series of its data.

The model sees what it saw in training: the data module's rows (its missing-value policy applied),
scaled with the checkpoint's statistics, in the inputs' order (``input_names``). A window ending
``data.horizon`` rows before the first row to forecast gives the next ``data.steps`` rows; past them
the forecasts, mapped to the data's units and scaled as inputs again, are appended to the series and the
next window read from it (recursive forecasting), which :func:`trainlab.prediction.fit.check_reach`
allows for models whose inputs are their own targets and calendar columns their source computes for any row
(``source.CALENDAR``, ``source.calendar(rows)``: El Niño's month as sin/cos), and for models that read other
inputs (drivers) when ``future=<file>`` gives their values (:mod:`trainlab.prediction.future`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from trainlab.config.errors import UserError
from trainlab.data.timeseries.splits import series_name, series_spans

CHUNK = 4096  # windows per forward pass: a file of 20,000 series in a few batches, each of bounded memory
# standard deviations of the training data (the checkpoint's scaling) from its mean past which a value of a
# series' last window is named: a trend leaves the training range by a few, a file in other units by thousands
FAR = 10.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesForecast:
    """One series' history and forecast, in the data's units.

    Args:
        name: its value of ``data.source.series_column``, None for a file of one series.
        index: its place among the table's series (its grid: ``table.times[index]``).
        history: (rows, targets) its rows as the model read them (gaps filled by ``data.missing``).
        forecast: (horizon, targets) the values after its last row.
    """

    name: Optional[str]
    index: int
    history: np.ndarray
    forecast: np.ndarray


def forecast(model: Any, data: Any, horizon: int, device: torch.device,
             future: Optional[list[np.ndarray]] = None) -> list[SeriesForecast]:
    """``horizon`` rows after the end of every series of ``data`` (a restored TimeSeriesDataModule, set up)
    by ``model`` (its RegressionModule), fed back past :func:`trainlab.prediction.fit.reach` (which
    :func:`~trainlab.prediction.fit.check_reach` allows or refuses first); ``future``: each series' drivers
    after its end (:func:`trainlab.prediction.future.read_future`), where the model reads any."""
    table = data.load()
    spans = [(first, end) for first, _, _, end in series_spans(table, 0.0, 0.0, whole_file=True)]
    inputs = data.datasets["test"].features  # (rows, inputs): the data module's own scaling, the checkpoint's stats
    _check_last_windows(data, table, spans)
    keep = data.window + data.horizon - 1  # the rows a window reads, and those between it and the next row
    histories = [(max(first, end - keep) - first, inputs[max(first, end - keep):end]) for first, end in spans]
    _warn_far_from_training(data, table, [h for _, h in histories])
    values = _blocks(model, data, histories, horizon, device, [end - first for first, end in spans], future)
    # one series picked from a file of several (data.source.series=B) keeps its name: "store=B" -> B
    names = [name for name, _ in table.series_rows] if table.series_rows else [
        table.series.partition("=")[2] if table.series else None]
    return [SeriesForecast(name, i, table.targets[first:end].astype(np.float64), values[i])
            for i, (name, (first, end)) in enumerate(zip(names, spans))]


@torch.inference_mode()
def _blocks(model: Any, data: Any, histories: list[tuple[int, torch.Tensor]], horizon: int, device: torch.device,
            lengths: list[int], future: Optional[list[np.ndarray]]) -> list[np.ndarray]:
    """(horizon, targets) of each series: block after block of ``data.steps`` rows, each from the window
    that ends ``data.horizon`` rows before the block's first row. ``histories``: each series' last rows as
    inputs, and the row of the series (0: its first) they start at; ``lengths``: each series' rows;
    ``future``: each series' drivers after its end."""
    from trainlab.prediction.future import drivers

    targets = data.num_targets
    channels = list(range(data.num_features - targets, data.num_features))  # the past targets, last among the inputs
    mean = torch.as_tensor(data.stats["feature_mean"], dtype=torch.float32)  # (inputs,) the checkpoint's scaling
    std = torch.as_tensor(data.stats["feature_std"], dtype=torch.float32)
    calendar = [data.input_names.index(name) for name in getattr(data.source, "CALENDAR", ())
                if name in data.input_names]  # computed for any row: the source's own function
    known = [data.input_names.index(name) for name in drivers(data)] if future is not None else []
    dtype = next(model.parameters()).dtype
    model.to(device).eval()
    blocks: list[list[torch.Tensor]] = [[] for _ in histories]
    made = 0
    keep = data.window + data.horizon - 1
    while made < horizon:
        ends = [len(h) - data.horizon + 1 for _, h in histories]  # exclusive end of each window
        # (series, window, inputs)
        windows = torch.stack([h[end - data.window:end] for (_, h), end in zip(histories, ends)])
        out = torch.cat([model.to_original_units(model(part.to(device, dtype))).float().cpu()
                         for part in windows.split(CHUNK)])
        out = out.reshape(len(histories), data.steps, targets)  # (series, steps, targets) in the data's units
        for i in range(len(histories)):
            blocks[i].append(out[i])
        made += data.steps
        # the forecast as the next rows' past targets, scaled as inputs are: past fit.reach the next windows read
        # them (fed back, where check_reach allows it); within it they only move the windows on over the data
        if made < horizon:
            grown = [(start, torch.cat([h, _next_rows(data, start + len(h), o, channels, calendar, mean, std,
                                                      _given(future, i, start + len(h) - lengths[i], data.steps),
                                                      known)]))
                     for i, ((start, h), o) in enumerate(zip(histories, out))]
            # only the rows the next windows read are kept: a long horizon copies little
            histories = [(start + len(h) - keep, h[-keep:]) for start, h in grown]
    return [torch.cat(b)[:horizon].double().numpy() for b in blocks]


def _given(future: Optional[list[np.ndarray]], series: int, after: int, steps: int) -> Optional[torch.Tensor]:
    """(steps, drivers) of the series' rows ``after``, ``after + 1``, ... after its end (0: the first) from
    ``future``; rows past what the file had to hold are NaN: no window reads them (see future.rows_read)."""
    if future is None:
        return None
    own = torch.full((steps, future[series].shape[1]), float("nan"))
    given = torch.as_tensor(future[series][after:after + steps], dtype=torch.float32)
    own[:len(given)] = given
    return own


def _next_rows(data: Any, rows: int, forecast: torch.Tensor, channels: list[int], calendar: list[int],
               mean: torch.Tensor, std: torch.Tensor, given: Optional[torch.Tensor] = None,
               known: Sequence[int] = ()) -> torch.Tensor:
    """(steps, inputs) the series' rows ``rows``, ``rows + 1``, ... (0: its first) as inputs: the forecast
    (steps, targets) in the target channels, the source's calendar columns computed for those rows, the drivers
    ``given`` (steps, drivers) in their channels ``known``; scaled with the checkpoint's statistics."""
    made = torch.zeros(len(forecast), len(mean))
    if data.target_inputs:
        made[:, channels] = forecast
    if known:
        made[:, known] = given
    if calendar:
        made[:, calendar] = torch.as_tensor(data.source.calendar(rows + np.arange(len(forecast))), dtype=torch.float32)
    return (made - mean) / std


def _check_last_windows(data: Any, table: Any, spans: list[tuple[int, int]]) -> None:
    """Each series must end in at least one window (+ ``data.horizon`` - 1 rows) of values: rows that
    ``data.missing`` left empty there are refused, naming the row."""
    need = data.window + data.horizon - 1
    for index, (first, end) in enumerate(spans):
        if end - first < need:
            raise UserError(f"{series_name(table, index)} has {end - first} row(s), fewer than the data.window="
                            f"{data.window} + data.horizon={data.horizon} - 1 = {need} the model forecasts from; "
                            "give a longer file")
        empty = np.flatnonzero(data.bad_rows[end - need:end])
        if len(empty):
            raise UserError(f"the last {need} rows of {series_name(table, index)}, which the model forecasts from, "
                            f"lack a value at {table.row_name(end - need + int(empty[0]))} that data.missing="
                            f"{data.missing} (data.max_gap={data.max_gap}) leaves empty; fill it in the file")


def _warn_far_from_training(data: Any, table: Any, windows: list[torch.Tensor]) -> None:
    """One warning naming the series whose last rows (as inputs, in the checkpoint's standard units) lie more
    than :data:`FAR` standard deviations from the training mean: nothing detects a file in other units than
    the run's (kW for W), and the model forecasts from it as if it were the run's."""
    far = [(i, int(torch.argmax(peak)), float(peak.max())) for i, w in enumerate(windows)
           if len(w) and float((peak := w.abs().amax(dim=0)).max()) > FAR]
    if not far:
        return
    i, channel, z = max(far, key=lambda found: found[2])
    log.warning("the last rows of %d series lie more than %g standard deviations of the training data from its mean "
                "(the checkpoint's scaling), e.g. '%s' of %s at %.3g: a file in other units than the run's, or values "
                "the model never saw; read their forecasts with care", len(far), FAR, data.input_names[channel],
                series_name(table, i), z)


def as_frame(forecasts: list[SeriesForecast], table: Any, source: Any) -> Any:
    """forecast.csv's rows: the series (the file's series column), the time (the file's time column, on its
    step and in its zone), ``step`` (1 = the first row after the data) and each target, in the data's units."""
    import pandas as pd

    from trainlab.prediction.calendar import after_end

    horizon = len(forecasts[0].forecast)
    columns: dict[str, Any] = {}
    if forecasts[0].name is not None:
        columns[getattr(source, "series_column", None) or "series"] = np.repeat([f.name for f in forecasts], horizon)
    grids = [table.times[f.index] if table.times is not None else None for f in forecasts]
    times = after_end(grids, horizon, getattr(source, "time_zone", None))
    if times is not None:  # a series without times of its own (no regular step) leaves its cells empty
        columns[getattr(source, "time_column", None) or "timestamp"] = times.to_numpy()
    columns["step"] = np.tile(np.arange(1, horizon + 1), len(forecasts))
    values = np.concatenate([f.forecast for f in forecasts])  # (series x horizon, targets)
    for j, name in enumerate(table.target_names):
        columns[name] = values[:, j]
    return pd.DataFrame(columns)
