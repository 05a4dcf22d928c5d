"""Numbers written for "no value", read one way by every family's columns (a series file's targets and inputs, a
catalogue's features and positions): a code such as -999, -9999 or 99.99, IDL's 1e30 and the 1e20 of climate files,
or an infinite value, lying far outside its column's other values, is a missing value, in one warning per column and
code, for the setting that handles gaps (``data.missing``, a catalogue's ``data.source.missing``). A value the rule
cannot tell from data (too few other values beside it) that no column may hold (infinite, or beyond ±1e18) is
refused, the fix an empty cell where it stands for no value.

Read as numbers, such codes trained silently: a NOAA series with -9999 on a few days, a sensor export with -999, 50
colours of -999 among values of about 1 (stars bluer than any star), a parallax of -999 raised to the floor.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

MARGIN = 10.0  # interquartile ranges beyond the column's other values where a code is no value of it
MIN_OTHERS = 5  # values needed beside the codes to tell a code from the column's own range
# float32 reaches 3.4e38; a standard deviation sums squares of the values: 1e18 squared, times a million rows, is
# still finite, while ~2e19 overflows a single square
LARGEST = 1e18
_HUGE = (1e20, 1e30)  # the "huge" fill values written exactly so: IDL's 1e30, netCDF/CMIP's missing_value 1e20


def _codes() -> np.ndarray:
    """Every number written with nines alone, two to seven of them, up to four after the point (99, -999, 99.99,
    -9.9, 9999), and ±1e20 and ±1e30, either sign, also as a float32 column holds them (99.99 there is
    99.98999786..., 1e30 is 1.0000000150e30)."""
    nines = np.array([(10.0 ** digits - 1) / 10.0 ** decimals for digits in range(2, 8)
                      for decimals in range(0, min(digits - 1, 4) + 1)])
    written = np.concatenate([nines, _HUGE])
    both = np.concatenate([written, -written])
    return np.unique(np.concatenate([both, both.astype(np.float32).astype(np.float64)]))


CODES = _codes()


def read_missing_codes(values: np.ndarray, columns: Sequence[str], path: str, missing_key: str,
                       name_row: Callable[[int], str] = "row {}".format) -> list[int]:
    """Missing-value codes in (rows, columns) ``values`` set to NaN in place, one warning per column and code naming
    the file, the column, the code, its count and first row (``name_row`` of its position: a series' time), and how
    to silence it; ``missing_key`` handles them then as any gap. A code (:data:`CODES`, or ±inf) is one where the
    column holds at least ``MIN_OTHERS`` other values and it lies more than ``MARGIN`` interquartile ranges beyond
    their quartiles and farther beyond their extremes than their own span (max - min): 99 among values of about 100
    stays a value, and so does 99.9 mm of rain in a column mostly 0. Returns the positions of the columns changed."""
    changed = []
    for j, column in enumerate(columns):
        if _read_column(values[:, j], str(column), path, missing_key, name_row):
            changed.append(j)
    return changed


def _read_column(values: np.ndarray, column: str, path: str, missing_key: str, name_row: Callable[[int], str]) -> bool:
    """:func:`read_missing_codes` of one column (a view, written in place); True where a code was read."""
    coded = np.isinf(values) | np.isin(values, CODES)  # vectorised: a million-row column is a few milliseconds
    if not coded.any():
        return False
    others = values[~np.isnan(values) & ~coded]
    if len(others) < MIN_OTHERS:  # nothing to tell a code from: an infinite or huge one is refused by check_finite
        return False
    q1, q3 = np.percentile(others, [25, 75])
    spread = max(q3 - q1, np.finfo(float).eps * max(abs(q1), abs(q3), 1.0))
    low, high = others.min(), others.max()
    found = False
    for code in np.unique(values[coded]).tolist():
        if q1 - MARGIN * spread <= code <= q3 + MARGIN * spread or low - (high - low) <= code <= high + (high - low):
            continue  # within the column's own range: a value like any other (99.9 mm of rain in a column mostly 0,
            # whose quartiles are 0 and 0, lies within its other values' span of their extremes)
        hit = values == code
        log.warning("column '%s' in '%s' holds %g in %d row(s) (first at %s), far outside its other values (%.4g to "
                    "%.4g): read as a missing-value code, so those values are missing (%s handles them); write them "
                    "as empty cells to silence this", column, path, code, int(hit.sum()),
                    name_row(int(np.flatnonzero(hit)[0])), low, high, missing_key)
        values[hit] = np.nan
        found = True
    return found


def check_finite(values: np.ndarray, columns: Sequence[str], path: str, key: str, missing_key: str,
                 name_row: Callable[[int], str] = "row {}".format) -> None:
    """Refuse what :func:`read_missing_codes` left: an infinite value, or one so large that float32 (training) or its
    column's standard deviation (scaling) overflows, naming the column and the first row; ``key``: the setting that
    names the column (NaN, a missing value, is ``missing_key``'s)."""
    infinite = np.isinf(values)
    too_large = np.abs(np.where(infinite | np.isnan(values), 0.0, values)) > LARGEST
    empty = f"leave the cell empty (a missing value, which {missing_key} handles)"
    for problem, mask, fix in (
            ("an infinite value", infinite, f"if it stands for no value, {empty}; else correct it"),
            (f"a value beyond ±{LARGEST:.0e}", too_large, f"fix or rescale it, or where it stands for no value {empty}")):
        if mask.any():
            row, col = np.argwhere(mask)[0]
            raise UserError(f"column '{columns[col]}' in '{path}' has {problem} ({name_row(int(row))}: "
                            f"{float(values[row, col])}); {fix}, or leave it out of {key}")
