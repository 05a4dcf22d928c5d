"""The chronological split: every series of a table cut in time order on its own into training,
validation and test rows, so the test split is each series' last stretch."""

from __future__ import annotations

import numpy as np

from trainlab.data.timeseries.table import SeriesTable


def split_rows(rows: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """Ends of the training and validation target rows of a series of ``rows`` rows."""
    n_test = int(round(rows * test_fraction))
    n_val = int(round(rows * val_fraction))
    return rows - n_val - n_test, rows - n_test


def series_spans(table: SeriesTable, val_fraction: float, test_fraction: float,
                 whole_file: bool = False) -> list[tuple[int, int, int, int]]:
    """(first, train end, val end, end) rows of each series of the table, one after the other; with
    ``whole_file`` (evaluate.py ``split=all``) every row counts as a training row (train end = val end = end)."""
    spans, first = [], 0
    for _, rows in table.series_rows or [(None, table.targets.shape[0])]:
        train_end, val_end = (rows, rows) if whole_file else split_rows(rows, val_fraction, test_fraction)
        spans.append((first, first + train_end, first + val_end, first + rows))
        first += rows
    return spans


def series_name(table: SeriesTable, index: int) -> str:
    """How messages name the table, or its ``index``-th series when it holds several."""
    if not table.series_rows:
        return f"'{table.name}'"
    return f"'{table.name}' series {table.series_rows[index][0]}"


def shortest_training(table: SeriesTable, spans: list[tuple[int, int, int, int]]) -> tuple[int, str]:
    """The fewest training rows of a series, and the name of that series (what checks must fit)."""
    sizes = [train_end - first for first, train_end, _, _ in spans]
    index = int(np.argmin(sizes))
    return sizes[index], series_name(table, index)
