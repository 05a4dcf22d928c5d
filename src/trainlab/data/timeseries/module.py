"""The time-series data module: train-only scaling, sliding windows, the missing-value policy and the
classical baselines on the same windows (:mod:`.window_baselines`); the chronological split is
:mod:`.splits`, the season length in use :mod:`.seasons`, what a checkpoint holds of the data :mod:`.saved_state`."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from trainlab.config.errors import UserError
from trainlab.data import categories
from trainlab.data.module import SplitDataModule, constant_columns
from trainlab.data.timeseries import baselines, seasons
from trainlab.data.timeseries.fits import lead_in, longer_series, size_refusal
from trainlab.data.timeseries.gaps import apply_policy, check_policy, emptiest_columns
from trainlab.data.timeseries.named_twice import features_named_as_targets
from trainlab.data.timeseries.ranges import refuse_erased, value_warnings
from trainlab.data.timeseries.saved_state import SavedSeriesState
from trainlab.data.timeseries.seasons import resolve_season
from trainlab.data.timeseries.table import SeriesTable
from trainlab.data.timeseries.values import typed_names
from trainlab.data.timeseries.splits import series_name, series_spans, shortest_training, split_rows
from trainlab.data.timeseries.window_baselines import WindowBaselines
from trainlab.data.timeseries.windows import WindowDataset

log = logging.getLogger(__name__)

class TimeSeriesDataModule(WindowBaselines, SavedSeriesState, SplitDataModule):
    """Windows of a multivariate series for forecasting.

    A window's inputs are its rows of the feature columns followed, with ``target_inputs``, by the
    past values of the targets themselves (a one-column series needs nothing else). Its targets
    are the ``steps`` consecutive rows that start ``horizon`` rows after the window's last row, so
    inputs always end before the first target. Rows are split in time order by the row of each
    window's first target: the first ``1 - val_fraction - test_fraction`` go to training, then
    validation, then test. Means and standard deviations are fit on the training rows only and
    saved in every checkpoint (``state_dict``), so evaluation scales new data exactly as training
    did.

    Args:
        source: object with ``load() -> SeriesTable`` (see trainlab.data.timeseries.synthetic, .packaged, .sources).
        window: rows of history in one sample.
        horizon: steps between the window's last row and the first target row (>= 1).
        steps: consecutive target rows predicted per window (1: one value per target).
        stride: rows between consecutive window starts.
        batch_size: training batch size; validation and test use ``val_batch_multiplier`` times it
            (no gradients are kept there, so larger batches fit).
        val_fraction, test_fraction: shares of rows for validation and test.
        scale_targets: standardise targets too (the model then predicts in standard units and the
            regression module maps back for its metrics).
        target_inputs: past targets are inputs (last channels). False suits features and targets
            that are different quantities (the seed's two files). A checkpoint is rebuilt with the
            setting it was trained with, whatever the default is now (:meth:`trained_settings`).
        season_length: steps per seasonal cycle for the seasonal naive and ETS baselines and for
            MASE; 0: none (no seasonal baseline, MASE by the one-step naive); null takes the
            source's (its nature, or the cycle its time column's step implies: times.step_season) when it
            fits the training rows, and none, with a warning saying why, when it does not. A season
            given here that does not fit is refused.
        missing: "interpolate" (gaps of up to ``max_gap`` rows filled linearly, windows touching
            longer gaps dropped), "drop" (windows touching any gap dropped) or "refuse".
        max_gap: longest gap, in rows, that "interpolate" fills.
        ets_baseline: fit the ETS baseline (cached per data configuration in ``baseline_cache``).
        baseline_cache: folder for the cached ETS fits (null: not cached).
        seed: seeds the training order, drawn per epoch from (seed, epoch).
    """

    STATS = ("feature_mean", "feature_std", "target_mean", "target_std")
    OPTIONAL_STATS = ("mase_scale",)  # absent from checkpoints written before MASE was reported
    TRAINED_WITH = ("window", "horizon", "steps", "target_inputs", "scale_targets")  # evaluate.py keeps them
    SAMPLES = "windows"

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
        steps: int = 1,
        target_inputs: bool = True,
        season_length: Optional[int] = None,
        missing: str = "interpolate",
        max_gap: int = 3,
        ets_baseline: bool = True,
        baseline_cache: Optional[str] = None,
    ):
        super().__init__(batch_size, val_batch_multiplier, val_fraction, test_fraction, seed, "rows",
                         window=(window, 1), horizon=(horizon, 1), stride=(stride, 1), steps=(steps, 1))
        if season_length is not None and season_length != 0 and season_length < 2:
            raise UserError(f"data.season_length={season_length} must be at least 2 (0: no season; null: the "
                            "data's own, where it knows one that fits)")
        check_policy(missing, max_gap)
        if ets_baseline and baseline_cache:
            baselines.check_cache_dir(baseline_cache)
        self.source = source
        self.window, self.horizon, self.stride, self.steps = window, horizon, stride, steps
        self.scale_targets, self.target_inputs = scale_targets, target_inputs
        self.missing, self.max_gap, self.given_season = missing, max_gap, season_length
        self.ets_baseline, self.baseline_cache = ets_baseline, baseline_cache
        self.table: Optional[SeriesTable] = None
        self._season: Optional[int] = None  # the season in use, resolved by load()
        self.dropped_season: Optional[int] = None  # the source's, where it did not fit the training rows
        self.mase_notes: list[str] = []  # where MASE's scale is not the naive's own (baselines.mase_notes); saved
        self.bad_rows: Optional[np.ndarray] = None  # rows still missing a value after the policy
        # category column -> its categories (trainlab.data.categories): a checkpoint's, given before the
        # data are read (read_as_saved), else those of the training rows; saved
        self.encoding: Optional[categories.Encoding] = None
        self.stats: dict[str, np.ndarray] = {}
        self.datasets: dict[str, WindowDataset] = {}
        # split -> (windows covered, None: all; name -> forecasts)
        self._baselines: dict[str, tuple[Optional[int], dict[str, np.ndarray]]] = {}
        self.whole_file = False  # evaluate.py split=all: see score_whole_file
        self.forecasting = False  # predict.py: the whole file read to forecast past its end, nothing scored

    def score_whole_file(self, forecast: bool = False) -> None:
        """evaluate.py's ``split=all``: the test split becomes every window of the file (of each series),
        the train and val splits are not built, and what is fit on training rows (the ETS baseline's
        parameters, a season that must fit) takes every row: a new file has none set apart. The scaling
        and MASE's scale are the checkpoint's. Call it before :meth:`load`. ``forecast`` (predict.py): read to
        forecast past the end, not scored: no season of rows is kept before the first window."""
        if self.table is not None:
            raise RuntimeError("score_whole_file() must come before the data are loaded")
        self.whole_file, self.forecasting = True, forecast

    # -- sizes the model needs, known after load() -------------------------------------------
    def load(self) -> SeriesTable:
        """Read the source once (idempotent); ``setup`` calls it, train.py calls it for sizes."""
        if self.table is None:
            start = time.perf_counter()
            table = self.load_source(self.source, SeriesTable, "trainlab.data.timeseries.synthetic")
            rows = table.features.shape[0]
            log.info("data %s: %d rows, features %s, targets %s (read in %.1f s)", table.name, rows,
                     [*table.feature_names, *(table.categories or ())], table.target_names, time.perf_counter() - start)
            table = self._with_categories(table)
            if self.target_inputs:  # a feature of a target's name: an input once if it is the target, else refused
                features_named_as_targets(table, self.source, lambda names: self._kept_inputs(table, names)[2:],
                                          self.advising)
            if table.features.shape[1] == 0 and not self.target_inputs:
                raise UserError(f"'{table.name}' has no feature columns besides the targets; set "
                                "data.target_inputs=true to learn from the targets' past values")
            spans = [(first, end) for first, _, _, end in self._spans(table)]
            features, targets, self.bad_rows = apply_policy(
                table.features, table.targets, [*table.feature_names, *table.target_names], f"data {table.name}",
                self.missing, self.max_gap, spans, table.row_name)
            self.table = replace(table, features=features, targets=targets)
            spans = self._spans(self.table)
            # predict.py scores nothing: no season for baselines or MASE (their scale is the checkpoint's), no word on it
            self._season, said = (None, []) if self.forecasting else resolve_season(
                self.given_season, self.table, table.frequency, shortest_training(table, spans), self.ets_baseline,
                saved_run=not self.advising, whole_file=self.whole_file)
            # the source's season, dropped for too few training rows (warned): the end line says so, not "set it"
            self.dropped_season = table.season_length if self.given_season is None and self._season is None \
                and not self.forecasting else None
            if size_refusal(self) is None:  # else setup() refuses: a word on the season or values would be about a
                for level, line in said:      # run that never starts (12 months for a window of 48)
                    seasons.log.log(level, line)  # the lines of seasons.py, from its logger
                # with split=all every row is scored: MAPE's zeros and dominating values are looked for in all of
                # them; predict.py scores nothing and scales with the checkpoint's statistics: none apply there
                scored = np.arange(len(targets)) if self.whole_file else None
                plain = len(self.table.feature_names) - len(categories.input_names(self.encoding))  # 0/1 left out
                numbers = replace(self.table, features=self.table.features[:, :plain],
                                  feature_names=self.table.feature_names[:plain])
                for warning in [] if self.forecasting else value_warnings(numbers, spans, self.training_rows(),
                                                                          self._season, scored):
                    log.warning(warning)
        return self.table

    def _with_categories(self, table: SeriesTable) -> SeriesTable:
        """``table`` with its category columns one-hot encoded after its numeric features (:mod:`.categories`), in
        the categories of a saved run's checkpoint (:meth:`read_as_saved`), else in those of the training rows."""
        columns, where = table.categories or {}, f"'{table.name}'"
        if self.encoding is not None:
            categories.check_columns(columns, self.encoding, where, table.feature_names)
        else:
            train = np.concatenate([np.arange(first, end) for first, end, _, _ in self._spans(table)])
            self.encoding = categories.fit(columns, train, where, table.feature_names)
            if self.encoding and self.advising:
                log.info("category column(s) one-hot encoded in the training rows' categories, one 0/1 input each "
                         "(left unscaled): %s", "; ".join(f"{c} ({len(v)}: {', '.join(v[:5])}{', ...' * (len(v) > 5)})"
                                                          for c, v in self.encoding.items()))
        if not columns:
            return table
        block = categories.encode(columns, self.encoding, where, table.row_name)
        return replace(table, features=np.concatenate([table.features, block], axis=1), categories=None,
                       feature_names=[*table.feature_names, *categories.input_names(self.encoding)])

    @property
    def input_names(self) -> list[str]:
        """Input channels in order: feature columns (but those that are targets), then past targets."""
        table = self.load()
        if not self.target_inputs:
            return list(table.feature_names)
        return [n for n in table.feature_names if n not in table.target_names] + list(table.target_names)

    @property
    def num_features(self) -> int:
        return len(self.input_names)

    @property
    def num_targets(self) -> int:
        return self.load().targets.shape[1]

    @property
    def season_length(self) -> Optional[int]:
        """Steps per seasonal cycle in use (None: no season); see the class docstring."""
        self.load()
        return self._season

    @property
    def dims(self) -> dict[str, int]:
        """Sizes the net takes from the data: ``in`` (inputs per step), ``out`` (steps x targets)."""
        return {"in": self.num_features, "out": self.steps * self.num_targets}

    def model_kwargs(self) -> dict[str, Any]:
        """What the regression module needs from the data: the target scaling (fit on train rows),
        where the past targets sit among the inputs, the steps and MASE's scale."""
        self.setup("fit")
        first = self.num_features - self.num_targets
        return {"target_mean": self.stats["target_mean"].tolist(), "target_std": self.stats["target_std"].tolist(),
                "target_channels": list(range(first, self.num_features)) if self.target_inputs else [],
                "steps": self.steps, "mase_scale": self.stats["mase_scale"].tolist()}

    # -- split and scale ---------------------------------------------------------------------
    def _spans(self, table: SeriesTable) -> list[tuple[int, int, int, int]]:
        """(first, train end, val end, end) rows of each series (:func:`~trainlab.data.timeseries.splits.series_spans`);
        with :meth:`score_whole_file` every row counts as a training row (train end = val end = end)."""
        return series_spans(table, self.val_fraction, self.test_fraction, self.whole_file)

    def training_rows(self) -> np.ndarray:
        """Row numbers of the training split, of every series (what the scaling is fit on). With
        :meth:`score_whole_file`, the rows training would have had (the fit a checkpoint's statistics
        replace and are compared with), or every row of a file too short for that."""
        table = self.load()  # read once
        rows = np.concatenate([np.arange(first, train_end) for first, train_end, _, _ in self._spans(table)])
        if self.whole_file:
            own = np.concatenate([np.arange(first, first + split_rows(end - first, self.val_fraction,
                                                                      self.test_fraction)[0])
                                  for first, _, _, end in self._spans(table)])
            rows = own if len(own) > 1 else rows
        return rows

    def _inputs(self, table: SeriesTable) -> np.ndarray:
        """(rows, inputs) in the order of ``input_names``."""
        if not self.target_inputs:
            return table.features
        keep = [j for j, n in enumerate(table.feature_names) if n not in table.target_names]
        return np.concatenate([table.features[:, keep], table.targets], axis=1)

    def _fit_stats(self, inputs: np.ndarray, table: SeriesTable, train: np.ndarray) -> None:
        """Means and standard deviations on the ``train`` rows (those of every series, pooled)."""
        def mean_std(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Means, standard deviations (1 for a constant column: left as it is) and which are constant.

            In float64, as a checkpoint restores them (SplitDataModule.load_state_dict): fit in the data's
            float32, a resumed run or evaluate.py scaled every value differently in its last bit."""
            block = block.astype(np.float64)
            mean, std = np.nanmean(block, axis=0), np.nanstd(block, axis=0)
            constant = constant_columns(block, std)
            return mean, np.where(constant, 1.0, std), constant

        *target_stats, flat_targets = mean_std(table.targets[train])
        flat = [n for n, c in zip(table.target_names, flat_targets) if c]
        if flat and not self.whole_file:  # nothing to learn, and scaling would divide by 0; checked before training
            rows = f"its first {len(train)} rows" if not table.series_rows else f"{len(train)} rows of its series"
            raise UserError(f"target column(s) {', '.join(map(repr, flat))} of '{table.name}' are constant in the "
                            f"training split ({rows}): nothing to forecast; choose another "
                            "data.source.target_columns or give data whose target varies")
        self.stats["feature_mean"], self.stats["feature_std"], idle = mean_std(inputs[train])
        # 0/1 inputs of categories stay 0 and 1: standardised, a rare category's 1 became tens of standard units
        one_hot = np.isin(self.input_names, categories.input_names(self.encoding or {}))
        self.stats["feature_mean"][one_hot], self.stats["feature_std"][one_hot] = 0.0, 1.0
        idle_names = [n for n, c in zip(self.input_names, idle) if c]
        if idle_names and self.advising:
            log.warning("feature column(s) %s of '%s' have one value in every training row: they carry no "
                        "information (left unscaled); leave them out of data.source.feature_columns%s", idle_names,
                        table.name, self._kept_inputs(table, idle_names))
        refuse_erased(inputs[train], self.stats["feature_mean"], self.stats["feature_std"], self.input_names,
                      table, train)
        if self.scale_targets:
            self.stats["target_mean"], self.stats["target_std"] = target_stats
            refuse_erased(table.targets[train], *target_stats, table.target_names, table, train)
        else:
            n = table.targets.shape[1]
            self.stats["target_mean"], self.stats["target_std"] = np.zeros(n), np.ones(n)

    def _kept_inputs(self, table: SeriesTable, idle: list[str]) -> str:
        """': data.source.feature_columns=[...]' of the input columns but ``idle``, to paste (a file's feature_columns
        is mostly null: 'leave them out' alone said nothing to type), or '' for a source without the key."""
        numeric = table.feature_names[:len(table.feature_names) - len(categories.input_names(self.encoding or {}))]
        kept = [n for n in numeric if n not in idle]
        if not hasattr(self.source, "feature_columns") or len(kept) == len(numeric):
            return ""
        return f": {typed_names('data.source.feature_columns', [*kept, *(self.encoding or {})], False)}"

    def setup(self, stage: Optional[str] = None) -> None:
        if not self.datasets:
            self._build_datasets()

    def _build_datasets(self) -> None:
        table = self.load()
        refusal = size_refusal(self)
        if refusal is not None:
            raise refusal
        spans = self._spans(table)
        inputs = self._inputs(table)
        train = self.training_rows()
        if not self.stats:  # a checkpoint's statistics, when loaded, take precedence
            self._fit_stats(inputs, table, train)
        if "mase_scale" not in self.stats:
            blocks = [table.targets[first:train_end].astype(np.float64) for first, train_end, _, _ in spans]
            self.stats["mase_scale"] = baselines.mase_scale(blocks, self.season_length)
            self.mase_notes = baselines.mase_notes(blocks, self.season_length, table.target_names,
                                                   [name for name, _ in table.series_rows or ()], self.dropped_season)
            for note in self.mase_notes[1 if self.dropped_season else 0:] if self.advising else ():
                log.warning(note)  # a dropped season's is its warning's, when the data loaded
        features = torch.from_numpy((inputs - self.stats["feature_mean"]) / self.stats["feature_std"]).float()
        targets = torch.from_numpy((table.targets - self.stats["target_mean"]) / self.stats["target_std"]).float()
        lead = self.window - 1 + self.horizon  # first target row = start + lead
        # a window touches rows [start, start + lead + steps): none of them may lack a value
        bad = np.concatenate([[0], np.cumsum(self.bad_rows)])
        dropped = 0
        # split -> (its first, its end) as positions in a span; split=all: every row of each series, as test
        bounds = {"test": (0, 3)} if self.whole_file else {"train": (0, 1), "val": (1, 2), "test": (2, 3)}
        for split, (low, high) in bounds.items():
            starts = []
            for index, span in enumerate(spans):  # windows never cross from one series into the next
                first_target, end_target = span[low], span[high]
                first_start = max(span[0] + lead_in(self), first_target - lead)
                last_start = end_target - lead - self.steps  # the last target row stays inside the split
                own = np.arange(first_start, last_start + 1, self.stride)
                clean = own[bad[own + lead + self.steps] == bad[own]]
                dropped += len(own) - len(clean)
                if len(clean) == 0 and not self.forecasting:  # predict.py reads the last rows, not these windows
                    gaps = emptiest_columns(table.features, table.targets, table.feature_names, table.target_names,
                                            first_target, end_target, self.missing, self.max_gap) if dropped else ""
                    if end_target - first_target < self.steps:  # no target row: no window could help
                        gaps = f" (it holds no target row: raise data.{split}_fraction)"
                    raise UserError(
                        f"the {split} split of {series_name(table, index)} ({end_target - first_target} rows) "
                        f"holds no window of data.window={self.window} + data.horizon={self.horizon} + data.steps="
                        f"{self.steps} - 1{' clear of gaps' if dropped else ''}{gaps}; use a shorter window or more "
                        f"data{longer_series(self.table)}")
                starts.append(clean)
            starts = np.concatenate(starts)
            self.datasets[split] = WindowDataset(features, targets, self.window, self.horizon, self.stride,
                                                 int(starts[0]) if len(starts) else 0,
                                                 int(starts[-1]) if len(starts) else -1, self.steps,
                                                 torch.from_numpy(starts))
        gaps = f" ({dropped} dropped: they touch a gap)" if dropped else ""
        if self.whole_file:
            self.log_once(log, "windows: %d, every one of the file (%s)%s", len(self.datasets["test"]),
                          "predict.py" if self.forecasting else "split=all", gaps)
        else:
            self.log_once(log, "windows: train %d, val %d, test %d%s",
                          *(len(self.datasets[s]) for s in ("train", "val", "test")), gaps)
        if self.ets_baseline and len(spans) > 1:  # said before training (or evaluate.py's scoring): the fits come then
            self.log_once(log, "the ETS baseline will be fit on each of the %d series when the test windows are "
                          "scored, in as many processes as the run has threads (cached per series; data.ets_baseline=false "
                          "skips it)",
                          len(spans))

    # -- loaders -----------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        return self.batched_loader(self.datasets["train"], train=True)

    def _eval_loader(self, split: str) -> DataLoader:
        return self.batched_loader(self.datasets[split], train=False)

    # -- baselines on the same windows ---------------------------------------------------------
    def truth(self, split: str) -> np.ndarray:
        """(samples, steps, targets) true values of a split's windows, in original units."""
        return self.load().targets[self.datasets[split].target_rows().numpy()].astype(np.float64)

    def scored_rows(self, split: str) -> str:
        """Which rows a split's windows score, for reports: ``452 windows, target rows 2548..2999 (0-based, of
        3000): the last 15% of the file (data.test_fraction=0.15)``."""
        table = self.load()
        rows = self.datasets[split].target_rows().numpy()
        of = f"each of its {len(table.series_rows)} series" if table.series_rows else "the file"
        share = {"test": f"the last {self.test_fraction:.0%} of {of} (data.test_fraction={self.test_fraction})",
                 "val": f"the {self.val_fraction:.0%} of {of} before its last {self.test_fraction:.0%} "
                        f"(data.val_fraction={self.val_fraction})"}[split]
        if self.whole_file:
            before = f" after its first {lead_in(self)} rows (one season for the seasonal naive)" if lead_in(self) else ""
            share = f"every window of {of}{before} (split=all)"
        return (f"{len(rows)} windows, target rows {rows.min()}..{rows.max()} (0-based, of {table.targets.shape[0]}"
                f"{', series after series' if table.series_rows else ''}): {share}")
