"""predict.py ``future=<file>``: the values after the data's end of inputs nobody computes (a promotion plan, a
driver), fed to the model with its forecasts past the rows the data's own windows reach (README "Forecast past
the data"): against a loop written by hand over the model's forward, and every refusal of such a file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import trainlab
from tests.test_prediction import BASE, predict, stores_file
from trainlab.config.errors import UserError


def promo_file(path: Path, stores: tuple[str, ...] = ("A", "B", "C"), extra: int = 0) -> Path:
    """The three stores with a planned promotion (every 5th day) that lifts their sales."""
    rows = pd.read_csv(stores_file(path, extra=extra, stores=stores))
    day = rows.groupby("store").cumcount()
    rows["promo"] = (day % 5 == 2).astype(float)
    rows["sales"] += 4 * rows.promo
    rows[["store", "date", "promo", "sales"]].to_csv(path, index=False)
    return path


def future_of(path: Path, rows: int, stores: tuple[str, ...] = ("A", "B", "C")) -> Path:
    """The promotions of the ``rows`` days after each store's end, without sales (what a plan holds)."""
    whole = pd.read_csv(promo_file(path.with_name("whole.csv"), extra=rows))
    known = pd.read_csv(promo_file(path.with_name("known.csv")))
    ends = known.groupby("store").date.max()
    after = whole[whole.date > whole.store.map(ends)]
    after[after.store.isin(stores)][["store", "date", "promo"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny runs: the stores with their promotions (data.steps=2), x beside y without times, the stores alone."""
    folder = tmp_path_factory.mktemp("future")
    xy = folder / "xy.csv"
    t = np.arange(200)
    pd.DataFrame({"x": np.cos(t / 5), "y": 10 + np.sin(t / 4)}).to_csv(xy, index=False)
    stores = ["data.source.target_columns=[sales]", "data.source.time_column=date", "data.source.series_column=store",
              "data.window=14"]
    settings = {
        "promo": [f"data.source.path={promo_file(folder / 'promo.csv')}", *stores, "data.steps=2"],
        "xy": [f"data.source.path={xy}", "data.source.target_columns=[y]", "data.window=8"],
        "stores": [f"data.source.path={stores_file(folder / 'stores.csv')}", *stores],
    }
    return {name: trainlab.train([*BASE, *given, f"paths.log_dir={folder / 'outputs'}"]).run_dir
            for name, given in settings.items()}


def hand_forecast(run: Path, rows: np.ndarray, drivers: np.ndarray, horizon: int) -> np.ndarray:
    """One series by hand: (rows, [driver, target]) scaled with the checkpoint's statistics, the model's forward
    on the last data.window rows, its data.steps outputs appended as targets beside the drivers given."""
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.restore import restore

    folder = RunFolder(run)
    saved = load_checkpoint(folder.best())
    model, _ = restore(folder.config(), saved, "best")
    stats = saved["TimeSeriesDataModule"]
    mean, std = np.array(stats["feature_mean"]), np.array(stats["feature_std"])
    data = folder.config().data
    series, made = [list(r) for r in rows], []
    with torch.no_grad():
        while len(made) < horizon:
            x = torch.tensor((np.array(series[-data.window:]) - mean) / std, dtype=torch.float32)
            out = model.to_original_units(model.eval()(x[None])).reshape(-1).double().numpy()
            for value in out:
                series.append([drivers[len(made)] if len(made) < len(drivers) else np.nan, value])
                made.append(value)
    return np.array(made[:horizon])


def test_a_forecast_with_the_future_of_its_driver_is_the_models_own_loop_fed_that_driver(runs, tmp_path):
    future = future_of(tmp_path / "plan.csv", 6)
    result = predict(runs["promo"], 5, tmp_path, f"future={future}")
    assert result.details["recursive"] and result.details["future_columns"] == ["promo"]
    frame = pd.read_csv(result.forecast)
    assert list(frame.columns) == ["store", "date", "step", "sales"] and len(frame) == 15
    data = pd.read_csv(promo_file(tmp_path / "data.csv"))
    plan = pd.read_csv(future)
    for store, own in data.groupby("store"):
        expected = hand_forecast(runs["promo"], own[["promo", "sales"]].to_numpy(),
                                 plan[plan.store == store].promo.to_numpy(), 5)
        np.testing.assert_allclose(frame[frame.store == store].sales.to_numpy(), expected, rtol=1e-5)
    # data.steps=2, horizon=5: the last block's window ends at the 4th row after the data; 4 rows are enough
    four = predict(runs["promo"], 5, tmp_path, f"future={future_of(tmp_path / 'four.csv', 4)}")
    np.testing.assert_allclose(four.frame.sales.to_numpy(), frame.sales.to_numpy(), rtol=1e-6)


def test_a_file_of_rows_in_order_feeds_a_series_without_times(runs, tmp_path):
    t = np.arange(200, 206)
    pd.DataFrame({"x": np.cos(t / 5)}).to_csv(tmp_path / "x.csv", index=False)
    result = trainlab.predict(runs["xy"], 6, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}"],
                              future=tmp_path / "x.csv")  # from Python: the keyword
    rows = pd.read_csv(trainlab.run.folder.RunFolder(runs["xy"]).config().data.source.path)[["x", "y"]].to_numpy()
    np.testing.assert_allclose(result.frame.y.to_numpy(), hand_forecast(runs["xy"], rows, np.cos(t / 5), 6),
                               rtol=1e-5)
    pd.DataFrame({"x": np.cos(t[:4] / 5)}).to_csv(tmp_path / "four.csv", index=False)
    with pytest.raises(UserError, match=re.escape(  # said "4 row(s) of its rows" before
            f"future={tmp_path / 'four.csv'} has 4 row(s) after the data's end; horizon=6 reads the inputs of the "
            "first 5 (data.steps=1 row(s) per forecast: the last window ends 1 row(s) before the last block")):
        predict(runs["xy"], 6, tmp_path, f"future={tmp_path / 'four.csv'}")


def _edit(path: Path, change) -> Path:
    rows = pd.read_csv(path)
    change(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda r: r.drop(columns="promo"),
     r"future=.*plan.csv lacks column\(s\) \['promo'\]; it holds the rows after the data's end: the time column, the "
     r"series column, and every input the model reads besides its targets and calendar, \['promo'\]"),
    (lambda r: r[r.store != "C"], r"future=.*plan.csv has no rows of series C; give the rows after the data's end of "
                                  r"every series forecast"),
    (lambda r: r.groupby("store").tail(4), r"future=.*plan.csv: series A starts at 2023-05-0\d, but the data of A end "
                                           r"at 2023-04-30: its first row is the step after the data's last, "
                                           r"2023-05-01; give the rows from there on"),
    (lambda r: r.drop(index=r.index[(r.store == "B")][1]),
     r"future=.*plan.csv: promo has no value at row 1 of series B, a time step missing from the file \(after "
     r"2023-05-12\), one of the 4 row\(s\) after the data's end that horizon=5 reads; fill it"),
    (lambda r: r.assign(promo=r.promo.where(r.index != 2)),
     r"future=.*plan.csv: promo has no value at 2023-05-03 in series A, one of the 4 row"),
    (lambda r: r.groupby("store").head(3),
     r"future=.*plan.csv has 3 row\(s\) of series A after the data's end; horizon=5 reads the inputs of the first 4 "
     r"\(data.steps=2 row\(s\) per forecast: the last window ends 1 row\(s\) before the last block of data.steps "
     r"rows\); give 4 rows or more, or a shorter horizon"),
    (lambda r: r.assign(promo=r.promo.astype(str).where(r.index != 1, "yes")),
     r"future=.*plan.csv: column 'promo' in '.*plan.csv' is not numeric \(row 1: 'yes'\); give the inputs' values "
     r"after the data's end as numbers, in the units of the run's data"),
])
def test_a_future_file_that_does_not_continue_the_data_is_refused_naming_what(runs, tmp_path, change, message):
    future = _edit(future_of(tmp_path / "plan.csv", 6), change)
    with pytest.raises(UserError, match="^" + message):
        predict(runs["promo"], 5, tmp_path, f"future={future}")


def test_a_future_file_on_another_step_is_refused(runs, tmp_path):
    future = _edit(future_of(tmp_path / "plan.csv", 12), lambda r: r.groupby("store").nth([0, 2, 4, 6, 8]))
    with pytest.raises(UserError, match=r"^future=.*plan.csv: series A steps by 2D, the data by D; give its rows on "
                                        r"the data's step$"):
        predict(runs["promo"], 5, tmp_path, f"future={future}")


def test_a_future_file_the_forecast_does_not_read_is_refused_saying_why(runs, tmp_path):
    future = future_of(tmp_path / "plan.csv", 6)
    with pytest.raises(UserError, match=re.escape(
            f"future={future} is not read: the model's inputs are its targets ['sales'], which predict.py feeds past "
            "the data's end itself; leave it out")):
        predict(runs["stores"], 5, tmp_path, f"future={future}")
    with pytest.raises(UserError, match=re.escape(
            f"future={future} is not read: horizon=2 is forecast from windows of the data alone (data.steps=2, "
            "data.horizon=1: up to 2 row(s) after its end); leave it out, or give a longer horizon")):
        predict(runs["promo"], 2, tmp_path, f"future={future}")


def test_without_the_future_file_the_refusal_names_it(runs, tmp_path):
    with pytest.raises(UserError, match=re.escape(
            "horizon=5: the model predicts data.steps=2 step(s) at once and its inputs hold column(s) ['promo'] "
            "besides its targets ['sales'], whose values after the data's end are unknown; give horizon=2 or less, "
            "their values after the data's end in future=<file> (README: Forecast past the data), or train a run that "
            "predicts 5 at once: data.steps=5")):
        predict(runs["promo"], 5, tmp_path)


@pytest.mark.parametrize("family, message", [
    ("image", "future=f.csv: an image run's predictions are anomaly maps of images=<folder>, with no future; leave it out"),
    ("graph", "future=f.csv: a graph run's predictions are the classes of the stars of catalogue=<file>, with no "
              "future; leave it out"),
])
def test_an_image_or_a_graph_run_refuses_future(family, message):
    from omegaconf import OmegaConf

    from trainlab.prediction.run import _check_family_keys

    cfg = OmegaConf.create({"horizon": None, "history": None, "future": "f.csv", "images": None, "catalogue": None})
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        _check_family_keys(cfg, family)


def test_a_future_file_of_one_or_two_rows_per_series_is_checked_for_where_it_starts(runs, tmp_path):
    """Under three rows a series has no step of its own to read (times.date_grid), and rows that did not start at
    the step after the data's last (the 3rd and 4th day of a plan) were fed as if they did, without a word."""
    future = _edit(future_of(tmp_path / "plan.csv", 6), lambda r: r.groupby("store").nth([2, 3]))
    with pytest.raises(UserError, match=r"^future=.*plan.csv: series A starts at 2023-05-03, but the data of A end at "
                                        r"2023-04-30: its first row is the step after the data's last, 2023-05-01; "
                                        r"give the rows from there on"):
        predict(runs["promo"], 3, tmp_path, f"future={future}")  # data.steps=2: 2 rows read
    future = _edit(future_of(tmp_path / "plan.csv", 6), lambda r: r.groupby("store").nth([0, 2]))
    with pytest.raises(UserError, match=r"^future=.*plan.csv: series A holds 2023-05-01, 2023-05-03, not consecutive "
                                        r"steps of the data's 1 day; give its rows one step apart"):
        predict(runs["promo"], 3, tmp_path, f"future={future}")
    future = _edit(future_of(tmp_path / "plan.csv", 6), lambda r: r.groupby("store").head(2))
    predict(runs["promo"], 3, tmp_path, f"future={future}")  # the two rows after the data's end: taken


@pytest.mark.parametrize("given, said", [("plans", "'{}' is a folder; give the path of one"),
                                         ("plan.csv", "file not found: '{}'")])
def test_a_future_path_that_is_no_file_is_refused_naming_future(tmp_path, given, said):
    """future=<a folder> or a missing file was refused as 'data.source.path: ...', a setting the user had not given
    (predict.py reads the run's data.source.path too, so the line pointed at the wrong file's setting)."""
    from trainlab.prediction.future import reader

    (tmp_path / "plans").mkdir()
    path = tmp_path / given
    with pytest.raises(UserError, match="^" + re.escape("future: " + said.format(path))):
        reader(str(path), object(), ["promo"]).load()


@pytest.mark.parametrize("rows", [3, 4, 5])
def test_a_few_business_days_after_a_business_day_series_are_read_on_its_step(tmp_path, rows):
    """Rows from a Wednesday to a Friday read alone as days (the step 'D'), from a Wednesday to a Monday as days with
    the weekend missing: either file was refused as 'steps by D, the data by B'. On the data's own step (or with a
    weekend among them) they are consecutive business days."""
    from trainlab.data.timeseries.module import TimeSeriesDataModule
    from trainlab.data.timeseries.sources import TableFile
    from trainlab.prediction.future import read_future

    days = pd.bdate_range("2024-01-01", "2024-03-05")  # ends on a Tuesday
    pd.DataFrame({"date": days, "x": np.arange(len(days)) % 3, "y": np.sin(np.arange(len(days)))}).to_csv(
        tmp_path / "trading.csv", index=False)
    after = pd.bdate_range("2024-03-06", periods=rows).strftime("%Y-%m-%d")  # Wednesday, Thursday, Friday, Monday ...
    pd.DataFrame({"date": after, "x": [7.0, 8.0, 9.0, 10.0, 11.0][:rows]}).to_csv(tmp_path / "plan.csv", index=False)
    data = TimeSeriesDataModule(TableFile(str(tmp_path / "trading.csv"), ["y"], time_column="date"), window=8,
                                target_inputs=True, ets_baseline=False)
    assert data.load().frequency == "B"
    (values,) = read_future(str(tmp_path / "plan.csv"), data, 4)
    assert values[:, 0].tolist() == [7.0, 8.0, 9.0]
    gap = pd.bdate_range("2024-03-06", periods=4).strftime("%Y-%m-%d")[[0, 2, 3]]  # Wednesday, Friday, Monday
    pd.DataFrame({"date": gap, "x": [7.0, 9.0, 10.0]}).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(UserError, match=r"^future=.*gap.csv: x has no value at row 1, a time step missing from the "
                                        r"file \(after 2024-03-06\)"):
        read_future(str(tmp_path / "gap.csv"), data, 4)
