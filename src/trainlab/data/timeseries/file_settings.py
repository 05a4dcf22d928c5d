"""The settings of a user's series file (:class:`FileSettings`), checked before anything is read: one line naming
the setting and the fix for a target named twice, a feature that is the time or series column, a time format or zone
without a time column, a layout that is not one, categories that are no inputs.
:class:`~trainlab.data.timeseries.sources.TableFile` reads the file they describe.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from trainlab.config.errors import UserError
from trainlab.data.timeseries.layouts import LAYOUTS
from trainlab.data.timeseries.series import Value
from trainlab.data.timeseries.values import column_name, typed_names
from trainlab.data.timeseries.zones import check_zone

Columns = Optional[Sequence[Union[str, int]]]


def _unset(value: Any) -> bool:
    """Whether a column setting names no column: null, '' or []. Column 0 is a name (an NPY file's, or a file
    without a header, has its columns named 0, 1, ...): taken for none, time_column=0 with a time_format was refused
    as 'time_column is null', and target_columns=0 as empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        return False
    return value is None or (str(value).strip() == "" if isinstance(value, str) else len(value) == 0)


class FileSettings:
    """A series file's settings, as :class:`~trainlab.data.timeseries.sources.TableFile` documents them, each checked
    on its own and against the others when the source is built."""

    def __init__(
        self,
        path: str,
        target_columns: Sequence[Union[str, int]],
        feature_columns: Columns = None,
        target_path: Optional[str] = None,
        time_column: Optional[Union[str, Sequence[str]]] = None,
        time_format: Optional[str] = None,
        series_column: Optional[str] = None,
        series: Optional[Union[Value, Sequence[Value]]] = None,
        layout: Optional[str] = None,
        time_zone: Optional[str] = None,
        categorical_columns: Columns = None,
        sheet: Optional[Union[str, int]] = None,
    ):
        if _unset(target_columns):
            raise UserError("data.source.target_columns is empty; name at least one column to predict")
        # one name without brackets (target_columns=load) is one column, not the letters of its name
        names = [column_name(target_columns)] if isinstance(target_columns, (str, int)) \
            else [column_name(c) for c in target_columns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UserError(f"data.source.target_columns names {twice} more than once; list each target once")
        if time_format and _unset(time_column):
            raise UserError(f"data.source.time_format='{time_format}' is set but data.source.time_column is null; "
                            "name the time column, or drop the format")
        if series is not None and _unset(series_column):
            raise UserError(f"data.source.series={series} is set but data.source.series_column is null; name the "
                            "column that tells the series apart (e.g. data.source.series_column=store), or drop the "
                            "series")
        self.time_parts = None if time_column is None or isinstance(time_column, (str, int)) \
            else [column_name(c) for c in time_column]  # [year, quarter]: the time in columns of its own
        if self.time_parts is not None and len(self.time_parts) == 1:
            time_column, self.time_parts = self.time_parts[0], None
        if self.time_parts is not None:
            if len(self.time_parts) > 3 or (time_format and len(self.time_parts) == 3):
                raise UserError(f"data.source.time_column={self.time_parts}: several time columns are read as "
                                "[year, quarter], [year, month] or [year, month, day], without "
                                "data.source.time_format, or as [date, time of day]; name one date column, or those "
                                "parts")
            time_column = "/".join(self.time_parts)
        time_column = None if time_column is None else column_name(time_column)
        self.path, self.target_path, self.time_column, self.time_format = path, target_path, time_column, time_format
        self.sheet = sheet
        self.layout, self.time_zone = layout, check_zone(time_zone)
        if time_zone is not None and not time_column:
            raise UserError(f"data.source.time_zone={time_zone} is set but data.source.time_column is null; name the "
                            "time column, or drop the zone")
        if layout is not None and layout not in LAYOUTS:
            raise UserError(f"data.source.layout={layout!r} is not one of {', '.join(LAYOUTS)} (null: long, refusing a "
                            "file laid out wide)")
        if layout == "wide" and (self.time_parts or len(names) > 1 or target_path or feature_columns
                                 or categorical_columns):
            raise UserError("data.source.layout=wide reads a row per year and a column per month or quarter, or a row "
                            "per series and a column per year, as one value: give one name for it in "
                            "data.source.target_columns, without feature_columns, categorical_columns, target_path or "
                            "a time column in parts")
        self.years_by_default = layout == "wide" and not time_column
        if self.years_by_default:
            self.time_column = "year"  # the years' column, or the column made from a header of years
        self.target_columns = names
        if isinstance(feature_columns, (str, int)):
            feature_columns = [feature_columns]
        self.feature_columns = None if feature_columns is None else [column_name(c) for c in feature_columns]
        self.series_column = None if series_column is None else column_name(series_column)
        self.series = series
        self._refuse_taken_features()
        self.categorical_columns = self._categorical(categorical_columns)

    def _refuse_taken_features(self) -> None:
        """A name in data.source.feature_columns that another setting reads is refused in one line naming it and the
        list without it: the series column, the time column or one of its parts (dropped once the rows are in time
        order: the run stopped on a KeyError), or a target of the same file (an input twice over: its past values are
        inputs already, data.target_inputs). A target that is the time column is refused too (it was said to be
        missing from the file, whose columns were listed without it)."""
        for name in self.target_columns:
            if name == self.time_column or name in (self.time_parts or ()):
                raise UserError(f"data.source.target_columns names the time column '{name}'; name the columns of values "
                                "to forecast (the time column puts the rows in order)")
        for name in self.feature_columns or ():
            role = ("the series column" if name == self.series_column else
                    "the time column" if name == self.time_column or name in (self.time_parts or ()) else
                    "the target column" if name in self.target_columns and self.target_path is None else None)
            if role is None:
                continue
            why = {"the series column": "it tells the series apart, it is no input",
                   "the time column": "it puts the rows in order, it is no input",
                   "the target column": "its past values are inputs with data.target_inputs=true, the default"}[role]
            kept = [c for c in self.feature_columns if c != name]
            raise UserError(f"data.source.feature_columns names {role} '{name}'; leave it out ({why}): "
                            f"{typed_names('data.source.feature_columns', kept, False)}")

    def _categorical(self, columns: Columns) -> list[str]:
        """``categorical_columns`` as names, each an input: a target, the time or series column, or a column that
        data.source.feature_columns leaves out is refused in one line."""
        names = [] if columns is None else [column_name(c) for c in ([columns] if isinstance(columns, (str, int))
                                                                     else columns)]
        for name in names:
            role = ("a target: a forecast of a category is classification, which the time-series family does not "
                    "do" if name in self.target_columns and self.target_path is None else
                    "the time column" if name == self.time_column or name in (self.time_parts or ()) else
                    "the series column" if name == self.series_column else None)
            if role:
                raise UserError(f"data.source.categorical_columns names '{name}', {role}; name input columns only "
                                "(e.g. data.source.categorical_columns=[store_type])")
            if self.feature_columns is not None and name not in self.feature_columns:
                raise UserError(f"data.source.categorical_columns names '{name}', which data.source.feature_columns "
                                f"leaves out of the inputs {self.feature_columns}; add it there, or leave it out here")
        return names
