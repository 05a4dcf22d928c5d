"""A catalogue's columns as Gaia exports them: identifiers kept exact, gaps kept as NaN, stars
that cannot be placed in the graph left out, and the ``data.source.missing`` policy
(:mod:`trainlab.data.graph.catalogue` documents it)."""

from __future__ import annotations

import logging
import re
from typing import Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError, nearest
from trainlab.data.timeseries.values import numeric_columns, require_columns, text_columns, typed_names

log = logging.getLogger(__name__)

MISSING = ("impute", "drop", "error")
ID_COLUMN = "source_id"  # Gaia's identifier: taken as the stars' id when a file has it
# Gaia DR3's names as VizieR (I/355/gaiadr3) and other archives spell them, offered where a file lacks a name
# (matched in any case): near spellings alone offered pmra for ra and pmdec for dec
ARCHIVE_SPELLINGS = {
    "ra": ("RA_ICRS", "RAJ2000", "_RAJ2000", "RAdeg", "RA_deg", "ra_icrs"),
    "dec": ("DE_ICRS", "DEJ2000", "_DEJ2000", "DEdeg", "DE_deg", "Dec_deg", "Declination"),
    "parallax": ("Plx", "parallax_mas"),
    "l": ("GLON", "_Glon", "l_deg"), "b": ("GLAT", "_Glat", "b_deg"),
    "pmra": ("pmRA",), "pmdec": ("pmDE",), "phot_g_mean_mag": ("Gmag", "G_mag"), "bp_rp": ("BP-RP", "BPmag-RPmag"),
}


def near_name(frame, name: str, role: str, taken: Sequence[str] = ()) -> str:
    """``"; did you mean data.source.<role>_column=<column>?"`` for the column of ``frame`` nearest ``name``
    (``label`` for ``labels``), never one of ``taken`` (read by another setting); "" where none is near."""
    meant = next(iter(nearest(name, [str(c) for c in frame.columns if str(c) not in taken])), None)
    return f"; did you mean {typed_names(f'data.source.{role}_column', [meant], True)}?" if meant else ""


def require_positions(frame, position_columns: list[str], others: Sequence[str], path: str) -> None:
    """Refuses position columns the file lacks, offering the archives' spellings of them and never a column that
    ``others`` (features, label, identifier) names: a VizieR export's ``RA_ICRS`` for ``ra``, not ``pmra``."""
    require_columns(frame, position_columns, path, "data.source.position_columns", taken=others,
                    spellings=ARCHIVE_SPELLINGS)


def with_gaps(frame, columns: list[str], path: str, role: str, others: Sequence[str] = (),
              codes: bool = True) -> np.ndarray:
    """Columns as float64 with NaN where values are missing, read by :func:`numeric_columns` (present, numeric,
    thousands separators, missing-value marks and codes read: :mod:`trainlab.data.missing_codes`), whose refusal of
    gaps the missing policy replaces; ``others``: the features read as categories, kept in the features a refusal
    gives; ``codes``: as :func:`~trainlab.data.timeseries.values.text_columns` takes it."""
    return numeric_columns(frame, columns, path, role, allow_missing=True, others=others,
                           missing_key="data.source.missing", codes=codes)


def category_columns(frame, feature_columns: list[str], declared: Sequence[str], label_column: str,
                     position_columns: list[str], id_name: str, path: str, codes: bool = True) -> list[str]:
    """The feature columns that are categories (:mod:`trainlab.data.categories`), in their order: those of text (a
    survey's name, a spectral type ``G2V``, a ``source`` flag) and the integer codes ``declared`` in
    data.source.categorical_columns. A declared name that is the label, a position or the identifier, or that
    data.source.feature_columns leaves out, is refused in one line; a position column is never a category (the
    graph places the stars by its numbers). ``codes``: as :func:`~trainlab.data.timeseries.values.text_columns`
    takes it (False: a saved run's features, whose codes '4G' it may have read as numbers)."""
    require_columns(frame, feature_columns, path, "data.source.feature_columns",
                    taken=[label_column, id_name], spellings=ARCHIVE_SPELLINGS)
    declared = [str(c).strip() for c in declared]
    for name in declared:
        role = ("the data.source.label_column: the class a model is to learn is no input" if name == label_column
                else "a position column (data.source.position_columns): the graph places the stars by its numbers"
                if name in position_columns else "the stars' identifier: an identifier is no category"
                if name == id_name else None)
        if role:
            raise UserError(f"data.source.categorical_columns names '{name}', {role}; name feature columns only "
                            "(e.g. data.source.categorical_columns=[survey])")
        if name not in feature_columns:
            meant = [n if n in feature_columns else next(iter(nearest(n, feature_columns)), None) for n in declared]
            hint = (f"; did you mean {typed_names('data.source.categorical_columns', meant, False)}?"
                    if None not in meant else "")
            raise UserError(f"data.source.categorical_columns names '{name}', which data.source.feature_columns "
                            f"leaves out of the features {feature_columns}; add it there, or leave it out here{hint}")
    read = [c for c in feature_columns if c not in position_columns]
    text = text_columns(frame, [c for c in read if c in declared], path, "data.source.missing")  # '4G' stays text
    text += text_columns(frame, [c for c in read if c not in declared], path, "data.source.missing", codes)
    return [c for c in feature_columns if c in declared or c in text]


def match_case(frame, wanted: list[str], path: str) -> None:
    """Columns the file names in another case than the settings do (RA, PARALLAX: FITS tables and some archives
    write capitals) renamed to the settings' names, in ``frame`` and its stated units, in place, with a log line:
    a run on a CSV with ra could not read the archive's FITS of the same stars (predict.py, whose columns are its
    run's, had no setting to give). Only where the exact name is absent and one column matches; two (RA and
    Ra) are left to the refusal of a missing column."""
    renames = {}
    for name in dict.fromkeys(wanted):
        found = [c for c in frame.columns if c.casefold() == name.casefold() and c not in wanted]
        if name not in frame.columns and len(found) == 1:
            renames[found[0]] = name
    if renames:
        log.info("'%s': column(s) %s read as %s (the same names in another case)", path, list(renames),
                 list(renames.values()))
        # the frame is renamed in place (its callers hold it); pandas 3 deprecates rename's inplace=True
        frame.columns = [renames.get(c, c) for c in frame.columns]
        units = frame.attrs.get("units", {})
        for old, new in renames.items():
            if old in units:
                units[new] = units.pop(old)


def star_ids(frame, path: str, id_column: Optional[str]) -> tuple[np.ndarray, str]:
    """(stars,) int64 identifiers, exact, and their name: ``id_column``, else ``source_id`` when the
    file has it (in any case: ``SOURCE_ID``, as some archive exports and TOPCAT write it), else the 0-based
    row number (``row``)."""
    import pandas as pd

    if id_column is None:
        named = [ID_COLUMN] if ID_COLUMN in frame.columns else [c for c in frame.columns if c.casefold() == ID_COLUMN]
        if len(named) != 1:  # none, or two other spellings: the row number (data.source.id_column picks one)
            return np.arange(len(frame), dtype=np.int64), "row"
        id_column = named[0]
        if id_column != ID_COLUMN:  # it was passed over: predictions named stars by row number
            log.info("'%s': column '%s' taken as the stars' identifier (%s)", path, id_column, ID_COLUMN)
    elif id_column not in frame.columns:
        raise UserError(f"data.source.id_column: '{id_column}' not in '{path}'; its columns are {list(frame.columns)} "
                        f"(null: source_id when present, else the row number){near_name(frame, id_column, 'id')}")
    values = frame[id_column]
    if values.isna().any():
        raise UserError(f"'{path}' has {int(values.isna().sum())} star(s) without an identifier in column "
                        f"'{id_column}' (first at row {values.index[values.isna()][0]}); fill them, or set "
                        "data.source.id_column to another column")
    if pd.api.types.is_float_dtype(values):  # a float64 holds integers exactly only up to 2^53
        raise UserError(f"column '{id_column}' in '{path}' holds floating-point numbers; identifiers such as Gaia's "
                        "source_id (up to ~7e18) lose digits as floats: write them as integers")
    if not pd.api.types.is_integer_dtype(values):
        try:
            return np.array([int(v) for v in values], dtype=np.int64), id_column
        except (TypeError, ValueError, OverflowError) as exc:
            row = next((i for i, v in values.items() if not _whole_int64(v)), values.index[0])
            raise UserError(f"column '{id_column}' in '{path}' is not a 64-bit integer identifier (row {row}: "
                            f"{values[row]!r}); an identifier is a whole number, as Gaia's source_id (a designation "
                            "'Gaia DR3 4295806720' holds it after 'Gaia DR3 '): write whole numbers there, or name "
                            "another column of them in data.source.id_column") from exc
    if values.max() > np.iinfo(np.int64).max:  # uint64 beyond int64
        raise UserError(f"column '{id_column}' in '{path}' holds identifiers above 2^63 - 1")
    return values.to_numpy(dtype=np.int64), id_column


def _whole_int64(value) -> bool:
    """Whether ``value`` is written as a whole number that an int64 holds."""
    if not re.fullmatch(r"\s*[-+]?\d+\s*", str(value)):
        return False
    return np.iinfo(np.int64).min <= int(str(value)) <= np.iinfo(np.int64).max


def once_per_star(frame, ids: np.ndarray, id_name: str, columns: list[str], path: str) -> np.ndarray:
    """True for the first row of every star. A row that repeats another (same identifier and the same
    value in every column used) is the same star listed twice, as concatenated queries or a cross-match
    list it: it is left out, since its twin in another split would be scored on what training saw. One
    identifier with different values is two stars under one name, or one star measured twice: refused."""
    import pandas as pd

    columns = columns if id_name == "row" else [id_name, *columns]  # row numbers: the contents alone
    first = ~frame[list(dict.fromkeys(columns))].duplicated(keep="first").to_numpy()
    if not first.all():
        log.info("'%s': left out %d row(s) repeating another row (same %s and values)", path, int((~first).sum()),
                 "row contents" if id_name == "row" else id_name)
    if id_name != "row":
        twice = pd.Series(ids[first]).duplicated(keep=False).to_numpy()
        if twice.any():
            star = ids[first][twice][0]
            rows = frame.index[np.flatnonzero(ids == star)[:2]].tolist()
            raise UserError(f"'{path}' lists {id_name} {star} more than once with different values (rows {rows[0]} "
                            f"and {rows[1]}; {len(set(ids[first][twice].tolist()))} such identifier(s)); keep one row "
                            f"per star, or set data.source.id_column to a column that is unique")
    return first


def placeable(coordinates: np.ndarray, position_columns: list[str], missing: str, path: str) -> np.ndarray:
    """True for stars with every position coordinate; says how many are left out and why."""
    gaps = np.isnan(coordinates)
    ok = ~gaps.any(axis=1)
    if ok.all():
        return ok
    counts = ", ".join(f"{int(gaps[:, j].sum())} without {c}" for j, c in enumerate(position_columns) if gaps[:, j].any())
    if missing == "error":
        raise UserError(f"'{path}' has {int((~ok).sum())} star(s) without a position ({counts}; first at row "
                        f"{int(np.flatnonzero(~ok)[0])}); data.source.missing=impute or drop leaves them out")
    log.info("left out %d of %d stars of '%s' that cannot be placed in the graph (%s)", int((~ok).sum()), len(ok),
             path, counts)
    return ok


def apply_missing_policy(features: np.ndarray, feature_columns: list[str], missing: str, path: str,
                         keep: np.ndarray) -> np.ndarray:
    """Apply the policy to missing features among the stars in ``keep``; returns the stars kept."""
    gaps = np.isnan(features) & keep[:, None]
    rows = gaps.any(axis=1)
    if not rows.any() or missing == "impute":  # imputed by the data module, on the training stars
        return keep
    columns = {c: int(gaps[:, j].sum()) for j, c in enumerate(feature_columns) if gaps[:, j].any()}
    if missing == "error":
        raise UserError(f"'{path}' has {int(rows.sum())} star(s) with missing values in {list(columns)} (first at "
                        f"row {int(np.flatnonzero(rows)[0])}); data.source.missing=impute keeps them (imputed, "
                        "with a 'was missing' feature), drop leaves them out")
    log.info("missing values (data.source.missing=drop): left out %d of %d stars of '%s' (%s)", int(rows.sum()),
             int(keep.sum()), path, ", ".join(f"{c} {n}" for c, n in columns.items()))
    return keep & ~rows


def nothing_left(path: str, coordinates: np.ndarray, position_columns: list[str], features: np.ndarray,
                 feature_columns: list[str], missing: str) -> str:
    """The refusal for a catalogue of which every star was left out, naming the columns that emptied it
    (``coordinates``: the stars listed once; ``features``: those that could be placed) and the fix; the
    class check after it would otherwise say the file holds no class at all."""
    unplaced = np.isnan(coordinates).any(axis=1)
    if unplaced.all():
        empty = [c for j, c in enumerate(position_columns) if np.isnan(coordinates[:, j]).all()]
        counts = ", ".join(f"{int(np.isnan(coordinates[:, j]).sum())} without {c}" for j, c in enumerate(position_columns)
                           if np.isnan(coordinates[:, j]).any())
        fix = (f"fill {empty[0]}, or place the stars on the sky alone: data.source.position_columns="
               f"[{','.join(c for c in position_columns if c not in empty)}] (and {empty[0]} out of "
               "data.source.feature_columns)" if empty == [position_columns[-1]] and len(position_columns) == 3
               else "fill those columns, or name others in data.source.position_columns")
        return (f"no star of '{path}' can be placed in the graph: all {len(coordinates)} lack a position ({counts}); "
                f"{fix}")
    gaps = np.isnan(features)
    counts = ", ".join(f"{c} {int(gaps[:, j].sum())}" for j, c in enumerate(feature_columns) if gaps[:, j].any())
    return (f"no star of '{path}' is left: data.source.missing={missing} left out all {len(features)} placed stars "
            f"for missing features ({counts}); data.source.missing=impute keeps them (imputed, with a 'was missing' "
            "feature), or leave the emptiest column out of data.source.feature_columns")
