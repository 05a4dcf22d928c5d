"""Files of several series (the long layout, ``store,date,sales``; trainlab.data.timeseries.series):
a repeated time column names the column that tells the series apart, ``data.source.series_column`` and
``data.source.series`` pick one before anything else reads the rows, and a resume keeps the pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_ANY_DATA
from trainlab.config.errors import UserError
from trainlab.data.timeseries.module import TimeSeriesDataModule
from trainlab.data.timeseries.sources import TableFile

DAYS = pd.date_range("2021-01-01", periods=120, freq="D")


def long_frame(stores=("A", "B", "C"), days=DAYS) -> pd.DataFrame:
    """One block of rows per store, each with its own level (100 per store) and a price feature;
    shuffled, so that only sorting by time within the picked series gives its order."""
    blocks = [pd.DataFrame({"store": s, "date": days.strftime("%Y-%m-%d"), "price": np.cos(np.arange(len(days))),
                            "sales": 100.0 * k + np.arange(len(days))}) for k, s in enumerate(stores)]
    return pd.concat(blocks).sample(frac=1.0, random_state=0)


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "long.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def source(path: str, **kwargs) -> TableFile:
    return TableFile(path, ["sales"], time_column="date", **kwargs)


# -- the refusal says the file holds several series ------------------------------------------------
def test_a_repeated_time_column_names_the_column_that_tells_the_series_apart(tmp_path):
    with pytest.raises(UserError, match=r"has 240 duplicated time\(s\) \(first '2021-0.*'\); the file holds several "
                                        r"series: column 'store' holds 3 \(A, B, C; 120 rows each\); pick one with "
                                        r"data.source.series_column=store data.source.series=A$"):
        source(write(tmp_path, long_frame())).load()
    many = long_frame(stores=[f"s{i}" for i in range(6)]).drop(columns="price")
    many = many[~((many.store == "s5") & (many.date > "2021-04-20"))]  # one series shorter
    with pytest.raises(UserError, match=r"column 'store' holds 6 \(s0, s1, s2, ... \(6 in all\); 110 to 120 rows\)"):
        source(write(tmp_path, many)).load()


def test_integer_ids_and_pairs_of_columns_are_found_and_features_come_last(tmp_path):
    numbered = long_frame().assign(store=lambda f: f.store.map({"A": 7, "B": 8, "C": 9}))
    with pytest.raises(UserError, match=r"column 'store' holds 3 \(7, 8, 9; 120 rows each\); .*series=7$"):
        source(write(tmp_path, numbered)).load()
    # 'batch' also tells the rows apart (two per date), but the user lists it as a feature: 'store' first
    numbered["batch"] = numbered["store"] % 2
    with pytest.raises(UserError, match=r"column 'store' holds 3"):
        source(write(tmp_path, numbered), feature_columns=["batch", "price"]).load()
    items = pd.concat([long_frame().assign(item=i) for i in ("x", "y")])
    with pytest.raises(UserError, match=r"columns 'store' and 'item' together tell 6 series apart \(A/x, A/y, B/x, "
                                        r"... \(6 in all\); 120 rows each\); join them into one column"):
        source(write(tmp_path, items)).load()
    twice = pd.concat([long_frame(stores=["A"])] * 2)  # the same rows twice: no column to name
    with pytest.raises(UserError, match=r"has 120 duplicated time\(s\) .*; keep one row per time step"):
        source(write(tmp_path, twice)).load()


# -- picking one series ---------------------------------------------------------------------------
def test_the_picked_series_alone_is_sorted_split_and_scaled(tmp_path):
    frame = long_frame()
    frame = frame[~((frame.store == "B") & (frame.date == "2021-02-01"))]  # a day missing from B only
    path = write(tmp_path, frame)
    dm = TimeSeriesDataModule(source(path, series_column="store", series="B"), window=8, target_inputs=True,
                              ets_baseline=False)
    dm.setup("fit")
    table = dm.load()
    assert table.feature_names == ["price"] and table.series == "store=B" and table.name == "long (store=B)"
    assert len(table.targets) == 120  # B's 119 rows on its daily grid, the missing day filled by data.missing
    expected = 100.0 + np.arange(120)  # B's values in time order, the gap interpolated
    assert np.allclose(table.targets[:, 0], expected)
    train_end = 120 - 18 - 18
    assert np.isclose(dm.stats["target_mean"][0], expected[:train_end].mean())  # fit on B's training rows
    assert dm.fingerprint() == {"rows": 120, "series": "store=B"}
    numbered = write(tmp_path, frame.assign(store=frame.store.map({"A": 1, "B": 2, "C": 3})), "numbered.csv")
    read = source(numbered, series_column="store", series=[2]).load().targets[:, 0]  # before data.missing
    assert np.isnan(read[31]) and np.array_equal(np.delete(read, 31), np.delete(expected, 31))


@pytest.mark.parametrize("kwargs,message", [
    ({"series_column": "store", "series": "D"},
     r"data.source.series=D: no row of '.*' has store=D; pick one of its 3 series \(A, B, C; 120 rows each\)"),
    ({"series_column": "shop", "series": "A"}, r"data.source.series_column 'shop' not in '.*'; its columns are "
                                               r"\['store', 'date', 'price', 'sales'\]"),
    ({"series_column": "store"}, r"series_column=store is set but data.source.series is null; pick one of its 3 "
                                 r"series \(A, B, C; 120 rows each\), e.g. data.source.series=A"),
    ({"series": "A"}, r"data.source.series=A is set but data.source.series_column is null; name the column"),
    ({"series_column": "store", "series": ["A", "B"]}, r"names 2 series; one model learns one series for now"),
    ({"series_column": "sales", "series": "1.0"}, r"series_column 'sales' is also a target or the time column"),
    ({"series_column": "store", "series": "A", "feature_columns": ["store", "price"]},
     r"data.source.feature_columns names the series column 'store'; leave it out"),
])
def test_bad_series_settings_are_one_line_each(tmp_path, kwargs, message):
    with pytest.raises(UserError, match=message):
        source(write(tmp_path, long_frame()), **kwargs).load()


def test_a_series_too_short_for_the_window_says_so(tmp_path):
    frame = pd.concat([long_frame(stores=["A"]), long_frame(stores=["tiny"], days=DAYS[:20])])
    dm = TimeSeriesDataModule(source(write(tmp_path, frame), series_column="store", series="tiny"), window=16,
                              target_inputs=True, ets_baseline=False)
    with pytest.raises(UserError, match=r"'long \(store=tiny\)' \(14 rows\) holds no window .* or pick a longer "
                                        r"series than store=tiny \(data.source.series\)"):
        dm.setup("fit")


# -- a run keeps its pick -------------------------------------------------------------------------
def test_training_on_one_series_and_resuming_on_another_is_refused(tmp_path, compose_cfg, run_train, caplog):
    from trainlab.run.folder import load_checkpoint, resolve_checkpoint
    from trainlab.run.pipeline import build_data, restore

    path = write(tmp_path, long_frame())
    base = [*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[sales]",
            "data.source.time_column=date", "data.source.series_column=store", "data.window=8",
            "data.ets_baseline=false", "logger=none", "hardware.num_threads=1"]
    first = compose_cfg([*base, "data.source.series=A", "trainer.max_epochs=1"])
    assert build_data(first).load().targets[:, 0].tolist() == list(range(120))
    run_train(first)
    run_dir = first.paths.output_dir
    saved = load_checkpoint(resolve_checkpoint(run_dir))
    assert saved["TimeSeriesDataModule"]["series"] == "store=A" and saved["TimeSeriesDataModule"]["rows"] == 120
    with pytest.raises(UserError, match=r"was trained on other data \(data.source.series: A -> B"):
        run_train(compose_cfg([*base, "data.source.series=B", "trainer.max_epochs=2", f"ckpt_path={run_dir}"]))
    other = compose_cfg([*base, "data.source.series=C"])  # evaluating on another series: allowed, with a warning
    with caplog.at_level("WARNING", logger="trainlab.run.pipeline"):
        restore(other, saved, "last.ckpt")
    assert any("series store=A -> store=C" in r.getMessage() for r in caplog.records)
