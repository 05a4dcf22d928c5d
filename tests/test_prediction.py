"""predict.py / ``trainlab.predict``: a trained series model forecasting past the end of its data (README
"Forecast past the data"): timestamps on the series' own step and zone, the data's units, the recursive
path against a hand-rolled loop over the model's own forward, files of many series, newer files, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import trainlab
from tests.conftest import TINY_ANY_DATA
from tests.families import FAMILIES
from trainlab.config.errors import UserError

BASE = [*TINY_ANY_DATA, "trainer.max_epochs=1", "logger=none", "data=file", "data.ets_baseline=false"]


def sine_file(path: Path, rows: int = 336) -> Path:
    """Hourly 10 + 3 sin(day), Berlin clock times from 2021-03-14 00:00 to the last hour before the spring change."""
    t = np.arange(rows)
    times = pd.date_range("2021-03-14", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M")
    pd.DataFrame({"time": times, "y": 10 + 3 * np.sin(2 * np.pi * t / 24)}).to_csv(path, index=False)
    return path


def stores_file(path: Path, extra: int = 0, stores: tuple[str, ...] = ("A", "B", "C"), freq: str = "D") -> Path:
    """Three daily series of different lengths and ends (rows: 120, 100, 130, each + ``extra``)."""
    parts = []
    for store, start, rows, level in zip(stores, ("2023-01-01", "2023-02-01", "2022-12-20", "2023-01-01"),
                                         (120, 100, 130, 110), (50.0, 80.0, 20.0, 30.0)):
        t = np.arange(rows + extra)
        parts.append(pd.DataFrame({"store": store, "date": pd.date_range(start, periods=rows + extra, freq=freq),
                                   "sales": level + 5 * np.sin(2 * np.pi * t / 7)}))
    pd.concat(parts).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny runs: the Berlin sine (steps=2), three stores (data.horizon=2), a feature x beside y, El Niño, and
    the image family's U-Net on 32-pixel sky tiles."""
    folder = tmp_path_factory.mktemp("predict")
    outputs = folder / "outputs"
    xy = folder / "xy.csv"
    t = np.arange(200)
    pd.DataFrame({"x": np.cos(t / 5), "y": 10 + np.sin(t / 4)}).to_csv(xy, index=False)
    settings = {
        "sine": [f"data.source.path={sine_file(folder / 'sine.csv')}", "data.source.target_columns=[y]",
                 "data.source.time_column=time", "data.source.time_zone=Europe/Berlin", "data.window=16",
                 "data.steps=2"],
        "stores": [f"data.source.path={stores_file(folder / 'stores.csv')}", "data.source.target_columns=[sales]",
                   "data.source.time_column=date", "data.source.series_column=store", "data.window=14",
                   "data.horizon=2"],
        "xy": [f"data.source.path={xy}", "data.source.target_columns=[y]", "data.window=8"],
        "xy_ahead": [f"data.source.path={xy}", "data.source.target_columns=[y]", "data.window=8", "data.horizon=2"],
        "elnino": ["data=elnino", "data.window=24"],  # inputs: the month as sin/cos, then the temperature
    }
    sky = trainlab.train([*FAMILIES["image"].tiny(), "trainer.max_epochs=1", "logger=none", f"paths.log_dir={outputs}"])
    return {**{name: trainlab.train([*BASE, *given, f"paths.log_dir={outputs}", "data.ets_baseline=false"]).run_dir
               for name, given in settings.items()}, "sky": sky.run_dir}


def predict(run: Path, horizon: int, tmp_path: Path, *overrides: str) -> trainlab.PredictResult:
    return trainlab.predict(run, horizon, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}", *overrides])


def hand_forecast(run: Path, values: np.ndarray, horizon: int) -> np.ndarray:
    """The forecast of one series by hand: the checkpoint's scaling, the model's own forward on the last
    window ending data.horizon rows before each block, its data.steps outputs appended to the series."""
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    folder = RunFolder(run)
    saved = load_checkpoint(folder.best())
    model, _ = restore(folder.config(), saved, "best")
    stats = saved["TimeSeriesDataModule"]
    data = folder.config().data
    mean, std = stats["feature_mean"][-1], stats["feature_std"][-1]
    series, made = list(values), []
    with torch.no_grad():
        while len(made) < horizon:
            end = len(series) - data.horizon + 1
            x = torch.tensor((np.array(series[end - data.window:end]) - mean) / std, dtype=torch.float32)
            out = model.to_original_units(model.eval()(x[None, :, None])).reshape(-1).double().numpy()
            made += list(out)
            series += list(out)
    return np.array(made[:horizon])


def test_a_forecast_continues_the_series_in_its_zone_and_units_as_the_models_own_loop_does(runs, tmp_path):
    result = predict(runs["sine"], 7, tmp_path)
    assert result.out_dir.parent == tmp_path / "predict" / "runs"
    assert result.plot.stat().st_size > 0 and result.details["recursive"] and result.details["horizon"] == 7
    frame = pd.read_csv(result.forecast)
    assert list(frame.columns) == ["time", "step", "y"] and list(frame.step) == list(range(1, 8))
    # the file ends at 23:00 on 27 March, Berlin clock; at 02:00 on the 28th the clock jumps to 03:00
    assert list(frame.time[:4]) == ["2021-03-28 00:00:00+01:00", "2021-03-28 01:00:00+01:00",
                                    "2021-03-28 03:00:00+02:00", "2021-03-28 04:00:00+02:00"]
    values = pd.read_csv(sine_file(tmp_path / "again.csv")).y.to_numpy()
    expected = hand_forecast(runs["sine"], values, 7)  # steps=2: four blocks, three of them fed back
    np.testing.assert_allclose(frame.y.to_numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(result.frame.y.to_numpy(), frame.y.to_numpy())
    # within data.steps nothing is fed back: the same first block
    direct = predict(runs["sine"], 2, tmp_path)
    assert not direct.details["recursive"]
    np.testing.assert_allclose(direct.frame.y.to_numpy(), expected[:2], rtol=1e-5)


def test_every_series_of_a_newer_file_is_forecast_from_its_own_end(runs, tmp_path):
    newer = stores_file(tmp_path / "newer.csv", extra=3)  # the training file with three more days per store
    result = predict(runs["stores"], 5, tmp_path, f"+data.source.path={newer}")
    frame = pd.read_csv(result.forecast)
    assert list(frame.columns) == ["store", "date", "step", "sales"] and len(frame) == 15
    rows = pd.read_csv(newer, parse_dates=["date"])
    for store, own in rows.groupby("store"):
        ahead = frame[frame.store == store]
        last = own.date.max()
        assert list(ahead.date) == [str((last + pd.Timedelta(days=k)).date()) for k in range(1, 6)]
        # data.horizon=2: each value from the window ending two rows before it
        np.testing.assert_allclose(ahead.sales.to_numpy(), hand_forecast(runs["stores"], own.sales.to_numpy(), 5),
                                   rtol=1e-5)
    picked = predict(runs["stores"], 2, tmp_path, f"+data.source.path={newer}", "+data.source.series=[B]")
    assert list(picked.frame.store) == ["B", "B"]  # a few of the series it learned


@pytest.mark.parametrize("given, message", [
    (lambda d: stores_file(d / "d.csv", stores=("A", "B", "C", "D")),
     r"the data hold series D, which '.*' was not trained on \(store=A,B,C\); forecast the series it learned"),
    (lambda d: stores_file(d / "w.csv", freq="7D"),
     r"the data steps by 7D, but '.*' was trained on a series stepping by D; give data on the step of D"),
])
def test_a_file_of_other_series_or_another_step_is_refused_naming_it(runs, tmp_path, given, message):
    with pytest.raises(UserError, match=message):
        predict(runs["stores"], 3, tmp_path, f"+data.source.path={given(tmp_path)}")


def test_a_model_with_other_inputs_forecasts_only_its_steps_and_says_what_to_do(runs, tmp_path):
    assert len(predict(runs["xy"], 1, tmp_path).frame) == 1
    with pytest.raises(UserError, match=re.escape(
            "horizon=3: the model predicts data.steps=1 step(s) at once and its inputs hold column(s) ['x'] besides "
            "its targets ['y'], whose values after the data's end are unknown; give horizon=1 or less, their values "
            "after the data's end in future=<file> (README: Forecast past the data), or train a run that predicts 3 "
            "at once: data.steps=3")):
        predict(runs["xy"], 3, tmp_path)
    with pytest.raises(UserError, match=r"^horizon=0 must be a whole number of steps after the data's end, 1 or more"):
        predict(runs["xy"], 0, tmp_path)


def test_rows_that_windows_of_the_data_reach_are_forecast_without_feeding_back(runs, tmp_path):
    """data.horizon=2: the row after the data's end comes from the window ending a row before the last, the
    next from the window ending at the last row: no forecast is read, so a model with other inputs forecasts
    both (it was refused past data.steps=1, and a run of its targets alone reported them fed back)."""
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    result = predict(runs["xy_ahead"], 2, tmp_path)
    assert not result.details["recursive"]
    saved = load_checkpoint(RunFolder(runs["xy_ahead"]).best())
    model, _ = restore(RunFolder(runs["xy_ahead"]).config(), saved, "best")
    stats = saved["TimeSeriesDataModule"]
    rows = pd.read_csv(RunFolder(runs["xy_ahead"]).config().data.source.path)[["x", "y"]].to_numpy()
    inputs = torch.tensor((rows - stats["feature_mean"]) / stats["feature_std"], dtype=torch.float32)
    with torch.no_grad():
        expected = [model.to_original_units(model.eval()(inputs[end - 8:end][None])).item() for end in (199, 200)]
    np.testing.assert_allclose(result.frame.y.to_numpy(), expected, rtol=1e-5)
    with pytest.raises(UserError, match=re.escape("horizon=3: the model predicts data.steps=1 step(s) at once, "
                                                  "data.horizon=2 rows ahead, and its inputs hold column(s) ['x'] "
                                                  "besides its targets ['y'], whose values after the data's end are "
                                                  "unknown; give horizon=2 or less")):
        predict(runs["xy_ahead"], 3, tmp_path)
    assert not predict(runs["stores"], 2, tmp_path).details["recursive"]  # its targets alone, data.horizon=2


@pytest.mark.parametrize("override", ["+data.batch_size=8", "+data.val_fraction=0.3", "+data.season_length=7"])
def test_a_data_key_a_forecast_does_not_read_is_refused_not_ignored(runs, tmp_path, override):
    """Accepted before, and without effect: predict.py batches the last windows itself and scores nothing."""
    key = override.split("=")[0].lstrip("+")
    with pytest.raises(UserError, match=re.escape(f"{override}: predict.py does not read {key} (it forecasts from the "
                                                  "last rows of every series")):
        predict(runs["xy"], 1, tmp_path, override)


def test_every_family_predict_py_predicts_for_has_its_own_job():
    """A family added to FORECASTS without a job was run as a time series."""
    from trainlab.prediction.fit import FORECASTS
    from trainlab.prediction.run import JOBS

    assert set(JOBS) == set(FORECASTS)


def test_other_families_are_refused_in_one_line():
    from trainlab.prediction.fit import check_family

    with pytest.raises(UserError, match=r"^predict.py forecasts time-series runs, maps anomalies of image runs and "
                                        r"classifies the stars of graph runs; 'r' is a None run, whose predictions "
                                        r"are not made yet: score it on labelled data with python evaluate.py "
                                        r"ckpt_path=<run>$"):
        check_family(None, "r")
    for family in FAMILIES:
        check_family(family, "r")


def test_the_run_data_key_without_plus_is_told_the_plus(runs, capsys, monkeypatch, tmp_path):
    import predict as predict_script
    from tests.test_command_line_errors import refused

    line = refused([f"ckpt_path={runs['xy']}", "horizon=2", "data.source.path=new.csv"], capsys, monkeypatch,
                   tmp_path, script=predict_script, config="predict")
    assert line == ("error: data.source.path is a setting of the run's own config, which predict.py changes with a "
                    "'+' in front: +data.source.path=new.csv")


def test_predict_keys_are_those_of_its_config():
    from omegaconf import OmegaConf

    from tests.conftest import ROOT
    from trainlab.prediction.run import PREDICT_KEYS

    own = set(OmegaConf.load(ROOT / "conf" / "predict.yaml")) - {"defaults"}
    assert own | {"trainer", "hardware", "paths", "data"} == set(PREDICT_KEYS)


@pytest.mark.parametrize("times, zone, expected", [
    (["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"], None, ["2020-05-31", "2020-06-30", "2020-07-31"]),
    # month ends from a month of 30 or 28 days on: they stay month ends (it was Aug 30, Sep 30, Oct 30)
    (["2020-04-30", "2020-05-31", "2020-06-30", "2020-07-31"], None, ["2020-08-31", "2020-09-30", "2020-10-31"]),
    (["2021-02-28", "2021-05-31", "2021-08-31", "2021-11-30"], None, ["2022-02-28", "2022-05-31", "2022-08-31"]),
    # the last and first business days of months (pandas' BME, BMS) stay so: it was Sat 2020-05-30 and Sun 2020-05-31,
    # Wed 2020-04-01 (the 1st of the first month), the 31st as month ends but of the first day's month
    (["2020-01-31", "2020-02-28", "2020-03-31", "2020-04-30"], None, ["2020-05-29", "2020-06-30", "2020-07-31"]),
    (["2019-12-31", "2020-03-31", "2020-06-30", "2020-09-30"], None, ["2020-12-31", "2021-03-31", "2021-06-30"]),
    (["2020-06-01", "2020-07-01", "2020-08-03", "2020-09-01"], None, ["2020-10-01", "2020-11-02", "2020-12-01"]),
    (["2023-03-31", "2023-06-30", "2023-09-29", "2023-12-29"], None, ["2024-03-29", "2024-06-28", "2024-09-30"]),
    (["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"], None,
     ["2024-01-15", "2024-01-16", "2024-01-17"]),  # business days: over the weekend
    ([1990, 1991, 1992, 1994], None, ["1995", "1996", "1997"]),  # years as numbers, one missing
    ([0.5, 1.0, 1.5, 2.0], None, ["2.5", "3.0", "3.5"]),
    (["2021-10-31 00:00+02:00", "2021-10-31 01:00+02:00", "2021-10-31 02:00+02:00"], None,  # the last row's offset
     ["2021-10-31 03:00:00+02:00", "2021-10-31 04:00:00+02:00", "2021-10-31 05:00:00+02:00"]),
    (["2021-10-31 01:00", "2021-10-31 02:00", "2021-10-31 02:00", "2021-10-31 03:00"], "Europe/Berlin",
     ["2021-10-31 04:00:00+01:00", "2021-10-31 05:00:00+01:00", "2021-10-31 06:00:00+01:00"]),  # after the autumn hour
    (["2021-03-26", "2021-03-27", "2021-03-28"], "Europe/Berlin", ["2021-03-29", "2021-03-30", "2021-03-31"]),
])
def test_the_times_after_a_series_are_on_its_step_and_in_its_zone(times, zone, expected):
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end

    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(len(times))}), "t", "f.csv", time_zone=zone)
    made = after_end([grid, None], 3, zone)  # a second series without times: its cells empty
    written = [str(t.date()) if isinstance(t, pd.Timestamp) and t == t.normalize() and t.tz is None else str(t)
               for t in made[:3]]
    assert written == expected and made[3:].isna().all()


@pytest.mark.parametrize("overrides, expected", [
    # the runs of this paths.log_dir (compose_cfg's, in tmp_path): it named outputs/train/runs/ whatever it was
    ([], "ckpt_path is required: python predict.py ckpt_path=<run folder or .ckpt file> horizon=<steps> (run folders "
         "are under {tmp}/outputs/train/runs/)"),
    (["ckpt_path=somewhere", "+notes=x"], "predict.py does not use notes; its keys are task_name, ckpt_path, horizon, "
     "history, future, images, catalogue, sheet, trainer, hardware, paths, data (the model and data come from the "
     "run's own config; +data.<key>=... changes the run's data)"),
])
def test_predict_refuses_no_checkpoint_and_a_key_it_does_not_use_as_evaluate_does(compose_cfg, overrides, expected,
                                                                                  tmp_path):
    """The two refusals predict.py shares with evaluate.py (trainlab.config.checks.check_run_reader_keys)."""
    from trainlab.prediction.run import check_predict_config

    with pytest.raises(UserError) as refused:
        check_predict_config(compose_cfg(overrides, config_name="predict"))
    assert str(refused.value) == expected.format(tmp=tmp_path)


def test_no_checkpoint_names_the_repositorys_runs_as_outputs():
    from omegaconf import OmegaConf

    from trainlab.config.checks import check_run_reader_keys
    from trainlab.run.root import repo_root

    cfg = OmegaConf.create({"ckpt_path": None, "paths": {"log_dir": str(repo_root() / "outputs")}})
    with pytest.raises(UserError, match=r"\(run folders are under outputs/train/runs/\)$"):
        check_run_reader_keys(cfg, "evaluate.py", ["ckpt_path", "paths"])


def test_the_command_line_refuses_in_one_line_and_keeps_no_folder(runs, capsys, monkeypatch, tmp_path):
    import predict as predict_script
    from trainlab.config.command_line import run_command_line

    monkeypatch.setattr("sys.argv", ["predict.py", f"ckpt_path={runs['xy']}", "horizon=1.5", "hardware.num_threads=1",
                                     f"paths.log_dir={tmp_path}"])
    monkeypatch.setattr(predict_script.main.__wrapped__, "__module__", "__main__")
    with pytest.raises(SystemExit) as exited:
        run_command_line(predict_script.main, config_name="predict")
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: horizon=1.5 must be a whole number of steps after the data's end, 1 or more (e.g. horizon=24); "
        "nothing was run, so its run folder was removed"]
    assert list((tmp_path / "predict" / "runs").iterdir()) == []  # nothing was made: no folder kept


def test_a_gap_left_in_the_last_window_is_refused_naming_its_row(runs, tmp_path):
    path = stores_file(tmp_path / "gap.csv")
    rows = pd.read_csv(path)
    last_a = rows.index[rows.store == "A"][-1]
    rows.loc[last_a - 5:last_a - 2, "sales"] = np.nan  # four days: longer than data.max_gap=3, not interpolated
    rows.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"^the last 15 rows of 'gap \(store=A,B,C\)' series A, which the model "
                                        r"forecasts from, lack a value at 2023-04-2\d in series A that data.missing="
                                        r"interpolate \(data.max_gap=3\) leaves empty; fill it in the file$"):
        predict(runs["stores"], 3, tmp_path, f"+data.source.path={path}")


def test_calendar_inputs_are_computed_for_the_rows_after_the_data_and_fed_in(runs, tmp_path):
    """El Niño's inputs hold the month as sin/cos beside the temperature: known for any future month, so its
    forecast is fed back past data.steps, with the months after December 2010 computed as the source does."""
    from statsmodels.datasets import elnino

    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    result = predict(runs["elnino"], 14, tmp_path)
    assert result.details["recursive"] and list(result.frame.columns) == ["month", "step", "sst"]
    # the months after December 2010 (its rows had none: forecast.csv held the step alone)
    written = pd.read_csv(result.forecast).month
    assert list(written[:3]) == ["2011-01-01", "2011-02-01", "2011-03-01"] and written.iloc[-1] == "2012-02-01"
    sst = elnino.load_pandas().data.iloc[:, 1:].to_numpy(dtype=np.float64).reshape(-1)
    folder = RunFolder(runs["elnino"])
    saved = load_checkpoint(folder.best())
    model, _ = restore(folder.config(), saved, "best")
    stats = saved["TimeSeriesDataModule"]
    mean, std = np.array(stats["feature_mean"]), np.array(stats["feature_std"])

    def row(i: int, value: float) -> np.ndarray:  # month_sin, month_cos, sst of the i-th month from January 1950
        return np.array([np.sin(2 * np.pi * (i % 12) / 12), np.cos(2 * np.pi * (i % 12) / 12), value])

    rows, made = [row(i, v) for i, v in enumerate(sst)], []
    with torch.no_grad():
        while len(made) < 14:
            x = torch.tensor((np.array(rows[-24:]) - mean) / std, dtype=torch.float32)
            value = float(model.to_original_units(model.eval()(x[None])).reshape(-1)[0])
            made.append(value)
            rows.append(row(len(rows), value))
    np.testing.assert_allclose(result.frame.sst.to_numpy(), made, rtol=1e-5)


@pytest.mark.parametrize("name, last, after", [
    ("co2", "2001-12-29", ["2002-01-05", "2002-01-12"]), ("sunspots", "2008", [2009, 2010]),
    ("nile", "1970", [1971, 1972]), ("macrodata_realgdp", "2009-07-01", ["2009-10-01", "2010-01-01"]),
])
def test_the_packaged_series_have_their_times_and_forecast_csv_continues_them(name, last, after):
    """They had none (as El Niño): forecast.csv's rows held a step number alone, and messages named row numbers."""
    from trainlab.data.timeseries.packaged import PackagedSeries
    from trainlab.prediction.calendar import after_end

    table = PackagedSeries(name).load()
    grid = table.times[0]
    assert grid.written[-1] == last and len(grid.positions) == len(table.targets)
    made = list(after_end([grid], 2, None))
    assert [str(t.date()) if isinstance(t, pd.Timestamp) else t for t in made] == after
    assert PackagedSeries("tmy3_temperature").load().times is None  # a typical year: months of different years


def test_predict_py_says_nothing_of_seasons_baselines_or_training_advice(runs, tmp_path):
    """A newer file shorter than two days of the hourly sine (season 24) was forecast with 'season length 24 ... does
    not fit: ... going on without a season (no seasonal naive baseline, MASE scaled by the one-step naive)', and a
    feature constant in it with 'leave them out of data.source.feature_columns': predict.py scores nothing and
    trains nothing."""
    rows = pd.read_csv(sine_file(tmp_path / "sine.csv")).tail(30)
    rows.to_csv(tmp_path / "newer.csv", index=False)
    pd.DataFrame({"x": 1.0, "y": 10 + np.sin(np.arange(30) / 4)}).to_csv(tmp_path / "flat.csv", index=False)
    logs = [(predict(runs["sine"], 2, tmp_path, f"+data.source.path={tmp_path / 'newer.csv'}").out_dir
             / "predict.log").read_text()]
    logs.append((predict(runs["xy"], 1, tmp_path, f"+data.source.path={tmp_path / 'flat.csv'}").out_dir
                 / "predict.log").read_text())
    assert all("data newer: 30 rows" in logs[0] and "forecast" in text for text in logs)
    assert not [line for text in logs for line in text.splitlines() if "[WARNING]" in line or "season_length" in line]


def test_a_file_too_short_for_one_window_is_refused_by_predict_py_in_its_words(runs, tmp_path):
    short = tmp_path / "short.csv"
    pd.read_csv(stores_file(tmp_path / "all.csv")).groupby("store").tail(12).to_csv(short, index=False)
    with pytest.raises(UserError, match=re.escape(
            "'short (store=A,B,C)' series A has 12 rows, fewer than the data.window=14 + data.horizon=2 - 1 = 15 "
            "predict.py forecasts from (the last window, ending data.horizon=2 row(s) before the first row after the "
            "data); give a longer file, or leave the short series out of data.source.series (predict.py sets the "
            "run's data with a '+': +data.source.series=<value>")):
        predict(runs["stores"], 3, tmp_path, f"+data.source.path={short}")


def test_the_last_window_alone_is_enough_to_forecast_from(runs, tmp_path):
    """data.window=16 rows of the sine (data.horizon=1): the last window is all a forecast reads. Refused before,
    as fewer than data.window + data.horizon + data.steps - 1 = 17 rows: a window with its targets, which only
    scoring reads."""
    rows = pd.read_csv(sine_file(tmp_path / "sine.csv"))
    rows.tail(16).to_csv(tmp_path / "last.csv", index=False)
    result = predict(runs["sine"], 5, tmp_path, f"+data.source.path={tmp_path / 'last.csv'}")
    np.testing.assert_allclose(result.frame.y.to_numpy(), hand_forecast(runs["sine"], rows.y.to_numpy()[-16:], 5),
                               rtol=1e-5)
    rows.tail(15).to_csv(tmp_path / "fewer.csv", index=False)
    with pytest.raises(UserError, match=r"^'fewer' has 15 rows, fewer than the data.window=16 \+ data.horizon=1 - 1 = "
                                        r"16 predict.py forecasts from"):
        predict(runs["sine"], 5, tmp_path, f"+data.source.path={tmp_path / 'fewer.csv'}")


def test_an_image_run_maps_the_anomalies_of_a_folder_without_masks(runs, tmp_path):
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    folder = tmp_path / "night"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = {name: 10 + rng.normal(size=(2, 64, 48)) for name in ("a", "b")}  # the run's two epochs
    images["b"][1, 40:43, 30:33] += 50  # a bright new source in the new epoch
    for name, image in images.items():
        np.save(folder / f"{name}.npy", image)
    result = trainlab.predict(runs["sky"], images=folder, overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    # anomaly_maps.json names how anomaly_scores.csv reads back, as forecast.json and predictions.json do theirs
    scores = pd.read_csv(result.forecast, sep=result.details["csv_separator"], decimal=result.details["csv_decimal"],
                         encoding=result.details["csv_encoding"])
    # 32-pixel tiles of the run, the last row and column flush with the edges: 2 x 2 per image
    assert result.forecast.name == "anomaly_scores.csv" and len(scores) == 8 and result.plot.stat().st_size > 0
    assert sorted(scores.tile) == sorted(f"{n}.npy y{y} x{x}" for n in "ab" for y in (0, 32) for x in (0, 16))
    assert list(scores.score) == sorted(scores.score, reverse=True) and scores.score.between(0, 1).all()
    maps = np.load(result.out_dir / "anomaly_maps.npz")
    assert maps["maps"].shape == (8, 32, 32)
    # by hand: the checkpoint's asinh normalisation, the model's own map and score
    run = RunFolder(runs["sky"])
    saved = load_checkpoint(run.best())
    model, _ = restore(run.config(), saved, "best")
    stats = {k: np.array(v) for k, v in saved["SkyDataModule"].items() if k in ("median", "sigma")}
    tile = images["b"][:, 32:64, 16:48]
    scaled = np.arcsinh((tile - stats["median"][:, None, None]) / stats["sigma"][:, None, None])
    x = torch.tensor(scaled, dtype=torch.float32)[None]
    with torch.no_grad():
        expected = float(model.image_score(model.eval().anomaly_map(x))[0])
    assert scores.set_index("tile").score["b.npy y32 x16"] == pytest.approx(expected, rel=1e-5)


def test_each_family_is_refused_the_other_familys_keys(runs, tmp_path):
    with pytest.raises(UserError, match=r"^horizon=3: an image run's predictions are anomaly maps of images=<folder>, "
                                        r"with no horizon; leave it out"):
        predict(runs["sky"], 3, tmp_path, f"images={tmp_path}")
    with pytest.raises(UserError, match=r"^images=<folder> is required for an image run"):
        trainlab.predict(runs["sky"], overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    with pytest.raises(UserError, match=r"^images=.*: a timeseries run forecasts its data's series, it reads no images"):
        predict(runs["xy"], 1, tmp_path, f"images={tmp_path}")


def test_every_panel_of_series_with_other_ends_names_its_own_dates(runs, tmp_path, monkeypatch):
    """Stores ending on different days: each panel of forecast.png labels its own time axis (the figure's
    shared date formatting showed the bottom panel's dates only, read as every series' end)."""
    import trainlab.prediction.plots as plots

    drawn = []

    def keep(fig, path, **kwargs):
        fig.canvas.draw()
        drawn.append([[t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
                      for ax in fig.axes])
        path.write_bytes(b"png")

    monkeypatch.setattr(plots, "save_figure", keep)
    predict(runs["stores"], 3, tmp_path)
    labels = drawn[0]
    assert len(labels) == 3 and all(labels), labels
    assert len({tuple(own) for own in labels}) == 3  # stores ending on different days: different dates


def test_forecast_png_places_the_hours_across_a_clock_change_by_their_instant(runs, tmp_path, monkeypatch):
    """The sine's forecast crosses Berlin's spring change (01:00, then 03:00): plotted at its clock times, the
    hour between them was drawn two hours wide (and the autumn hour ran back); by instant, in the zone's labels."""
    import matplotlib.dates as mdates

    import trainlab.prediction.plots as plots

    drawn = []

    def keep(fig, path, **kwargs):
        ax = fig.axes[0]
        drawn.append((np.asarray(ax.lines[1].get_xdata(orig=False), dtype=float), ax.xaxis.get_major_formatter()))
        path.write_bytes(b"png")

    monkeypatch.setattr(plots, "save_figure", keep)
    result = predict(runs["sine"], 6, tmp_path)
    x, formatter = drawn[0]
    np.testing.assert_allclose(np.diff(x), 1 / 24, rtol=1e-6)  # the last hour of the data, then six: one apart
    instants = pd.to_datetime(pd.read_csv(result.forecast).time, utc=True)
    np.testing.assert_allclose(x[1:], mdates.date2num(instants.dt.tz_localize(None).to_numpy()), rtol=1e-12)
    assert str(getattr(formatter, "_tz", "")) == "Europe/Berlin"  # labelled on the zone's clock


@pytest.mark.parametrize("made, message", [
    (None, r"^images='.*nope' is not a folder; give the folder holding your images"),
    ((), r"^images='.*nope' holds no images \(.*\); give the folder of the sky images to map$"),
    ((2, 20, 20), r"^image 'a.npy' \(20x20\) is smaller than data.source.tile_size=32; the run learned tiles of that "
                  r"side: give images at least that large$"),
])
def test_a_folder_of_no_images_or_of_images_under_a_tile_is_refused_naming_images(runs, tmp_path, made, message):
    """The folder is predict.py's images=<folder>: not data.source.path, no masks, and the run's tile size fixed
    (the refusals named data.source.path, mask_dir and 'lower the tile size', none of them the user's to give)."""
    folder = tmp_path / "nope"
    if made is not None:
        folder.mkdir()
        if made:
            np.save(folder / "a.npy", np.ones(made))
    with pytest.raises(UserError, match=message):
        trainlab.predict(runs["sky"], images=folder, overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])


def test_whole_images_of_other_sizes_are_refused_with_a_fix_predict_py_takes(tmp_path):
    """A run on whole images (data.source.tile_size null) given a folder of two sizes: the refusal said 'or cut
    them into tiles with data.source.tile_size=<side>', which predict.py refuses (the run's data settings are kept)."""
    from omegaconf import OmegaConf

    from trainlab.prediction.image import read_images

    np.save(tmp_path / "a.npy", np.random.default_rng(0).normal(size=(64, 64)))
    np.save(tmp_path / "b.npy", np.random.default_rng(1).normal(size=(50, 64)))
    run = OmegaConf.create({"data": {"source": {"tile_size": None}}})
    with pytest.raises(UserError, match=r"^images differ in size: 'b.npy' is 50x64 but 'a.npy' is 64x64; the run took "
                                        r"whole images \(its data.source.tile_size is null\), which are mapped "
                                        r"together: give a folder of images of one size, and one folder for each other"):
        read_images(tmp_path, run)


def test_images_far_from_the_runs_training_images_are_warned_about(caplog):
    """Images of another band or unit (the run's sky at 100 with noise 5, these at 0.1 with noise 0.005) were
    normalised with the checkpoint's statistics and mapped without a word, as a series file in other units was not."""
    import logging

    from trainlab.prediction.image import warn_far_from_training

    rng = np.random.default_rng(0)
    stats = {"median": np.array([100.0]), "sigma": np.array([5.0])}
    like = rng.normal(103.0, 6.0, (4, 1, 32, 32))
    with caplog.at_level(logging.WARNING, logger="trainlab.prediction.image"):
        warn_far_from_training(like, stats)
        assert not caplog.records
        warn_far_from_training(like * 1e-3, stats)
    (record,) = caplog.records
    assert re.match(r"the images lie far from the run's training images in 1 channel\(s\) \(the checkpoint's "
                    r"normalisation\), e.g. channel 0: sky level 0.10\d* against 100, noise 0.00\d* against 5; images "
                    r"of another band, unit or exposure than the run's: read their maps with care$", record.getMessage())


def test_a_file_in_other_units_than_the_runs_is_warned_about(runs, tmp_path, monkeypatch):
    """The sine in thousandths (values ~10,000 for a run trained on ~10): forecast without a word before, from
    inputs thousands of the run's standard deviations away."""
    import logging

    said = []  # the job's logging is Hydra's (its handlers replace pytest's): the module's own logger, recorded
    monkeypatch.setattr(logging.getLogger("trainlab.prediction.timeseries"), "warning",
                        lambda message, *args: said.append(message % args))
    values = pd.read_csv(sine_file(tmp_path / "sine.csv"))
    values.assign(y=values.y * 1000).to_csv(tmp_path / "milli.csv", index=False)
    predict(runs["sine"], 2, tmp_path, f"+data.source.path={tmp_path / 'sine.csv'}")
    assert said == []
    predict(runs["sine"], 2, tmp_path, f"+data.source.path={tmp_path / 'milli.csv'}")
    assert len(said) == 1 and re.search(r"^the last rows of 1 series lie more than 10 standard deviations .* e\.g\. "
                                        r"'y' of 'milli' at \d.*: a file in other units than the run's", said[0]), said


def test_forecast_csv_reads_back_into_pandas_with_its_times_in_their_zone(runs, tmp_path):
    """Across Berlin's clock change the csv's times carry two offsets, which pandas reads back as text:
    forecast.json names the column and zone that bring them back (it named neither before)."""
    result = predict(runs["sine"], 5, tmp_path)
    frame = pd.read_csv(result.forecast)
    column, zone = result.details["time_column"], result.details["time_zone"]
    assert (column, zone) == ("time", "Europe/Berlin")
    times = pd.to_datetime(frame[column], utc=True).dt.tz_convert(zone)  # README's recipe
    pd.testing.assert_series_equal(times, result.frame.time, check_dtype=False, check_index_type=False)
    assert str(times.dtype).endswith(", Europe/Berlin]") and frame.y.dtype == np.float64
    daily = predict(runs["stores"], 2, tmp_path)
    assert (daily.details["time_column"], daily.details["time_zone"]) == ("date", None)
    dates = pd.read_csv(daily.forecast, parse_dates=["date"])  # days: dates without a zone
    assert str(dates.date.dtype).startswith("datetime64") and list(dates.date) == list(daily.frame.date)
    assert "time_column" not in predict(runs["xy"], 1, tmp_path).details  # a file without times


def test_forecast_csv_writes_dates_as_the_file_does(runs, tmp_path):
    """A newer file of the stores with day-first dates: forecast.csv wrote 2023-05-01 after 30/04/2023."""
    newer = tmp_path / "dayfirst.csv"
    rows = pd.read_csv(stores_file(tmp_path / "stores.csv"), parse_dates=["date"])
    rows.assign(date=rows.date.dt.strftime("%d/%m/%Y")).to_csv(newer, index=False)
    frame = pd.read_csv(predict(runs["stores"], 2, tmp_path, f"+data.source.path={newer}").forecast, dtype=str)
    assert list(frame[frame.store == "A"].date) == ["01/05/2023", "02/05/2023"]


@pytest.mark.parametrize("sep, decimal", [(";", ","), ("\t", "."), ("|", ",")])
def test_forecast_csv_is_separated_and_its_decimals_marked_as_the_file_is(runs, tmp_path, sep, decimal):
    """A newer file of the stores written the European way (';', 10,5) got a forecast.csv of ',' and '.'; now each
    as the file is, and forecast.json names them for reading it back."""
    rows = pd.read_csv(stores_file(tmp_path / "stores.csv"))
    newer = tmp_path / "written.csv"
    rows.to_csv(newer, index=False, sep=sep, decimal=decimal)
    result = predict(runs["stores"], 2, tmp_path, f"+data.source.path={newer}")
    text = result.forecast.read_text().splitlines()
    assert text[0] == sep.join(["store", "date", "step", "sales"]) and text[1].startswith(f"A{sep}2023-05-01{sep}1{sep}")
    assert decimal in text[1].rsplit(sep, 1)[1] and (decimal == "." or "." not in text[1])
    # the model's float32 precision, 7 significant digits: 17 were written, the last ten noise
    assert all(len(re.sub(r"\D", "", line.rsplit(sep, 1)[1]).lstrip("0")) <= 7 for line in text[1:])
    assert (result.details["csv_separator"], result.details["csv_decimal"], result.details["csv_encoding"]) == \
        (sep, decimal, "utf-8")
    back = pd.read_csv(result.forecast, sep=sep, decimal=decimal)
    np.testing.assert_allclose(back.sales.to_numpy(), result.frame.sales.to_numpy(), rtol=1e-6)  # 7 digits
    plain = predict(runs["stores"], 2, tmp_path)  # the run's own file, of commas: as before
    assert plain.forecast.read_text().splitlines()[0] == "store,date,step,sales"
    assert (plain.details["csv_separator"], plain.details["csv_decimal"]) == (",", ".")


@pytest.mark.parametrize("times, expected", [
    (["2020-01", "2020-02", "2020-03"], ["2020-04", "2020-05"]),  # months as a file writes them, not 2020-04-01
    (["2020-01-31", "2020-02-29", "2020-03-31"], ["2020-04-30", "2020-05-31"]),
    (["01/01/2020", "01/02/2020", "01/03/2020"], ["01/04/2020", "01/05/2020"]),  # day-first, read so by the run
    # day-first files whose last date reads back month-first too (day = month): written 02/01/2021 for February
    (["01/11/2020", "01/12/2020", "01/01/2021"], ["01/02/2021", "01/03/2021"]),
    (["01/03/2020", "02/03/2020", "03/03/2020"], ["04/03/2020", "05/03/2020"]),
    (["2020-01-01 00:00", "2020-02-01 00:00", "2020-03-01 00:00"], ["2020-04-01 00:00", "2020-05-01 00:00"]),
    # months as text (Excel's, Eurostat's), which pandas' format guess does not write back: 2020-04-01 was written
    (["Jan-20", "Feb-20", "Mar-20"], ["Apr-20", "May-20"]), (["Nov 2020", "Dec 2020", "Jan 2021"], ["Feb 2021", "Mar 2021"]),
    (["2020M10", "2020M11", "2020M12"], ["2021M01", "2021M02"]),
    # quarters and ISO weeks as text, which strftime cannot write: 2020-04-01 and 2021-01-04 were written
    (["2019Q3", "2019Q4", "2020Q1"], ["2020Q2", "2020Q3"]), (["Q3 2019", "Q4 2019", "Q1 2020"], ["Q2 2020", "Q3 2020"]),
    (["2019-q3", "2019-q4", "2020-q1"], ["2020-q2", "2020-q3"]),
    (["2020-W51", "2020-W52", "2020-W53"], ["2021-W01", "2021-W02"]),
    # ISO 8601 in UTC with a Z (an API's export, Gaia's, NOAA's): written as plain dates, the time and zone lost
    (["2020-01-04T00:00:00Z", "2020-01-11T00:00:00Z", "2020-01-18T00:00:00Z"],
     ["2020-01-25T00:00:00Z", "2020-02-01T00:00:00Z"]),
    (["2020-01-01T00:00Z", "2020-01-02T00:00Z", "2020-01-03T00:00Z"], ["2020-01-04T00:00Z", "2020-01-05T00:00Z"]),
])
def test_the_times_after_a_series_are_written_in_its_files_format(times, expected):
    """Beside a series without times (its cells empty) the dates were written with a midnight (2020-04-01 00:00:00)."""
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end, as_written

    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(3)}), "t", "f.csv",
                           time_format="%d/%m/%Y" if "/" in times[0] else None)
    made = as_written(after_end([grid, None], 2, None), [grid, None])
    assert pd.DataFrame({"t": made.to_numpy()}).to_csv(index=False).splitlines() == ["t", *expected, '""', '""']


@pytest.mark.parametrize("times, expected", [
    # UTC with a Z, hourly and every 15 minutes: written '2024-03-01 02:00:00+00:00', not as the file writes them
    (["2024-03-01T21:00:00Z", "2024-03-01T22:00:00Z", "2024-03-01T23:00:00Z"],
     ["2024-03-02T00:00:00Z", "2024-03-02T01:00:00Z"]),
    (["2024-03-01T23:15Z", "2024-03-01T23:30Z", "2024-03-01T23:45Z"], ["2024-03-02T00:00Z", "2024-03-02T00:15Z"]),
    # offsets with a colon (ISO 8601), and without; a file whose offset changes (the last row's is written)
    (["2024-03-01T21:00:00+02:00",
     "2024-03-01T22:00:00+02:00", "2024-03-01T23:00:00+02:00"], ["2024-03-02T00:00:00+02:00", "2024-03-02T01:00:00+02:00"]),
    (["2024-03-01 22:00-0500", "2024-03-01 23:00-0500", "2024-03-02 00:00-0500"],
     ["2024-03-02 01:00-0500", "2024-03-02 02:00-0500"]),
    (["2021-03-28T00:00:00+01:00", "2021-03-28T01:00:00+01:00", "2021-03-28T03:00:00+02:00"],
     ["2021-03-28T04:00:00+02:00", "2021-03-28T05:00:00+02:00"]),
    # milliseconds (JavaScript's toISOString) and offsets in hours (PostgreSQL's), which strftime does not write
    (["2024-03-01T21:00:00.000Z", "2024-03-01T22:00:00.000Z", "2024-03-01T23:00:00.000Z"],
     ["2024-03-02T00:00:00.000Z", "2024-03-02T01:00:00.000Z"]),
    (["2024-03-01T21:30:00.000+05:30", "2024-03-01T22:30:00.000+05:30", "2024-03-01T23:30:00.000+05:30"],
     ["2024-03-02T00:30:00.000+05:30", "2024-03-02T01:30:00.000+05:30"]),
    (["2024-03-01 21:00:00+00", "2024-03-01 22:00:00+00", "2024-03-01 23:00:00+00"],
     ["2024-03-02 00:00:00+00", "2024-03-02 01:00:00+00"]),
    # fractions of a second in other than three or six digits: were written in pandas' form
    (["2024-03-01T21:00:00.5Z", "2024-03-01T22:00:00.5Z", "2024-03-01T23:00:00.5Z"],
     ["2024-03-02T00:00:00.5Z", "2024-03-02T01:00:00.5Z"]),
    (["2024-03-01T21:00:00.123456789Z", "2024-03-01T22:00:00.123456789Z", "2024-03-01T23:00:00.123456789Z"],
     ["2024-03-02T00:00:00.123456789Z", "2024-03-02T01:00:00.123456789Z"]),
    (["2024-03-01 21:00:00.25", "2024-03-01 22:00:00.25", "2024-03-01 23:00:00.25"],
     ["2024-03-02 00:00:00.25", "2024-03-02 01:00:00.25"]),
    (["01.03.2024 21:00:00.500", "01.03.2024 22:00:00.500", "01.03.2024 23:00:00.500"],
     ["02.03.2024 00:00:00.500", "02.03.2024 01:00:00.500"]),
    (["2024-03-01 21:00:00-03", "2024-03-01 22:00:00-03", "2024-03-01 23:00:00-03"],
     ["2024-03-02 00:00:00-03", "2024-03-02 01:00:00-03"]),
    # UTC in words (a database's export): refused as reading month-first and day-first before
    (["2024-03-01 21:00:00 UTC", "2024-03-01 22:00:00 UTC", "2024-03-01 23:00:00 UTC"],
     ["2024-03-02 00:00:00 UTC", "2024-03-02 01:00:00 UTC"]),
    (["2024-03-01 21:00 GMT", "2024-03-01 22:00 GMT", "2024-03-01 23:00 GMT"], ["2024-03-02 00:00 GMT", "2024-03-02 01:00 GMT"]),
    (["2024-03-01T21:00:00 utc", "2024-03-01T22:00:00 utc", "2024-03-01T23:00:00 utc"],
     ["2024-03-02T00:00:00 utc", "2024-03-02T01:00:00 utc"]),
    # without a zone: the next midnight was a date alone (2024-03-02), the file's minutes lost
    (["2024-03-01 21:00", "2024-03-01 22:00", "2024-03-01 23:00"], ["2024-03-02 00:00", "2024-03-02 01:00"]),
    (["01/03/2024 23:15", "01/03/2024 23:30", "01/03/2024 23:45"], ["02/03/2024 00:00", "02/03/2024 00:15"]),
    # days with a Z and without (as before)
    (["2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"],
     ["2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z"]),
    (["2024-03-01", "2024-03-02", "2024-03-03"], ["2024-03-04", "2024-03-05"]),
])
def test_times_under_a_day_after_a_series_are_written_as_the_file_writes_them(times, expected):
    """Hourly and 15-minute times with a Z or an offset were written in pandas' form ('2024-03-02 00:00:00+00:00'),
    naive ones at midnight as a date alone; each now as its file writes them, in its zone."""
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end, as_written

    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(3)}), "t", "f.csv",
                           time_format="%d/%m/%Y %H:%M" if "/" in times[0] else None)
    assert pd.Series(as_written(after_end([grid], 1, None), [grid])).to_csv(index=False).splitlines()[1:] == expected[:1]
    made = as_written(after_end([grid, None], 2, None), [grid, None])
    assert pd.DataFrame({"t": made.to_numpy()}).to_csv(index=False).splitlines() == ["t", *expected, '""', '""']


def test_times_under_a_day_of_a_zones_clock_keep_their_offsets():
    """data.source.time_zone: the file's clock times are written with their offsets (the repeated autumn hour told
    apart), and at midnight with their time of day."""
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end, as_written

    times = ["2021-10-30 21:00", "2021-10-30 22:00", "2021-10-30 23:00"]
    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(3)}), "t", "f.csv", time_zone="Europe/Berlin")
    made = as_written(after_end([grid], 4, "Europe/Berlin"), [grid], "Europe/Berlin")
    assert [str(t) for t in made] == ["2021-10-31 00:00:00+02:00", "2021-10-31 01:00:00+02:00",
                                      "2021-10-31 02:00:00+02:00", "2021-10-31 02:00:00+01:00"]


@pytest.mark.parametrize("times, expected", [(["2019Q3", "2019Q4", "2020Q1"], "2020Q2"),
                                             (["2020-01-30", "2020-01-31", "2020-02-01"], "2020-02-02")])
def test_a_future_files_refusal_names_the_next_step_as_the_file_writes_it(times, expected):
    """'its first row is the step after the data's last, 2020-04-01' for a file of quarters written 2020Q1."""
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end
    from trainlab.prediction.future import _as_written

    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(3)}), "t", "f.csv")
    assert _as_written(after_end([grid], 1, None), grid) == expected


def test_trainlab_predict_takes_numpy_integers_as_the_horizon(runs, tmp_path):
    """A horizon computed with numpy (np.int64) was refused as not 'a whole number of steps'."""
    assert len(predict(runs["xy"], np.int64(1), tmp_path).frame) == 1
    with pytest.raises(UserError, match=r"^horizon=1.5 must be a whole number of steps after the data's end, 1 or "
                                        r"more \(e.g. horizon=24\)$"):  # predict.py's words (was its own line)
        predict(runs["xy"], 1.5, tmp_path)


def test_one_series_of_a_run_of_more_than_a_dozen_is_forecast_and_a_renamed_one_refused(tmp_path):
    """A checkpoint keeps more than a dozen series as a count and a digest: +data.source.series=[S01], as the
    refusal itself advised, was refused as a series the model 'was not trained on'."""
    def shops(path: Path, names: list[str]) -> Path:
        pd.concat(pd.DataFrame({"shop": name, "day": pd.date_range("2024-01-01", periods=40, freq="D"),
                                "sales": 10 + i + np.sin(np.arange(40) / 3)}) for i, name in enumerate(names)
                  ).to_csv(path, index=False)
        return path

    names = [f"S{i:02d}" for i in range(13)]
    run = trainlab.train([*BASE, f"data.source.path={shops(tmp_path / 'shops.csv', names)}", "data.window=8",
                          "data.source.target_columns=[sales]", "data.source.time_column=day",
                          "data.source.series_column=shop", f"paths.log_dir={tmp_path}"]).run_dir
    picked = predict(run, 2, tmp_path, "+data.source.series=[S01]")
    assert list(picked.frame.shop) == ["S01", "S01"]
    renamed = shops(tmp_path / "renamed.csv", [*names[:-1], "X"])
    with pytest.raises(UserError, match=r"^the data hold shop=13 series S00 \.\. X .*which '.*' was not trained on"):
        predict(run, 2, tmp_path, f"+data.source.path={renamed}")


def test_a_checkpoint_copied_out_of_its_run_is_refused_in_predict_pys_words(runs, tmp_path):
    """A .ckpt copied on its own into another folder: the refusal said 'evaluate needs a run directory'."""
    from trainlab.run.folder import RunFolder

    alone = tmp_path / "models" / "sine.ckpt"
    alone.parent.mkdir()
    alone.write_bytes(RunFolder(runs["sine"]).best().read_bytes())
    with pytest.raises(UserError, match=r"^'.*' has no .hydra/config.yaml; a checkpoint is read with the config its run "
                                        r"saved: give a run directory written by train.py, or a .ckpt file in its "
                                        r"checkpoints/ folder$"):
        predict(alone, 2, tmp_path)


def test_the_first_block_from_a_window_inside_the_data_is_what_evaluate_py_scored(runs, tmp_path):
    """The sine without its last data.steps=2 rows: predict.py's forecast is evaluate.py's prediction for the
    file's last window (split=all reads every window, with the same model, scaling and loader)."""
    from trainlab.evaluation.timeseries import predictions
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    folder = RunFolder(runs["sine"])
    model, data = restore(folder.config(), load_checkpoint(folder.best()), "best", whole_file=True)
    data.setup("test")
    scored = predictions(model.eval(), data.test_dataloader(), data.stats)  # (windows, steps, targets)
    rows = pd.read_csv(sine_file(tmp_path / "sine.csv"))
    rows.iloc[:-2].to_csv(tmp_path / "short.csv", index=False)
    ahead = predict(runs["sine"], 2, tmp_path, f"+data.source.path={tmp_path / 'short.csv'}")
    np.testing.assert_allclose(ahead.frame.y.to_numpy(), scored[-1, :, 0], rtol=1e-5)


def test_a_data_size_the_model_was_trained_with_is_refused_in_predict_pys_words(runs, tmp_path):
    """+data.window=8 on predict.py: the refusal spoke of being 'tested' and of what 'evaluate.py keeps'."""
    with pytest.raises(UserError, match=r"^\+data.window=8: the model in '.*' was trained with the run's own "
                                        r"data.window, and with another it would be forecast on a task it was not "
                                        r"trained for; predict.py keeps it: leave the override out"):
        predict(runs["sine"], 2, tmp_path, "+data.window=8")


def test_a_forecast_fed_back_past_the_series_length_is_warned_about_once(runs, tmp_path, monkeypatch):
    """The 200-row xy series forecast 250 steps ahead by a model trained to predict one: fed back without a
    word before; now one warning naming the horizon against the trained one and the series' length."""
    import logging

    said = []  # the job's logging is Hydra's (its handlers replace pytest's): the module's own logger, recorded
    monkeypatch.setattr(logging.getLogger("trainlab.prediction.fit"), "warning",
                        lambda message, *args: said.append(message % args))
    predict(runs["sine"], 7, tmp_path)  # fed back, but well within the series' 336 rows
    assert said == []
    predict(runs["sine"], 400, tmp_path)
    assert len(said) == 1 and re.search(r"^horizon=400 is 200 times the 2 row\(s\) the model was trained to predict "
                                        r".*data\.steps=2, data\.horizon=1\) and 1\.19 times the series' 336 row\(s\)"
                                        r".*errors compound", said[0]), said


@pytest.mark.parametrize("times,expected", [
    (["2024-03-01T21:00:00,5Z", "2024-03-01T22:00:00,5Z", "2024-03-01T23:00:00,5Z"],
     ["2024-03-02T00:00:00,5Z", "2024-03-02T01:00:00,5Z"]),
    (["2024-03-01 21:00:00,250", "2024-03-01 22:00:00,250", "2024-03-01 23:00:00,250"],
     ["2024-03-02 00:00:00,250", "2024-03-02 01:00:00,250"]),
    (["2024-03-01T21:00:00,000000+01:00", "2024-03-01T22:00:00,000000+01:00", "2024-03-01T23:00:00,000000+01:00"],
     ["2024-03-02T00:00:00,000000+01:00", "2024-03-02T01:00:00,000000+01:00"]),
])
def test_fractions_of_a_second_after_a_comma_are_read_and_written_back_with_it(times, expected):
    """ISO 8601's comma before a fraction of a second ('23:00:00,5Z', as European logs write it) was refused as
    'read month-first and day-first give two different series', and read otherwise forecast.csv wrote it in
    pandas' form ('.5'); now read as its point and the times after the series written with the comma."""
    from trainlab.data.timeseries.times import sort_by_time
    from trainlab.prediction.calendar import after_end, as_written

    _, grid = sort_by_time(pd.DataFrame({"t": times, "v": range(3)}), "t", "f.csv")
    assert grid.frequency == "h"
    assert list(as_written(after_end([grid], 2, None), [grid])) == expected
