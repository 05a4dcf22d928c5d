"""A row per year and a column per month read with data.source.layout=wide: the years' column as the file spells it
(El Nino's and NOAA's 'YEAR') is found without data.source.time_column, and a time column the file lacks gets the
near one. Both were refused: "data.source.time_column 'year' not in ...", a setting the user never gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data.timeseries.sources import TableFile

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def table(path, year_name: str) -> None:
    values = np.arange(60.0).reshape(5, 12)
    frame = pd.DataFrame(values, columns=MONTHS)
    frame.insert(0, year_name, np.arange(1950, 1955))
    frame.to_csv(path, index=False)


def test_the_years_column_in_capitals_is_found_without_a_time_column(tmp_path):
    path = tmp_path / "elnino.csv"
    table(path, "YEAR")
    loaded = TableFile(str(path), ["sst"], layout="wide").load()
    np.testing.assert_array_equal(loaded.targets[:, 0], np.arange(60.0))
    assert loaded.season_length == 12


def test_a_years_column_the_file_lacks_gets_the_near_one(tmp_path):
    path = tmp_path / "elnino.csv"
    table(path, "Years")
    with pytest.raises(UserError, match=r"time_column 'year' not in .*; did you mean data.source.time_column=Years\?$"):
        TableFile(str(path), ["sst"], layout="wide", time_column="year").load()
