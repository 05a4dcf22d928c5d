"""Which sheet of a workbook a refusal points to: a workbook whose first sheet is a cover or notes was refused as
having no rows, or lacking the columns named, naming the file alone (the sheet read was said in an INFO line
above). :func:`sheet_advice` adds the sheet read and the sheet whose header names the columns, as a setting to
paste; :mod:`trainlab.data.workbooks` records the sheet it read in the frame's ``attrs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

from trainlab.config.spelling import typed_setting
from trainlab.data.workbooks import _cells, _header_row, _name  # the header as the sheet's reader finds it


def sheet_advice(frame: Any, path: Union[str, Path], columns: Sequence[str] = ()) -> str:
    """What a refusal of a table read from a workbook's sheet adds (empty for any other table, or a workbook of one
    sheet): the sheet read, and the first sheet whose header holds ``columns``, or how to pick another (a cover
    sheet first was refused as having no rows, or lacking the columns, naming the file alone)."""
    read = frame.attrs.get("sheet")
    if not read or len(read["names"]) < 2:
        return ""
    said, holding = (f"; sheet '{read['name']}' was read, of {', '.join(repr(n) for n in read['names'])}",
                     _sheet_holding(Path(path), columns, read["name"]) if columns else None)
    if holding is not None and read["key"]:
        return f"{said}; sheet '{holding}' holds {list(columns)}: {typed_setting(read['key'], holding)}"
    return said + (f": {read['key']}=<name, or 0-based position> reads another" if read["key"] else "")


def _sheet_holding(path: Path, columns: Sequence[str], read: str) -> Optional[str]:
    """The first sheet besides ``read`` whose header row (found as _table finds it) names every one of ``columns``."""
    import python_calamine as calamine

    with calamine.CalamineWorkbook.from_path(str(path)) as book:
        for name in book.sheet_names:
            try:
                rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False) if name != read else []
            except calamine.CalamineError:
                continue
            cells, counts, used = _cells(rows)
            if used and set(columns) <= {_name(v) for v in cells[_header_row(cells, counts, used)]}:
                return name
    return None
