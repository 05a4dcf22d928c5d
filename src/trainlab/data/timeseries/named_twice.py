"""A feature column named as a target: with ``data.target_inputs=true`` a window's inputs hold the target's past
values under that name, so the feature column of that name cannot be an input as well. This only happens when
the targets come from a file of their own (``data.source.target_path``) or from a source of the user's: a file
of features and targets has one column per name.

A column that repeats the target's values (the same file given twice, or the targets copied into the features
file) is an input once, said in the log; a column of other values under the target's name is refused: left
out by name, a driver the user meant the model to see was gone without a word."""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.table import SeriesTable

log = logging.getLogger(__name__)


def features_named_as_targets(table: SeriesTable, source: Any, inputs_without: Callable[[list[str]], str],
                              say: bool) -> list[str]:
    """The feature columns of ``table`` named as a target and holding its values (taken once, as the target's
    past values; logged when ``say``); a feature column of other values under a target's name is refused in one
    line naming both files, the column and the fixes (``inputs_without(names)``: the feature_columns override that
    leaves them out, or '')."""
    same, other = [], []
    for name in (n for n in table.feature_names if n in table.target_names):
        feature = table.features[:, table.feature_names.index(name)].astype(np.float64)
        target = table.targets[:, table.target_names.index(name)].astype(np.float64)
        (same if np.array_equal(feature, target, equal_nan=True) else other).append(name)
    columns = ", ".join(map(repr, other or same))
    path, target_path = getattr(source, "path", None), getattr(source, "target_path", None)
    files = bool(path and target_path)
    where = (f"data.source.path '{path}' and data.source.target_path '{target_path}' both have a column {columns}"
             if files else f"the source of '{table.name}' gives feature and target column(s) {columns}")
    if other:
        leave = inputs_without(other)
        raise UserError(f"{where}, of other values in each: with data.target_inputs=true the target's past values are "
                        f"inputs under that name, and the feature column would be lost; rename it in "
                        f"{'one of the files' if files else 'its feature_names or target_names'}"
                        f"{f', leave it out of the inputs: {leave},' if leave else ''} or set data.target_inputs=false "
                        "(that column an input, the target's past values not)")
    if same and say:
        log.info("%s, of the same values: it is an input once, as the target's past values (data.target_inputs=true)",
                 where)
    return same
