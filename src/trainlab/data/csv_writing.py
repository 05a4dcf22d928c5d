"""The CSVs predict.py and evaluate.py write of a user's file (forecast.csv, predictions.csv,
``<split>_predictions.csv``), written as that file is: its separator and decimal mark (a file written the European
way, ``;`` and ``10,5``, got ``,`` and ``.``), and readable in the program that wrote a file in a code page.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

DIALECT = "csv_dialect"  # a frame's attrs key: the CsvDialect of the CSV file it was read from (csv_files.read_csv)
UTF8 = ("utf-8", "utf-8-sig")


class CsvDialect(NamedTuple):
    """How a CSV file was written: its separator, its decimal mark and the encoding it was read in (``utf-8``,
    ``utf-16``, ``cp1252``, ``latin-1``: trainlab.data.csv_files)."""

    separator: str
    decimal: str
    encoding: str = "utf-8"


def dialect_of(frame: Any) -> Optional[CsvDialect]:
    """The :class:`CsvDialect` of the CSV file ``frame`` was read from; None for a frame of another format
    (Parquet, a workbook, FITS ...)."""
    found = frame.attrs.get(DIALECT)
    return None if found is None else CsvDialect(*found)


def csv_dialect(like: Optional[CsvDialect]) -> dict[str, str]:
    """How :func:`as_csv` writes for ``like``, as forecast.json and predictions.json name it for reading the CSV
    back: ``pd.read_csv(path, sep=csv_separator, decimal=csv_decimal)`` (pandas leaves a UTF-8 byte-order mark out)."""
    like = like or CsvDialect(",", ".")
    return {"csv_separator": like.separator, "csv_decimal": like.decimal,
            "csv_encoding": "utf-8" if like.encoding in UTF8 else "utf-8-sig"}


def as_csv(frame: Any, like: Optional[CsvDialect], float_format: Optional[str] = None) -> str:
    """``frame`` as CSV text (UTF-8 where written) separated and with the decimal mark of the file its rows come from
    (``like``: its :func:`dialect_of`; None: commas and points): a forecast of a file written the European way
    (``;``, ``10,5``) reads back as that file does, in the same program and locale. After a file in another
    encoding than UTF-8 (Excel's code page, UTF-16) it starts with UTF-8's byte-order mark, by which Excel reads
    its '°' and 'é' as such (without it, in its code page: 'Â°'), and which a code page could lack."""
    like = like or CsvDialect(",", ".")
    text = frame.to_csv(index=False, sep=like.separator, decimal=like.decimal, float_format=float_format)
    return text if like.encoding in UTF8 else "\ufeff" + text
