"""A file's time column: parsed one way for every row, sorted, and laid on its regular step.

Dates are read with one format for the whole column (``dates``: ISO 8601 first; then month-first and
day-first, refusing a column where both readings work and disagree), with UTC offsets honoured (a series across a
daylight-saving change stays in order). When the sorted times step regularly (a fixed interval, or
whole months, quarters or years: the :class:`~trainlab.data.timeseries.grids.Grid` found in ``grids``), missing
steps become empty rows, so that ``data.missing`` treats a row absent from the file like a row with empty cells;
the step also gives the season length: the cycle series on that step most often follow (steps.step_season: a day for steps of minutes or hours, a week
for days and business days, a year for weeks, months and quarters; none for years).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cache, partial
from typing import Any, Callable, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.layouts import calendar_hint
from trainlab.data.timeseries.dates import NUMBERS, TIME_NUMBERS, numbers_as_dates, parse_dates, read_as_unix
from trainlab.data.timeseries.grids import Grid, date_grid, number_grid
from trainlab.data.timeseries.steps import most_common
from trainlab.data.timeseries.values import require_columns
from trainlab.data.timeseries.zones import (CLOCK_HINT, calendar_in_local_time, clock_change, in_utc, offset_rows,
                                           refuse_zone_of_numbers)

log = logging.getLogger(__name__)

MAX_FILL = 4  # a grid may hold at most this many times the file's rows; more is not one series with gaps


def describe_step(grids: list[Optional[Grid]], season: Optional[int], column: str,
                  names: Optional[list[str]] = None) -> Optional[str]:
    """What a run read from its time column, for one log line: "step 1 week from '1958-03-29' to
    '2001-12-29', season length 52"; for several series (``names``: "store=A" ...) their count, the
    shortest and longest and their spans, on their common step; None when the series have no common
    step (sort_by_time and common_step have said so)."""
    grid = grids[0]
    if grid is None or any(g is None or g.step != grid.step for g in grids):
        return None
    if len(grids) == 1:
        where = f" from '{grid.span[0]}' to '{grid.span[1]}'"
    else:
        names = names or [f"series {i + 1}" for i in range(len(grids))]
        steps = [int(g.positions[-1]) + 1 for g in grids]  # missing steps included: the span on the grid

        def spanned(i: int) -> str:
            return f"{names[i]} '{grids[i].span[0]}' to '{grids[i].span[1]}'"

        if min(steps) < max(steps):
            where = (f", {len(grids)} series of {min(steps)} to {max(steps)} steps (shortest "
                     f"{spanned(int(np.argmin(steps)))}, longest {spanned(int(np.argmax(steps)))})")
        else:
            where = f", {len(grids)} series of {steps[0]} steps each (first {spanned(0)}, last {spanned(len(grids) - 1)})"
    return (f"data.source.time_column '{column}': step {grid.step}{where}, "
            + (f"season length {season}" if season else "no season length from the step"))


@dataclass(frozen=True)
class TimeReading:
    """A time column read once (parsed by one reading for all its rows): ``times`` naive UTC datetimes or
    float numbers, aligned with the rows read; ``is_number`` when they stayed numbers. A file of many
    series is read once and each series takes its stretch (:meth:`rows`): one date format for the whole
    file, as the module docstring promises, and not a parse, a format guess and a log line per series."""

    times: Any
    is_number: bool
    zoned_rows: Callable[[], np.ndarray]  # per row: written with its zone; worked out when first asked

    def rows(self, first: int, end: int) -> "TimeReading":
        """The reading of the rows ``first`` to ``end`` (exclusive), renumbered from 0."""
        return TimeReading(self.times.iloc[first:end].reset_index(drop=True), self.is_number,
                           lambda: self.zoned_rows()[first:end])

    def zoned(self) -> bool:
        """Whether any of its rows says its zone (zones.has_offsets)."""
        return bool(self.zoned_rows().any())


def time_where(column: str, path: str) -> str:
    """The time column and file a message is about."""
    return f"data.source.time_column '{column}' in '{path}'"


def read_times(raw: Any, where: str, time_format: Optional[str] = None) -> TimeReading:
    """``raw`` (a time column) read as numbers or dates, one reading for every row; every problem is one
    line naming the fix (``where`` names the column and file)."""
    import pandas as pd

    if raw.isna().any():
        empty = raw.isna().to_numpy()
        trailing = int(len(empty) - np.flatnonzero(~empty)[-1] - 1) if (~empty).any() else 0
        under = (f": the last {trailing} row(s) have none, rows under the data (a total, an average, a note)? delete "
                 "them from the file") if trailing and trailing == int(empty.sum()) else ""
        raise UserError(f"{where} has an empty value (row {raw.index[empty][0]}); every row needs its time{under}")
    is_number = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    if time_format == NUMBERS and not is_number:
        raise UserError(f"data.source.time_format={NUMBERS} keeps a column of numbers as numbers, but {where} holds "
                        f"text (row {raw.index[0]}: '{raw.iloc[0]}'); drop the format (null reads dates), or give "
                        "their format")
    if time_format in TIME_NUMBERS and not is_number:  # numbers by nature (pandas reads a column of numbers as such)
        row = raw.index[pd.to_numeric(raw, errors="coerce").isna()][0]
        raise UserError(f"data.source.time_format={time_format} reads numbers ({TIME_NUMBERS[time_format]}), but {where} "
                        f"holds text (row {row}: '{raw[row]}'); drop the format (null reads dates written as text), or "
                        "give their strftime codes (e.g. %d/%m/%Y)")
    dates = numbers_as_dates(raw, where, time_format) if is_number else None
    if dates is not None:
        times, is_number = dates, False
        if not read_as_unix(raw, time_format):  # spreadsheet serial dates, YYYYMMDD, strftime codes: clock times, no zone
            return TimeReading(times, False, lambda: np.zeros(len(raw), dtype=bool))
    elif is_number:
        times = raw.astype(np.float64)
    elif pd.api.types.is_datetime64_any_dtype(raw):  # e.g. a Parquet timestamp column
        times = pd.to_datetime(raw, utc=True).dt.tz_localize(None)
    else:
        times = parse_dates(raw, where, time_format)
    return TimeReading(times, is_number, cache(partial(offset_rows, raw)))


def sort_by_time(frame: Any, column: str, path: str, time_format: Optional[str] = None,
                 duplicates_hint: Optional[Callable[[Any, Any], str]] = None,
                 time_zone: Optional[str] = None, reading: Optional[TimeReading] = None,
                 ) -> tuple[Any, Optional[Grid]]:
    """Rows sorted by ``column`` (numbers or dates), which is then dropped, with missing steps added as
    empty rows; also the column's regular step (its season length and frequency), or None. Every
    problem is one line naming the fix; for repeated times, ``duplicates_hint(frame, times)`` may
    give it (several series in one file: trainlab.data.timeseries.series). ``time_zone``: dates
    without offsets are that zone's clock times (trainlab.data.timeseries.zones). ``reading``: the
    column already read (:func:`read_times`, aligned with ``frame``'s rows), as for one series of a
    file read once; the zone is still settled per series (it depends on each series' own step)."""
    require_columns(frame, [column], path, "data.source.time_column", one=True)
    raw = frame[column]
    where = time_where(column, path)
    reading = reading or read_times(raw, where, time_format)
    times, is_number = reading.times, reading.is_number
    if time_zone is not None and is_number:  # years or steps: no clock to read in a zone
        refuse_zone_of_numbers(times, time_zone, where)
    if time_zone is not None:
        times = in_utc(times, raw, time_zone, where, zoned=reading.zoned)
    elif not is_number:
        times = calendar_in_local_time(times, raw, partial(parse_dates, where=where, time_format=time_format),
                                       zoned=reading.zoned)
    again = times.duplicated()  # each time seen before (once per series: thousands of series add it up)
    if again.any():  # no repeated time, no repeated row: the costly whole-row check only then
        repeated = frame.drop(columns=[column]).assign(__time__=times.to_numpy()).duplicated().to_numpy()
        if repeated.any():  # a row exported twice (same time, same values): nothing to choose between
            log.info("%s: %d row(s) repeat an earlier row exactly (first '%s'); left out", where,
                     int(repeated.sum()), raw[repeated].iloc[0])
            frame, raw, times = frame[~repeated], raw[~repeated], times[~repeated]
            again = times.duplicated()
    clock = not is_number and time_zone is None and clock_change(times.sort_values())
    duplicated = times[again]
    if len(duplicated):
        fix = (CLOCK_HINT if clock else calendar_hint(frame, column, times)
               or (duplicates_hint(frame, times) if duplicates_hint else ""))
        raise UserError(f"{where} has {len(duplicated)} duplicated time(s) (first '{raw[duplicated.index[0]]}'); "
                        f"{fix or 'keep one row per time step (aggregate or drop the duplicates) before training'}")
    order = times.argsort(kind="stable").to_numpy()
    rows = frame.iloc[order].drop(columns=[column]).reset_index(drop=True)
    ordered = times.iloc[order].reset_index(drop=True)
    grid = number_grid(ordered.to_numpy()) if is_number else date_grid(ordered)
    if grid is not None:
        grid = replace(grid, written=raw.array[order], times=ordered.to_numpy())
    if grid is None:
        log.info("%s: no regular step between its times; rows are taken as consecutive steps", where)
        return rows, None
    size = int(grid.positions[-1]) + 1
    if size > MAX_FILL * len(rows):
        pieced = _pieced(times, raw, where) if not is_number else None
        if pieced is not None:
            return frame.drop(columns=[column]).reset_index(drop=True), pieced
        log.warning("%s: on its step of %s the rows would span %d steps, %d of them missing; rows are taken as "
                    "consecutive steps instead", where, grid.step, size, size - len(rows))
        return rows, None
    if size > len(rows):
        starts = np.flatnonzero(np.diff(grid.positions) > 1)
        log.info("%s: %d missing time step(s) (step %s) in %d gap(s), first after '%s'; added as empty rows, "
                 "for data.missing to handle%s", where, size - len(rows), grid.step, len(starts),
                 raw.iloc[order[starts[0]]], f" ({CLOCK_HINT})" if clock else "")
        rows.index = grid.positions
        rows = rows.reindex(range(size))
    return rows, grid


def _pieced(times: Any, raw: Any, where: str) -> Optional[Grid]:
    """The grid of a file pieced together from stretches of different periods, in its own order (a
    typical meteorological year: each month from another year, as pvlib's TMY3 files are): its times
    in file order step regularly but for a few jumps (one in a hundred steps at most) and do not
    ascend, so sorting would shuffle the stretches. Logged; None for any other file."""
    import pandas as pd

    ns = times.to_numpy().astype("datetime64[ns]").astype(np.int64)
    diffs = np.diff(ns)
    step = most_common(diffs) if len(diffs) else 0
    jumps = np.flatnonzero(diffs != step)
    if step <= 0 or (diffs >= 0).all() or len(jumps) > max(1, len(diffs) // 100):
        return None
    grid = date_grid(pd.Series(pd.date_range(times.iloc[0], periods=len(times), freq=pd.Timedelta(int(step)))))
    log.warning("%s: the rows step by %s in file order but for %d jump(s) between stretches of different periods "
                "(first '%s' -> '%s', as in a typical meteorological year); kept in file order as consecutive steps",
                where, grid.step, len(jumps), raw.iloc[jumps[0]], raw.iloc[jumps[0] + 1])
    return replace(grid, written=raw.array, times=times.to_numpy())
