"""Local clock times: a time column written without UTC offsets in a zone with daylight saving (a
meter's or a spreadsheet's hourly export) skips an hour in spring and repeats one in autumn.

``data.source.time_zone`` names the zone (IANA, ``Europe/Berlin``): such times are then read as
that zone's clock and compared in UTC, so the spring hour is no gap and the autumn hour no duplicate
(the two readings of the repeated hour are taken in file order). Without it, :func:`clock_change`
recognises the pattern (gaps or repeats of one hour, all on Sundays, where clocks change) so that the
gap log line and the duplicate refusal can name the setting.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable, Optional

import numpy as np

from trainlab.config.errors import UserError

# an offset after the time of day: 12:00Z, 12:00:00+01:00, 12:00 UTC (a date's "-27" is none)
_OFFSET = re.compile(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
SUNDAY = 6


def check_zone(name: Optional[str]) -> Optional[str]:
    """``name`` when it is a time zone (IANA), else one line saying what to give."""
    import zoneinfo

    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"data.source.time_zone='{name}' is not a time zone name; give an IANA name such as "
                        "Europe/Berlin or America/New_York (or null for times in UTC or with offsets)") from exc
    return str(name)


def refuse_zone_of_numbers(numbers: Any, zone: str, where: str) -> None:
    """A time column read as numbers (years 1871, 1872, ...; steps 0, 1, 2, ...) has no clock for
    ``data.source.time_zone`` to set: refused saying so (it was refused as 'times with UTC offsets')."""
    values = np.asarray(numbers, dtype=np.float64)
    years = len(values) and np.all(values % 1 == 0) and 1000 <= values.min() and values.max() < 3000
    what = f"years ({values.min():.0f} to {values.max():.0f})" if years else "numbers, not dates"
    raise UserError(f"{where} holds {what}, which have no clock time of day, so data.source.time_zone={zone} does "
                    "not apply to them; drop data.source.time_zone")


def in_utc(times: Any, raw: Any, zone: str, where: str, zoned: Optional[Callable[[], bool]] = None) -> Any:
    """Naive ``times`` read from ``raw`` taken as clock times of ``zone``, as naive UTC times; times a
    day or more apart are left as they are (in UTC a daily 00:00 would move by an hour twice a year).
    ``zoned``: whether ``raw`` says its zone, when that is known already (else :func:`has_offsets`)."""
    if (zoned or partial(has_offsets, raw))():
        raise UserError(f"{where} holds times with UTC offsets (or Unix time), which fix their instant already; "
                        "drop data.source.time_zone")
    order = np.argsort(times.to_numpy(), kind="stable")  # the repeated autumn hour stays in file order
    ordered = times.iloc[order]
    steps = np.diff(ordered.to_numpy().astype("datetime64[ns]").astype(np.int64))
    if len(steps) and np.median(steps) >= DAY_NS:  # days, months: calendar steps, the same in any zone
        return times
    try:
        local = ordered.dt.tz_localize(zone, ambiguous="infer")
    except ValueError as exc:  # an hour that the clock skipped, or a repeat that cannot be told apart
        raise UserError(f"{where}: read as clock times of data.source.time_zone={zone}: {exc}; fix those rows, or "
                        "write the times in UTC or with offsets") from exc
    utc = local.dt.tz_convert("UTC").dt.tz_localize(None)
    return utc.reindex(times.index)


_TRAILING_OFFSET = re.compile(r"\s*(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


def has_offsets(raw: Any) -> bool:
    """Whether a time column says its zone: timestamps with one, text with UTC offsets, Unix numbers."""
    return bool(offset_rows(raw).any())


def offset_rows(raw: Any) -> np.ndarray:
    """Per row of a time column, whether it says its zone (see :func:`has_offsets`)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(raw):
        return np.full(len(raw), raw.dt.tz is not None)
    if pd.api.types.is_numeric_dtype(raw):
        return np.ones(len(raw), dtype=bool)
    # each distinct text once: a file of many series repeats its few hundred dates millions of times, and the
    # pattern runs in Python, one row at a time (2 s per million rows)
    text = raw.astype(str)
    codes, distinct = pd.factorize(text, use_na_sentinel=False)
    return pd.Series(distinct, dtype=text.dtype).str.strip().str.contains(_OFFSET).to_numpy(dtype=bool)[codes]


def calendar_in_local_time(times: Any, raw: Any, parse: Callable[[Any], Any],
                           zoned: Optional[Callable[[], bool]] = None) -> Any:
    """Times a day or more apart written with their zone (``2021-03-28 00:00+02:00``, a tz-aware Parquet
    column) as their local clock times: in UTC, local midnights move by an hour at each daylight-saving
    change, and days, weeks or months would step irregularly. ``times`` (naive UTC) otherwise;
    ``parse`` reads text without offsets the way the column was read; ``zoned`` as for :func:`in_utc`."""
    import pandas as pd

    steps = np.diff(np.sort(times.to_numpy().astype("datetime64[ns]").astype(np.int64)))
    if not len(steps) or np.median(steps) < DAY_NS - HOUR_NS or pd.api.types.is_numeric_dtype(raw) \
            or not (zoned or partial(has_offsets, raw))():
        return times
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.dt.tz_localize(None)
    return parse(raw.astype(str).str.strip().str.replace(_TRAILING_OFFSET, "", regex=True))


def clock_change(times: Any) -> bool:
    """Whether naive, sorted ``times`` at steps of an hour or less hold gaps or repeats of one hour
    only on Sundays (when clocks change for daylight saving, in Europe, North America and Australia),
    and at least one: the file's times are local clock times."""
    ns = times.to_numpy().astype("datetime64[ns]").astype(np.int64)
    if len(ns) < 3:
        return False
    diffs = np.diff(ns)
    step = np.median(diffs)
    if step <= 0 or step > HOUR_NS:
        return False
    odd = np.flatnonzero((diffs != step))
    if len(odd) == 0:
        return False
    one_hour = (diffs[odd] == 0) | (diffs[odd] == step + HOUR_NS)
    sundays = times.iloc[odd].dt.day_of_week.to_numpy() == SUNDAY
    return bool(np.all(one_hour & sundays))


CLOCK_HINT = ("these look like local clock times across a daylight-saving change: set data.source.time_zone=<IANA "
              "zone, e.g. Europe/Berlin>, or write the times in UTC or with offsets")
