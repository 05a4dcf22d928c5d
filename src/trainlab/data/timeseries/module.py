"""The time-series data module: chronological split, train-only scaling, sliding windows."""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from trainlab.data.module import SplitDataModule
from trainlab.data.timeseries.sources import SeriesTable
from trainlab.data.timeseries.windows import EpochSeededSampler, WindowDataset, keep_batch
from trainlab.config.errors import UserError

log = logging.getLogger(__name__)



class TimeSeriesDataModule(SplitDataModule):
    """Windows of a multivariate series for forecasting.

    Rows are split in time order by the row of each window's target: the first
    ``1 - val_fraction - test_fraction`` go to training, then validation, then test. Means and
    standard deviations are fit on the training rows only and saved in every checkpoint
    (``state_dict``), so evaluation scales new data exactly as training did.

    Args:
        source: object with ``load() -> SeriesTable`` (see trainlab.data.timeseries.sources).
        window: rows of history in one sample.
        horizon: steps between the window's last row and the target row (>= 1).
        stride: rows between consecutive window starts.
        batch_size: training batch size; validation and test use ``val_batch_multiplier`` times it
            (no gradients are kept there, so larger batches fit).
        val_fraction, test_fraction: shares of rows for validation and test.
        scale_targets: standardise targets too (the model then predicts in standard units and the
            regression module maps back for its metrics).
        seed: seeds the training order, drawn per epoch from (seed, epoch).
    """

    STATS = ("feature_mean", "feature_std", "target_mean", "target_std")

    family = "timeseries"  # trainlab.config.families: models and data of one family go together

    def __init__(
        self,
        source: Any,
        window: int = 48,
        horizon: int = 1,
        stride: int = 1,
        batch_size: int = 32,
        val_batch_multiplier: int = 2,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        scale_targets: bool = True,
        seed: int = 3407,
    ):
        super().__init__(batch_size, val_batch_multiplier, val_fraction, test_fraction, seed, "rows",
                         window=(window, 1), horizon=(horizon, 1), stride=(stride, 1))
        self.source = source
        self.window, self.horizon, self.stride = window, horizon, stride
        self.scale_targets = scale_targets
        self.table: Optional[SeriesTable] = None
        self.stats: dict[str, np.ndarray] = {}
        self.datasets: dict[str, WindowDataset] = {}

    # -- sizes the model needs, known after load() -------------------------------------------
    def load(self) -> SeriesTable:
        """Read the source once (idempotent); ``setup`` calls it, train.py calls it for sizes."""
        if self.table is None:
            self.table = self.source.load()
            rows = self.table.features.shape[0]
            log.info("data %s: %d rows, features %s, targets %s", self.table.name, rows,
                     self.table.feature_names, self.table.target_names)
        return self.table

    @property
    def num_features(self) -> int:
        return self.load().features.shape[1]

    @property
    def num_targets(self) -> int:
        return self.load().targets.shape[1]

    @property
    def dims(self) -> dict[str, int]:
        """Sizes the net takes from the data: ``in`` (features per step), ``out`` (targets)."""
        return {"in": self.num_features, "out": self.num_targets}

    def model_kwargs(self) -> dict[str, list[float]]:
        """What the regression module needs from the data: the target scaling (fit on train rows)."""
        self.setup("fit")
        return {"target_mean": self.stats["target_mean"].tolist(), "target_std": self.stats["target_std"].tolist()}

    # -- split and scale ---------------------------------------------------------------------
    def _split_rows(self, rows: int) -> tuple[int, int]:
        n_test = int(round(rows * self.test_fraction))
        n_val = int(round(rows * self.val_fraction))
        return rows - n_val - n_test, rows - n_test  # ends of train and val target rows

    def _fit_stats(self, table: SeriesTable, train_end: int) -> None:
        def mean_std(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, std = block.mean(axis=0), block.std(axis=0)
            return mean, np.where(std > 1e-8, std, 1.0)  # constant columns stay as they are

        self.stats["feature_mean"], self.stats["feature_std"] = mean_std(table.features[:train_end])
        if self.scale_targets:
            self.stats["target_mean"], self.stats["target_std"] = mean_std(table.targets[:train_end])
        else:
            n = table.targets.shape[1]
            self.stats["target_mean"], self.stats["target_std"] = np.zeros(n), np.ones(n)

    def setup(self, stage: Optional[str] = None) -> None:
        if not self.datasets:
            self._build_datasets()

    def _build_datasets(self) -> None:
        table = self.load()
        rows = table.features.shape[0]
        if self.window + self.horizon > rows:
            raise UserError(f"'{table.name}' has {rows} row(s), fewer than one window of data.window={self.window} "
                            f"+ data.horizon={self.horizon}; use a shorter window or horizon, or more data")
        train_end, val_end = self._split_rows(rows)
        if not self.stats:  # a checkpoint's statistics, when loaded, take precedence
            self._fit_stats(table, train_end)
        features = torch.from_numpy((table.features - self.stats["feature_mean"]) / self.stats["feature_std"]).float()
        targets = torch.from_numpy((table.targets - self.stats["target_mean"]) / self.stats["target_std"]).float()
        lead = self.window - 1 + self.horizon  # target row = start + lead
        bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, rows)}
        for split, (first_target, end_target) in bounds.items():
            first_start = max(0, first_target - lead)
            last_start = end_target - 1 - lead
            dataset = WindowDataset(features, targets, self.window, self.horizon, self.stride, first_start, last_start)
            if len(dataset) == 0:
                raise UserError(
                    f"the {split} split of '{table.name}' ({end_target - first_target} rows) holds no "
                    f"window of data.window={self.window} + data.horizon={self.horizon}; use a shorter "
                    "window or more data"
                )
            self.datasets[split] = dataset
        log.info("windows: train %d, val %d, test %d", *(len(self.datasets[s]) for s in ("train", "val", "test")))

    # -- loaders -----------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        return DataLoader(dataset, batch_size=self.batch_size, sampler=EpochSeededSampler(len(dataset), self.seed),
                          collate_fn=keep_batch, generator=self._generator(), **self.loader_kwargs)

    def _eval_loader(self, split: str) -> DataLoader:
        return DataLoader(self.datasets[split], batch_size=self.batch_size * self.val_batch_multiplier,
                          shuffle=False, collate_fn=keep_batch, generator=self._generator(), **self.loader_kwargs)

    # -- checkpointed state: SplitDataModule saves and checks self.stats --------------------------
    def _restore_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.stats = stats
        if self.datasets:  # Lightning restores state after setup(): rescale with these statistics
            self._build_datasets()

    # -- baseline ----------------------------------------------------------------------------
    def last_value_rmse(self, split: str = "test") -> float:
        """RMSE, in original units, of predicting each target by its value at the window's last row."""
        dataset = self.datasets[split]
        table = self.load()
        starts = dataset.first_start + np.arange(len(dataset)) * dataset.stride
        last = table.targets[starts + self.window - 1]
        truth = table.targets[starts + self.window - 1 + self.horizon]
        return float(np.sqrt(np.mean((truth - last) ** 2)))
