"""Metrics torchmetrics does not have under the seeds' names."""

from __future__ import annotations

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
