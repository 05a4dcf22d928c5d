"""How a file lays out its time: a series laid out wide, a row per year and a column per month
(``YEAR,JAN,...,DEC``, as NOAA and statsmodels' El Niño table have it) or per quarter (``year,Q1,...,Q4``);
and a date written in columns of its own (``year,quarter``, or a date and a time of day: :func:`calendar_column`).

A row per series and a column per year (the World Bank's ``Country Name,...,1960,1961,...``) is the
same layout turned: its rows are series. Read as written, such a file would be twelve (or sixty)
features; :func:`wide_columns` finds the layout so that the source can refuse it by default and, with
``data.source.layout=wide``, :func:`long_from_wide` turns it into the long layout: a date, the series
and a value per row.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError, nearest
from trainlab.data.timeseries.values import typed_names

log = logging.getLogger(__name__)

LAYOUTS = ("long", "wide")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


def _part_of_year(name: Any) -> Optional[tuple[str, int]]:
    """('month', 1..12) for JAN, Jan, January, Sept ...; ('quarter', 1..4) for Q1 .. Q4; else None."""
    text = str(name).strip().lower()
    for number, month in enumerate(_MONTHS, 1):
        if len(text) >= 3 and month.startswith(text):
            return "month", number
    if len(text) == 2 and text[0] == "q" and text[1] in "1234":
        return "quarter", int(text[1])
    return None


MIN_YEAR_COLUMNS = 3  # columns named 1960, 1961, 1962 ...: a row per series, a column per year (World Bank)


def wide_columns(frame: Any) -> Optional[tuple[str, list[str]]]:
    """('month', the 12 month columns in calendar order) or ('quarter', the 4 quarter columns) when the
    file has every one of them, each once; ('year', the columns named by years, in order) when at least
    three are; else None."""
    for kind, count in (("month", 12), ("quarter", 4)):
        found: dict[int, list[str]] = {}
        for column in frame.columns:
            part = _part_of_year(column)
            if part is not None and part[0] == kind:
                found.setdefault(part[1], []).append(str(column))
        if len(found) == count and all(len(names) == 1 for names in found.values()):
            return kind, [found[number][0] for number in range(1, count + 1)]
    years = sorted((str(c) for c in frame.columns if re.fullmatch(r"[12]\d{3}", str(c).strip())), key=int)
    return ("year", years) if len(years) >= MIN_YEAR_COLUMNS else None


def row_names(frame: Any, columns: list[str]) -> str:
    """The first text column, besides ``columns``, whose values tell the rows apart (a country's name),
    quoted for a setting; '<the column naming each row>' when there is none."""
    import pandas as pd

    named = [str(c) for c in frame.columns if str(c) not in columns and not pd.api.types.is_numeric_dtype(frame[c])
             and frame[c].is_unique]
    return f"'{named[0]}'" if named else "<the column naming each row>"


def describe_wide(found: tuple[str, list[str]], path: str) -> str:
    kind, columns = found
    rows = "series" if kind == "year" else "year"
    return (f"'{path}' holds series laid out wide: a row per {rows} and a column per {kind} "
            f"({columns[0]} .. {columns[-1]})")


def long_from_wide(frame: Any, found: tuple[str, list[str]], time_column: str, series_column: Optional[str],
                   value_name: str, path: str) -> Any:
    """One row per month (quarter, year) and series: ``time_column`` holding its first day,
    ``series_column`` (when given) its series and ``value_name`` its value. With month or quarter
    columns each row is a year, named in ``time_column``; with year columns each row is a series,
    named in ``series_column`` (needed when there are several rows). The file's other columns (an
    annual mean, a country code) are left out, logged."""
    import pandas as pd

    kind, columns = found
    keys = [c for c in ([time_column] if kind != "year" else []) + ([series_column] if series_column else [])]
    for key, role in ((k, "time" if k == time_column else "series") for k in keys):
        if key not in frame.columns:
            names = [str(c) for c in frame.columns if str(c) not in columns]
            meant = next(iter(nearest(key, names)), None)  # 'YEAR' for the default 'year' (El Nino's, NOAA's)
            hint = f"; did you mean {typed_names(f'data.source.{role}_column', [meant], True)}?" if meant else ""
            raise UserError(f"data.source.{role}_column '{key}' not in '{path}'; with data.source.layout=wide it names "
                            f"the column of {'years' if role == 'time' else 'series'}; its columns are "
                            f"{[str(c) for c in frame.columns]}{hint}")
    if kind == "year" and not series_column and len(frame) > 1:
        raise UserError(f"{describe_wide(found, path)}; name the column that tells the rows apart with "
                        f"data.source.series_column={row_names(frame, columns)} (and pick one with "
                        "data.source.series=<value>)")
    others = [str(c) for c in frame.columns if str(c) not in {*keys, *columns}]
    if others:
        log.info("data.source.layout=wide: column(s) %s of '%s' are not a %s; left out", others, path, kind)
    per_row = len(columns)
    if kind == "year":
        years = np.tile([int(c) for c in columns], len(frame))
        months = np.ones(len(years), dtype=np.int64)
    else:
        years = whole_numbers(frame[time_column], frame[time_column],
                              f"data.source.time_column '{time_column}' in '{path}'", 1, 9999).repeat(per_row)
        months = np.tile([1 + number * 12 // per_row for number in range(per_row)], len(frame))  # 1..12, 1, 4, 7, 10
    long = {time_column: pd.to_datetime(pd.DataFrame({"year": np.asarray(years), "month": months, "day": 1}))}
    if series_column:
        long[series_column] = frame[series_column].to_numpy().repeat(per_row)
    long[value_name] = frame[columns].to_numpy().reshape(-1)  # row by row, columns in calendar order
    log.info("data.source.layout=wide: '%s', %d rows x %d %ss read as '%s' (%d values)", path, len(frame), per_row,
             kind, value_name, len(long[value_name]))
    return pd.DataFrame(long)


# a column holding the part of a year: quarter (1-4, or Q1-Q4) or month (1-12, or Jan / January)
_QUARTER = re.compile(r"q|qtr|quarters?", re.IGNORECASE)
_MONTH = re.compile(r"m|mon|mth|months?", re.IGNORECASE)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def calendar_column(frame: Any, parts: Sequence[str], name: str, path: str, time_format: Optional[str] = None) -> Any:
    """``frame`` with the time written in separate columns (``data.source.time_column=[year,quarter]``,
    ``[year,month]`` or ``[year,month,day]``, as statistics offices publish) joined into one column of
    dates named ``name`` (first), the parts dropped. The second part is a quarter when its name says so
    (quarter, qtr, q), else a month (a number or a name); every value is checked, the row named. Two parts
    whose first is not numbers are a date and a time of day (``[date,time]``), joined as text and read by
    ``time_format`` like one date column."""
    import pandas as pd

    absent = [p for p in parts if p not in frame.columns]
    if absent:
        raise UserError(f"data.source.time_column {list(parts)}: {absent} not in '{path}'; its columns are "
                        f"{[str(c) for c in frame.columns]}")
    where = f"data.source.time_column {list(parts)} in '{path}'"
    first = frame[parts[0]]  # dates: text, or datetimes (Parquet), which to_numeric reads as nanoseconds
    if len(parts) == 2 and (pd.api.types.is_datetime64_any_dtype(first)
                            or pd.to_numeric(first, errors="coerce").isna().any()):
        return _date_and_clock(frame, parts, name, where)
    if time_format:
        raise UserError(f"data.source.time_format='{time_format}' is set, but {where} holds the date in parts (year, "
                        "quarter or month, day), which are read without a format; drop the format")
    year = whole_numbers(frame[parts[0]], frame[parts[0]], where, 1, 9999)
    if _QUARTER.fullmatch(parts[1].strip()):
        quarter = frame[parts[1]].astype(str).str.upper().str.lstrip("Q")  # 1 or Q1
        month = 3 * whole_numbers(quarter, frame[parts[1]], where, 1, 4) - 2
    else:
        month = whole_numbers(frame[parts[1]].astype(str).str.strip().str[:3].str.lower().map(
            lambda v: str(_MONTH_NAMES.index(v) + 1) if v in _MONTH_NAMES else v), frame[parts[1]], where, 1, 12)
    day = whole_numbers(frame[parts[2]], frame[parts[2]], where, 1, 31) if len(parts) == 3 else 1
    dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    if dates.isna().any():
        row = dates.index[dates.isna()][0]
        raise UserError(f"{where}: row {row} is no date ({', '.join(str(frame[p][row]) for p in parts)}); fix it")
    out = frame.drop(columns=list(parts))
    out.insert(0, name, dates)
    return out


_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")  # 7:00, 07:00, 07:00:00, 07:00:00.5


def _date_and_clock(frame: Any, parts: Sequence[str], name: str, where: str) -> Any:
    """``frame`` with a date column and a column of clock times (``[date,time]``, as loggers and grid operators
    export them) joined into one text column ``name`` ("2023-01-01 07:00"), read as one date column is."""
    import pandas as pd

    clock = frame[parts[1]]
    if pd.api.types.is_timedelta64_dtype(clock):  # a Parquet time of day read as a duration: '0 days 07:00:00'
        clock = clock.astype(str).str.rsplit(" ", n=1).str[-1]
    elif pd.api.types.is_numeric_dtype(clock) and not pd.api.types.is_bool_dtype(clock) \
            and clock.between(0, 1, inclusive="left").all():  # a spreadsheet's time of day: a fraction of a day
        seconds = (clock.astype(np.float64) * 86400).round().astype(np.int64)
        clock = pd.Series([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds], index=clock.index)
    clock = clock.astype(str).str.strip()
    bad = ~clock.str.fullmatch(_CLOCK.pattern)
    if bad.any():
        row = bad.index[bad.to_numpy()][0]
        raise UserError(f"{where}: column '{parts[1]}' row {row} holds '{frame[parts[1]][row]}', not a time of day "
                        "(07:00 or 07:00:00, or a spreadsheet's fraction of a day); two time columns are read as "
                        "[date, time of day], or as [year, quarter] or [year, month] when the first holds years")
    out = frame.drop(columns=list(parts))
    out.insert(0, name, frame[parts[0]].astype(str).str.strip() + " " + clock)
    return out


def whole_numbers(column: Any, written: Any, where: str, low: int, high: int) -> Any:
    """A part of the date (``column``, read from the file's ``written``) as integers from ``low`` to
    ``high``, refusing any other value by row."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() | (values % 1 != 0) | (values < low) | (values > high)
    if bad.any():
        row = bad.index[bad.to_numpy()][0]
        raise UserError(f"{where}: column '{written.name}' row {row} holds '{written[row]}', not a whole number from "
                        f"{low} to {high}; fix that row")
    return values.astype(np.int64)


def calendar_hint(frame: Any, column: str, times: Any) -> str:
    """For a column of years that repeat: the column beside it that holds the quarter or the month
    (named so, and each (year, part) once), as the fix "set data.source.time_column=[year,quarter]"."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(times):  # dates that repeat: the time of day in a column beside them?
        for other in frame.columns:
            text = frame[other].astype(str).str.strip()
            if other != column and text.str.fullmatch(_CLOCK.pattern).all() and \
                    not frame[[other]].assign(__time__=times.to_numpy()).duplicated().any():
                return (f"column '{other}' holds the time of day: set data.source.time_column=[{column},{other}] to "
                        "read the two as one time")
        return ""
    for other in frame.columns:
        kind = "quarter" if _QUARTER.fullmatch(str(other).strip()) else "month" if _MONTH.fullmatch(
            str(other).strip()) else None
        if kind and other != column and not frame[[other]].assign(__time__=times.to_numpy()).duplicated().any():
            return (f"column '{other}' holds the {kind} of each year: set data.source.time_column=[{column},{other}] "
                    "to read the two as one date")
    return ""


_TIME_NAME = re.compile(r"(date|time|timestamp|datetime|year|yr|month|quarter|qtr|week|day|hour)s?", re.IGNORECASE)


def warn_time_features(features: Sequence[str], path: str) -> None:
    """One warning when columns named as the time (year, quarter: numbers, so they read as features)
    become inputs because no time column is named: the rows stay in file order, the time is learnt from."""
    timed = [c for c in features if _TIME_NAME.fullmatch(c.strip())]
    if timed:
        parts = len(timed) > 1 and re.fullmatch(r"(year|yr)s?", timed[0].strip(), re.IGNORECASE)
        setting = f"[{','.join(timed)}] (the date in parts)" if parts else "<one of them>" if len(timed) > 1 \
            else timed[0]
        log.warning("column(s) %s of '%s' look like the time but are taken as features (data.source.time_column is "
                    "null): set data.source.time_column=%s to sort by it and leave it out, or list "
                    "data.source.feature_columns", timed, path, setting)
