"""A file's time column: parsed one way for every row, sorted, and laid on its regular step.

Dates are read with one format for the whole column (``dates``: ISO 8601 first; then month-first and
day-first, refusing a column where both readings work and disagree), with UTC offsets honoured (a series across a
daylight-saving change stays in order). When the sorted times step regularly (a fixed interval, or
whole months, quarters or years), missing steps become empty rows, so that ``data.missing`` treats a
row absent from the file like a row with empty cells; the step also gives the season length: the cycle
series on that step most often follow (steps.step_season: a day for steps of minutes or hours, a week
for days and business days, a year for weeks, months and quarters; none for years).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cache, partial
from typing import Any, Callable, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.layouts import calendar_hint
from trainlab.data.timeseries.dates import NUMBERS, TIME_NUMBERS, numbers_as_dates, parse_dates, read_as_unix, written
from trainlab.data.timeseries.steps import DAY_NS, most_common, step_alias, step_season, step_words
from trainlab.data.timeseries.values import require_columns
from trainlab.data.timeseries.zones import (CLOCK_HINT, calendar_in_local_time, clock_change, in_utc, offset_rows,
                                           refuse_zone_of_numbers)

log = logging.getLogger(__name__)

MAX_FILL = 4  # a grid may hold at most this many times the file's rows; more is not one series with gaps


@dataclass(frozen=True)
class Grid:
    """Where each sorted row sits on the column's regular step: ``positions[i]`` (0 for the first)."""

    positions: np.ndarray
    step: str  # in words, for log lines: "1 day", "1 month", "0 days 00:15:00" ...
    season_length: Optional[int]
    frequency: Optional[str] = None  # a pandas offset alias: "D", "h", "15min", "B", "MS", "3MS" ...
    # each sorted row's time as the file has it (for the span a log line gives): the column's own array,
    # as a tuple a million times cost seconds, one Python object at a time
    written: Any = field(default_factory=lambda: np.empty(0, dtype=object))
    # each sorted row's time as read (naive, UTC where a zone or offsets were read; or numbers): predict.py's start
    times: Any = None

    @property
    def span(self) -> tuple[str, str]:
        """The first and last time, as written in the file."""
        return written(self.written[0]), written(self.written[-1])

    def cut(self, first: int, end: int) -> "Grid":
        """The grid of the steps ``first`` to ``end`` (exclusive) alone: rows trimmed off its ends."""
        keep = (self.positions >= first) & (self.positions < end)
        return replace(self, positions=self.positions[keep] - first, written=self.written[keep],
                       times=None if self.times is None else self.times[keep])


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
        raise UserError(f"{where} has an empty value (row {raw.index[raw.isna()][0]}); every row needs its time")
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


def number_grid(values: np.ndarray) -> Optional[Grid]:
    """Positions of sorted numeric times on their most common step, if every step is a multiple of it."""
    found = _on_step(values)
    if found is None:
        return None
    years = found[1] % 1 == 0 and np.all(values % 1 == 0) and 1000 <= values[0] and values[-1] < 3000
    if years:  # 1871, 1872 ...: whole years, as a column of yearly dates reads
        return Grid(found[0], _in_words(int(found[1]), "year"), None, f"{12 * int(found[1])}MS")
    return Grid(found[0], f"{found[1]:g}", None)


def date_grid(times: Any) -> Optional[Grid]:
    """Positions of sorted datetimes on a fixed interval, business days, whole months, quarters or years, or half
    months."""
    ns = times.to_numpy().astype("datetime64[ns]").astype(np.int64)
    fixed = _on_step(ns)
    # a few quarter ends (Jun 30, Sep 30, Dec 31), month starts (Jul 1, Aug 1, Sep 1) or years (2001-2003) can
    # lie equally many days apart: on one day of their months (or on its last), they are calendar steps
    if fixed is not None and not (fixed[1] >= 28 * DAY_NS and month_anchor(times) is not None):
        positions, step_ns = fixed[0], int(fixed[1])
        if step_ns == DAY_NS and _business_days(times):
            days = times.to_numpy().astype("datetime64[D]")
            return Grid(np.busday_count(days[0], days).astype(np.int64), "1 business day", 5, "B")  # a week
        return Grid(positions, step_words(step_ns), step_season(step_ns), step_alias(step_ns))
    calendar = _calendar_grid(times)
    if calendar is None and fixed is not None:
        step_ns = int(fixed[1])
        return Grid(fixed[0], step_words(step_ns), step_season(step_ns), step_alias(step_ns))
    return _business_months(calendar, times)


def _business_months(grid: Optional[Grid], times: Any) -> Optional[Grid]:
    """``grid`` (of whole months, quarters or years) with its step in words as business months where every time is
    its month's last or first business day (``month_anchor``: "BME", "BMS"; forecasts continue on them,
    trainlab.prediction.calendar): "1 business month (last business day of each)", where "1 month" was said."""
    if grid is None or not (grid.frequency or "").endswith("MS"):
        return grid
    days = times.to_numpy().astype("datetime64[D]")
    day = days - days.astype("datetime64[M]").astype("datetime64[D]")
    last = (days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")
    if not np.is_busday(days).all() or (day == day[0]).all() or last.all():  # calendar days: no business reading
        return grid
    anchor = month_anchor(times)
    if anchor not in ("BME", "BMS"):
        return grid
    count, unit = grid.step.split(" ", 1)
    which = "last" if anchor == "BME" else "first"
    return replace(grid, step=f"{count} business {unit} ({which} business day of each)")


# where in its month a series of whole months puts each time, as pandas' offsets name them: its last day ("ME"), its
# last or first business day ("BME", "BMS": banks', exchanges' and statistics offices' months), or one day of each month
MONTH_ANCHORS = ("ME", "BME", "BMS")
DAY_OF_MONTH = "day"


def month_anchor(times: Any) -> Optional[str]:
    """Where every time falls in its month, at one time of day: on its last day ("ME"), one day of every month, the
    1st or the 15th (:data:`DAY_OF_MONTH`), its last business day ("BME") or its first ("BMS"), each as pandas' offset
    of that name finds it; None otherwise. The calendar's readings come first: month ends or 1sts that all happen to
    be weekdays stay calendar days. The marks of whole months, quarters or years, which can lie equally many days
    apart (quarter ends Jun 30, Sep 30, Dec 31) and are then calendar steps all the same."""
    return month_anchors([times])[0]


def month_anchors(series: Sequence[Any]) -> list[Optional[str]]:
    """:func:`month_anchor` of each of many series' times at once (a file of thousands of monthly series: one pass
    of pandas' offsets over all their times, not one per series)."""
    import pandas as pd

    sizes = np.array([len(times) for times in series], dtype=np.int64)
    if not sizes.all():
        return [None if not n else month_anchor(times) for n, times in zip(sizes, series)]
    stamps = pd.DatetimeIndex(np.concatenate([np.asarray(t).astype("datetime64[ns]") for t in series]))
    days = stamps.normalize()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def every(flags: np.ndarray) -> np.ndarray:  # per series: all its times
        return np.minimum.reduceat(flags.astype(np.int8), starts).astype(bool)

    def one(values: np.ndarray) -> np.ndarray:  # per series: one value in all its times
        return every(values == np.repeat(values[starts], sizes))

    on = {alias: every(days + pd.tseries.frequencies.to_offset(alias) * 0 == days) for alias in MONTH_ANCHORS}
    found = np.select([on["ME"], one(np.asarray(days.day)), on["BME"], on["BMS"]],
                      ["ME", DAY_OF_MONTH, "BME", "BMS"], "")
    return [str(a) or None if clock else None for a, clock in zip(found, one(np.asarray(stamps - days)))]


def _calendar_grid(times: Any) -> Optional[Grid]:
    """Positions of sorted datetimes on whole months, quarters or years."""
    for freq, name, alias, per_year in (("M", "month", "MS", 12), ("Q", "quarter", "QS", 4), ("Y", "year", "YS", 1)):
        ordinals = np.asarray(times.dt.to_period(freq).array.asi8)
        if len(np.unique(ordinals)) < len(ordinals):
            continue  # two rows in one period: not this step
        found = _on_step(ordinals)
        if found is not None:
            k = int(found[1])
            season = per_year // k if per_year % k == 0 and per_year // k > 1 else None
            return Grid(found[0], _in_words(k, name), season, f"{k if k > 1 else ''}{alias}")
    return _half_month_grid(times)


def _half_month_grid(times: Any) -> Optional[Grid]:
    """Positions of sorted datetimes on half months (pay periods, semi-monthly reports): every 1st and 15th
    (pandas' "SMS"), or every 15th and month's last day ("SME"), at one time of day; a year of them, 24."""
    stamps = times.to_numpy().astype("datetime64[ns]")
    days = stamps.astype("datetime64[D]")
    if len(np.unique(stamps - days)) > 1:
        return None
    months = days.astype("datetime64[M]")
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    last = (days + 1).astype("datetime64[M]") != months
    if np.isin(day, (1, 15)).all():
        alias, second = "SMS", day == 15
    elif (last | (day == 15)).all():
        alias, second = "SME", last
    else:
        return None
    halves = months.astype(np.int64) * 2 + second
    found = _on_step(halves) if len(np.unique(halves)) == len(halves) else None
    if found is None or found[1] != 1:
        return None
    return Grid(found[0], "half a month", 24, alias)


def _in_words(count: int, unit: str) -> str:
    """A step of whole months in its largest calendar unit: "1 month", "1 quarter", "2 years"."""
    if unit == "month":
        count, unit = next((count // n, name) for n, name in ((12, "year"), (3, "quarter"), (1, "month"))
                           if count % n == 0)
    return f"{count} {unit}{'s' if count > 1 else ''}"


def _on_step(values: np.ndarray) -> Optional[tuple[np.ndarray, float]]:
    """(positions, step) of sorted values on their most common step, when every step is a multiple of
    it; None otherwise or for under 2 values. Integer values (nanoseconds) are differenced exactly. Two times
    make a step (a series of two rows, or a series of two among longer ones, is on it: not taken as without one,
    which dropped the file's frequency and season length)."""
    if len(values) < 2:
        return None
    diffs = np.diff(values)
    step = most_common(diffs)
    if step <= 0:
        return None
    multiples = diffs / step
    if not np.allclose(multiples, np.round(multiples), rtol=0, atol=1e-6):
        return None
    return np.concatenate([[0], np.cumsum(np.round(multiples))]).astype(np.int64), step


def business_days_alike(grids: list[Optional[Grid]]) -> list[Optional[Grid]]:
    """The series of one file on business days where some step by them ("B") and others, shorter than a week and
    never across a weekend (a share listed on a Monday, four rows), read as days ("D"): those too, on the same
    positions (no weekend lies between their rows); they read as another step, and the file's series had no common
    step, season length or frequency (trainlab.data.timeseries.series.common_step)."""
    if not any(g is not None and g.frequency == "B" for g in grids):
        return grids
    return [_as_business_days(g) if g is not None and g.frequency == "D" and g.times is not None else g for g in grids]


def _as_business_days(grid: Grid) -> Grid:
    days = np.asarray(grid.times).astype("datetime64[D]")
    if not np.is_busday(days).all() or int(np.busday_count(days[0], days[-1] + 1)) != int((days[-1] - days[0]).astype(
            np.int64)) + 1:
        return grid
    return replace(grid, step="1 business day", season_length=5, frequency="B")


def _business_days(times: Any) -> bool:
    """Whether a daily series has no row on a weekend over a span that holds one (trading days): its steps are
    business days, and weekends are not gaps. Four rows from a Thursday to a Tuesday are too (a forecast's
    ``future=`` file of a business-day run: the weekend between them is no gap of 2 days)."""
    days = times.to_numpy().astype("datetime64[D]")
    weekdays = int(np.busday_count(days[0], days[-1] + 1))  # numpy's business days: Monday to Friday
    return weekdays < (days[-1] - days[0]).astype(np.int64) + 1 and bool(np.is_busday(days).all())
