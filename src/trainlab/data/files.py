"""Table files as every family reads them: CSV (compressed or not, any common separator, archive and
VizieR exports as they come), Parquet, NPY and spreadsheet workbooks (one sheet: trainlab.data.workbooks), into a pandas DataFrame whose header and rows are
checked; what the columns mean is each family's source's business (series: trainlab.data.timeseries.
sources, catalogues: trainlab.data.graph.catalogue).
"""

from __future__ import annotations

import io
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError, require_path, unreadable, why_missing
from trainlab.data import headers
from trainlab.data.astro_tables import SUFFIXES, read_table, table_format
from trainlab.data.memory import check_fits
from trainlab.data.sheet_advice import sheet_advice
from trainlab.data.workbooks import WORKBOOK_SUFFIXES, Sheet, is_workbook, read_workbook

_READABLE = ".csv, .parquet, .npy, .xlsx, .xls, .ods, .ecsv, .vot or .fits"
_READABLE_IN_FULL = (".csv (also .csv.gz, .csv.bz2, .csv.xz, .csv.zip, .tsv; comma, semicolon, tab or | separated), "
                     ".parquet, .npy, a workbook (.xlsx, .xlsm, .xlsb, .xls, .ods), or an astronomy archive's table: "
                     ".ecsv, .vot (.votable, .xml) or .fits (.fit, .fts), each also .gz")
# what to do with files users bring that are no such table: the refusal listed the formats alone
_NUMBERS = "; an Apple Numbers file is not read: export it as .xlsx (File > Export To > Excel) or CSV"
_SAVE_AS = {".numbers": _NUMBERS,
            **dict.fromkeys((".txt", ".dat"), "; text separated by commas, semicolons, tabs or | reads once named .csv "
                                              "(tabs: also .tsv)")}
SAVE_AS_SUFFIXES = tuple(_SAVE_AS)  # files users bring as data that are no table read here
CSV_SUFFIXES = tuple(f"{base}{packed}" for base in (".csv", ".tsv") for packed in ("", ".gz", ".bz2", ".xz", ".zip"))
DATA_SUFFIXES = (*CSV_SUFFIXES, ".parquet", ".npy", *WORKBOOK_SUFFIXES, *SUFFIXES)  # what read_frame reads
log = logging.getLogger(__name__)
LARGE_FILE = 20 * 2**20  # bytes; a file this large takes seconds to read and check: said before it starts


def data_name(path: str) -> str:
    """A data file's name without its suffixes, for log lines and messages: 'load' for load.csv.gz, as for
    load.csv (Path.stem kept '.csv')."""
    name = Path(path).name
    for suffix in sorted(DATA_SUFFIXES, key=len, reverse=True):  # stars.vot.gz: 'stars', not 'stars.vot'
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return Path(path).stem


def read_frame(path: str, key: str, sheet: Sheet = None, sheet_key: Optional[str] = "data.source.sheet",
               wanted: Sequence[str] = ()):
    """Read a CSV, Parquet, NPY, workbook, ECSV, VOTable or FITS table file into a pandas DataFrame (NPY columns
    are named 0, 1, ...; the astronomy formats through :mod:`trainlab.data.astro_tables`, a workbook's ``sheet``
    through :mod:`trainlab.data.workbooks`); ``sheet`` given for a file of another format is refused, naming
    ``sheet_key`` (None: no setting picks it, a workbook is read at its first sheet). ``wanted``: the columns the
    caller needs, for the refusal of a workbook's sheet without rows (the sheet that holds them)."""
    import pandas as pd

    require_path(path, key, f"the path of a {_READABLE} file")
    if sheet is not None and not is_workbook(path):
        raise UserError(f"{sheet_key}={sheet} is set, but {key} '{path}' is no workbook "
                        f"({', '.join(WORKBOOK_SUFFIXES)}), which has no sheets; leave it out ({sheet_key}=null"
                        f"{f'; evaluate.py, predict.py: +{sheet_key}=null' if sheet_key.startswith('data.') else ''})")
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"{key}: '{path}' is a folder; give the path of one {_READABLE} file in it")
    if not p.is_file():
        raise UserError(f"{key}: file not found: '{path}'{why_missing(p, key)}; give the path of an existing {_READABLE} "
                        "file")
    size = p.stat().st_size
    if not size:  # pandas said 'No columns to parse from file', astropy and pyarrow their own words
        raise UserError(f"{key}: '{path}' {EMPTY_FILE}")
    check_fits(p, key)
    if size >= LARGE_FILE:
        log.info("reading '%s' (%.0f MB) ...", p.name, size / 2**20)
    suffix = p.suffix.lower()
    if p.name.lower().endswith(CSV_SUFFIXES):
        suffix = ".csv"
    try:
        if table_format(p):
            frame = read_table(p, key)
            return _checked_frame(frame, [str(c) for c in frame.columns], path, key)
        if suffix == ".csv":
            frame, header = _read_csv(p, key)
            return _checked_frame(frame, header, path, key)
        if is_workbook(p):
            frame, header = read_workbook(p, key, sheet, sheet_key)
            return _checked_frame(frame, header, path, key, wanted)
        if suffix == ".parquet":
            frame = _index_as_columns(pd.read_parquet(p), p)
            return _checked_frame(frame, [str(c) for c in frame.columns], path, key)
        if suffix == ".npy":
            array = read_npy(p, key)
            if array.ndim == 1:
                array = array[:, None]
            if array.ndim != 2:
                raise UserError(f"{key}: '{path}' holds a {array.ndim}-D array; expected (rows, columns)")
            columns = [str(i) for i in range(array.shape[1])]
            return _checked_frame(pd.DataFrame(array, columns=columns), columns, path, key)
    except UserError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise unreadable(exc, path, key) or UserError(f"{key}: cannot read '{path}' as {suffix[1:]}: {exc}") from exc
    raise UserError(f"{key}: '{path}' has suffix '{suffix}'; readable files are {_READABLE_IN_FULL}"
                    f"{_SAVE_AS.get(suffix, '')}")


EMPTY_FILE = ("is empty (0 bytes): a save, download or copy that wrote nothing; give the file with the data, or "
              "save it again")
NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every file numpy.save writes


def read_npy(path: Path, key: str) -> np.ndarray:
    """The array of an NPY file (a table's or an image's). A file that is no NPY (damaged, cut short, another
    format named .npy) and an array of Python objects are refused in one line naming ``key`` and the file: numpy
    said 'contains pickled (object) data ... load it unsafely using allow_pickle=' for any file that does not start
    as an NPY, a fix no setting reaches and no table or image needs."""
    with open(path, "rb") as f:
        magic = f.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        raise UserError(f"{key}: '{path}' is no NPY file (its first bytes are not numpy's: damaged, or another format "
                        "named .npy); save the array again with numpy.save, or remove the file")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UserError(f"{key}: '{path}' holds an array of Python objects, not numbers; save a numeric array "
                            "(numpy.save(path, array.astype(float)))") from None
        raise UserError(f"{key}: '{path}' cannot be read as NPY ({exc}): it is damaged or was cut short; save the "
                        "array again with numpy.save, or remove the file") from None


def _index_as_columns(frame, path: Path):
    """A Parquet file written from a DataFrame with a named index (``set_index("source_id")``) stores
    that column as the index, which pandas gives back as the index: it becomes a column again, so it can
    be named as a column (left as an index, it would be missing without a word)."""
    named = [str(n) for n in frame.index.names if n is not None]
    if not named:
        return frame
    log.info("'%s': its index %s is read as column(s)", path.name, named)
    return frame.reset_index()


# what a text file that is no UTF-8 is read as: Excel on Windows saves "CSV" in the system's code page, for Western
# Europe and the Americas Windows-1252 (Latin-1 with letters such as € in 0x80-0x9f), which leaves five bytes
# undefined; Latin-1 reads any byte
_FALLBACK_ENCODINGS = (("cp1252", "Windows-1252, as Excel saves a CSV on Windows"), ("latin-1", "Latin-1"))


def _read_csv(path: Path, key: str) -> tuple[Any, list[str]]:
    """A CSV file as :func:`_read_csv_as` reads it, in UTF-8 (a byte-order mark left out; UTF-16 where its mark
    says so), else, said in a log line, in Windows-1252 or Latin-1: a file saved by Excel on Windows (its degree
    signs, accents and m³ in those code pages) was refused with Python's UnicodeDecodeError."""
    encoding = _marked_encoding(path)
    try:
        return _read_csv_as(path, key, encoding)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8-sig":
            raise
        bad = exc.object[exc.start:exc.start + 1].hex()
        for fallback, said in _FALLBACK_ENCODINGS:
            try:
                read = _read_csv_as(path, key, fallback)
            except UnicodeDecodeError:
                continue
            log.info("'%s' is not UTF-8 (byte 0x%s): read as %s; save it as UTF-8 if its text reads wrong",
                     path.name, bad, said)
            return read
        raise


def _marked_encoding(path: Path) -> str:
    """UTF-16 where the file starts with its byte-order mark (Excel's "Unicode Text"), else UTF-8 (with or
    without its mark)."""
    with _open_text(path, "latin-1") as f:
        start = f.read(2)
    return "utf-16" if start in ("\xff\xfe", "\xfe\xff") else "utf-8-sig"


def _read_csv_as(path: Path, key: str, encoding: str) -> tuple[Any, list[str]]:
    """A CSV file (compressed by its suffix or not) in ``encoding`` and its header as written (pandas renames a
    repeated name 'a' to 'a.1' without a word). The separator is sniffed among , ; tab and |; a file separated
    by something else than commas with digit,digit values has decimal commas (the European way).

    A VizieR export (ASU-TSV, as CDS's VizieR writes it) is read as it comes: its '#' lines and blank
    lines above the header, the units line and the dashes line under it are left out (said in a log
    line), and the values' padding spaces with them (a blank value is missing); '#' lines below the
    data are left out too, and a second table below them (an export of several) is refused."""
    import csv

    import pandas as pd

    with _open_text(path, encoding) as f:
        head = [line for _, line in zip(range(50), f)]
    comments = next((i for i, line in enumerate(head) if line.strip() and not line.startswith("#")), len(head))
    if comments:  # '# query, date, units' lines above the header, as archives, TOPCAT and VizieR write them
        blank = sum(not line.strip() for line in head[:comments])
        log.info("'%s': %d comment line(s) (#)%s above the header left out", path.name, comments - blank,
                 f" and {blank} blank line(s)" if blank else "")
        head = head[comments:]
    sep = _separator(head)
    above = _preamble(head, sep)
    if above:  # a station's or logger's line above the header (NREL's TMY3: id, name, state, zone, lat, lon, elevation)
        log.info("'%s': %d line(s) above the header left out (%s: %d field(s), the header and rows %d)", path.name, above,
                 repr(head[0].strip()[:60]), len(next(csv.reader(head[:1], delimiter=sep), [])),
                 len(next(csv.reader(head[above:above + 1], delimiter=sep), [])))
        head = head[above:]
        comments += above
    under = _lines_under_header(head, sep)
    if under:
        head = head[:1] + head[1 + under:]
        log.info("'%s': %s under the header left out (a VizieR export)", path.name,
                 "its units line and dashes line" if under == 2 else "its dashes line")
    decimal = "," if sep != "," and re.search(r"\d,\d", "".join(head[1:])) else "."
    if (sep, decimal) != (",", "."):
        log.info("'%s': columns separated by %r, decimal %r", path.name, sep, decimal)
    header = next(csv.reader(head[:1], delimiter=sep), [])
    skip = [*range(comments), *range(comments + 1, comments + 1 + under)]  # line numbers in the file
    rows = _rows_above_comments(path, comments + 1 + under, key, encoding) if under else None
    headerless = not under and headers.is_data_row(header, [next(csv.reader([line], delimiter=sep), [])
                                                            for line in head[1:] if line.strip()])
    if headerless:  # '1700,5.0' first: a row of data, not the columns' names
        log.info(headers.describe(f"'{path.name}'", header))
        names = header = headers.positions(max(len(next(csv.reader([line], delimiter=sep), [])) for line in head))
    else:
        names = _padded_names(header, head[1 + under:], sep)
    if names and not headerless:  # rows padded with empty fields ('1,2,,' under 'a,b'): named by the header, not made its index
        skip = sorted([*skip, comments])
    with _ReadProgress(path) as f:  # a large file says how far it is every 30 s
        frame = pd.read_csv(f, sep=sep, decimal=decimal, skiprows=skip, skipinitialspace=bool(under), nrows=rows,
                            encoding=encoding,
                            compression=_COMPRESSION.get(Path(path.name.lower()).suffix),
                            **({"header": None, "names": names} if names else {}))
    frame, header = _without_padding(frame, header, path, key)
    frame.attrs["decimal"] = decimal  # a column read as text (a missing-value mark in it) reads its numbers so
    frame.attrs["headerless"] = headerless  # its columns named by position: said where a column is not found
    if under:  # VizieR pads its columns: 'Plx  ' is Plx
        header = [name.strip() for name in header]
        frame.columns = [str(name).strip() for name in frame.columns]
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    if len(filled) and filled[-1] + 1 < len(frame):  # ",,,," lines a spreadsheet left below the data
        log.info("'%s': %d empty row(s) at the end left out", path.name, len(frame) - filled[-1] - 1)
        frame = frame.iloc[: filled[-1] + 1]
    if len(filled) and len(filled) < len(frame):  # ';;' lines between stretches of rows: a sheet's blank rows, which
        # the workbook reader leaves out too (the CSV's were refused as a row without its time, or read as a gap)
        first = int(np.flatnonzero(np.diff(np.concatenate([[-1], filled])) > 1)[0])
        log.info("'%s': %d empty row(s) among the data left out (the first after data row %d)", path.name,
                 len(frame) - len(filled), first)
        frame = frame.iloc[filled].reset_index(drop=True)
    return frame, header


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
PROGRESS_S = 30.0  # seconds between the progress lines of a long read


class _ReadProgress(io.FileIO):
    """The file's bytes as pandas reads them, with a line every PROGRESS_S seconds saying how far it is:
    a CSV of several GB reads for minutes (0.1 GB takes ~2.5 s here), which was silent after its first line."""

    def __init__(self, path: Path):
        super().__init__(path, "rb")
        self.name_shown, self.size = path.name, os.fstat(self.fileno()).st_size
        self.start = self.last = time.monotonic()

    def _said(self) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_S and self.size:
            self.last = now
            done = self.tell()
            log.info("reading '%s': %.0f%% (%.0f of %.0f MB) in %.0f s", self.name_shown, 100 * done / self.size,
                     done / 2**20, self.size / 2**20, now - self.start)

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self._said()
        return data

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self._said()
        return count


def _rows_above_comments(path: Path, start: int, key: str, encoding: str) -> Optional[int]:
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
        log.info("'%s': the comment line(s) (#) below the data, from line %d, left out", path.name, closing)
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


def _without_padding(frame, header: list[str], path: Path, key: str) -> tuple[Any, list[str]]:
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
    log.info("'%s': %d empty column(s) without a name at the right left out (a spreadsheet's padding)", path.name,
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


def _checked_frame(frame, header: list[str], path: str, key: str, wanted: Sequence[str] = ()):
    """Refuse a table with repeated column names or without data rows (a workbook's: naming the sheet that holds
    the ``wanted`` columns)."""
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UserError(f"{key}: '{path}' names the column(s) {repeated} more than once; rename them so that "
                        "each column has its own name")
    if len(frame) == 0:
        fix = sheet_advice(frame, path, wanted) or "; give a file that holds the data in rows under its header"
        raise UserError(f"{key}: '{path}' has no data rows (only a header, or nothing){fix}")
    return frame
