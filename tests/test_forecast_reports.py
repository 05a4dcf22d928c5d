"""The time-series family's metrics and end-of-run reports on users' own series: exact far from
zero, honest about zero and constant targets, labelled with the evaluated split, advice that fits
the run and a seasonal naive that says when it was skipped."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from tests.conftest import TINY_ANY_DATA
from tests.test_forecasting import module, table_of, write_csv
from trainlab.callbacks.baselines import NO_SEASON, BaselineReport, RunSettings, advice, baseline_metrics, comparison
from trainlab.config.errors import UserError
from trainlab.data.timeseries.splits import split_rows
from trainlab.metrics.regression import forecast_scores
from trainlab.models.timeseries import RegressionModule


class LastInput(nn.Module):
    """Predicts the window's last input value: a forecast fixed by the test's inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1, -1:]  # (batch, 1)


def logged_metrics(pred_s: np.ndarray, y_s: np.ndarray, mean: float, std: float, scale: float) -> dict[str, float]:
    """The regression module's test metrics for standardised forecasts ``pred_s`` of ``y_s``."""
    model = RegressionModule(LastInput(), partial(torch.optim.SGD, lr=0.1), target_mean=[mean], target_std=[std],
                             mase_scale=[scale])
    x = torch.zeros(len(pred_s), 4, 1)
    x[:, -1, 0] = torch.from_numpy(pred_s).float()
    y = torch.from_numpy(y_s).float()[:, None]
    for rows in torch.arange(len(x)).split(64):  # several batches, as in a test epoch
        model._shared_step((x[rows], y[rows]), "test")
    return {k.split("/", 1)[1]: float(v) for k, v in model.test_metrics.compute().items()}


@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_metrics_are_exact_far_from_zero(offset):
    """A target around 1e9 (std 700) gets the figures float64 gives: R2 was 1.0000131 in float32."""
    rng = np.random.default_rng(0)
    y_s = np.sin(np.arange(500) / 5) + 0.5 * rng.normal(size=500)
    pred_s = np.sin(np.arange(500) / 5)
    mean, std, scale = offset + 3.0, 700.0, 500.0
    got = logged_metrics(pred_s, y_s, mean, std, scale)
    exact = forecast_scores((pred_s * std + mean)[:, None, None], (y_s * std + mean)[:, None, None], np.array([scale]))
    for name in ("rmse", "mase", "r2", "mape", "smape"):
        assert got[name] == pytest.approx(exact[name], rel=1e-4, abs=1e-9), name
    assert got["aaa"] == pytest.approx(1 - exact["mape"], rel=1e-4)
    assert 0.3 < got["r2"] < 0.9  # the noise's share, at any offset


def test_forecast_scores_r2_is_per_target_and_shift_invariant():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(50, 2, 2)) * [1.0, 100.0]
    pred = truth + rng.normal(size=truth.shape) * [0.5, 50.0]
    scale = np.array([1.0, 1.0])
    r2 = forecast_scores(pred, truth, scale)["r2"]
    per_target = [forecast_scores(pred[..., j : j + 1], truth[..., j : j + 1], scale[j : j + 1])["r2"] for j in (0, 1)]
    assert r2 == pytest.approx(np.mean(per_target))
    assert forecast_scores(pred + 1e9, truth + 1e9, scale)["r2"] == pytest.approx(r2, abs=1e-6)


def test_zero_targets_warn_once_naming_the_column(caplog):
    y = 10 + np.sin(np.arange(400) / 3)
    y[::7] = 0.0  # every 7th value
    with caplog.at_level(logging.WARNING):
        dm = module(table_of(y))
        dm.load()  # again, as train.py and Lightning do
        dm.setup("test")
        dm.model_kwargs()
    warnings = [r.getMessage() for r in caplog.records if "zero target" in r.getMessage()]
    assert len(warnings) == 1
    evaluated = int((y[split_rows(400, dm.val_fraction, dm.test_fraction)[0]:] == 0).sum())
    assert f"'y' {evaluated} of" in warnings[0] and "MAPE" in warnings[0] and "MASE" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        module(table_of(10 + np.sin(np.arange(400) / 3)))
    assert not [r for r in caplog.records if "zero target" in r.getMessage()]


def test_a_constant_target_is_refused_before_training():
    with pytest.raises(UserError, match=r"'y'.*constant in the training split"):
        module(table_of(np.full(300, 5.0)))
    # constant in training only: still nothing to learn
    with pytest.raises(UserError, match="constant"):
        module(table_of(np.concatenate([np.full(250, 5.0), np.arange(50.0)])))


@pytest.mark.parametrize("model_rmse,naive_rmse", [(0.0, 0.0), (0.0, 2.0), (1.5, 0.0)])
def test_zero_rmse_never_gives_inf_or_nan_ratios(model_rmse, naive_rmse):
    scores = {"last_value": {"rmse": naive_rmse}, "seasonal_naive": {"rmse": naive_rmse + 1}, "ets": {"rmse": 0.0}}
    line, warning = comparison(model_rmse, scores)
    text = line + (warning or "")
    assert "inf" not in text and "nan" not in text, text
    assert (warning is not None) == (model_rmse > naive_rmse)
    ratio = baseline_metrics(scores, model_rmse)["test/rmse_vs_best_naive"]
    assert not np.isnan(ratio) and (ratio == 1.0 if model_rmse == naive_rmse == 0 else True)


def test_labels_name_the_split():
    scores = {"last_value": {"rmse": 2.0}, "seasonal_naive": {"rmse": 3.0}}
    line, warning = comparison(4.0, scores, "val")
    assert line.startswith("val rmse 4 |") and "same val windows" in warning
    assert set(baseline_metrics(scores, 4.0, "val")) == {"val/baseline_last_value_rmse",
                                                         "val/baseline_seasonal_naive_rmse", "val/rmse_vs_best_naive"}


def test_advice_lists_only_what_the_run_does_not_use():
    everything = advice(RunSettings("none", False, 10, 12, True))
    for tip in ("window_scaling=last", "target_inputs=true", "data.window=24", "trainer.max_epochs"):
        assert tip in everything
    done = advice(RunSettings("last", True, 48, 12, False))
    assert "random walk" in done and "try" not in done
    assert "data.season_length" in advice(RunSettings("revin", True, 48, None, False))
    # evaluate.py does not know how training ended: no epochs advice
    assert "max_epochs" not in advice(RunSettings("last", True, 48, 12, None))
    line, warning = comparison(2.0, {"last_value": {"rmse": 1.0}}, settings=RunSettings("last", True, 48, 12, False))
    assert "random walk" in warning and "window_scaling" not in warning


@pytest.mark.parametrize("stopped_epoch,current_epoch,exhausted", [(0, 10, True), (4, 5, False), (0, 7, False)])
def test_the_callback_knows_whether_training_ran_every_epoch(stopped_epoch, current_epoch, exhausted):
    trainer = SimpleNamespace(early_stopping_callback=SimpleNamespace(stopped_epoch=stopped_epoch), max_epochs=10,
                              current_epoch=current_epoch)
    report = BaselineReport()
    report.on_train_end(trainer, None)
    assert report.epochs_exhausted is exhausted


def test_the_line_says_when_the_seasonal_naive_was_skipped():
    with_season = {"last_value": {"rmse": 2.0}, "seasonal_naive": {"rmse": 1.0}}
    assert NO_SEASON not in comparison(1.5, with_season)[0]
    assert f"| {NO_SEASON} ->" in comparison(1.5, {"last_value": {"rmse": 2.0}})[0]


def test_a_run_far_from_zero_reports_as_without_the_offset_and_evaluates_val(compose_cfg, run_train, tmp_path,
                                                                             caplog):
    """The trial's series: 500 daily rows of 1e9 + 1000 sin + noise, no time column (no season);
    then evaluate.py split=val."""
    import evaluate as evaluate_script

    rng = np.random.default_rng(0)
    wave = 1000 * np.sin(2 * np.pi * np.arange(500) / 7) + 300 * rng.normal(size=500)
    runs = {}
    for offset in (0.0, 1e9):
        folder = tmp_path / f"offset{offset:.0f}"
        folder.mkdir()
        path = write_csv(folder, pd.DataFrame({"y": offset + wave}))
        cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[y]",
                           "data.ets_baseline=false"])
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trainlab.callbacks.baselines"):
            runs[offset] = (cfg, run_train(cfg))
        assert any(NO_SEASON in r.getMessage() for r in caplog.records)  # training's end line
    plain, far = runs[0.0][1], runs[1e9][1]
    assert far["test/r2"] < 0.999 and far["val/r2"] < 0.999
    # the file's values stay float64 until standardised: the offset series trains like the plain one
    assert far["test/r2"] == pytest.approx(plain["test/r2"], abs=1e-3)
    assert far["test/rmse"] == pytest.approx(plain["test/rmse"], rel=1e-3)

    eval_cfg = compose_cfg([f"ckpt_path={runs[1e9][0].paths.output_dir}", "split=val"], config_name="eval")
    report = evaluate_script.evaluate(eval_cfg)
    assert report["val/comparison"].startswith(f"val rmse {report['metrics']['val/rmse']:.4g}")
    assert NO_SEASON in report["val/comparison"]
    # evaluate's own float64 figure of the model agrees with training's metric
    assert report["val/rmse_vs_best_naive"] == pytest.approx(
        report["val/baseline_last_value_rmse"] / report["metrics"]["val/rmse"], rel=1e-4)
    out_dir = Path(eval_cfg.paths.output_dir)
    assert not [k for k in json.loads((out_dir / "metrics.json").read_text()) if k.startswith("test/")]
    assert "test" not in (out_dir / "report.md").read_text().split("## Baselines")[1].split("## Inference")[0]


def test_evaluate_reports_each_target_of_a_multi_target_series(compose_cfg, run_train, tmp_path):
    """Pooled figures mix the targets' units (one around 10, one around 100): each gets its own."""
    import evaluate as evaluate_script

    rows = np.arange(300)
    path = tmp_path / "two.csv"
    pd.DataFrame({"y": 10 + np.sin(rows / 4), "z": 100 + 10 * np.cos(rows / 6)}).to_csv(path, index=False)
    cfg = compose_cfg(["data=file", f"data.source.path={path}", "data.source.target_columns=[y,z]", "data.window=8",
                       "data.ets_baseline=false", "trainer.max_epochs=1", "model.net.hidden_size=8"])
    run_train(cfg)
    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={cfg.paths.output_dir}"], config_name="eval"))
    y, z = report["test/y_rmse"], report["test/z_rmse"]
    assert report["metrics"]["test/rmse"] == pytest.approx(np.sqrt((y**2 + z**2) / 2), rel=1e-4)
    assert {"test/y_mase", "test/z_mase", "test/y_r2", "test/z_smape"} <= set(report)
