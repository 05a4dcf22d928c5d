"""A running mean for per-step values that never reads them on the host (no GPU sync per update)."""

from __future__ import annotations

from typing import Union

import torch
from torchmetrics import Metric


class WeightedMean(Metric):
    """Weighted mean of the values passed to ``update``, accumulated on the values' device.

    torchmetrics' MeanMetric checks every update for NaN with ``bool(isnan(x).any())``: one
    host-device synchronisation per training step on a GPU. Its ``nan_strategy="disable"`` skips
    the check but also drops the weights (torchmetrics 1.9). Non-finite losses are the FiniteLoss
    callback's business here, so this mean simply sums: a NaN makes the epoch's mean NaN.
    """

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float32), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0, dtype=torch.float32), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: Union[torch.Tensor, float] = 1.0) -> None:
        """Add a scalar ``value`` (a batch's mean loss) counted ``weight`` times (its samples).

        ``weight`` may be a Python number (used as a kernel argument: no host-to-device copy, which
        torch would follow with a stream synchronisation) or a scalar tensor on the value's device.
        """
        # in place: ``self.total += ...`` would assign the attribute again, through torchmetrics'
        # and torch's __setattr__ checks (~5 us an update)
        self.total.add_(value.detach().to(self.total.dtype) * weight)
        self.weight.add_(weight)

    def compute(self) -> torch.Tensor:
        return self.total / self.weight


class ElementMean(WeightedMean):
    """Mean of every element passed to ``update`` (a batch's per-sample values), accumulated on the
    values' device without a host read: torchmetrics' MeanMetric checks each update for NaN (a
    host-device synchronisation per validation batch on a GPU) and, by default, drops NaN values with
    a warning. Here a NaN makes the mean NaN, which is what a metric of NaN forecasts should say."""

    def update(self, values: torch.Tensor) -> None:  # type: ignore[override]
        values = values.detach()
        self.total.add_(values.sum(dtype=self.total.dtype))
        self.weight.add_(values.numel())
