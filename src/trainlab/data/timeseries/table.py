"""What every time-series source returns: :class:`SeriesTable`, the rows in time order (one series or
several, one after the other), and how messages name its rows (by time and series, as the file has them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.csv_writing import CsvDialect
from trainlab.data.timeseries.dates import written
from trainlab.data.timeseries.grids import Grid


@dataclass
class SeriesTable:
    """Rows in time order. features: (rows, num_features), possibly no columns; targets: (rows,
    num_targets). Missing values are NaN (the data module's ``missing`` policy deals with them).
    ``season_length``: steps per seasonal cycle when the source knows it (from its nature or the
    time column's frequency), else None; ``frequency``: the time column's step, where it has one;
    ``categories``: input columns of categories as text, one-hot encoded by the data module."""

    features: np.ndarray
    targets: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    name: str
    season_length: Optional[int] = None
    frequency: Optional[str] = None  # the time column's step as a pandas alias ("D", "h", "15min", "B", "MS")
    series: Optional[str] = None  # the series picked from a file of several ("store=A", "store=A,B,C"), else None
    series_rows: Optional[tuple[tuple[str, int], ...]] = None  # (value, rows) of each series, one after the other
    # each series' grid (its rows' places on the time column's step, and their times as the file writes
    # them), None for a series without a regular step: messages name rows by it (:meth:`row_name`). The
    # file's own arrays, kept as they are (2M times as Python strings would hold ~140 MB)
    times: Optional[tuple[Optional[Grid], ...]] = None
    # input columns of categories (text, or integer codes named as such), not among ``feature_names``: column ->
    # (rows,) its values as text, None where empty; the data module encodes them (trainlab.data.categories)
    categories: Optional[dict[str, np.ndarray]] = None
    # the separator, decimal mark and encoding of the CSV file the rows were read from, for the CSVs written of
    # them (trainlab.data.csv_writing.as_csv: forecast.csv); None for another format or a source of no file
    written_as: Optional[CsvDialect] = None

    def __post_init__(self) -> None:
        for key, names in (("features", self.feature_names), ("targets", self.target_names)):
            values = getattr(self, key)
            if not isinstance(values, np.ndarray) or values.ndim != 2:
                shape = getattr(values, "shape", None)
                raise UserError(f"{self.name}: SeriesTable.{key} must be a numpy array of (rows, columns), 2-D; got a "
                                f"{type(values).__name__}{f' of shape {shape}' if shape is not None else ''} (one "
                                f"column: values[:, None])")
            if values.shape[1] != len(names):
                raise UserError(f"{self.name}: SeriesTable.{key} has {values.shape[1]} column(s) but "
                                f"{key[:-1]}_names {list(names)} names {len(names)}; give one name per column")
        for column, values in (self.categories or {}).items():
            if len(values) != self.targets.shape[0]:
                raise UserError(f"{self.name}: SeriesTable.categories['{column}'] has {len(values)} values for "
                                f"{self.targets.shape[0]} rows; give one per row")
        if self.series_rows is not None and sum(n for _, n in self.series_rows) != self.targets.shape[0]:
            raise ValueError(f"series_rows {self.series_rows} do not add up to the {self.targets.shape[0]} rows")
        if self.features.shape[0] != self.targets.shape[0]:
            raise UserError(
                f"{self.name}: features have {self.features.shape[0]} rows but targets "
                f"{self.targets.shape[0]}; feature and target files must cover the same time steps"
            )

    def row_name(self, row: int) -> str:
        """How messages name a row: its time as the file writes it, and its series where the table holds
        several (``2020-01-11 in series s5``); else its row number (0-based, in time order: the file's
        own row for a file of one series without a time column)."""
        return name_row(row, self.times, self.series_rows)


def name_row(row: int, times: Optional[Sequence[Optional[Grid]]],
             series_rows: Optional[Sequence[tuple[str, int]]]) -> str:
    """:meth:`SeriesTable.row_name`, for rows before their table is made."""
    own, series, index = row, "", 0
    if series_rows:
        ends = np.cumsum([n for _, n in series_rows])
        index = int(np.searchsorted(ends, row, side="right"))
        own, series = row - (int(ends[index - 1]) if index else 0), f" in series {series_rows[index][0]}"
    grid, of = times[index] if times is not None else None, series.replace(" in ", " of ")
    if grid is None:
        return f"row {own}{of}"
    place = int(np.searchsorted(grid.positions, own))
    if place < len(grid.positions) and grid.positions[place] == own:
        return f"{_time_name(grid.written[place])}{series}"
    after = f" (after {_time_name(grid.written[place - 1])})" if place else ""
    return f"row {own}{of}, a time step missing from the file{after}"


def _time_name(time: Any) -> str:
    """A time as the file writes it; a time column of numbers (0, 1, 2 ...) says so: "time 7"."""
    return f"{'time ' if isinstance(time, (int, float, np.number)) else ''}{written(time)}"


def row_times(grids: Sequence[Optional[Grid]]) -> Optional[tuple[Optional[Grid], ...]]:
    """Each series' grid where it names every row's time; None when no series has one."""
    grids = tuple(grid if grid is not None and len(grid.written) == len(grid.positions) else None for grid in grids)
    return None if all(grid is None for grid in grids) else grids
