"""Several series in one file: the long (tidy) layout, ``store,date,sales`` with rows for every store
(M4, M5 and NeuralForecast call the column ``unique_id``).

When a time column repeats, :func:`series_hint` finds the column whose values tell the series apart
(each (value, time) pair once) and says how to pick one; :func:`pick_series` finds the rows of each series
picked before anything else reads them (sorting by time and missing steps act on each alone; the data
module splits, interpolates and windows each series on its own).
"""

from __future__ import annotations

import logging
from itertools import combinations
from typing import Any, Collection, Optional, Sequence, Union

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.values import require_columns, typed_names

log = logging.getLogger(__name__)

SHOWN = 3  # values named in a message before "..."
MAX_CANDIDATES = 8  # columns tried in pairs when no single one tells the series apart

Value = Union[str, int, float]


def series_hint(frame: Any, times: Any, time_column: str, not_series: Collection[str] = (),
                late: Collection[str] = (), within: Optional[tuple[str, str]] = None) -> str:
    """How to read a file whose ``times`` repeat as several series: "column 'store' holds 3 series
    (A, B, C; 200 rows each); pick one with ...", or "" when no column (or pair) makes each time
    unique. Columns in ``not_series`` (the targets) are never taken; those in ``late`` (features
    named by the user) only after the others. A series column holds text, or integers with at most
    half as many distinct values as rows (each series then has two rows or more). ``within``:
    (series column, value) when ``frame`` is one series of ``data.source.series_column``, whose
    times still repeat."""
    names = [c for c in frame.columns if str(c) != time_column and str(c) not in not_series]
    candidates = sorted((c for c in names if _could_name_series(frame[c])),
                        key=lambda c: (str(c) in late, not _is_text(frame[c])))  # stable: file order within
    keys = times.reset_index(drop=True)
    for column in candidates:
        if not _repeats(frame[[column]], keys):
            if within:
                return (f"series {within[0]}={within[1]} holds several itself: column '{column}' tells them apart "
                        f"({_values(_counts(frame[column]))}); join '{within[0]}' and '{column}' into one column and "
                        "name that in data.source.series_column")
            return _describe(frame[column], str(column))
    if within:
        return (f"series {within[0]}={within[1]} repeats its times; keep one row per time step in each series "
                "(aggregate or drop the duplicates) before training")
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
    column = typed_names("data.source.series_column", [name], True)  # each one word to paste: 'Store ID'
    return (f"the file holds several series: column '{name}' holds {len(counts)} ({_values(counts)}); pick one "
            f"with {column} {typed_names('data.source.series', [first], True)}, or train one model on all with "
            f"{column}")


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


def pick_series(frame: Any, column: str, wanted: Optional[Union[Value, Sequence[Value]]], path: str,
                not_series: Collection[str]) -> list[tuple[str, np.ndarray]]:
    """(value, row positions) of each series ``wanted`` in ``column`` (one value, a list, or null:
    every series, in sorted order); every problem (no such column, a column that is a target or the
    time, a value named twice or not in the column) is one line naming the key and the fix."""
    require_columns(frame, [column], path, "data.source.series_column", one=True)
    if column in not_series:
        raise UserError(f"data.source.series_column '{column}' is also a target or the time column; name the "
                        "column that tells the series apart (e.g. store or unique_id)")
    values = frame[column].reset_index(drop=True)
    text = values.astype(str)
    rows = text.groupby(text, sort=False).indices  # value as written -> its row positions, in one pass
    counts = _counts(values)
    if wanted is None:
        empty = np.flatnonzero(values.isna().to_numpy())
        if len(empty):  # its rows would belong to no series
            raise UserError(f"data.source.series_column '{column}' in '{path}' is empty in {len(empty)} row(s) (first "
                            f"row {empty[0]}); fill them (every row needs its series) or pick series with "
                            "data.source.series")
        return [(str(v), rows[str(v)]) for v in counts.index]
    given = [wanted] if isinstance(wanted, (str, int, float)) else list(wanted)
    twice = sorted({str(v) for v in given if [str(w) for w in given].count(str(v)) > 1})
    if twice or not given:
        raise UserError(f"data.source.series={[str(v) for v in given]} " + (f"names {twice} more than once; name "
                        "each series once" if twice else "is empty; name a series, or null for all"))
    picks = [(str(v), rows.get(str(v), _as_number(values, v))) for v in given]
    unknown = [value for value, positions in picks if len(positions) == 0]
    if unknown:
        raise UserError(f"data.source.series: no row of '{path}' has {column}={', '.join(unknown)}; its "
                        f"{len(counts)} series are {_values(counts)}")
    return picks


def series_label(column: str, values: Sequence[str]) -> str:
    """The series of a run in a name and in its checkpoint: "store=A", "store=A,B,C"; beyond a dozen
    series their count, first and last, and a digest of them all (so that another pick differs)."""
    import hashlib

    if len(values) <= 12:
        return f"{column}={','.join(values)}"
    digest = hashlib.sha1("\n".join(values).encode()).hexdigest()[:10]
    return f"{column}={len(values)} series {values[0]} .. {values[-1]} ({digest})"


def _as_number(values: Any, value: Value) -> np.ndarray:
    """Row positions of ``value`` read as a number in a column of numbers (Hydra reads ``series=3`` as
    3, a file may hold 3.0); none elsewhere."""
    import pandas as pd

    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if not pd.api.types.is_numeric_dtype(values) or pd.isna(number):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero((values == number).to_numpy())


def stacked(frames: list[Any]) -> Any:
    """One frame of the series' rows, one series after the other."""
    import pandas as pd

    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
