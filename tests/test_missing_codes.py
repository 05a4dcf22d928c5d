"""Numbers written for "no value" (-9999, -999, 99.99, IDL's 1e30, the 1e20 of climate files, inf) far outside a
column's other values, read one way by both families that read table files (trainlab.data.missing_codes): a series
file's targets and inputs, a catalogue's features and positions. A series read them as numbers: a NOAA temperature
series with -9999 on a few days trained on those spikes and forecast nonsense, without a word; inf and 1e30 were
refused with 'fix or rescale it'."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_ANY_DATA
from trainlab.config.errors import UserError
from trainlab.config.instantiate import build
from trainlab.data.graph.catalogue import StarCatalogue
from trainlab.data.graph.synthetic import SyntheticGaia
from trainlab.data.timeseries.sources import TableFile

DAYS = pd.date_range("2020-01-01", periods=200, freq="D")


def _weather(seed: int = 0) -> pd.DataFrame:
    """A station's daily series: temperatures about 15 (target), humidity about 60 %, pressure about 100 kPa."""
    rng = np.random.default_rng(seed)
    days = np.arange(len(DAYS))
    return pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "tmax": 15 + 8 * np.sin(days / 30) + rng.normal(size=200),
                         "humidity": 60 + 10 * rng.normal(size=200), "pressure": 100 + 3 * rng.normal(size=200)})


def test_codes_in_a_series_file_are_gaps_that_data_missing_handles(compose_cfg, tmp_path, caplog):
    """-9999 on three days of the target and -999 on two of a sensor's inputs are gaps, interpolated as empty cells
    are (data.missing=interpolate), one warning per column and code naming the file, the code, the count and the
    first day; 99 among pressures of about 100 is a pressure. Under data.missing=refuse they are refused as gaps."""
    frame = _weather()
    frame.loc[[10, 50, 51], "tmax"] = -9999
    frame.loc[[20, 120], "humidity"] = -999
    frame.loc[[5, 30], "pressure"] = 99  # nines within the column's range: a measurement
    path = tmp_path / "station.csv"
    frame.to_csv(path, index=False)
    overrides = [*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[tmax]",
                 "data.source.time_column=date"]
    with caplog.at_level(logging.WARNING):
        dm = build(compose_cfg(overrides).data, "data")
        dm.setup("fit")
    targets, features = dm.table.targets[:, 0], dm.table.features
    assert targets.min() > -20 and features[:, dm.table.feature_names.index("humidity")].min() > 0
    assert np.isclose(targets[10], (frame.tmax[9] + frame.tmax[11]) / 2)  # filled between its neighbours
    assert (features[[5, 30], dm.table.feature_names.index("pressure")] == 99).all()
    warned = [r.getMessage() for r in caplog.records if "missing-value code" in r.getMessage()]
    assert len(warned) == 2
    assert warned[0].startswith(f"column 'humidity' in '{path}' holds -999 in 2 row(s) (first at 2020-01-21), far "
                                "outside its other values")
    assert warned[1].startswith(f"column 'tmax' in '{path}' holds -9999 in 3 row(s) (first at 2020-01-11)")
    assert warned[1].endswith("(data.missing handles them); write them as empty cells to silence this")
    with pytest.raises(UserError, match=r"has 5 row\(s\) with missing values in \['humidity', 'tmax'\] \(first at "
                                        r"2020-01-11\); fill or drop them before training; or set data.missing="):
        build(compose_cfg([*overrides, "data.missing=refuse"]).data, "data").setup("fit")


def test_nines_of_a_series_whose_values_reach_them_stay_values(tmp_path, caplog):
    """A column of values about 100 (counts) holds 99 and 999 among them: values, read without a warning."""
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 1200, size=100).astype(float)
    counts[[3, 4]] = 99, 999
    pd.DataFrame({"y": counts}).to_csv(tmp_path / "counts.csv", index=False)
    with caplog.at_level(logging.WARNING):
        table = TableFile(str(tmp_path / "counts.csv"), ["y"]).load()
    assert np.array_equal(table.targets[:, 0], counts) and "missing-value code" not in caplog.text


def test_rain_of_nines_in_a_column_mostly_dry_is_rain(tmp_path, caplog):
    """Daily rain is 0 on most days: its quartiles are 0 and 0, and 99.9 mm on a stormy day lay 'more than 10
    interquartile ranges' beyond them; within the span of the column's other values (0 to 60 mm) it is rain.
    -999 on the same column lies beyond it: a code."""
    frame = _weather(5)
    rain = np.zeros(len(frame))
    rain[::9] = np.linspace(0.5, 60.0, len(rain[::9]))
    rain[[100, 101]] = 99.9, -999
    frame["rain"] = rain
    frame.to_csv(tmp_path / "station.csv", index=False)
    with caplog.at_level(logging.WARNING):
        table = TableFile(str(tmp_path / "station.csv"), ["tmax"], time_column="date").load()
    column = table.features[:, table.feature_names.index("rain")]
    assert column[100] == 99.9 and np.isnan(column[101]) and np.isnan(column).sum() == 1
    assert "holds -999 in 1 row(s)" in caplog.text and "holds 99.9 " not in caplog.text


@pytest.mark.parametrize("code", [1e30, -1e30, 1e20, np.inf, -np.inf])
def test_huge_fill_values_and_inf_are_missing_in_a_series(tmp_path, caplog, code):
    """IDL's 1e30, a climate file's 1e20 and inf among finite values were refused ('fix or rescale it'): now gaps."""
    frame = _weather(2)
    frame.loc[[40, 41], "humidity"] = code
    frame.to_csv(tmp_path / "station.csv", index=False)
    with caplog.at_level(logging.WARNING):
        table = TableFile(str(tmp_path / "station.csv"), ["tmax"], time_column="date").load()
    humidity = table.features[:, table.feature_names.index("humidity")]
    assert np.isnan(humidity).sum() == 2 and np.isnan(humidity[[40, 41]]).all()
    assert f"holds {code:g} in 2 row(s) (first at 2020-02-10)" in caplog.text


def test_a_float32_huge_fill_value_is_missing_in_a_series(tmp_path):
    """A float32 Parquet column holds 1e30 as 1.0000000150e30 and 99.99 as 99.98999786: codes all the same."""
    frame = _weather(3).astype({"humidity": np.float32, "pressure": np.float32})
    frame.loc[[7, 8], "humidity"] = np.float32(1e30)
    frame.loc[[9], "pressure"] = np.float32(-99.99)
    frame.to_parquet(tmp_path / "station.parquet")
    table = TableFile(str(tmp_path / "station.parquet"), ["tmax"], time_column="date").load()
    assert np.isnan(table.features).sum() == 3


@pytest.mark.parametrize("code", [1e30, -1e20, np.inf, -np.inf])
def test_huge_fill_values_and_inf_are_missing_in_a_catalogue(tmp_path, caplog, code):
    """The same rule and warning in a star catalogue: a colour of 1e30 (or inf) is a missing colour, imputed."""
    frame = SyntheticGaia(200, seed=5).frame()
    frame.loc[[11, 12, 13], "bp_rp"] = code
    frame.to_csv(tmp_path / "stars.csv", index=False)
    with caplog.at_level(logging.WARNING):
        table = StarCatalogue(str(tmp_path / "stars.csv"), "label").load()
    assert np.isnan(table.features[:, table.feature_names.index("bp_rp")]).sum() == 3
    assert f"column 'bp_rp' in '{tmp_path / 'stars.csv'}' holds {code:g} in 3 row(s) (first at row 11)" in caplog.text
    assert "(data.source.missing handles them)" in caplog.text


def test_inf_the_rule_cannot_tell_from_data_is_refused_with_the_empty_cell_as_the_fix(tmp_path):
    """Beside four values alone, inf cannot be told from the column's range: refused, the fix an empty cell."""
    frame = _weather(4)
    frame["rain"] = np.nan
    frame.loc[[0, 1, 2, 3], "rain"] = [0.0, 1.5, 0.2, 3.0]
    frame.loc[5, "rain"] = np.inf
    frame.to_csv(tmp_path / "station.csv", index=False)
    with pytest.raises(UserError, match=r"column 'rain' in '.*station.csv' has an infinite value \(2020-01-06: inf\); "
                                        r"if it stands for no value, leave the cell empty \(a missing value, which "
                                        r"data.missing handles\); else correct it, or leave it out of "
                                        r"data.source.feature_columns$"):
        TableFile(str(tmp_path / "station.csv"), ["tmax"], time_column="date").load()
