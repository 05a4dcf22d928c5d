"""Whether the windows fit the data: window, horizon, steps, season and the ETS baseline against the
rows of the shortest series, refused before anything trains with one line naming the keys; and how
many rows ``split=all`` leaves before each series' first scored window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries import baselines
from trainlab.data.timeseries.splits import series_name, shortest_training, split_rows
from trainlab.data.timeseries.table import SeriesTable

if TYPE_CHECKING:
    from trainlab.data.timeseries.module import TimeSeriesDataModule


def size_refusal(data: TimeSeriesDataModule) -> Optional[UserError]:
    """Why the windows do not fit the rows (a series shorter than one window; :func:`check_fits`: the window, the
    steps and the season against the training rows), or None; the data module's ``setup`` raises it."""
    table = data.table
    spans = data._spans(table)
    sizes = [end - first for first, _, _, end in spans]
    if data.window + data.horizon > min(sizes) and not data.whole_file:  # split=all: check_fits says it
        return UserError(f"{series_name(table, int(np.argmin(sizes)))} has {min(sizes)} row(s), fewer than "
                         f"one window of data.window={data.window} + data.horizon={data.horizon}{needed(data)}; use "
                         f"a shorter window or horizon, or more data"
                         f"{longer_series(table, sizes, data.window + data.horizon)}")
    try:
        check_fits(data, *shortest_training(table, spans))
    except UserError as refusal:
        return refusal
    return None


def check_fits(data: TimeSeriesDataModule, train_end: int, where: str) -> None:
    """Window, horizon, steps and season must fit the training rows (of the shortest series,
    ``where``): one line naming the keys."""
    span = data.window + data.horizon + data.steps - 1
    if data.whole_file:  # nothing trains: one window to score is enough, and the ETS fit takes every row
        _check_whole_file(data, span, train_end, where)
        return
    if span >= train_end:
        raise UserError(
            f"the training split of {where} ({train_end} rows) holds no window of data.window="
            f"{data.window} + data.horizon={data.horizon} + data.steps={data.steps} - 1 = {span} rows{needed(data)}; "
            f"shorten them or give more data{longer_series(data.table)}")
    season = data.season_length
    if season and 2 * season > train_end:
        raise UserError(f"data.season_length={season} needs two cycles ({2 * season} rows) in the {train_end} "
                        f"training rows of {where}; give a shorter season, 0 (none), null (the "
                        "data's own where it fits), or more data")
    if data.ets_baseline:
        baselines.check_ets_rows(train_end, season)


def rows_needed(data: TimeSeriesDataModule) -> Optional[int]:
    """The fewest rows a series needs for a window in each of its training, validation and test splits (as
    :func:`check_fits` and the data module's windows count them: more training rows than one window spans, and
    ``data.steps`` target rows in each of the others); None where no count does (a fraction of 0)."""
    span = data.window + data.horizon + data.steps - 1
    val, test = data.val_fraction, data.test_fraction
    if min(val, test) <= 0 or val + test >= 1:
        return None
    # no fewer rows can do (each share rounds by half a row at most: the training rows are at least rows x (1 - val
    # - test) - 1, a share of steps rows needs rows x share >= steps - 1/2); from there the first that does, counted
    start = max(span + 1, int(max(span / (1 - val - test), (data.steps - 0.5) / min(val, test))))
    for rows in range(start, start + 1000):
        train_end, val_end = split_rows(rows, val, test)
        if train_end > span and min(val_end - train_end, rows - val_end) >= data.steps:
            return rows
    return None


def needed(data: TimeSeriesDataModule) -> str:
    """The words naming :func:`rows_needed` for a refusal of too few rows ('' where no count does)."""
    rows = rows_needed(data)
    # no key named: evaluate.py offers the first data.<key> a refusal names as the one to set (here the file)
    return "" if rows is None else (f" (a series needs at least {rows} rows: a window in each of its training, "
                                    "validation and test splits)")


def _check_whole_file(data: TimeSeriesDataModule, span: int, rows: int, where: str) -> None:
    """split=all: the shortest series (``where``, ``rows`` rows) must hold one whole window (its targets
    too), and the ETS fit, when it runs, its rows; predict.py's forecast (``data.forecasting``) reads no target
    row, so the last window and the ``data.horizon`` - 1 rows after it are enough."""
    season, before = data.season_length, lead_in(data)
    if data.forecasting:  # no target row is read: the last window alone, ending data.horizon rows before the first forecast
        need = data.window + data.horizon - 1
        if rows < need:
            raise UserError(f"{where} has {rows} rows, fewer than the data.window={data.window} + data.horizon="
                            f"{data.horizon} - 1 = {need} predict.py forecasts from (the last window, ending "
                            f"data.horizon={data.horizon} row(s) before the first row after the data); give a longer "
                            f"file{longer_series(data.table)}")
        return
    if span + before > rows:
        seasonal = f" after the first {before} (the seasonal naive's season before its first window)" if before else ""
        raise UserError(f"split=all: {where} has {rows} rows, fewer than one window of data.window={data.window} + "
                        f"data.horizon={data.horizon} + data.steps={data.steps} - 1 = {span} rows{seasonal}, so "
                        f"there is nothing to score; give a longer file{longer_series(data.table)}")
    need = baselines.ets_min_rows(season)
    if data.ets_baseline and rows < need:
        raise UserError(f"split=all: the ETS baseline is fit on the file's own rows and needs {need}"
                        f"{f' with data.season_length={season}' if season else ''}, {where} has {rows}; give a "
                        "longer file, or leave that baseline out: data.ets_baseline=false")


def lead_in(data: TimeSeriesDataModule) -> int:
    """split=all: rows of each series before its first scored window, so that the seasonal naive of
    that window has a season of the series before it (0 when the window is as long as the season)."""
    return max(0, (data.season_length or 0) - data.window) if data.whole_file and not data.forecasting else 0


KEPT_LISTED = 10  # series a fix names one by one in data.source.series=[...]; more are counted


def longer_series(table: Optional[SeriesTable], sizes: Optional[list[int]] = None, need: int = 0) -> str:
    """The other fix for too few rows when they are one series of a file of several; with each series'
    ``sizes`` (rows) and the rows it ``need``s, how many are short and the pick that leaves them out."""
    picked = table.series if table is not None else None
    if picked and table.series_rows and sizes is not None and len(sizes) == len(table.series_rows):
        import shlex

        from trainlab.config.spelling import grammar_value

        kept = [str(name) for (name, _), size in zip(table.series_rows, sizes) if size >= need]
        short = len(sizes) - len(kept)
        if kept and len(kept) <= KEPT_LISTED:
            pick = "data.source.series=[" + ",".join(grammar_value(name) for name in kept) + "]"
            return f", or leave the {short} short series out: {shlex.quote(pick)}"
        if kept:
            return (f", or leave the {short} short series out of data.source.series (a list of the {len(kept)} "
                    "others)")
    if picked and table.series_rows:
        return ", or leave the short series out of data.source.series"
    return f", or pick a longer series than {picked} (data.source.series)" if picked else ""
