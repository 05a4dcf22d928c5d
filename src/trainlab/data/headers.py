"""Whether a table's first row is its header or already data: a file exported without a header (``1700,5.0``,
``2021-01-01,12.5``, as a logger, ``np.savetxt`` or ``to_csv(header=False)`` writes it) had its first row taken for
column names ('1700', '5.0'), which lost that row and named no column a setting could give. Such a file is read
with its columns named by position, ``0``, ``1``, ... (as an NPY file's are), said in a log line, by the CSV
reader (:mod:`trainlab.data.files`) and the workbook reader (:mod:`trainlab.data.workbooks`) alike.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence

_NUMBER = re.compile(r"[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?")
_DATE = re.compile(r"\d{1,4}([-/.])\d{1,2}\1\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?(Z|[ ]?[-+]\d{2}:?\d{2})?")


def _a_value(cell: Any) -> bool:
    """A number or a date (as text, or a workbook's typed cell), which no header names a column by."""
    if isinstance(cell, (int, float, dt.date, dt.datetime, dt.time)) and not isinstance(cell, bool):
        return True
    text = str(cell).strip() if cell is not None else ""
    return bool(_NUMBER.fullmatch(text) or _DATE.fullmatch(text))


def _filled(cell: Any) -> bool:
    return cell is not None and bool(str(cell).strip())


def is_data_row(first: Sequence[Any], below: Sequence[Sequence[Any]]) -> bool:
    """Whether a table's first row holds values rather than column names, judged by the rows ``below`` it (a
    sample): a number or a date in it where the rows below hold them too, and no name (text, or an empty cell)
    over a column of numbers or dates. Its numbers that are whole and count up by one (``1960,1961,1962`` beside
    ``Country Name``: a column per year; ``0,1,2``: columns numbered) are names still."""
    values = 0
    for j, cell in enumerate(first):
        column = [row[j] for row in below if j < len(row) and _filled(row[j])]
        numeric = bool(column) and sum(map(_a_value, column)) * 2 >= len(column)
        if not (_filled(cell) and _a_value(cell)):
            if numeric:
                return False  # a name over numbers
            continue
        values += numeric
    whole = [str(cell).strip() for cell in first if _filled(cell) and _a_value(cell)]
    if len(whole) > 1 and all(re.fullmatch(r"\d+(\.0)?", w) for w in whole):
        numbers = [int(float(w)) for w in whole]
        if all(b - a == 1 for a, b in zip(numbers, numbers[1:])):
            return False
    return values > 0


# pandas' words for a missing value (and the agencies' marks with letters): a cell of data, not a unit
_MISSING_WORDS = {"na", "n/a", "nan", "null", "none", "#n/a", "<na>", "n.a.", "k.a.", "nd", "n.d."}


def is_units_row(row: Sequence[Any], below: Sequence[Sequence[Any]]) -> bool:
    """Whether the row under a header holds the columns' units (``,bn USD 2005,%``, ``date,ppm``: a second header
    line as agencies and loggers write it) rather than data: no number or date in it, and text over a column whose
    rows ``below`` (a sample) hold numbers or dates. Read as data, it made every such column text (a target refused
    with its first value as a typo) and gave the time column an empty first value."""
    units = 0
    for j, cell in enumerate(row):
        if not _filled(cell):
            continue
        if _a_value(cell) or str(cell).strip().lower() in _MISSING_WORDS:
            return False
        column = [r[j] for r in below if j < len(r) and _filled(r[j])]
        units += bool(column) and all(map(_a_value, column))
    return units > 0


def positions(width: int) -> list[str]:
    """Column names by position, as an NPY file's: '0', '1', ..."""
    return [str(i) for i in range(width)]


def describe(where: str, first: Sequence[Any]) -> str:
    """The log line of a table (``where``: the file, or its sheet, quoted) read without a header."""
    shown = ", ".join(str(cell) for cell in list(first)[:4]) + (", ..." if len(first) > 4 else "")
    named = ", ".join(positions(min(len(first), 3))) + (", ..." if len(first) > 3 else "")
    return f"{where}: its first row ({shown}) holds values, not column names: read as data, the columns named {named}"
