"""Many series of a file sorted by time in one pass, where each is already regular.

A file of many series (``store,date,sales``) is usually the easy case for every series: its dates
step by one fixed interval with none missing or repeated, and its first and last rows hold a target
value. :func:`trainlab.data.timeseries.times.sort_by_time` and the trimming of a series' empty ends
would change nothing for such a series, yet cost several pandas calls each (~0.5-1 ms apiece on
pandas 3): 7.6 ms per series, so 20,000 series took 150 s to read. Here one sort of all the rows
(series, then time) and a few array operations find those series and give each its grid; any other
series (a gap, a repeated time, a month's uneven step, a zone to settle, an empty end) still goes
through the per-series path with its messages, so the result is the same as before, only sooner
(``tests/test_many_series.py`` compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.data.timeseries.grids import Grid, date_grid
from trainlab.data.timeseries.steps import DAY_NS
from trainlab.data.timeseries.times import TimeReading
from trainlab.data.timeseries.zones import HOUR_NS


@dataclass(frozen=True)
class RegularSeries:
    """The pooled rows (series after series) in time order within each series, and which series
    need nothing more: ``order`` takes the pooled rows into that order, ``grids[i]`` is series i's
    grid where it is regular, else None (it goes the per-series way)."""

    order: np.ndarray
    grids: list[Optional[Grid]]

    @property
    def all_regular(self) -> bool:
        return all(grid is not None for grid in self.grids)


def regular_series(reading: TimeReading, written: Any, stretches: Sequence[tuple[int, int]],
                   filled: np.ndarray) -> Optional[RegularSeries]:
    """Which series of the pooled rows are regular, sorted in one pass; None when the time column holds
    numbers (their grid reads years apart) and the per-series path does everything.

    ``reading``: the pooled rows' time column as read once (times.read_times); ``written``: that column
    as the file writes it (an array aligned with the rows); ``stretches``: (first, end) of each series
    in the pooled rows; ``filled``: per pooled row, whether any target holds a value."""
    if reading.is_number:
        return None
    import pandas as pd

    ns = reading.times.to_numpy().astype("datetime64[ns]").astype(np.int64)
    lengths = np.array([end - first for first, end in stretches], dtype=np.int64)
    starts = np.array([first for first, _ in stretches], dtype=np.int64)
    owner = np.repeat(np.arange(len(stretches)), lengths)  # each pooled row's series
    order = np.lexsort((ns, owner))  # stable: by series, then time (ties keep the file's order)
    ns, filled = ns[order], filled[order]
    diffs = np.diff(ns)
    long_enough = lengths >= 2  # a grid needs two times (times._on_step)
    step = np.zeros(len(stretches), dtype=np.int64)
    step[long_enough] = diffs[starts[long_enough]]  # each series' first step
    within = owner[1:] == owner[:-1]  # a difference between two rows of one series
    uneven = np.bincount(owner[1:][within & (diffs != step[owner[1:]])], minlength=len(stretches)) > 0
    ends = starts + lengths - 1
    regular = long_enough & ~uneven & (step > 0) & filled[starts] & filled[np.maximum(ends, 0)]
    # dates a day or more apart written with their zone are read in local time first (zones.
    # calendar_in_local_time): those series go the per-series way
    daily = regular & (step >= DAY_NS - HOUR_NS)
    if daily.any() and reading.zoned():
        regular &= ~daily
    written = written[order]
    templates: dict[int, Optional[Grid]] = {}
    grids: list[Optional[Grid]] = []
    for i in range(len(stretches)):
        if not regular[i]:
            grids.append(None)
            continue
        first, end = int(starts[i]), int(starts[i] + lengths[i])
        # a fixed step's words, season and alias depend on the step alone; one of 28 days or more on the dates
        # too (92 days from Jun 30 are quarter ends, from Jan 1 not: times.date_grid)
        key = int(step[i]) if step[i] < 28 * DAY_NS else i - len(stretches)
        if key not in templates:
            templates[key] = date_grid(pd.Series(ns[first:end].astype("datetime64[ns]")))
        template = templates[key]
        grids.append(None if template is None else
                     replace(template, positions=np.arange(end - first, dtype=np.int64), written=written[first:end],
                                    times=ns[first:end].astype("datetime64[ns]")))
    return RegularSeries(order, grids)
