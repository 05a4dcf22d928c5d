"""A file's columns as numbers: text refused with the column and row named (and the likely reason:
a date column not named as the time, decimal commas in a comma-separated file), numbers written with
thousands separators read, cells marked as missing ('-', '.', ':', 'n/a') read as missing, numbers written for no
value read as missing or refused (:mod:`trainlab.data.missing_codes`), a written index left out.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Collection, Optional, Sequence, Union

import numpy as np

from trainlab.config.errors import UserError, nearest
from trainlab.data.missing_codes import check_finite, read_missing_codes
from trainlab.data.timeseries.date_columns import DATE_LIKE, looks_like_times, stored_dates, unnamed_dates
from trainlab.data.timeseries.thousands import grouped_numbers, mixed_marks, no_numbers
from trainlab.data.timeseries.units import codes_of, numbers_with_unit, units_of
from trainlab.data.sheet_advice import sheet_advice

log = logging.getLogger(__name__)


def numeric_columns(frame, columns: list[str], path: str, role: str, allow_missing: bool = False,
                    name_row: Callable[[int], str] = "row {}".format, others: Sequence[str] = (),
                    missing_key: str = "data.missing", codes: bool = True) -> np.ndarray:
    """Columns as float64, refusing text (and missing values unless ``allow_missing``: they become
    NaN) with the column and row named (``name_row`` of the frame's row number: its time, in a file
    read in time order); ``others``: the inputs read otherwise (categories), kept in the inputs a refusal gives;
    ``missing_key``: the setting that handles missing values, as lines name it (a catalogue's data.source.missing);
    ``codes``: as :func:`text_columns` takes it."""
    import pandas as pd

    require_columns(frame, columns, path, f"data.source.{role}_columns")
    text = []  # (column, its values that are no number)
    decimal = frame.attrs.get("decimal", ".")  # the decimal mark the file was read with (files.py)
    for c in columns:
        _clean(frame, c, path, decimal, missing_key, codes)
        if stored_dates(frame[c]):  # pd.to_numeric gives their nanoseconds since 1970, a number of no meaning here
            text.append((c, frame[c].dropna().astype(str)))
            continue
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
            values = _as_numbers(frame[c], decimal)
            bad = frame[c][values.isna() & frame[c].notna()]
            if len(bad) or pd.api.types.is_bool_dtype(frame[c]):
                text.append((c, no_numbers(bad) if len(bad) else bad))
            else:  # numbers written as text beside the missing-value marks read above
                frame[c] = values
    if text:
        raise UserError(_text_problem(text, [*columns, *others], path, role, name_row, frame, missing_key))
    values = frame[columns].to_numpy(dtype=np.float64, copy=True)  # writable: codes become NaN in it

    def labelled(row: int) -> str:  # a row by its label, as the refusal of text names it
        return name_row(frame.index[row])

    for j in read_missing_codes(values, columns, path, missing_key, labelled):  # -999, 1e30, inf far off the rest
        frame[columns[j]] = values[:, j].copy()  # a column read twice (a position and a feature) is warned once
    if not allow_missing:
        refuse_missing(values, columns, f"'{path}'", name_row=name_row)
    check_finite(values, columns, path, f"data.source.{role}_columns", missing_key, labelled)
    return values  # float64: a series around 1e9 keeps its digits until the data module standardises it


def _clean(frame, c: str, path: str, decimal: str, missing_key: str = "data.missing", codes: bool = True) -> None:
    """Column ``c`` of ``frame`` as the file means it, in place, logged: missing-value marks as empty cells, truth
    values as 1 and 0, numbers written as text or with thousands separators as numbers (a column already read so
    is left as it is); ``codes``: as :func:`text_columns` takes it."""
    import pandas as pd

    if stored_dates(frame[c]) or isinstance(frame[c].dtype, pd.CategoricalDtype):  # no marks, flags or units in it:
        return  # read as numbers, dates became nanoseconds since 1970, and categories (Parquet's) their codes
    marked = _missing_marks(frame[c])
    if marked is not None:
        log.info("column '%s' in '%s' marks %d missing value(s) with %s: read as missing (%s handles them)",
                 c, path, marked[1], marked[2], missing_key)
        frame[c] = marked[0]
    flags = _flags(frame[c])
    if flags is not None:  # an event's flag: 1 where it holds (a Parquet bool column, a CSV's True/False, yes/no)
        log.info("column '%s' in '%s' holds %s: read as 1 and 0", c, path, flags[1])
        frame[c] = flags[0]
    plain = _plain_numbers(frame[c], decimal)
    if plain is not None:  # '10.125' beside a '-' is 10.125 as the file's reader takes it, not grouped 10125
        frame[c] = plain
    grouped = grouped_numbers(frame[c])
    if grouped is not None:
        log.info("column '%s' in '%s' writes its numbers with thousands separators (%s): read as numbers, "
                 "e.g. %s", c, path, grouped[1], grouped[2])
        frame[c] = grouped[0]
    unit = numbers_with_unit(frame[c], lambda text: _numbers_as_written(text, decimal), codes)
    found = codes_of(frame[c]) if not pd.api.types.is_numeric_dtype(frame[c]) else None
    shown = ", ".join(repr(code) for code in (found or [])[:3]) + (", ..." if len(found or []) > 3 else "")
    if found is not None and unit is not None:  # a saved run's column of numbers (codes=False): read as it was
        log.info("column '%s' in '%s' holds codes of a number and letters (%s), which new runs read as a category; "
                 "this run was trained with them as numbers in the unit '%s' (before that rule), and reads them so",
                 c, path, shown, unit[1])
        frame[c] = unit[0]
        return
    if found is not None:  # '4G', '5G': read as numbers 4 and 5 with the unit 'G' before
        log.info("column '%s' in '%s' holds codes of a number and letters (%s): read as a category, not as numbers in "
                 "a unit (numbers are read so with a space before their unit, '5 G', or a unit of more than one "
                 "letter, '12kg')", c, path, shown)
    if unit is not None:  # '1120 m3' in every cell: read as 1120, the unit said (it was refused as a category)
        log.info("column '%s' in '%s' writes its numbers with the unit '%s' (e.g. '%s'): read as the numbers (codes, "
                 "not amounts, are categories where data.source.categorical_columns names the column)", c, path,
                 unit[1], unit[2])
        frame[c] = unit[0]


def text_columns(frame, columns: Sequence[str], path: str, missing_key: str = "data.missing",
                 codes: bool = True) -> list[str]:
    """The ``columns`` that hold text meant as text (a category: a weekday's name, a region), read as such once
    their missing-value marks are empty cells; not a column of numbers, flags, numbers with a few typos among them,
    decimal commas in a comma-separated file or dates (:func:`numeric_columns` refuses those with their fix); a
    column of a categorical dtype (a Parquet file's categories, integer codes among them) is one whatever it holds.
    ``codes``: codes of a number and letters ('4G', '5G') are text, a category (False: a saved run's columns, each
    of which it read as numbers unless it records it as a category, trainlab.data.categories.read_by; a run trained
    before this codes rule read '4G' as 4 in the unit 'G', and is read so again)."""
    import pandas as pd

    decimal = frame.attrs.get("decimal", ".")
    found = []
    for c in columns:
        _clean(frame, c, path, decimal, missing_key, codes)
        column = frame[c]
        if isinstance(column.dtype, pd.CategoricalDtype):  # stored as categories (Parquet), integer codes too
            found.append(c)
            continue
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        values = _as_numbers(column, decimal)
        bad = column[values.isna() & column.notna()]
        if len(bad) and _reading(column, no_numbers(bad)) == "text":
            found.append(c)
    return found


def _reading(column, bad) -> str:
    """What a column's values that are no number (``bad``, not empty) are: "decimal commas" ('1,12' in a
    comma-separated file), "typos" (a few among numbers: at most 3, or 1 %, in a column mostly of numbers),
    "dates" (a time column not named as one; a month's or a weekday's name alone, without a digit, is no date: a
    category), "units" (numbers in several units, '12 kg' beside '500 g'), "mixed marks" (decimal points beside
    decimal commas: thousands.mixed_marks), else "text" (a category, free text)."""
    if mixed_marks(column) is not None:
        return "mixed marks"
    if re.fullmatch(r"[-+]?\d+,\d+", str(bad.iloc[0]).strip()):  # '1,12' also reads as a date
        return "decimal commas"
    if looks_like_times(column) and column.dropna().head(20).astype(str).str.contains(DATE_LIKE).all():
        return "dates"
    units = units_of(column)
    if units is not None and len(units) > 1 and not all(len(unit) == 1 and unit.isalpha() for unit in units) \
            and codes_of(column) is None:
        return "units"  # '12 kg' beside '500 g' (one unit throughout is read by _clean); '1A' beside '2B', '2G' beside
        # '4G+' or '4WD' beside '2WD' are codes
    written = int(column.notna().sum())
    # a mistyped reading among numbers: few, and the column mostly numbers (a few texts alone are a category)
    if len(bad) <= max(3, written // 100) and len(bad) < written - len(bad):
        return "typos"
    return "text"


_FLAG_PAIRS = (("true", "false"), ("yes", "no"))


def _flags(column) -> Optional[tuple[Any, str]]:
    """A column of truth values (True/False, or the words true/false or yes/no in any case, with empty
    cells) as 1.0/0.0 (NaN where empty), and the pair it holds for the log line; None for any other column."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) and not column.isna().any():  # a Parquet bool column, a CSV's True/False
        seen = [v for v in ("True", "False") if (column == (v == "True")).any()]
        return column.astype(np.float64), "/".join(seen) if len(seen) == 2 else f"{seen[0]} only (of True/False)"
    if pd.api.types.is_numeric_dtype(column):
        return None
    first = column.first_valid_index()
    if first is None or str(column[first]).strip().lower() not in {w for pair in _FLAG_PAIRS for w in pair}:
        return None  # the usual text column (a category, numbers beside a mark) is told by its first value
    distinct = pd.unique(column.dropna())  # a few values: looked at one by one, not the rows
    words = {value: str(value).strip().lower() for value in distinct[:5]}
    if not len(distinct) or len(distinct) > 4:  # a flag is written at most two ways per pair ('Yes', 'yes')
        return None
    for pair in _FLAG_PAIRS:
        if all(word in pair for word in words.values()):
            ones = column.isin([value for value, word in words.items() if word == pair[0]]).to_numpy(np.float64)
            values = pd.Series(np.where(column.isna().to_numpy(), np.nan, ones), index=column.index)
            seen = sorted({str(v).strip() for v in distinct}, key=lambda v: (v.lower() != pair[0], v))
            # 'Yes', 'yes' and 'No' are both words of the pair, written three ways
            both = len({v.lower() for v in seen}) == 2
            return values, "/".join(seen) if both else f"{'/'.join(seen)} only (of {'/'.join(pair)})"
    return None


def _text_problem(text: list, columns: list[str], path: str, role: str, name_row: Callable[[int], str],
                  frame, missing_key: str = "data.missing") -> str:
    """The line refusing columns of text: the first named with its first value that is no number, and the
    fix: a few such values among numbers are typos to correct; a column of text among the inputs is left
    out by the list of the others."""
    c, bad = text[0]
    line = f"column '{c}' in '{path}' is not numeric"
    line += f" ({name_row(bad.index[0])}: {bad.iloc[0]!r})" if len(bad) else ""
    written = int(frame[c].notna().sum())
    reading = _reading(frame[c], bad) if len(bad) else "text"
    if reading == "mixed marks":
        point, comma = mixed_marks(frame[c])
        mark, other = (",", ".") if frame.attrs.get("decimal", ".") == "," else (".", ",")
        return (f"column '{c}' in '{path}' mixes decimal points ({name_row(point)}: {frame[c][point]!r}) and decimal "
                f"commas ({name_row(comma)}: {frame[c][comma]!r}); write every number of it with the file's decimal "
                f"{'comma' if mark == ',' else 'point'} (replace {other!r} by {mark!r} in that column)")
    if reading == "decimal commas":
        return (f"{line}; its numbers have decimal commas inside a comma-separated file: save it with decimal "
                "points, or separated by semicolons (read with decimal commas)")
    if reading == "units":
        shown = ", ".join(repr(u) for u in units_of(frame[c])[:4])
        return (f"{line}; its numbers are written in different units ({shown}): write them in one unit in the file "
                "(numbers with the same unit in every cell are read as the numbers)")
    dates = reading == "dates"
    if reading == "typos":
        shown = ", ".join(repr(v) for v in bad.iloc[:3]) + (", ..." if len(bad) > 3 else "")
        if len(bad) == 1:
            return (f"{line}; 1 of its {written} values is no number ({shown}): correct it in the file, or empty "
                    f"that cell (a missing value, which {missing_key} handles)")
        return (f"{line}; {len(bad)} of its {written} values are no number ({shown}): correct them in the file, or "
                f"empty those cells (missing values, which {missing_key} handles)")
    if role == "target" and len(bad) and not dates:  # the time-series family's: categories among inputs are encoded
        return (f"{line}; a forecast of a category is classification, which the time-series family does not do: "
                "give a numeric target (a category among the inputs is read as one 0/1 input per value)")
    also = [name for name, _ in text[1:]] if role == "feature" else []
    line += f", nor is {', '.join(repr(name) for name in also)}" if also else ""
    them = "them" if also else "it"
    fix = f"convert it or leave it out of data.source.{role}_columns"
    if role == "feature":
        kept = [name for name in columns if name not in {name for name, _ in text}]
        fix = (f"{'' if dates else f'make {them} numbers in the file (a category: a 0/1 column per value) or '}"
               f"leave {them} out of the inputs: {typed_names('data.source.feature_columns', kept, False)}")
    time = typed_names("data.source.time_column", [c], True)
    return f"{line}; if it is the time, set {time}; else {fix}" if dates else f"{line}; {fix}"


def require_columns(frame, names: Sequence[str], path: str, key: str, one: bool = False, taken: Sequence[str] = (),
                    spellings: Optional[dict[str, Sequence[str]]] = None) -> None:
    """Refuses ``names`` the file lacks, with its columns and, where each name has a near column (``demand``
    for ``Demand (MW)``, ``Region`` for ``region``), the setting that names them; ``one``: ``key`` takes one
    name, not a list. ``taken``: columns other settings read, never offered (``pmra`` is no spelling of ``ra``:
    a position offered it placed the stars by their proper motions); ``spellings``: a name's other spellings in
    archives, tried before the near ones (VizieR's ``RA_ICRS`` for ``ra``)."""
    columns = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in columns]
    if not missing:
        return
    named = f"{key} '{missing[0]}'" if one else f"{key}: {missing}"
    free = [c for c in columns if c not in taken or c in names]
    known = archive_spelled(free, missing, spellings or {})
    meant = [n if n in columns else known[n] or next(iter(nearest(n, free)), None) for n in names]
    hint = f"; did you mean {typed_names(key, meant, one)}?" if None not in meant else ""
    unnamed = unnamed_dates(frame, free) if key == "data.source.time_column" and not hint else None
    if unnamed is not None:  # a frame's unnamed DatetimeIndex saved with it: no name near any the user would guess
        hint = (f"; the dates are in the column without a name, {unnamed!r} (a pandas index saved with the table): "
                f"{typed_names(key, [unnamed], one)}")
    sheet = sheet_advice(frame, path, missing)  # a workbook's other sheet that holds them
    if frame.attrs.get("headerless"):  # named by position: a spelling near '5.0' or 'SUNACTIVITY' means nothing
        # several names (ra, dec, parallax) take one column number each, in order: a lone last column for them
        # (position_columns=['8']) was a wrong example, so each is a place to fill, named by what it holds
        example = (typed_names(key, [columns[-1]], one) if one or len(names) == 1 else
                   f"{key}=[{','.join(f'<{n}>' for n in names)}], each the number of its column (0 to {len(columns) - 1})")
        raise UserError(f"{named} not in '{path}', which has no header (its first row holds values, read as data): "
                        f"its columns are named by position, {columns}; name them so, e.g. {example}, or add a header "
                        "row to the file")
    raise UserError(f"{named} not in '{path}'; its columns are {columns}{sheet if ' holds ' in sheet else hint + sheet}")


def archive_spelled(columns: Sequence[str], names: Sequence[str],
                    spellings: dict[str, Sequence[str]]) -> dict[str, Optional[str]]:
    """Each of ``names`` -> the first of ``columns`` that is one of its ``spellings`` in an archive (any case:
    VizieR's ``RA_ICRS`` for ``ra``), or None: offered by :func:`require_columns` as the setting to give, and by
    predict.py, which keeps its run's settings, as the column to rename."""
    folded = {c.casefold(): c for c in reversed(list(columns))}
    return {n: next((folded[s.casefold()] for s in spellings.get(n, ()) if s.casefold() in folded), None)
            for n in names}


def typed_names(key: str, names: list, one: bool) -> str:
    """``key=<names>`` as typed in a shell, one word to paste: ``"data.source.target_columns=['Demand (MW)']"``,
    ``'data.source.time_column=Unnamed: 0'`` (written bare, a shell split it into two words)."""
    import shlex

    from trainlab.config.spelling import quoted_text

    # a series named by a number (store 7) stays a number: the pick compares them as text
    written = [quoted_text(name) if isinstance(name, str) else str(name) for name in names]
    word = f"{key}={written[0] if one else '[' + ','.join(written) + ']'}"
    if "'" in word and not re.search(r"[\"$`\\!]", word):
        return f'"{word}"'  # the shell's quotes outside Hydra's single quotes
    return shlex.quote(word)  # '...=[temperature]': a shell may read [..] as a pattern of file names


# cells that say "no value" in the ways statistics agencies and spreadsheets write it (FRED '.', Eurostat ':',
# '-' and '..' in many national tables, 'NA ' with a space), beyond the exact words pandas' reader takes as missing
_MISSING_MARKS = frozenset({"-", "--", "---", "\u2013", "\u2014", ".", "..", "...", ":", "?", "na", "n/a", "n.a.", "nan",
                            "null", "none", "missing", "#n/a", "#na", "<na>"})
MISSING_MARKS = _MISSING_MARKS  # read by a catalogue's sexagesimal ra and dec too (data/graph/sky.py)


def _missing_marks(column) -> Optional[tuple[Any, int, str]]:
    """(the column with its missing-value marks as empty cells, how many, the marks written) for a text column
    that holds such marks, else None."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return None
    text = column.astype(str).str.strip()
    marked = column.notna() & text.str.lower().isin(_MISSING_MARKS)
    if not marked.any():
        return None
    marks = ", ".join(repr(m) for m in dict.fromkeys(text[marked]))
    return column.mask(marked), int(marked.sum()), marks


def _plain_numbers(column, decimal: str) -> Optional[Any]:
    """A text column's values as numbers where every one is written as the file's reader takes numbers
    (:func:`_as_numbers`), else None: a column left as text by a missing-value mark in it reads '10.125' as the
    file's numeric columns do, not as 10125 grouped in thousands."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) or column.isna().all():
        return None
    values = _as_numbers(column, decimal)
    return None if (values.isna() & column.notna()).any() else values


def _numbers_as_written(column, decimal: str) -> Optional[Any]:
    """A text column of numbers as the file writes them (its decimal mark, or grouped in thousands), else None."""
    plain = _plain_numbers(column, decimal)
    grouped = grouped_numbers(column) if plain is None else None
    return plain if plain is not None else None if grouped is None else grouped[0]


_DECIMAL_COMMA = r"\s*[-+]?(\d+(,\d*)?|,\d+)([eE][-+]?\d+)?\s*"  # '10,5' in a file read with decimal commas


def _as_numbers(column, decimal: str) -> Any:
    """A text column as numbers written with ``decimal`` as the decimal mark, as the file's reader takes them
    (files.py gives the frame's ``attrs["decimal"]``: ',' in a file separated by ';' with digit,digit values), NaN
    where a value is none; no thousands separator ('1.234,5' is :func:`~trainlab.data.timeseries.thousands.grouped_numbers`')."""
    import pandas as pd

    if decimal == ",":  # '1.234' there groups thousands: no number of this reading
        text = column.astype(str)
        comma = column.notna() & text.str.fullmatch(_DECIMAL_COMMA)
        column = text.str.replace(",", ".", regex=False).where(comma)
    return pd.to_numeric(column, errors="coerce")


def with_values(frame, columns: list[str], path: str, named: bool, kept: Collection[str] = ()) -> list[str]:
    """``columns`` without those that hold no value in any row (a spreadsheet's empty column, or the
    'Unnamed: 3' a separator at the end of every line makes), logged; ``named`` (listed in
    data.source.feature_columns) such a column is refused: as an input, every window would touch its gap.
    ``kept``: columns kept however empty (a saved run's categories: an empty cell is none of them)."""
    def no_value(column) -> bool:
        marked = _missing_marks(column)
        return bool((column if marked is None else marked[0]).isna().all())

    empty = [c for c in columns if c in frame.columns and c not in kept and no_value(frame[c])]
    if not empty:
        return columns
    kept = [c for c in columns if c not in empty]
    if named:
        raise UserError(f"data.source.feature_columns names {empty}, which hold(s) no value in any row of '{path}'; "
                        f"leave it out: {typed_names('data.source.feature_columns', kept, False)}")
    log.info("column(s) %s of '%s' hold no value in any row (an empty column, or a separator at the end of every "
             "line): not used as features", empty, path)
    return kept


def refuse_missing(block: np.ndarray, columns: Sequence[str], where: str, fix: str = "",
                   name_row: Callable[[int], str] = "row {}".format) -> None:
    """UserError naming the count, columns and first row of missing values in (rows, columns)."""
    nan = np.isnan(block)
    rows = np.flatnonzero(nan.any(axis=1))
    if len(rows):
        cols = [str(c) for c, bad in zip(columns, nan.any(axis=0)) if bad]
        raise UserError(f"{where} has {len(rows)} row(s) with missing values in {cols} (first at "
                        f"{name_row(int(rows[0]))}); fill or drop them before training{fix}")


def column_name(column: Union[str, int]) -> str:
    """A column as a setting names it, without the spaces around it (matched to a header read likewise)."""
    return str(column).strip()


def stripped_header(frame: Any, path: str) -> Any:
    """``frame`` with column names stripped of surrounding spaces (a spreadsheet's 'Date , CO2 (ppm)'),
    logged, unless two names would then be one."""
    names = [column_name(c) for c in frame.columns]
    changed = [str(c) for c, n in zip(frame.columns, names) if str(c) != n]
    if changed and len(set(names)) == len(names):
        log.info("'%s': spaces around the column name(s) %s left out", path, changed)
        frame.columns = names
    return frame
