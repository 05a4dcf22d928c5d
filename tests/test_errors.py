"""Bad input gets one clear message naming the culprit and the fix, and a non-zero exit."""

from __future__ import annotations

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


# -- composition errors: Hydra stops before importing torch (fast) -------------------------------
@pytest.mark.parametrize(
    "override,expected",
    [
        ("model=lstmm", r"Could not find 'model/lstmm'.*Available options in 'model'.*lstm_attention"),
        ("trainer.max_epoch=3", r"Could not override 'trainer.max_epoch'.*Key 'max_epoch' not in 'TrainerConf'"),
        ("trainer.max_epochs=abc", r"trainer.max_epochs=abc.*Value 'abc' of type 'str' could not be converted to Integer"),
        ("hardware.num_workers=two", r"Value 'two' of type 'str' could not be converted to Integer.*hardware.num_workers"),
        ("hardware.precison=16-mixed", r"Key 'precison' not in 'HardwareConf'"),
        ("experiment=nope", r"Could not find 'experiment/nope'.*lstm_seed"),
    ],
)
def test_composition_errors(override, expected, tmp_path):
    result = cli(override, tmp_path=tmp_path)
    assert result.returncode != 0
    text = result.stderr + result.stdout
    assert re.search(expected, text, re.DOTALL), text
    assert "Traceback" not in text
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
    with pytest.raises(UserError, match=r"has 2 row\(s\) with missing values in \['a'\] \(first at row 11\); fill or drop"):
        run_train(compose_cfg(file_overrides(csv_file(tmp_path, frame))))


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
    with pytest.raises(UserError, match=r"has suffix '.txt'; readable files are .csv, .parquet or .npy"):
        run_train(compose_cfg(file_overrides(str(path))))


def test_input_size_contradicts_data(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"model.net.input_size=7 contradicts the data, which has 5 feature column\(s\)"):
        run_train(compose_cfg([*TINY, "model.net.input_size=7"]))


def test_string_for_an_int_in_a_group_without_schema(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"data.batch_size='abc' must be int"):
        run_train(compose_cfg([*TINY, "data.batch_size=abc"]))


def test_unknown_argument_added_to_a_group(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"model.net.hiden_size is not an argument of .*LSTMNet; valid ones: input_size, hidden_size"):
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
        ("optimizer.lr=-1", r"optimizer: Invalid learning rate: -1"),
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
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint at all")
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


# -- settings that contradict each other or would do nothing: refused before the first step ---------
@pytest.mark.parametrize(
    "overrides,match",
    [
        (["trainer.val_check_interval=1000"], r"trainer.val_check_interval=1000 is more than the \d+ training batches"),
        (["trainer.limit_val_batches=0"],
         r"trainer.limit_val_batches=0 switches validation off, but optimized_metric=val/loss, "
         r"callbacks.early_stopping.monitor=val/loss"),
        (["trainer.limit_val_batches=0", "scheduler=plateau", "callbacks.early_stopping=null"],
         r"scheduler=plateau \(model.monitor\)=val/loss watch\(es\) validation"),
        (["trainer.check_val_every_n_epoch=5"], r"check_val_every_n_epoch=5 is more than trainer.max_epochs=2"),
        (["optimized_metric=val/rmsee"], r"optimized_metric=val/rmsee is a metric that RegressionModule never logs; "
                                         r"did you mean val/rmse\? during training it logs: .*val/r2, val/rmse \(and "),
        (["callbacks.early_stopping.monitor=val/foo"], r"callbacks.early_stopping.monitor=val/foo is a metric"),
        (["callbacks.early_stopping.monitor=test/rmse"], r"callbacks.early_stopping.monitor=test/rmse is a metric"),
        (["seed=abc"], r"seed='abc' must be a whole number"),
        (["trainer.gradient_clip_val=-1"], r"trainer.gradient_clip_val=-1.0 must be > 0 \(e.g. 1.0\), or null"),
        (["scheduler=cyclic", "~scheduler.max_lr"], r"scheduler: CyclicLR missing a required argument: 'max_lr'; "
                                                    r"add scheduler.max_lr=<value>"),
        (["data.batch_size=64.5"], r"data.batch_size=64.5 must be int"),
        (["epochs=3"], r"epochs=3 and trainer.max_epochs=2 contradict each other"),
        (["optimized_mode=maximum"], r"optimized_mode='maximum' must be min or max"),
        (["trainer.max_epochs=0"], r"trainer.max_epochs=0 trains nothing; give at least 1"),
        (["trainer.limit_train_batches=0"], r"trainer.limit_train_batches=0 trains nothing"),
    ],
)
def test_settings_that_would_fail_or_do_nothing(compose_cfg, run_train, overrides, match):
    cfg = compose_cfg([*TINY, "logger=none", *overrides])
    with pytest.raises(UserError, match=match):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))  # refused before anything was trained


def test_epochs_shortcut_sets_max_epochs(compose_cfg):
    from trainlab.config.checks import apply_epochs_shortcut

    cfg = compose_cfg(["epochs=7"])
    apply_epochs_shortcut(cfg, command_line=["epochs=7"])
    assert cfg.trainer.max_epochs == 7
    apply_epochs_shortcut(cfg, command_line=["epochs=7", "trainer.max_epochs=7"])  # both, agreeing: fine
    with pytest.raises(UserError, match=r"epochs=7 and trainer.max_epochs=3 contradict"):
        apply_epochs_shortcut(cfg, command_line=["epochs=7", "trainer.max_epochs=3"])


def test_whole_floats_for_int_arguments_become_ints(compose_cfg):
    from trainlab.config.instantiate import check_node

    cfg = compose_cfg(["data.batch_size=64.0", "data.window=16.0"])
    check_node(cfg.data, "data")
    assert cfg.data.batch_size == 64 and isinstance(cfg.data.batch_size, int)
    assert isinstance(cfg.data.window, int)


def test_sweep_direction_follows_optimized_mode_or_is_refused(compose_cfg):
    from trainlab.config.checks import check_direction

    cfg = compose_cfg(["hparams_search=optuna", "optimized_mode=max", "optimized_metric=val/r2"])
    assert cfg.hydra.sweeper.direction == "maximize"
    check_direction(["maximize"], cfg)
    with pytest.raises(UserError, match=r"hydra.sweeper.direction=minimize contradicts optimized_mode=max .*"
                                        r"highest val/r2.*set optimized_mode=min alone"):
        check_direction(["minimize"], cfg)


# -- evaluate.py's own mistakes ---------------------------------------------------------------------
def _fake_run(tmp_path: Path, config_text: str) -> Path:
    run_dir = tmp_path / "fake_run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text(config_text)
    torch.save({"state_dict": {}, "epoch": 0}, run_dir / "checkpoints" / "last.ckpt")
    return run_dir


@pytest.mark.parametrize(
    "case,match",
    [
        ("no ckpt_path", r"ckpt_path is required: python evaluate.py ckpt_path=<run folder or .ckpt file>"),
        ("split=tset", r"split='tset' is not one of test, val"),
        ("corrupt config", r"config.yaml' is not readable YAML \(.*\); the run's config was damaged"),
        ("config without model", r"config.yaml has no model and no data: it is not \(or no longer\) the config"),
        ("config missing", r"has no .hydra/config.yaml; evaluate needs a run directory written by train.py"),
    ],
)
def test_evaluate_mistakes_get_one_line(compose_cfg, tmp_path, case, match):
    import evaluate as evaluate_script

    text = {"corrupt config": "model: {net: [unclosed\n", "config without model": "seed: 1\n"}.get(case, "seed: 1\n")
    run_dir = _fake_run(tmp_path, text)
    if case == "config missing":
        (run_dir / ".hydra" / "config.yaml").unlink()
    overrides = {"no ckpt_path": [], "split=tset": [f"ckpt_path={run_dir}", "split=tset"]}.get(case, [f"ckpt_path={run_dir}"])
    with pytest.raises(UserError, match=match):
        evaluate_script.evaluate(compose_cfg(overrides, config_name="eval"))


# -- a run refused at the start leaves no folder behind ---------------------------------------------
@pytest.mark.parametrize("override", ["seed=abc", "trainer.limit_val_batches=0"])
def test_a_refused_start_leaves_no_run_folder(compose_cfg, run_train, override, capsys):
    from trainlab.config.errors import report_user_errors
    from trainlab.run.outputs import discard_unstarted_run

    cfg = compose_cfg([*TINY, "logger=none", override])
    run_dir = Path(cfg.paths.output_dir)
    assert run_dir.is_dir()  # made by Hydra (here: the fixture) before the task starts
    with pytest.raises(SystemExit) as stopped, report_user_errors(on_error=discard_unstarted_run):
        run_train(cfg)
    assert stopped.value.code == 2
    assert not run_dir.exists()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: ") and line.endswith("nothing was run, so its run folder was removed")


# -- data files: shape and values ------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "case,match",
    [
        ("header only", r"data.source.path: '.*series.csv' has no data rows \(only a header, or nothing\)"),
        ("one row", r"'series' has 1 row\(s\), fewer than one window of data.window=16 \+ data.horizon=1"),
        ("inf", r"column 'a' in '.*series.csv' has an infinite value \(row 5: inf\)"),
        ("huge", r"column 'b' in '.*series.csv' has a value beyond ±1e\+18 \(row 0: .*e\+30\); fix or rescale it"),
        ("folder", r"data.source.path: '.*' is a folder; give the path of one .csv, .parquet or .npy file in it"),
        ("repeated names", r"names the column\(s\) \['a'\] more than once; rename them"),
        ("window longer than the data", r"'series' has 300 row\(s\), fewer than one window of data.window=400"),
    ],
)
def test_data_files_that_cannot_train(compose_cfg, run_train, tmp_path, case, match):
    frame = good_frame()
    extra = []
    if case == "header only":
        path = csv_file(tmp_path, frame.iloc[:0])
    elif case == "one row":
        path = csv_file(tmp_path, frame.iloc[:1])
    elif case == "inf":
        frame.loc[5, "a"] = np.inf
        path = csv_file(tmp_path, frame)
    elif case == "huge":
        frame["b"] *= 1e30  # float32 holds it, its standard deviation overflows
        path = csv_file(tmp_path, frame)
    elif case == "folder":
        csv_file(tmp_path, frame)
        path = str(tmp_path)
    elif case == "repeated names":
        path = _write(tmp_path, "series.csv", "a,a,y\n" + "".join(f"{i},{i % 5},{i % 3}\n" for i in range(300)))
    else:
        path, extra = csv_file(tmp_path, frame), ["data.window=400"]
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg(file_overrides(path, *extra)))


def test_one_target_column_without_brackets_is_one_column(compose_cfg, tmp_path):
    from trainlab.config.instantiate import build

    path = csv_file(tmp_path, good_frame())
    cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=y"])
    table = build(cfg.data.source, "data.source").load()
    assert table.target_names == ["y"] and table.feature_names == ["a", "b"]


def test_a_catalogue_class_too_small_for_every_split(compose_cfg, run_train, tmp_path):
    from trainlab.data.graph.catalogue import SyntheticGaia

    frame = SyntheticGaia(num_stars=600).frame()
    frame.loc[frame.index[0], "label"] = "lonely"
    path = tmp_path / "catalogue.csv"
    frame.to_csv(path, index=False)
    cfg = compose_cfg(["model=gnn", "data=catalogue", f"data.source.path={path}", "data.source.label_column=label",
                       "trainer.max_epochs=1", "hardware.num_threads=1", "logger=none"])
    with pytest.raises(UserError, match=r"class 'lonely' of 'catalogue' has 1 star\(s\), too few for the val and "
                                        r"test split\(s\) to hold one"):
        run_train(cfg)


# -- precision advice on a CPU is true for this CPU ---------------------------------------------
@pytest.mark.parametrize("native_bf16", [True, False])
def test_cpu_precision_advice_matches_the_cpu(compose_cfg, monkeypatch, native_bf16):
    from trainlab.run import hardware

    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: native_bf16)
    with pytest.raises(UserError) as refused:
        hardware.apply_hardware(compose_cfg(["hardware.precision=16-mixed"]).hardware)
    assert str(refused.value).endswith("on the CPU use 32-true" + (" (or bf16-mixed: this CPU computes bfloat16 "
                                                                   "natively)" if native_bf16 else ""))
    bf16 = compose_cfg(["hardware.precision=bf16-mixed"]).hardware
    if native_bf16:
        assert hardware.apply_hardware(bf16).precision == "bf16-mixed"
    else:
        with pytest.raises(UserError, match=r"this CPU has no native bfloat16 .*use hardware.precision=32-true"):
            hardware.apply_hardware(bf16)


@pytest.mark.parametrize(
    "override,match",
    [
        ("model.net._target_=trainlab.models.nets.lstm.LSTMNett",
         r"model.net._target_=trainlab.models.nets.lstm.LSTMNett: trainlab.models.nets.lstm has no 'LSTMNett'; "
         r"did you mean LSTMNet\?"),
        ("model._target_=trainlab.models.timeseries.RegresionModule", r"did you mean RegressionModule\?"),
        ("optimizer._target_=apex.optimizers.FusedAdam",
         r"optimizer._target_=apex.optimizers.FusedAdam: No module named 'apex'; install the package"),
    ],
)
def test_a_target_that_cannot_be_imported(compose_cfg, run_train, override, match):
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg([*TINY, override]))
