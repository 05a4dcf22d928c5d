"""Spreadsheet workbooks as table files: .xlsx, .xlsm, .xlsb, .xls and .ods, read with python-calamine (the Rust
calamine reader; one library for every format, imported only when a workbook is read) into the DataFrame that
:func:`trainlab.data.files.read_frame` gives every family.

A workbook is what its users see: one sheet (``sheet``: a name or a 0-based position; null: the first visible one,
said once where there are several), its table wherever it starts (title rows and blank rows above the header are
left out, as the CSV reader leaves out a station's line above its header), cells formatted as dates read as dates,
times of day as ``07:00:00``, merged cells below the header as the value they show. A cell holding a formula is the
value the spreadsheet saved with it (calamine computes nothing): a column that is empty in every row is said so.
A password-protected, damaged, renamed (a CSV or web page named .xlsx) or locked workbook is refused in one line.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Union

from trainlab.config.errors import UserError, nearest
from trainlab.data import headers

log = logging.getLogger(__name__)

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
Sheet = Optional[Union[str, int]]

_ZIP, _OLE = b"PK\x03\x04", bytes.fromhex("D0CF11E0A1B11AE1")  # xlsx/xlsm/xlsb/ods; xls and encrypted Office files
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")  # the stream an encrypted .xlsx holds inside its OLE container
_HEADER_ROWS = 50  # rows searched for the header, as the CSV reader's head
_EXACT = 2.0**53  # the whole numbers a float64 (a spreadsheet's number) holds exactly
_said: set[tuple[str, str]] = set()  # (file, sheet) already named in the log: a run reads its file more than once


def is_workbook(path: Union[str, Path]) -> bool:
    return Path(path).name.lower().endswith(WORKBOOK_SUFFIXES)


def read_workbook(path: Path, key: str, sheet: Sheet = None, sheet_key: Optional[str] = "data.source.sheet",
                  ) -> tuple[Any, list[str]]:
    """The table of one sheet of the workbook ``path`` and its header as written. ``key`` names the file's setting,
    ``sheet_key`` the sheet's in every refusal (None: no setting picks it; the first visible sheet is read)."""
    try:
        import python_calamine as calamine
    except ImportError:
        raise UserError(f"{key}: '{path}' is a workbook, read with the python-calamine package, which is not "
                        "installed here; pip install python-calamine (requirements.txt lists it), or save the sheet "
                        "as CSV") from None
    lock = _lock_file(path)
    try:
        _check_container(path, key)
    except PermissionError:
        if lock is None:
            raise  # read_frame says who may not read it
        raise UserError(f"{key}: '{path}' is open in a spreadsheet program (its lock file '{lock.name}' is beside "
                        "it), which keeps others from reading it; close it there, or give a copy of it") from None
    if lock is not None:
        log.warning("'%s' is open in a spreadsheet program (its lock file '%s' is beside it): what is read is the "
                    "workbook as last saved, without changes made since", path, lock.name)
    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError:
        raise _password(path, key) from None
    except calamine.CalamineError as exc:
        raise UserError(f"{key}: '{path}' cannot be read as a {path.suffix.lower()} workbook ({exc}): it is damaged "
                        "or was cut short (a copy or download that did not finish?); open it in a spreadsheet "
                        "program and save it again, or give another file") from None
    with book:
        name = _sheet_name(book, sheet, path, sheet_key)
        try:
            found = book.get_sheet_by_name(name)
            rows = found.to_python(skip_empty_area=False)
            merged = found.merged_cell_ranges or []
        except calamine.PasswordError:
            raise _password(path, key) from None
        except calamine.CalamineError as exc:
            raise UserError(f"{key}: sheet '{name}' of '{path}' cannot be read ({exc}): the workbook is damaged; open "
                            "it in a spreadsheet program and save it again") from None
        names = list(book.sheet_names)
    where = f"'{path}' sheet '{name}'"
    pick = (f"{sheet_key}=<name, or 0-based position> picks one" if sheet_key else "move it to the front")
    frame, header = _table(rows, merged, where, f"its sheets are {', '.join(repr(n) for n in names)}: {pick}")
    frame.attrs["sheet"] = {"name": name, "names": names, "key": sheet_key}  # for sheet_advice
    return frame, header


def _check_container(path: Path, key: str) -> None:
    """A file that cannot be the workbook its suffix says, refused before calamine's 'invalid Zip archive':
    empty, text (a CSV renamed, a web page saved as .xls), an old .xls named .xlsx, a password-protected .xlsx
    (Office encrypts it into an OLE container), or the lock file a spreadsheet program keeps beside an open one."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    suffix = path.suffix.lower()
    if path.name.startswith(("~$", ".~lock.")):
        opened = path.with_name(path.name.removeprefix("~$").removeprefix(".~lock.").rstrip("#"))
        raise UserError(f"{key}: '{path}' is the lock file a spreadsheet program keeps while '{opened.name}' is open, "
                        f"no workbook; give '{opened}'")
    if not head:
        raise UserError(f"{key}: '{path}' is empty (0 bytes): a save or copy that did not finish? Save the workbook "
                        "again, or give another file")
    if head.startswith(_OLE):
        if _ENCRYPTED in head or _ENCRYPTED in _tail(path):
            raise _password(path, key)
        if suffix != ".xls":
            raise UserError(f"{key}: '{path}' is an Excel 97-2003 workbook named {suffix}; rename it to "
                            f"'{path.with_suffix('.xls').name}'")
        return
    if head.startswith(_ZIP):
        if suffix == ".xls":
            real = ".ods" if head[30:38] == b"mimetype" else ".xlsx"  # OpenDocument's first member names its type
            raise UserError(f"{key}: '{path}' is a {real} workbook named .xls; rename it to "
                            f"'{path.with_suffix(real).name}'")
        return
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if b"\0" not in head:
        if text[:200].lower().startswith((b"<!doctype html", b"<html", b"<table")) or b"<table" in text[:2000].lower():
            raise UserError(f"{key}: '{path}' is a web page (an HTML table, as web applications export '.xls'), no "
                            "workbook; open it in a spreadsheet program and save it as .xlsx, or as CSV")
        if text.startswith(b"<?xml"):
            raise UserError(f"{key}: '{path}' is an XML file (Excel 2003's XML spreadsheet?), no workbook; open it "
                            "in a spreadsheet program and save it as .xlsx, or as CSV")
        separated = b"\t" in text[:4096] and b"," not in text[:4096]
        raise UserError(f"{key}: '{path}' holds text, not a {suffix} workbook (a CSV file named {suffix}?); rename it "
                        f"to '{path.with_suffix('.tsv' if separated else '.csv').name}'")
    if suffix != ".xls":
        raise UserError(f"{key}: '{path}' is no {suffix} workbook (it is neither a zip archive nor an OLE file: "
                        "damaged, or another format named so); open it in a spreadsheet program and save it as "
                        ".xlsx, or give another file")


def _lock_file(path: Path) -> Optional[Path]:
    """The lock file Excel (``~$name``) or LibreOffice (``.~lock.name#``) keeps beside a workbook it has open."""
    for lock in (path.with_name(f"~${path.name}"), path.with_name(f"~${path.name[2:]}"),
                 path.with_name(f".~lock.{path.name}#")):
        if lock != path and lock.exists():
            return lock
    return None


def _tail(path: Path) -> bytes:
    """The OLE directory of a larger encrypted file may lie past the first 64 KiB: its first 1 MiB."""
    with open(path, "rb") as f:
        return f.read(1 << 20)


def _password(path: Path, key: str) -> UserError:
    return UserError(f"{key}: '{path}' is protected by a password, which this reader cannot open; open it in a "
                     "spreadsheet program and save a copy without the password (Excel: File > Info > Protect "
                     "Workbook > Encrypt with Password, emptied), or save its sheet as CSV")


def _sheet_name(book: Any, sheet: Sheet, path: Path, sheet_key: Optional[str]) -> str:
    """The name of the sheet ``sheet`` picks (a name, or a 0-based position), refused in one line with the sheets'
    names where there is none; null: the first visible worksheet, named once in the log where there are several."""
    names = list(book.sheet_names)
    listed = ", ".join(repr(n) for n in names)
    if not names:
        raise UserError(f"'{path}' holds no sheet; give a workbook with the table in a sheet")
    if sheet is None:
        from python_calamine import SheetTypeEnum, SheetVisibleEnum

        shown = [m.name for m in book.sheets_metadata
                 if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet]
        name = (shown or names)[0]
        if len(names) > 1 and (str(path), name) not in _said:
            _said.add((str(path), name))
            hidden = "" if name == names[0] else " (the sheets before it are hidden or charts)"
            how = (f"{sheet_key}=<name, or 0-based position> reads another" if sheet_key else
                   "no setting picks another here: move the sheet meant to the front, or save it as CSV")
            log.info("'%s': sheet '%s' read, the first of its %d sheets (%s)%s; %s", path.name, name, len(names),
                     listed, hidden, how)
        return name
    if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
        raise UserError(f"{sheet_key}={sheet!r} is no sheet: give a sheet's name or its 0-based position (sheets of "
                        f"'{path}': {listed})")
    if isinstance(sheet, int) and not (0 <= sheet < len(names)):
        if str(sheet) in names:  # a sheet named 2021, which the command line reads as a number
            return str(sheet)
        raise UserError(f"{sheet_key}={sheet}: '{path}' has {len(names)} sheet(s), at positions 0 to {len(names) - 1} "
                        f"({listed}); give a position among them, or a sheet's name")
    if isinstance(sheet, int):
        if str(sheet) in names and names.index(str(sheet)) != sheet:
            raise UserError(f"{sheet_key}={sheet} is the sheet at position {sheet} ('{names[sheet]}') of '{path}', "
                            f"and another is named '{sheet}'; write {sheet_key}=\"'{sheet}'\" for that name, or give "
                            f"the other's name")
        return names[sheet]
    if sheet in names:
        return sheet
    close = nearest(sheet, names, n=2)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise UserError(f"{sheet_key}='{sheet}' is no sheet of '{path}'; {hint}its sheets are {listed} (a name, or a "
                    "0-based position)")


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _cells(rows: list[list[Any]]) -> tuple[list[list[Any]], list[int], list[int]]:
    """The sheet's cells (None where blank), each row's count of filled cells, and the rows with any."""
    cells = [[v if _filled(v) else None for v in row] for row in rows]
    counts = [sum(v is not None for v in row) for row in cells]
    return cells, counts, [i for i, c in enumerate(counts) if c]


def _table(rows: list[list[Any]], merged: list[Any], where: str, pick: str) -> tuple[Any, list[str]]:
    """The sheet's rows as a frame: header found, rows above it and empty rows left out, columns typed."""
    import pandas as pd

    cells, counts, used = _cells(rows)
    if not used:
        raise UserError(f"{where} is empty; give the sheet that holds the table ({pick})")
    top = _header_row(cells, counts, used)
    above = [i for i in used if i < top]
    if above:
        first = next(v for v in cells[above[0]] if v is not None)
        log.info("%s: %d row(s) above the header (row %d) left out (%r ...)", where, len(above), top + 1,
                 str(first)[:60])
    _fill_merged(cells, merged, top, where)
    headerless = headers.is_data_row(cells[top], cells[top + 1:top + _HEADER_ROWS])  # values from its first row on
    if headerless:
        log.info(headers.describe(where, [_name(v) for v in cells[top] if v is not None]))
    units = not headerless and top + 1 < len(cells) and headers.is_units_row(cells[top + 1],
                                                                             cells[top + 2:top + _HEADER_ROWS])
    if units:  # a second header row, of units: no row of data (as the CSV reader leaves out its line of units)
        log.info("%s: its row of units under the header (row %d) left out (%s)", where, top + 2,
                 ", ".join(str(v) for v in cells[top + 1] if v is not None)[:60])
    body = [row for i, row in enumerate(cells) if i > top - headerless and any(v is not None for v in row)
            and not (units and i == top + 1)]
    blank = [i for i in range(top + 1, used[-1]) if not counts[i]]
    if blank:  # blank rows between stretches of the table: left out, as the CSV reader leaves out its ';;' lines
        log.info("%s: %d empty row(s) among the data left out (the first: row %d)", where, len(blank), blank[0] + 1)
    header = (headers.positions(1 + max(c for row in cells for c, v in enumerate(row) if v is not None)) if headerless
              else [_name(v) for v in cells[top]])
    keep = _named_columns(header, body, top, where)
    header = [header[c] for c in keep]
    frame = pd.DataFrame([[row[c] for c in keep] for row in body], columns=header, dtype=object)
    for column in range(len(header)):
        frame.isetitem(column, _typed(frame.iloc[:, column], where))
    empty = [name for name in header if not frame[name].notna().any()] if len(frame) else []
    if empty:
        log.warning("%s: column(s) %s hold no value in any row; cells of formulas read empty where the workbook was "
                    "saved without their values (written by a program, not a spreadsheet): open it in a spreadsheet "
                    "program and save it again", where, empty)
    frame.attrs["headerless"] = headerless
    return frame, header


def _header_row(cells: list[list[Any]], counts: list[int], used: list[int]) -> int:
    """The header's row: the first row of text at least as wide as most rows (title rows above a table are
    narrower), or the first row that wide where no row of text is (years for names: 1960, 1961, ...); the row right
    above that one when it is text one cell narrower (a header that leaves its index column unnamed)."""
    head = used[:_HEADER_ROWS]
    width = max(Counter(counts[i] for i in used[:10 * _HEADER_ROWS]).most_common(),
                key=lambda item: (item[1], item[0]))[0]
    wide = [i for i in head if counts[i] >= width]
    if not wide:
        return head[0]
    texts = [i for i in wide if all(isinstance(v, str) for v in cells[i] if v is not None)]
    top = texts[0] if texts and texts[0] <= wide[0] + 1 else wide[0]
    before = [i for i in used if i < top]
    if before and before[-1] == top - 1 and counts[top - 1] == width - 1 and top not in texts \
            and all(isinstance(v, str) for v in cells[top - 1] if v is not None):
        return top - 1
    return top


def _fill_merged(cells: list[list[Any]], merged: list[Any], top: int, where: str) -> None:
    """Merged cells below the header hold the value the sheet shows in each of them (a store's name merged over its
    rows); stored, it is in the first cell only."""
    filled = 0
    for (r0, c0), (r1, c1) in merged:
        if r0 <= top or r0 >= len(cells):
            continue
        value = cells[r0][c0] if c0 < len(cells[r0]) else None
        for r in range(r0, min(r1, len(cells) - 1) + 1):
            for c in range(c0, min(c1, len(cells[r]) - 1) + 1):
                filled += cells[r][c] is None
                cells[r][c] = value
    if filled:
        log.info("%s: %d cell(s) of merged ranges read as the value each range shows", where, filled)


def _name(value: Any) -> str:
    """A header cell as a column name: 1960 (a number cell) as '1960', a date as 2021-01-01."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip() if isinstance(value, str) else str(value)


def _named_columns(header: list[str], body: list[list[Any]], top: int, where: str) -> list[int]:
    """The positions of the columns the header names; a column without a name is left out where it is empty (a
    blank spacer column, the padding of a merged title), refused where it holds values."""
    keep, left = [], 0
    for c, name in enumerate(header):
        if name:
            keep.append(c)
            continue
        row = next((r for r, cells in enumerate(body) if c < len(cells) and cells[c] is not None), None)
        if row is not None:
            raise UserError(f"{where} has values in column {_letters(c)}, which its header (row {top + 1}) leaves "
                            f"unnamed (first: {body[row][c]!r}); name that column in the header, or delete them")
        left += 1
    if left and keep and left > len(header) - 1 - keep[-1]:  # not only the sheet's padding at the right
        log.info("%s: %d empty column(s) without a name left out", where, left)
    return keep


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _typed(column: Any, where: str) -> Any:
    """A column of cells as pandas would read the same column from a CSV: numbers as numbers (whole ones without
    a gap as integers, as a CSV's '12' is: a spreadsheet stores every number as a float), dates (cells formatted as
    dates) as datetimes, times of day as text '07:00:00' (read as the CSV's); a column mixing numbers and text (a
    missing-value mark, 'n/a') as text, each number written as a CSV holds it."""
    import numpy as np
    import pandas as pd

    values = column.dropna()
    if values.empty:
        return column.astype("float64")
    kinds = {_kind(v) for v in values}
    if kinds == {"number"}:
        numbers = pd.to_numeric(column).astype(np.float64)
        whole = bool((np.mod(numbers.dropna(), 1) == 0).all())
        if whole and numbers.abs().max() >= _EXACT:  # identifiers (Gaia's source_id, ~7e18) rounded to 15 digits
            log.warning("%s: column '%s' holds whole numbers beyond 2^53 (%d), which a spreadsheet keeps to 15 "
                        "digits: identifiers lost their last digits in it; keep them as text cells (format the column "
                        "as Text before pasting them), or read the archive's own file", where, column.name,
                        int(numbers.abs().max()))
        elif whole and len(values) == len(column):
            return numbers.astype(np.int64)
        return numbers
    if kinds == {"bool"}:
        return column.astype("boolean") if len(values) < len(column) else column.astype(bool)
    if kinds == {"date"}:
        return pd.to_datetime(column.map(_rounded, na_action="ignore"))
    return column.map(_as_text, na_action="ignore")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (dt.datetime, dt.date)):
        return "date"
    return "text"


def _rounded(value: Any) -> Any:
    """A date cell to the millisecond a spreadsheet keeps (its serial day fraction reads 01:00 as 00:59:59.9999)."""
    if isinstance(value, dt.datetime):
        micro = round(value.microsecond, -3)
        return value.replace(microsecond=0) + dt.timedelta(microseconds=micro)
    return dt.datetime.combine(value, dt.time())


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        value = _rounded(value)
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell ([h]:mm): as a time of day where it is under a day
        seconds = round(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)
