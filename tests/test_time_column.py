"""A data file's time column (trainlab.data.timeseries.times): one date format for every row, UTC
offsets honoured, missing steps added as empty rows for ``data.missing``, the season the step implies."""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data import files
from trainlab.data.timeseries.sources import TableFile
from trainlab.data.timeseries.grids import date_grid
from trainlab.run.pipeline import build_data


def load(tmp_path, times, values=None, **kwargs):
    values = np.arange(len(times), dtype=float) if values is None else values
    path = tmp_path / "series.csv"
    pd.DataFrame({"t": times, "y": values}).to_csv(path, index=False)
    return TableFile(str(path), ["y"], time_column="t", **kwargs).load()


@pytest.mark.parametrize("freq,season,step", [
    ("ME", 12, "1 month"), ("MS", 12, "1 month"), ("QS", 4, "1 quarter"), ("W-SUN", 52, "1 week"), ("YS", None, "1 year"),
    ("D", 7, "1 day"), ("B", 5, "1 business day"), ("h", 24, "1 hour"), ("30min", 48, "30 minutes"),
    ("15min", 96, "15 minutes"), ("6h", 4, "6 hours"), ("min", 1440, "1 minute"), ("30s", None, "30 seconds"),
    ("2D", None, "2 days"), ("7h", None, "7 hours")])
def test_the_season_follows_the_step(freq, season, step):
    # a day for steps of minutes or hours that divide it, a week for days, a year for weeks, months, quarters
    grid = date_grid(pd.Series(pd.date_range("2000-01-31", periods=30, freq=freq)))
    assert grid.season_length == season and list(grid.positions) == list(range(30))
    assert grid.step == step  # 15 minutes was '0 days 00:15:00'
    assert grid.frequency == {"ME": "MS", "QS": "3MS", "W-SUN": "7D", "YS": "12MS"}.get(freq, freq)  # for the hint


def test_day_first_dates_are_read_day_first_for_every_row(tmp_path):
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    table = load(tmp_path, days.strftime("%d/%m/%Y"))  # 02/01/2021 is 2 January here, as 13/01/2021 shows
    assert table.targets[:, 0].tolist() == list(range(60))
    dotted = load(tmp_path, days.strftime("%d.%m.%Y")[::-1], np.arange(60.0)[::-1])  # unsorted as well
    assert dotted.targets[:, 0].tolist() == list(range(60))


def test_dates_that_read_both_ways_are_refused_until_the_format_is_given(tmp_path):
    firsts = pd.date_range("2021-01-01", periods=12, freq="MS").strftime("%d/%m/%Y")  # 01/02/2021 ...
    with pytest.raises(UserError, match=r"dates such as '01/02/2021' read month-first and day-first give two "
                                        r"different series; set data.source.time_format='%d/%m/%Y' or '%m/%d/%Y'"):
        load(tmp_path, firsts)
    table = load(tmp_path, firsts, time_format="%d/%m/%Y")
    assert table.targets[:, 0].tolist() == list(range(12)) and table.season_length == 12
    with pytest.raises(UserError, match=r"row 3 \('x'\) does not match data.source.time_format='%d/%m/%Y'"):
        load(tmp_path, [*firsts[:3], "x", *firsts[4:]], time_format="%d/%m/%Y")
    with pytest.raises(UserError, match="time_format='%d/%m/%Y' is set but data.source.time_column is null"):
        TableFile("x.csv", ["y"], time_format="%d/%m/%Y")


@pytest.mark.parametrize("written", ["%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M GMT", "%Y-%m-%dT%H:%M:%S utc"])
def test_times_in_utc_written_with_the_word_read_as_with_its_z(tmp_path, written):
    """'2024-03-01 21:00:00 UTC' (a database's or a log's export) was refused: 'dates such as ... read month-first
    and day-first give two different series' (read day-first as 3 January); it reads as '2024-03-01T21:00:00Z'."""
    hours = pd.date_range("2024-01-01 21:00", periods=60, freq="h")
    table = load(tmp_path, hours.strftime(written))
    assert table.frequency == "h" and list(table.times[0].times) == list(hours.to_numpy())
    assert table.targets[:, 0].tolist() == list(range(60))


@pytest.mark.parametrize("written", ["%Y-%m-%d UTC", "%Y-%m-%d GMT", "%Y%m%d utc", "%Y-%m-%dUTC"])
def test_dates_alone_in_utc_written_with_the_word_read_as_those_days(tmp_path, written):
    """'2024-03-01 UTC' (a date alone with the word) was refused as 'neither numbers nor dates' while
    '2024-03-01 21:00:00 UTC' read: pandas reads no Z after a date alone; it reads as midnight UTC of that day."""
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    table = load(tmp_path, days.strftime(written))
    assert table.frequency == "D" and list(table.times[0].times) == list(days.to_numpy())
    assert table.targets[:, 0].tolist() == list(range(60))


def test_times_across_a_daylight_saving_change_stay_in_order(tmp_path):
    hours = pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin")  # clocks go forward on the 28th
    table = load(tmp_path, hours.astype(str))
    assert table.targets[:, 0].tolist() == list(range(72))  # one hour apart in UTC: no gap, no refusal


def test_missing_time_steps_become_empty_rows(tmp_path, caplog):
    days = pd.date_range("2021-01-01", periods=100, freq="D")
    keep = np.setdiff1d(np.arange(100), [40, 41, 42, 43, 44, 70])
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.times"):
        table = load(tmp_path, days[keep].strftime("%Y-%m-%d"), keep.astype(float))
    assert len(table.targets) == 100 and np.isnan(table.targets[[40, 44, 70], 0]).all()
    assert np.array_equal(table.targets[keep, 0], keep)
    assert "6 missing time step(s) (step 1 day) in 2 gap(s), first after '2021-02-09'" in caplog.text
    months = pd.date_range("2000-01-01", periods=48, freq="MS")
    monthly = load(tmp_path, months.delete([5, 6, 30]).strftime("%Y-%m"))
    assert len(monthly.targets) == 48 and monthly.season_length == 12  # the season survives the gaps
    years = load(tmp_path, np.delete(np.arange(1900, 1950), [10, 11]))  # numbers: a missing year too
    assert len(years.targets) == 50 and np.isnan(years.targets[10:12, 0]).all()


def test_a_row_missing_from_the_file_meets_the_missing_policy(tmp_path, compose_cfg):
    days = pd.date_range("2021-01-01", periods=400, freq="D").delete([200])
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "y": np.sin(np.arange(399) / 5)}).to_csv(path, index=False)
    source = [f"data.source.path={path}", "data.source.target_columns=[y]", "data.source.time_column=date",
              "data.window=12", "data.ets_baseline=false", "data.season_length=7"]
    refused = build_data(compose_cfg(["data=file", *source, "data.missing=refuse"]))
    with pytest.raises(UserError, match=r"1 row\(s\) with missing values in \['y'\] \(first at row 200, a time step missing from the "
                                                  r"file \(after 2021-07-19\)\)"):
        refused.setup("fit")
    filled = build_data(compose_cfg(["data=file", *source]))  # interpolate, the default
    filled.setup("fit")
    assert len(filled.load().targets) == 400


def test_business_days_have_no_weekend_gaps(tmp_path):
    trading = pd.bdate_range("2021-01-04", periods=60)
    assert len(load(tmp_path, trading.strftime("%Y-%m-%d")).targets) == 60  # weekends are not missing
    holiday = load(tmp_path, trading.delete(20).strftime("%Y-%m-%d"))
    assert len(holiday.targets) == 60 and np.isnan(holiday.targets[20, 0])  # a missing trading day is


def test_a_short_series_of_weekdays_among_business_day_ones_steps_by_business_days(tmp_path, caplog):
    """A share listed four days (Monday to Thursday) read as days beside the others' business days: the file's
    series stepped differently (B, D), and no season length or frequency was taken from them."""
    path = tmp_path / "shares.csv"
    pd.concat([pd.DataFrame({"s": "A", "d": pd.bdate_range("2020-01-01", periods=40).strftime("%Y-%m-%d"),
                             "y": np.arange(40.0)}),
               pd.DataFrame({"s": "B", "d": pd.bdate_range("2020-02-17", periods=4).strftime("%Y-%m-%d"),
                             "y": np.arange(4.0)})]).to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.sources"):
        table = TableFile(str(path), ["y"], time_column="d", series_column="s").load()
    assert (table.frequency, table.season_length) == ("B", 5)
    assert "step 1 business day, 2 series of 4 to 40 steps" in caplog.text


@pytest.mark.parametrize("freq, step", [("BME", "1 business month (last business day of each)"),
                                        ("BMS", "1 business month (first business day of each)"),
                                        ("BQE", "1 business quarter (last business day of each)"),
                                        ("ME", "1 month"), ("QS", "1 quarter")])
def test_business_months_are_said_as_such(freq, step):
    """Each month's last business day was said to step by '1 month', as month ends or firsts are."""
    grid = date_grid(pd.Series(pd.date_range("2020-01-01", periods=24, freq=freq)))
    assert grid.step == step and grid.season_length == {"BQE": 4, "QS": 4}.get(freq, 12)


def test_irregular_or_mostly_missing_times_keep_the_rows_as_they_are(tmp_path, caplog):
    rng = np.random.default_rng(0)
    events = np.cumsum(rng.uniform(0.5, 3.0, 50))
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.times"):
        assert len(load(tmp_path, events).targets) == 50
        assert "no regular step between its times" in caplog.text
        sparse = load(tmp_path, [0, 1, 2, 3, 1000])  # a grid of 1,001 steps for 5 rows: not one series with gaps
    assert len(sparse.targets) == 5 and "rows are taken as consecutive steps instead" in caplog.text


def test_a_date_column_not_named_as_the_time_column_is_pointed_out(tmp_path):
    path = tmp_path / "series.csv"
    pd.DataFrame({"date": pd.date_range("2021-01-01", periods=30).strftime("%Y-%m-%d"), "y": np.arange(30.0)}
                 ).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'date' in .* is not numeric \(row 0: '2021-01-01'\); if it is the "
                                        r"time, set data.source.time_column=date; else leave it out of the inputs: "
                                        r"'data.source.feature_columns=\[\]'$"):
        TableFile(str(path), ["y"]).load()


def test_the_fix_for_a_date_column_with_a_space_in_its_name_pastes_as_one_word(tmp_path):
    """pandas' to_csv() with the dates as index writes a header without their name: the column reads as
    'Unnamed: 0', and 'set data.source.time_column=Unnamed: 0' pasted into a shell was two words."""
    path = tmp_path / "indexed.csv"
    pd.DataFrame({"y": np.arange(30.0)}, index=pd.date_range("2021-01-01", periods=30)).to_csv(path)
    with pytest.raises(UserError) as refused:
        TableFile(str(path), ["y"]).load()
    fix = re.search(r"if it is the time, set (.*); else", str(refused.value)).group(1)
    assert shlex.split(fix) == ["data.source.time_column=Unnamed: 0"]
    assert len(TableFile(str(path), ["y"], time_column="Unnamed: 0").load().targets) == 30


@pytest.mark.parametrize("name,fix", [("sales.numbers", "export it as .xlsx"), ("export.txt", "reads once named .csv")])
def test_an_apple_numbers_file_or_a_text_export_gets_what_to_save_it_as(tmp_path, name, fix):
    """An Apple Numbers file or a .txt export (Excel's 'Text (Tab delimited)') was refused with the list of formats
    alone (workbooks are read: tests/test_workbooks.py)."""
    path = tmp_path / name
    path.write_text("date\ty\n2021-01-01\t1\n")
    with pytest.raises(UserError, match=rf"has suffix '{Path(name).suffix.lower()}'; readable files are .*; .*{fix}"):
        files.read_frame(str(path), "data.source.path")


def test_semicolons_decimal_commas_and_compressed_files_are_read(tmp_path):
    days = pd.date_range("2021-01-01", periods=30).strftime("%d.%m.%Y")
    values = np.arange(30) + 0.25
    european = tmp_path / "series.csv"
    european.write_text("Datum;Verbrauch (kWh)\n" + "".join(f"{d};{str(v).replace('.', ',')}\n" for d, v in zip(days, values)))
    table = TableFile(str(european), ["Verbrauch (kWh)"], time_column="Datum").load()
    assert np.allclose(table.targets[:, 0], values)
    packed = tmp_path / "series.csv.gz"
    pd.DataFrame({"t": np.arange(30), "y": values}).to_csv(packed, index=False)
    packed_table = TableFile(str(packed), ["y"], time_column="t").load()
    assert np.allclose(packed_table.targets[:, 0], values)
    assert packed_table.name == "series"  # its log lines and plots said 'series.csv' (Path.stem of series.csv.gz)
    tabbed = tmp_path / "series.tsv"
    pd.DataFrame({"t": np.arange(30), "y": values, "y2": values}).to_csv(tabbed, index=False, sep="\t")
    with pytest.raises(UserError, match=r"names the column\(s\) \['y'\] more than once"):
        tabbed.write_text(tabbed.read_text().replace("y2", "y"))
        TableFile(str(tabbed), ["y"], time_column="t").load()


def test_a_written_index_and_empty_rows_below_the_data_are_left_out(tmp_path):
    path = tmp_path / "series.csv"
    pd.DataFrame({"x": np.linspace(0, 1, 30), "y": np.arange(30.0)}).to_csv(path)  # the index written along
    path.write_text(path.read_text() + ",,\n,,\n")  # a spreadsheet's empty rows
    table = TableFile(str(path), ["y"]).load()
    assert table.feature_names == ["x"] and len(table.targets) == 30


# -- evaluate.py on a data file that moved ---------------------------------------------------------
def test_evaluate_reads_a_moved_data_file_and_refuses_keys_it_would_not_use(compose_cfg, run_train, tmp_path):
    import shutil

    import evaluate as evaluate_script
    from trainlab.config.checks import EVAL_KEYS

    assert set(compose_cfg([], config_name="eval")) - {"hydra"} | {"data"} == set(EVAL_KEYS)  # conf/eval.yaml's keys
    path = tmp_path / "series.csv"
    pd.DataFrame({"y": np.sin(np.arange(300) / 4)}).to_csv(path, index=False)
    train_cfg = compose_cfg(["data=file", f"data.source.path={path}", "data.source.target_columns=[y]", "data.window=8",
                             "data.ets_baseline=false", "trainer.max_epochs=1", "model.net.hidden_size=8"])
    trained = run_train(train_cfg)
    moved = shutil.move(str(path), tmp_path / "moved.csv")
    run = f"ckpt_path={train_cfg.paths.output_dir}"
    with pytest.raises(UserError, match="file not found"):
        evaluate_script.evaluate(compose_cfg([run], config_name="eval"))
    report = evaluate_script.evaluate(compose_cfg([run, f"+data.source.path={moved}"], config_name="eval"))
    assert report["metrics"]["test/rmse"] == pytest.approx(trained["test/rmse"], rel=1e-5)
    with pytest.raises(UserError, match=r"\+data.source.paht: the run's data config has no such key"):
        evaluate_script.evaluate(compose_cfg([run, f"+data.source.paht={moved}"], config_name="eval"))
    with pytest.raises(UserError, match=r"evaluate.py does not use model; its keys are task_name, ckpt_path"):
        evaluate_script.evaluate(compose_cfg([run, "+model.net.hidden_size=4"], config_name="eval"))


@pytest.mark.parametrize("given, expected", [
    # a run on built-in data was told "... can change what it has (e.g. +data.source.path=<file> for a data file
    # that moved)", the very override it had refused
    ({"source": {"path": "my.csv"}}, "+data.source.path: the run's data config has no such key: its data come from "
                                     "ElNinoSST, which reads no file, so there is no file to replace; evaluate.py "
                                     "reads another file for a run trained on one (data=file, "),
    ({"source": {"nmae": "x"}}, "+data.source.nmae: the run's data config has no such key; did you mean "
                                "+data.source.name?"),
    ({"sourc": {"path": "x"}}, "+data.sourc.path: the run's data config has no such key; did you mean +data.source?"),
    ({"source": {"zzz": 1}}, "+data.source.zzz: the run's data config has no such key; it has +data.source.name"),
    # a source of the user's own reads its file by another key: it was said to read no file
    ({"source": {"path": "x"}, "own": True}, "+data.source.path: the run's data config has no such key; it has "
                                             "+data.source.csv_file"),
])
def test_a_key_the_runs_data_lacks_is_refused_with_what_it_has(given, expected):
    from omegaconf import OmegaConf

    from trainlab.config.checks import override_run_data

    given = dict(given)
    source = ({"_target_": "mypkg.readers.MyReader", "csv_file": "a.csv"} if given.pop("own", False)
              else {"_target_": "trainlab.data.timeseries.packaged.ElNinoSST", "name": "elnino"})
    run = OmegaConf.create({"data": {"source": source, "window": 24}})
    with pytest.raises(UserError) as refused:
        override_run_data(run, OmegaConf.create(given))
    assert str(refused.value).startswith(expected), str(refused.value)


def test_decimal_commas_in_a_comma_file_and_a_target_named_twice_are_explained(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("t,y\n" + "".join(f'{i},"{i},5"\n' for i in range(30)))
    with pytest.raises(UserError, match=r"column 'y' .* not numeric \(time 0: '0,5'\); its numbers have decimal commas"):
        TableFile(str(path), ["y"], time_column="t").load()
    with pytest.raises(UserError, match=r"target_columns names \['y'\] more than once"):
        TableFile(str(path), ["y", "y"])


@pytest.mark.parametrize("freq,written,step", [("W-SAT", "%Y-%m-%d", "step 1 week from '2001-01-06' to '2001-12-29', "
                                                "season length 52"),
                                               ("QS", "%YQ%q", "step 1 quarter from '2001Q1' to '2025Q4', season length 4"),
                                               ("YS", "%Y", "step 1 year from '2001' to '2100', no season length")])
def test_the_step_and_season_read_from_the_time_column_are_logged(tmp_path, caplog, freq, written, step):
    times = pd.Series(pd.date_range("2001-01-01", periods=100, freq=freq)).iloc[:52 if freq == "W-SAT" else 100]
    text = [f"{t.year}Q{t.quarter}" for t in times] if freq == "QS" else times.dt.strftime(written)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.sources"):
        load(tmp_path, list(text)[::-1])  # unsorted: the span is the sorted one
    assert f"data.source.time_column 't': {step}" in caplog.text


def test_a_date_in_year_and_quarter_or_month_columns_is_read_as_one_date(tmp_path, compose_cfg):
    quarters = pd.DataFrame({"year": np.repeat(np.arange(1990.0, 2015.0), 4), "quarter": np.tile([1.0, 2, 3, 4], 25),
                             "gdp": np.arange(100.0)}).iloc[::-1]  # statsmodels' macrodata layout, unsorted
    path = tmp_path / "macro.csv"
    quarters.drop(index=[5]).to_csv(path, index=False)  # 1991 Q2 absent: a missing step
    with pytest.raises(UserError, match=r"has 74 duplicated time\(s\) \(first '2014.0'\); column 'quarter' holds the "
                                        r"quarter of each year: set data.source.time_column=\[year,quarter\]"):
        TableFile(str(path), ["gdp"], time_column="year").load()  # not "several series told apart by quarter"
    table = TableFile(str(path), ["gdp"], time_column=["year", "quarter"]).load()
    assert table.season_length == 4 and table.feature_names == [] and len(table.targets) == 100
    assert np.isnan(table.targets[5, 0]) and table.targets[[4, 6, 99], 0].tolist() == [4, 6, 99]
    months = pd.DataFrame({"Year": [2020] * 12 + [2021] * 12, "Month": ["Jan", "February", *range(3, 13)] * 2,
                           "y": np.arange(24.0)})
    months.to_csv(path, index=False)
    cfg = compose_cfg(["data=file", f"data.source.path={path}", "data.source.target_columns=[y]",
                       "data.source.time_column=[Year,Month]"])  # as the command line gives it
    assert build_data(cfg).load().season_length == 12  # the source's (too short a series to use it)
    months.assign(Month=[*range(1, 12), 13] * 2).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'Month' row 11 holds '13', not a whole number from 1 to 12"):
        TableFile(str(path), ["y"], time_column=["Year", "Month"]).load()
    with pytest.raises(UserError, match=r"\['Year', 'Month', 'day'\]: \['day'\] not in"):
        TableFile(str(path), ["y"], time_column=["Year", "Month", "day"]).load()


def test_a_year_by_month_table_is_refused_unless_read_as_one_series(tmp_path, caplog):
    path = tmp_path / "elnino.csv"
    sst = np.arange(36.0).reshape(3, 12)  # 2001-2003, January to December
    wide = pd.DataFrame(sst, columns=["Jan", "Feb", "Mar", "Apr", "May", "June", "July", "Aug", "Sept", "Oct", "Nov",
                                      "Dec"]).assign(YEAR=[2003.0, 2001.0, 2002.0], ANNUAL=sst.mean(axis=1))
    wide.iloc[0, 11] = np.nan  # December 2003 not measured yet
    wide.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"a row per year and a column per month \(Jan .. Dec\), which would read as 12 "
                                        r"feature columns; set data.source.layout=wide data.source.time_column=YEAR"):
        TableFile(str(path), ["Dec"], time_column="YEAR").load()
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["sst"], time_column="YEAR", layout="wide").load()
    assert table.feature_names == [] and table.target_names == ["sst"] and table.season_length == 12
    expected = np.concatenate([sst[1], sst[2], sst[0]])[:-1]  # sorted by year, months in calendar order; no Dec 2003
    np.testing.assert_array_equal(table.targets[:, 0], expected)
    assert "column(s) ['ANNUAL'] of" in caplog.text and "step 1 month from '2001-01-01' to '2003-11-01'" in caplog.text
    assert TableFile(str(path), ["Dec"], time_column="YEAR", layout="long").load().feature_names[-1] == "ANNUAL"
    quarters = pd.DataFrame({"year": [2001, 2002, 2003], "Q1": 1.0, "Q2": 2.0, "Q3": 3.0, "Q4": 4.0})
    quarters.to_csv(path, index=False)
    assert TableFile(str(path), ["gdp"], time_column="year", layout="wide").load().season_length == 4
    with pytest.raises(UserError, match="layout=wide reads .* as one value: give one name for it"):
        TableFile(str(path), ["gdp", "cpi"], time_column="year", layout="wide")


@pytest.mark.parametrize("sep,written", [(",", ['"1,120"', "963", '"1,234.5"', ""]),  # Nile flow as Excel exports it
                                         (";", ["1.120", "963", "1.234,5", ""]),
                                         (";", ["1\u00a0120", "963", "1 234,5", ""]),
                                         (",", ["1'120", "963", "1'234.5", ""])])
def test_numbers_with_thousands_separators_are_read_as_numbers(tmp_path, caplog, sep, written):
    path = tmp_path / "nile.csv"
    path.write_text(f"year{sep}volume\n" + "".join(f"{1871 + i}{sep}{v}\n" for i, v in enumerate(written)),
                    encoding="utf-8")
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["volume"], time_column="year").load()
    np.testing.assert_array_equal(table.targets[:, 0], [1120, 963, 1234.5])  # the empty last row left out
    assert "column 'volume' in" in caplog.text and "writes its numbers with thousands separators" in caplog.text
    assert "e.g. '1" in caplog.text and "120' as 1120" in caplog.text
    path.write_text('year,volume\n1871,"1,12"\n1872,"1,120"\n')  # 1.12 and 1.120 with decimal commas: not groups
    with pytest.raises(UserError, match="is not numeric .* its numbers have decimal commas inside a comma-separated"):
        TableFile(str(path), ["volume"], time_column="year").load()


def test_numbers_that_are_dates_are_read_as_dates(tmp_path, caplog):
    weeks = pd.Series(pd.date_range("1958-03-29", periods=60, freq="7D"))  # CO2's first weeks: before 1970
    seconds = weeks.astype("datetime64[s]").astype("int64").to_numpy()  # -371174400 ...
    with caplog.at_level(logging.INFO):
        table = load(tmp_path, seconds[::-1])
    assert table.season_length == 52 and table.targets[:, 0].tolist() == list(range(59, -1, -1))
    assert "numbers read as Unix time in seconds" in caplog.text
    assert load(tmp_path, seconds * 1000).season_length == 52  # milliseconds
    days = pd.date_range("2001-01-25", periods=30, freq="D").strftime("%Y%m%d").astype(int)  # 20010131 -> 20010201
    table = load(tmp_path, np.delete(days.to_numpy(), 10))
    assert len(table.targets) == 30 and np.isnan(table.targets[10, 0])  # one day missing, not 70 "steps" apart
    months = pd.date_range("2001-01-01", periods=24, freq="MS").strftime("%Y%m").astype(int)
    assert load(tmp_path, months).season_length == 12
    years = load(tmp_path, np.arange(1700, 1760))  # years stay numbers, stepping by a year
    assert years.season_length is None and years.frequency == "12MS"
    assert load(tmp_path, np.arange(60) * 5).targets[:, 0].tolist() == list(range(60))  # a step count too
    hours = (np.arange(48) * 3600 + 1_600_000_000).astype(float)
    assert load(tmp_path, hours, time_format="unix").frequency == "h"
    # time_format=number: numbers past 1e8 on a step of whole minutes (a counter) stay numbers, and the log says so
    caplog.clear()
    with caplog.at_level(logging.INFO):
        guessed = load(tmp_path, hours)
        kept = load(tmp_path, hours, time_format="number")
    assert guessed.frequency == "h" and kept.frequency is None and kept.targets[:, 0].tolist() == list(range(48))
    assert "numbers read as Unix time in seconds (2020-09-13 12:26:40 to 2020-09-15 11:26:40); " \
           "data.source.time_format=number keeps them as numbers" in caplog.text
    assert "numbers kept as numbers (data.source.time_format=number)" in caplog.text
    with pytest.raises(UserError, match=r"data.source.time_format=number keeps a column of numbers as numbers, but "
                                        r".* holds text \(row 0: '2001-01-25'\); drop the format"):
        load(tmp_path, pd.date_range("2001-01-25", periods=30, freq="D").strftime("%Y-%m-%d"), time_format="number")
    with pytest.raises(UserError, match=r"row 0 \('101'\) does not match data.source.time_format='%Y%m%d'"):
        load(tmp_path, np.arange(101, 131), time_format="%Y%m%d")  # no longer ignored on a column of numbers


def test_spaces_around_header_names_are_left_out(tmp_path, caplog):
    path = tmp_path / "co2.csv"
    rows = "".join(f"1958-{m:02d}-01,{315 + m / 10},{m}\n" for m in range(1, 13))
    path.write_text("Date , CO2 (ppm), n\n" + rows + "\n", encoding="utf-8-sig")  # a BOM, a blank last line
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["CO2 (ppm)"], time_column="Date").load()
    assert table.target_names == ["CO2 (ppm)"] and table.feature_names == ["n"] and table.season_length == 12
    assert "spaces around the column name(s) ['Date ', ' CO2 (ppm)', ' n'] left out" in caplog.text
    as_written = TableFile(str(path), [" CO2 (ppm)"], time_column="Date ").load()  # named as the file has them
    assert as_written.targets.shape == (12, 1)


def test_rows_before_the_first_and_after_the_last_target_value_are_left_out(tmp_path, caplog):
    volume = np.arange(100.0)
    volume[:5] = volume[95:] = np.nan  # not measured yet, no longer measured
    volume[50] = np.nan  # a gap inside stays, for data.missing
    with caplog.at_level(logging.INFO):
        table = load(tmp_path, np.arange(1871, 1971)[::-1], volume[::-1])
    assert len(table.targets) == 90 and table.targets[0, 0] == 5 and table.targets[-1, 0] == 94
    assert np.isnan(table.targets[45, 0])
    assert "5 row(s) before the first target value and 5 after the last left out" in caplog.text
    assert "step 1 year from '1876' to '1965'" in caplog.text  # the span kept
    with pytest.raises(UserError, match=r"target_columns \['y'\] of .* have no value in any row"):
        load(tmp_path, np.arange(10), np.full(10, np.nan))


@pytest.mark.parametrize("times, what", [
    (np.arange(1871, 1971), r"holds years \(1871 to 1970\), which have no clock time of day"),  # the Nile's years
    (np.arange(100), "holds numbers, not dates, which have no clock time of day"),  # steps 0, 1, 2 ...
])
def test_a_time_zone_for_years_or_numbers_is_refused_saying_they_have_no_clock(tmp_path, times, what):
    """Refused before as 'times with UTC offsets (or Unix time)', which years are not."""
    with pytest.raises(UserError, match=f"{what}, so data.source.time_zone=UTC does not apply to them; drop "
                                        "data.source.time_zone$"):
        load(tmp_path, times, time_zone="UTC")
    load(tmp_path, pd.date_range("2021-01-01", periods=100, freq="D").strftime("%Y-%m-%d"), time_zone="UTC")


def test_local_clock_times_across_daylight_saving_are_read_in_their_zone(tmp_path, caplog):
    def clock(start):  # a meter's hourly export: local clock times, no offsets
        hours = pd.date_range(start, periods=72, freq="h", tz="Europe/Berlin")
        return list(hours.strftime("%Y-%m-%d %H:%M"))

    spring, autumn = clock("2021-03-27"), clock("2021-10-30")  # 02:00 skipped on 28 March, repeated on 31 October
    with caplog.at_level(logging.INFO):
        skipped = load(tmp_path, spring)
    assert len(skipped.targets) == 73 and "daylight-saving change: set data.source.time_zone=" in caplog.text
    with pytest.raises(UserError, match=r"1 duplicated time\(s\) \(first '2021-10-31 02:00'\); these look like local "
                                        r"clock times across a daylight-saving change: set data.source.time_zone="):
        load(tmp_path, autumn)
    for times in (spring, autumn):
        table = load(tmp_path, times, time_zone="Europe/Berlin")
        assert table.targets[:, 0].tolist() == list(range(72)) and table.frequency == "h"  # no gap, no duplicate
    with pytest.raises(UserError, match="holds times with UTC offsets .* drop data.source.time_zone"):
        load(tmp_path, list(pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin").astype(str)),
             time_zone="Europe/Berlin")
    with pytest.raises(UserError, match="data.source.time_zone='Berlin' is not a time zone name"):
        TableFile("x.csv", ["y"], time_column="t", time_zone="Berlin")
    daily_gaps = pd.date_range("2021-03-01", periods=40, freq="D").delete([6, 13])  # Sundays, but days apart
    caplog.clear()
    with caplog.at_level(logging.INFO):
        load(tmp_path, list(daily_gaps.strftime("%Y-%m-%d")))
    assert "missing time step" in caplog.text and "daylight" not in caplog.text
    assert load(tmp_path, list(daily_gaps.strftime("%Y-%m-%d")), time_zone="Europe/Berlin").frequency == "D"


def test_days_and_weeks_written_with_offsets_step_by_their_local_calendar(tmp_path):
    days = pd.date_range("2021-01-01", periods=200, freq="D", tz="Europe/Berlin")  # +01:00, then +02:00 from 28 March
    table = load(tmp_path, list(days.astype(str))[::-1])
    assert table.frequency == "D" and table.targets[:, 0].tolist() == list(range(199, -1, -1))  # was: no regular step
    weeks = pd.date_range("1958-03-29", periods=120, freq="7D", tz="America/New_York")  # CO2's weeks, tz-aware
    path = tmp_path / "co2.parquet"
    pd.DataFrame({"y": np.arange(120.0)}, index=pd.Index(weeks, name="date")).to_parquet(path)
    table = TableFile(str(path), ["y"], time_column="date").load()
    assert table.season_length == 52 and table.targets[:, 0].tolist() == list(range(120))
    hours = pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin")
    assert load(tmp_path, list(hours.astype(str))).frequency == "h"  # hours stay compared in UTC


def test_columns_named_as_the_time_are_not_taken_as_features_without_a_word(tmp_path, caplog):
    path = tmp_path / "macro.csv"
    pd.DataFrame({"year": np.repeat([2001, 2002], 4), "quarter": [1, 2, 3, 4] * 2, "gdp": np.arange(8.0),
                  "cpi": np.arange(8.0)}).to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        table = TableFile(str(path), ["gdp"]).load()
    assert table.feature_names == ["year", "quarter", "cpi"]  # as before: a choice the user may mean
    assert ("column(s) ['year', 'quarter'] of" in caplog.text and "look like the time but are taken as features"
            in caplog.text and "data.source.time_column=[year,quarter] (the date in parts)" in caplog.text)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        TableFile(str(path), ["gdp"], feature_columns=["year", "cpi"]).load()  # chosen: no warning
        TableFile(str(path), ["gdp"], time_column=["year", "quarter"]).load()
    assert "look like the time" not in caplog.text


def test_a_row_exported_twice_is_left_out_and_conflicting_rows_are_refused(tmp_path, caplog):
    years = list(range(1700, 1760))
    values = np.arange(60.0)
    with caplog.at_level(logging.INFO):
        table = load(tmp_path, [*years, 1730], np.append(values, 30.0))  # the same row appended again
    assert table.targets[:, 0].tolist() == values.tolist()
    assert "1 row(s) repeat an earlier row exactly (first '1730'); left out" in caplog.text
    with pytest.raises(UserError, match=r"1 duplicated time\(s\) \(first '1730'\); keep one row per time step"):
        load(tmp_path, [*years, 1730], np.append(values, 31.0))  # two different values for 1730: which one?


def test_a_year_pieced_from_months_of_different_years_keeps_its_file_order(tmp_path, caplog):
    stretches = [pd.date_range(start, periods=100, freq="h") for start in ("1988-01-01", "1977-02-01", "1996-03-01")]
    times = [t for stretch in stretches for t in stretch.strftime("%Y-%m-%d %H:%M")]  # a TMY3 file's hours
    with caplog.at_level(logging.WARNING):
        table = load(tmp_path, times)
    assert table.targets[:, 0].tolist() == list(range(300)) and table.frequency == "h"  # sorting would put Feb first
    assert "for 2 jump(s) between stretches of different periods (first '1988-01-05 03:00' -> '1977-02-01 00:00'" \
        in caplog.text
    shuffled = np.random.default_rng(0).permutation(300)
    assert load(tmp_path, [times[i] for i in shuffled], shuffled.astype(float)).targets[:, 0].tolist() == \
        sorted(shuffled.tolist(), key=lambda i: times[i])  # any other unsorted file is sorted, as before


def test_a_table_with_a_column_per_year_and_a_row_per_series_is_read_as_series(tmp_path, compose_cfg):
    path = tmp_path / "fertility.csv"  # the World Bank's layout, as statsmodels' fertility data set has it
    rates = np.arange(40.0).reshape(2, 20)
    frame = pd.DataFrame(rates, columns=[str(y) for y in range(1990, 2010)])
    frame.insert(0, "Country Name", ["Japan", "Germany"])
    frame.insert(1, "Indicator Code", ["SP.DYN.TFRT.IN"] * 2)
    frame["2010"] = np.nan  # not published yet
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"a row per series and a column per year \(1990 .. 2010\), which would read "
                                        r"as 21 feature columns; set data.source.layout=wide data.source.series_column='Country Name'"):
        TableFile(str(path), ["2009"]).load()
    with pytest.raises(UserError, match=r"data.source.series_column='Country Name' \(and pick one"):
        TableFile(str(path), ["fertility"], layout="wide").load()
    cfg = compose_cfg(["data=file", f"data.source.path={path}", "data.source.target_columns=[fertility]",
                       "data.source.layout=wide", "data.source.series_column='Country Name'",
                       "data.source.series=Germany"])
    table = build_data(cfg).load()
    assert table.targets[:, 0].tolist() == rates[1].tolist() and table.feature_names == []  # 1990-2009, code left out


def test_a_long_time_column_is_read_without_a_python_loop_over_its_rows(tmp_path, caplog, monkeypatch):
    """2 million minute rows took 5.5 s to load, 2.5 s of it turning the sorted times into a tuple one
    Python object at a time (for the span a log line gives): no step walks the column row by row."""
    walked = []  # values taken one at a time, per iteration (pandas' date parsing peeks at a tenth)
    iterate = pd.Series.__iter__

    def spy(series):
        walked.append(0)
        for value in iterate(series):
            walked[-1] += 1
            yield value

    monkeypatch.setattr(pd.Series, "__iter__", spy)
    monkeypatch.setattr(files, "LARGE_FILE", 1000)  # bytes: this file counts as large, a line before reading
    minutes = pd.date_range("2020-01-01", periods=5000, freq="min").strftime("%Y-%m-%d %H:%M")
    order = np.random.default_rng(0).permutation(5000)
    with caplog.at_level(logging.INFO):
        table = load(tmp_path, minutes[order], order.astype(float))
    assert np.array_equal(table.targets[:, 0], np.arange(5000))
    assert "step 1 minute from '2020-01-01 00:00' to '2020-01-04 11:19'" in caplog.text
    assert max(walked, default=0) <= 5000 // 10
    assert re.search(r"reading 'series.csv' \(0 MB\) \.\.\.", caplog.text)


def test_a_file_of_several_series_is_read_with_one_date_format_and_logged_once(tmp_path, caplog):
    # store a's dates read both ways (01/02/2021: 1 February or 2 January?); store b's 13/02/2021 settles it:
    # one format for the file, where a read per series refused store a
    days = pd.date_range("2021-02-01", periods=20, freq="D")
    frame = pd.DataFrame({"store": ["a"] * 12 + ["b"] * 20, "t": [*days[:12].strftime("%d/%m/%Y"),
                                                               *days.strftime("%d/%m/%Y")], "y": np.arange(32.0)})
    path = tmp_path / "stores.csv"
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)
    table = TableFile(str(path), ["y"], time_column="t", series_column="store").load()
    assert table.targets[:, 0].tolist() == list(range(32)) and [g.step for g in table.times] == ["1 day"] * 2
    # numbers read as Unix time: one line for the file, not one per series
    seconds = (np.arange(30) * 3600 + 1_600_000_000).astype(float)
    pd.DataFrame({"store": np.repeat(["a", "b", "c"], 10), "t": np.tile(seconds[:10], 3),
                  "y": np.arange(30.0)}).to_csv(path, index=False)
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["y"], time_column="t", series_column="store").load()
    assert caplog.text.count("numbers read as Unix time in seconds") == 1 and table.frequency == "h"
    # a bad date is named by its row in the file, the row the user can find
    frame.loc[20, "t"] = "31/02/2021"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"row 20: '31/02/2021'"):
        TableFile(str(path), ["y"], time_column="t", series_column="store").load()


def test_dates_written_two_ways_in_a_picked_series_are_named_by_its_own_first_row(tmp_path):
    # the picked series' rows keep their rows in the file: its first is row 3, and there is no row 0 among
    # them (a lookup of row 0 ended in KeyError: 0)
    frame = pd.DataFrame({"store": ["a"] * 3 + ["b"] * 3, "y": np.arange(6.0),
                          "t": ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-01", "Jan 2 2021", "2021/01/03"]})
    frame.to_csv(tmp_path / "stores.csv", index=False)
    with pytest.raises(UserError, match=r"more than one way \(row 3: '2021-01-01'\)"):
        TableFile(str(tmp_path / "stores.csv"), ["y"], time_column="t", series_column="store", series="b").load()


def test_cells_marked_as_missing_are_read_as_missing_values(tmp_path, caplog):
    # FRED writes '.', Eurostat ':', many national tables '-' or '..'; pandas' reader takes none of them as missing,
    # and the column was refused as text ("1 of its 296 values is no number ('-')")
    values = [f"{v:.3f}" for v in np.sin(np.arange(300) / 5) + 10]
    for row, mark in zip((20, 50, 90, 130, 170), ("-", ".", ":", " n/a ", "..")):
        values[row] = mark
    path = tmp_path / "fred.csv"
    pd.DataFrame({"t": pd.date_range("2020-01-01", periods=300, freq="D").strftime("%Y-%m-%d"), "x": values,
                  "y": values}).to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.values"):
        table = TableFile(str(path), ["y"], time_column="t").load()
    assert np.flatnonzero(np.isnan(table.targets[:, 0])).tolist() == [20, 50, 90, 130, 170]
    assert np.flatnonzero(np.isnan(table.features[:, 0])).tolist() == [20, 50, 90, 130, 170]
    assert "column 'y' in '" in caplog.text and "marks 5 missing value(s) with '-', '.', ':', 'n/a', '..'" in caplog.text
    kept = np.setdiff1d(np.arange(300), [20, 50, 90, 130, 170])  # '10.125' is 10.125, not 10125 in thousands
    np.testing.assert_allclose(table.targets[kept, 0], np.asarray(values, dtype=object)[kept].astype(float))
    comma = [v.replace(".", ",") if v[0].isdigit() else v for v in values]  # a file separated by ';' reads '10,125' with decimal commas
    comma[7] = "1O,5"
    semicolons = tmp_path / "de.csv"
    pd.DataFrame({"t": range(300), "y": comma}).to_csv(semicolons, index=False, sep=";")
    with pytest.raises(UserError, match=r"1 of its 29\d values is no number \('1O,5'\)"):
        TableFile(str(semicolons), ["y"], time_column="t").load()
    comma[7] = values[7].replace(".", ",")
    pd.DataFrame({"t": range(300), "y": comma}).to_csv(semicolons, index=False, sep=";")
    read = TableFile(str(semicolons), ["y"], time_column="t").load()
    np.testing.assert_allclose(read.targets[kept, 0], np.asarray(values, dtype=object)[kept].astype(float))
    values[7] = "1O.5"  # a typo is still refused
    pd.DataFrame({"t": range(300), "y": values}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"1 of its 29\d values is no number \('1O.5'\)"):
        TableFile(str(path), ["y"], time_column="t").load()


def test_a_column_without_any_value_is_no_feature_and_refused_when_named(tmp_path, caplog):
    # a separator at the end of every line ('date,x,y,': pandas names the fourth column 'Unnamed: 3') or an empty
    # column became a feature whose gap touched every window: "holds no window ... clear of gaps"
    path = tmp_path / "export.csv"
    t = pd.date_range("2020-01-01", periods=200, freq="D").strftime("%Y-%m-%d")
    pd.DataFrame({"date": t, "x": np.arange(200.0), "y": np.sin(np.arange(200) / 3), "blank": ["-"] * 200,
                  "Unnamed: 4": np.nan}).to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.values"):
        table = TableFile(str(path), ["y"], time_column="date").load()
    assert table.feature_names == ["x"] and not np.isnan(table.features).any()
    assert "column(s) ['blank', 'Unnamed: 4'] of '" in caplog.text and "hold no value in any row" in caplog.text
    with pytest.raises(UserError, match=r"data.source.feature_columns names \['Unnamed: 4'\], which hold\(s\) no value "
                                        r"in any row of '.*export.csv'; leave it out: 'data.source.feature_columns=\[x\]'"):
        TableFile(str(path), ["y"], time_column="date", feature_columns=["x", "Unnamed: 4"]).load()


def test_a_date_and_a_time_of_day_in_two_columns_are_read_as_one_time(tmp_path, caplog):
    # loggers and grid operators write 'Datum;Uhrzeit': [date,time] was refused ("not a whole number from 1 to
    # 9999", read as [year, month]), and time_column=date alone advised taking each hour for a series of its own
    times = pd.date_range("2023-03-01", periods=400, freq="h")  # days past the 12th: read day-first
    path = tmp_path / "meter.csv"
    frame = pd.DataFrame({"Datum": times.strftime("%d.%m.%Y"), "Uhrzeit": times.strftime("%H:%M"),
                          "kW": np.arange(400.0)})
    frame.iloc[::-1].to_csv(path, index=False)  # newest first
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.sources"):
        table = TableFile(str(path), ["kW"], time_column=["Datum", "Uhrzeit"]).load()
    assert table.targets[:, 0].tolist() == list(range(400)) and table.season_length == 24
    assert "step 1 hour from '01.03.2023 00:00' to '17.03.2023 15:00'" in caplog.text
    given = TableFile(str(path), ["kW"], time_column=["Datum", "Uhrzeit"], time_format="%d.%m.%Y %H:%M").load()
    assert given.targets[:, 0].tolist() == list(range(400))
    # Parquet keeps dates as datetimes and times of day as times or durations: the dates were read as a year
    # ("row 0 holds '2023-03-01 00:00:00', not a whole number from 1 to 9999")
    for clock in (times.time, times - times.normalize()):
        stored = tmp_path / "meter.parquet"
        pd.DataFrame({"Datum": times.normalize(), "Uhrzeit": clock, "kW": np.arange(400.0)}).to_parquet(stored)
        table = TableFile(str(stored), ["kW"], time_column=["Datum", "Uhrzeit"]).load()
        assert table.targets[:, 0].tolist() == list(range(400)) and table.season_length == 24
    with pytest.raises(UserError, match=r"has 383 duplicated time\(s\) \(first '17.03.2023'\); column 'Uhrzeit' holds "
                                        r"the time of day: set data.source.time_column=\[Datum,Uhrzeit\]"):
        TableFile(str(path), ["kW"], time_column="Datum").load()
    frame.loc[5, "Uhrzeit"] = "7 Uhr"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'Uhrzeit' row 5 holds '7 Uhr', not a time of day"):
        TableFile(str(path), ["kW"], time_column=["Datum", "Uhrzeit"]).load()
    pd.DataFrame({"year": [2020] * 12, "month": range(1, 13), "kW": range(12)}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"time_format='%Y' is set, but .* holds the date in parts"):
        TableFile(str(path), ["kW"], time_column=["year", "month"], time_format="%Y").load()


def test_spreadsheet_serial_dates_are_read_with_the_excel_format_and_pointed_out_without_it(tmp_path, caplog):
    # a spreadsheet saved with its date cells formatted as numbers: 43831 is 2020-01-01; they were steps of 1
    # without a word (no season, forecast.csv counting on from 44031)
    path = tmp_path / "book.csv"
    pd.DataFrame({"Date": 43831 + np.arange(200), "y": np.arange(200.0)}).to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries"):
        numbers = TableFile(str(path), ["y"], time_column="Date").load()
    assert numbers.season_length is None
    assert ("numbers from 43831 to 44030 in a column named as a date look like spreadsheet serial dates (2020-01-01 "
            "to 2020-07-18); data.source.time_format=excel reads them as dates") in caplog.text
    days = TableFile(str(path), ["y"], time_column="Date", time_format="excel").load()
    assert days.season_length == 7 and days.frequency == "D"
    assert str(days.times[0].times[0])[:10] == "2020-01-01"
    pd.DataFrame({"Date": 45000 + np.arange(300) / 24, "y": np.arange(300.0)}).to_csv(path, index=False)  # hourly
    hours = TableFile(str(path), ["y"], time_column="Date", time_format="excel").load()
    assert hours.frequency == "h" and hours.season_length == 24
    # a spreadsheet's times are its clock's: refused with a zone as 'times with UTC offsets (or Unix time)'
    pd.DataFrame({"Date": 45000 + np.arange(200) / 24, "y": np.arange(200.0)}).to_csv(path, index=False)  # to Mar 23
    local = TableFile(str(path), ["y"], time_column="Date", time_format="excel", time_zone="Europe/Berlin").load()
    assert str(local.times[0].times[0]) == "2023-03-14T23:00:00.000000000"  # 2023-03-15 00:00 in Berlin (UTC+1)
    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=60).strftime("%Y%m%d").astype(int),
                  "y": np.arange(60.0)}).to_csv(path, index=False)  # YYYYMMDD numbers: dates, no zone either
    assert TableFile(str(path), ["y"], time_column="Date", time_zone="Europe/Berlin").load().frequency == "D"
    pd.DataFrame({"Date": 1.6e9 + 3600 * np.arange(60), "y": np.arange(60.0)}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"holds times with UTC offsets \(or Unix time\)"):  # an instant: still so
        TableFile(str(path), ["y"], time_column="Date", time_zone="Europe/Berlin").load()


@pytest.mark.parametrize("time_format, what", [("excel", "days since 1899-12-30"), ("unix", "seconds since 1970"),
                                               ("unix_ms", "milliseconds since 1970")])
def test_a_format_of_numbers_on_dates_written_as_text_says_to_drop_it(tmp_path, time_format, what):
    """time_format=excel (or unix) on a column of dates as text said 'does not match data.source.time_format='excel';
    fix the row or the format (Python strftime codes ...)': no row fix and no strftime code make text a number."""
    path = tmp_path / "book.csv"
    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=30).strftime("%Y-%m-%d"), "y": np.arange(30.0)}).to_csv(
        path, index=False)
    with pytest.raises(UserError, match=re.escape(
            f"data.source.time_format={time_format} reads numbers ({what}), but data.source.time_column 'Date' in "
            f"'{path}' holds text (row 0: '2020-01-01'); drop the format (null reads dates written as text)")):
        TableFile(str(path), ["y"], time_column="Date", time_format=time_format).load()


@pytest.mark.parametrize("written, step, season", [
    (["2020-06-30", "2020-09-30", "2020-12-31"], "1 quarter", 4),  # 92 days apart both times
    (["2020-07-01", "2020-10-01", "2021-01-01"], "1 quarter", 4),
    (["2020-07-01", "2020-08-01", "2020-09-01"], "1 month", 12),  # 31 days apart both times
    (["2001", "2002", "2003"], "1 year", None),  # 365 days apart both times
    (["2021-01-31", "2021-02-28", "2021-03-28"], "4 weeks", None),  # 4 weeks from a month end: no calendar step
    (["2020-01-03", "2020-01-10", "2020-01-17"], "1 week", 52)])  # weeks ending Friday
def test_a_few_calendar_dates_equally_many_days_apart_step_by_the_calendar(written, step, season):
    # three quarter ends read as a fixed step of 92 days: no season, and the next one 92 days on (Apr 2, not Mar 31)
    grid = date_grid(pd.to_datetime(pd.Series(written)))
    assert (grid.step, grid.season_length) == (step, season)


def test_a_short_series_of_quarter_ends_beside_a_long_one_shares_its_step_and_forecast_calendar(tmp_path):
    from trainlab.prediction.calendar import after_end

    ends = pd.date_range("2015-03-31", periods=24, freq="QE")
    frame = pd.DataFrame({"store": ["long"] * 24 + ["short"] * 3, "y": np.arange(27.0),
                          "t": [*ends.strftime("%Y-%m-%d"), "2020-06-30", "2020-09-30", "2020-12-31"]})
    path = tmp_path / "stores.csv"
    frame.to_csv(path, index=False)
    table = TableFile(str(path), ["y"], time_column="t", series_column="store").load()
    assert [g.step for g in table.times] == ["1 quarter"] * 2 and table.frequency == "3MS"  # were 1 quarter, 92 days
    assert list(after_end(table.times, 2, None).dt.strftime("%Y-%m-%d")) == ["2021-03-31", "2021-06-30", "2021-03-31", "2021-06-30"]


def test_a_clock_at_24_00_is_the_next_days_midnight_and_a_leap_second_is_named(tmp_path, caplog):
    # grid operators write an hour's end ('2023-03-01 24:00'): that row was refused as 'neither numbers nor dates'
    hours = pd.date_range("2023-03-13 01:00", periods=48, freq="h")
    ends = [t.strftime("%d.%m.%Y %H:%M") if t.hour else (t - pd.Timedelta(days=1)).strftime("%d.%m.%Y 24:00")
            for t in hours]
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.dates"):
        table = load(tmp_path, ends)
        assert table.times[0].step == "1 hour" and len(table.targets) == 48
        assert "2 time(s) written 24:00 (first row 23: '13.03.2023 24:00') read as 00:00 of the next day" in caplog.text
        assert pd.Timestamp(table.times[0].times[23]) == pd.Timestamp("2023-03-14 00:00")
        given = load(tmp_path, ends, time_format="%d.%m.%Y %H:%M")  # a format given reads it too
        assert list(given.times[0].times) == list(table.times[0].times)
    path = tmp_path / "split.csv"  # a date and a time of day in two columns
    pd.DataFrame({"Datum": [e[:10] for e in ends], "Uhrzeit": [e[11:] for e in ends], "y": np.arange(48.0)}).to_csv(
        path, index=False)
    split = TableFile(str(path), ["y"], time_column=["Datum", "Uhrzeit"]).load()
    assert list(split.times[0].times) == list(table.times[0].times)
    # a leap second was read as the next second and refused as its duplicate, or as no date, by the way it was written
    seconds = ["2016-12-31 23:59:58", "2016-12-31 23:59:59", "2016-12-31 23:59:60", "2017-01-01 00:00:00"]
    with pytest.raises(UserError, match=r"row 2 \('2016-12-31 23:59:60'\) is a leap second, .* drop that row, or add"):
        load(tmp_path, seconds)


def test_iso_week_dates_are_read_and_fiscal_years_get_their_fix(tmp_path, caplog):
    # Eurostat writes weekly data '2019W01', ISO 8601 '2019-W01': both were refused as 'neither numbers nor dates'
    mondays = pd.date_range("2018-12-31", periods=60, freq="W-MON")
    for written_as in ("%G-W%V", "%GW%V"):
        with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.dates"):
            table = load(tmp_path, list(mondays.strftime(written_as))[::-1])
        assert table.times[0].step == "1 week" and table.times[0].season_length == 52
        assert list(table.times[0].times) == list(mondays)  # 2020-W53 included: a long ISO year
        assert "ISO week dates read as each week's Monday (2018-12-31 to 2020-02-17)" in caplog.text
    # fiscal years name no one calendar year: the line says how to write them (it said 'fix that row')
    for fiscal in (["FY2019", "FY2020", "FY2021"], ["2019/20", "2020/21", "2021/22"], ["2019-2020", "2020-2021", "2021-2022"]):
        with pytest.raises(UserError, match=rf"holds fiscal or split years \(row 0: '{fiscal[0]}'\), which name no one "
                                            r"calendar year; write each as the year it starts or ends \(2019\)"):
            load(tmp_path, fiscal)


@pytest.mark.parametrize("written_as", ["{y}Q{q}", "{y}-Q{q}", "{y} Q{q}", "Q{q} {y}", "Q{q}-{y}", "{y}/q{q}"])
def test_quarters_written_as_text_are_read_as_quarters(tmp_path, caplog, written_as):
    """'Q1 2015' and '2015 Q1' (statistics offices' tables) were refused as 'neither numbers nor dates ... set
    data.source.time_format', a fix strftime (no code for a quarter) cannot give; '2015Q1' was read by a pandas
    reading it deprecates (Pandas4Warning)."""
    quarters = pd.period_range("2015Q1", periods=24, freq="Q")
    times = [written_as.format(y=q.year, q=q.quarter) for q in quarters]
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.dates"):
        table = load(tmp_path, times[:9] + times[10:])  # one quarter missing
    grid = table.times[0]
    assert grid.step == "1 quarter" and grid.season_length == 4 and np.isnan(table.targets[9, 0])
    assert list(grid.times) == list(quarters.delete(9).to_timestamp())
    assert "quarters read as each quarter's first day (2015-01-01 to 2020-10-01)" in caplog.text


@pytest.mark.parametrize("written_as", ["%b-%y", "%b'%y", "%b %Y", "%B %Y", "%b-%Y", "%YM%m", "%Y-M%m"])
def test_months_written_as_text_are_read_as_months(tmp_path, caplog, written_as):
    """Excel's 'Jan-15' was read as 15 January of the year 1: 30 months from 2015 as days of one year, sorted into
    another order (the rows shuffled) and taken as consecutive rows with a warning on their step ('Jan-98' to 'Jun-00'
    refused at 'Jan-00'); Eurostat's '2015-M01' as a second past midnight, '2015M01' refused."""
    months = pd.period_range("2015-01", periods=30, freq="M")
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.dates"):
        table = load(tmp_path, list(months.strftime(written_as)))
    grid = table.times[0]
    assert grid.step == "1 month" and grid.season_length == 12 and table.targets[:, 0].tolist() == list(range(30))
    assert list(grid.times) == list(months.to_timestamp())
    assert "months read as each month's first day (2015-01-01 to 2017-06-01)" in caplog.text


@pytest.mark.parametrize("times", [["1-Jan", "2-Jan", "3-Jan"], ["Mar 01", "Mar 02", "Mar 03"]])
def test_dates_without_a_year_are_refused(tmp_path, times):
    """Read as days of the year 1 (pandas' year where none is written), and trained on without a word."""
    with pytest.raises(UserError, match=rf"holds dates without a year \(row 0: '{times[0]}'\); write the year in every "
                                        r"row, or set data.source.time_format"):
        load(tmp_path, times)


@pytest.mark.parametrize("freq, ahead", [("SMS", ["2021-04-01", "2021-04-15", "2021-05-01"]),
                                         ("SME", ["2021-04-15", "2021-04-30", "2021-05-15"])])
def test_half_months_step_by_half_months(tmp_path, freq, ahead):
    # pay periods and semi-monthly reports (the 1st and 15th, or the 15th and the month's end) had no regular step:
    # rows taken as consecutive, a missing half month no gap, no season, and forecast.csv without dates
    from trainlab.prediction.calendar import after_end

    times = pd.Series(pd.date_range("2020-01-01", periods=30, freq=freq)).drop([5, 6])  # a month missing
    table = load(tmp_path, list(times.dt.strftime("%Y-%m-%d")))
    grid = table.times[0]
    assert (grid.step, grid.season_length, table.frequency) == ("half a month", 24, freq)
    assert len(table.targets) == 30 and np.isnan(table.targets[5:7, 0]).all()
    assert list(after_end([grid], 3, None).dt.strftime("%Y-%m-%d")) == ahead


def test_a_stations_line_above_the_header_is_left_out(tmp_path, caplog):
    # NREL's TMY3 files (pvlib ships two) start with the station's id, name, state, zone and place: that line was
    # taken for the header ("['Date (MM/DD/YYYY)', 'Time (HH:MM)'] not in ...; its columns are ['723170', ...]")
    hours = pd.date_range("1988-01-13 01:00", periods=72, freq="h")
    dates = [(t - pd.Timedelta(hours=1)).strftime("%m/%d/%Y") if not t.hour else t.strftime("%m/%d/%Y") for t in hours]
    clock = [t.strftime("%H:%M") if t.hour else "24:00" for t in hours]
    rows = [f"{d},{c},{i % 24 * 10},{i / 10:.1f}" for i, (d, c) in enumerate(zip(dates, clock))]
    path = tmp_path / "723170TYA.csv"
    path.write_text('723170,"GREENSBORO PIEDMONT TRIAD INT",NC,-5.0,36.100,-79.950,273\n'
                    "Date (MM/DD/YYYY),Time (HH:MM),GHI (W/m^2),Dry-bulb (C)\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.INFO, logger="trainlab.data.csv_files"):
        table = TableFile(str(path), ["Dry-bulb (C)"], time_column=["Date (MM/DD/YYYY)", "Time (HH:MM)"]).load()
    assert table.feature_names == ["GHI (W/m^2)"] and table.targets[:, 0].tolist() == [i / 10 for i in range(72)]
    assert table.frequency == "h" and pd.Timestamp(table.times[0].times[23]) == pd.Timestamp("1988-01-14")
    assert "'723170TYA.csv': 1 line(s) above the header left out ('723170,\"GREENSBORO" in caplog.text
    assert "7 field(s), the header and rows 4)" in caplog.text
    # R's write.table(sep=",") leaves its row names' column unnamed: that header, one field short, is the header still
    path.write_text('"x","y"\n' + "\n".join(f'"{i + 1}",{i / 2},{i}' for i in range(30)) + "\n")
    table = TableFile(str(path), ["y"]).load()
    assert table.feature_names == ["x"] and table.targets[:, 0].tolist() == list(range(30))


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_rows_or_a_header_padded_with_empty_fields_read_as_the_header_names_them(tmp_path, caplog, sep):
    # a spreadsheet's "Save as CSV" pads every line to its widest formatted column: '2020-01-01,1,,' under 'time,y'
    # lost the header ("'time' not in ...; its columns are ['2020-01-01', '1', ...]": the header was taken for a
    # station's line), a header 'time,y,,' above '2020-01-01,1' was refused for naming '' twice, and a semicolon
    # or tab file of padded rows was read as one column (the separator was not sniffed)
    days = pd.date_range("2020-01-01", periods=30, freq="D").strftime("%Y-%m-%d")
    padded = [f"{d}{sep}{i}{sep}{sep}" for i, d in enumerate(days)]
    station = f'723170{sep}"GREENSBORO"{sep}NC{sep}-5.0{sep}36.100{sep}-79.950{sep}273\n'
    path = tmp_path / "padded.csv"
    for text in (f"time{sep}y\n" + "\n".join(padded), f"time{sep}y{sep}{sep}\n" + "\n".join(p[:-2] for p in padded),
                 station + f"time{sep}y\n" + "\n".join(padded)):
        path.write_text(text + "\n")
        with caplog.at_level(logging.INFO, logger="trainlab.data.csv_files"):
            table = TableFile(str(path), ["y"], time_column="time").load()
        assert table.targets[:, 0].tolist() == list(range(30)) and table.times[0].times[0] == np.datetime64("2020-01-01")
        assert "2 empty column(s) without a name at the right left out" in caplog.text
    assert "1 line(s) above the header left out ('723170" in caplog.text
    # a value in a column the header does not name is one line, not dropped or turned into the index
    path.write_text(f"time{sep}y\n" + "\n".join(padded[:5] + [padded[5] + "7"] + padded[6:]) + "\n")
    with pytest.raises(UserError, match=r"^data.path: '.*' has a value in column 4, which its header leaves unnamed "
                                        r"\(data row 6: '7.0'\); name that column"):
        files.read_frame(str(path), "data.path")


def test_the_clock_checks_search_only_rows_that_hold_their_text(monkeypatch):
    # searching two patterns in every row of a 2-million-row column added ~6 s to a ~2 s read: each pattern is
    # searched only in the rows holding its plain text ('24:00', ':60'); patterns that match anything show it
    from trainlab.data.timeseries import dates

    monkeypatch.setattr(dates, "_END_OF_DAY", re.compile(r"^"))
    monkeypatch.setattr(dates, "_LEAP_SECOND", re.compile(r"^"))
    minutes = pd.Series(pd.date_range("2020-01-01", periods=50, freq="min").strftime("%Y-%m-%d %H:%M"))
    assert list(dates.parse_dates(minutes, "t", None)) == list(pd.to_datetime(minutes))


@pytest.mark.parametrize("zones", [(" UTC", "+00:00"), ("Z", " UTC"), (" GMT", "+00:00"), (" UTC", "+01:00")])
def test_utc_written_as_a_word_beside_offsets_reads_as_the_instants(tmp_path, zones):
    """'2020-01-01 00:00 UTC' beside '2020-01-01 01:00+00:00' was refused as 'dates written in more than one way':
    every row names its instant, so the column reads, in UTC (a '+01:00' row one hour earlier)."""
    hours = pd.date_range("2020-01-01", periods=48, freq="h")
    shift = pd.Timedelta(hours=1) if zones[1] == "+01:00" else pd.Timedelta(0)
    written = [(t + (shift if k % 2 else pd.Timedelta(0))).strftime("%Y-%m-%d %H:%M") + zones[k % 2]
               for k, t in enumerate(hours)]
    pd.DataFrame({"time": written, "y": np.arange(48.0)}).to_csv(tmp_path / "mixed.csv", index=False)
    table = TableFile(str(tmp_path / "mixed.csv"), ["y"], time_column="time").load()
    assert table.frequency == "h" and table.targets[:, 0].tolist() == list(range(48))
    np.testing.assert_array_equal(table.times[0].times, hours.to_numpy())


@pytest.mark.parametrize("aware", ["+00:00", " UTC", "Z"])
def test_times_with_and_without_a_zone_in_one_column_are_refused_naming_a_row_of_each(tmp_path, aware):
    """A column mixing times without a zone and times with one: '+00:00' beside naive times was read as if all were
    UTC, and ' UTC' beside them refused as 'written in more than one way'; which instant a naive one is cannot be
    known, so it is refused naming a row of each."""
    hours = pd.date_range("2020-01-01", periods=48, freq="h").strftime("%Y-%m-%d %H:%M")
    written = [t + (aware if k == 5 else "") for k, t in enumerate(hours)]
    pd.DataFrame({"time": written, "y": np.arange(48.0)}).to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(UserError, match=re.escape(
            f"mixes times with their zone (row 5: '2020-01-01 05:00{aware}') and times without one (row 0: "
            "'2020-01-01 00:00')")):
        TableFile(str(tmp_path / "mixed.csv"), ["y"], time_column="time").load()
