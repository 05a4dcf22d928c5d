"""A time column's values read as dates: text in one format for every row (ISO 8601 first, then
month-first or day-first where only one of them reads, or ``data.source.time_format``), and numbers
that are dates (Unix time, spreadsheet serial dates, YYYYMMDD), each reading logged with the setting
that keeps the numbers. :mod:`trainlab.data.timeseries.times` lays the times read here on their step."""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.steps import most_common
from trainlab.data.timeseries.zones import offset_rows

log = logging.getLogger(__name__)


def written(time: Any) -> str:
    """A time as the log shows it: as the file wrote it; a date without its midnight when it was read
    as a timestamp (Parquet, or joined from [year, month])."""
    import pandas as pd

    if isinstance(time, pd.Timestamp) and time == time.normalize():
        return time.strftime("%Y-%m-%d")
    return str(time)


UNIX_UNITS = {"unix": "s", "unix_ms": "ms"}
EXCEL = "excel"  # data.source.time_format=excel: spreadsheet serial dates, days (and fractions) since 1899-12-30
TIME_NUMBERS = {"unix": "seconds since 1970", "unix_ms": "milliseconds since 1970", EXCEL: "days since 1899-12-30"}
_EXCEL_RANGE = (20_000, 80_000)  # 1954 to 2119
_DATE_NAME = re.compile(r".*(date|datum|time|day|tag).*", re.IGNORECASE)
NUMBERS = "number"  # data.source.time_format=number: a column of numbers stays numbers (no date reading)
KEEP_NUMBERS = f"data.source.time_format={NUMBERS} keeps them as numbers"
_UNIX_RANGE = (-2.2e9, 4.1e9)  # seconds: 1900 to 2099
_COMPACT = ((8, "%Y%m%d", "YYYYMMDD"), (6, "%Y%m", "YYYYMM"))


def numbers_as_dates(raw: Any, where: str, time_format: Optional[str]) -> Any:
    """A column of numbers that are dates, as naive UTC times, or None when they are plain numbers (a
    year, a step count): Unix time in seconds or milliseconds (at least 1e8 seconds from 1970, on a
    step of whole minutes, as databases and loggers export it), whole numbers written YYYYMMDD or
    YYYYMM, or any numbers read by ``time_format`` ("unix", "unix_ms", "excel": spreadsheet serial dates,
    or strftime codes); "number" keeps them numbers. Numbers that look like spreadsheet serial dates in a
    column named as a date stay numbers, with a warning naming "excel". Each reading of the guess is logged with the setting that keeps the numbers."""
    import pandas as pd

    if time_format == NUMBERS:
        log.info("%s: numbers kept as numbers (data.source.time_format=%s)", where, NUMBERS)
        return None
    values = raw.to_numpy(dtype=np.float64)
    whole = bool(np.all(values % 1 == 0))
    if time_format:
        if time_format in UNIX_UNITS:
            return pd.to_datetime(raw, unit=UNIX_UNITS[time_format])
        if time_format == EXCEL:  # to the second: 1/24 of a day is no whole number of nanoseconds in float64
            return (pd.Timestamp("1899-12-30") + pd.to_timedelta(values, unit="D")).round("s").to_series(index=raw.index)
        return parse_dates(raw.astype(np.int64) if whole else raw, where, time_format)
    if _DATE_NAME.fullmatch(str(raw.name)) and _EXCEL_RANGE[0] <= values.min() and values.max() <= _EXCEL_RANGE[1]:
        log.warning("%s: numbers from %g to %g in a column named as a date look like spreadsheet serial dates (%s to "
                    "%s); data.source.time_format=%s reads them as dates, and they stay numbers without it", where,
                    values.min(), values.max(), *(written(pd.Timestamp("1899-12-30") + pd.Timedelta(days=float(v)))
                                                  for v in (values.min(), values.max())), EXCEL)
        return None
    if not whole:
        return None
    ints = pd.Series(values.astype(np.int64), index=raw.index)
    for digits, codes, name in _COMPACT:
        if ints.between(10 ** (digits - 1), 3 * 10 ** (digits - 1) - 1).all():
            parsed = pd.to_datetime(ints.astype(str), format=codes, errors="coerce")
            if parsed.notna().all():
                log.info("%s: numbers written %s, read as dates (%s to %s); %s", where, name, written(parsed.min()),
                         written(parsed.max()), KEEP_NUMBERS)
                return parsed
    diffs = np.diff(np.unique(values))
    step = most_common(diffs) if len(diffs) else 0.0
    for unit, scale, name in (("s", 1, "seconds"), ("ms", 1000, "milliseconds")):
        low, high = (bound * scale for bound in _UNIX_RANGE)
        if values.min() >= low and values.max() <= high and np.abs(values).max() >= 1e8 * scale \
                and step > 0 and step % (60 * scale) == 0:
            parsed = pd.to_datetime(ints, unit=unit)
            log.info("%s: numbers read as Unix time in %s (%s to %s); %s", where, name, written(parsed.min()),
                     written(parsed.max()), KEEP_NUMBERS)
            return parsed
    return None


def read_as_unix(raw: Any, time_format: Optional[str]) -> bool:
    """Whether numbers :func:`numbers_as_dates` read as dates were read as Unix time, an instant (the guess's Unix
    reading needs 1e8 seconds or more from 1970; YYYYMMDD numbers stay under 3e7)."""
    return time_format in UNIX_UNITS or (not time_format and float(np.abs(raw.to_numpy(np.float64)).max()) >= 1e8)


# a clock at the end of its day (grid operators' and loggers' '2023-03-01 24:00', ISO 8601's 'T24:00:00'), and a
# leap second ('23:59:60', in UTC records), neither of which Python's datetime holds
# a fraction of a second after a comma, as ISO 8601 allows and European logs write it ('23:00:00,5Z'), and its point
COMMA_FRACTION = re.compile(r"(:\d{2}),(\d{1,9})(?!\d)")
_UTC_WORD = re.compile(r"(?<=\d)\s*(?:UTC|GMT)\s*$", re.IGNORECASE)  # a time in UTC as databases, logs write it
_END_OF_DAY = re.compile(r"(?<![\d:])24:00(?=(?::00(?:[.,]0+)?)?(?![\d:]))")
_LEAP_SECOND = re.compile(r"(?<![\d:])23:59:60(?:[.,]\d+)?(?![\d:])")
# ISO 8601 week dates, as Eurostat and ISO-week reports write weekly data: '2019-W01', '2019W01', '2019-W01-1'
_ISO_WEEK = re.compile(r"\s*(\d{4})-?W(\d{2})(?:-?([1-7]))?\s*")
# quarters as statistics offices write them: '2019Q1', '2019-Q1', '2019 Q1', 'Q1 2019', 'Q1-2019' (pandas reads the first
# two only, by a reading it deprecates, and strftime has no code for a quarter: data.source.time_format cannot read them)
_QUARTER = re.compile(r"\s*(?:(?P<year>\d{4})\s*[-/ ]?\s*[Qq](?P<quarter>[1-4])|[Qq](?P<quarter_first>[1-4])\s*[-/ ]?\s*"
                      r"(?P<year_last>\d{4}))\s*")
# months as spreadsheets and statistics offices write them: Excel's 'mmm-yy' ('Jan-15', which pandas read as January
# 15th of the year 1), and Eurostat's and Stata's '2015M01', '2015-M01', '2015m1' (pandas read '2015-M01' as a second
# past midnight); a month name in English, abbreviated or whole
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_TEXT = re.compile(r"\s*(?:(?P<name>[A-Za-z]{3,9})\.?(?:[-/ ]?(?P<year>\d{4})|[-'](?P<yy>\d{2}))"
                         r"|(?P<year_first>\d{4})-?[Mm](?P<month>\d{1,2}))\s*")  # 'Mar 03' stays a day without a year
# fiscal or split years ('FY2019', 'FY 2019/20', '2019/20', '2019-2020'): which calendar year each is, no file says
_FISCAL_YEAR = re.compile(r"\s*(FY\s*'?)?(\d{2}|\d{4})(?:\s*[/-]\s*(\d{2}|\d{4}))?\s*", re.IGNORECASE)


_DOTTED = r"\s*\d{1,2}\.\d{1,2}\.\d{2,4}(\s|$)"  # 01.04.1959, 1.4.59, with a time of day after it or not

# a spreadsheet's summary rows below the data, in English and German exports
_SUMMARY = re.compile(r"(grand |sub)?totals?|sum|average|mean|avg|median|min|max|summe|gesamt|insgesamt"
                      r"|durchschnitt|mittelwert|all|overall", re.IGNORECASE)


def _fiscal_year(text: str) -> bool:
    """Whether ``text`` is a fiscal year ('FY2019', 'FY19/20') or a year split in two ('2019/20', '2019-2020': the
    second year the next, not a month as in '2019-13')."""
    found = _FISCAL_YEAR.fullmatch(text)
    if found is None:
        return False
    first, second = found.group(2), found.group(3)
    if found.group(1):
        return True
    return len(first) == 4 and second is not None and int(second) % 100 == (int(first) + 1) % 100


def parse_dates(raw: Any, where: str, time_format: Optional[str]) -> Any:
    """One reading for the whole column, as naive UTC times (see the module docstring). A clock at 24:00 is
    read as 00:00 of the next day, logged; a leap second (23:59:60) is refused naming its row and the fix."""
    import pandas as pd

    text = raw.astype(str)
    leap = _holds(text, ":60", _LEAP_SECOND)
    if leap.any():
        row = leap.index[leap.to_numpy()][0]
        raise UserError(f"{where}: row {row} ('{text[row]}') is a leap second, which these times (as POSIX time) do "
                        "not count; drop that row, or add its values to the row of the next second")
    if time_format is None and len(text) and _ISO_WEEK.fullmatch(text.iloc[0]) and text.str.fullmatch(_ISO_WEEK).all():
        weeks = text.str.extract(_ISO_WEEK)
        parsed = pd.to_datetime(weeks[0] + "-" + weeks[1] + "-" + weeks[2].fillna("1"), format="%G-%V-%u",
                                errors="coerce")
        if parsed.isna().any():
            row = parsed.index[parsed.isna()][0]
            raise UserError(f"{where}: row {row} ('{text[row]}') is no ISO week (weeks 01 to 52, or 53 in a long year); "
                            "fix that row")
        log.info("%s: ISO week dates read as each week's %s (%s to %s)", where,
                 "Monday" if weeks[2].isna().all() else "given day", written(parsed.min()), written(parsed.max()))
        return parsed
    if time_format is None and len(text) and _QUARTER.fullmatch(text.iloc[0]) and text.str.fullmatch(_QUARTER).all():
        parts = text.str.extract(_QUARTER)
        years = parts["year"].fillna(parts["year_last"]).astype(np.int64)
        quarters = parts["quarter"].fillna(parts["quarter_first"]).astype(np.int64)
        parsed = pd.to_datetime(pd.DataFrame({"year": years, "month": 3 * quarters - 2, "day": 1}))
        log.info("%s: quarters read as each quarter's first day (%s to %s)", where, written(parsed.min()),
                 written(parsed.max()))
        return parsed
    months = _month_text(text) if time_format is None else None
    if months is not None:
        log.info("%s: months read as each month's first day (%s to %s)", where, written(months.min()),
                 written(months.max()))
        return months
    ends = _holds(text, "24:00", _END_OF_DAY)
    if not ends.any():
        return _parse(text, text, where, time_format)
    parsed = _parse(text.str.replace(_END_OF_DAY, "00:00", regex=True), text, where, time_format)
    row = ends.index[ends.to_numpy()][0]
    log.info("%s: %d time(s) written 24:00 (first row %s: '%s') read as 00:00 of the next day", where,
             int(ends.sum()), row, text[row])
    return parsed + pd.to_timedelta(ends.to_numpy().astype(np.int64), unit="D")


def _month_text(text: Any) -> Any:
    """A column of months written 'Jan-15', 'January 2015', '2015M01' or '2015-M01', as each month's first day; None
    for any other column. Two-digit years (after '-' or an apostrophe, as Excel writes them) as strptime's %y reads
    them (69-99: 1900s, 00-68: 2000s)."""
    import pandas as pd

    if not len(text) or not _MONTH_TEXT.fullmatch(text.iloc[0]) or not text.str.fullmatch(_MONTH_TEXT).all():
        return None
    parts = text.str.extract(_MONTH_TEXT)
    named = parts["name"].notna()
    month = parts["month"].astype(float)
    names = parts["name"][named].str[:3].str.lower()
    if not names.isin(_MONTHS).all() or not month[~named].between(1, 12).all():
        return None  # 'Day-15', 'Q1 15', month 13: not months
    month[named] = names.map(lambda name: _MONTHS.index(name) + 1).astype(float)
    yy = parts["yy"].astype(float)
    year = parts["year"].fillna(parts["year_first"]).astype(float).fillna(yy + np.where(yy < 69, 2000, 1900))
    return pd.to_datetime(pd.DataFrame({"year": year.astype(np.int64), "month": month.astype(np.int64), "day": 1}))


def _holds(text: Any, part: str, pattern: re.Pattern) -> Any:
    """Per row, whether ``pattern`` is found in it; searched only in the rows that hold ``part`` (a plain search: a
    pattern per row of a 2-million-row column took ~3 s)."""
    found = text.str.contains(part, regex=False)
    if found.any():
        found[found] = text[found].str.contains(pattern)
    return found


def _parse(text: Any, shown: Any, where: str, time_format: Optional[str]) -> Any:
    """:func:`parse_dates` on ``text`` (``shown``: the rows as written, for messages)."""
    import pandas as pd

    if time_format:
        parsed = pd.to_datetime(text, format=time_format, errors="coerce", utc=True)
        if parsed.isna().any():
            row = parsed.index[parsed.isna()][0]
            raise UserError(f"{where}: row {row} ('{shown[row]}') does not match data.source.time_format="
                            f"'{time_format}'; fix the row or the format (Python strftime codes, e.g. %d/%m/%Y)")
        return parsed.dt.tz_localize(None)
    if text.str.contains(",", regex=False).any():  # ISO 8601's comma before a fraction of a second ('23:00:00,5Z',
        text = text.str.replace(COMMA_FRACTION, r"\1.\2", regex=True)  # European logs): read as its point
    zoned = _zoned(text)
    if zoned.any() and not zoned.all():
        aware, naive = text.index[zoned][0], text.index[~zoned][0]
        raise UserError(f"{where} mixes times with their zone (row {aware}: '{shown[aware]}') and times without one "
                        f"(row {naive}: '{shown[naive]}'), whose instant is unknown beside them; write every time "
                        "with its UTC offset (or 'UTC'), or every time without one (data.source.time_zone then names "
                        "their zone)")
    iso = _attempt(text, format="ISO8601")
    if iso is None and zoned.all() and text.str.contains(_UTC_WORD).any():  # '2024-03-01 21:00:00 UTC': ISO 8601
        # but for its word, alone or beside offsets ('+00:00', 'Z'): read as UTC, as times without a zone are here
        iso = _attempt(text.str.replace(_UTC_WORD, "", regex=True), format="ISO8601")
    if iso is not None:  # (it was read day-first too, 2024-01-03, and refused as reading two ways)
        return iso
    month_first, day_first = _attempt(text, dayfirst=False), _attempt(text, dayfirst=True)
    if month_first is None and day_first is None:
        mixed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        if mixed.isna().any():
            row = mixed.index[mixed.isna()][0]
            if _SUMMARY.fullmatch(str(shown[row]).strip()):
                raise UserError(f"{where}: row {row} ('{shown[row]}') is a summary of the rows above (a spreadsheet's "
                                "total or average row), not a time step: delete that row from the file (read as "
                                "data, its value would be one more step of the series)")
            if _fiscal_year(shown[row]):
                raise UserError(f"{where} holds fiscal or split years (row {row}: '{shown[row]}'), which name no one "
                                "calendar year; write each as the year it starts or ends (2019), as numbers, or set "
                                "data.source.time_column=null to keep the file's row order")
            raise UserError(f"{where} is neither numbers nor dates (row {row}: '{shown[row]}'); fix that row, set "
                            "data.source.time_format, or set data.source.time_column=null to keep the file's row order")
        raise UserError(f"{where} holds dates written in more than one way (row {text.index[0]}: "
                        f"'{shown.iloc[0]}'); write them one way, or set data.source.time_format (e.g. '%Y-%m-%d')")
    dotted = day_first is not None and bool(text.str.match(_DOTTED).all())
    if dotted and month_first is not None and not month_first.equals(day_first):
        # 01.04.1959: day-first wherever dates are written with dots (German, Swiss, Nordic, Slavic exports); no
        # locale writes its months first with dots, as the US does with slashes
        example = shown[(month_first != day_first).to_numpy()].iloc[0]
        log.info("%s: dates with dots read day-first ('%s' is %s; data.source.time_format='%%m.%%d.%%Y' reads them "
                 "month-first)", where, example, day_first[(month_first != day_first).to_numpy()].iloc[0].date())
        month_first = None
    if month_first is not None and day_first is not None and not month_first.equals(day_first):
        example = shown[(month_first != day_first).to_numpy()].iloc[0]
        formats = {pd.tseries.api.guess_datetime_format(example, dayfirst=d) for d in (False, True)}
        hint = " or ".join(f"'{f}'" for f in sorted(formats, key=str) if f) or "'%d/%m/%Y' or '%m/%d/%Y'"
        raise UserError(f"{where}: dates such as '{example}' read month-first and day-first give two different "
                        f"series; set data.source.time_format={hint}")
    parsed = month_first if month_first is not None else day_first
    undated = parsed.dt.year == 1  # pandas' year where the text names none ('15-Jan', 'Mar 3')
    if undated.any():
        row = parsed.index[undated.to_numpy()][0]
        raise UserError(f"{where} holds dates without a year (row {row}: '{shown[row]}'); write the year in every row, "
                        "or set data.source.time_format to the codes of the way they are written (e.g. '%b-%y' for "
                        "Jan-15 meaning January 2015)")
    return parsed


def _zoned(text: Any) -> np.ndarray:
    """Per row, whether its time says its zone: a UTC offset, Z, or UTC or GMT written as a word (a date alone too,
    '2024-03-01 UTC'); each distinct text once (zones.offset_rows)."""
    import pandas as pd

    codes, distinct = pd.factorize(text, use_na_sentinel=False)
    words = pd.Series(distinct, dtype=object).astype(str).str.strip().str.contains(_UTC_WORD).to_numpy(dtype=bool)
    return offset_rows(text) | words[codes]


def _attempt(text: Any, **how: Any) -> Any:
    """The column read with one format inferred for all rows (pandas), or None where a row does not fit."""
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": a row that does not fit is None here
            return pd.to_datetime(text, utc=True, **how).dt.tz_localize(None)
    except (ValueError, TypeError, OverflowError):
        return None
