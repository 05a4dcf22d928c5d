"""Where a user's series comes from: their files (:class:`TableFile`: CSV, Parquet, Excel, ... with
a time column, several series in one file, wide layouts; its settings are checked in :mod:`.file_settings`). The
other sources are the seeded generator (:mod:`.synthetic`) and real series shipped inside installed packages
(:mod:`.packaged`).

Every source returns a :class:`SeriesTable`; the data module does the rest (split, scale, window).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.csv_writing import CsvDialect, dialect_of
from trainlab.data.files import data_name, read_frame
from trainlab.data.categories import as_text
from trainlab.data.timeseries.date_columns import written_index
from trainlab.data.timeseries.file_settings import FileSettings
from trainlab.data.timeseries.file_step import common_step, on_file_step
from trainlab.data.timeseries.grids import Grid, business_days_alike
from trainlab.data.timeseries.layouts import (calendar_column, describe_wide, long_from_wide, row_names,
                                              warn_time_features, wide_columns)
from trainlab.data.timeseries.regular import regular_series
from trainlab.data.timeseries.series import pick_series, series_hint, series_label, stacked
from trainlab.data.timeseries.table import SeriesTable, name_row, row_times
from trainlab.data.timeseries.times import TimeReading, describe_step, read_times, sort_by_time, time_where
from trainlab.data.timeseries.values import numeric_columns, require_columns, stripped_header, text_columns, with_values

log = logging.getLogger(__name__)

PROGRESS_S = 30.0  # seconds between progress lines while series are sorted one at a time


def _stretches(positions: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    """(first, end) of each series' rows once the rows at ``positions`` are gathered series after series."""
    ends = np.cumsum([len(rows) for rows in positions])
    return [(int(end) - len(rows), int(end)) for rows, end in zip(positions, ends)]


class TableFile(FileSettings):
    """A series from files: CSV, Parquet, NPY or a workbook's sheet; features and targets in one file or two.

    Args:
        path: file with the features (and the targets when ``target_path`` is null).
        sheet: in a workbook (.xlsx, .xls, .ods, ...), the sheet read: its name or 0-based position; null: the first
            (see trainlab.data.workbooks). Refused for a file of another format.
        target_columns: columns predicted (names; integer positions for NPY).
        feature_columns: input columns; null takes every column of the feature file except the
            targets (when they share the file) and ``time_column``.
        target_path: optional separate file with the targets, row-aligned with ``path``.
        time_column: optional column to sort rows by and then drop (see trainlab.data.timeseries.times:
            one date format for every row, missing steps added as empty rows, the season it implies);
            or the date's parts in columns of their own, [year, quarter], [year, month] or [year, month, day],
            or a date and a time of day, [date, time] (``time_format`` then reads the two joined by a space).
        time_format: the time column's date format (strftime codes, e.g. ``%d/%m/%Y``), ``unix`` or
            ``unix_ms`` (numbers as Unix time), ``excel`` (spreadsheet serial dates), ``number`` (numbers
            stay numbers: no date is read into them); null: inferred, refusing dates that read differently month-first and day-first, and
            reading whole numbers as dates where they look like ones (logged).
        series_column: in a file of several series (long layout: ``store,date,sales``), the column
            that tells them apart; the rows of each series picked are taken apart before anything else
            (sorting, missing steps; the data module splits and windows each on its own), and the
            column is not a feature.
        series: the value(s) of ``series_column`` to learn: one (one series), a list, or null: every
            series in the file, pooled in one model (see trainlab.data.timeseries.series).
        layout: "wide" reads a row per year and a column per month or quarter (``YEAR,JAN,...,DEC``),
            or a row per series (``series_column``) and a column per year (``1960,1961,...``), as values
            named by the one target column (trainlab.data.timeseries.layouts); "long" takes such columns
            as they are; null (default) refuses a wide file, which would read as many feature columns.
        time_zone: the zone (IANA, e.g. Europe/Berlin) whose clock the time column's dates without
            offsets are written in: read in UTC, so a daylight-saving change is no gap and no duplicate.
        categorical_columns: input columns of integer codes (a ``store_type`` of 1/2/3) that are categories, one
            0/1 input per value as a column of text is without being named (trainlab.data.categories).
    """

    KEY = "data.source.path"  # the setting that names the file, as refusals say it (predict.py's future=<file>: its own)
    # a saved run's category columns (set by the data module's read_as_saved): categories in this file whatever it
    # holds in them, numbers or no value at all (each of their 0/1 inputs 0), never dropped as empty
    saved_categories: tuple[str, ...] = ()
    saved_kinds = False  # a saved run's read: every other input numbers, codes ('4G') too (categories.read_by)
    SHEET_KEY = "data.source.sheet"  # the setting that picks its sheet in a workbook (predict.py's: sheet)
    written_as: Optional[CsvDialect] = None  # separator, decimal mark, encoding of the CSV read (csv_writing)

    def load(self) -> SeriesTable:
        frame = self._read(self.path, self.KEY)
        target_frame = frame if self.target_path is None else self._read(self.target_path, "data.source.target_path")
        self._require_columns(frame, target_frame)
        values, pooled, target_pooled, positions = self._series_frames(frame, target_frame)
        reading, target_reading = (self._reading(frame, self.path, positions),
                                   self._reading(target_frame, self.target_path, positions))
        frame, target_frame, grids, lengths = self._in_time_order(values, pooled, target_pooled, positions, reading,
                                                                   target_reading)
        grids = business_days_alike(grids)  # a short series of weekdays among business-day ones
        names = [f"{self.series_column}={value}" for value in values]
        where = f"data.source.time_column '{self.time_column}'"
        if len(grids) > 1:  # a short series on the step of the file's others (two rows with a gap between them)
            frame, target_frame, grids, lengths = on_file_step(frame, target_frame, grids, lengths, names, where)
        season, frequency = common_step(grids, where, names)
        read = describe_step(grids, season, self.time_column, names) if self.time_column else None
        if read:
            log.info(read)
        feature_columns = self.feature_columns
        if feature_columns is None:  # may be empty: a univariate series learns from its past values
            skip = {c for c in (self.time_column, self.series_column) if c}
            if self.target_path is None:
                skip |= set(self.target_columns)
            skip |= set(written_index(frame))
            feature_columns = with_values(frame, [str(c) for c in frame.columns if str(c) not in skip], self.path,
                                          named=False, kept=self.saved_categories)
            if self.time_column is None:
                warn_time_features(feature_columns, self.path)
        else:
            with_values(frame, feature_columns, self.path, named=True, kept=self.saved_categories)
        frame.columns = [str(c) for c in frame.columns]
        target_frame.columns = [str(c) for c in target_frame.columns]
        series_rows = tuple(zip(values, lengths)) if len(values) > 1 else None
        times = row_times(grids)
        named = partial(name_row, times=times, series_rows=series_rows)
        empty = [c for c in self.categorical_columns if c not in feature_columns]
        if empty:  # with_values left it out
            raise UserError(f"data.source.categorical_columns names {empty}, which hold(s) no value in any row of "
                            f"'{self.path}'; leave it out")
        declared = {*self.categorical_columns, *self.saved_categories}
        codes = not self.saved_kinds  # '4G' a category, or (a saved run's numbers) 4 in the unit 'G'
        text = set(text_columns(frame, [c for c in feature_columns if c not in declared], self.path, codes=codes))
        categorical = [c for c in feature_columns if c in declared or c in text]
        feature_columns = [c for c in feature_columns if c not in categorical]
        features = numeric_columns(frame, feature_columns, self.path, "feature", allow_missing=True, name_row=named,
                                   others=categorical, codes=codes)
        targets = numeric_columns(target_frame, self.target_columns, self.target_path or self.path, "target",
                                  allow_missing=True, name_row=named, codes=codes)
        label = series_label(self.series_column, values) if self.series_column else None
        return SeriesTable(features, targets, feature_columns, self.target_columns,
                           data_name(self.path) + (f" ({label})" if label else ""), season_length=season,
                           frequency=frequency, series=label, series_rows=series_rows, times=times,
                           categories={c: as_text(frame[c]) for c in categorical} or None, written_as=self.written_as)

    def _require_columns(self, frame: Any, target_frame: Any) -> None:
        """Every column named is in its file, before anything is read from them: a target the file lacks
        was taken for a feature, and refused as the feature's text or its times' repeats."""
        require_columns(target_frame, self.target_columns, self.target_path or self.path, "data.source.target_columns")
        require_columns(frame, self.feature_columns or [], self.path, "data.source.feature_columns")
        require_columns(frame, self.categorical_columns, self.path, "data.source.categorical_columns")
        for key, column in (("time", None if self.time_parts else self.time_column), ("series", self.series_column)):
            require_columns(frame, [column] if column else [], self.path, f"data.source.{key}_column", one=True)

    def _read(self, path: str, key: str) -> Any:
        """The file as a frame, its time parts ([year, quarter]) joined into one date column."""
        # the sheet is data.source.path's; a workbook as target_path is read at its first sheet (said in the log)
        own = path == self.path
        targets = self.target_columns if path == (self.target_path or self.path) else ()
        frame = read_frame(path, key, self.sheet if own else None, self.SHEET_KEY if own else None, targets)
        if own:  # the CSV dialect forecast.csv is written in
            self.written_as = dialect_of(frame)
        frame = stripped_header(frame, path)
        wide = wide_columns(frame) if self.layout != "long" else None
        if self.layout == "wide":
            if wide is None:
                raise UserError(f"data.source.layout=wide: '{path}' has no column for every month (JAN .. DEC) or "
                                f"quarter (Q1 .. Q4); its columns are {[str(c) for c in frame.columns]}")
            years = [str(c) for c in frame.columns if str(c).casefold() == "year"]
            if self.years_by_default and "year" not in years and len(years) == 1:  # El Nino's and NOAA's 'YEAR'
                log.info("data.source.layout=wide: the years read from column '%s'", years[0])
                frame = frame.rename(columns={years[0]: "year"})
            return long_from_wide(frame, wide, self.time_column, self.series_column, self.target_columns[0], path)
        if wide is not None:
            keys = (f"data.source.series_column={self.series_column or row_names(frame, wide[1])}"
                    if wide[0] == "year" else f"data.source.time_column={self.time_column or '<the year column>'}")
            raise UserError(f"{describe_wide(wide, path)}, which would read as {len(wide[1])} feature columns; set "
                            f"data.source.layout=wide {keys} 'data.source.target_columns=[<a name for the values>]' "
                            "to read it in the long layout, or data.source.layout=long to take the columns as they "
                            "are")
        return frame if self.time_parts is None else calendar_column(frame, self.time_parts, self.time_column, path,
                                                                     self.time_format)

    def _series_frames(self, frame: Any, target_frame: Any,
                       ) -> tuple[list[Optional[str]], Any, Any, Optional[list[np.ndarray]]]:
        """The value of each series of ``data.source.series``, their rows gathered once, series after series
        (and their target rows: the two files are row-aligned), and the file's row positions of each;
        without a series column the one series of the whole file, value None (positions None)."""
        if self.series_column is None:
            return [None], frame, target_frame, None
        own = [*self.target_columns] if self.target_path is None else []
        picks = pick_series(frame, self.series_column, self.series, self.path,
                            not_series=[*own, *([self.time_column] if self.time_column else [])])
        if self.target_path is not None and len(target_frame) != len(frame):
            raise UserError(f"data.source.target_path '{self.target_path}' has {len(target_frame)} rows and "
                            f"data.source.path {len(frame)}: to pick series by data.source.series_column the two "
                            "files must be row-aligned; give them the same rows")
        log.info("data.source.series_column=%s: %d series (%s), %d of the %d rows of '%s'", self.series_column,
                 len(picks), ", ".join(v for v, _ in picks[:3]) + (", ..." if len(picks) > 3 else ""),
                 sum(len(positions) for _, positions in picks), len(frame), self.path)
        positions = [rows for _, rows in picks]
        # the picked rows gathered once, series after series, and each series a slice of them: a gather
        # per series and column costs a millisecond or more each, which thousands of series add up
        gathered = np.concatenate(positions)
        pooled = frame.iloc[gathered].reset_index(drop=True)
        target_pooled = pooled if self.target_path is None else target_frame.iloc[gathered].reset_index(drop=True)
        return [value for value, _ in picks], pooled, target_pooled, positions

    def _reading(self, frame: Any, path: Optional[str], positions: Optional[list[np.ndarray]],
                 ) -> Optional[TimeReading]:
        """The time column of the picked rows (``positions`` in the file, series after series; None: the
        whole file, one series), read once for all of them (times.TimeReading), each series then taking its
        stretch; None where there is nothing to read (no time column, no second file, or no such column:
        sort_by_time refuses that)."""
        if self.time_column is None or path is None or self.time_column not in frame.columns:
            return None
        raw = frame[self.time_column] if positions is None else frame[self.time_column].iloc[np.concatenate(positions)]
        return read_times(raw, time_where(self.time_column, path), self.time_format)

    def _in_time_order(self, values: list[Optional[str]], pooled: Any, target_pooled: Any,
                       positions: Optional[list[np.ndarray]], reading: Optional[TimeReading],
                       target_reading: Optional[TimeReading]) -> tuple[Any, Any, list[Optional[Grid]], list[int]]:
        """The rows and target rows of every series, each sorted by time with its missing steps added and its
        empty ends trimmed, series after series; each series' grid and row count. Series already regular are
        found in one pass (trainlab.data.timeseries.regular); the others go one at a time, with a progress
        line every 30 s."""
        stretches = [(0, len(pooled))] if positions is None else _stretches(positions)
        regular = None
        if positions is not None and reading is not None and self.target_path is None and self.time_zone is None \
                and set(self.target_columns) <= set(pooled.columns):
            filled = pooled[self.target_columns].notna().any(axis=1).to_numpy()
            regular = regular_series(reading, pooled[self.time_column].array, stretches, filled)
        if regular is not None:
            ordered = pooled.iloc[regular.order].drop(columns=[self.time_column]).reset_index(drop=True)
            if regular.all_regular:
                return ordered, ordered, regular.grids, [end - first for first, end in stretches]
        parts, start = [], time.monotonic()
        last = start
        for i, (value, (first, end)) in enumerate(zip(values, stretches)):
            if regular is not None and regular.grids[i] is not None:
                rows = ordered.iloc[first:end].reset_index(drop=True)
                parts.append((rows, rows, regular.grids[i]))
                continue
            rows, target_rows = (pooled, target_pooled) if positions is None else \
                (pooled.iloc[first:end].reset_index(drop=True), target_pooled.iloc[first:end].reset_index(drop=True))
            if self.target_path is None:
                target_rows = rows
            own = [r if r is None or positions is None else r.rows(first, end) for r in (reading, target_reading)]
            parts.append(self._trimmed(*self._sorted(rows, target_rows, value, *own), value))
            if time.monotonic() - last >= PROGRESS_S:
                last = time.monotonic()
                log.info("'%s': %d of %d series sorted by time (%.0f s)", self.path, i + 1, len(values), last - start)
        return (*(stacked([part[k] for part in parts]) for k in (0, 1)), [part[2] for part in parts],
                [len(part[0]) for part in parts])

    def _trimmed(self, frame: Any, target_frame: Any, grid: Optional[Grid], value: Optional[str],
                 ) -> tuple[Any, Any, Optional[Grid]]:
        """One series' rows without those before its first target value and after its last (a
        spreadsheet's years not yet measured, a sensor's start): nothing to learn from or score there,
        and left in they would make the test split partly empty. Logged."""
        if len(frame) != len(target_frame) or not set(self.target_columns) <= set(map(str, target_frame.columns)):
            return frame, target_frame, grid  # refused with its reason later
        filled = np.flatnonzero(target_frame[self.target_columns].notna().any(axis=1).to_numpy())
        if len(filled) == 0:
            raise UserError(f"data.source.target_columns {self.target_columns} of '{self.target_path or self.path}' "
                            f"{'' if value is None else f'(series {self.series_column}={value}) '}have no value in "
                            "any row; give the columns that hold the series")
        first, end = int(filled[0]), int(filled[-1]) + 1
        if (first, end) == (0, len(frame)):
            return frame, target_frame, grid
        log.info("'%s'%s: %d row(s) before the first target value and %d after the last left out", self.path,
                 "" if value is None else f" series {self.series_column}={value}", first, len(frame) - end)
        return (frame.iloc[first:end].reset_index(drop=True), target_frame.iloc[first:end].reset_index(drop=True),
                None if grid is None else grid.cut(first, end))

    def _sorted(self, frame: Any, target_frame: Any, value: Optional[str], reading: Optional[TimeReading] = None,
                target_reading: Optional[TimeReading] = None) -> tuple[Any, Any, Optional[Grid]]:
        """One series' rows (and target rows; ``value`` of the series column, None without one) sorted
        by the time column, missing steps added, and its regular step; unchanged without a time column.
        ``reading``, ``target_reading``: its time columns as read for the whole file (see _readings)."""
        if self.time_column is None:
            return frame, target_frame, None
        hint = partial(series_hint, time_column=self.time_column, late=self.feature_columns or (),
                       not_series=self.target_columns if self.target_path is None else (),
                       within=None if value is None else (self.series_column, value))
        frame, grid = sort_by_time(frame, self.time_column, self.path, self.time_format, hint, self.time_zone,
                                   reading)
        if self.target_path is None:
            return frame, frame, grid
        target_frame, _ = sort_by_time(target_frame, self.time_column, self.target_path, self.time_format,
                                       time_zone=self.time_zone, reading=target_reading)
        return frame, target_frame, grid

