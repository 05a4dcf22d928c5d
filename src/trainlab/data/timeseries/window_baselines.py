"""The classical baselines of :class:`~trainlab.data.timeseries.module.TimeSeriesDataModule` on the
model's own windows, series by series (:mod:`.baselines` holds the forecasts themselves)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from trainlab.data.timeseries import baselines
from trainlab.data.timeseries.gaps import fill_all


class WindowBaselines:
    """Last value, seasonal naive and ETS forecasts and scores of a split's windows, cached per split."""

    def series_windows(self, split: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """For a table of several series: (series, positions of its windows among the split's, its own
        MASE scale from its training rows) of each, in the table's order; empty for one series."""
        table = self.load()
        if not table.series_rows:
            return []
        own = self._per_series(self.datasets[split].starts.numpy())
        return [(name, np.arange(part.start, part.stop),
                 baselines.mase_scale(table.targets[first:train_end].astype(np.float64), self.season_length))
                for (name, _), part, (first, train_end, _, _) in zip(table.series_rows, own, self._spans(table))]

    def _per_series(self, rows: np.ndarray) -> list[slice]:
        """The slice of ascending ``rows`` (of the split's windows, series after series) inside each
        series, in the table's order: a binary search each (a mask over every window for every series
        grew as series x windows: 20,000 series took 1.5 s for the baselines' selection alone)."""
        bounds = np.array([(first, end) for first, _, _, end in self._spans(self.load())])
        starts, ends = np.searchsorted(rows, bounds[:, 0]), np.searchsorted(rows, bounds[:, 1])
        return [slice(int(a), int(b)) for a, b in zip(starts, ends)]

    def baseline_forecasts(self, split: str = "test", windows: Optional[int] = None) -> dict[str, np.ndarray]:
        """name -> (samples, steps, targets) forecasts of every baseline, in original units, for the split's
        windows or its first ``windows`` (a test cut short by trainer.limit_test_batches or fast_dev_run:
        series with none of those windows get no ETS fit)."""
        have = self._baselines.get(split)
        if have is None or not (have[0] is None or (windows is not None and windows <= have[0])):
            table = self.load()
            origins = (self.datasets[split].starts.numpy() + self.window - 1)[:windows]  # ascending, series after series
            offsets = self.horizon + np.arange(self.steps)
            names = [str(name) for name, _ in table.series_rows or ()] or [table.name]
            spans = list(zip(self._spans(table), self._per_series(origins), names))
            spans = [(span, part, name) for span, part, name in spans if part.stop > part.start] or spans[:1]
            pieces = [(np.stack([fill_all(c) for c in table.targets[first:end].astype(np.float64).T], axis=1),
                       train_end - first) for (first, train_end, _, end), _, _ in spans]
            # as many processes as the run has threads (hardware.num_threads): a sweep's slots share the cores
            fits = baselines.ets_fits(pieces, self.season_length, self.baseline_cache, torch.get_num_threads(),
                                      [name for _, _, name in spans]) \
                if self.ets_baseline else [None] * len(pieces)
            parts = [baselines.forecasts(series, train_end, origins[part] - first, offsets, self.season_length, fit)
                     for ((first, _, _, _), part, _), (series, train_end), fit in zip(spans, pieces, fits)]
            have = (windows, {name: np.concatenate([part[name] for part in parts]) for name in parts[0]})
            self._baselines[split] = have
        return {name: forecast[:windows] for name, forecast in have[1].items()}

    def baseline_scores(self, split: str = "test", windows: Optional[int] = None) -> dict[str, dict[str, float]]:
        """name -> {rmse, mape, smape, mase, r2} of every baseline on a split's windows, or on its first
        ``windows`` (the loaders keep their order: those a test cut short by trainer.limit_test_batches saw)."""
        from trainlab.metrics.regression import forecast_scores

        truth = self.truth(split)[:windows]
        return {name: forecast_scores(pred[:windows], truth, self.stats["mase_scale"])
                for name, pred in self.baseline_forecasts(split, windows).items()}

    def last_value_rmse(self, split: str = "test") -> float:
        """RMSE, in original units, of predicting each target by its value at the window's last row."""
        return self.baseline_scores(split)["last_value"]["rmse"]
