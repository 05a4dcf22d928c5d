"""How a file lays out its time: a series laid out wide, a row per year and a column per month
(``YEAR,JAN,...,DEC``, as NOAA and statsmodels' El Niño table have it) or per quarter (``year,Q1,...,Q4``);
and a date written in columns of its own (``year,quarter``: :func:`calendar_column`).

Read as written, such a file would be twelve features of a yearly series; :func:`wide_columns` finds
the layout so that the source can refuse it by default and, with ``data.source.layout=wide``,
:func:`long_from_wide` turns it into one monthly (quarterly) series, a date and a value per row.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError

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


def wide_columns(frame: Any) -> Optional[tuple[str, list[str]]]:
    """('month', the 12 month columns in calendar order) or ('quarter', the 4 quarter columns) when the
    file has every one of them, each once; else None."""
    for kind, count in (("month", 12), ("quarter", 4)):
        found: dict[int, list[str]] = {}
        for column in frame.columns:
            part = _part_of_year(column)
            if part is not None and part[0] == kind:
                found.setdefault(part[1], []).append(str(column))
        if len(found) == count and all(len(names) == 1 for names in found.values()):
            return kind, [found[number][0] for number in range(1, count + 1)]
    return None


def describe_wide(found: tuple[str, list[str]], path: str) -> str:
    kind, columns = found
    return (f"'{path}' holds a series laid out wide: a row per year and a column per {kind} "
            f"({columns[0]} .. {columns[-1]})")


def long_from_wide(frame: Any, found: tuple[str, list[str]], year_column: str, value_name: str, path: str) -> Any:
    """One row per month (quarter), in calendar order: ``year_column`` holding its first day, and
    ``value_name`` its value; the file's other columns (an annual mean, say) are left out, logged."""
    import pandas as pd

    kind, columns = found
    if year_column not in frame.columns:
        raise UserError(f"data.source.time_column '{year_column}' not in '{path}'; with data.source.layout=wide it "
                        f"names the column of years; its columns are {[str(c) for c in frame.columns]}")
    years = whole_numbers(frame[year_column], frame[year_column],
                          f"data.source.time_column '{year_column}' in '{path}'", 1, 9999)
    others = [str(c) for c in frame.columns if str(c) not in {year_column, *columns}]
    if others:
        log.info("data.source.layout=wide: column(s) %s of '%s' are not a %s; left out", others, path, kind)
    per_year = len(columns)
    months = [1 + number * 12 // per_year for number in range(per_year)]  # 1..12, or 1, 4, 7, 10
    dates = pd.to_datetime(pd.DataFrame({"year": years.repeat(per_year).to_numpy(),
                                         "month": months * len(frame), "day": 1}))
    values = frame[columns].to_numpy().reshape(-1)  # row-major: year by year, in calendar order
    log.info("data.source.layout=wide: '%s', %d years x %d %ss read as one series '%s' of %d rows", path, len(frame),
             per_year, kind, value_name, len(values))
    return pd.DataFrame({year_column: dates, value_name: values})


# a column holding the part of a year: quarter (1-4, or Q1-Q4) or month (1-12, or Jan / January)
_QUARTER = re.compile(r"q|qtr|quarters?", re.IGNORECASE)
_MONTH = re.compile(r"m|mon|mth|months?", re.IGNORECASE)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def calendar_column(frame: Any, parts: Sequence[str], name: str, path: str) -> Any:
    """``frame`` with the time written in separate columns (``data.source.time_column=[year,quarter]``,
    ``[year,month]`` or ``[year,month,day]``, as statistics offices publish) joined into one column of
    dates named ``name`` (first), the parts dropped. The second part is a quarter when its name says so
    (quarter, qtr, q), else a month (a number or a name); every value is checked, the row named."""
    import pandas as pd

    absent = [p for p in parts if p not in frame.columns]
    if absent:
        raise UserError(f"data.source.time_column {list(parts)}: {absent} not in '{path}'; its columns are "
                        f"{[str(c) for c in frame.columns]}")
    where = f"data.source.time_column {list(parts)} in '{path}'"
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

    if not pd.api.types.is_numeric_dtype(times):
        return ""
    for other in frame.columns:
        kind = "quarter" if _QUARTER.fullmatch(str(other).strip()) else "month" if _MONTH.fullmatch(
            str(other).strip()) else None
        if kind and other != column and not frame[[other]].assign(__time__=times.to_numpy()).duplicated().any():
            return (f"column '{other}' holds the {kind} of each year: set data.source.time_column=[{column},{other}] "
                    "to read the two as one date")
    return ""
