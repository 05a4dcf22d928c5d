"""Columns of dates a table may hold beside its time column: dates stored as dates (a Parquet datetime column, a
workbook's date cells), dates under no name (a pandas index saved with the table: ``Unnamed: 0`` in a CSV,
``index`` in a Parquet file), text that reads as dates, and a written row counter (no dates, no feature).
"""

from __future__ import annotations

import logging
import re
from typing import Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)


# what a date or time holds beyond what pandas' parser takes for one: two groups of digits (2020-03, 03:00, 1/5), a
# year, or a month's name beside a number (Mar-20, 5 May); an ordinal alone ('1st', '2nd': a shift, a class) is
# a day of this month to the parser, and a column of them was refused as dates
DATE_LIKE = r"\d+\D+\d+|\d{4}|[A-Za-z]{3,}\W*\d|\d\W*[A-Za-z]{3,}"


def looks_like_times(column) -> bool:
    """Whether a text column's first values read as dates (a time column not named as one)."""
    import warnings

    import pandas as pd

    head = column.dropna().astype(str).head(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(head) > 0 and pd.to_datetime(head, errors="coerce", format="mixed").notna().all()


def stored_dates(column) -> bool:
    """Whether a column holds dates stored as dates (a Parquet datetime column, a frame's DatetimeIndex saved with
    it, a workbook's date cells): refused as an input as the same dates written as text in a CSV are."""
    import pandas as pd

    return pd.api.types.is_datetime64_any_dtype(column) or isinstance(column.dtype, pd.PeriodDtype)


def unnamed_dates(frame, columns: Sequence[str]) -> Optional[str]:
    """The column without a name that holds dates, as pandas names one read back: ``Unnamed: 0`` in a CSV,
    ``index`` in a Parquet file (trainlab.data.files); None where there is none."""
    for c in columns:
        if (c == "index" or re.fullmatch(r"Unnamed: \d+", c)) and (
                stored_dates(frame[c]) or looks_like_times(frame[c])):
            return c
    return None


def written_index(frame) -> list[str]:
    """Columns that are a table index written along (``DataFrame.to_csv()`` without ``index=False``:
    an unnamed column counting 0, 1, 2 ...): a row counter, not a feature; logged when left out."""
    found = [str(c) for c in frame.columns if str(c).startswith("Unnamed: ")
             and np.array_equal(frame[c].to_numpy(), np.arange(len(frame)))]
    if found:
        log.info("column(s) %s count the rows (an index written with the table): not used as features", found)
    return found
