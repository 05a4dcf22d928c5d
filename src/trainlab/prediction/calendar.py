"""The times after a series' last row: on the step its time column was read with (a fixed interval,
business days, whole months, quarters or years, or a step of plain numbers), written in the zone its
times were read in (``data.source.time_zone``'s clock, or the offset the file wrote).

A series' times come from its :class:`~trainlab.data.timeseries.grids.Grid` as the data module read
them (naive, UTC for steps under a day where a zone or offsets were read, the clock time for days and
longer), so the forecast continues exactly the series the model was trained on. Computed with numpy for
all series of a step at once: a file of thousands of series takes one pass, not one per series.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.data.timeseries.dates import COMMA_FRACTION
from trainlab.data.timeseries.grids import MONTH_ANCHORS, Grid, month_anchors

_CALENDAR = re.compile(r"(\d*)(MS|QS|YS)")
_MONTHS = {"MS": 1, "QS": 3, "YS": 12}
HALF_MONTHS = ("SMS", "SME")  # half months: times.date_grid
DAY = np.timedelta64(1, "D")


def stepped(grid: Grid, offsets: np.ndarray) -> Any:
    """The times ``offsets`` steps after the grid's first row (0: itself), as the grid's times are: a
    ``DatetimeIndex`` (naive) or an array of numbers."""
    import pandas as pd

    offsets = np.asarray(offsets, dtype=np.int64)
    made = _steps([grid] * len(offsets), grid.frequency, offsets)
    return pd.DatetimeIndex(made) if np.issubdtype(made.dtype, np.datetime64) else made


def _steps(grids: Sequence[Grid], frequency: Optional[str], offsets: np.ndarray) -> np.ndarray:
    """Per (grid, offset) pair, the time ``offset`` steps after the grid's first row; grids of one step."""
    import pandas as pd

    first = np.array([g.times[0] for g in grids])
    offsets = offsets - np.array([int(g.positions[0]) for g in grids])  # counted from the first row's place
    if not np.issubdtype(first.dtype, np.datetime64):  # plain numbers (a year, a step count)
        spans = np.array([max(int(g.positions[-1] - g.positions[0]), 1) for g in grids])
        step = np.array([float(g.times[-1]) - float(g.times[0]) for g in grids]) / spans
        values = first.astype(np.float64) + step * offsets
        return values.astype(np.int64) if np.all(values % 1 == 0) else values
    first = first.astype("datetime64[ns]")
    day = first.astype("datetime64[D]")
    clock = first - day  # the time of day, kept
    monthly = _CALENDAR.fullmatch(frequency or "")
    if monthly:  # from the first time each: a 31st stays the month's last day (Feb 29, then Mar 31), as pandas' DateOffset
        start = first.astype("datetime64[M]") + offsets * int(monthly.group(1) or 1) * _MONTHS[monthly.group(2)]
        length = (start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")
        into = np.minimum(day - first.astype("datetime64[M]").astype("datetime64[D]"), length - DAY)
        made = start.astype("datetime64[D]") + into
        # month ends from Apr 30 go on to Jan 31, not 30; the last (first) business days of months to the next one's
        own = {id(g): g for g in grids}
        anchors = dict(zip(own, month_anchors([g.times for g in own.values()])))
        anchor = np.array([anchors[id(g)] or "" for g in grids])
        for alias in MONTH_ANCHORS:
            rows = anchor == alias
            if rows.any():  # the month's first day rolled onto the anchor by pandas' offset of that name
                firsts = pd.DatetimeIndex(start[rows].astype("datetime64[D]").astype("datetime64[ns]"))
                made[rows] = (firsts + pd.tseries.frequencies.to_offset(alias) * 0).to_numpy().astype("datetime64[D]")
        return made + clock
    if frequency in HALF_MONTHS:  # the 1st and 15th (SMS), or the 15th and the month's last day (SME)
        months = first.astype("datetime64[M]")
        into = day - months.astype("datetime64[D]")
        second = into >= np.timedelta64(14, "D") if frequency == "SMS" else (day + 1).astype("datetime64[M]") != months
        halves = second.astype(np.int64) + offsets
        start = (months + halves // 2).astype("datetime64[D]")
        later = start + 14 if frequency == "SMS" else (start.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
        return np.where(halves % 2 == 1, later, start if frequency == "SMS" else start + 14) + clock
    if frequency == "B":
        return np.busday_offset(day, offsets, roll="forward") + clock
    return first + np.timedelta64(pd.Timedelta(pd.tseries.frequencies.to_offset(frequency)).value, "ns") * offsets


def after_end(grids: Sequence[Optional[Grid]], horizon: int, zone: Optional[str]) -> Optional[Any]:
    """The ``horizon`` times after each series' last row, series after series, as the series write them
    (:func:`written`), as one pandas Series (a series without times: empty cells); None when none has times."""
    import pandas as pd

    groups: dict[tuple, list[int]] = defaultdict(list)  # series of one step and one zone, computed together
    for i, grid in enumerate(grids):
        if grid is not None and grid.times is not None:
            groups[(grid.frequency, str(_zone_of(grid, zone)))].append(i)
    if not groups:
        return None
    out = np.full(len(grids) * horizon, None, dtype=object)
    ahead = np.arange(1, horizon + 1)
    for members in groups.values():
        own = [grids[i] for i in members]
        offsets = np.concatenate([int(g.positions[-1]) + ahead for g in own])
        made = _steps([g for g in own for _ in ahead], own[0].frequency, offsets)
        if np.issubdtype(made.dtype, np.datetime64):
            made = _in_zone(pd.DatetimeIndex(made), _zone_of(own[0], zone))
        places = np.concatenate([i * horizon + ahead - 1 for i in members])
        out[places] = list(made)
    made = pd.Series(list(out), dtype=object)  # years stay whole numbers beside the empty cells
    return made if any(v is None for v in out) else made.infer_objects()


def file_format(grids: Sequence[Optional[Grid]], zone: Optional[str] = None) -> Optional[str]:
    """The format (strftime codes) the series' time column writes its times in, for forecast.csv to write the
    times after them alike (a file of months as ``2020-03`` gets ``2020-04``, not ``2020-04-01``; hourly times as
    ``2024-03-09T07:00:00Z`` get ``2024-03-09T08:00:00Z``, not ``2024-03-09 08:00:00+00:00``, and at midnight not
    a date alone): where the times of every series with times (their last :data:`CHECKED_ROWS`) read back as
    written with one format; None otherwise, and for steps under a day read as the clock of ``zone``
    (``data.source.time_zone``: written with their offsets, which tell the repeated autumn hour apart). Every row is
    checked, not the last alone: a day-first file ending on 01/01/2021 or 03/03/2020 reads back month-first too,
    and its forecasts were written month-first (1 February as 02/01/2021)."""
    import pandas as pd

    formats: Optional[set[str]] = None
    for grid in grids:
        if grid is None or grid.times is None or not len(grid.written):
            continue
        last = grid.written[-1]
        if (zone is not None and _under_a_day(grid)) or not isinstance(last, str) or \
                not np.issubdtype(np.asarray(grid.times).dtype, np.datetime64):
            return None
        written, times = _checked_rows(grid)
        if formats is not None and len(formats) == 1:  # found: each further series' last row written alike
            fits = {f for f in formats if _strftime(times[-1:], f)[0] == last.strip()}
        else:
            # a fraction of a second after a comma ('23:00:00,5Z', read as its point): guessed with a point, which
            # pandas' guess knows, and written with the comma again (it was written '.5', as pandas writes it)
            dotted = COMMA_FRACTION.sub(r"\1.\2", last.strip())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "parsing dates in %d/%m/%Y format when dayfirst=False": tried both
                guesses = [pd.tseries.api.guess_datetime_format(dotted, dayfirst=first) for first in (False, True)]
            guesses += _iso_variants([g for g in guesses if g], dotted)
            if dotted != last.strip():
                guesses = [_FRACTION_AFTER_POINT.sub(r",\1", g) for g in guesses if g]
            guesses += TEXT_FORMATS  # months, quarters and weeks as text (trainlab.data.timeseries.dates), which
            fits = {f for f in guesses if f and _strftime(times, f) == written}  # pandas' guess does not give
        formats = fits if formats is None else formats & fits
        if not formats:
            return None
    return formats.pop() if formats and len(formats) == 1 else None


def _iso_variants(guesses: list[str], last: str) -> list[str]:
    """pandas' guesses for ``last`` (a time as the file writes it) as ISO 8601 and the programs that write it spell
    what strftime writes otherwise: UTC as ``Z`` (strftime's %z: +0000) or ``GMT``, an offset with a colon (``+02:00``) or in
    hours (``+00``, PostgreSQL's), fractions of a second in other than six digits (``.000``, JavaScript's toISOString;
    ``.5``; ``.000000000``, nanoseconds: %f writes six digits)."""
    made = list(guesses)
    if last.endswith("Z"):
        made += [g[:-2] + "Z" for g in made if g.endswith("%z")]
    word = re.search(r"(?<=\d)\s*(?:UTC|GMT)$", last, re.IGNORECASE)  # UTC in words: strftime's %Z writes 'UTC'
    if word and word.group(0).strip() != "UTC":  # (both formats would fit, and none be taken)
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clock = pd.tseries.api.guess_datetime_format(last[:word.start()])  # the time before the word
        made += [clock + word.group(0)] if clock else []
    for pattern, code in ((_COLON_OFFSET, COLON_Z), (_HOUR_OFFSET, HOUR_Z)):
        if pattern.search(last):
            made += [g[:-2] + code for g in made if g.endswith("%z")]
    fraction = _FRACTION.search(last)
    if fraction and len(fraction.group(1)) != 6:
        made += [g.replace(".%f", f".%:{len(fraction.group(1))}f") for g in made if ".%f" in g]
    return made[len(guesses):]


def _checked_rows(grid: Grid) -> tuple[list[str], Any]:
    """A series' last :data:`CHECKED_ROWS` times as the file writes them and as read, the latter in the zone its
    times after it are written in (:func:`_zone_of`: the last row's offset for steps under a day, else naive); of a
    file whose offsets change (+01:00 in winter, +02:00 in summer) the rows of the last row's offset alone."""
    import pandas as pd

    written = [str(w).strip() for w in grid.written[-CHECKED_ROWS:]]
    times = _in_zone(pd.DatetimeIndex(np.asarray(grid.times)[-CHECKED_ROWS:]), _zone_of(grid, None))
    if times.tz is None:
        return written, times
    ending = _TRAILING_OFFSET.search(written[-1])
    same = [bool(ending) and w.endswith(ending.group(0).strip()) for w in written]
    return [w for w, s in zip(written, same) if s], times[np.array(same)]


# months as spreadsheets and statistics offices write them (Excel's Jan-15, Eurostat's 2015M01), read by
# dates._month_text: forecast.csv writes the months after the data alike where one of these writes every row back
MONTH_TEXTS = ("%b-%y", "%b'%y", "%b %Y", "%B %Y", "%b-%Y", "%YM%m", "%Y-M%m")
# quarters as dates._QUARTER reads them ('2019Q1', '2019-Q1', 'Q1 2019' ...): strftime has no quarter, so %q is
# pandas' Period code (:func:`_strftime`); 2020-01-01 was written after 2019Q4
QUARTER_TEXTS = tuple(f for q in ("Q", "q") for sep in ("", "-", "/", " ") for f in (f"%Y{sep}{q}%q", f"{q}%q{sep}%Y"))
# ISO 8601 week dates ('2019-W01', '2019W01', '2019-W01-1'), as dates._ISO_WEEK reads them
WEEK_TEXTS = ("%G-W%V", "%GW%V", "%G-W%V-%u", "%GW%V%u")
TEXT_FORMATS = MONTH_TEXTS + QUARTER_TEXTS + WEEK_TEXTS
CHECKED_ROWS = 100  # a series' last rows whose dates a format must write back as the file did: a day over 12
# what strftime does not write, which _strftime writes: an offset with a colon (+02:00; Python 3.12's %:z), in hours
# (+00), and a fraction of a second in n digits, 1 to 9 (%:3f: milliseconds, .000; %:9f: nanoseconds, which %f,
# of six digits, loses)
COLON_Z, HOUR_Z, MILLI = "%:z", "%:h", "%:3f"
_COLON_OFFSET = re.compile(r"[+-]\d{2}:\d{2}$")
_HOUR_OFFSET = re.compile(r"\d[+-]\d{2}$")
_FRACTION = re.compile(r":\d{2}\.(\d{1,9})(?!\d)")  # a fraction of a second as the file writes it (after the seconds)
_FRACTION_CODE = re.compile(r"%:([1-9])f")
_FRACTION_AFTER_POINT = re.compile(r"\.(%f|%:[1-9]f)")  # a format's fraction of a second, after its point
# each offset code above as strftime's, and a mark after it (a control character no time is written with) that
# _ISO_WRITTEN rewrites: %z's +0200 to +02:00 or +02
_AS_STRFTIME = {COLON_Z: "%z\x1d", HOUR_Z: "%z\x1e"}
_ISO_WRITTEN = ((re.compile(r"([+-]\d{2})(\d{2})\x1d"), r"\1:\2"), (re.compile(r"([+-]\d{2})\d{2}\x1e"), r"\1"))
_TRAILING_OFFSET = re.compile(r"(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


def as_written(column: Any, grids: Sequence[Optional[Grid]], zone: Optional[str] = None) -> Any:
    """forecast.csv's time column: in the file's own format (:func:`file_format`; ``zone``:
    ``data.source.time_zone``) as text, the cells of series without times empty; where there is none, as pandas
    writes it, but times under a day without a zone with their time of day (pandas writes a column of midnights as
    dates alone: ``2024-03-10`` for 00:00 after 23:00)."""
    import pandas as pd

    found = file_format(grids, zone)
    if found is None:
        if not any(g is not None and g.times is not None and _under_a_day(g) for g in grids):
            return column
        found = "%Y-%m-%d %H:%M:%S"  # naive ones; zoned ones are written as pandas writes them, with their offset
        values = pd.Series(list(column), dtype=object)
        naive = values.map(lambda v: isinstance(v, pd.Timestamp) and v.tz is None).to_numpy(dtype=bool)
        values[naive] = list(pd.DatetimeIndex(list(values[naive])).strftime(found))
        return values
    values = pd.Series(list(column), dtype=object)
    # each zone apart: the series of a file may carry different offsets (stations in several zones)
    zones = values.map(lambda v: str(v.tz) if isinstance(v, pd.Timestamp) else "")
    for name, rows in values.groupby(zones).groups.items():
        if name:
            times = pd.DatetimeIndex(list(values[rows]))
            values[rows] = _strftime(times, found)
    return values


def _strftime(times: Any, code: str) -> list[str]:
    """``times`` (a DatetimeIndex) written with ``code``: strftime's codes, or with ``%q`` (a quarter, which
    strftime lacks) pandas' Period codes of each time's quarter, or with :data:`COLON_Z`, :data:`HOUR_Z`,
    ``%:3f`` (:data:`MILLI`) to ``%:9f`` the offset as ``+02:00`` or ``+02``, the fraction of a second in that many
    digits (cut, not rounded: a file's rows are written back exactly before its format is taken)."""
    digits = _FRACTION_CODE.search(code)
    if digits is None:
        return _strftime_codes(times, code)
    made = _strftime_codes(times, _FRACTION_CODE.sub("\x1f", code))  # a mark no time is written with
    fractions = [f"{ns:09d}"[:int(digits.group(1))] for ns in times.microsecond * 1000 + times.nanosecond]
    return [t.replace("\x1f", f) for t, f in zip(made, fractions)]


def _strftime_codes(times: Any, code: str) -> list[str]:
    """:func:`_strftime` but for fractions of a second."""
    if any(own in code for own in _AS_STRFTIME):
        for own, plain in _AS_STRFTIME.items():
            code = code.replace(own, plain)
        made = list(times.strftime(code))
        for pattern, written in _ISO_WRITTEN:
            made = [pattern.sub(written, t) for t in made]
        return made
    if "%q" in code:  # a quarter of the local clock (a Period has no zone)
        return list((times.tz_localize(None) if times.tz is not None else times).to_period("Q").strftime(code))
    return list(times.strftime(code))


def written_zone(grids: Sequence[Optional[Grid]], zone: Optional[str]) -> Optional[str]:
    """``zone`` (``data.source.time_zone``) where the times after the series are written in it (steps under a
    day); None where they are clock times or carry the file's own offsets. A zone whose offset changes (a
    clock change) leaves offsets that pandas reads back as text: forecast.json names it for
    ``pd.to_datetime(column, utc=True).dt.tz_convert(zone)``."""
    return zone if zone is not None and any(g is not None and g.times is not None and _zone_of(g, zone) == zone
                                            for g in grids) else None


def written(times: Any, grid: Grid, zone: Optional[str]) -> Any:
    """``times`` (from :func:`stepped`) as the series writes its own: in ``zone`` (``data.source.time_zone``)
    or the offset of its last row where its steps are under a day and were read in UTC; naive otherwise."""
    import pandas as pd

    return _in_zone(times, _zone_of(grid, zone)) if isinstance(times, pd.DatetimeIndex) else times


def on_axis(times: Any) -> Any:
    """Times for a plot's axis: zoned ones as zoned datetimes, which matplotlib places by their instant and labels
    in their zone (their clock times, naive, jumped an hour at a clock change and ran back at the autumn one)."""
    return list(times.to_pydatetime()) if getattr(times, "tz", None) is not None else times


def _in_zone(times: Any, tz: Any) -> Any:
    """Naive UTC ``times`` in the zone ``tz``; as they are for None (naive clock times)."""
    return times.tz_localize("UTC").tz_convert(tz) if tz is not None else times


def _zone_of(grid: Grid, zone: Optional[str]) -> Any:
    """The zone a grid's times are written in: ``zone``, or its last row's own offset, where it steps by a
    fixed interval under a day (read in UTC); None (naive clock times) otherwise."""
    import pandas as pd

    if not _under_a_day(grid):
        return None
    if zone is not None:
        return zone
    last = grid.written[-1] if len(grid.written) else None
    if isinstance(last, pd.Timestamp):
        return last.tz
    if not isinstance(last, str):
        return None
    try:
        found = pd.Timestamp(last).tz
    except ValueError:  # a format pandas reads only with the column's own format ('01.03.2024 23:00 utc')
        found = None
    return found if found is not None else _written_offset(last.strip())


def _written_offset(text: str) -> Any:
    """The zone of the offset that ends ``text`` (``Z``, ``utc``, ``+02:00``, ``+0200``, ``+02``) as a fixed
    offset; None where it ends in none (naive clock times)."""
    import datetime

    import pandas as pd

    from trainlab.data.timeseries.zones import offset_rows

    found = _TRAILING_OFFSET.search(text)
    if found is None or not offset_rows(pd.Series([text]))[0]:  # after a time of day: '2024-03-01''s '-01' is none
        return None
    offset = found.group(0).strip()
    if offset[0] not in "+-":
        return datetime.timezone.utc
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
    return datetime.timezone(datetime.timedelta(minutes=minutes if offset[0] == "+" else -minutes))


def _under_a_day(grid: Grid) -> bool:
    """Whether the grid steps by a fixed interval under a day (read in UTC where a zone or offsets were given)."""
    import pandas as pd

    if grid.frequency is None or _CALENDAR.fullmatch(grid.frequency) or grid.frequency in ("B", *HALF_MONTHS):
        return False
    return pd.Timedelta(pd.tseries.frequencies.to_offset(grid.frequency)) < pd.Timedelta(DAY)
