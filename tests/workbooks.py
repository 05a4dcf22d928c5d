"""Small .xlsx workbooks (and an .ods, :func:`write_ods`) written by hand for the tests: a workbook is a zip of XML parts (ECMA-376, Office Open
XML), and neither openpyxl nor xlsxwriter is a dependency (pandas writes .xlsx only through one of them). Cells:
numbers, text (inline strings), None (no cell), :class:`datetime.datetime` / :class:`datetime.date` (a serial number
in a date-formatted cell, as a spreadsheet stores a date), :class:`datetime.time` (a fraction of a day formatted as a
time) and :class:`Formula` (a formula, with or without the value
the spreadsheet cached)."""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence
from xml.sax.saxutils import escape

_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 is 1900-01-01 in the 1900 date system (after Lotus' leap day)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_HIDDEN = ' state="hidden"'  # a sheet hidden from view (Format > Hide)


@dataclass
class Formula:
    """A formula cell (``text`` without '='); ``cached``: the value the spreadsheet saved with it, None: none
    (a workbook written by a program that computes nothing)."""

    text: str
    cached: Optional[float] = None


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Formula):
        cached = "" if value.cached is None else f"<v>{value.cached}</v>"
        return f'<c r="{ref}"><f>{escape(value.text)}</f>{cached}</c>'
    if isinstance(value, dt.time):  # a fraction of a day in a cell formatted as a time of day
        fraction = (value.hour * 3600 + value.minute * 60 + value.second) / 86400
        return f'<c r="{ref}" s="3"><v>{fraction!r}</v></c>'
    if isinstance(value, (dt.datetime, dt.date)):
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        serial = (moment - _EPOCH) / dt.timedelta(days=1)
        style = 2 if moment.time() != dt.time() else 1  # yyyy-mm-dd hh:mm, or m/d/yyyy (numFmt 14)
        return f'<c r="{ref}" s="{style}"><v>{serial!r}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{float(value)!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def _sheet(rows: Sequence[Sequence[Any]], merged: Sequence[str]) -> str:
    lines = []
    for r, row in enumerate(rows, 1):
        cells = "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    merges = (f'<mergeCells count="{len(merged)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merged)
              + "</mergeCells>") if merged else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}">'
            f'<sheetData>{"".join(lines)}</sheetData>{merges}</worksheet>')


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[Any]]],
               merged: Optional[dict[str, Sequence[str]]] = None, hidden: Sequence[str] = ()) -> Path:
    """Write ``sheets`` (name -> rows, in order) as an .xlsx workbook at ``path``; ``merged``: per sheet, ranges
    such as ``A1:C1`` merged into one cell; ``hidden``: sheets hidden from view."""
    names = list(sheets)
    types = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
                    for i in range(1, len(names) + 1))
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{_TYPES}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{types}</Types>"),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                        f'xmlns="{_PACKAGE_RELS}"><Relationship Id="rId1" Type="{_OFFICE}" Target="xl/workbook.xml"/>'
                        "</Relationships>"),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" '
            f'xmlns:r="{_RELS}"><sheets>'
            + "".join(f'<sheet name="{escape(n)}" sheetId="{i}"{_HIDDEN if n in hidden else ""} r:id="rId{i}"/>'
                      for i, n in enumerate(names, 1))
            + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PACKAGE_RELS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_WORKSHEET}" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, len(names) + 1))
            + f'<Relationship Id="rId{len(names) + 1}" Type="{_STYLES}" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
            '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
            '<numFmt numFmtId="165" formatCode="hh:mm"/></numFmts>'
            '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
            '<xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/></cellXfs>'
            '</styleSheet>'),
    }
    for i, name in enumerate(names, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = _sheet(sheets[name], (merged or {}).get(name, ()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, text in parts.items():
            archive.writestr(part, text)
    return path


_ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
_ODS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}


def _ods_cell(value: Any) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, dt.date):  # datetime too: office:date-value takes 2024-01-01T07:00:00
        return f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}"/>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<table:table-cell office:value-type="float" office:value="{float(value)!r}"/>'
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def write_ods(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """Write ``sheets`` as an OpenDocument spreadsheet (.ods, as LibreOffice saves one): a zip whose first member,
    stored, names its type, and content.xml holding the tables (OpenDocument 1.2, part 3)."""
    tables = "".join(f'<table:table table:name="{escape(name)}">'
                     + "".join("<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
                               for row in rows) + "</table:table>" for name, rows in sheets.items())
    spaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in _ODS.items())
    content = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {spaces} office:version="1.2">'
               f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{_ODS_TYPE}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), _ODS_TYPE)  # stored, first
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path
