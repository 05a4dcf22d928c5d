"""Star catalogues for the graph family: your own file (:class:`StarCatalogue`), and the table every
source returns.

Every source returns a :class:`StarTable` (3-D positions for the neighbour graph, node features,
integer labels, each star's identifier); :class:`trainlab.data.graph.module.StarGraphDataModule`
does the rest (kNN graph, splits, imputation, scaling, batches). Both sources, a file and the
synthetic catalogue (:class:`trainlab.data.graph.synthetic.SyntheticGaia`), go through
:func:`table_from_frame`, so the synthetic catalogue is read exactly as a file with the same columns
would be.

Missing values are normal in Gaia DR3 (no BP-RP colour for faint or crowded stars, no parallax or
proper motion for two-parameter solutions), so ``missing`` says what to do with them:

* ``impute`` (default): keep the stars; features stay NaN here and the data module fills them with
  the training stars' medians and adds a 0/1 "was missing" feature per affected column.
* ``drop``: leave out every star with a missing feature (also from its neighbours' graphs).
* ``error``: refuse the catalogue, naming the columns and the first row.

A star without a position (ra or dec missing, or parallax for ``position=sky``) cannot be placed in
the graph: under ``impute`` and ``drop`` it is left out and counted in a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from trainlab.data.categories import as_text
from trainlab.data.graph.columns import (MISSING, apply_missing_policy, category_columns, match_case, near_name,
                                         nothing_left, once_per_star, placeable, require_positions, star_ids,
                                         with_gaps)
from trainlab.data.csv_writing import CsvDialect, dialect_of
from trainlab.data.files import data_name, read_frame
from trainlab.data.sheet_advice import sheet_advice
from trainlab.data.timeseries.values import column_name
from trainlab.data.graph.sky import (check_angle_units, check_file_units, convert_file_units, read_sexagesimal,
                                     sky_angles, sky_positions)
from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

# Gaia DR3 gaia_source column names: what the synthetic catalogue writes and what a file has by default
GAIA_FEATURES = ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp"]
SKY_COLUMNS = ["ra", "dec", "parallax"]
CARTESIAN_COLUMNS = ["x", "y", "z"]
POSITIONS = ("sky", "cartesian")

PARALLAX_FLOOR = 0.05  # mas: data.source.parallax_floor's default


@dataclass
class StarTable:
    """One catalogue, row-aligned.

    positions: (stars, 3) float64 Cartesian coordinates the neighbour graph is built on (pc for sky
    catalogues); features: (stars, features) float64 in the catalogue's units, NaN where a value is
    missing (``missing=impute``), of the numeric feature columns (``feature_names``); categories: the feature
    columns of categories, column -> (stars,) its values as text (None where empty), which the data module
    one-hot encodes (:mod:`trainlab.data.categories`); labels: (stars,) int64 indices into ``class_names``;
    ids: (stars,) int64 identifiers, exact (Gaia's ``source_id`` exceeds 2^53, so it never passes through a
    float), named ``id_name`` (``row``: the 0-based row in the file); left_out: stars of the file
    not in the table, per reason; position, position_columns: what the positions were made from
    (``data.source.position`` and its columns), which says how to draw them (:func:`map_plane`).
    """

    positions: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    name: str
    ids: np.ndarray
    id_name: str
    left_out: dict[str, int] = field(default_factory=dict)
    position: str = "cartesian"
    position_columns: tuple[str, ...] = ("x", "y", "z")
    categories: Optional[dict[str, np.ndarray]] = None
    # the separator, decimal mark and encoding of the CSV file it was read from, for the predictions CSVs written of
    # it (trainlab.data.csv_writing.as_csv); None for another format or the synthetic catalogue
    written_as: Optional[CsvDialect] = None

    def map_plane(self, rows: np.ndarray) -> tuple[np.ndarray, str, str]:
        """(len(rows), 2) coordinates to draw stars ``rows`` on a map, and the two axes' labels: the two
        angles in degrees for positions from [ra, dec] alone (points on the unit sphere, no distances),
        else the first two Cartesian axes (pc for sky catalogues)."""
        points = self.positions[rows]
        lon_name, lat_name, *rest = self.position_columns
        if self.position == "sky" and not rest:
            return sky_angles(points), f"{lon_name} (deg)", f"{lat_name} (deg)"
        if self.position == "sky":
            frame = f"pc, from {lon_name}, {lat_name}, {rest[0]}"
            return points[:, :2], f"x ({frame})", f"y ({frame})"
        return points[:, :2], lon_name, lat_name


def _label_strings(values, path: str, column: str) -> np.ndarray:
    """Labels as strings; whole numbers written as floats (1.0, from a CSV with gaps) become '1'."""
    import pandas as pd

    # an empty or blank label is none: a VOTable or FITS null in a text column reads back as '' (astropy
    # keeps no mask there), and a CSV cell of spaces is one; taken as a class '', those stars trained
    blank = (np.zeros(len(values), dtype=bool) if pd.api.types.is_numeric_dtype(values)
             else values.astype(str).str.strip().eq("").to_numpy())
    missing = np.flatnonzero(values.isna().to_numpy() | blank)
    if len(missing):
        raise UserError(f"'{path}' has {len(missing)} star(s) without a label in column '{column}' (first at "
                        f"row {values.index[missing[0]]}); {_fill_advice(values, missing, column)}, or drop them "
                        "before training (python predict.py ckpt_path=<run> catalogue=<a file of them> classifies "
                        "stars without labels)")
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(), 1) == 0):
        values = values.astype(np.int64)
    labels = values.astype(str).to_numpy()
    stripped = np.char.strip(labels.astype(str)).astype(object)
    padded = stripped != labels
    if padded.any():  # 'field ' from a fixed-width export is the class 'field', not a class of its own
        log.info("'%s': %d label(s) in column '%s' had spaces around them, removed (e.g. %r -> %r)", path,
                 int(padded.sum()), column, labels[padded][0], stripped[padded][0])
    return stripped


def _fill_advice(values, missing: np.ndarray, column: str) -> str:
    """How to label the stars a cross-match left empty (members 1, the rest nothing): a class of their own, named
    after the labels there are (0 beside numbers, 'other' beside text). No setting fills labels: data.source.missing
    is for feature values, so the file is where it is done."""
    import pandas as pd

    given = values.drop(values.index[missing])
    numbers = pd.to_numeric(given, errors="coerce")
    if numbers.notna().all():
        taken = set(numbers.astype(float))
        fill = next(v for v in range(len(taken) + 1) if float(v) not in taken)
        shown = str(fill)
    else:
        taken_text = set(given.astype(str).str.strip())
        fill = next(v for v in ("other", "non_member", "unlabelled") if v not in taken_text)
        shown = repr(fill)
    return (f"where an empty label means 'not one of them' (a cross-match's export: members labelled, the rest "
            f"empty), fill those cells with a class of their own, e.g. {shown} (pandas: "
            f"frame['{column}'] = frame['{column}'].fillna({shown}); data.source.missing fills feature values, not "
            "labels); else label them")


def _found_classes(labels: np.ndarray, path: str, column: str) -> list[str]:
    """The labels found, sorted (as numbers when all are integers); labels that differ only in case
    ('Field', 'field') are refused: one class written two ways would split silently into two."""
    found = np.unique(labels)
    by_case: dict[str, list[str]] = {}
    for name in found:
        by_case.setdefault(name.casefold(), []).append(name)
    clashes = [names for names in by_case.values() if len(names) > 1]
    if clashes:
        raise UserError(f"'{path}' has labels in column '{column}' that differ only in case: "
                        f"{' and '.join(repr(n) for n in clashes[0])}; write each class one way, or, if they are "
                        "different classes, name every class in data.source.classes")
    numeric = all(s.lstrip("-").isdigit() for s in found)
    return sorted(found, key=int) if numeric else sorted(found)


def table_from_frame(frame, path: str, label_column: str, feature_columns: Sequence[str], position: str,
                     position_columns: Optional[Sequence[str]], classes: Optional[Sequence[Union[str, int]]],
                     parallax_floor: float, missing: str = "impute", id_column: Optional[str] = None,
                     angle_units: str = "deg", categorical_columns: Sequence[str] = (),
                     units_kept: bool = False, codes: bool = True) -> StarTable:
    """Check a catalogue's columns and turn it into a :class:`StarTable` (see :class:`StarCatalogue`).

    Columns not named (as features, positions, label or identifier) are ignored. ``units_kept``: the settings are a
    run's, kept by predict.py (:func:`trainlab.data.graph.sky.sky_positions`); ``codes``: False for a saved run's
    catalogue, whose features it read as numbers unless its checkpoint names them as categories
    (:func:`trainlab.data.categories.read_by`): codes '4G' in one are numbers in their unit, as it was trained."""
    written_as = dialect_of(frame)  # before the frame is cut and converted
    if position not in POSITIONS:
        raise UserError(f"data.source.position={position!r} is not one of {', '.join(POSITIONS)}")
    if missing not in MISSING:
        raise UserError(f"data.source.missing={missing!r} is not one of {', '.join(MISSING)}")
    if position_columns is None:
        position_columns = SKY_COLUMNS if position == "sky" else CARTESIAN_COLUMNS
    position_columns = [str(c) for c in position_columns]
    if len(position_columns) not in ((2, 3) if position == "sky" else (3,)):
        what = ("3 columns, [ra, dec, parallax], or 2, [ra, dec] (no distances: neighbours by angle on the sky)"
                if position == "sky" else "3 columns: [x, y, z]")
        raise UserError(f"data.source.position_columns={position_columns} must name {what}")
    feature_columns = [str(c) for c in feature_columns]
    if not feature_columns:
        raise UserError("data.source.feature_columns is empty; name the columns the classifier sees")
    frame.columns = [str(c) for c in frame.columns]
    match_case(frame, [label_column, *position_columns, *feature_columns, *([id_column] if id_column else [])], path)
    if label_column not in frame.columns:
        advice = sheet_advice(frame, path, [label_column])  # a workbook's other sheet that holds it
        raise UserError(f"data.source.label_column: '{label_column}' not in '{path}'; its columns are "
                        f"{list(frame.columns)}"
                        f"{advice or near_name(frame, label_column, 'label', [*position_columns, *feature_columns])}")
    require_positions(frame, position_columns, [label_column, *feature_columns, *([id_column] if id_column else [])],
                      path)
    ids, id_name = star_ids(frame, path, id_column)
    if id_name in feature_columns:
        raise UserError(f"data.source.feature_columns names '{id_name}', the stars' identifier: an identifier is "
                        "no measurement; leave it out")
    if label_column in feature_columns:
        raise UserError(f"data.source.feature_columns names '{label_column}', the data.source.label_column: a model "
                        "that is shown each star's class learns nothing; leave it out")
    if position == "sky":
        check_file_units(frame.attrs.get("units", {}), position_columns, angle_units, path)
        convert_file_units(frame, position_columns, angle_units, path)
        read_sexagesimal(frame, position_columns, angle_units, path)
    categorical = category_columns(frame, feature_columns, categorical_columns or (), label_column, position_columns,
                                   id_name, path, codes)
    numeric = [c for c in feature_columns if c not in categorical]
    features = with_gaps(frame, numeric, path, "feature", others=categorical, codes=codes)
    coordinates = with_gaps(frame, position_columns, path, "position")
    first = once_per_star(frame, ids, id_name, [label_column, *position_columns, *feature_columns], path)
    placed = placeable(coordinates, position_columns, missing, path) & first
    keep = apply_missing_policy(features, numeric, missing, path, placed)
    left_out = {reason: int(n) for reason, n in (("repeated rows", (~first).sum()),
                                                 ("without a position", (first & ~placed).sum()),
                                                 ("missing features (missing=drop)", (placed & ~keep).sum())) if n}
    if not keep.any():
        raise UserError(nothing_left(path, coordinates[first], position_columns, features[placed], numeric, missing))
    if not keep.all():
        frame, features, coordinates, ids = frame[keep], features[keep], coordinates[keep], ids[keep]
    labels = _label_strings(frame[label_column], path, label_column)
    if classes is None:
        class_names = _found_classes(labels, path, label_column)
    else:
        class_names = [str(c) for c in classes]
        if len(set(class_names)) != len(class_names):
            raise UserError(f"data.source.classes={class_names} names a class twice")
        unknown = ~np.isin(labels, class_names)
        if unknown.any():
            first = np.flatnonzero(unknown)[0]
            raise UserError(
                f"'{path}' row {frame.index[first]} has label {labels[first]!r} in column '{label_column}', "
                f"which is not one of data.source.classes {class_names} ({int(unknown.sum())} such star(s)); "
                "fix those rows or add the class to data.source.classes"
            )
    if len(class_names) < 2:
        gone = sum(left_out.values())
        after = (f" among the {len(keep) - gone} stars kept (left out {gone} of {len(keep)}: "
                 f"{', '.join(f'{n} {reason}' for reason, n in left_out.items())})" if gone else "")
        raise UserError(f"'{path}' has only the class {class_names} in column '{label_column}'{after}; "
                        "classification needs at least 2 classes")
    index = {name: i for i, name in enumerate(class_names)}
    label_ids = np.fromiter((index[s] for s in labels), dtype=np.int64, count=len(labels))
    if position == "sky":
        positions = sky_positions(coordinates, position_columns, angle_units, parallax_floor, path, units_kept,
                                  rows=frame.index)
    else:
        positions = coordinates.astype(np.float64)
    if len(positions) > 1 and not np.ptp(positions, axis=0).any():
        # the neighbour graph would join stars by file order: a query's centre copied onto every row, a constant
        where = ", ".join(f"{c}={v:g}" for c, v in zip(position_columns, coordinates[0]))
        raise UserError(f"every star of '{path}' is at one position ({where}): the neighbour graph would join stars at "
                        "random; give each star's own position (data.source.position_columns names its columns)")
    return StarTable(positions, features, label_ids, numeric, class_names, data_name(path), ids, id_name, left_out,
                     position, tuple(position_columns), {c: as_text(frame[c]) for c in categorical} or None,
                     written_as)


class StarCatalogue:
    """Your own catalogue: a CSV, Parquet, ECSV, VOTable or FITS table file or a workbook's sheet, one star per row,
    columns named as you like.

    Args:
        path: the file.
        label_column: the column with each star's class (text or integers).
        feature_columns: columns the classifier sees (default: Gaia DR3's parallax, pmra, pmdec,
            phot_g_mean_mag, bp_rp); a column of text among them (a survey, a spectral type) is a category, one
            0/1 feature per value of the training stars (:mod:`trainlab.data.categories`).
        position: "sky" (``position_columns`` are ra, dec [``angle_units``], parallax [mas]; converted to
            heliocentric x, y, z in pc, so neighbours are right across RA 0/360 and at the poles; galactic
            l, b work as well; [ra, dec] alone: points on the unit sphere, neighbours by angle) or
            "cartesian" (three coordinates used as they are).
        position_columns: null takes [ra, dec, parallax] or [x, y, z].
        classes: the class names in the order of the model's outputs; a label outside them is an
            error. Null takes the labels found, sorted.
        parallax_floor: parallaxes below this (mas) are raised to it before inverting (sky only).
        missing: what to do with missing feature values: "impute" (keep the stars: training-star
            medians plus a 0/1 "was missing" feature per affected column), "drop" or "error". Stars
            without a position are left out (and counted) under impute and drop.
        id_column: the stars' identifier, kept exactly as a 64-bit integer and written beside each
            star's prediction by evaluate.py; never a feature. Null: ``source_id`` when the file has
            it, else the row number.
        sheet: in a workbook (.xlsx, .xls, .ods, ...), the sheet read: its name or 0-based position; null: the first
            (see trainlab.data.workbooks). Refused for a file of another format.
        angle_units: "deg", "rad" or "hours" (RA in hours, Dec in degrees), for ``position=sky``.
            Degrees that look like radians or hours, and parallaxes mostly below the floor (arcsec
            read as mas), are warned about (:mod:`trainlab.data.graph.sky`).
        categorical_columns: feature columns of integer codes (a ``survey`` of 1/2/3) that are categories, one
            0/1 feature per value as a column of text is without being named.

    Columns the file has but no argument names (``parallax_error``, ``ruwe``, ...) are ignored.
    """

    def __init__(self, path: str, label_column: Union[str, int],
                 feature_columns: Sequence[Union[str, int]] = tuple(GAIA_FEATURES), position: str = "sky",
                 position_columns: Optional[Sequence[Union[str, int]]] = None,
                 classes: Optional[Sequence[Union[str, int]]] = None, parallax_floor: float = PARALLAX_FLOOR,
                 missing: str = "impute", id_column: Optional[Union[str, int]] = None, angle_units: str = "deg",
                 categorical_columns: Optional[Sequence[Union[str, int]]] = None,
                 sheet: Optional[Union[str, int]] = None):
        if parallax_floor <= 0:
            raise UserError(f"data.source.parallax_floor={parallax_floor} must be > 0 (mas)")
        if position == "cartesian" and parallax_floor != PARALLAX_FLOOR:
            log.warning("data.source.parallax_floor=%s is not used: it applies to position=sky only (positions are "
                        "taken as they are with position=cartesian)", parallax_floor)
        if missing not in MISSING:
            raise UserError(f"data.source.missing={missing!r} is not one of {', '.join(MISSING)}")
        check_angle_units(angle_units)
        if position == "cartesian" and angle_units != "deg":
            log.warning("data.source.angle_units=%s is not used: it applies to position=sky only", angle_units)
        # a column by its 0-based number (label_column=8) as the series' keys take it: a file without a header has
        # its columns named '0', '1', ... (trainlab.data.headers), which the number names
        self.path, self.label_column = path, column_name(label_column)
        self.feature_columns = [column_name(c) for c in ([feature_columns] if isinstance(feature_columns, (str, int))
                                                         else feature_columns)]
        self.position, self.classes = position, classes
        self.position_columns = None if position_columns is None else [column_name(c) for c in position_columns]
        self.parallax_floor, self.missing = parallax_floor, missing
        self.id_column = None if id_column is None else column_name(id_column)
        self.angle_units, self.sheet = angle_units, sheet
        self.categorical_columns = [column_name(c) for c in ([categorical_columns] if isinstance(
            categorical_columns, (str, int)) else (categorical_columns or []))]

    # a saved run's category columns (set by the data module's read_as_saved): categories in this catalogue whatever
    # it holds in them, numbers or no value at all (each of their 0/1 features 0)
    saved_categories: tuple[str, ...] = ()
    saved_kinds = False  # a saved run's read: every other feature numbers, codes ('4G') too (categories.read_by)

    def load(self) -> StarTable:
        frame = read_frame(self.path, "data.source.path", self.sheet, wanted=[self.label_column])
        table = table_from_frame(frame, self.path, self.label_column, self.feature_columns, self.position,
                                 self.position_columns, self.classes, self.parallax_floor, self.missing,
                                 self.id_column, self.angle_units,
                                 list(dict.fromkeys([*self.categorical_columns, *(
                                     c for c in self.saved_categories if c in self.feature_columns)])),
                                 codes=not self.saved_kinds)
        absent = [c for i, c in enumerate(table.class_names) if not (table.labels == i).any()]
        if absent:  # named in data.source.classes, no star to train on or score: recall, F1, AUROC undefined
            raise UserError(f"data.source.classes names {absent}, which no star of '{self.path}' has in column "
                            f"'{self.label_column}'; leave {'it' if len(absent) == 1 else 'them'} out, or add stars "
                            f"of {'that class' if len(absent) == 1 else 'those classes'}")
        return table
