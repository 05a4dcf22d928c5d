"""Series saved from a pandas frame indexed by its dates, as statsmodels' datasets and most pandas series are
(`df.to_parquet(path)`, `df.to_csv(path)`): the dates are read, and a time column named otherwise is pointed to
them; dates stored as dates are never an input of nanoseconds."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data.timeseries.sources import TableFile


def indexed(periods: int = 40) -> pd.DataFrame:
    return pd.DataFrame({"co2": 300 + np.sin(np.arange(periods, dtype=float))},
                        index=pd.date_range("1958-03-29", periods=periods, freq="W-SAT"))


def test_the_unnamed_date_index_of_a_parquet_file_is_read_as_a_column(tmp_path):
    """pandas stores an unnamed DatetimeIndex as '__index_level_0__' and gives it back as the index; it was dropped,
    and the series read without its times: 'time_column 'date' not in ...; its columns are ['co2']'."""
    path = tmp_path / "co2.parquet"
    indexed().to_parquet(path)
    table = TableFile(str(path), ["co2"], time_column="index").load()
    assert len(table.targets) == 40 and table.season_length == 52
    with pytest.raises(UserError, match=r"its columns are \['index', 'co2'\]; the dates are in the column without a "
                                        r"name, 'index' .*: data.source.time_column=index$"):
        TableFile(str(path), ["co2"], time_column="date").load()


def test_an_unnamed_index_of_row_labels_is_no_column(tmp_path):
    path = tmp_path / "co2.parquet"
    indexed().reset_index(drop=True).iloc[::2].to_parquet(path)  # labels 0, 2, 4 ... left by a filter
    assert TableFile(str(path), ["co2"]).load().feature_names == []


def test_a_time_column_named_otherwise_points_to_a_csv_s_unnamed_date_column(tmp_path):
    """to_csv() of the same frame heads its dates with nothing ('Unnamed: 0' read back): a user's guess 'date'
    was refused with the columns alone."""
    path = tmp_path / "co2.csv"
    indexed().to_csv(path)
    with pytest.raises(UserError) as refused:
        TableFile(str(path), ["co2"], time_column="date").load()
    fix = re.search(r"saved with the table\): (.*)$", str(refused.value)).group(1)
    assert shlex.split(fix) == ["data.source.time_column=Unnamed: 0"]


def test_a_column_of_stored_dates_is_no_input(tmp_path):
    """A Parquet datetime column not named as the time was an input of nanoseconds since 1970, without a word;
    the same dates written as text in a CSV were refused with the fix."""
    path = tmp_path / "co2.parquet"
    indexed().rename_axis("date").to_parquet(path)
    with pytest.raises(UserError, match=r"column 'date' in .* is not numeric \(row 0: '1958-03-29'\); if it is the "
                                        r"time, set data.source.time_column=date"):
        TableFile(str(path), ["co2"]).load()
