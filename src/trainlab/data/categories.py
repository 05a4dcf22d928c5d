"""Categories among the inputs, one-hot encoded, for every family that reads tables: a column of text (a weekday's
name, ``day_type`` weekday or holiday, a store's region; a star's survey or spectral type ``G2V``) and integer codes
named in ``data.source.categorical_columns`` (a ``store_type`` of 1/2/3) become one 0/1 input per category, named
``day_type=holiday``.

The categories are taken from the training rows only (a series file: of every series of a file of several,
pooled; a star catalogue: the training stars, whose features the scaling is fit on), so the validation and test
rows are encoded as a model trained on them alone would see them; a value first seen later (in validation, test,
a new file, a ``future=`` file or ``predict.py``'s catalogue) is encoded as none of them, every one of its inputs
0, and said once per run. An empty cell is none of them too (an event column that names its days and leaves the
others empty; pandas' ``get_dummies`` reads it so): a time step missing from the file has no target either, and
``data.missing`` deals with that row.
The encoding (column -> its categories, in order) is part of the data's saved state: evaluate.py, predict.py and
a resume encode with the checkpoint's, never with categories read anew from their file.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.values import typed_names

log = logging.getLogger(__name__)

MAX_CATEGORIES = 50  # beyond this many values in the training rows a column is an identifier or free text
STATE_KEY = "categories"  # the data module's saved state: {column: [category, ...]}
SHOWN = 5  # values named in a message before "..."

Encoding = dict[str, list[str]]  # column -> its categories, in the order of its inputs


def as_text(column: Any) -> np.ndarray:
    """A column's values as (rows,) text, None where a cell is empty (or blank); whole numbers without their '.0' (a
    column of integer codes with an empty cell reads as floats: 3.0 is the category '3')."""
    import pandas as pd

    values = column.to_numpy(dtype=object)
    empty = pd.isna(column).to_numpy().copy()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype=np.float64)
        whole = ~empty & (numbers == np.round(np.where(empty, 0.0, numbers)))
        values = np.where(whole, np.where(empty, 0, numbers).astype(np.int64).astype(str), values.astype(str))
        values = values.astype(object)
    else:
        values = np.array([str(v).strip() for v in values], dtype=object)
        # a cell of spaces, or a VOTable or FITS null in a text column (astropy reads it back as ''), is empty: taken
        # as a category '', it was an input named 'day_type='
        empty |= values == ""
    values[empty] = None
    return values


def read_by(source: Any, encoding: Optional[Mapping[str, Sequence[str]]]) -> None:
    """Tell a data ``source`` a saved run's category columns before it reads its file, where it asks for them (a
    ``saved_categories`` attribute: trainlab's file sources): a new file holds such a column as categories whatever
    pandas reads in it; all empty, it was dropped as an empty column, and a column of codes read as numbers, and the
    run was refused as trained with categories the file holds otherwise. Every other input the run read as numbers
    (the encoding is the checkpoint's record of its column kinds), so codes of a number and letters ('4G') in one
    are read as numbers in their unit, as a run trained before codes were categories read them (``saved_kinds``);
    they were a category here, and the run refused as trained without it."""
    if hasattr(source, "saved_categories"):
        source.saved_categories = tuple(encoding or ())
        source.saved_kinds = encoding is not None


def input_names(encoding: Mapping[str, Sequence[str]]) -> list[str]:
    """The inputs an encoding makes, column by column: ``day_type=holiday``, ``day_type=weekday``, ..."""
    return [f"{column}={category}" for column, categories in encoding.items() for category in categories]


def _ordered(values: set) -> list[str]:
    """Categories in order: as numbers where every one is a number (2 before 10), else as text."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def fit(columns: Mapping[str, np.ndarray], rows: np.ndarray, where: str, others: Sequence[str],
        unit: str = "row") -> Encoding:
    """Each column's categories: the values of its ``rows`` (the training rows), in order. A column with more than
    :data:`MAX_CATEGORIES` of them (an identifier, free text) is refused, naming it, its count and the inputs to give
    without it (``others``: the numeric inputs); one with none (empty in every training row) too; ``where``: the
    data's name for messages, ``unit``: what a row is there (a catalogue's: "star")."""
    found: Encoding = {}
    for column, values in columns.items():
        seen = {v for v in values[rows] if v is not None}
        kept = [c for c in [*others, *columns] if c != column]
        fix = f"leave it out of the inputs: {typed_names('data.source.feature_columns', kept, False)}"
        if len(seen) > MAX_CATEGORIES:
            shown = ", ".join(repr(v) for v in _ordered(seen)[:3])
            raise UserError(f"column '{column}' of {where} holds {len(seen)} distinct values in the training {unit}s "
                            f"({shown}, ...), more than the {MAX_CATEGORIES} a category may have (one 0/1 input "
                            f"each): an identifier or free text is no category; {fix}")
        if not seen:
            raise UserError(f"column '{column}' of {where} has no value in any training {unit}: no category to learn "
                            f"from; fill it, or {fix}")
        found[column] = _ordered(seen)
    return found


def encode(columns: Mapping[str, np.ndarray], encoding: Mapping[str, Sequence[str]], where: str,
           name_row: Any = "row {}".format, unit: str = "row") -> np.ndarray:
    """(rows, inputs) 0/1 of ``columns`` (:func:`as_text` values) in ``encoding``'s inputs (:func:`input_names`): an
    empty cell is none of its column's categories (every input 0), and so is a value not among them, said once in
    one line naming the values and columns (``where``: the data, ``name_row``: how its rows are named, ``unit``:
    what a row is there)."""
    blocks, unseen = [], []
    blank = [column for column in encoding if all(v is None for v in columns[column])]
    if blank and _rows(columns):
        log.warning("column(s) %s of %s hold no value in any %s: none of their categories (each of their 0/1 inputs "
                    "0), so the model sees nothing of them", blank, where, unit)
    for column, categories in encoding.items():
        values = columns[column]
        place = {category: k for k, category in enumerate(categories)}
        codes = np.array([place.get(v, -1) if v is not None else -2 for v in values], dtype=np.int64)
        block = (codes[:, None] == np.arange(len(categories))[None, :]).astype(np.float64)  # empty (-2): zeros
        blocks.append(block)
        new = np.flatnonzero(codes == -1)
        if len(new):
            names = list(dict.fromkeys(values[new]))
            shown = ", ".join(repr(v) for v in names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")
            unseen.append(f"{column} {shown} ({len(new)} {unit}(s), first at {name_row(int(new[0]))}; its categories: "
                          f"{', '.join(categories[:SHOWN])}{', ...' if len(categories) > SHOWN else ''})")
    if unseen:
        log.warning("values of %s that the training %ss never held, encoded as none of their column's categories "
                    "(each of its 0/1 inputs 0): %s", where, unit, "; ".join(unseen))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((_rows(columns), 0))


def _rows(columns: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def check_columns(columns: Mapping[str, np.ndarray], encoding: Mapping[str, Sequence[str]], where: str,
                  numeric: Sequence[str]) -> None:
    """The data's category columns against a saved run's ``encoding``: a column of text it was not trained with
    (its checkpoint recorded none, or another set), or a category column of the run that the data hold as numbers
    or lack, is refused in one line (``numeric``: the data's numeric inputs)."""
    new = [c for c in columns if c not in encoding]
    if new:
        trained = f"with the category column(s) {list(encoding)}" if encoding else "without category columns"
        raise UserError(f"column(s) {new} of {where} hold categories, but the run was trained {trained}: give the "
                        "inputs it was trained with (leave them out of data.source.feature_columns)")
    lost = [c for c in encoding if c not in columns]
    if lost:
        held = "as numbers" if all(c in numeric for c in lost) else "not as categories"
        raise UserError(f"the run was trained with the category column(s) {lost}, which {where} holds {held}: give "
                        "its values as in training (text, or integer codes named in data.source.categorical_columns)")


def saved(state: Optional[Mapping[str, Any]]) -> Optional[Encoding]:
    """A checkpoint's encoding from the data module's saved ``state``: none recorded (a checkpoint from before
    categories were encoded, which had none) is no category column; None without a state."""
    if state is None:
        return None
    recorded = state.get(STATE_KEY) or {}
    return {str(column): [str(c) for c in categories] for column, categories in recorded.items()}


def codes(column: Any, categories: Sequence[str], where: str) -> Any:
    """A ``future=`` file's category column as numbers: a category's place among ``categories`` plus one, 0 for a
    value the training rows never held (said once) and for an empty cell; :func:`expand` makes the inputs of them."""
    import pandas as pd

    values = as_text(column)
    place = {category: k + 1 for k, category in enumerate(categories)}
    numbers = np.array([0 if v is None else place.get(v, 0) for v in values], dtype=np.float64)
    new = list(dict.fromkeys(v for v in values if v is not None and v not in place))
    if new:
        shown = ", ".join(repr(v) for v in new[:SHOWN]) + (", ..." if len(new) > SHOWN else "")
        log.warning("%s: column '%s' holds %s, which the run's training rows never held: encoded as none of its "
                    "categories (%s; each of their 0/1 inputs 0)", where, column.name, shown, ", ".join(categories))
    return pd.Series(numbers, index=column.index, name=column.name)


def expand(values: np.ndarray, columns: Sequence[str], inputs: Sequence[str],
           encoding: Mapping[str, Sequence[str]]) -> np.ndarray:
    """(rows, inputs) of ``values`` (rows, columns): a numeric column as it is, a category column's :func:`codes` as
    its 0/1 inputs (``day_type=holiday``), in the order of ``inputs``."""
    place = {column: j for j, column in enumerate(columns)}
    made = {f"{column}={category}": (place[column], k + 1) for column, categories in encoding.items()
            if column in place for k, category in enumerate(categories)}
    out = np.empty((len(values), len(inputs)))
    for i, name in enumerate(inputs):
        if name in made:
            j, code = made[name]
            out[:, i] = np.where(np.isnan(values[:, j]), np.nan, values[:, j] == code)  # NaN: a row the file lacks
        else:
            out[:, i] = values[:, place[name]]
    return out


def raw_columns(inputs: Sequence[str], encoding: Mapping[str, Sequence[str]]) -> list[str]:
    """The file's columns that ``inputs`` come from, in order: a category column once for its 0/1 inputs."""
    made = {f"{column}={category}": column for column, categories in encoding.items() for category in categories}
    return list(dict.fromkeys(made.get(name, name) for name in inputs))
