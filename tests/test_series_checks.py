"""The time-series data checks a new user meets on their own CSV files: a season inferred from the
dates that does not fit falls back to none (a given one is refused; 0 says none), every check that
depends only on data and config runs before training, and a resume on changed data is refused."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import TINY_ANY_DATA
from trainlab.config.errors import UserError
from trainlab.data.timeseries.module import TimeSeriesDataModule
from trainlab.data.timeseries.sources import TableFile


def series_csv(tmp_path: Path, rows: int, freq: str, start: str, name: str = "series.csv") -> str:
    """A trending seasonal series y with its dates in a column ``time``."""
    t = np.arange(rows)
    y = 20 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.3, rows)
    path = tmp_path / name
    pd.DataFrame({"time": pd.date_range(start, periods=rows, freq=freq), "y": y}).to_csv(path, index=False)
    return str(path)


def data(path: str, **kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(TableFile(path, ["y"], time_column="time"),
                              **{"window": 8, "target_inputs": True, **kwargs})
    dm.setup("fit")
    return dm


def file_run(path: str, *extra: str) -> list[str]:
    return [*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[y]",
            "data.source.time_column=time", "data.target_inputs=true", "logger=none", *extra]


# -- season -------------------------------------------------------------------------------------------
def test_an_inferred_season_that_does_not_fit_falls_back_to_none_with_one_warning(tmp_path, caplog):
    weekly = series_csv(tmp_path, 100, "W", "2020-01-05")  # season 52 from the dates, 70 training rows
    with caplog.at_level("WARNING", logger="trainlab.data.timeseries.seasons"):
        dm = data(weekly)
    assert dm.season_length is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "season length 52, the source's own for 'series', does not fit" in warnings[0]
    assert "the training split has 70" in warnings[0] and "data.season_length=<steps>" in warnings[0]
    assert "seasonal_naive" not in dm.baseline_forecasts("test")
    # without ETS two cycles suffice: 52 still does not fit, a monthly 12 does
    assert data(weekly, ets_baseline=False).season_length is None
    assert data(series_csv(tmp_path, 100, "MS", "2000-01-01", "m.csv"), ets_baseline=False).season_length == 12


def test_a_given_season_that_does_not_fit_is_refused_and_zero_means_none(tmp_path):
    weekly = series_csv(tmp_path, 100, "W", "2020-01-05")
    with pytest.raises(UserError, match=r"data.season_length=52 needs two cycles \(104 rows\) in the 70 training "
                                        r"rows of 'series'; give a shorter season, 0 \(none\)"):
        data(weekly, season_length=52)
    monthly = series_csv(tmp_path, 200, "MS", "2000-01-01", "m.csv")
    assert data(monthly).season_length == 12  # inferred and fits
    none = data(monthly, season_length=0)
    assert none.season_length is None and "seasonal_naive" not in none.baseline_forecasts("test")
    for bad in (1, -3):
        with pytest.raises(UserError, match=rf"data.season_length={bad} must be at least 2 \(0: no season"):
            data(monthly, season_length=bad)


def test_the_season_hint_suits_the_frequency():
    from trainlab.data.timeseries.seasons import season_hint

    assert season_hint("D") == "7 for a weekly cycle (steps of 1 day)"
    assert season_hint("h") == "24 for a daily cycle, 168 for a weekly cycle (steps of 1 hour)"
    # it said 60 and 1440, a minute's cycles, for 15-minute steps
    assert season_hint("15min") == "4 for an hourly cycle, 96 for a daily cycle, 672 for a weekly cycle (steps of 15 minutes)"
    assert season_hint("7D").startswith("52 for a yearly cycle")
    assert "24 or 168 for hourly" in season_hint(None)
    assert season_hint("12MS").startswith("yearly data has no calendar season")  # sunspots, Nile: years or dates


def test_no_season_known_says_how_to_give_one(tmp_path, caplog):
    seconds = series_csv(tmp_path, 300, "30s", "2020-01-01")  # a day of 30-second steps: none inferred
    with caplog.at_level("INFO", logger="trainlab.data.timeseries.seasons"):
        assert data(seconds).season_length is None
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("no season length"))
    assert "give data.season_length (120 for an hourly cycle, 2880 for a daily cycle" in line


@pytest.mark.parametrize("freq,season", [("h", 24), ("15min", 96), ("D", 7)])
def test_hourly_quarter_hourly_and_daily_series_get_their_daily_or_weekly_season(tmp_path, freq, season):
    # a season of the step's day (or a daily series' week): the seasonal naive and a seasonal ETS score the
    # test windows; before, hourly and daily files had neither without data.season_length
    dm = data(series_csv(tmp_path, 3 * season + 40, freq, "2020-01-01"))
    assert dm.season_length == season
    forecasts = dm.baseline_forecasts("test")
    assert "seasonal_naive" in forecasts and np.isfinite(forecasts["ets"]).all()


def test_an_ets_of_a_long_season_starts_from_the_first_cycles(tmp_path):
    from trainlab.data.timeseries import ets

    # estimating an initial state per season step took 29 s for 96 and did not converge; two cycles give them
    assert [ets.initialisation(m) for m in (None, 12, 52, 96, 168)] == ["estimated"] * 3 + ["heuristic"] * 2
    t = np.arange(700)
    y = 5 + np.sin(2 * np.pi * t / 96) + np.random.default_rng(0).normal(0, 0.05, len(t))
    states, phi = ets.fit_ets_states(y, 500, 96)
    forecast = ets.ets_forecast(states, phi, np.arange(499, 699), np.array([1]), 96)[:, 0]
    assert np.sqrt(np.mean((forecast - y[500:700]) ** 2)) < 0.1  # the noise is 0.05, the cycle's amplitude 1


# -- checks before training ---------------------------------------------------------------------------
def test_too_few_rows_for_ets_is_refused_before_anything_trains(tmp_path, compose_cfg, run_train):
    monthly = series_csv(tmp_path, 40, "MS", "2000-01-01")  # 28 training rows
    with pytest.raises(UserError, match=r"ETS baseline needs at least 34 training rows with data.season_length=12, "
                                        r"the training split has 28: .*data.ets_baseline=false"):
        data(monthly, window=6, season_length=12)
    cfg = compose_cfg(file_run(monthly, "data.window=6", "data.season_length=12"))
    with pytest.raises(UserError, match="ETS baseline needs at least 34"):
        run_train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()  # refused before the first step


def test_the_reported_monthly_file_trains_to_its_test_result(tmp_path, compose_cfg, run_train):
    # 40 monthly rows, data.window=6: the inferred 12 does not fit ETS, so the run goes on without it
    cfg = compose_cfg(file_run(series_csv(tmp_path, 40, "MS", "2000-01-01"), "data.window=6", "trainer.max_epochs=1"))
    metrics = run_train(cfg)
    assert np.isfinite(metrics["test/rmse"]) and metrics["test/baseline_ets_rmse"] > 0
    assert "test/baseline_seasonal_naive_rmse" not in metrics


def test_a_baseline_cache_that_cannot_be_written_is_refused_at_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monthly = series_csv(tmp_path, 100, "MS", "2000-01-01")
    with pytest.raises(UserError, match=r"data.baseline_cache=.*file/baselines: '.*file' is a file, not a folder"):
        data(monthly, baseline_cache=str(blocker / "baselines"))
    data(monthly, baseline_cache=str(blocker / "baselines"), ets_baseline=False)  # not used: not checked
    assert data(monthly, baseline_cache=str(tmp_path / "new" / "cache")).season_length == 12


# -- resume and evaluation on changed data ------------------------------------------------------------
def test_a_resume_on_a_file_that_changed_is_refused_and_evaluation_warns(tmp_path, compose_cfg, run_train, caplog):
    from trainlab.run.checkpoint_path import load_checkpoint, resolve_checkpoint
    from trainlab.run.restore import restore

    path = series_csv(tmp_path, 100, "MS", "2000-01-01")
    first = compose_cfg(file_run(path, "trainer.max_epochs=1"))
    run_train(first)
    run_dir = first.paths.output_dir
    ckpt = resolve_checkpoint(run_dir)
    saved = load_checkpoint(ckpt)
    assert saved["TimeSeriesDataModule"]["rows"] == 100
    with caplog.at_level("WARNING", logger="trainlab.run.restore"):
        restore(first, saved, str(ckpt))
    assert not [r for r in caplog.records if "data differ" in r.getMessage()]  # the same file: no warning

    series_csv(tmp_path, 160, "MS", "2000-01-01")  # the file grew by 60 rows
    with pytest.raises(UserError, match=r"was trained on other data: the data now differ \(rows 100 -> 160; "
                                        r"training statistics feature_mean, feature_std, target_mean, target_std\); "
                                        r"train a new run .* or restore the original data"):
        run_train(compose_cfg(file_run(path, "trainer.max_epochs=2", f"ckpt_path={run_dir}")))
    with caplog.at_level("WARNING", logger="trainlab.run.restore"):
        model, datamodule = restore(first, saved, str(ckpt))
    warned = [r.getMessage() for r in caplog.records if "data differ" in r.getMessage()]
    assert len(warned) == 1 and "rows 100 -> 160" in warned[0]
    for key in datamodule.STATS:  # evaluated with the training scaling
        assert np.allclose(datamodule.stats[key], saved["TimeSeriesDataModule"][key])
    assert torch.isfinite(next(iter(datamodule.test_dataloader()))[0]).all()


def test_targets_at_or_across_zero_in_later_splits_get_one_mape_warning(tmp_path, caplog):
    t = np.arange(200.0)
    frame = pd.DataFrame({"rate": 3 * np.sin(t / 5) + 0.5, "count": np.where(t % 50 == 0, 0.0, 5 + t % 7),
                          "level": 10 + np.sin(t / 5)})  # a real interest rate, counts with closed days, a level
    path = tmp_path / "rates.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        TimeSeriesDataModule(TableFile(str(path), ["rate", "count", "level"]), window=8, ets_baseline=False,
                             target_inputs=True).load()
    warnings = [r.getMessage() for r in caplog.records if "MAPE" in r.getMessage()]
    assert len(warnings) == 1 and "'rate' from -2.497 to 3.5, 'count' 1 of 60 zero)" in warnings[0]
    assert "'level'" not in warnings[0]


@pytest.mark.parametrize("features,time_column,message", [
    (["temp", "y"], "time", "data.source.feature_columns names the target column 'y'; leave it out (its past values "
                            "are inputs with data.target_inputs=true, the default): 'data.source.feature_columns=[temp]'"),
    (["y"], "time", "data.source.feature_columns names the target column 'y'; leave it out (its past values are "
                    "inputs with data.target_inputs=true, the default): 'data.source.feature_columns=[]'"),
    (["time", "temp"], "time", "data.source.feature_columns names the time column 'time'; leave it out (it puts the "
                               "rows in order, it is no input): 'data.source.feature_columns=[temp]'"),
    (["year", "temp"], ["year", "month"], "data.source.feature_columns names the time column 'year'; leave it out "
                                          "(it puts the rows in order, it is no input): "
                                          "'data.source.feature_columns=[temp]'"),
])
def test_a_feature_another_setting_reads_is_refused_naming_it(tmp_path, features, time_column, message):
    """The target among the inputs was read twice over (input_names [temp, y, y]: with data.target_inputs its past
    values are inputs already); the time column among them stopped the run on KeyError: 'time'."""
    days = pd.date_range("2020-01-01", periods=40, freq="MS")
    path = tmp_path / "x.csv"
    pd.DataFrame({"time": days, "year": days.year, "month": days.month, "temp": np.arange(40.0),
                  "y": np.arange(40.0)}).to_csv(path, index=False)
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        TableFile(str(path), ["y"], time_column=time_column, feature_columns=features).load()
    # targets of their own file (the seed's setup): a column of that name among the inputs is another column
    TableFile(str(path), ["y"], target_path=str(path), feature_columns=["temp", "y"])


def test_a_feature_of_a_targets_name_in_its_own_file_is_refused_or_taken_once_never_dropped_silently(tmp_path, caplog):
    """Targets of their own file (data.source.target_path) and a features file with a column of a target's name:
    with data.target_inputs=true the inputs were [a, y] with y the target's past values, the feature y gone
    without a word. Other values under that name are refused naming both files, the column and the fixes; the
    target's own values (the same file twice) are an input once, said in the log; without target_inputs both stay."""
    features, targets = tmp_path / "x.csv", tmp_path / "t.csv"
    pd.DataFrame({"a": np.sin(np.arange(60) / 5), "y": np.cos(np.arange(60) / 3)}).to_csv(features, index=False)
    pd.DataFrame({"y": np.arange(60.0) % 7}).to_csv(targets, index=False)
    message = (f"data.source.path '{features}' and data.source.target_path '{targets}' both have a column 'y', of "
               "other values in each: with data.target_inputs=true the target's past values are inputs under that name, "
               "and the feature column would be lost; rename it in one of the files, leave it out of the inputs: "
               "'data.source.feature_columns=[a]', or set data.target_inputs=false (that column an input, the "
               "target's past values not)")
    for columns in (None, ["a", "y"]):  # read by default, or named
        dm = TimeSeriesDataModule(TableFile(str(features), ["y"], target_path=str(targets), feature_columns=columns),
                                  window=8, ets_baseline=False)
        with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
            dm.setup("fit")
    apart = TimeSeriesDataModule(TableFile(str(features), ["y"], target_path=str(targets)), window=8,
                                 ets_baseline=False, target_inputs=False)
    apart.setup("fit")
    assert apart.input_names == ["a", "y"] and apart.num_features == 2
    caplog.set_level(logging.INFO, logger="trainlab.data.timeseries.named_twice")
    twice = TimeSeriesDataModule(TableFile(str(features), ["y"], target_path=str(features)), window=8,
                                 ets_baseline=False)
    twice.setup("fit")
    assert twice.input_names == ["a", "y"]
    assert "both have a column 'y', of the same values: it is an input once" in caplog.text


@pytest.mark.parametrize("time_column", ["time", ["year", "month"]])
def test_a_target_that_is_the_time_column_is_refused_naming_it(tmp_path, time_column):
    """It was refused as "data.source.target_columns: ['time'] not in 'x.csv'; its columns are [...]" without it."""
    days = pd.date_range("2020-01-01", periods=40, freq="MS")
    path = tmp_path / "x.csv"
    pd.DataFrame({"time": days, "year": days.year, "month": days.month, "y": np.arange(40.0)}).to_csv(path, index=False)
    target = "time" if time_column == "time" else "year"
    with pytest.raises(UserError, match=f"^data.source.target_columns names the time column '{target}'; name the "
                                        r"columns of values to forecast \(the time column puts the rows in order\)$"):
        TableFile(str(path), [target, "y"], time_column=time_column).load()
