"""Tables in the formats astronomy archives write (the Gaia archive offers VOTable, its default, ECSV,
FITS and CSV; VizieR and TOPCAT write the same), read with astropy into a pandas DataFrame for
:func:`trainlab.data.files.read_frame`.

What the formats carry beyond a CSV is kept or said: a masked value (a VOTable null, a FITS TNULL,
an ECSV blank) is missing (NaN, or pandas' NA in an integer column, so a 64-bit ``source_id`` keeps
every digit); each column's unit goes into ``frame.attrs["units"]`` (``{"parallax": "mas", ...}``),
which the catalogue reader checks against its settings; a column of arrays (one vector per row, as
Gaia's XP spectra) cannot be a feature and is left out with a log line; a file of several tables
reads the first that has rows, said in a log line.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

# suffix -> astropy's format name; each also read gzipped (.vot.gz, as the archive's downloads come)
FORMATS = {".ecsv": "ascii.ecsv", ".vot": "votable", ".votable": "votable", ".xml": "votable",
           ".fits": "fits", ".fit": "fits", ".fts": "fits"}
SUFFIXES = tuple(f"{s}{packed}" for s in FORMATS for packed in ("", ".gz"))


def table_format(path: Path) -> str | None:
    """astropy's format name for ``path`` by its suffix (``.vot.gz`` as ``.vot``), or None."""
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return FORMATS.get(Path(name).suffix)


def _fits_table_hdu(path: Path, key: str) -> int:
    """The index of the first table HDU with rows; a file of images only is refused."""
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdus:
        tables = [i for i, hdu in enumerate(hdus) if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU))]
        filled = [i for i in tables if hdus[i].data is not None and len(hdus[i].data)]
        if not filled:
            what = "table HDUs without rows" if tables else "no table HDU (images only?)"
            raise UserError(f"{key}: '{path}' holds {what}; give a FITS file with the table in a binary or ASCII "
                            "table HDU (sky images are read by data=sky_folder)")
        if len(tables) > 1:
            log.info("'%s': %d tables, read HDU %d (%s)", path.name, len(tables), filled[0],
                     hdus[filled[0]].name or "unnamed")
        return filled[0]


def read_table(path: Path, key: str):
    """The table of ``path`` (a format of :data:`FORMATS`) as a DataFrame, units in ``attrs["units"]``."""
    from astropy.io.votable.exceptions import VOWarning
    from astropy.table import Table
    from astropy.units import UnitsWarning

    fmt = table_format(path)
    kwargs = {"hdu": _fits_table_hdu(path, key)} if fmt == "fits" else {}
    with warnings.catch_warnings():
        # a VOTable's departures from the standard (archives' own dialects) and units astropy does not
        # know ("electron/s") say nothing about the values; the units are kept as written either way
        warnings.simplefilter("ignore", VOWarning)
        warnings.simplefilter("ignore", UnitsWarning)
        table = Table.read(path, format=fmt, **kwargs)
    if not len(table.colnames):
        raise UserError(f"{key}: '{path}' holds a table without columns")
    arrays = [name for name in table.colnames if table[name].ndim > 1]
    if arrays:
        log.info("'%s': column(s) %s hold an array per row and are left out (a feature is one value per star)",
                 path.name, arrays)
        table.remove_columns(arrays)
    units = {name: str(table[name].unit) for name in table.colnames if table[name].unit is not None}
    frame = _as_frame(table)
    frame.attrs["units"] = units
    return frame


def _as_frame(table):
    """``table.to_pandas()`` a column at a time, the columns not gathered into one block: the whole table's
    conversion held the table, its columns in this machine's byte order (FITS stores them big-endian) and
    pandas' block of them at once, 3.5x a FITS file's size above the process; this holds 2.1x
    (benchmarks/astro_table_memory.py)."""
    import pandas as pd
    from astropy.table import Table

    columns = {}
    for name in list(table.colnames):
        columns[name] = Table([table[name]], copy=False).to_pandas()[name]
        table.remove_column(name)  # its values are in the frame's column now
    return pd.DataFrame(columns, copy=False)
