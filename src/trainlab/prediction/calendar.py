"""The times after a series' last row: on the step its time column was read with (a fixed interval,
business days, whole months, quarters or years, or a step of plain numbers), written in the zone its
times were read in (``data.source.time_zone``'s clock, or the offset the file wrote).

A series' times come from its :class:`~trainlab.data.timeseries.times.Grid` as the data module read
them (naive, UTC for steps under a day where a zone or offsets were read, the clock time for days and
longer), so the forecast continues exactly the series the model was trained on.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np

from trainlab.data.timeseries.times import Grid

_CALENDAR = re.compile(r"(\d*)(MS|QS|YS)")
_MONTHS = {"MS": 1, "QS": 3, "YS": 12}
DAY = np.timedelta64(1, "D")


def stepped(grid: Grid, offsets: np.ndarray) -> Any:
    """The times ``offsets`` steps after the grid's first row (0: itself), as the grid's times are: a
    ``DatetimeIndex`` (naive) or an array of numbers."""
    import pandas as pd

    times = grid.times
    if not np.issubdtype(np.asarray(times).dtype, np.datetime64):  # plain numbers (a year, a step count)
        span = int(grid.positions[-1] - grid.positions[0])
        step = (float(times[-1]) - float(times[0])) / span if span else 1.0
        values = float(times[0]) + step * offsets
        return values.astype(np.int64) if np.all(values % 1 == 0) else values
    first = pd.Timestamp(times[0]) - _offset(grid.frequency, int(grid.positions[0]))
    monthly = _CALENDAR.fullmatch(grid.frequency or "")
    if monthly:  # from the first time each: a 31st stays the month's last day (Feb 29, then Mar 31)
        months = int(monthly.group(1) or 1) * _MONTHS[monthly.group(2)]
        return pd.DatetimeIndex([first + pd.DateOffset(months=months * int(k)) for k in offsets])
    if grid.frequency == "B":
        return pd.DatetimeIndex([first + pd.offsets.BDay(int(k)) for k in offsets])
    return pd.DatetimeIndex(first + pd.Timedelta(pd.tseries.frequencies.to_offset(grid.frequency)) * offsets)


def _offset(frequency: Optional[str], count: int) -> Any:
    """``count`` steps of ``frequency`` (the first row sits at position 0 of its grid: nothing)."""
    import pandas as pd

    return pd.Timedelta(0) if count == 0 else pd.tseries.frequencies.to_offset(frequency) * count


def written(times: Any, grid: Grid, zone: Optional[str]) -> Any:
    """``times`` (from :func:`stepped`) as the series writes its own: in ``zone`` (``data.source.time_zone``)
    or the offset of its last row where its steps are under a day and were read in UTC; naive otherwise."""
    import pandas as pd

    if not isinstance(times, pd.DatetimeIndex) or not _under_a_day(grid):
        return times
    if zone is not None:
        return times.tz_localize("UTC").tz_convert(zone)
    last = grid.written[-1]
    try:
        own = pd.Timestamp(last).tz if isinstance(last, (str, pd.Timestamp)) else None
    except ValueError:  # a format pandas reads only with the column's own format: its zone is UTC then
        own = None
    return times.tz_localize("UTC").tz_convert(own) if own is not None else times


def clock(times: Any) -> Any:
    """Times for a plot's axis: zoned ones as their clock time."""
    return times.tz_localize(None) if getattr(times, "tz", None) is not None else times


def _under_a_day(grid: Grid) -> bool:
    """Whether the grid steps by a fixed interval under a day (read in UTC where a zone or offsets were given)."""
    import pandas as pd

    if grid.frequency is None or _CALENDAR.fullmatch(grid.frequency) or grid.frequency == "B":
        return False
    return pd.Timedelta(pd.tseries.frequencies.to_offset(grid.frequency)) < pd.Timedelta(DAY)
