"""Several series in one file: the long (tidy) layout, ``store,date,sales`` with rows for every store
(M4, M5 and NeuralForecast call the column ``unique_id``).

When a time column repeats, :func:`series_hint` finds the column whose values tell the series apart
(each (value, time) pair once) and says how to pick one; :func:`select_series` keeps one series' rows
before anything else reads the file (sorting by time, gaps, statistics and splits act on them alone).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Collection, Optional, Sequence, Union

import numpy as np

from trainlab.config.errors import UserError

SHOWN = 3  # values named in a message before "..."
MAX_CANDIDATES = 8  # columns tried in pairs when no single one tells the series apart

Value = Union[str, int, float]


def series_hint(frame: Any, times: Any, time_column: str, not_series: Collection[str] = (),
                late: Collection[str] = ()) -> str:
    """How to read a file whose ``times`` repeat as several series: "column 'store' holds 3 series
    (A, B, C; 200 rows each); pick one with ...", or "" when no column (or pair) makes each time
    unique. Columns in ``not_series`` (the targets) are never taken; those in ``late`` (features
    named by the user) only after the others. A series column holds text, or integers with at most
    half as many distinct values as rows (each series then has two rows or more)."""
    names = [c for c in frame.columns if str(c) != time_column and str(c) not in not_series]
    candidates = sorted((c for c in names if _could_name_series(frame[c])),
                        key=lambda c: (str(c) in late, not _is_text(frame[c])))  # stable: file order within
    keys = times.reset_index(drop=True)
    for column in candidates:
        if not _repeats(frame[[column]], keys):
            return _describe(frame[column], str(column))
    for pair in combinations(candidates[:MAX_CANDIDATES], 2):
        if not _repeats(frame[list(pair)], keys):
            labels = frame[list(pair)].astype(str).agg("/".join, axis=1)
            counts = _counts(labels)
            return (f"columns '{pair[0]}' and '{pair[1]}' together tell {len(counts)} series apart "
                    f"({_values(counts)}); join them into one column and pick a series with "
                    "data.source.series_column=<that column> data.source.series=<value>")
    return ""


def _is_text(column: Any) -> bool:
    import pandas as pd

    return (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
            or isinstance(column.dtype, pd.CategoricalDtype))


def _could_name_series(column: Any) -> bool:
    import pandas as pd

    distinct = column.nunique(dropna=True)
    if distinct < 2:
        return False
    if _is_text(column):
        return True
    return pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column) \
        and 2 * distinct <= len(column)


def _repeats(columns: Any, times: Any) -> bool:
    """Whether some (columns' values, time) pair occurs twice."""
    keyed = columns.reset_index(drop=True).assign(__time__=times)
    return bool(keyed.duplicated().any())


def _describe(column: Any, name: str) -> str:
    counts = _counts(column)
    first = counts.index[0]
    return (f"the file holds several series: column '{name}' holds {len(counts)} ({_values(counts)}); pick one "
            f"with data.source.series_column={name} data.source.series={first}")


def _counts(column: Any) -> Any:
    """Rows per value, the values in order (file order where they do not sort: text mixed with numbers)."""
    counts = column.value_counts(sort=False)
    try:
        return counts.sort_index()
    except TypeError:
        return counts


def _values(counts: Any) -> str:
    """'A, B, C; 200 rows each' or 'A, B, C, ... (12 in all); 50 to 200 rows'."""
    shown = ", ".join(str(v) for v in counts.index[:SHOWN])
    if len(counts) > SHOWN:
        shown += f", ... ({len(counts)} in all)"
    low, high = int(counts.min()), int(counts.max())
    return f"{shown}; {low} rows each" if low == high else f"{shown}; {low} to {high} rows"


def select_series(frame: Any, column: str, wanted: Optional[Union[Value, Sequence[Value]]], path: str,
                  not_series: Collection[str]) -> tuple[np.ndarray, str]:
    """(row mask, label such as "store=A") of the one series ``wanted`` in ``column``; every problem
    (no such column, a column that is a target, no series or several named, a value not in the
    column) is one line naming the key and the fix."""
    if column not in frame.columns:
        raise UserError(f"data.source.series_column '{column}' not in '{path}'; its columns are "
                        f"{[str(c) for c in frame.columns]}")
    if column in not_series:
        raise UserError(f"data.source.series_column '{column}' is also a target or the time column; name the "
                        "column that tells the series apart (e.g. store or unique_id)")
    counts = _counts(frame[column])
    if wanted is None:
        raise UserError(f"data.source.series_column={column} is set but data.source.series is null; pick one of its "
                        f"{len(counts)} series ({_values(counts)}), e.g. data.source.series={counts.index[0]}")
    values = [wanted] if isinstance(wanted, (str, int, float)) else list(wanted)
    if len(values) != 1:
        raise UserError(f"data.source.series={values} names {len(values)} series; one model learns one series for "
                        f"now: pick one, e.g. data.source.series={counts.index[0]}")
    mask = _rows_of(frame[column], values[0])
    if not mask.any():
        raise UserError(f"data.source.series={values[0]}: no row of '{path}' has {column}={values[0]}; pick one of "
                        f"its {len(counts)} series ({_values(counts)})")
    return mask, f"{column}={values[0]}"


def _rows_of(column: Any, value: Value) -> np.ndarray:
    """Rows whose value is ``value``, compared as written (``A``, ``007``) or, in a column of numbers,
    as a number (Hydra reads ``series=3`` as 3, a file may hold 3.0)."""
    import pandas as pd

    mask = (column.astype(str) == str(value)).to_numpy()
    if not mask.any() and pd.api.types.is_numeric_dtype(column):
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        mask = (column == number).to_numpy() if pd.notna(number) else mask
    return mask
