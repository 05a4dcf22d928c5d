"""A series laid out wide: a row per year and a column per month (``YEAR,JAN,...,DEC``, as NOAA and
statsmodels' El Niño table have it) or per quarter (``year,Q1,...,Q4``).

Read as written, such a file would be twelve features of a yearly series; :func:`wide_columns` finds
the layout so that the source can refuse it by default and, with ``data.source.layout=wide``,
:func:`long_from_wide` turns it into one monthly (quarterly) series, a date and a value per row.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from trainlab.config.errors import UserError
from trainlab.data.timeseries.times import whole_numbers

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
    return f"'{path}' holds a series laid out wide: a row per year and a column per {kind} ({columns[0]} .. {columns[-1]})"


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
