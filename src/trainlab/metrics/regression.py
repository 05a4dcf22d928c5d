"""Metrics torchmetrics does not have under the seeds' names."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.regression import MeanAbsolutePercentageError


class AverageAbsoluteAccuracy(MeanAbsolutePercentageError):
    """The LSTM seed's "average absolute accuracy": 1 - MAPE = 1 - mean(|ŷ - y| / |y|).

    1.0 is a perfect forecast; 0.9 means predictions are off by 10% of the target on average; it
    goes negative when errors exceed the targets themselves. Like MAPE it needs targets away from 0
    (torchmetrics clamps |y| at 1.17e-6).
    """

    def compute(self) -> torch.Tensor:
        return 1.0 - super().compute()


def forecast_scores(pred: np.ndarray, truth: np.ndarray, mase_scale: np.ndarray) -> dict[str, float]:
    """RMSE, MAPE, sMAPE, MASE and R2 of (samples, steps, targets) forecasts, in original units.

    The definitions match the torchmetrics objects the regression module logs (MAPE and sMAPE as
    fractions, |y| and |y| + |ŷ| clamped away from 0 as torchmetrics does), so a baseline's figure
    and the model's are comparable; MASE divides each target's errors by its ``mase_scale``
    (see trainlab.data.timeseries.baselines.mase_scale)."""
    err = pred - truth
    eps = 1.17e-06
    sse, sst = float((err**2).sum()), float(((truth - truth.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(truth), eps))),
        "smape": float(np.mean(2 * np.abs(err) / np.maximum(np.abs(truth) + np.abs(pred), eps))),
        "mase": float(np.mean(np.abs(err) / np.asarray(mase_scale))),
        "r2": 1.0 - sse / sst if sst > 0 else float("nan"),
    }
