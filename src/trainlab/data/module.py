"""What every data module here shares: seeded loaders that leave the global RNG alone, the same
loader for validation, test and prediction, and scaling statistics kept in the checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any, Optional

import lightning.pytorch as pl
import numpy as np
import torch

from trainlab.config.errors import UserError
from trainlab.data.rounding import beyond_rounding, magnitudes
from trainlab.data.sampling import EpochSeededSampler, keep_batch


TRAINED_WITH_KEY = "trained_with"  # a checkpoint's data state: SplitDataModule.trained_with()

log = logging.getLogger(__name__)


class SplitDataModule(pl.LightningDataModule):
    """Base of the family data modules.

    A subclass passes the shared settings to ``__init__``, sets ``stats`` (name -> array, fit on the
    training split) and ``STATS`` (the names a checkpoint must hold), implements ``_eval_loader(split)`` and ``_restore_stats(stats)``
    (what to rebuild once a checkpoint's statistics replace the fitted ones).
    """

    STATS: tuple[str, ...] = ()
    OPTIONAL_STATS: tuple[str, ...] = ()  # restored when a checkpoint has them (added after STATS)
    # arguments that shape what the model learned from (window, horizon, normalisation): evaluate.py refuses
    # to change them (+data.<key>), the model would be tested on a task it was not trained for
    TRAINED_WITH: tuple[str, ...] = ()
    SAMPLES = "samples"  # what a training batch holds data.batch_size of (windows, tiles), in messages

    def __init__(self, batch_size: int, val_batch_multiplier: int, val_fraction: float, test_fraction: float,
                 seed: int, items: str, **minimums: tuple[Optional[int], int]):
        """The settings every family shares, checked: ``items`` names what is split (rows, stars,
        tiles) in messages; ``minimums`` are the subclass's own ``key=(value, lowest allowed)``.

        DataLoader settings (workers, pinned memory) live in the hardware profile: the run pipeline
        hands them over with :meth:`set_loader_options`; until then loaders run in the main process.
        """
        super().__init__()
        self.check_minimums(batch_size=(batch_size, 1), val_batch_multiplier=(val_batch_multiplier, 1), **minimums)
        self.check_fractions(val_fraction, test_fraction, items)
        self.batch_size, self.val_batch_multiplier = batch_size, val_batch_multiplier
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.set_loader_options(num_workers=0, pin_memory=False, persistent_workers=False, prefetch_factor=None)
        self._said: set[str] = set()
        self.advising = True  # advice for a run still to train: off for a saved run's data (of_a_saved_run)

    def of_a_saved_run(self) -> None:
        """These are a saved run's data (evaluate.py, predict.py): advice for its training (a feature column to leave
        out of data.source.feature_columns) is not repeated; the run's train.log holds it, and the model keeps the
        settings it was trained with. What concerns the scores or the forecast is still said."""
        self.advising = False

    def score_notes(self) -> list[str]:
        """How the test metrics are to be read where a setting fell back without the user's word (time series: MASE's
        scale), for training_summary.json's and evaluate.py's report's ``notes``; none by default."""
        return []

    @classmethod
    def trained_settings(cls, trained: dict[str, Any], given: Collection[str]) -> dict[str, Any]:
        """The arguments a checkpoint's data were read with that ``given`` (the keys its run's config writes)
        leaves to the defaults, which may have changed since, told by what the data gave its model
        (``trained``: the task module's hyperparameters; trainlab.run.trained). None by default."""
        return {}

    def log_once(self, logger: logging.Logger, message: str, *args: Any) -> None:
        """``logger.info`` a line about the data unless this module has said it already: datasets rebuilt
        with a checkpoint's statistics (resume, evaluate: :meth:`_restore_stats`) hold the same items,
        and their summary line ("tiles: train ...", "windows: train ...") was printed twice."""
        text = message % args
        if text not in self._said:
            self._said.add(text)
            logger.info(text)

    def warn_once(self, logger: logging.Logger, message: str, *args: Any) -> None:
        """``logger.warning`` a fact about the data unless this module has said it already: the datasets are
        built again when a checkpoint's statistics replace the fitted ones (the test after training, evaluate.py:
        :meth:`_restore_stats`), and each warning of their building was said twice in one run."""
        text = message % args
        if text not in self._said:
            self._said.add(text)
            logger.warning("%s", text)

    @staticmethod
    def check_minimums(**values: tuple[Optional[int], int]) -> None:
        """``key=(value, lowest)``: each value (unless null) at least its lowest, else one line naming it."""
        for key, (value, low) in values.items():
            if value is not None and value < low:
                raise UserError(f"data.{key}={value} must be at least {low}")

    @staticmethod
    def check_fractions(val_fraction: float, test_fraction: float, items: str) -> None:
        """Both fractions in (0, 1), leaving at least 10% of the ``items`` (rows, stars ...) to train on."""
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < value < 1.0:
                raise UserError(f"data.{key}={value} must lie strictly between 0 and 1")
        if val_fraction + test_fraction >= 0.9:
            raise UserError(f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:.2f} leaves "
                            f"under 10% of the {items} for training; lower them")

    @staticmethod
    def load_source(source: Any, table: type, examples: str) -> Any:
        """``source.load()``, refused in one line naming ``data.source._target_`` where a source (a user's own
        class) has no ``load()`` or returns another thing than ``table`` (an AttributeError deep in the data
        module before). ``examples``: the module holding trainlab's sources of this kind, to read."""
        name = f"data.source._target_={type(source).__module__}.{type(source).__qualname__}"
        need = f"{table.__module__}.{table.__qualname__}"
        if not callable(getattr(source, "load", None)):
            raise UserError(f"{name} has no load() method: a data source's load() returns a {need} ({examples} "
                            "has examples)")
        loaded = source.load()
        if not isinstance(loaded, table):
            raise UserError(f"{name}: its load() returned a {type(loaded).__module__}.{type(loaded).__qualname__}, "
                            f"where a {need} is needed ({examples} has examples); build one from your data")
        return loaded

    def set_loader_options(self, num_workers: int, pin_memory: bool, persistent_workers: bool,
                           prefetch_factor: Optional[int], worker_init_fn: Optional[Callable[[int], None]] = None) -> None:
        """DataLoader keywords from the hardware profile (the worker-only ones only with workers);
        ``worker_init_fn``: what each worker runs first (:func:`trainlab.run.host_memory.worker_start`)."""
        self.loader_kwargs: dict[str, Any] = {"num_workers": num_workers, "pin_memory": pin_memory}
        if num_workers > 0:
            self.loader_kwargs.update(persistent_workers=persistent_workers, prefetch_factor=prefetch_factor)
            if worker_init_fn is not None:
                self.loader_kwargs["worker_init_fn"] = worker_init_fn

    def _generator(self) -> torch.Generator:
        # Every DataLoader iterator draws a base seed for its workers; from its own generator it
        # leaves the global RNG alone, which a resumed run would otherwise see in another state.
        return torch.Generator().manual_seed(self.seed)

    def _eval_loader(self, split: str) -> Any:
        raise NotImplementedError

    def training_sampler(self, num_samples: int, sampler: type[EpochSeededSampler] = EpochSeededSampler) -> EpochSeededSampler:
        """The training order of ``num_samples`` items, drawn from (seed, epoch), set to the epoch training
        starts at. Lightning calls ``set_epoch`` only after it made the loader's first iterator, and keeps
        that iterator for the first epoch of a resumed run; loader workers take their first indices when
        it is made, so a run resumed at epoch k with ``hardware.num_workers`` > 0 trained epoch k in epoch
        0's order (without workers the order is drawn later, after ``set_epoch``)."""
        made = sampler(num_samples, self.seed)
        trainer = getattr(self, "trainer", None)  # set by Lightning while it fits; its loops are restored by now
        if trainer is not None:
            made.set_epoch(trainer.fit_loop.epoch_progress.current.processed)
        return made

    def batched_loader(self, dataset: Any, train: bool, sampler: type[EpochSeededSampler] = EpochSeededSampler) -> Any:
        """A DataLoader over a dataset that gathers whole batches itself (``__getitems__``: windows,
        tiles). Training draws its order from (seed, epoch) with ``sampler``; evaluation keeps the
        order, in batches ``val_batch_multiplier`` times larger (no activations kept for backward)."""
        from torch.utils.data import DataLoader

        if train:
            self._say_one_batch(len(dataset))
            return DataLoader(dataset, batch_size=self.batch_size, sampler=self.training_sampler(len(dataset), sampler),
                              collate_fn=keep_batch, generator=self._generator(), **self.loader_kwargs)
        return DataLoader(dataset, batch_size=self.batch_size * self.val_batch_multiplier, shuffle=False,
                          collate_fn=keep_batch, generator=self._generator(), **self.loader_kwargs)

    def val_dataloader(self) -> Any:
        return self._once_per_rank(self._eval_loader("val"))

    def test_dataloader(self) -> Any:
        return self._once_per_rank(self._eval_loader("test"))

    def _once_per_rank(self, loader: Any) -> Any:
        """An evaluation loader of a multi-process (DDP) run with every item on exactly one rank.

        Lightning's DistributedSampler pads a split to a multiple of the ranks by repeating its first
        items: a 121-window test split was scored on 122, its first window twice (test/rmse off in the
        third digit from the same checkpoint's in one process), and so was the validation loss that
        picks the best checkpoint. Ranks may now run one batch fewer than others, which evaluation allows: DDP syncs
        buffers only in its first forward without gradients, and metrics are gathered at the epoch's end
        (Lightning's prediction loop splits its data so). A split of fewer items than ranks (the graph
        family's whole graph, one item) is left to Lightning: every rank scores it, every metric a mean
        over identical copies."""
        from torch.utils.data import DataLoader

        trainer = getattr(self, "trainer", None)
        kwargs = trainer.distributed_sampler_kwargs if trainer is not None and trainer.world_size > 1 else None
        if not kwargs or type(loader) is not DataLoader or len(loader.dataset) < kwargs["num_replicas"]:
            return loader
        from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

        sampler = UnrepeatedDistributedSampler(loader.dataset, shuffle=False, **kwargs)  # rank r: items r, r + n, ...
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, collate_fn=loader.collate_fn,
                          generator=loader.generator, drop_last=loader.drop_last, **self.loader_kwargs)

    def predict_dataloader(self) -> Any:
        return self._eval_loader("test")

    def _say_one_batch(self, samples: int) -> None:
        """A ``data.batch_size`` above the training samples is one batch of all of them an epoch: the run went on
        with it and recorded an effective batch of the setting (``effective batch 100000 = data.batch_size 100000``
        over 2,752 windows). Said once, as a warning; the records count what a step holds (:meth:`step_samples`)."""
        text = (f"data.batch_size={self.batch_size} is more than the {samples} training {self.SAMPLES}: each epoch is "
                f"one batch of all {samples} (one optimizer step an epoch); data.batch_size={samples} does the same, "
                "a smaller one takes more steps an epoch")
        if samples < self.batch_size and text not in self._said:
            self._said.add(text)
            log.warning("%s", text)

    def _training_samples(self) -> Optional[int]:
        """The training split's samples where the family holds them as a dataset (windows, tiles); else None."""
        train = (getattr(self, "datasets", None) or {}).get("train")
        return len(train) if train is not None else None

    def training_batch_note(self) -> Optional[tuple[str, str]]:
        """(what one training batch holds, why) where it is not ``data.batch_size`` samples (a star graph that
        trains whole, a batch size above the training samples), for the run's effective-batch line; None where it
        is."""
        samples = self._training_samples()
        if samples is None or samples >= self.batch_size:
            return None
        return (f"all {samples} training {self.SAMPLES} a batch", f"data.batch_size {self.batch_size} is more than "
                "there are, so an epoch is one optimizer step")

    def step_samples(self, processes: int) -> int:
        """Samples one training step (before gradient accumulation) averages its loss over, across ``processes``:
        ``data.batch_size`` on each, or each process's share of the training samples where that is fewer; a family
        whose batches are not that many samples says its own (a star graph that trains whole: its training stars,
        the same on every process)."""
        samples = self._training_samples()
        share = self.batch_size if samples is None else min(self.batch_size, -(-samples // max(processes, 1)))
        return share * processes

    # -- checkpointed state ------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """Facts of the data besides the statistics (a subclass's row count ...), saved in every
        checkpoint so that a resume or evaluation can tell whether it sees the same data."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {**{k: np.asarray(v).tolist() for k, v in self.stats.items()}, **self.fingerprint(),
                TRAINED_WITH_KEY: self.trained_with()}

    def trained_with(self) -> dict[str, Any]:
        """The ``TRAINED_WITH`` settings as these data were read (``{"target_inputs": True, "window": 48}``), which
        every checkpoint records: a saved run is rebuilt with them where its config leaves them to a default
        (trainlab.run.trained), not with one guessed from the model's hyperparameters (a user's own task module
        need not keep ``target_channels``)."""
        found = {}
        for key in self.TRAINED_WITH:
            if not hasattr(self, key):  # a data module of a user's that keeps the setting under another name
                continue
            value = getattr(self, key)
            value = list(value) if isinstance(value, tuple) else value
            if value is None or isinstance(value, (str, int, float, bool)) or (
                    isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)):
                found[key] = value
        return found

    def data_differences(self, state: dict[str, Any]) -> list[str]:
        """What differs between the data here and those a checkpoint's ``state`` was saved from:
        ``rows 100 -> 160``, ``training statistics feature_mean``; empty when they agree (or the
        checkpoint holds nothing to compare). Call it before ``load_state_dict``: the statistics
        compared are the ones fit on this data."""
        self.setup("fit")
        found = [f"{k} {state[k]} -> {v}" for k, v in self.fingerprint().items() if k in state and state[k] != v]
        stats = [k for k in self.STATS if k in state and k in self.stats and not _close(state[k], self.stats[k])]
        if stats:
            found.append(f"training statistics {', '.join(stats)}")
        return found

    def size_differences(self, state: dict[str, Any]) -> list[str]:
        """Statistics whose size differs from a checkpoint's ``state`` (``feature_mean has 2 value(s) in
        the checkpoint, 1 here``): the data have other columns or channels than the model was trained on."""
        self.setup("fit")
        return [f"{k} has {np.size(state[k])} value(s) in the checkpoint, {np.size(self.stats[k])} here"
                for k in self.STATS if k in state and k in self.stats and np.shape(state[k]) != np.shape(self.stats[k])]

    def read_as_saved(self, state: dict[str, Any]) -> None:
        """Take what of a checkpoint's data ``state`` decides how the data are read (their columns' categories),
        before they are read: a saved run's data are then read as its training read them (trainlab.run.restore; a
        resume, trainlab.run.pipeline.build_model_and_data). Nothing by default."""

    def load_state_dict(self, state_dict: dict[str, list[float]]) -> None:
        missing = [k for k in self.STATS if k not in state_dict]
        if missing:
            raise UserError(f"checkpoint lacks the data statistics {missing}; it was not written by "
                            f"{type(self).__name__}: evaluate it with the data of its own run")
        keys = [*self.STATS, *(k for k in self.OPTIONAL_STATS if k in state_dict)]
        self._restore_stats({k: np.asarray(state_dict[k], dtype=np.float64) for k in keys})

    def _restore_stats(self, stats: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def constant_columns(block: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(columns,) True where ``spread`` (a standard deviation or mean absolute difference of each
    column of (rows, columns) ``block``, NaN ignored) is no more than float64 rounding of the column's
    largest value (:mod:`trainlab.data.rounding`); all-NaN columns count as constant."""
    return ~beyond_rounding(spread, magnitudes(block).max(axis=0, initial=0.0))


def _close(saved: Any, fitted: Any) -> bool:
    """Saved and freshly fitted statistics agree (same shape, equal up to float rounding).

    Relative per value: an absolute tolerance (numpy's default 1e-8) would take any edit of a feature
    whose statistics are of that order (fluxes of 1e-12) for the same data. ``atol`` only keeps values
    that float32 rounds to 0 equal to 0."""
    a, b = np.asarray(saved, dtype=np.float64), np.asarray(fitted, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-30, equal_nan=True))


# float32 keeps 24 bits: where a few extreme values set a column's standard deviation (one reading of 1e12 among
# values of 1), its other values can lie within float32's step of one another in standard units and become one
# value: the net sees a constant and, for a target, the loss is 0. Columns whose middle half spans more than this
# share of a standard deviation keep thousands of float32 steps there and are not counted (no np.unique needed)
ERASED_SPREAD = 1e-3


def erased_columns(block: np.ndarray, mean: np.ndarray, std: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(column, row of its most extreme value, distinct values, distinct after scaling) for each column of
    (rows, columns) ``block`` (training rows, NaN ignored) whose values, standardised with ``mean`` and ``std``
    and cast to float32 as the nets get them, keep fewer than half of their distinct values."""
    found = []
    for j in range(block.shape[1]):
        rows = np.flatnonzero(~np.isnan(block[:, j]))
        column = block[rows, j]
        if len(column) < 3 or not std[j] > 0:
            continue
        low, high = np.percentile(column, [25, 75])
        if high - low > ERASED_SPREAD * std[j]:
            continue
        distinct = len(np.unique(column))
        kept = len(np.unique(((column - mean[j]) / std[j]).astype(np.float32)))
        if kept < distinct / 2:
            worst = int(rows[np.argmax(np.abs(column - np.median(column)))])
            found.append((j, worst, distinct, kept))
    return found


def erased_refusal(block: np.ndarray, std: np.ndarray, erased: list[tuple[int, int, int, int]],
                   names: Sequence[str], where: str, name_row: Callable[[int], str], empty_cell: str) -> str:
    """The one-line refusal for :func:`erased_columns`' ``erased`` columns of ``block``; ``name_row``: how a
    row of the block is named (``row 200``, ``source_id 7``); ``empty_cell``: what becomes of an emptied cell."""
    named = [f"'{names[j]}' {block[worst, j]:.4g} at {name_row(worst)} (std {std[j]:.4g}: its {distinct} distinct "
             f"training values become {kept} in float32 standard units)" for j, worst, distinct, kept in erased]
    return (f"a few extreme values set the scaling of {where}: {'; '.join(named)}; the model would see the other "
            f"values as one; if such a value is an error, empty its cell ({empty_cell}), if it is real, give the "
            "column on a log scale")
