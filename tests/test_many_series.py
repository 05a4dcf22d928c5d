"""A file of many series at the scale users bring (trainlab.data.timeseries.regular): the series that are
already regular are sorted in one pass, with the same table and the same log lines as one at a time."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from trainlab.data.timeseries import sources
from trainlab.data.timeseries.sources import TableFile


def _store(name: str, days: pd.DatetimeIndex, level: float) -> pd.DataFrame:
    return pd.DataFrame({"store": name, "date": days.strftime("%Y-%m-%d %H:%M" if days.freqstr == "h" else "%Y-%m-%d"), "price": np.sin(np.arange(len(days))),
                         "sales": level + np.arange(len(days), dtype=float)})


def mixed_file(tmp_path) -> str:
    """Regular daily series and every kind that needs the per-series way: a gap, a row exported twice,
    empty ends, too few rows, monthly dates (their steps differ in days), weekdays only; shuffled."""
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    blocks = [_store(f"r{i}", days, 100.0 * i) for i in range(5)]
    blocks.append(_store("gap", days.delete([7, 8]), 1.0))
    twice = _store("twice", days, 2.0)
    blocks.append(pd.concat([twice, twice.iloc[[3]]]))
    ends = _store("ends", days, 3.0)
    ends.loc[ends.index[[0, 1, -1]], "sales"] = np.nan
    blocks += [ends, _store("short", days[:2], 4.0),
               _store("monthly", pd.date_range("2021-01-01", periods=30, freq="MS"), 5.0),
               _store("weekdays", pd.bdate_range("2021-01-01", periods=30), 6.0)]
    path = tmp_path / "mixed.csv"
    pd.concat(blocks).sample(frac=1.0, random_state=1).to_csv(path, index=False)
    return str(path)


def regular_file(tmp_path, series: int = 30, length: int = 50) -> str:
    days = pd.date_range("2021-01-01", periods=length, freq="h")
    path = tmp_path / "regular.csv"
    pd.concat([_store(f"s{i}", days, 10.0 * i) for i in range(series)]).sample(frac=1.0, random_state=2).to_csv(
        path, index=False)
    return str(path)


def zoned_file(tmp_path) -> str:
    """Daily dates written with their offset across a daylight-saving change (read in local time, per
    series) beside hourly ones with offsets (regular in UTC)."""
    days = pd.date_range("2021-03-20", periods=20, freq="D", tz="Europe/Berlin")
    hours = pd.date_range("2021-03-27 20:00", periods=30, freq="h", tz="Europe/Berlin")
    blocks = [_store(f"d{i}", days, 10.0 * i).assign(date=days.strftime("%Y-%m-%d %H:%M%z")) for i in range(3)]
    blocks += [_store(f"h{i}", hours, 5.0 * i).assign(date=hours.strftime("%Y-%m-%d %H:%M%z")) for i in range(3)]
    path = tmp_path / "zoned.csv"
    pd.concat(blocks).sample(frac=1.0, random_state=3).to_csv(path, index=False)
    return str(path)


def parquet_file(tmp_path) -> str:
    """Timestamps as Parquet stores them (datetime64, no text), a series with a gap among regular ones."""
    days = pd.date_range("2021-01-01", periods=30, freq="D")
    blocks = [_store(f"p{i}", days, 7.0 * i).assign(date=days) for i in range(4)]
    blocks.append(_store("gap", days.delete(4), 1.0).assign(date=days.delete(4)))
    path = tmp_path / "stores.parquet"
    pd.concat(blocks).sample(frac=1.0, random_state=4).reset_index(drop=True).to_parquet(path)
    return str(path)


def _load_both(path: str, monkeypatch, caplog, **kwargs):
    """The table and log lines read as now, and read with every series going the per-series way."""
    tables, logs = [], []
    for one_at_a_time in (False, True):
        with monkeypatch.context() as patch:
            if one_at_a_time:
                patch.setattr(sources, "regular_series", lambda *args: None)
            caplog.clear()
            with caplog.at_level(logging.INFO):
                tables.append(TableFile(path, ["sales"], time_column="date", series_column="store", **kwargs).load())
            logs.append([r.getMessage() for r in caplog.records])
    return tables, logs


def _same(new, old) -> None:
    np.testing.assert_array_equal(new.features, old.features)
    np.testing.assert_array_equal(new.targets, old.targets)
    assert (new.feature_names, new.target_names, new.name, new.season_length, new.frequency, new.series,
            new.series_rows) == (old.feature_names, old.target_names, old.name, old.season_length, old.frequency,
                                 old.series, old.series_rows)
    assert len(new.times) == len(old.times)
    for a, b in zip(new.times, old.times):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.positions, b.positions)
            assert a.positions.dtype == b.positions.dtype
            assert (a.step, a.season_length, a.frequency) == (b.step, b.season_length, b.frequency)
            assert list(a.written) == list(b.written)
            # each row's time as read: where predict.py's forecast starts (the one-pass path left it None)
            assert (a.times is None) == (b.times is None)
            if a.times is not None:
                np.testing.assert_array_equal(np.asarray(a.times, dtype="datetime64[ns]"),
                                              np.asarray(b.times, dtype="datetime64[ns]"))
    assert [new.row_name(r) for r in range(0, len(new.targets), 7)] == \
        [old.row_name(r) for r in range(0, len(old.targets), 7)]


@pytest.mark.parametrize("make", [mixed_file, regular_file, zoned_file, parquet_file])
def test_series_sorted_in_one_pass_equal_series_sorted_one_at_a_time(tmp_path, monkeypatch, caplog, make):
    (new, old), (new_log, old_log) = _load_both(make(tmp_path), monkeypatch, caplog)
    _same(new, old)
    assert new_log == old_log
    if make is mixed_file:  # the per-series way still spoke for the series that needed it
        assert any("missing time step" in line for line in new_log)
        assert any("repeat an earlier row exactly" in line for line in new_log)
        assert any("before the first target value" in line for line in new_log)


def test_the_picked_series_and_a_single_pick_read_the_same_either_way(tmp_path, monkeypatch, caplog):
    path = regular_file(tmp_path)
    for series in (["s3", "s1"], "s2"):
        (new, old), (new_log, old_log) = _load_both(path, monkeypatch, caplog, series=series)
        _same(new, old) if new.times is not None else None
        np.testing.assert_array_equal(new.targets, old.targets)
        assert new_log == old_log


def test_regular_series_are_not_sorted_one_at_a_time(tmp_path, monkeypatch):
    """Before: sort_by_time ran once per series (7.6 ms each on pandas 3; 20,000 series, 150 s)."""
    calls = []
    original = sources.sort_by_time
    monkeypatch.setattr(sources, "sort_by_time", lambda *a, **k: calls.append(1) or original(*a, **k))
    table = TableFile(regular_file(tmp_path), ["sales"], time_column="date", series_column="store").load()
    assert len(table.series_rows) == 30 and calls == []
    TableFile(mixed_file(tmp_path), ["sales"], time_column="date", series_column="store").load()
    assert len(calls) == 5  # gap, twice, ends, monthly, weekdays: the per-series way (two rows, 'short', are a step)


def test_series_sorted_one_at_a_time_say_how_far_they_are(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sources, "regular_series", lambda *args: None)
    monkeypatch.setattr(sources, "PROGRESS_S", 0.0)
    with caplog.at_level(logging.INFO):
        TableFile(regular_file(tmp_path, series=3), ["sales"], time_column="date", series_column="store").load()
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records if "sorted by time" in r.getMessage()][:2] == \
        ["1 of 3 series sorted by time (0 s)", "2 of 3 series sorted by time (0 s)"]


def test_offsets_are_looked_for_once_per_distinct_time_with_the_same_answer():
    from trainlab.data.timeseries import zones

    raw = pd.Series(["2021-01-01 10:00+01:00", None, " 2021-01-01 10:00 ", "2021-01-01 10:00Z", np.nan, "2021-01-01",
                     "2021-01-01 10:00 utc"] * 3)
    expected = raw.astype(str).str.strip().str.contains(zones._OFFSET).to_numpy(dtype=bool)
    np.testing.assert_array_equal(zones.offset_rows(raw), expected)
    np.testing.assert_array_equal(zones.offset_rows(raw.astype(object)), expected)
