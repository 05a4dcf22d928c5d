"""The time-series family's metrics and end-of-run reports on users' own series: exact far from
zero, honest about zero and constant targets, labelled with the evaluated split, advice that fits
the run and a seasonal naive that says when it was skipped."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from tests.conftest import TINY, TINY_ANY_DATA
from tests.test_forecasting import module, table_of, write_csv
from trainlab.callbacks.baselines import NO_SEASON, SEASON_OFF, BaselineReport, RunSettings, advice, baseline_metrics, comparison
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
                             mase_scale=[scale], window_scaling="none")  # the forecast is the input itself
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


def test_r2_of_a_constant_target_is_nan_in_training_and_evaluation_alike(caplog):
    """A test split where the series stays at 3.0: the exact last value scored R2 NaN (forecast_scores)
    and a model that missed it by 2e-4 scored 1.0 (torchmetrics' convention); now NaN both, said once."""
    rng = np.random.default_rng(0)
    flat, varied = np.full(90, 2.5), rng.normal(size=90)
    for truth in (flat, varied):
        pred = truth + 1e-3 * rng.normal(size=90)
        logged = logged_metrics(pred, truth, 0.0, 1.0, 1.0)["r2"]
        expected = forecast_scores(pred[:, None, None], truth[:, None, None], np.ones(1))["r2"]
        assert (np.isnan(logged) and np.isnan(expected)) if truth is flat else logged == pytest.approx(expected, abs=1e-4)
    y = np.sin(np.arange(400) / 4)
    y[340:] = 3.0  # the test rows
    [warning] = [w for w in data_warnings(y, caplog) if "constant targets" in w]
    assert "'y' in the test rows" in warning and "validation" not in warning and "NaN" in warning
    from trainlab.evaluation.timeseries import notes

    dm = module(table_of(y))
    assert "the test targets of 'y' are constant: R2 is undefined there (NaN)" in " ".join(
        notes(dm, "test", dm.truth("test") + 0.1, dm.truth("test"), ["y"]))
    assert not [w for w in data_warnings(np.sin(np.arange(400) / 4), caplog) if "constant targets" in w]


def test_r2_of_one_sample_is_nan_not_a_traceback():
    """evaluate.py split=all of a file of one window (two rows at data.window=1) ended in torchmetrics' "ValueError:
    Needs at least two samples to calculate r2 score"; R2 is undefined there, NaN as forecast_scores gives it."""
    logged = logged_metrics(np.array([0.5]), np.array([1.0]), 0.0, 1.0, 1.0)
    assert np.isnan(logged["r2"]) and logged["rmse"] == pytest.approx(0.5)
    assert np.isnan(forecast_scores(np.full((1, 1, 1), 0.5), np.ones((1, 1, 1)), np.ones(1))["r2"])


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


def test_the_scoring_warnings_name_the_rows_scored_and_predict_gets_none(caplog):
    """evaluate.py split=all scores every row: its zero-target and dominating-value warnings said 'the validation
    and test rows' (with the count of all 400). predict.py scores nothing and scales with the checkpoint's
    statistics: it warned that MAPE would be meaningless, about rows it never scored."""
    from tests.test_forecasting import Fixed
    from trainlab.data.timeseries.module import TimeSeriesDataModule

    y = 10 + np.sin(np.arange(400) / 3)
    y[::7] = 0.0
    y[20] = 1e6
    for forecast in (False, True):
        caplog.clear()
        dm = TimeSeriesDataModule(Fixed(table_of(y)), window=8, target_inputs=True, ets_baseline=False)
        dm.score_whole_file(forecast=forecast)
        with caplog.at_level(logging.WARNING, logger="trainlab.data.timeseries.module"):
            dm.load()
        said = [r.getMessage() for r in caplog.records]
        if forecast:
            assert said == []
            continue
        zero = next(w for w in said if "zero target" in w)
        dominating = next(w for w in said if "dominate the rows scored" in w)
        assert "the rows scored (split=all: every row) of 'fixed' ('y' 58 of 400 zero)" in zero
        assert "'y' 1e+06 at row 20" in dominating and not [w for w in said if "validation and test" in w]


def data_warnings(y: np.ndarray, caplog) -> list[str]:
    """The warnings the data module logs for a one-column series ``y``."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab.data.timeseries.module"):
        module(table_of(y))
    return [r.getMessage() for r in caplog.records]


def test_a_value_that_dominates_the_training_scaling_is_named(caplog):
    """One reading of 1e6 among values of 1 made the training std 4.9e4: the rest became ~0 in standard
    units, and the model lost 9x to the seasonal naive with no word before the end line."""
    rng = np.random.default_rng(0)
    wave = np.sin(np.arange(400) / 4) + 0.1 * rng.normal(size=400)
    spiked = wave.copy()
    spiked[100] = 1e6
    [warning] = [w for w in data_warnings(spiked, caplog) if "dominate" in w]
    assert "'y' 1e+06 at row 100" in warning and "remove it" in warning
    counts = rng.poisson(3, 400) * (rng.random(400) < 0.15)  # intermittent demand: its peaks are the series
    shifted = wave + 20 * (np.arange(400) > 150)  # a level shift inside the training rows
    for y in (wave, counts, shifted):
        assert not [w for w in data_warnings(y, caplog) if "dominate" in w]
    spiked = wave.copy()
    spiked[370] = 1e6  # in the test rows: every RMSE is mostly its error
    [warning] = [w for w in data_warnings(spiked, caplog) if "dominate" in w]
    assert "the validation and test rows" in warning and "'y' 1e+06 at row 370" in warning and "RMSE" in warning


def test_a_value_that_flattens_the_rest_into_one_float32_value_is_refused():
    """One 1e12 among values of 1 (a unit slip, a sensor's error code) left every other training value one
    float32 number in standard units: training ran to a loss of exactly 0, R2 NaN, after a warning alone."""
    rng = np.random.default_rng(0)
    wave = np.sin(np.arange(400) / 4) + 0.1 * rng.normal(size=400)
    counts = rng.poisson(3, 400).astype(float)  # integer counts: 11 distinct values, all kept below 1e12
    for y, features in ((wave, None), (counts, None), (wave, np.cos(np.arange(400) / 7)[:, None])):
        spiked = (features if features is not None else y).copy()
        spiked[100] = 1e12
        name = "f0" if features is not None else "y"
        table = table_of(y, spiked) if features is not None else table_of(spiked)
        with pytest.raises(UserError, match=rf"a few extreme values set the scaling of 'fixed': '{name}' 1e\+12 at row "
                                            r"100 \(std .*: its \d+ distinct training values become [12] in float32 "
                                            r"standard units\); .* empty its cell \(data.missing fills it\)"):
            module(table)


def test_later_values_beyond_the_training_range_are_named(caplog):
    """A strong trend puts the test split above every training value: the model, scaled on the
    training rows, must extrapolate (with window_scaling=none it lost 41x to the last value)."""
    rows = np.arange(400.0)
    [warning] = [w for w in data_warnings(np.sin(rows / 4) + 0.1 * rows, caplog) if "training range" in w]
    assert "'y' " in warning and "% of them (training " in warning and "model.window_scaling=last" in warning
    assert not [w for w in data_warnings(np.sin(rows / 4), caplog) if "training range" in w]


def test_the_report_says_when_mape_is_meaningless_and_forecasts_of_counts_go_below_zero(tmp_path):
    """Intermittent demand (counts, 80 % zeros): report.md showed MAPE 337250 and AAA -337249 without a
    word, and 7 of 90 forecasts below 0 went unremarked."""
    from trainlab.evaluation import write_report
    from trainlab.evaluation.timeseries import notes

    rng = np.random.default_rng(0)
    counts = (rng.poisson(3, 400) * (rng.random(400) < 0.2)).astype(float)
    dm = module(table_of(counts))
    true = dm.truth("test")
    pred = true - 0.5  # below 0 wherever the truth is 0
    written = notes(dm, "test", pred, true, ["y"])
    assert len(written) == 2 and "test windows ('y'" in written[0] and "MAPE" in written[0]
    zeros = int((true == 0).sum())
    rmse = np.sqrt(np.mean((np.maximum(pred, 0) - true) ** 2))
    assert written[1].startswith(f"{zeros} of {true.size} forecasts of 'y' are below 0") and f"-> {rmse:.4g})" in written[1]
    assert notes(dm, "test", true + 0.5, true, ["y"]) == written[:1]  # none below 0
    signed = module(table_of(np.sin(np.arange(400) / 4) + 0.01))  # negative in training too: forecasts may be
    assert not [n for n in notes(signed, "test", signed.truth("test") - 5, signed.truth("test"), ["y"]) if "below 0" in n]
    report = {"checkpoint": "c", "run_dir": "r", "split": "test", "metrics": {"test/mape": 3e5}, "latency": {},
              "plots": [], "notes": written}
    write_report(report, tmp_path)
    assert f"**Read with care:**\n\n- {written[0]}\n- {written[1]}" in (tmp_path / "report.md").read_text()


def test_a_feature_with_one_value_in_every_training_row_is_named(caplog):
    """A holiday flag that is 0 in every training row carried nothing and was left unscaled without a word."""
    rows = np.arange(300.0)
    flag = np.zeros((300, 1))
    flag[250:] = 1.0  # holidays only after the training rows
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab.data.timeseries.module"):
        module(table_of(np.sin(rows / 4), features=flag))
        module(table_of(np.sin(rows / 4), features=np.cos(rows / 4)[:, None]))
    [warning] = [r.getMessage() for r in caplog.records if "one value in every training row" in r.getMessage()]
    assert "['f0'] of 'fixed'" in warning and "data.source.feature_columns" in warning


def test_a_constant_target_is_refused_before_training(caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(UserError, match=r"'y'.*constant in the training split"):
        module(table_of(np.full(300, 5.0)))
    assert "R2" not in caplog.text  # a warning on R2 of the validation and test rows came first (05_const.csv)
    # constant in training only: still nothing to learn
    with pytest.raises(UserError, match="constant"):
        module(table_of(np.concatenate([np.full(250, 5.0), np.arange(50.0)])))


@pytest.mark.parametrize("window, refused", [
    (48, r"'fixed' has 12 row\(s\), fewer than one window of data.window=48 \+ data.horizon=1"),
    (8, r"the training split of 'fixed' \(8 rows\) holds no window of data.window=8"),
])
def test_a_series_too_short_for_its_window_is_refused_before_any_word_on_its_season_or_values(caplog, window,
                                                                                              refused):
    """Twelve months (short12.csv) logged 'season length 12 ... does not fit ... going on without a season' and 'the
    validation and test values ... leave the training range' before the refusal: warnings about a run that never
    starts."""
    with caplog.at_level(logging.INFO), pytest.raises(UserError, match=refused):
        module(table_of(np.arange(12.0), season=12), window=window, ets_baseline=True)
    assert "season" not in caplog.text and "training range" not in caplog.text
    with caplog.at_level(logging.INFO):
        module(table_of(np.arange(40.0), season=12), window=4, ets_baseline=True)
    assert "season length 12, the source's own for 'fixed', does not fit" in caplog.text  # once it runs, it is said


@pytest.mark.parametrize("model_rmse,naive_rmse", [(0.0, 0.0), (0.0, 2.0), (1.5, 0.0)])
def test_zero_rmse_never_gives_inf_or_nan_ratios(model_rmse, naive_rmse):
    scores = {"last_value": {"rmse": naive_rmse}, "seasonal_naive": {"rmse": naive_rmse + 1}, "ets": {"rmse": 0.0}}
    line, warning = comparison(model_rmse, scores)
    text = line + (warning or "")
    assert "inf" not in text and "nan" not in text, text
    assert (warning is not None) == (model_rmse > naive_rmse)
    ratio = baseline_metrics(scores, model_rmse)["test/rmse_vs_best_naive"]
    assert not np.isnan(ratio) and (ratio == 1.0 if model_rmse == naive_rmse == 0 else True)


def test_a_naive_forecast_exact_up_to_rounding_is_exact():
    """An hourly series a formula made (100 + 10 sin(2 pi t / 24)) repeats its day up to float64 rounding: the
    seasonal naive scored rmse 5.9e-14 and the end line read 'seasonal naive 5.907e-14 | ... ->
    25941042775384.81x WORSE than the seasonal naive' (09_dst_offsets.csv); it is exact, as a zero RMSE is."""
    from tests.test_forecasting import Fixed
    from trainlab.data.timeseries.module import TimeSeriesDataModule
    from trainlab.data.timeseries.table import SeriesTable

    y = 100 + 10 * np.sin(2 * np.pi * np.arange(480) / 24)
    assert np.abs(y[24:] - y[:-24]).max() > 0  # not equal as floats
    dm = TimeSeriesDataModule(Fixed(SeriesTable(np.zeros((480, 0)), y[:, None], [], ["y"], "formula", 24)),
                              window=8, target_inputs=True, ets_baseline=False)
    dm.setup("fit")
    scores = dm.baseline_scores("test")
    assert scores["seasonal_naive"]["rmse"] == 0.0 and scores["seasonal_naive"]["mase"] == 0.0
    line, warning = comparison(1.5, scores)
    assert line.endswith("WORSE than the seasonal naive, which is exact (rmse 0)") and warning is not None
    near = forecast_scores(np.array([[[1e9 + 1.0]]]), np.array([[[1e9]]]), np.ones(1))
    assert near["rmse"] == 1.0  # an error of 1 at 1e9 is an error (1e-9 of the value, far above rounding)


def test_a_near_tie_is_written_with_the_digits_that_tell_it_apart():
    """A model one epoch in that echoes the last value (30_one_series.csv) ended '1.00x WORSE than the last value'
    and 'THE MODEL LOSES ...: last value rmse 1.314 < model 1.314'."""
    line, warning = comparison(1.31412, {"last_value": {"rmse": 1.31405}, "ets": {"rmse": 1.31410}})
    assert line.startswith("test rmse 1.3141 | last value 1.314 | ETS 1.314 |")  # 1.31405 to 5 digits: 1.3140
    assert "-> 1.0001x WORSE than the last value; ETS is 1.00002x better" in line
    assert "last value rmse 1.314 < model 1.3141" in warning
    assert comparison(1.5, {"last_value": {"rmse": 2.0}})[0] == "test rmse 1.5 | last value 2 | " \
        f"{NO_SEASON} -> 1.33x better than the best naive"


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
    # evaluate.py does not know how training ended: no epochs advice, and no claim that it ran to early stopping
    # (it said so of a 3-epoch run that had stopped at trainer.max_epochs=3, which train.py's own warning named)
    unknown = advice(RunSettings("last", True, 48, 12, None))
    assert "max_epochs" not in unknown and "training until early stopping) are already" not in unknown
    assert "not known here" in unknown and "stopped_by" in unknown
    line, warning = comparison(2.0, {"last_value": {"rmse": 1.0}}, settings=RunSettings("last", True, 48, 12, False))
    assert "random walk" in warning and "window_scaling" not in warning


@pytest.mark.parametrize("stopped_epoch,current_epoch,exhausted", [(0, 10, True), (4, 5, False), (0, 7, False)])
def test_the_callback_knows_whether_training_ran_every_epoch(stopped_epoch, current_epoch, exhausted):
    trainer = SimpleNamespace(early_stopping_callback=SimpleNamespace(stopped_epoch=stopped_epoch), max_epochs=10,
                              current_epoch=current_epoch)
    report = BaselineReport()
    report.on_train_end(trainer, None)
    assert report.epochs_exhausted is exhausted


@pytest.mark.parametrize("rank", [0, 1])
def test_only_rank_0_of_a_ddp_run_fits_and_logs_the_baselines(rank):
    """Every rank of a DDP run fitted ETS on the whole test split (the same data, the same fits: work done
    twice over on the run's cores) and logged the result; the model's RMSE is still computed on every rank,
    since that gathers the metric's states from all of them."""
    import torch

    class RMSE:
        weight = torch.tensor(4.0)
        computed = 0

        def compute(self):
            RMSE.computed += 1
            return torch.tensor(2.0)

    fitted, logged = [], []
    datamodule = SimpleNamespace(truth=lambda split: np.zeros(4),
                                 baseline_scores=lambda split, windows: fitted.append(split) or {
                                     "last_value": {"rmse": 1.0}})
    trainer = SimpleNamespace(datamodule=datamodule, is_global_zero=rank == 0, global_rank=rank, world_size=2,
                              fast_dev_run=False)
    module = SimpleNamespace(test_metrics={"test/rmse": RMSE()}, steps=1, target_std=[1.0],
                             log=lambda key, value, **kwargs: logged.append((key, kwargs)))
    report = BaselineReport()
    report.on_test_epoch_end(trainer, module)
    assert RMSE.computed == 1
    assert fitted == (["test"] if rank == 0 else [])
    assert logged == ([("test/baseline_last_value_rmse", {"rank_zero_only": True}),
                       ("test/rmse_vs_best_naive", {"rank_zero_only": True})] if rank == 0 else [])


def test_the_line_says_when_the_seasonal_naive_was_skipped():
    with_season = {"last_value": {"rmse": 2.0}, "seasonal_naive": {"rmse": 1.0}}
    assert NO_SEASON not in comparison(1.5, with_season)[0]
    assert f"| {NO_SEASON} ->" in comparison(1.5, {"last_value": {"rmse": 2.0}})[0]
    # data.season_length=0 said there is none: the line said 'set data.season_length' all the same
    off = RunSettings("last", True, 48, None, False, season_off=True)
    line, warning = comparison(2.5, {"last_value": {"rmse": 2.0}}, settings=off)
    assert f"| {SEASON_OFF} ->" in line and NO_SEASON not in line and "data.season_length" not in warning
    dm = module(table_of(np.sin(np.arange(300) / 4)), season_length=0)
    assert RunSettings.of(SimpleNamespace(), dm).season_off and not RunSettings.of(SimpleNamespace(), module(
        table_of(np.sin(np.arange(300) / 4)))).season_off


def test_a_season_dropped_for_too_few_training_rows_is_named_not_set(caplog):
    """30 daily rows (06_short.csv): the step's season 7 needs 24 training rows for ETS, the split has 22; the
    end line said 'seasonal naive: no season length (set data.season_length)', which sets what is then refused,
    and the warning did not say that without ETS the seasonal naive keeps it (two cycles: 14 rows)."""
    y = np.sin(2 * np.pi * np.arange(30) / 7) + 0.1 * np.arange(30)
    with caplog.at_level(logging.WARNING, logger="trainlab.data.timeseries.seasons"):
        dm = module(table_of(y, season=7), window=4, ets_baseline=True)
    assert dm.season_length is None and "data.ets_baseline=false to keep it for the seasonal naive" in caplog.text
    settings = RunSettings.of(SimpleNamespace(), dm)
    line, warning = comparison(2.5, {"last_value": {"rmse": 2.0}}, settings=settings)
    assert "| seasonal naive: none (season length 7 does not fit the training rows) ->" in line
    assert NO_SEASON not in line and "data.season_length" not in warning
    assert module(table_of(y, season=7), window=4).season_length == 7  # without ETS: two cycles fit


def test_evaluate_pys_word_on_a_dropped_season_is_about_its_own_scale_rows_and_command_line(caplog):
    """evaluate.py split=all on 20 monthly rows said '... the training split has 20; going on without a season (no
    seasonal naive baseline, MASE scaled by the one-step naive); give data.season_length=<steps>': its MASE is the
    checkpoint's, every row of the file counts, and its command line takes +data.season_length."""
    from tests.test_forecasting import Fixed
    from trainlab.data.timeseries.module import TimeSeriesDataModule

    y = np.sin(2 * np.pi * np.arange(20) / 12) + 0.1 * np.arange(20)
    dm = TimeSeriesDataModule(Fixed(table_of(y, season=12)), window=4, target_inputs=True, ets_baseline=True)
    dm.of_a_saved_run()
    dm.score_whole_file()
    with caplog.at_level(logging.WARNING):
        dm.load()
    assert ("season length 12, the source's own for 'fixed', does not fit: it needs 34 rows for the ETS baseline, the "
            "file has 20; going on without a season (no seasonal naive baseline, MASE with the checkpoint's scale); "
            "give +data.season_length=<steps> that fits, or 0 to say none") in caplog.text


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


def test_a_series_around_1e_9_trains_and_scores_like_the_same_series_around_1(compose_cfg, run_train, tmp_path,
                                                                               caplog):
    """Absolute thresholds took a series of 1e-9 values for constant (refused), its values for zeros (MAPE
    clamped at 1.17e-6 read ~0.001: 'nearly perfect') and its MASE scale for 0 (set to 1): scale-free now."""
    rng = np.random.default_rng(0)
    wave = 2 + np.sin(2 * np.pi * np.arange(300) / 12) + 0.1 * rng.normal(size=300)
    runs = {}
    for unit in (1.0, 1e-9):
        folder = tmp_path / f"unit{unit:g}"
        folder.mkdir()
        path = write_csv(folder, pd.DataFrame({"y": unit * wave}))
        cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[y]",
                           "data.window=12", "data.season_length=12", "data.ets_baseline=false"])
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            runs[unit] = run_train(cfg)
        assert not [r for r in caplog.records if "zero target" in r.getMessage()]
    plain, tiny = runs[1.0], runs[1e-9]
    assert tiny["test/rmse"] == pytest.approx(1e-9 * plain["test/rmse"], rel=1e-3)
    for key in ("test/mape", "test/smape", "test/mase", "test/r2", "test/baseline_seasonal_naive_mape",
                "test/baseline_last_value_mase", "test/rmse_vs_best_naive"):
        assert tiny[key] == pytest.approx(plain[key], rel=1e-3), key
    assert 0.01 < tiny["test/mape"] < 1


@pytest.mark.parametrize(("override", "batches", "cause"), [
    ("trainer.limit_test_batches=2", 2, "trainer.limit_test_batches"),
    ("debug=fdr", 1, "trainer.fast_dev_run"),  # its line named trainer.limit_test_batches, which nobody set
])
def test_a_test_cut_short_compares_the_baselines_on_the_windows_the_model_saw(compose_cfg, run_train, caplog,
                                                                              override, batches, cause):
    """trainer.limit_test_batches=2 scored the model on 64 windows and the baselines on all 90 of the
    split, and the line said 'on the same test windows'."""
    from hydra.utils import instantiate

    cfg = compose_cfg([*TINY, "data.ets_baseline=false", "data.batch_size=16", override])
    with caplog.at_level(logging.INFO, logger="trainlab.callbacks.baselines"):
        metrics = run_train(cfg)
    dm = instantiate(cfg.data)
    dm.setup("test")
    seen, total = batches * 16 * cfg.data.val_batch_multiplier, len(dm.truth("test"))
    assert seen < total
    assert f"(on the first {seen} of {total} test windows: {cause})" in caplog.text
    assert metrics["test/baseline_last_value_rmse"] == pytest.approx(
        dm.baseline_scores("test", seen)["last_value"]["rmse"], rel=1e-6)
    assert metrics["test/baseline_last_value_rmse"] != pytest.approx(dm.baseline_scores("test")["last_value"]["rmse"])


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


def shuffled_stores(tmp_path: Path, change) -> str:
    """Three stores of 200 days each, rows shuffled (as a database export may give them); ``change``
    edits the frame (in file order) first."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2021-01-01", periods=200, freq="D").strftime("%Y-%m-%d")
    frame = pd.DataFrame({"store": np.repeat(["a", "b", "c"], 200), "date": np.tile(days, 3),
                          "sales": np.tile(np.sin(np.arange(200) / 4), 3) + rng.normal(0, 0.1, 600)})
    change(frame)
    return write_csv(tmp_path, frame.sample(frac=1, random_state=0))


@pytest.mark.parametrize("change,missing,message", [
    (lambda f: f.__setitem__("sales", f["sales"].where(f.index != 250, 1e6)), "interpolate",
     "'sales' 1e+06 at 2021-01-51"),  # row 250: store b, day 50
    (lambda f: f.__setitem__("sales", f["sales"].where(f.index != 250)), "refuse",
     "1 row(s) with missing values in ['sales'] (first at 2021-01-51"),
    (lambda f: f.__setitem__("sales", f["sales"].astype(object).where(f.index != 250, "unknown")), "interpolate",
     "column 'sales' in '{path}' is not numeric (2021-01-51"),
])
def test_rows_of_a_file_of_several_series_are_named_by_their_time_and_series(tmp_path, caplog, change, missing,
                                                                               message):
    """Messages named 'row 3010': a row of the table after sorting and pooling, not of the user's file,
    where it was row 1067. Now the time as the file writes it and the series."""
    from trainlab.data.timeseries.module import TimeSeriesDataModule
    from trainlab.data.timeseries.sources import TableFile

    path = shuffled_stores(tmp_path, change)
    day = pd.Timestamp("2021-01-01") + pd.Timedelta(days=50)
    message = message.replace("2021-01-51", f"{day:%Y-%m-%d} in series b").replace("{path}", path)
    source = TableFile(path, ["sales"], time_column="date", series_column="store")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab.data.timeseries.module"):
        try:
            TimeSeriesDataModule(source, window=8, target_inputs=True, ets_baseline=False, missing=missing).setup("fit")
        except UserError as exc:
            caplog.records.append(logging.makeLogRecord({"msg": str(exc)}))
    assert [r.getMessage() for r in caplog.records if message in r.getMessage()], caplog.text


def test_a_row_added_for_a_missing_time_step_is_named_so():
    from trainlab.data.timeseries.table import SeriesTable

    from trainlab.data.timeseries.grids import Grid

    def grid(positions: list[int], written: list[Any]) -> Grid:
        return Grid(np.array(positions), "1 day", None, written=pd.array(written))

    times = (grid([0], ["2021-01-01"]), grid([0, 2], ["2021-01-02", "2021-01-04"]), None)
    table = SeriesTable(np.zeros((6, 0)), np.zeros((6, 1)), [], ["y"], "t", series_rows=(("a", 1), ("b", 3), ("c", 2)),
                        times=times)
    assert [table.row_name(r) for r in range(6)] == ["2021-01-01 in series a", "2021-01-02 in series b",
                                                     "row 1 of series b, a time step missing from the file (after 2021-01-02)",
                                                     "2021-01-04 in series b", "row 0 of series c", "row 1 of series c"]
    assert table_of(np.zeros(5)).row_name(3) == "row 3"
    numbers = (grid([0, 1], np.array([1990, 1991])),)
    assert SeriesTable(np.zeros((2, 0)), np.zeros((2, 1)), [], ["y"], "t", times=numbers).row_name(1) == "time 1991"


def test_a_mase_scale_that_fell_back_is_said_once_in_the_log_and_in_the_records(caplog, tmp_path):
    """A quarterly series repeating its year exactly in training (seasonal naive exact: no error to scale by) had its
    MASE scaled by 1, its MAE, and a season dropped for too few training rows the one-step naive's: neither reached
    training_summary.json or evaluate.py's report, and the first not even the log."""
    from trainlab.callbacks.records import RunRecords
    from trainlab.evaluation.timeseries import notes

    t = np.arange(80)
    periodic = np.sin(2 * np.pi * t / 4) + (t >= 56) * 0.1 * t  # exact in the training rows, then a trend
    with caplog.at_level(logging.WARNING):
        dm = module(table_of(periodic, season=4))
    exact = ("MASE of 'y' is its mean absolute error, not scaled (scale 1): the seasonal naive (lag 4) is exact on the "
             "training rows, leaving no error to scale by")
    assert dm.score_notes() == [exact] and [r.getMessage() for r in caplog.records if "MASE" in r.getMessage()] == [exact]
    assert notes(dm, "test", dm.truth("test"), dm.truth("test"), ["y"])[0] == exact  # evaluate.py's report
    state = dm.state_dict()
    assert state["mase_notes"] == [exact]
    other = module(table_of(np.sin(t / 3) + 0.05 * t, season=4))  # evaluate.py on other data: the checkpoint's scale
    assert other.score_notes() == []
    other.load_state_dict(state)
    assert other.score_notes() == [exact]

    caplog.clear()
    y = np.sin(2 * np.pi * np.arange(30) / 7) + 0.1 * np.arange(30)
    with caplog.at_level(logging.WARNING):
        dropped = module(table_of(y, season=7), window=4, ets_baseline=True)
    assert dropped.score_notes() == ["MASE is scaled by the one-step naive's errors, not by those of the seasonal naive "
                                     "of season length 7 (the source's), which does not fit the training rows"]
    assert len([r for r in caplog.records if "MASE" in r.getMessage()]) == 1  # the season's own warning says it

    (tmp_path / "training_summary.json").write_text("{}")  # the test's records, as training wrote them
    trainer = SimpleNamespace(callback_metrics={"test/mase": torch.tensor(0.5)}, is_global_zero=True, datamodule=dm,
                              loggers=[])
    RunRecords(str(tmp_path)).on_test_end(trainer, None)
    written = json.loads((tmp_path / "training_summary.json").read_text())
    assert written["test"] == {"test/mase": 0.5} and written["notes"] == [exact]


def test_series_whose_own_mase_is_not_scaled_are_named():
    """Several series pool their naive errors; one constant in its training rows has none of its own, and its
    MASE among evaluate.py's per-series figures was its MAE without a word."""
    from trainlab.data.timeseries.baselines import mase_notes

    rows = np.arange(50.0)
    blocks = [np.sin(rows / 3)[:, None], np.full((50, 1), 4.0), (rows / 7)[:, None]]
    assert mase_notes(blocks, None, ["sales"], ["A", "B", "C"]) == [
        "1 of 3 series (B) have no error of the one-step naive of their own in their training rows (too few rows, or "
        "repeated exactly): their own MASE (evaluate.py's per-series figures) is their mean absolute error, not scaled"]
    assert mase_notes(blocks[:1] + blocks[2:], None, ["sales"], ["A", "C"]) == []


def test_one_series_and_many_at_once_draw_the_rounding_line_in_the_same_place():
    """A series' MASE scale falls back to 1 where its naive errors are within float64 rounding of its values: decided
    for the pooled series by constant_columns and for each series of many at once by _unscaled_series (vectorised),
    both through trainlab.data.rounding.
    Series of two rows whose one naive error is exactly at that threshold, a step of float64 below it and above it:
    both must draw the line in the same place (a changed threshold or comparison in one of them moves it)."""
    from trainlab.data.rounding import ROUNDING
    from trainlab.data.timeseries.baselines import _unscaled_series, mase_scale

    error = 2.0 ** -40  # rows L and L - error: the naive error is exactly `error`, the largest value L
    edge = error / ROUNDING
    assert ROUNDING * edge == error  # the rounding threshold is met exactly, not approximately
    tops = [np.nextafter(edge, 0.0), edge, np.nextafter(np.nextafter(edge, 2.0), 2.0), 0.5, 2.0]
    blocks = [np.array([[top], [top - error]]) for top in tops]
    alone = [mase_scale(block, None)[0] == 1.0 for block in blocks]
    assert alone == [False, True, True, False, True]  # below the edge, on it, above it; far off either side
    assert _unscaled_series(blocks, 1).tolist() == alone
