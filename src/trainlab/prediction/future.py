"""The values after the data's end of inputs nobody can compute (drivers: a temperature, a planned promotion),
given by the user for the forecast's rows: ``future=<file>``.

The file is read as the run's data are (:class:`~trainlab.data.timeseries.sources.TableFile`: the same file
formats, time column, time format and zone, series column; scaled with the checkpoint's statistics by the
forecast), holding the time column, the series column of a file of several series, and every driver. Each
series' rows must start at the step after its last row and follow it without a gap for as many rows as the
forecast's windows read (:func:`rows_read`); a series without a time column takes the file's rows in order.
Refused in one line each: a driver column missing, a series missing, rows that start elsewhere or on another
step, a gap or an empty cell among the rows read, too few rows, a value that is no number.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import Any, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data import categories
from trainlab.data.timeseries.sources import TableFile
from trainlab.data.timeseries.table import name_row
from trainlab.data.timeseries.values import numeric_columns

log = logging.getLogger(__name__)


def drivers(data: Any) -> list[str]:
    """The model's inputs whose values after the data's end are unknown: neither its targets fed back (with
    ``data.target_inputs``) nor calendar columns its source computes for any row (``source.CALENDAR``)."""
    targets = set(data.load().target_names)
    calendar = set(getattr(data.source, "CALENDAR", ()))
    return [name for name in data.input_names if (not data.target_inputs or name not in targets)
            and name not in calendar]


def driver_columns(data: Any) -> list[str]:
    """The file's columns the :func:`drivers` come from: a category column once for its 0/1 inputs (``day_type`` for
    ``day_type=holiday``, ``day_type=weekday``), as a ``future=`` file holds them."""
    return categories.raw_columns(drivers(data), getattr(data, "encoding", None) or {})


def rows_read(data: Any, horizon: int) -> int:
    """Rows after the data's end whose inputs the forecast reads: its last block of ``data.steps`` rows starts
    ``data.steps`` x (ceil(horizon / data.steps) - 1) rows after the end and its window ends ``data.horizon``
    rows before that; 0 within :func:`trainlab.prediction.fit.reach`."""
    return max(0, data.steps * (-(-horizon // data.steps) - 1) - data.horizon + 1)


class FutureFile(TableFile):
    """The run's :class:`TableFile` reading ``future=<file>``: the drivers as its columns, every row kept (a gap
    stays an empty row, found by :func:`read_future`), its own refusals naming ``future``."""

    KEY = "future"  # a folder, a missing or an unreadable file: named as the user gave it (was data.source.path)
    SHEET_KEY = "sheet"  # predict.py's sheet=: the sheet of a workbook given as future=
    encoding: categories.Encoding = {}  # the run's category columns among the drivers: read as codes (categories.codes)

    def _read(self, path: str, key: str) -> Any:
        """The file's frame, each category column of the run as numbers in the run's categories (categories.codes),
        so that it is read, sorted and checked as a driver of numbers is."""
        frame = super()._read(path, key)
        for column, known in self.encoding.items():
            if column in frame.columns:
                frame[column] = categories.codes(frame[column], known, f"future={self.path}")
        return frame

    def _require_columns(self, frame: Any, target_frame: Any) -> None:
        columns = [str(c) for c in frame.columns]
        wanted = [c for c in (None if self.time_parts else self.time_column, self.series_column) if c]
        wanted += list(self.time_parts or ())
        missing = [c for c in [*wanted, *self.target_columns] if c not in columns]
        if missing:
            raise UserError(f"future={self.path} lacks column(s) {missing}; it holds the rows after the data's end: "
                            f"{'the time column, ' if self.time_column else ''}"
                            f"{'the series column, ' if self.series_column else ''}and every input the model reads "
                            f"besides its targets and calendar, {self.target_columns} (its columns are {columns})")
        try:
            numeric_columns(frame, self.target_columns, self.path, "target", allow_missing=True,
                            codes=not self.saved_kinds)
        except UserError as exc:
            said = str(exc).split("; ")[0]  # "column 'x' in 'f.csv' is not numeric (row 3: 'abc')"
            raise UserError(f"future={self.path}: {said}; give the inputs' values after the data's end as numbers, "
                            "in the units of the run's data") from None

    def _sorted(self, frame: Any, target_frame: Any, value: Any, reading: Any = None,
                target_reading: Any = None) -> tuple[Any, Any, Any]:
        """As the run's; a series without a step of its own (one or two rows, too few for times.date_grid; times on
        no regular step, such as a Wednesday, a Friday and a Monday) keeps its times, read as the run's are, so that
        read_future checks them on the data's step (they were fed as consecutive rows without a look)."""
        raw = frame[self.time_column] if self.time_column in frame.columns else None
        frame, target_frame, grid = super()._sorted(frame, target_frame, value, reading, target_reading)
        if grid is not None or raw is None or not len(raw):
            return frame, target_frame, grid
        return frame, target_frame, _stepless_times(raw.reset_index(drop=True), self, reading)

    def _in_time_order(self, *args: Any) -> tuple[Any, Any, list[Any], list[int]]:
        """As the run's, but a series of two rows takes no step of its own from them (the data do: two times are
        one step there, times._on_step): its step is the data's, on which read_future checks its rows (two days
        apart are a gap in daily data, not a step of 2 days)."""
        frame, target_frame, grids, lengths = super()._in_time_order(*args)
        return frame, target_frame, [_two_times(grid) for grid in grids], lengths

    def _trimmed(self, frame: Any, target_frame: Any, grid: Any, value: Any) -> tuple[Any, Any, Any]:
        return frame, target_frame, grid  # empty rows at either end are refused by read_future, not left out


def _two_times(grid: Any) -> Any:
    """A grid read from two times as :func:`_stepless_times` gives one: the dates without a step, numbers none."""
    if grid is None or len(grid.positions) > 2:
        return grid
    if grid.times is None or not np.issubdtype(np.asarray(grid.times).dtype, np.datetime64):
        return None
    return replace(grid, step="", season_length=None, frequency=None)


def _stepless_times(raw: Any, source: TableFile, reading: Any) -> Any:
    """The times of a series without a step of its own (one or two rows, or times on no regular step), as
    sort_by_time reads a stepped one's (naive UTC under a zone, clock times otherwise), in a Grid without a step;
    None for numbers."""
    from functools import partial

    from trainlab.data.timeseries.dates import parse_dates
    from trainlab.data.timeseries.grids import Grid
    from trainlab.data.timeseries.times import read_times, time_where
    from trainlab.data.timeseries.zones import calendar_in_local_time, in_utc

    where = time_where(source.time_column, source.path)
    reading = reading or read_times(raw, where, source.time_format)
    if reading.is_number:
        return None
    times = reading.times.reset_index(drop=True)
    if source.time_zone is not None:
        times = in_utc(times, raw, source.time_zone, where, zoned=reading.zoned)
    else:
        times = calendar_in_local_time(times, raw, partial(parse_dates, where=where, time_format=source.time_format),
                                       zoned=reading.zoned)
    order = np.argsort(times.to_numpy(), kind="stable")
    return Grid(np.arange(len(raw)), "", None, None, written=raw.array[order], times=times.to_numpy()[order])


def reader(path: str, source: Any, names: list[str], encoding: Optional[categories.Encoding] = None,
           sheet: Any = None) -> TableFile:
    """The run's source reading ``path`` with ``names`` as its columns, those of ``encoding`` (the run's category
    columns) as codes of its categories; a source of no file (the generator) reads the file's rows in order, without
    a time column."""
    if not isinstance(source, TableFile):
        made = FutureFile(path, names, sheet=sheet)
    else:
        time_column = source.time_parts or source.time_column
        made = FutureFile(path, names, feature_columns=[], time_column=time_column, time_format=source.time_format,
                          series_column=source.series_column, layout=None if source.layout == "wide" else source.layout,
                          time_zone=source.time_zone, sheet=sheet)
    made.encoding = {c: list(v) for c, v in (encoding or {}).items() if c in names}
    made.saved_kinds = True  # the run's other drivers were numbers: '4G' 4 in the unit 'G' (categories.read_by)
    return made


def read_future(path: str, data: Any, horizon: int, sheet: Any = None) -> list[np.ndarray]:
    """(rows, drivers) of every series of ``data`` (a loaded TimeSeriesDataModule), in its order: the drivers'
    values of the :func:`rows_read` rows after its end, in the data's units, the columns in input order (a category
    column of the run as its 0/1 inputs, in the run's categories)."""
    from trainlab.prediction.calendar import after_end, stepped

    inputs, need, table = drivers(data), rows_read(data, horizon), data.load()
    encoding = getattr(data, "encoding", None) or {}
    names = driver_columns(data)  # the file's columns: day_type for day_type=holiday, ...
    future = reader(path, data.source, names, encoding, sheet).load()
    own = _series_names(table)
    theirs = _series_names(future)
    if own != [None] and theirs == [None]:
        theirs = own[:1]  # one series of a file that lacks the others: refused below, by name
    place = {name: j for j, name in enumerate(theirs)}  # by name: a file of 20,000 series, no list search each
    missing = [name for name in own if name not in place]
    if missing:
        raise UserError(f"future={path} has no rows of series {', '.join(map(str, missing[:5]))}"
                        f"{' ...' if len(missing) > 5 else ''}; give the rows after the data's end of every series "
                        "forecast, or forecast fewer (+data.source.series=[...])")
    known = set(own)
    extra = [name for name in theirs if name not in known]
    if extra:
        log.info("future=%s: the rows of %d series the data do not hold are not read (%s)", path, len(extra),
                 ", ".join(map(str, extra[:3])))
    ends = np.cumsum([n for _, n in future.series_rows]) if future.series_rows else np.array([len(future.targets)])
    zone = getattr(data.source, "time_zone", None)
    out = []
    for i, name in enumerate(own):
        j = place[name]
        first, end = int(ends[j - 1]) if j else 0, int(ends[j])
        where = f"series {name}" if name is not None else "the file"  # what starts, steps, lacks a value
        grid = table.times[i] if table.times is not None else None
        theirs_grid = future.times[j] if future.times is not None else None
        values, row_name = future.targets[first:end], lambda row, first=first: future.row_name(first + row)
        if grid is not None and grid.times is not None and theirs_grid is not None and theirs_grid.times is not None:
            placed = _on_the_datas_step(grid, theirs_grid, values, need)
            if placed is not None:  # a few rows whose own step reads otherwise (a Thursday to a Tuesday: 'D')
                values, theirs_grid = placed
                row_name = partial(name_row, times=(theirs_grid,),
                                   series_rows=None if name is None else [(name, len(values))])
            if theirs_grid.frequency and grid.frequency and theirs_grid.frequency != grid.frequency:
                raise UserError(f"future={path}: {where} steps by {theirs_grid.frequency}, the data by "
                                f"{grid.frequency}; give its rows on the data's step")
            expected = stepped(grid, [int(grid.positions[-1]) + 1])[0]
            if theirs_grid.frequency is None and grid.frequency is not None and theirs_grid.times[0] == expected:
                ahead = stepped(grid, int(grid.positions[-1]) + 1 + np.arange(len(theirs_grid.times)))
                if not np.array_equal(np.asarray(ahead), np.asarray(theirs_grid.times)):  # a gap, an other step
                    shown = [str(w) for w in theirs_grid.written[:4]] + ["..."] * (len(theirs_grid.written) > 4)
                    raise UserError(f"future={path}: {where} holds {', '.join(shown)}, not "
                                    f"consecutive steps of the data's {grid.step}; give its rows one step apart")
            if theirs_grid.times[0] != expected:
                next_time = _as_written(after_end([grid], 1, zone), grid, zone)
                raise UserError(f"future={path}: {where} starts at {theirs_grid.written[0]}, but the data"
                                f"{f' of {name}' if name is not None else ''} end at {grid.written[-1]}: its first "
                                f"row is the step after the data's last, {next_time}; give the rows from there on")
        if len(values) < need:
            ahead = f" and data.horizon={data.horizon} row(s) ahead" if data.horizon > 1 else ""
            of = f" of series {name}" if name is not None else ""
            raise UserError(f"future={path} has {len(values)} row(s){of} after the data's end; horizon={horizon} "
                            f"reads the inputs of the first {need} (data.steps={data.steps} row(s) per forecast"
                            f"{ahead}: the last window ends {data.horizon} row(s) before the last block of "
                            f"data.steps rows); give {need} rows or more, or a shorter horizon")
        empty = np.argwhere(np.isnan(values[:need]))
        if len(empty):
            row, column = (int(k) for k in empty[0])
            raise UserError(f"future={path}: {names[column]} has no value at {row_name(row)}, one of "
                            f"the {need} row(s) after the data's end that horizon={horizon} reads; fill it (a missing "
                            "time step: add its row)")
        out.append(categories.expand(values[:need].astype(np.float64), names, inputs, encoding))
    return out


def _on_the_datas_step(grid: Any, theirs: Any, values: np.ndarray, need: int) -> Optional[tuple[np.ndarray, Any]]:
    """(values, grid) of a future file's series laid on the data's own step after its end, where that step explains
    its times with no more missing steps than the file's own reading (three business days from a Wednesday to a
    Friday read alone as days: 'D'), or the file's times have no step of their own (a Wednesday, a Friday and a
    Monday: a missing step then); None where the file's own reading is the data's, or explains them better (every
    other day: 2D, refused), or a time lies between the data's steps."""
    from trainlab.prediction.calendar import stepped

    if grid.frequency is None or theirs.frequency == grid.frequency or (theirs.frequency is None
                                                                        and len(theirs.times) < 3):
        return None  # one or two rows: read_future checks that they are consecutive
    ahead = np.asarray(stepped(grid, int(grid.positions[-1]) + 1 + np.arange(len(theirs.times) + need)))
    times = np.asarray(theirs.times)
    read = times <= ahead[-1]  # later rows are not read
    slots = np.searchsorted(ahead, times[read])
    if not read.any() or not np.array_equal(ahead[slots], times[read]):
        return None
    if theirs.frequency is not None and \
            int(slots[-1]) + 1 - len(slots) > int(theirs.positions[-1]) + 1 - len(theirs.positions):
        return None
    placed = np.full((int(slots[-1]) + 1, values.shape[1]), np.nan)
    placed[slots] = values[np.asarray(theirs.positions)[read]]
    return placed, replace(theirs, positions=slots.astype(np.int64), written=theirs.written[read], times=times[read],
                           frequency=grid.frequency)


def _series_names(table: Any) -> list[Optional[str]]:
    """Each series' name (its value of the series column), None for a table of one series not picked by name."""
    if table.series_rows:
        return [name for name, _ in table.series_rows]
    return [table.series.partition("=")[2] if table.series else None]


def _as_written(times: Any, grid: Any, zone: Optional[str] = None) -> str:
    """The first of ``times`` (a pandas Series of the steps after ``grid``'s series) for a message: as the file writes
    its times (``2020Q2`` after ``2020Q1``, as forecast.csv writes them: calendar.as_written), else a date alone where
    it is midnight without a zone (a day, a month)."""
    import pandas as pd

    from trainlab.prediction.calendar import as_written

    written = as_written(times, [grid], zone).iloc[0]
    if isinstance(written, str):
        return written
    time = times.iloc[0]
    if isinstance(time, pd.Timestamp) and time.tz is None and time == time.normalize():
        return str(time.date())
    return str(time)
