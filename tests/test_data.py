"""The time-series data pipeline: sources, windows as views, chronological split, scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from trainlab.data.timeseries.packaged import ElNinoSST
from trainlab.data.timeseries.sources import TableFile
from trainlab.data.timeseries.synthetic import SyntheticSeries
from trainlab.data.timeseries.module import TimeSeriesDataModule
from trainlab.data.sampling import EpochSeededSampler
from trainlab.data.timeseries.windows import WindowDataset


def make_dm(source=None, **kwargs) -> TimeSeriesDataModule:
    # the feature columns alone (the seed's setup): these tests count and scale them
    dm = TimeSeriesDataModule(source or SyntheticSeries(num_rows=500), **{"window": 10, "target_inputs": False, **kwargs})
    dm.setup("fit")
    return dm


def test_synthetic_is_deterministic_and_seeded():
    a, b = SyntheticSeries(seed=1).load(), SyntheticSeries(seed=1).load()
    c = SyntheticSeries(seed=2).load()
    assert np.array_equal(a.features, b.features) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.targets, c.targets)
    assert a.features.shape == (4000, 5) and a.targets.shape == (4000, 1)
    assert a.targets.min() > 0  # percentage errors stay meaningful


def test_synthetic_target_follows_its_documented_formula():
    table = SyntheticSeries(num_rows=1000, noise=0.0).load()
    f, y = table.features.astype(np.float64), table.targets[:, 0]
    t = np.arange(10, 1000)
    expected = 10 + 2 * f[t, 0] + f[t, 1] + 1.5 * f[t - 3, 2] + 0.8 * f[t - 1, 3] * f[t, 0]
    assert np.allclose(y[t], expected, atol=1e-4)


def test_elnino_ships_with_statsmodels():
    table = ElNinoSST().load()
    assert table.features.shape == (732, 3) and not np.isnan(table.features).any()
    assert 20 < table.targets.mean() < 30  # sea-surface temperature in degrees C


def test_windows_are_views_over_one_array():
    features = torch.arange(100 * 3, dtype=torch.float32).reshape(100, 3)
    targets = torch.arange(100, dtype=torch.float32)[:, None]
    ds = WindowDataset(features, targets, window=8, horizon=2, stride=3, first_start=0, last_start=90)
    x, y = ds.__getitems__([0, 1])
    assert x.shape == (2, 8, 3)
    # sample 1 starts at row 3; its target is row 3 + 8 - 1 + 2 = 12
    assert torch.equal(x[1], features[3:11]) and y[1].item() == 12
    assert ds._feature_windows.untyped_storage().data_ptr() == features.untyped_storage().data_ptr()
    single_x, single_y = ds[1]
    assert torch.equal(single_x, x[1]) and torch.equal(single_y, y[1])


def test_memory_grows_with_rows_not_windows():
    dm = make_dm(SyntheticSeries(num_rows=2000), window=200)
    storages = {ds.features.untyped_storage().data_ptr() for ds in dm.datasets.values()}
    assert len(storages) == 1  # train, val and test share one scaled array
    assert dm.datasets["train"].features.numel() == 2000 * 5  # rows x features, not windows x 200


def test_split_is_chronological_and_disjoint_in_targets():
    dm = make_dm(horizon=3)
    target_rows = {}
    for split, ds in dm.datasets.items():
        starts = ds.first_start + np.arange(len(ds)) * ds.stride
        target_rows[split] = starts + dm.window - 1 + dm.horizon
    assert target_rows["train"].max() < target_rows["val"].min()
    assert target_rows["val"].max() < target_rows["test"].min()
    assert target_rows["test"].max() == 499


def test_scaling_fits_training_rows_only():
    table = SyntheticSeries(num_rows=500).load()
    table.targets[400:] += 1000.0  # a shift only in the test period
    source = type("Fixed", (), {"load": lambda self: table})()
    dm = make_dm(source)
    assert dm.stats["target_mean"][0] < 20  # untouched by the shifted rows
    train_end = 500 - 75 - 75
    assert np.allclose(dm.stats["feature_mean"], table.features[:train_end].mean(0), atol=1e-5)


def test_statistics_round_trip_through_state_dict():
    dm = make_dm()
    state = dm.state_dict()
    other = TimeSeriesDataModule(SyntheticSeries(num_rows=500, seed=99), window=10, target_inputs=False)
    other.load_state_dict(state)
    other.setup("test")
    for key in dm.stats:
        assert np.allclose(other.stats[key], state[key])
    assert {k: state[k] for k in dm.fingerprint()} == dm.fingerprint()  # what a resume compares, e.g. rows


def test_sampler_order_depends_on_seed_and_epoch_only():
    s = EpochSeededSampler(50, seed=3)
    s.set_epoch(2)
    first = list(s)
    torch.manual_seed(123)  # the global RNG does not matter
    assert list(s) == first
    s.set_epoch(3)
    assert list(s) != first and sorted(s) == list(range(50))


def test_each_epoch_draws_the_same_numbers_from_every_global_generator_however_the_run_got_there():
    """A resumed run starts epoch k with the generators seed_everything left (epoch 0's state) where the run
    never stopped had drawn k epochs on: dropout (torch) was reseeded per epoch, but numpy's and Python's
    generators, which a net, augmentation or dataset of one's own may draw from, were not."""
    import random
    from types import SimpleNamespace

    from trainlab.callbacks.checkpoints import EpochSeed

    def draws(epoch: int, before: int) -> tuple:
        random.seed(before), np.random.seed(before), torch.manual_seed(before)  # where the run got to
        EpochSeed(seed=2**40 + 3).on_train_epoch_start(SimpleNamespace(current_epoch=epoch), None)
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    assert draws(3, before=0) == draws(3, before=1)
    assert draws(3, before=0)[:2] != draws(4, before=0)[:2]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_table_files(tmp_path, suffix):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": np.arange(300)[::-1], "a": rng.normal(size=300), "b": rng.normal(size=300),
                          "y": rng.normal(size=300)})
    path = tmp_path / f"series{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
        source = TableFile(str(path), target_columns=["y"], time_column="t")
    elif suffix == ".parquet":
        frame.to_parquet(path)
        source = TableFile(str(path), target_columns=["y"], time_column="t")
    else:
        np.save(path, frame[["a", "b", "y"]].to_numpy())
        source = TableFile(str(path), target_columns=[2])
    table = source.load()
    assert table.features.shape == (300, 2) and table.targets.shape == (300, 1)
    if suffix != ".npy":  # sorted by t, which ran backwards
        assert np.allclose(table.targets[0, 0], frame["y"].iloc[-1])


def test_features_and_targets_from_separate_files(tmp_path):
    pd.DataFrame({"a": np.arange(200.0), "b": np.ones(200)}).to_csv(tmp_path / "x.csv", index=False)
    pd.DataFrame({"y": np.arange(200.0) * 2}).to_csv(tmp_path / "y.csv", index=False)
    table = TableFile(str(tmp_path / "x.csv"), target_columns=["y"], target_path=str(tmp_path / "y.csv")).load()
    assert table.feature_names == ["a", "b"] and table.targets[10, 0] == 20.0


def test_last_value_baseline():
    dm = make_dm()
    assert dm.last_value_rmse("test") > 0


def test_saved_statistics_compare_relatively_at_any_scale():
    """Resume and evaluate compare a checkpoint's data statistics with the data's: an edit of a feature
    of scale 1e-12 is an edit, and float32 rounding of the saved values is not."""
    from trainlab.data.module import _close

    assert not _close([1e-12, 5.0], [2e-12, 5.0])
    assert _close([1e-12, 5.0], [float(np.float32(1e-12)), float(np.float32(5.0))])
    assert _close([0.0, 1e3], [0.0, 1e3 * (1 + 1e-7)])
    assert not _close([1.0, 2.0], [1.0, 2.0, 3.0])


def test_a_batch_size_above_the_training_windows_is_one_batch_said_and_counted(caplog):
    """data.batch_size=100000 over 2,752 windows trained one batch of all of them an epoch, without a word, and the
    run recorded 'effective batch 100000'. Said once as a warning; the records count what a step holds."""
    import logging

    dm = make_dm(batch_size=1000)
    windows = len(dm.datasets["train"])
    assert windows < 1000
    with caplog.at_level(logging.WARNING, logger="trainlab.data.module"):
        dm.train_dataloader()
        dm.train_dataloader()
    said = [r.getMessage() for r in caplog.records if "data.batch_size" in r.getMessage()]
    assert said == [f"data.batch_size=1000 is more than the {windows} training windows: each epoch is one batch of "
                    f"all {windows} (one optimizer step an epoch); data.batch_size={windows} does the same, a smaller "
                    "one takes more steps an epoch"]
    assert dm.step_samples(1) == windows and dm.step_samples(2) == 2 * -(-windows // 2)
    assert dm.training_batch_note()[0] == f"all {windows} training windows a batch"
    small = make_dm(batch_size=32)
    assert small.step_samples(2) == 64 and small.training_batch_note() is None
