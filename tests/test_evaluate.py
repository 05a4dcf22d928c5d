"""evaluate.py in a user's hands, a week after training: other data files, overrides of the run's data,
moved and damaged run folders, checkpoints to choose from, outputs of repeated evaluations."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_ANY_DATA
from tests.families import FAMILIES
from trainlab.config.errors import UserError


def series_file(path: Path, rows: int = 200, columns: tuple[str, ...] = ("x", "y")) -> str:
    t = np.arange(rows)
    values = {"x": np.cos(t / 5), "y": 10 + np.sin(t / 4) + 0.01 * t, "z": np.sin(t / 3)}
    pd.DataFrame({c: values[c] for c in columns}).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def trained(tmp_path, compose_cfg, run_train):
    """A one-epoch run on a file with a feature x and a target y; returns its config."""
    cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={series_file(tmp_path / 'xy.csv')}",
                       "data.source.target_columns=[y]", "data.window=8", "data.ets_baseline=false", "logger=none",
                       "trainer.max_epochs=1"])
    run_train(cfg)
    return cfg


def evaluate_with(compose_cfg, run_dir: str, *overrides: str) -> dict:
    import evaluate as evaluate_script

    return evaluate_script.evaluate(compose_cfg([f"ckpt_path={run_dir}", "hardware.num_threads=1", *overrides],
                                                config_name="eval"))


def test_data_that_change_the_models_shape_are_refused_naming_the_override(trained, compose_cfg, tmp_path):
    run_dir = trained.paths.output_dir
    refusals = {  # override -> what the line says changed
        f"+data.source.path={series_file(tmp_path / 'y.csv', columns=('y',))}": r"other columns or channels: "
                                                                                 r"feature_mean has 2 value\(s\)",
        "+data.source.target_columns=[x,y]": r"other columns or channels: target_mean has 1 value\(s\) in the "
                                             r"checkpoint, 2 here",
    }
    for override, detail in refusals.items():
        with pytest.raises(UserError, match=rf"^{re.escape(override)} changes the model that '.*\.ckpt' holds "
                                            rf"\({detail}.*\); .* or leave the override out$"):
            evaluate_with(compose_cfg, run_dir, override)
    for override in ("+data.horizon=2", "+data.steps=2", "+data.target_inputs=false", "+data.window=4"):
        key = override.split("=")[0][1:]  # what the model was trained for: kept, even where the shapes would fit
        with pytest.raises(UserError, match=rf"^\{override}: the model in '.*' was trained with the run's own {key}, "
                                            r"and with another .* leave the override out, or train a run with it$"):
            evaluate_with(compose_cfg, run_dir, override)
    # the run's own file edited since training: no override to name, the file is
    series_file(Path(trained.data.source.path), columns=("y", "z", "x"))
    with pytest.raises(UserError, match=r"^the run's data no longer fit '.*' \(other columns or channels: feature_mean "
                                        r"has 2 value\(s\) in the checkpoint, 3 here\); was its file changed since training\?"):
        evaluate_with(compose_cfg, run_dir)
    # fewer rows than one window: the hint offers the data file, not the window the model keeps
    short = series_file(tmp_path / "short.csv", rows=5)
    with pytest.raises(UserError, match=r"has 5 row\(s\), fewer than one window .* \(evaluate.py sets the run's data "
                                        r"with a '\+': \+data.source.path=<value>; the model keeps the run's "
                                        r"data.window and data.horizon\)$"):
        evaluate_with(compose_cfg, run_dir, f"+data.source.path={short}")
    # a file of the same columns, other values and length: evaluated (with a warning, tests/test_series_checks.py)
    other = series_file(tmp_path / "longer.csv", rows=300)
    assert np.isfinite(evaluate_with(compose_cfg, run_dir, f"+data.source.path={other}")["metrics"]["test/rmse"])


def test_tensors_that_do_not_fit_are_named_before_any_is_loaded(trained):
    """The backstop behind the data's own checks: a net whose sizes differ from the checkpoint's tensors."""
    import torch

    from trainlab.run.checkpoint_path import load_checkpoint, resolve_checkpoint
    from trainlab.run.restore import restore

    saved = load_checkpoint(resolve_checkpoint(trained.paths.output_dir))
    saved["state_dict"]["net.head.weight"] = torch.zeros(3, 16)
    with pytest.raises(UserError, match=r"^the run's data no longer fit 'x.ckpt' \(the net built for them has "
                                        r"net.head.weight \(3, 16\) in the checkpoint, \(1, 16\) here\)"):
        restore(trained, saved, "x.ckpt")


@pytest.mark.parametrize("case", FAMILIES.values(), ids=FAMILIES.keys())
def test_every_family_keeps_what_its_model_was_trained_for(compose_cfg, case):
    """Each family's data module names the settings its model learned with; overriding one is refused
    before any data are read."""
    from hydra.utils import get_class

    from trainlab.run.restore import restore

    cfg = compose_cfg(case.tiny())
    kept = get_class(cfg.data._target_).TRAINED_WITH
    assert kept and all(key in cfg.data for key in kept)  # real keys of the family's data config
    with pytest.raises(UserError, match=rf"^\+data.{kept[0]}=7: the model in 'x.ckpt' was trained with the run's own "
                                        rf"data.{kept[0]}, and with another"):
        restore(cfg, {"state_dict": {}}, "x.ckpt", [f"+data.{kept[0]}=7"])


def test_split_all_scores_every_window_of_a_new_file_with_the_baselines_on_the_same_rows(trained, compose_cfg, tmp_path,
                                                                                         caplog):
    """split=all: a new file is test data from its first window to its last (the default split scores its last
    15 %), the baselines on the same windows, and the report names the rows; a file shorter than one window
    is refused in one line."""
    run_dir = trained.paths.output_dir
    new = series_file(tmp_path / "new.csv", rows=120)
    default = evaluate_with(compose_cfg, run_dir, f"+data.source.path={new}")
    assert default["extra"]["test/scored"].startswith("18 windows, target rows 102..119 (0-based, of 120): the last 15%")
    whole = evaluate_with(compose_cfg, run_dir, f"+data.source.path={new}", "split=all")
    # window 8, horizon 1: every target row from 8 on is scored
    assert whole["split"] == "all"
    assert whole["extra"]["test/scored"] == ("112 windows, target rows 8..119 (0-based, of 120): every window of the "
                                            "file (split=all)")
    values = pd.read_csv(new)["y"].to_numpy()
    last_value_rmse = np.sqrt(np.mean((values[8:] - values[7:-1]) ** 2))  # the baseline on exactly those rows
    assert whole["extra"]["test/baseline_last_value_rmse"] == pytest.approx(last_value_rmse, rel=1e-6)
    assert whole["metrics"]["test/rmse"] != default["metrics"]["test/rmse"]
    with caplog.at_level("WARNING", logger="trainlab.run.restore"):  # the new file: no word of training rows
        assert evaluate_with(compose_cfg, run_dir, "split=all")["extra"]["test/scored"].startswith("192 windows")
    warned = [r.getMessage() for r in caplog.records  # warnings only: an earlier test may have let INFO through
              if r.levelno >= logging.WARNING and "split=all" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("split=all on the data '") and "learned from" in warned[0]
    eight = series_file(tmp_path / "eight.csv", rows=8)  # window 8 + horizon 1 needs 9 rows
    with pytest.raises(UserError, match=r"^split=all: 'eight' has 8 rows, fewer than one window of data.window=8 \+ "
                                        r"data.horizon=1 \+ data.steps=1 - 1 = 9 rows, so there is nothing to score; "
                                        r"give a longer file \(evaluate.py .*\)$"):
        evaluate_with(compose_cfg, run_dir, f"+data.source.path={eight}", "split=all")


@pytest.mark.parametrize("case", [c for c in FAMILIES.values() if c.name != "timeseries"],
                         ids=[n for n, c in FAMILIES.items() if c.name != "timeseries"])
def test_split_all_is_refused_for_families_without_series_files(compose_cfg, case):
    from trainlab.run.restore import restore

    with pytest.raises(UserError, match=rf"^split=all scores every window of a series file; this is a {case.name} run"):
        restore(compose_cfg(case.tiny()), {"state_dict": {}}, "x.ckpt", whole_file=True)


@pytest.mark.slow
def test_evaluate_py_prints_lightnings_lines_once(trained, tmp_path):
    """evaluate.py imports Lightning after it routed Lightning's logs (train.py before): the handler that
    `import lightning` adds printed every line a second time, 'INFO: GPU available: False, used: False'
    above the same line in the run's format."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), f"ckpt_path={trained.paths.output_dir}",
                           "hardware.num_threads=1", f"paths.log_dir={tmp_path / 'eval'}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    assert printed.count("GPU available: False, used: False") == 1, printed
    assert "INFO: " not in printed


def test_an_evaluation_that_batches_otherwise_than_the_runs_test_says_so(compose_cfg, caplog):
    """evaluate.py tests on this machine's hardware: a graph run that tested in ego nets of 200 nodes
    (hardware.max_nodes_per_graph=200) was evaluated as one whole graph, and its test loss was off training's
    in its last digits without a word; with the run's value it is equal (tests/test_families.py)."""
    import copy
    import logging

    from trainlab.run.jobs import say_tested_otherwise

    run = compose_cfg([*FAMILIES["graph"].tiny(), "hardware.max_nodes_per_graph=200"])
    here = copy.deepcopy(run)
    here.hardware = compose_cfg([], config_name="eval").hardware  # as evaluate.py does
    here.data.batch_size = 64  # evaluate.py batch_size=64
    with caplog.at_level(logging.INFO, logger="trainlab.run.jobs"):
        say_tested_otherwise(run, here)
        say_tested_otherwise(run, run)
    assert [r.getMessage() for r in caplog.records] == [
        "evaluating with data.batch_size 256 -> 64, data.max_nodes_per_graph 200 -> null (evaluate.py takes this "
        "machine's hardware profile and its own batch_size): the metrics may differ from the run's own test line in "
        "their last digits; batch_size=256 hardware.max_nodes_per_graph=200 repeats that line"]
