"""A time column's regular step: where each sorted time sits on a fixed interval, business days, whole months,
quarters or years, or half months (:class:`Grid`), and the season length that step implies
(steps.step_season). :mod:`trainlab.data.timeseries.times` reads and sorts the column and lays it on the grid found
here; the forecast's calendar continues it (trainlab.prediction.calendar).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.data.timeseries.dates import written
from trainlab.data.timeseries.steps import DAY_NS, most_common, step_alias, step_season, step_words

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
