"""Forecast metrics that stay exact on series far from zero (a target around 1e9).

The regression module's metrics run in float32 on the device. Differences of values in original
units (``ŷ - y`` at 1e9, or R2's sums of squares around a mean of 1e9) cancel there, so every metric
here is fed quantities that are already well conditioned: the error computed in the data module's
standard units and only then multiplied by the target's spread, and, for R2 (invariant to shift and
scale), the standardised values themselves. The means read no value on the host per batch
(trainlab.metrics.aggregation.ElementMean). They take keyword arguments, so one
``MetricCollection.update(error=..., target=..., pred=..., scaled_error=..., standard_pred=...,
standard_target=...)`` feeds each the ones it names. :func:`forecast_scores` is the same set in
float64 NumPy for the baselines and evaluate.py.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torchmetrics.regression import R2Score

from trainlab.metrics.aggregation import ElementMean

# two float64 values closer than this share of the larger are the same up to rounding (a few hundred ulps:
# a formula's values one season apart differ by a few); their difference is no forecast error
SAME = 1e-13
EPS = 1.17e-06  # torchmetrics' clamp of |y| (and |y| + |ŷ|) in MAPE and sMAPE, here relative:


def zero_floor(mase_scale) -> "np.ndarray | torch.Tensor":
    """Per target, the |y| (and |y| + |ŷ|) below which MAPE and sMAPE count a value as 0 and clamp it:
    EPS times the target's MASE scale (its typical step, in its own units), so a series around 1e-9
    is scored like the same series around 1, where torchmetrics' absolute 1.17e-6 took every value
    for 0 and called its forecasts nearly perfect."""
    return EPS * mase_scale


class RootMeanSquaredError(ElementMean):
    """sqrt(mean(error²)); ``error`` = ŷ - y in original units."""

    higher_is_better = False  # torchmetrics' direction flag: optimized_mode is checked against it

    def update(self, error: torch.Tensor) -> None:  # type: ignore[override]
        super().update(error.square())

    def compute(self) -> torch.Tensor:
        return super().compute().sqrt()


class MeanAbsolutePercentageError(ElementMean):
    """mean(|ŷ - y| / |y|), a fraction; undefined where y = 0 (|y| is clamped at ``floor``, see
    :func:`zero_floor`)."""

    higher_is_better = False

    def update(self, error: torch.Tensor, target: torch.Tensor, floor: torch.Tensor) -> None:  # type: ignore[override]
        super().update(error.abs() / torch.maximum(target.abs(), floor))


class AverageAbsoluteAccuracy(MeanAbsolutePercentageError):
    """The LSTM seed's "average absolute accuracy": 1 - MAPE = 1 - mean(|ŷ - y| / |y|).

    1.0 is a perfect forecast; 0.9 means predictions are off by 10% of the target on average; it
    goes negative when errors exceed the targets themselves. Like MAPE it needs targets away from 0.
    """

    higher_is_better = True

    def compute(self) -> torch.Tensor:
        return 1.0 - super().compute()


class SymmetricMeanAbsolutePercentageError(ElementMean):
    """mean(2 |ŷ - y| / (|y| + |ŷ|)), a fraction between 0 and 2."""

    higher_is_better = False

    def update(self, error: torch.Tensor, target: torch.Tensor, pred: torch.Tensor,  # type: ignore[override]
               floor: torch.Tensor) -> None:
        super().update(2 * error.abs() / torch.maximum(target.abs() + pred.abs(), floor))


class MeanAbsoluteScaledError(ElementMean):
    """MASE: mean |error / scale| with the target's MASE scale (see data.timeseries.baselines.mase_scale)."""

    higher_is_better = False

    def update(self, scaled_error: torch.Tensor) -> None:  # type: ignore[override]
        super().update(scaled_error.abs())


FLAT_TSS = 1e-5  # TSS / sum of squares below which float32 sums cannot tell the target from constant


class StandardR2(R2Score):
    """R2 of each target over its samples and steps, averaged over targets; computed on the
    standardised values (R2 is invariant to shift and scale): (samples, targets) each."""

    def update(self, standard_pred: torch.Tensor, standard_target: torch.Tensor) -> None:  # type: ignore[override]
        super().update(standard_pred, standard_target)

    def compute(self) -> torch.Tensor:
        """1 - RSS / TSS per target, averaged; NaN when a target is constant over the evaluated samples
        (TSS within float32 rounding of the sum of squares), as :func:`forecast_scores` gives it.
        torchmetrics reads such a target as R2 1.0 when the residual sum is below 1e-4, else 0.0: a model
        that missed a constant test split by 2e-4 scored 1.0 while the exact last value scored NaN. Under two
        samples it is NaN too, as :func:`forecast_scores` gives it: torchmetrics raised "Needs at least two samples",
        and evaluate.py split=all of a file of one window (two rows at data.window=1) ended in that traceback."""
        if self.total < 2:
            return torch.tensor(float("nan"), device=self.sum_error.device)
        tss = self.sum_squared_error - self.sum_error * self.sum_error / self.total
        flat = tss <= FLAT_TSS * self.sum_squared_error
        return torch.where(flat, torch.full_like(tss, float("nan")), 1 - self.residual / tss).mean()


def forecast_scores(pred: np.ndarray, truth: np.ndarray, mase_scale: np.ndarray) -> dict[str, float]:
    """RMSE, MAPE, sMAPE, MASE and R2 of (samples, steps, targets) forecasts, in original units.

    The definitions match the metrics the regression module logs (MAPE and sMAPE as fractions, |y|
    and |y| + |ŷ| clamped at :func:`zero_floor`; R2 per target, averaged), computed in float64, so a
    baseline's figure and the model's are comparable; MASE divides each target's errors by its
    ``mase_scale`` (see trainlab.data.timeseries.baselines.mase_scale)."""
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    err = pred - truth
    # an error within float64 rounding of the values it is the difference of is none: the seasonal naive of a
    # series that repeats its season exactly (a formula's output) scored 5.9e-14 on values of 100, and the end
    # line called the model '25941042775384.81x WORSE' instead of saying the naive forecast is exact
    err = np.where(np.abs(err) <= SAME * np.maximum(np.abs(pred), np.abs(truth)), 0.0, err)
    floor = zero_floor(np.asarray(mase_scale, dtype=np.float64))  # (targets,), broadcast over the last axis
    flat_truth, flat_err = truth.reshape(-1, truth.shape[-1]), err.reshape(-1, err.shape[-1])  # (samples, targets)
    sse = (flat_err**2).sum(axis=0)
    sst = ((flat_truth - flat_truth.mean(axis=0)) ** 2).sum(axis=0)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(truth), floor))),
        "smape": float(np.mean(2 * np.abs(err) / np.maximum(np.abs(truth) + np.abs(pred), floor))),
        "mase": float(np.mean(np.abs(err) / np.asarray(mase_scale))),
        "r2": float(np.mean(1.0 - sse / sst)) if np.all(sst > 0) else float("nan"),
    }


def zero_target_warning(targets: np.ndarray, names: Sequence[str], where: str,
                        mase_scale: np.ndarray) -> Optional[str]:
    """The one-line warning for targets that are 0 (below :func:`zero_floor` of ``mase_scale``, each
    target's) or take both signs (an interest rate, a temperature in °C, a profit: values pass near 0),
    where MAPE and AAA divide by |y| and are meaningless; None when there are none. ``targets``: (rows,
    targets) evaluated."""
    if len(targets) == 0:  # a file too short for any evaluated row: the window check says so
        return None
    floor = zero_floor(np.asarray(mase_scale, dtype=np.float64))
    zeros = (np.abs(targets) < floor).sum(axis=0)
    low, high = np.nanmin(targets, axis=0), np.nanmax(targets, axis=0)
    named = [f"'{n}' {int(z)} of {len(targets)} zero" if z else f"'{n}' from {lo:.4g} to {hi:.4g}"
             for n, z, lo, hi in zip(names, zeros, low, high) if z or (lo < 0 < hi)]
    if not named:
        return None
    return (f"zero target values or targets that change sign in {where} ({', '.join(named)}): MAPE and average absolute accuracy "
            "(aaa) divide by |y| and are meaningless there (logged all the same); read RMSE, MASE and sMAPE")
