"""Categories among a series' inputs (trainlab.data.categories): a column of text, or integer codes named in
data.source.categorical_columns, one 0/1 input per category of the training rows; the encoding kept in the checkpoint
for evaluate.py, predict.py (its future= file too) and a resume. Each was refused before ('is not numeric; make it
numbers in the file (a category: a 0/1 column per value) or leave it out of the inputs') or read as one number."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainlab
from tests.test_prediction import BASE
from trainlab.config.errors import UserError

DAYS = 120


def demand(path: Path, rows: int = DAYS, stores: tuple[str, ...] = ("",), start: str = "2024-01-01") -> Path:
    """Daily demand with a day_type (weekday, weekend; a holiday on two days of the training rows), a store_type
    of codes 1/2/3 and a temperature; several stores in one file when ``stores`` names them."""
    parts = []
    for k, store in enumerate(stores):
        days = pd.date_range(start, periods=rows, freq="D")
        day_type = np.where(days.day_of_week >= 5, "weekend", "weekday").astype(object)
        day_type[[10, 40]] = "holiday"
        t = np.arange(rows)
        part = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "day_type": day_type, "store_type": t % 3 + 1,
                             "temperature": np.sin(t / 9), "demand": 10 + k + 3 * (day_type == "weekend") + np.sin(t)})
        parts.append(part.assign(store=store) if store else part)
    pd.concat(parts).to_csv(path, index=False)
    return path


def data_module(path: Path, **source):
    from trainlab.data.timeseries.module import TimeSeriesDataModule
    from trainlab.data.timeseries.sources import TableFile

    return TimeSeriesDataModule(TableFile(str(path), ["demand"], time_column="date", **source), window=7,
                                ets_baseline=False)


def test_a_text_column_among_the_inputs_is_one_0_1_input_per_category(tmp_path):
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.loc[20, "day_type"] = None  # an empty cell: none of the categories (an event column's other days)
    frame.to_csv(tmp_path / "demand.csv", index=False)
    data = data_module(tmp_path / "demand.csv")
    data.setup("fit")
    assert data.input_names == ["store_type", "temperature", "day_type=holiday", "day_type=weekday",
                                "day_type=weekend", "demand"]
    assert data.num_features == 6 and data.dims["in"] == 6
    one_hot = data.table.features[:, 2:]
    assert set(np.unique(one_hot)) == {0.0, 1.0} and (one_hot.sum(axis=1) == (frame.index != 20)).all()
    np.testing.assert_array_equal(one_hot[:, 2], (frame.day_type == "weekend").to_numpy())
    # 0/1 inputs stay 0 and 1 (a holiday on 2 of 84 training days would be 6.4 standard units), the rest standardised
    assert data.stats["feature_mean"][2:5].tolist() == [0.0] * 3 and data.stats["feature_std"][2:5].tolist() == [1.0] * 3
    assert data.stats["feature_std"][1] != 1.0
    assert data.state_dict()["categories"] == {"day_type": ["holiday", "weekday", "weekend"]}


def test_a_cell_of_spaces_is_empty_not_a_category(tmp_path):
    """It was the category '', an input named 'day_type=' (a VOTable or FITS null in a text column reads back as ''
    too)."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv")).astype({"day_type": object})
    frame.loc[20, "day_type"] = "   "
    frame.to_csv(tmp_path / "demand.csv", index=False)
    data = data_module(tmp_path / "demand.csv")
    data.setup("fit")
    assert data.input_names[2:5] == ["day_type=holiday", "day_type=weekday", "day_type=weekend"]
    assert data.table.features[20, 2:5].tolist() == [0.0, 0.0, 0.0]


def test_categories_come_from_the_training_rows_and_a_later_value_is_none_of_them_said_once(tmp_path, caplog):
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.loc[104:107, "day_type"] = "strike"  # in the test rows only
    frame.loc[[90, 92], "day_type"] = "bridge day"  # in the validation rows only
    frame.to_csv(tmp_path / "demand.csv", index=False)
    data = data_module(tmp_path / "demand.csv")
    with caplog.at_level(logging.WARNING):
        data.setup("fit")
    assert data.encoding == {"day_type": ["holiday", "weekday", "weekend"]}
    assert data.table.features[104:108, 2:].tolist() == [[0.0, 0.0, 0.0]] * 4
    said = [r.getMessage() for r in caplog.records if "never held" in r.getMessage()]
    assert said == ["values of 'demand' that the training rows never held, encoded as none of their column's "
                    "categories (each of its 0/1 inputs 0): day_type 'bridge day', 'strike' (6 row(s), first at "
                    "2024-03-31; its categories: holiday, weekday, weekend)"]


def test_integer_codes_named_as_categories_are_encoded_and_a_text_target_is_classification(tmp_path):
    data = data_module(demand(tmp_path / "demand.csv"), categorical_columns=["store_type"])
    data.setup("fit")
    assert data.input_names[1:] == ["day_type=holiday", "day_type=weekday", "day_type=weekend", "store_type=1",
                                    "store_type=2", "store_type=3", "demand"]
    np.testing.assert_array_equal(data.table.features[:6, 4:7], np.eye(3)[[0, 1, 2, 0, 1, 2]])
    from trainlab.data.timeseries.sources import TableFile

    with pytest.raises(UserError, match=r"column 'day_type' in '.*demand.csv' is not numeric \(2024-01-01: 'weekday'\)"
                                        r"; a forecast of a category is classification, which the time-series family "
                                        r"does not do: give a numeric target"):
        TableFile(str(tmp_path / "demand.csv"), ["day_type"], time_column="date").load()


def test_month_names_are_categories_and_a_column_of_dates_is_refused_keeping_them_in_the_inputs(tmp_path):
    """A month's name alone ('Jan') reads as a date to pandas: it was refused as 'if it is the time, set
    data.source.time_column=month', a column that can be no time (dates without a year are refused)."""
    from trainlab.data.timeseries.sources import TableFile

    days = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "month": days.strftime("%b"),
                          "when": days.strftime("%d/%m/%Y"), "demand": np.arange(60.0)})
    frame.to_csv(tmp_path / "months.csv", index=False)
    table = TableFile(str(tmp_path / "months.csv"), ["demand"], time_column="date", feature_columns=["month"]).load()
    assert set(table.categories["month"]) == {"Jan", "Feb"}
    with pytest.raises(UserError, match=re.escape(
            "column 'when' in '" + str(tmp_path / "months.csv") + "' is not numeric (2024-01-01: '01/01/2024'); if it "
            "is the time, set data.source.time_column=when; else leave it out of the inputs: "
            "'data.source.feature_columns=[month]'")):
        TableFile(str(tmp_path / "months.csv"), ["demand"], time_column="date").load()


@pytest.mark.parametrize("settings, message", [
    ({"categorical_columns": ["store_typ"]}, r"data.source.categorical_columns: \['store_typ'\] not in '.*demand.csv'"
                                              r"; its columns are .*; did you mean .*store_type"),
    ({"categorical_columns": ["demand"]}, r"data.source.categorical_columns names 'demand', a target: a forecast of a "
                                          r"category is classification"),
    ({"categorical_columns": ["date"]}, r"data.source.categorical_columns names 'date', the time column; name input "
                                        r"columns only"),
    ({"categorical_columns": ["store"], "series_column": "store"},
     r"data.source.categorical_columns names 'store', the series column"),
    ({"categorical_columns": ["store_type"], "feature_columns": ["temperature"]},
     r"data.source.categorical_columns names 'store_type', which data.source.feature_columns leaves out of the inputs "
     r"\['temperature'\]; add it there"),
])
def test_a_categorical_column_that_is_no_input_is_refused_in_one_line(tmp_path, settings, message):
    path = demand(tmp_path / "demand.csv", stores=("A", "B"))
    with pytest.raises(UserError, match="^" + message):
        data_module(path, **settings).setup("fit")


def test_an_identifier_or_free_text_among_the_inputs_is_too_many_categories(tmp_path):
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame["note"] = [f"order {k}" for k in range(len(frame))]
    frame.to_csv(tmp_path / "demand.csv", index=False)
    with pytest.raises(UserError, match=re.escape(
            "column 'note' of 'demand' holds 84 distinct values in the training rows ('order 0', 'order 1', "
            "'order 10', ...), more than the 50 a category may have (one 0/1 input each): an identifier or free "
            "text is no category; leave it out of the inputs: "
            "'data.source.feature_columns=[store_type,temperature,day_type]'")):
        data_module(tmp_path / "demand.csv").setup("fit")


def test_the_categories_are_shared_by_the_series_of_a_file_fitted_on_the_training_rows_of_all(tmp_path):
    frame = pd.read_csv(demand(tmp_path / "stores.csv", stores=("A", "B")))
    north = frame.store == "B"
    frame.loc[north, "region"], frame.loc[~north, "region"] = "north", "south"
    frame.loc[DAYS + 5, "day_type"] = "market day"  # only in B's training rows
    frame.to_csv(tmp_path / "stores.csv", index=False)
    data = data_module(tmp_path / "stores.csv", series_column="store")
    data.setup("fit")
    assert data.encoding == {"day_type": ["holiday", "market day", "weekday", "weekend"], "region": ["north", "south"]}
    a, b = data.table.features[:DAYS], data.table.features[DAYS:]
    region = [data.input_names.index("region=north"), data.input_names.index("region=south")]
    assert (a[:, region] == [0, 1]).all() and (b[:, region] == [1, 0]).all()
    assert b[5, data.input_names.index("day_type=market day")] == 1 and a[:, 3].sum() == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[str]]:
    """A tiny run on two stores with their day_type and store_type (declared) categories, and its settings."""
    folder = tmp_path_factory.mktemp("categories")
    path = demand(folder / "stores.csv", stores=("A", "B"))
    settings = [*BASE, f"data.source.path={path}", "data.source.target_columns=[demand]", "data.source.time_column=date",
                "data.source.series_column=store", "data.window=7", "data.source.categorical_columns=[store_type]",
                f"paths.log_dir={folder / 'outputs'}"]
    return trainlab.train(settings).run_dir, settings


@pytest.fixture
def run(trained) -> Path:
    return trained[0]


def test_the_checkpoints_categories_read_a_new_file_in_evaluate(run, tmp_path, capsys):
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder

    saved = load_checkpoint(RunFolder(run).best())["TimeSeriesDataModule"]["categories"]
    assert saved == {"day_type": ["holiday", "weekday", "weekend"], "store_type": ["1", "2", "3"]}
    # a new file without a holiday, with store type 4: read in the run's categories, not its own
    frame = pd.read_csv(demand(tmp_path / "new.csv", stores=("A", "B")))
    frame["day_type"] = frame.day_type.replace("holiday", "weekday")
    frame.loc[frame.index == 3, "store_type"] = 4
    frame.to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    report = trainlab.evaluate(run, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                     f"+data.source.path={tmp_path / 'new.csv'}", "split=all"])
    assert np.isfinite(report.metrics["test/rmse"])
    said = capsys.readouterr().out  # the run's console (its log lines)
    assert "store_type '4' (1 row(s), first at 2024-01-04 in series A; its categories: 1, 2, 3)" in said


def test_a_future_file_is_read_in_the_checkpoints_categories_and_a_new_value_is_said_once(run, tmp_path, capsys):
    """A day type never seen in training: the one line, and the forecast; another category moves it."""
    days = pd.date_range("2024-04-30", periods=3, freq="D").strftime("%Y-%m-%d")
    plan = pd.DataFrame({"store": np.repeat(["A", "B"], 3), "date": np.tile(days, 2),
                         "day_type": ["weekday", "strike", "weekend"] * 2, "store_type": 2, "temperature": 0.5})
    plan.to_csv(tmp_path / "plan.csv", index=False)
    capsys.readouterr()
    result = trainlab.predict(run, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                       f"future={tmp_path / 'plan.csv'}"])
    assert len(result.frame) == 6 and np.isfinite(result.frame.demand).all()
    assert result.details["future_columns"] == ["temperature", "day_type", "store_type"]
    said = capsys.readouterr().out
    assert len(re.findall(r"future=.*plan.csv: column 'day_type' holds 'strike', which the run's training rows never "
                          r"held: encoded as none of its categories \(holiday, weekday, weekend", said)) == 1
    plan.assign(day_type="weekend").to_csv(tmp_path / "weekend.csv", index=False)  # the category reaches the model
    other = trainlab.predict(run, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                      f"future={tmp_path / 'weekend.csv'}"])
    assert (other.frame.step == 3).any() and not np.allclose(other.frame.demand[other.frame.step == 3],
                                                             result.frame.demand[result.frame.step == 3])


def test_a_resume_encodes_in_the_checkpoints_categories_without_fitting_them_anew(trained, monkeypatch):
    from trainlab.data import categories

    def fit(*args, **kwargs):
        raise AssertionError("the categories were fit anew on a resume")

    monkeypatch.setattr(categories, "fit", fit)
    run, settings = trained
    resumed = trainlab.train([*settings, "trainer.max_epochs=2", f"ckpt_path={run}"])
    assert np.isfinite(resumed.metrics["test/rmse"])


def test_a_checkpoint_from_before_categories_reads_none_and_a_text_column_is_refused(tmp_path):
    from trainlab.data.categories import saved

    assert saved({"feature_mean": [0.0]}) == {}  # recorded nothing: it had no category columns
    data = data_module(demand(tmp_path / "demand.csv"))
    data.read_as_saved({"feature_mean": [0.0]})
    with pytest.raises(UserError, match=r"column\(s\) \['day_type'\] of 'demand' hold categories, but the run was "
                                        r"trained without category columns"):
        data.setup("fit")
    # a checkpoint's categories, in its order, whatever the file's training rows hold (a resume takes them so too)
    data = data_module(tmp_path / "demand.csv")
    data.read_as_saved({"categories": {"day_type": ["weekend", "weekday", "strike"]}})
    assert data.input_names[2:5] == ["day_type=weekend", "day_type=weekday", "day_type=strike"]
    # given after the data were read in their own (a module restored without read_as_saved): read again in the saved
    data = data_module(tmp_path / "demand.csv")
    data.setup("fit")
    state = {**data.state_dict(), "categories": {"day_type": ["weekday", "holiday", "weekend"]}}
    data.load_state_dict(state)
    assert data.input_names[2:5] == ["day_type=weekday", "day_type=holiday", "day_type=weekend"]
    assert data.datasets["train"].features.shape[1] == 6


def test_evaluate_and_predict_read_workbooks_as_the_runs_csv(run, tmp_path, capsys):
    """The run's own rows as a workbook's second sheet below a title (evaluate.py: the same data as the checkpoint's,
    no difference said), and predict.py's future= rows in a workbook's sheet (sheet=). Both were refused before: 'a
    spreadsheet's workbook is not read: save its sheet as CSV'."""
    from tests.workbooks import write_xlsx

    frame = pd.read_csv(demand(tmp_path / "stores.csv", stores=("A", "B")))
    frame["date"] = pd.to_datetime(frame.date).dt.date  # date cells
    rows = [list(frame.columns), *map(list, frame.itertuples(index=False))]
    book = write_xlsx(tmp_path / "stores.xlsx", {"About": [["demand of two stores"]],
                                                 "Stores": [["Demand by store"], [], *rows]})
    capsys.readouterr()
    report = trainlab.evaluate(run, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                     f"+data.source.path={book}", "+data.source.sheet=Stores"])
    assert np.isfinite(report.metrics["test/rmse"])
    said = capsys.readouterr().out
    assert "the data differ" not in said and "1 row(s) above the header (row 3) left out" in said
    days = pd.date_range("2024-04-30", periods=3, freq="D").date
    plan = [["store", "date", "day_type", "store_type", "temperature"],
            *([store, day, "weekday", 2, 0.5] for store in ("A", "B") for day in days)]
    future = write_xlsx(tmp_path / "plan.xlsx", {"Notes": [["the plan for May"]], "Plan": plan})
    result = trainlab.predict(run, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}", f"future={future}",
                                       "sheet=Plan"])
    assert len(result.frame) == 6 and np.isfinite(result.frame.demand).all()
    with pytest.raises(UserError, match=r"sheet=Plan picks the sheet of a workbook given as future=<file> or "
                                        r"catalogue=<file>, and neither is given; leave it out"):
        trainlab.predict(run, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}", "sheet=Plan"])


def test_a_new_file_holds_a_saved_category_column_as_categories_however_it_reads(tmp_path, caplog):
    """A saved run's category column in a new file is read in its categories whatever pandas makes of it: left empty
    in every row (a plan without day types), it was dropped as an empty column, and a column of codes that read as
    numbers was taken for a numeric input; either way the run was refused ('trained with the category column(s)
    ['day_type'], which 'demand' holds not as categories')."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(day_type=np.nan).to_csv(tmp_path / "blank.csv", index=False)
    data = data_module(tmp_path / "blank.csv")
    data.read_as_saved({"categories": {"day_type": ["holiday", "weekday", "weekend"]}})
    with caplog.at_level(logging.WARNING, logger="trainlab.data.categories"):
        data.setup("fit")
    assert data.input_names[2:5] == ["day_type=holiday", "day_type=weekday", "day_type=weekend"]
    assert (data.table.features[:, 2:5] == 0).all()
    assert "column(s) ['day_type'] of 'blank' hold no value in any row: none of their categories" in caplog.text
    frame.assign(day_type=np.arange(DAYS) % 2 + 1).to_csv(tmp_path / "codes.csv", index=False)  # 1, 2: numbers
    data = data_module(tmp_path / "codes.csv")
    data.read_as_saved({"categories": {"day_type": ["1", "2", "holiday"]}})
    data.setup("fit")
    assert data.input_names[2:5] == ["day_type=1", "day_type=2", "day_type=holiday"]
    np.testing.assert_array_equal(data.table.features[:4, 2:5], [[1, 0, 0], [0, 1, 0]] * 2)


def test_ordinals_among_the_inputs_are_categories_not_dates(tmp_path):
    """A shift or class written '1st', '2nd', '3rd' reads as a day of this month to pandas' date parser: the column
    was refused as dates ('... set data.source.time_column') where it is a category."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(shift=np.array(["1st", "2nd", "3rd"])[np.arange(DAYS) % 3]).to_csv(tmp_path / "shifts.csv", index=False)
    data = data_module(tmp_path / "shifts.csv")
    data.setup("fit")
    assert data.encoding["shift"] == ["1st", "2nd", "3rd"]


@pytest.mark.parametrize("codes", [["3G", "4G", "5G"], ["4G", "4G+", "5G"], ["2WD", "4WD"], ["1BR", "2BR", "3BR"],
                                   ["4G LTE", "5G"]])
def test_codes_of_a_number_and_letters_are_categories_not_numbers_with_a_unit(tmp_path, caplog, codes):
    """A network's generation '3G', '4G', '5G' was read as the numbers 3, 4, 5 with the unit 'G' (one input); '4G'
    beside '4G+' was refused as numbers 'written in different units ('G', 'G+')'."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(net=np.array(codes)[np.arange(DAYS) % len(codes)]).to_csv(tmp_path / "net.csv", index=False)
    data = data_module(tmp_path / "net.csv")
    with caplog.at_level(logging.INFO):
        data.setup("fit")
    assert data.encoding["net"] == sorted(codes) and "net" not in data.table.feature_names[:2]
    assert f"column 'net' in '{tmp_path / 'net.csv'}' holds codes of a number and letters ({codes[0]!r}" in caplog.text


@pytest.mark.parametrize("amounts,numbers", [(["5kg", "10kg"], [5, 10]), (["8GB", "16GB"], [8, 16]),
                                             (["12kWh", "15kWh"], [12, 15]), (["4 G", "5 G"], [4, 5]),
                                             (["2.5G", "3G"], [2.5, 3]), (["21°C", "22°C"], [21, 22])])
def test_amounts_glued_to_a_unit_stay_numbers(tmp_path, amounts, numbers):
    """Beside the codes: a unit of more than one letter glued on, a space before a letter, decimals: amounts."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(size=np.array(amounts)[np.arange(DAYS) % 2]).to_csv(tmp_path / "size.csv", index=False)
    data = data_module(tmp_path / "size.csv")
    data.setup("fit")
    assert "size" not in data.encoding and data.input_names[2] == "size"
    np.testing.assert_array_equal(data.table.features[:2, 2], numbers)


@pytest.mark.parametrize("amounts,numbers", [(["5s", "10s", "30s"], [5, 10, 30]), (["2h", "4h", "8h"], [2, 4, 8]),
                                             (["250g", "500g", "750g"], [250, 500, 750]), (["3d", "7d", "14d"], [3, 7, 14]),
                                             (["12V", "24V", "48V"], [12, 24, 48])])
def test_few_amounts_glued_to_a_one_letter_unit_are_numbers_not_codes(tmp_path, amounts, numbers):
    """Waits of '5s', '10s', '30s' (and '2h', '250g', '3d', '12V') were read as category codes (one 0/1 input each,
    the codes rule: a whole number with a letter glued on): a letter astropy reads as a unit of a duration, length,
    mass, volume, voltage or power makes them numbers with a unit; '3G', '1A' stay codes (tests above)."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(wait=np.array(amounts)[np.arange(DAYS) % 3]).to_csv(tmp_path / "wait.csv", index=False)
    data = data_module(tmp_path / "wait.csv")
    data.setup("fit")
    assert "wait" not in data.encoding
    np.testing.assert_array_equal(data.table.features[:3, data.input_names.index("wait")], numbers)


def test_many_values_of_a_number_and_a_letter_are_amounts(tmp_path):
    """More distinct values than a category may have ('1s' to '120s'): numbers in a unit, not refused as an
    identifier."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(wait=[f"{i + 1}s" for i in range(DAYS)]).to_csv(tmp_path / "wait.csv", index=False)
    data = data_module(tmp_path / "wait.csv")
    data.setup("fit")
    assert "wait" not in data.encoding and data.table.features[:3, data.input_names.index("wait")].tolist() == [1, 2, 3]


def test_codes_of_a_number_and_a_letter_are_categories_not_numbers_in_several_units(tmp_path):
    """A room or class code '1A', '1B', '2A' was refused as numbers 'written in different units ('A', 'B')'."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(room=np.array(["1A", "1B", "2A"])[np.arange(DAYS) % 3]).to_csv(tmp_path / "rooms.csv", index=False)
    data = data_module(tmp_path / "rooms.csv")
    data.setup("fit")
    assert data.encoding["room"] == ["1A", "1B", "2A"]


@pytest.mark.parametrize("stored", ["pandas", "arrow"])
def test_integer_categories_stored_as_such_in_parquet_are_categories(tmp_path, stored):
    """A Parquet file's store_type of 1/2/3 stored as categories (a pandas Categorical, or an Arrow dictionary
    column) trained as one number: pyarrow gives an integer dictionary back as plain integers. A categorical dtype
    is a category: one 0/1 input per value, without naming it in data.source.categorical_columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(demand(tmp_path / "demand.csv")).drop(columns=["day_type"])
    if stored == "pandas":
        frame.assign(store_type=pd.Categorical(frame.store_type)).to_parquet(tmp_path / "demand.parquet")
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        at = table.schema.get_field_index("store_type")
        pq.write_table(table.set_column(at, "store_type", table["store_type"].dictionary_encode()),
                       tmp_path / "demand.parquet")
    data = data_module(tmp_path / "demand.parquet")
    data.setup("fit")
    assert data.encoding["store_type"] == ["1", "2", "3"]
    assert data.input_names == ["temperature", "store_type=1", "store_type=2", "store_type=3", "demand"]
