"""Series of two rows (a file, or one series of a file of several): two times make a step, as the reading of the
time column takes it (trainlab.data.timeseries.times), and a series too short for the windows is refused naming it
and the fewest rows it needs (trainlab.data.timeseries.fits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data.timeseries.module import TimeSeriesDataModule
from trainlab.data.timeseries.sources import TableFile

HOURS = pd.date_range("2024-01-01", periods=40, freq="h")


def _file(tmp_path, frame: pd.DataFrame) -> str:
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("times,frequency,season", [
    (HOURS[:2], "h", 24), (pd.date_range("2024-01-01", periods=2, freq="MS").strftime("%Y-%m"), "MS", 12),
    (pd.date_range("2024-01-01", periods=2, freq="D"), "D", 7)])
def test_two_rows_make_a_step(tmp_path, times, frequency, season):
    """A file of two rows (predict.py's newer data for a run of data.window=1) read as without a step: 'no regular
    step between its times', and predict.py refused it as not on the run's step of h."""
    table = TableFile(_file(tmp_path, pd.DataFrame({"time": times, "load": [1.0, 2.0]})), ["load"],
                      time_column="time").load()
    assert (table.frequency, table.season_length) == (frequency, season)


def test_a_series_of_two_rows_keeps_the_file_step(tmp_path):
    """A store of two rows beside one of 40 hourly rows: the file's step and season were dropped for every series
    ('the series step differently (None, h)')."""
    frame = pd.concat([pd.DataFrame({"store": "A", "time": HOURS, "load": np.arange(40.0)}),
                       pd.DataFrame({"store": "B", "time": HOURS[:2], "load": [1.0, 2.0]})])
    table = TableFile(_file(tmp_path, frame), ["load"], time_column="time", series_column="store").load()
    assert (table.frequency, table.season_length) == ("h", 24)


@pytest.mark.parametrize("window,refusal", [
    (24, r"series B has 2 row\(s\), fewer than one window of data.window=24 \+ data.horizon=1 \(a series needs at "
         r"least 36 rows: a window in each of its training, validation and test splits\); use a "
         r"shorter window or horizon, or more data, or leave the 1 short series out: 'data.source.series=\[A\]'"),
    (1, r"the training split of .* series B \(2 rows\) holds no window of data.window=1 \+ data.horizon=1 \+ "
        r"data.steps=1 - 1 = 2 rows \(a series needs at least 5 rows: a window in each of its training, "
        r"validation and test splits\); shorten them or give more data, or leave the short series out")])
def test_a_series_too_short_is_refused_naming_it_and_the_rows_it_needs(tmp_path, window, refusal):
    frame = pd.concat([pd.DataFrame({"store": "A", "time": HOURS, "load": np.arange(40.0)}),
                       pd.DataFrame({"store": "B", "time": HOURS[:2], "load": [1.0, 2.0]})])
    source = TableFile(_file(tmp_path, frame), ["load"], time_column="time", series_column="store")
    data = TimeSeriesDataModule(source, window=window, ets_baseline=False)
    with pytest.raises(UserError, match=refusal):
        data.setup("fit")
