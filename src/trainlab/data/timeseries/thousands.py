"""Numbers written with thousands separators ('1,120', '1.234,5', '1 234,5', "1'234.5"), as spreadsheets export
them: a column whose every value fits one way is read as numbers (:func:`grouped_numbers`, which
:mod:`trainlab.data.timeseries.values` calls among the ways it reads a column); :func:`no_numbers` tells the values
that fit no way apart from those that do, so that one stray text among grouped numbers is named as a typo;
:func:`mixed_marks` finds a column that mixes the two decimal marks ('1.5' beside '2,5'), refused naming a row of each.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np


# numbers as spreadsheets write them with thousands separators: (separator, decimal mark, example);
# every value of a column must fit one way, with whole groups of three digits ("1,120" not "1,12")
_GROUPINGS = ((",", ".", "1,234.5"), (".", ",", "1.234,5"), (" ", ",", "1 234,5"), (" ", ".", "1 234.5"),
              ("'", ".", "1'234.5"))


def grouped_numbers(column) -> Optional[tuple[Any, str, str]]:
    """(the values as numbers, the way they were written, the first grouped value and its number) for a
    text column whose every value is a number with thousands separators (one value grouped at least),
    else None."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return None
    text = column.dropna().astype(str).str.strip().str.replace("\u00a0", " ").str.replace("\u202f", " ")
    if text.empty:
        return None
    for sep, decimal, example in _GROUPINGS:
        s, d = re.escape(sep), re.escape(decimal)
        grouped = text.str.fullmatch(rf"[-+]?\d{{1,3}}({s}\d{{3}})+({d}\d*)?")
        if grouped.any() and (grouped | text.str.fullmatch(rf"[-+]?\d+({d}\d*)?")).all():
            plain = column.astype(str).str.strip().str.replace("\u00a0", "").str.replace("\u202f", "")
            plain = plain.str.replace(sep, "", regex=False).str.replace(decimal, ".", regex=False)
            values = pd.to_numeric(plain.where(column.notna()), errors="coerce")
            first = int(np.flatnonzero(grouped.to_numpy())[0])
            return values, f"like {example}", f"'{text.iloc[first]}' as {values[text.index[first]]:g}"
    return None


def no_numbers(bad) -> Any:
    """Of a column's values that the file's reading takes for no number (``bad``), those that are no number written
    with thousands separators either, in the way most of them are (a '1.000,5' column with one 'k.A.' in it: that
    value, a typo, where the whole column was taken for text, a category); ``bad`` itself where none is grouped."""
    text = bad.astype(str).str.strip().str.replace("\u00a0", " ").str.replace("\u202f", " ")
    fits = [text.str.fullmatch(rf"[-+]?\d{{1,3}}({re.escape(sep)}\d{{3}})+({re.escape(mark)}\d*)?")
            for sep, mark, _ in _GROUPINGS]
    best = max(fits, key=lambda fit: int(fit.sum()))
    return bad[~best] if best.any() and not best.all() else bad


_ONE_MARK = r"[-+]?\d*(?P<mark>[.,])\d+"  # a number with one decimal mark: '1.5', '1,5', ',5'


def mixed_marks(column) -> Optional[tuple[Any, Any]]:
    """The first row written with a decimal point and the first with a decimal comma in a text column whose values
    are numbers with one mark or none, both marks among them ('1.5' beside '2,5': a file pasted together from two
    locales); None for any other column."""
    text = column.dropna().astype(str).str.strip()
    found = text.str.extract(f"^{_ONE_MARK}$")["mark"]
    plain = text.str.fullmatch(r"[-+]?\d+")
    if not len(text) or not (found.notna() | plain).all():
        return None
    points, commas = found.index[found == "."], found.index[found == ","]
    return (points[0], commas[0]) if len(points) and len(commas) else None
