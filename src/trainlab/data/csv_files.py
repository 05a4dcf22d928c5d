"""CSV files as :mod:`trainlab.data.files` reads them: compressed or not, comma, semicolon, tab or | separated (the
separator and decimal mark found from the first lines), UTF-8 or, said, Windows-1252 / Latin-1; a preamble above the
header (comment lines, a station's line), VizieR's lines under it, a spreadsheet's padding and blank rows left out
and said; a file without a header read with its columns named by position (:mod:`trainlab.data.headers`); a large
file's progress said every 30 s.
"""

from __future__ import annotations

import io
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data import headers
from trainlab.data.csv_writing import DIALECT, CsvDialect

log = logging.getLogger(__name__)


# what a text file that is no UTF-8 is read as: Excel on Windows saves "CSV" in the system's code page, for Western
# Europe and the Americas Windows-1252 (Latin-1 with letters such as € in 0x80-0x9f), which leaves five bytes
# undefined; Latin-1 reads any byte
_FALLBACK_ENCODINGS = (("cp1252", "Windows-1252, as Excel saves a CSV on Windows"), ("latin-1", "Latin-1"))


def read_csv(path: Path, key: str) -> tuple[Any, list[str]]:
    """A CSV file as :func:`_read_csv_as` reads it, in UTF-8 (a byte-order mark left out; UTF-16 where its mark
    says so, said in a log line), else, said in a log line, in Windows-1252 or Latin-1: a file saved by Excel on Windows (its degree
    signs, accents and m³ in those code pages) was refused with Python's UnicodeDecodeError. A byte that is no
    UTF-8 far into the file is met by pandas' read, after the lines about the file's head were said: the read
    in another encoding says the encoding it used once, then only its notes not said already (they were said
    twice, the second time after the first read's)."""
    encoding = _marked_encoding(path)
    if encoding == "utf-16":  # said as a code page is: which encoding was read, before the notes of the read
        log.info("'%s' starts with UTF-16's byte-order mark (Excel's \"Unicode Text\"): read as UTF-16", path.name)
    first = _Notes(held=False)
    try:
        return _read_csv_as(path, key, encoding, first)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8-sig":
            raise
        bad = exc.object[exc.start:exc.start + 1].hex()
        for fallback, said in _FALLBACK_ENCODINGS:
            notes = _Notes(held=True, reading=f" as {said.split(',')[0]}")
            try:
                read = _read_csv_as(path, key, fallback, notes)
            except UnicodeDecodeError:
                continue
            log.info("'%s' is not UTF-8 (byte 0x%s): read as %s; save it as UTF-8 if its text reads wrong",
                     path.name, bad, said)
            notes.say(first.said)
            return read
        raise


class _Notes:
    """The log lines of one read of a CSV file in one encoding: said at once, or ``held`` (a read in a fallback
    encoding) until the read succeeds and :meth:`say` them, those the failed read said already left out.
    ``reading``: how the progress lines of a long read name it (`` as Windows-1252``: the second read)."""

    def __init__(self, held: bool, reading: str = ""):
        self.held, self.reading = held, reading
        self.lines: list[str] = []
        self.said: set[str] = set()

    def info(self, message: str, *args: Any) -> None:
        line = message % args if args else message
        if self.held:
            self.lines.append(line)
        else:
            self.said.add(line)
            log.info("%s", line)

    def say(self, already: set[str]) -> None:
        for line in self.lines:
            if line not in already:
                log.info("%s", line)


def _marked_encoding(path: Path) -> str:
    """UTF-16 where the file starts with its byte-order mark (Excel's "Unicode Text"), else UTF-8 (with or
    without its mark)."""
    with _open_text(path, "latin-1") as f:
        start = f.read(2)
    return "utf-16" if start in ("\xff\xfe", "\xfe\xff") else "utf-8-sig"


def _decimal_mark(sep: str, body: str) -> str:
    """The decimal mark of a file separated by ``sep`` whose lines under the header are ``body``: a comma where it
    is separated otherwise than by commas and a number reads '10,5' or '1.234,5'; a point otherwise, and where a
    number is grouped in thousands by commas before its point ('6,619.0', quoted in a tab-separated export: its
    commas were taken for decimal marks, and forecast.csv was written with decimal commas)."""
    if sep == "," or re.search(r"\d,\d{3}\.\d", body):
        return "."
    return "," if re.search(r"\d,\d+(?![\d.,])", body) else "."


def _read_csv_as(path: Path, key: str, encoding: str, notes: _Notes) -> tuple[Any, list[str]]:
    """A CSV file (compressed by its suffix or not) in ``encoding`` and its header as written (pandas renames a
    repeated name 'a' to 'a.1' without a word). The separator is sniffed among , ; tab and |; a file separated
    by something else than commas with digit,digit values has decimal commas (the European way).

    A VizieR export (ASU-TSV, as CDS's VizieR writes it) is read as it comes: its '#' lines and blank
    lines above the header, the units line and the dashes line under it are left out (said in a log
    line), and the values' padding spaces with them (a blank value is missing); '#' lines below the
    data are left out too, and a second table below them (an export of several) is refused. Its log lines go
    through ``notes`` (:class:`_Notes`: held during a read in a fallback encoding)."""
    import csv

    import pandas as pd

    with _open_text(path, encoding) as f:
        head = [line for _, line in zip(range(50), f)]
    comments = next((i for i, line in enumerate(head) if line.strip() and not line.startswith("#")), len(head))
    if comments:  # '# query, date, units' lines above the header, as archives, TOPCAT and VizieR write them
        blank = sum(not line.strip() for line in head[:comments])
        notes.info("'%s': %d comment line(s) (#)%s above the header left out", path.name, comments - blank,
                 f" and {blank} blank line(s)" if blank else "")
        head = head[comments:]
    sep = _separator(head)
    above = _preamble(head, sep)
    if above:  # a station's or logger's line above the header (NREL's TMY3: id, name, state, zone, lat, lon, elevation)
        notes.info("'%s': %d line(s) above the header left out (%s: %d field(s), the header and rows %d)", path.name, above,
                 repr(head[0].strip()[:60]), len(next(csv.reader(head[:1], delimiter=sep), [])),
                 len(next(csv.reader(head[above:above + 1], delimiter=sep), [])))
        head = head[above:]
        comments += above
    under = _lines_under_header(head, sep)
    if under:
        head = head[:1] + head[1 + under:]
        notes.info("'%s': %s under the header left out (a VizieR export)", path.name,
                 "its units line and dashes line" if under == 2 else "its dashes line")
    parsed = [next(csv.reader([line], delimiter=sep), []) for line in head[1:4]]
    units = int(not under and len(parsed) > 1 and headers.is_units_row(parsed[0], parsed[1:]))
    if units:  # a second header line, of units ('date,co2' over ',ppm'): no row of data
        log.info("'%s': its line of units under the header left out (%r)", path.name, head[1].strip()[:60])
        head = head[:1] + head[2:]
    decimal = _decimal_mark(sep, "".join(head[1:]))
    if (sep, decimal) != (",", "."):
        notes.info("'%s': columns separated by %r, decimal %r", path.name, sep, decimal)
    header = next(csv.reader(head[:1], delimiter=sep), [])
    skip = [*range(comments), *range(comments + 1, comments + 1 + under + units)]  # line numbers in the file
    rows = _rows_above_comments(path, comments + 1 + under, key, encoding, notes) if under else None
    headerless = not under and headers.is_data_row(header, [next(csv.reader([line], delimiter=sep), [])
                                                            for line in head[1:] if line.strip()])
    if headerless:  # '1700,5.0' first: a row of data, not the columns' names
        notes.info(headers.describe(f"'{path.name}'", header))
        names = header = headers.positions(max(len(next(csv.reader([line], delimiter=sep), [])) for line in head))
    else:
        names = _padded_names(header, head[1 + under:], sep)
    if names and not headerless:  # rows padded with empty fields ('1,2,,' under 'a,b'): named by the header, not made its index
        skip = sorted([*skip, comments])
    with _ReadProgress(path, notes.reading) as f:  # a large file says how far it is every 30 s
        frame = pd.read_csv(f, sep=sep, decimal=decimal, skiprows=skip, skipinitialspace=bool(under), nrows=rows,
                            encoding=encoding,
                            compression=_COMPRESSION.get(Path(path.name.lower()).suffix),
                            **({"header": None, "names": names} if names else {}))
    frame, header = _without_padding(frame, header, path, key, notes)
    frame.attrs["decimal"] = decimal  # a column read as text (a missing-value mark in it) reads its numbers so
    # what predict.py / evaluate.py write their CSVs of this file in (csv_writing.as_csv)
    frame.attrs[DIALECT] = CsvDialect(sep, decimal, "utf-8" if encoding == "utf-8-sig" else encoding)
    frame.attrs["headerless"] = headerless  # its columns named by position: said where a column is not found
    if under:  # VizieR pads its columns: 'Plx  ' is Plx
        header = [name.strip() for name in header]
        frame.columns = [str(name).strip() for name in frame.columns]
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    if len(filled) and filled[-1] + 1 < len(frame):  # ",,,," lines a spreadsheet left below the data
        notes.info("'%s': %d empty row(s) at the end left out", path.name, len(frame) - filled[-1] - 1)
        frame = frame.iloc[: filled[-1] + 1]
    if len(filled) and len(filled) < len(frame):  # ';;' lines between stretches of rows: a sheet's blank rows, which
        # the workbook reader leaves out too (the CSV's were refused as a row without its time, or read as a gap)
        first = int(np.flatnonzero(np.diff(np.concatenate([[-1], filled])) > 1)[0])
        notes.info("'%s': %d empty row(s) among the data left out (the first after data row %d)", path.name,
                 len(frame) - len(filled), first)
        frame = frame.iloc[filled].reset_index(drop=True)
    return frame, header


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
PROGRESS_S = 30.0  # seconds between the progress lines of a long read


class _ReadProgress(io.FileIO):
    """The file's bytes as pandas reads them, with a line every PROGRESS_S seconds saying how far it is:
    a CSV of several GB reads for minutes (0.1 GB takes ~2.5 s here), which was silent after its first line."""

    def __init__(self, path: Path, reading: str = ""):
        super().__init__(path, "rb")
        self.name_shown, self.size = f"'{path.name}'{reading}", os.fstat(self.fileno()).st_size
        self.start = self.last = time.monotonic()

    def _said(self) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_S and self.size:
            self.last = now
            done = self.tell()
            log.info("reading %s: %.0f%% (%.0f of %.0f MB) in %.0f s", self.name_shown, 100 * done / self.size,
                     done / 2**20, self.size / 2**20, now - self.start)

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self._said()
        return data

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self._said()
        return count


def _rows_above_comments(path: Path, start: int, key: str, encoding: str, notes: _Notes) -> Optional[int]:
    """The data rows of an export above the '#' lines that close it (None: there are none), counted
    from line ``start`` on (0-based; blank lines do not count); a table below them (an export of
    several tables) is refused with its line number."""
    rows, closing = 0, None
    with _open_text(path, encoding) as f:
        for number, line in enumerate(f):
            if number < start or not line.strip():
                continue
            if line.startswith("#"):
                closing = closing if closing is not None else number + 1
            elif closing is None:
                rows += 1
            else:
                raise UserError(f"{key}: '{path}' holds another table below line {closing} (an export of several "
                                f"tables, from line {number + 1}: {line.strip()[:40]!r}); export one table per file, "
                                f"or delete line {closing} and below")
    if closing is not None:
        notes.info("'%s': the comment line(s) (#) below the data, from line %d, left out", path.name, closing)
        return rows
    return None


def _separator(head: list[str]) -> str:
    """The separator among , ; tab and | (',' where nothing tells: one column); lines padded with empty fields
    at their end ('1;2;;' under 'a;b', as a spreadsheet saves them) are told by the lines without them."""
    import csv

    for lines in (head, [re.sub(r"[,;\t|]+(\r?\n)?$", r"\1", line) for line in head]):
        try:
            return csv.Sniffer().sniff("".join(lines), delimiters=",;\t|").delimiter
        except csv.Error:
            continue
    return ","


def _padded_names(header: list[str], rows: list[str], sep: str) -> Optional[list[str]]:
    """Column names for rows wider than the header (a spreadsheet's "Save as CSV" pads every row with empty
    fields to its widest formatted column): the header's, then 'Unnamed: i' (refused by _without_padding
    where they hold a value); None where no row is wider, or the rows have one field more with a value in
    it (R's write.table: the header leaves its row names unnamed, and pandas makes them the index)."""
    import csv

    fields = [next(csv.reader([line], delimiter=sep), []) for line in rows if line.strip()]
    width = max((len(f) for f in fields), default=0)
    if width <= len(header) or (width == len(header) + 1 and any(f[-1].strip() for f in fields if len(f) == width)):
        return None
    return [*header, *(f"Unnamed: {i}" for i in range(len(header), width))]


def _without_padding(frame, header: list[str], path: Path, key: str, notes: _Notes) -> tuple[Any, list[str]]:
    """The frame without the columns at its right that the header leaves unnamed (or pads with empty names)
    and that hold no value, said in a log line; such a column with values is refused (it would be read
    under a made-up name, or shift the others)."""
    names = [*header, *[""] * (frame.shape[1] - len(header))]
    unnamed = len(names) - next((i for i, name in enumerate(reversed(names)) if name.strip()), len(names))
    if unnamed == len(names):
        return frame, header
    for column in range(unnamed, len(names)):
        filled = np.flatnonzero(frame.iloc[:, column].notna().to_numpy())
        if len(filled):
            raise UserError(f"{key}: '{path}' has a value in column {column + 1}, which its header leaves unnamed "
                            f"(data row {filled[0] + 1}: '{frame.iat[filled[0], column]}'); name that column in "
                            "the header, or delete the value")
    notes.info("'%s': %d empty column(s) without a name at the right left out (a spreadsheet's padding)", path.name,
             len(names) - unnamed)
    return frame.iloc[:, :unnamed], header[:unnamed]


def _preamble(head: list[str], sep: str) -> int:
    """How many lines above the header are no part of the table: lines of other field counts (a station's
    name and place) before the first line of the count every line below it has. None where the
    line before it has one field fewer (R's write.table leaves the row names' column unnamed: that line is
    the header) or the lines below differ (ragged rows are pandas' to refuse)."""
    import csv

    lines = [next(csv.reader([line], delimiter=sep), []) if line.strip() else [] for line in head]
    counts = [len(fields) for fields in lines]
    body = [c for c in counts[len(counts) // 2:] if c]
    if len(body) < 2:
        return 0
    width = max(set(body), key=body.count)
    first = next(i for i, c in enumerate(counts) if c == width)
    # a header of more fields whose extra ones are empty ('a,b,c,' above '1,2,3') is the header still
    padded = any(len(fields) > width and not any(f.strip() for f in fields[width:]) for fields in lines[:first])
    if first == 0 or counts[first - 1] == width - 1 or padded or not all(c in (0, width) for c in counts[first:]):
        return 0
    # rows padded with empty fields ('1,2,,' under 'a,b', a spreadsheet's export): the line above them is the
    # header when it names at least the columns the rows mostly fill, and fewer than their padded width
    filled = [len(fields) - next((i for i, f in enumerate(reversed(fields)) if f.strip()), len(fields))
              for fields in lines[first:] if fields]
    return first - 1 if max(filled, key=filled.count) <= counts[first - 1] < width else first


def _lines_under_header(head: list[str], sep: str) -> int:
    """How many lines under the header (``head[0]``) belong to it: 2 for a units line and a line of
    dashes ('-----' under every column, as VizieR writes), 1 for a dashes line alone, else 0."""
    import csv

    for count, line in enumerate(head[1:3], 1):
        fields = [f.strip() for f in next(csv.reader([line], delimiter=sep), [])]
        if fields and all(re.fullmatch(r"-+", f) for f in fields):
            return count
    return 0


def _open_text(path: Path, encoding: str) -> Any:
    """The file's text (unpacked by its suffix) in ``encoding``; a byte that is none of it raises
    UnicodeDecodeError (the caller tries another encoding)."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    name = path.name.lower()
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(Path(name).suffix)
    if opener is not None:
        return opener(path, "rt", newline="", encoding=encoding)
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        return io.TextIOWrapper(archive.open(archive.namelist()[0]), newline="", encoding=encoding)
    return open(path, newline="", encoding=encoding)
