"""Table files as every family reads them: CSV (compressed or not, any common separator, archive and
VizieR exports as they come), Parquet, NPY and spreadsheet workbooks (one sheet: trainlab.data.workbooks), into a pandas DataFrame whose header and rows are
checked; what the columns mean is each family's source's business (series: trainlab.data.timeseries.
sources, catalogues: trainlab.data.graph.catalogue).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError, require_path, unreadable, why_missing
from trainlab.data.astro_tables import SUFFIXES, read_table, table_format
from trainlab.data.csv_files import read_csv
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


def name_as_text(name: str) -> str:
    """A file's name as text that every file, plot and log line can hold. A name whose bytes are no text in the
    file system's encoding (``étoile.npy`` under ``LANG=C`` with ``PYTHONUTF8=0``; a Latin-1 name from an old archive
    on a UTF-8 system) reaches Python with surrogates in it, which UTF-8 writers refuse: predict.py mapped a folder
    of such images, then failed writing anomaly_scores.csv with ``UnicodeEncodeError: ... surrogates not allowed``,
    as a traceback. Its bytes read as UTF-8 give the name itself where they are UTF-8, else ``\\xe9`` for a byte
    that is not."""
    if not any("\udc80" <= c <= "\udcff" for c in name):
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")


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
            frame, header = read_csv(p, key)
            return _checked_frame(frame, header, path, key)
        if is_workbook(p):
            frame, header = read_workbook(p, key, sheet, sheet_key)
            return _checked_frame(frame, header, path, key, wanted)
        if suffix == ".parquet":
            frame = _index_as_columns(_with_categories(pd.read_parquet(p), p), p)
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


def _with_categories(frame, path: Path):
    """The Parquet file's columns that its writer stored as categories (a pandas Categorical, Arrow's dictionary
    type) as pandas categories, whatever their values: pyarrow gives back a dictionary of integer codes (a
    ``store_type`` of 1/2/3) as plain integers, which trained as one number; as a category it is one 0/1 input per
    value, as a column of text is (trainlab.data.categories). The types are those of the Arrow schema the writer
    stored in the file's metadata (``ARROW:schema``, as pyarrow writes by default)."""
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    stored = (pq.ParquetFile(path).metadata.metadata or {}).get(b"ARROW:schema")
    if stored is None:
        return frame
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored)))
    recorded = [f.name for f in schema if pa.types.is_dictionary(f.type) and f.name in frame.columns]
    for name in recorded:
        if frame[name].dtype.name != "category":
            frame[name] = frame[name].astype("category")
    return frame


def _index_as_columns(frame, path: Path):
    """A Parquet file written from a DataFrame with a named index (``set_index("source_id")``) stores
    that column as the index, which pandas gives back as the index: it becomes a column again, so it can
    be named as a column (left as an index, it would be missing without a word). An unnamed index of dates
    (``df.to_parquet()`` of a frame indexed by its times, as statsmodels' and most pandas series are) becomes the
    column ``index``, as ``reset_index`` names it: its dates were dropped, and the series read without its times.
    An unnamed index of other values is row labels (pandas stores its default one as no column at all)."""
    import pandas as pd

    named = [str(n) for n in frame.index.names if n is not None]
    if not named and isinstance(frame.index, (pd.DatetimeIndex, pd.PeriodIndex)) and "index" not in frame.columns:
        log.info("'%s': its index of dates, which has no name, is read as the column 'index' "
                 "(data.source.time_column=index sorts by it)", path.name)
        return frame.rename_axis("index").reset_index()
    if not named:
        return frame
    log.info("'%s': its index %s is read as column(s)", path.name, named)
    return frame.reset_index()


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
