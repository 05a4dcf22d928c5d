"""Bad input gets one clear message naming the culprit and the fix, and a non-zero exit."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import ROOT, TINY, TINY_ANY_DATA
from trainlab.config.errors import UserError


def cli(*args: str, tmp_path: Path, script: str = "train.py") -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(ROOT / script), *args, f"paths.log_dir={tmp_path}/outputs"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


# -- composition errors: Hydra stops before importing torch (fast); one line of ours, none of Hydra's --
@pytest.mark.parametrize(
    "override,expected",
    [
        ("model=lstmm", r"error: model=lstmm is not an option of the model group; did you mean model=lstm\? .*lstm_attention"),
        ("trainer.max_epoch=3", r"error: trainer.max_epoch is not a setting of trainer; did you mean trainer.max_epochs\?"),
        ("trainer.max_epochs=abc", r"error: trainer.max_epochs=abc is not a whole number, which this key takes; "
                                   r"e.g. trainer.max_epochs=20"),
        ("hardware.num_workers=two", r"error: hardware.num_workers=two is not a whole number.*e.g. hardware.num_workers=0"),
        ("hardware.precison=16-mixed", r"error: hardware.precison is not a setting of hardware; did you mean "
                                       r"hardware.precision\?"),
        ("experiment=nope", r"error: experiment=nope is not an option of the experiment group; .*lstm_seed"),
    ],
)
def test_composition_errors(override, expected, tmp_path):
    """Hydra's own several lines (Error merging override ..., full_key:, object_type=, the config search
    path) were printed, exit 1; now only our line, exit 2."""
    result = cli(override, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(expected + ".*", line), line
    assert not (tmp_path / "outputs").exists()  # nothing started


def test_conflicting_hydra_flags_get_one_line(tmp_path):
    result = cli("-m", "--cfg", "job", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: Only one of --run, --multirun, --cfg")
    assert "leave out -m" in result.stderr and "Traceback" not in result.stderr


# -- errors found while building: in-process, each asserting its message -------------------------
def csv_file(tmp_path: Path, frame: pd.DataFrame) -> str:
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return str(path)


def good_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "y": rng.normal(size=rows)})


def file_overrides(path: str, *extra: str) -> list[str]:
    return [*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[y]", *extra]


def test_missing_data_file(compose_cfg, run_train, tmp_path):
    with pytest.raises(UserError, match=r"data.source.path: file not found: '.*nope.csv'; give the path of an existing"):
        run_train(compose_cfg(file_overrides(str(tmp_path / "nope.csv"))))


def test_non_numeric_column(compose_cfg, run_train, tmp_path):
    frame = good_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[7, "b"] = "n/a?"
    with pytest.raises(UserError, match=r"column 'b' in '.*series.csv' is not numeric \(row 7: 'n/a\?'\)"):
        run_train(compose_cfg(file_overrides(csv_file(tmp_path, frame))))


def test_nan_rows(compose_cfg, run_train, tmp_path):
    frame = good_frame()
    frame.loc[[11, 40], "a"] = np.nan
    # data.missing=refuse: the default interpolates short gaps (issue 12; tests/test_forecasting.py)
    with pytest.raises(UserError, match=r"has 2 row\(s\) with missing values in \['a'\] \(first at row 11\); fill or drop"):
        run_train(compose_cfg(file_overrides(csv_file(tmp_path, frame), "data.missing=refuse")))


def test_unknown_column(compose_cfg, run_train, tmp_path):
    path = csv_file(tmp_path, good_frame())
    with pytest.raises(UserError, match=r"data.source.feature_columns: \['c'\] not in .*its columns are \['a', 'b', 'y'\]"):
        run_train(compose_cfg(file_overrides(path, "data.source.feature_columns=[a,c]")))


def test_file_data_without_a_path(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"data.source.path has no value \(\?\?\? in the config\); set it: data.source.path=<value>"):
        run_train(compose_cfg([*TINY_ANY_DATA, "data=file"]))


def test_unreadable_suffix(compose_cfg, run_train, tmp_path):
    path = tmp_path / "series.txt"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match=r"has suffix '.txt'; readable files are .csv \(also .csv.gz, .*\), .parquet, .npy, a workbook \(.xlsx, .*\), or an astronomy archive.s table: .ecsv, .*"):
        run_train(compose_cfg(file_overrides(str(path))))


def test_input_size_contradicts_data(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"model.net.input_size=7 contradicts the data, which has 5 feature column\(s\)"):
        # the seed's setup (5 feature columns only): by default the past target is a 6th input (issue 12)
        run_train(compose_cfg([*TINY, "model.net.input_size=7", "data.target_inputs=false", "model.window_scaling=none"]))


def test_string_for_an_int_in_a_group_without_schema(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"data.batch_size='abc' must be int"):
        run_train(compose_cfg([*TINY, "data.batch_size=abc"]))


def test_unknown_argument_added_to_a_group(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"model.net.hiden_size is not an argument of .*LSTMNet; did you mean model.net.hidden_size\? valid ones: input_size, hidden_size"):
        run_train(compose_cfg([*TINY, "+model.net.hiden_size=3"]))


@pytest.mark.parametrize(
    "override,match",
    [
        ("data.window=0", r"data.window=0 must be at least 1"),
        ("data.val_fraction=1.5", r"data.val_fraction=1.5 must lie strictly between 0 and 1"),
        ("data.window=500", r"holds no window of data.window=500"),
        ("model.net.dropout=2", r"model.net.dropout=2 must be in \[0, 1\)"),
        ("model.loss=l3", r"model.loss='l3' is not one of mse, mae, huber"),
        ("hardware.precision=fp8", r"hardware.precision='fp8' is not one of"),
        ("trainer.max_epochs=-5", r"trainer: `max_epochs` must be a non-negative integer or -1. You passed in -5"),
        ("trainer.accumulate_grad_batches=0", r"trainer.accumulate_grad_batches=0 must be at least 1"),
        ("optimizer.lr=-1", r"optimizer.lr=-1 is refused by Adam \(Invalid learning rate: -1\); give a value it takes"),
        ("data.stride=0", r"data.stride=0 must be at least 1"),
    ],
)
def test_out_of_range_values(compose_cfg, run_train, override, match):
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg([*TINY, override]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_gpu_profile_without_gpu(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"hardware=rtx4070_mobile needs an NVIDIA GPU.*use hardware=cpu, or hardware=auto"):
        run_train(compose_cfg([*TINY, "hardware=rtx4070_mobile"]))


def test_missing_checkpoint(compose_cfg, run_train, tmp_path):
    with pytest.raises(UserError, match=r"ckpt_path: '.*nothing.ckpt' does not exist"):
        run_train(compose_cfg([*TINY, f"ckpt_path={tmp_path / 'nothing.ckpt'}"]))


def test_evaluate_refuses_a_corrupt_checkpoint(compose_cfg, tmp_path):
    import evaluate as evaluate_script

    run_dir = tmp_path / "fake_run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 a zip archive cut short")
    with pytest.raises(UserError, match=r"is not a readable checkpoint"):
        evaluate_script.evaluate(compose_cfg([f"ckpt_path={run_dir}"], config_name="eval"))


def test_evaluate_refuses_a_checkpoint_of_another_family(compose_cfg, run_train):
    """A GNN checkpoint dropped into an LSTM run's folder: the run's config cannot load it."""
    import shutil

    import evaluate as evaluate_script
    from tests.conftest import family_overrides

    lstm = compose_cfg([*TINY, "trainer.max_epochs=1", "logger=none"])
    run_train(lstm)
    gnn = compose_cfg([*family_overrides("gnn"), "trainer.max_epochs=1", "logger=none", "hardware.num_threads=1",
                       "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"])
    run_train(gnn)
    stray = Path(lstm.paths.output_dir) / "checkpoints" / "stray.ckpt"
    shutil.copy(Path(gnn.paths.output_dir) / "checkpoints" / "last.ckpt", stray)
    with pytest.raises(UserError, match=r"stray.ckpt' does not fit .*LSTMNet .*it belongs to another model"):
        evaluate_script.evaluate(compose_cfg([f"ckpt_path={stray}"], config_name="eval"))


def test_evaluate_refuses_a_folder_without_checkpoints(compose_cfg, tmp_path):
    import evaluate as evaluate_script

    with pytest.raises(UserError, match=r"is a directory without checkpoints/"):
        evaluate_script.evaluate(compose_cfg([f"ckpt_path={tmp_path}"], config_name="eval"))


# -- the CLI turns UserErrors into one line and exit status 2 ----------------------------------
@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cli_reports_one_line_and_keeps_earlier_runs(tmp_path):
    earlier = tmp_path / "outputs" / "train" / "runs" / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "keep.txt").write_text("written before")
    result = cli("hardware=rtx4070_mobile", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: hardware=rtx4070_mobile needs an NVIDIA GPU")
    assert "Traceback" not in result.stderr + result.stdout
    assert (earlier / "keep.txt").read_text() == "written before"



@pytest.mark.parametrize("content", [b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01h\x65", b"PK\x03\x04" + bytes(100),
                                     b""])  # empty: torch's EOFError has no message (an IndexError traceback)
def test_a_checkpoint_cut_short_gets_one_line(tmp_path, content):
    """Bytes the unpickler reads as something else raised its own errors as tracebacks."""
    from trainlab.run.checkpoint_path import load_checkpoint

    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"^ckpt_path: '.*x.ckpt' is not a readable checkpoint \(\w+(: |, 0 bytes)[^)]*\); was it "
                                        r"cut short\? pick another .ckpt$") as refused:
        load_checkpoint(path)
    assert "weights_only" not in str(refused.value)  # torch's advice to load it unsafely is not passed on


@pytest.mark.parametrize("name, content", [("train.log", b"[2026-12-01 08:37:54][trainlab] run folder\n"),
                                           ("x.ckpt", b"hello\n"), ("noise.ckpt", bytes(range(256)) * 40)])
def test_a_file_that_is_no_checkpoint_at_all_is_named_so(tmp_path, name, content):
    """A run's train.log given as ckpt_path was asked 'was it cut short?' (a KeyError for 'hello' was a traceback)."""
    from trainlab.run.checkpoint_path import load_checkpoint

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserError, match=rf"^ckpt_path: '.*{name}' is no checkpoint \(torch saves a zip archive; this "
                                        r"file is not one\): give the run folder \(ckpt_path=<run dir>\) or one of its "
                                        r"checkpoints/\*.ckpt$"):
        load_checkpoint(path)


def test_ckpt_path_names_a_run_its_checkpoints_folder_a_sweep_or_lightnings_names(tmp_path):
    from trainlab.run.checkpoint_path import resolve_checkpoint

    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    assert resolve_checkpoint(str(last.parent), prefer="last") == last  # the checkpoints/ folder means its run
    assert resolve_checkpoint(str(tmp_path / "run"), prefer="last") == last
    with pytest.raises(UserError, match=rf"^ckpt_path: '{tmp_path}' holds 1 run\(s\), not one; give one of them, e.g. "
                                        rf"the newest: ckpt_path={tmp_path / 'run'}$"):  # a sweep's folder
        resolve_checkpoint(str(tmp_path), prefer="last")
    # a sweep's folder names its best trial (it named the newest, no better than any other)
    (tmp_path / "0" / "checkpoints").mkdir(parents=True)
    (tmp_path / "optimization_results.yaml").write_text("best_trial: 0\nbest_run_dir: '0'\nmetric: val/loss\n"
                                                        "best_value: 0.18147052824497223\n")
    with pytest.raises(UserError, match=rf"^ckpt_path: '{tmp_path}' holds 2 run\(s\), not one; give one of them, e.g. "
                                        rf"the sweep's best \(trial 0, val/loss 0.1815\): ckpt_path={tmp_path / '0'}$"):
        resolve_checkpoint(str(tmp_path))
    for name in ("last", "best"):
        with pytest.raises(UserError, match=rf"^ckpt_path={name} is Lightning's name for a checkpoint of the run in "
                                            r"progress, but every train.py run starts in a new folder; give the run "
                                            r"to go on from: ckpt_path=<run directory> \(outputs/train/runs/<run>: "
                                            r"its last.ckpt\)"):
            resolve_checkpoint(name, prefer="last")
        # evaluate.py: a run folder means its best checkpoint there (it said "to go on from ... its last.ckpt")
        with pytest.raises(UserError, match=rf"^ckpt_path={name} is Lightning's name for a checkpoint of the run in "
                                            r"progress, but every train.py run starts in a new folder; give the run "
                                            r"to evaluate: ckpt_path=<run directory> \(outputs/train/runs/<run>: "
                                            r"its best checkpoint\)"):
            resolve_checkpoint(name, prefer="best")


def _meter_file(tmp_path: Path) -> str:
    """A newcomer's hourly demand: several regions, a column name with a space, a text column."""
    times = pd.date_range("2024-01-01", periods=60, freq="h", tz="Europe/Berlin").strftime("%Y-%m-%d %H:%M:%S%z")
    frame = pd.concat([pd.DataFrame({"timestamp": times, "region": region, "Demand (MW)": np.arange(60.0) + k,
                                     "temperature": np.sin(np.arange(60.0)), "day_type": "weekday"})
                       for k, region in enumerate(["North", "South"])])
    path = tmp_path / "demand.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("settings, expected", [
    # before: the file's other checks came first: 'timestamp' has duplicated times (with time_column), or
    # "column 'Demand (MW)' ... is not numeric ...; convert it or leave it out of data.source.feature_columns"
    # (taken as a feature once 'demand' named no column), then 'day_type' not numeric, and no hint of the name
    ({"target_columns": ["demand"], "time_column": "timestamp"},
     "data.source.target_columns: ['demand'] not in '{path}'; its columns are ['timestamp', 'region', 'Demand (MW)', "
     "'temperature', 'day_type']; did you mean \"data.source.target_columns=['Demand (MW)']\"?"),
    ({"target_columns": ["demand (mw)"], "feature_columns": ["Temperature"], "series_column": "region"},
     "data.source.target_columns: ['demand (mw)'] not in '{path}'; its columns are ['timestamp', 'region', "
     "'Demand (MW)', 'temperature', 'day_type']; did you mean \"data.source.target_columns=['Demand (MW)']\"?"),
    ({"target_columns": ["Demand (MW)"], "feature_columns": ["Temperature"], "series_column": "region"},
     "data.source.feature_columns: ['Temperature'] not in '{path}'; its columns are ['timestamp', 'region', "
     "'Demand (MW)', 'temperature', 'day_type']; did you mean 'data.source.feature_columns=[temperature]'?"),
    ({"target_columns": ["Demand (MW)"], "time_column": "Timestamp", "series_column": "region"},
     "data.source.time_column 'Timestamp' not in '{path}'; its columns are ['timestamp', 'region', 'Demand (MW)', "
     "'temperature', 'day_type']; did you mean data.source.time_column=timestamp?"),
    ({"target_columns": ["Demand (MW)"], "time_column": "timestamp", "series_column": "Region"},
     "data.source.series_column 'Region' not in '{path}'; its columns are ['timestamp', 'region', 'Demand (MW)', "
     "'temperature', 'day_type']; did you mean data.source.series_column=region?"),
    ({"target_columns": ["load"], "time_column": "timestamp"},  # nothing near: the columns alone
     "data.source.target_columns: ['load'] not in '{path}'; its columns are ['timestamp', 'region', 'Demand (MW)', "
     "'temperature', 'day_type']"),
])
def test_a_column_the_file_lacks_is_named_first_with_the_one_it_likely_meant(tmp_path, settings, expected):
    from trainlab.data.timeseries.sources import TableFile

    path = _meter_file(tmp_path)
    with pytest.raises(UserError) as refused:
        TableFile(path, **settings).load()
    assert str(refused.value) == expected.format(path=path)


@pytest.mark.parametrize("name, options, meant", [
    # the same letters in another spelling beat a closer string: it said "did you mean demand_ma?" for a key, a
    # metric or a class, where the column check (its own copy of the rule, now this one) said Demand (MW)
    ("demand_mw", ["demand_ma", "Demand (MW)"], "did you mean Demand (MW)?"),
    ("val_loss", ["val/acc", "val/loss"], "did you mean val/loss?"),
    ("LSTM", ["cnn", "lstm", "lstm_attention"], "did you mean lstm?"),  # in any case when nothing is close as typed
    ("load", ["timestamp", "region", "Demand (MW)"], ""),  # nothing near: no hint
])
def test_one_rule_finds_the_option_a_misspelt_name_meant(name, options, meant):
    from trainlab.config.errors import did_you_mean

    assert did_you_mean(name, options) == meant


def test_a_few_values_that_are_no_number_are_named_as_typos_to_correct(tmp_path):
    """A mistyped reading (letter O for 0) in a target: the fix was 'convert it or leave it out of
    data.source.target_columns', which drops what is to be predicted."""
    from trainlab.data.timeseries.sources import TableFile

    frame = pd.read_csv(_meter_file(tmp_path)).drop(columns="day_type")
    frame["Demand (MW)"] = frame["Demand (MW)"].astype(object)
    frame.loc[3, "Demand (MW)"], frame.loc[70, "Demand (MW)"] = "1O23.4", "12,5"
    path = tmp_path / "typos.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError) as refused:
        TableFile(str(path), ["Demand (MW)"], time_column="timestamp", series_column="region").load()
    assert str(refused.value) == (
        f"column 'Demand (MW)' in '{path}' is not numeric (2024-01-01 03:00:00+0100 in series North: '1O23.4'); "
        "2 of its 120 values are no number ('1O23.4', '12,5'): correct them in the file, or empty those cells "
        "(missing values, which data.missing handles)")


def test_text_columns_among_the_inputs_are_categories_every_one_at_once(tmp_path):
    """A category column (day_type) among the columns data.source.feature_columns=null takes: refused first with 'e.g.
    data.source.feature_columns=[a,b]', then with 'make them numbers in the file (a category: a 0/1 column per
    value)'; now every text column is read as categories (encoded by the data module: tests/test_categories.py)."""
    from trainlab.data.timeseries.sources import TableFile

    frame = pd.read_csv(_meter_file(tmp_path))
    frame["note"] = "ok"
    path = tmp_path / "categories.csv"
    frame.to_csv(path, index=False)
    table = TableFile(str(path), ["Demand (MW)"], time_column="timestamp", series_column="region").load()
    assert table.feature_names == ["temperature"] and list(table.categories) == ["day_type", "note"]
    assert set(table.categories["day_type"]) == {"weekday"} and set(table.categories["note"]) == {"ok"}


def test_truth_values_are_read_as_one_and_zero_in_targets_and_inputs(tmp_path, caplog):
    """An event's flag (a holiday 'yes'/'no', a CSV's True/False, a Parquet bool column) as an input or as
    the target: refused as 'is not numeric; convert it or leave it out of data.source.target_columns'."""
    from trainlab.data.timeseries.sources import TableFile

    days = pd.date_range("2024-01-01", periods=30, freq="D").strftime("%Y-%m-%d")
    on = np.arange(30) % 4 == 0
    frame = pd.DataFrame({"t": days, "open": on, "holiday": np.where(on, "Yes", "no"), "y": ~on})
    frame.loc[5, "holiday"] = None  # an empty cell stays missing, for data.missing
    for path in (tmp_path / "flags.csv", tmp_path / "flags.parquet"):
        frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path)
        with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.values"):
            table = TableFile(str(path), ["y"], time_column="t").load()
        assert table.targets[:, 0].tolist() == (~on).astype(float).tolist()
        assert table.features[:, 0].tolist() == on.astype(float).tolist()
        assert np.isnan(table.features[5, 1]) and np.nan_to_num(table.features[:, 1]).tolist() == \
            np.where(np.arange(30) == 5, 0, on).astype(float).tolist()
        assert f"column 'holiday' in '{path}' holds Yes/no: read as 1 and 0" in caplog.text
    only = tmp_path / "future.csv"  # a future= file's rows may hold one of the two
    frame.assign(holiday="no").to_csv(only, index=False)
    with caplog.at_level(logging.INFO, logger="trainlab.data.timeseries.values"):
        assert TableFile(str(only), ["y"], time_column="t").load().features[:, 1].tolist() == [0.0] * 30
    assert f"column 'holiday' in '{only}' holds no only (of yes/no): read as 1 and 0" in caplog.text
    frame.loc[7, "holiday"] = "true"  # two kinds of flag in one column: no pair to read, text (was refused as such)
    frame.to_csv(tmp_path / "flags.csv", index=False)
    table = TableFile(str(tmp_path / "flags.csv"), ["y"], time_column="t").load()
    assert table.feature_names == ["open"] and set(table.categories["holiday"]) == {"Yes", "no", "true", None}


def test_truth_values_are_told_by_their_few_distinct_values_not_row_by_row():
    """A flag column of 2 million rows took ~2 s writing each row as text; a bool column was written as text too."""
    from trainlab.data.timeseries.values import _flags

    class Word:  # a cell that counts how often it is written as text
        told = 0

        def __init__(self, word):
            self.word = word

        def __str__(self):
            Word.told += 1
            return self.word

        def __eq__(self, other):
            return isinstance(other, Word) and other.word == self.word

        def __hash__(self):
            return hash(self.word)

    yes, no = Word("Yes"), Word("no")
    column = pd.Series([yes, no, no] * 400 + [None], dtype=object)
    values, said = _flags(column)
    assert said == "Yes/no" and np.nansum(values) == 400 and np.isnan(values.iloc[-1])
    assert Word.told <= 6  # the first value, then each distinct one (and the log line's pair)
    assert _flags(pd.Series([True, False] * 5))[1] == "True/False"
    # one word written two ways beside the other was logged as 'Yes only (of yes/no)'
    assert _flags(pd.Series(["Yes", "yes", "No"]))[1] == "Yes/yes/No"
    assert _flags(pd.Series(["no", "No"]))[1] == "No/no only (of yes/no)"


def test_a_data_path_not_found_says_where_relative_paths_are_read_and_what_the_repository_holds(tmp_path,
                                                                                                monkeypatch):
    """train.py started in another folder than the one a relative data path was meant from: the line said
    'file not found: ...' without the folder it looked in (the ckpt_path refusal said both)."""
    from trainlab.data.files import read_frame
    from trainlab.data.image.folder import ImageFolder

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        read_frame("conf/data/file.yaml", "data.source.path")
    assert str(refused.value) == (
        f"data.source.path: file not found: 'conf/data/file.yaml' in the working folder {tmp_path} (relative paths "
        f"are read from there; the repository has it: data.source.path={ROOT / 'conf/data/file.yaml'}); give the "
        "path of an existing .csv, .parquet, .npy, .xlsx, .xls, .ods, .ecsv, .vot or .fits file")
    with pytest.raises(UserError) as refused:
        read_frame("demand.csv", "data.source.path")
    assert f"file not found: 'demand.csv' in the working folder {tmp_path} (relative paths are read from there);" \
           in str(refused.value)
    with pytest.raises(UserError) as refused:
        ImageFolder("my_images")._files()
    assert str(refused.value) == (f"data.source.path='my_images' is not a folder in the working folder {tmp_path} "
                                  "(relative paths are read from there); give the folder holding your images")


@pytest.mark.parametrize("path", [r"C:\Users\me\demand.csv", "C:/Users/me/demand.csv", r"data\demand.csv"])
def test_a_windows_path_is_named_as_one(path, tmp_path, monkeypatch):
    from trainlab.data.files import read_frame

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        read_frame(path, "data.source.path")
    assert str(refused.value) == (
        f"data.source.path: file not found: '{path}' (a Windows path, which this machine reads as one name: give "
        "the file's path on this machine, with / between folders); give the path of an existing .csv, .parquet, "
        ".npy, .xlsx, .xls, .ods, .ecsv, .vot or .fits file")


def test_a_family_mismatch_reads_as_english():
    """'or a image model: model=unet' for model=lstm data=sky_folder."""
    from trainlab.config.families import family_mismatch

    line = family_mismatch("trainlab.models.timeseries.RegressionModule", "trainlab.data.image.module.SkyDataModule",
                           "lstm", "sky_folder")
    assert line.endswith("but data=sky_folder is image data; use data=elnino or data=file or data=packaged or "
                         "data=synthetic, or an image model: model=unet"), line


def test_a_column_of_a_few_texts_and_no_number_is_no_typo(tmp_path):
    """A sparse text column among the inputs (an event named on two days, empty otherwise) was told '2 of its
    2 values are no number: correct them in the file', as if they were mistyped readings among numbers; then it was
    refused as text; now it is a category (tests/test_categories.py: its empty cells are none of the categories)."""
    from trainlab.data.timeseries.sources import TableFile

    frame = pd.read_csv(_meter_file(tmp_path)).drop(columns="day_type")
    frame["event"] = None
    frame.loc[[5, 60], "event"] = "holiday"
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    table = TableFile(str(path), ["Demand (MW)"], time_column="timestamp", series_column="region").load()
    assert table.feature_names == ["temperature"] and set(table.categories["event"]) == {"holiday", None}
