"""The embedded default series: seeded, with known structure a model can learn and a last-value
forecast cannot follow (``data=synthetic``)."""

from __future__ import annotations

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.table import SeriesTable


class SyntheticSeries:
    """A seeded multivariate series with known, learnable structure (the embedded default).

    Hourly-like steps t = 0..num_rows-1. Features:
      f0 = sin(2πt/24), f1 = sin(2πt/168)       daily and weekly cycles
      f2 = AR(1), φ=0.9;  f3 = AR(1), φ=0.7      slow "weather" drivers, unit variance
      f4 = 0.5·cos(2πt/24) + 0.3·N(0,1)          a noisy phase signal
      f5.. = N(0,1)                               distractors when num_features > 5
    Target (one column, positive so percentage errors are meaningful):
      y[t] = 10 + 2·f0[t] + f1[t] + 1.5·f2[t-3] + 0.8·f3[t-1]·f0[t] + noise·N(0,1)
    A model that sees the feature window can predict y up to the noise; repeating the last value
    of y cannot follow the daily cycle, which is what the baseline test checks.
    """

    def __init__(self, num_rows: int = 4000, num_features: int = 5, noise: float = 0.1, seed: int = 3407):
        if num_rows < 100:
            raise UserError(f"data.source.num_rows={num_rows}: the generator needs at least 100 rows")
        if num_features < 5:
            raise UserError(f"data.source.num_features={num_features}: the generator makes at least 5")
        if noise < 0:
            raise UserError(f"data.source.noise={noise} must be >= 0")
        self.num_rows, self.num_features, self.noise, self.seed = num_rows, num_features, noise, seed

    @staticmethod
    def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
        eps = rng.standard_normal(n) * np.sqrt(1.0 - phi**2)  # stationary variance 1
        out = np.empty(n)
        out[0] = rng.standard_normal()
        for i in range(1, n):
            out[i] = phi * out[i - 1] + eps[i]
        return out

    def load(self) -> SeriesTable:
        rng = np.random.default_rng(self.seed)
        n = self.num_rows
        t = np.arange(n, dtype=np.float64)
        f0 = np.sin(2 * np.pi * t / 24)
        f1 = np.sin(2 * np.pi * t / 168)
        f2 = self._ar1(rng, n, 0.9)
        f3 = self._ar1(rng, n, 0.7)
        f4 = 0.5 * np.cos(2 * np.pi * t / 24) + 0.3 * rng.standard_normal(n)
        extra = [rng.standard_normal(n) for _ in range(self.num_features - 5)]
        features = np.stack([f0, f1, f2, f3, f4, *extra], axis=1)
        lag3 = np.concatenate([np.zeros(3), f2[:-3]])
        lag1 = np.concatenate([np.zeros(1), f3[:-1]])
        y = 10 + 2 * f0 + f1 + 1.5 * lag3 + 0.8 * lag1 * f0 + self.noise * rng.standard_normal(n)
        names = ["daily", "weekly", "driver_a", "driver_b", "phase"] + [
            f"noise_{i}" for i in range(len(extra))
        ]
        return SeriesTable(features.astype(np.float32), y[:, None].astype(np.float32), names, ["y"], "synthetic",
                           season_length=24)  # the daily cycle; the weekly one is 168
