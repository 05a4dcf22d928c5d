"""Files of several series (the long layout, ``store,date,sales``; trainlab.data.timeseries.series):
a repeated time column names the column that tells the series apart, ``data.source.series_column`` and
``data.source.series`` pick one before anything else reads the rows, and a resume keeps the pick."""

from __future__ import annotations

import logging
import re
import shlex
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
    """One block of rows per store, each with its own level (1000 per store) and a price feature;
    shuffled, so that only sorting by time within the picked series gives its order."""
    blocks = [pd.DataFrame({"store": s, "date": days.strftime("%Y-%m-%d"), "price": np.cos(np.arange(len(days))),
                            "sales": 1000.0 * k + np.arange(len(days))}) for k, s in enumerate(stores)]
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
                                        r"data.source.series_column=store data.source.series=A, or train one model "
                                        r"on all with data.source.series_column=store$"):
        source(write(tmp_path, long_frame())).load()
    many = long_frame(stores=[f"s{i}" for i in range(6)]).drop(columns="price")
    many = many[~((many.store == "s5") & (many.date > "2021-04-20"))]  # one series shorter
    with pytest.raises(UserError, match=r"column 'store' holds 6 \(s0, s1, s2, ... \(6 in all\); 110 to 120 rows\)"):
        source(write(tmp_path, many)).load()


def test_integer_ids_and_pairs_of_columns_are_found_and_features_come_last(tmp_path):
    numbered = long_frame().assign(store=lambda f: f.store.map({"A": 7, "B": 8, "C": 9}))
    with pytest.raises(UserError, match=r"column 'store' holds 3 \(7, 8, 9; 120 rows each\); .*series=7, or"):
        source(write(tmp_path, numbered)).load()
    # 'batch' also tells the rows apart (two per date), but the user lists it as a feature: 'store' first
    numbered["batch"] = numbered["store"] % 2
    with pytest.raises(UserError, match=r"column 'store' holds 3"):
        source(write(tmp_path, numbered), feature_columns=["batch", "price"]).load()
    items = pd.concat([long_frame().assign(item=i) for i in ("x", "y")])
    with pytest.raises(UserError, match=r"columns 'store' and 'item' together tell 6 series apart \(A/x, A/y, B/x, "
                                        r"... \(6 in all\); 120 rows each\); join them into one column"):
        source(write(tmp_path, items)).load()
    once = long_frame(stores=["A"])  # each date twice with two sales figures: no column to name (identical
    twice = pd.concat([once, once.assign(sales=once.sales + 0.5)])  # rows would be left out as exported twice)
    with pytest.raises(UserError, match=r"has 120 duplicated time\(s\) .*; keep one row per time step"):
        source(write(tmp_path, twice)).load()


def test_the_pick_a_refusal_advises_pastes_as_one_word_per_setting(tmp_path):
    """A series column or value with a space (an export's 'Store ID', 'North store'): each setting of the fix is
    one shell word (written bare, 'data.source.series=North store' was two)."""
    frame = long_frame(stores=("North store", "South store")).rename(columns={"store": "Store ID"})
    with pytest.raises(UserError) as refused:
        source(write(tmp_path, frame)).load()
    pick = re.search(r"pick one with (.*), or train one model on all with (.*)$", str(refused.value))
    assert shlex.split(pick.group(1)) == ["data.source.series_column=Store ID", "data.source.series=North store"]
    assert shlex.split(pick.group(2)) == ["data.source.series_column=Store ID"]


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
    expected = 1000.0 + np.arange(120)  # B's values in time order, the gap interpolated
    assert np.allclose(table.targets[:, 0], expected)
    train_end = 120 - 18 - 18
    assert np.isclose(dm.stats["target_mean"][0], expected[:train_end].mean())  # fit on B's training rows
    assert dm.fingerprint() == {"rows": 120, "series": "store=B", "frequency": "D"}
    numbered = write(tmp_path, frame.assign(store=frame.store.map({"A": 1, "B": 2, "C": 3})), "numbered.csv")
    read = source(numbered, series_column="store", series=[2]).load().targets[:, 0]  # before data.missing
    assert np.isnan(read[31]) and np.array_equal(np.delete(read, 31), np.delete(expected, 31))


def test_the_time_column_line_describes_every_series_pooled(tmp_path, caplog):
    """One line for all the series: their count, the shortest and longest with their spans, the common step
    (it gave the first series' span alone)."""
    frame = pd.concat([long_frame(stores=["A", "B"]), long_frame(stores=["C"], days=DAYS[30:100])])
    with caplog.at_level("INFO", logger="trainlab.data.timeseries.sources"):
        source(write(tmp_path, frame), series_column="store").load()
    assert ("data.source.time_column 'date': step 1 day, 3 series of 70 to 120 steps (shortest store=C '2021-01-31' "
            "to '2021-04-10', longest store=A '2021-01-01' to '2021-04-30'), season length 7") in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="trainlab.data.timeseries.sources"):
        source(write(tmp_path, long_frame(), "even.csv"), series_column="store").load()
    assert ("step 1 day, 3 series of 120 steps each (first store=A '2021-01-01' to '2021-04-30', last store=C "
            "'2021-01-01' to '2021-04-30')") in caplog.text


@pytest.mark.parametrize("kwargs,message", [
    ({"series_column": "store", "series": ["A", "D", "E"]},
     r"data.source.series: no row of '.*' has store=D, E; its 3 series are A, B, C; 120 rows each$"),
    ({"series_column": "store", "series": ["A", "B", "A"]}, r"data.source.series=\['A', 'B', 'A'\] names \['A'\] "
                                                            r"more than once"),
    ({"series_column": "shop", "series": "A"}, r"data.source.series_column 'shop' not in '.*'; its columns are "
                                               r"\['store', 'date', 'price', 'sales'\]"),
    ({"series": "A"}, r"data.source.series=A is set but data.source.series_column is null; name the column"),
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
    from trainlab.run.checkpoint_path import load_checkpoint, resolve_checkpoint
    from trainlab.run.pipeline import build_data
    from trainlab.run.restore import restore

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
    with caplog.at_level("WARNING", logger="trainlab.run.restore"):
        restore(other, saved, "last.ckpt")
    assert any("series store=A -> store=C" in r.getMessage() for r in caplog.records)


# -- several series in one model -------------------------------------------------------------------
def pooled(path: str, window: int = 8, **kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(source(path, series_column="store", **kwargs), window=window, target_inputs=True,
                              ets_baseline=False, season_length=0)  # MASE by the one-step naive: 1 a day
    dm.setup("fit")
    return dm


def test_several_series_are_split_each_on_its_own_and_windows_stay_inside_one(tmp_path):
    dm = pooled(write(tmp_path, long_frame()))  # series null: every series of the file
    table = dm.load()
    assert table.series_rows == (("A", 120), ("B", 120), ("C", 120)) and table.series == "store=A,B,C"
    level = table.targets[:, 0] // 1000  # which series a row belongs to (A 0, B 1, C 2)
    assert np.array_equal(table.targets[:, 0] % 1000, np.tile(np.arange(120), 3))  # each sorted by its dates
    for split, ds in dm.datasets.items():
        rows = ds.starts.numpy()[:, None] + np.arange(dm.window + dm.horizon)  # inputs and target of each window
        assert (level[rows] == level[rows[:, :1]]).all(), split  # never across a series boundary
        days = table.targets[ds.target_rows().numpy()[:, 0], 0] % 1000
        expected = {"train": (8, 84), "val": (84, 102), "test": (102, 120)}[split]  # 70/15/15 of each series
        assert sorted(set(days.tolist())) == list(range(*expected)), split
        assert len(ds) == 3 * (expected[1] - expected[0])
    assert np.allclose(dm.stats["mase_scale"], [1.0])  # naive errors within a series (1 a day), not across (1000)
    train_rows = np.concatenate([np.arange(k * 120, k * 120 + 84) for k in range(3)])
    assert np.isclose(dm.stats["target_mean"][0], table.targets[train_rows, 0].mean())
    assert dm.fingerprint() == {"rows": 360, "series": "store=A,B,C", "frequency": "D"}
    two = pooled(write(tmp_path, long_frame()), series=["C", "A"])  # in the order given
    assert two.load().series_rows == (("C", 120), ("A", 120)) and two.load().targets[0, 0] == 2000


def test_gaps_and_baselines_are_per_series(tmp_path):
    frame = long_frame()
    last_a = (frame.store == "A") & (frame.date == DAYS[-1].strftime("%Y-%m-%d"))
    frame.loc[last_a, "price"] = np.nan  # A's last price: nothing after it in A to interpolate towards
    dm = pooled(write(tmp_path, frame))
    assert np.isnan(dm.load().features[119, 0])  # not filled from B's first row
    assert (dm.datasets["test"].target_rows().numpy() != 119).all()  # and no window uses it
    frame.loc[last_a, "sales"] = np.nan  # A's last sales too: a row after A's last value, left out of A
    trimmed = pooled(write(tmp_path, frame)).load()
    assert trimmed.series_rows[:2] == (("A", 119), ("B", 120)) and trimmed.targets[119, 0] == 1000.0
    forecasts, truth = dm.baseline_forecasts("val")["last_value"], dm.truth("val")
    assert forecasts.shape == truth.shape
    assert np.allclose(truth - forecasts, 1.0)  # each series' own last value: a step of 1, never a jump of 1000
    scores = dm.baseline_scores("test")["last_value"]
    assert scores["rmse"] == pytest.approx(1.0) and scores["mase"] == pytest.approx(1.0)
    # data.season_length=0: each series' line in report.json says so, as the overall one (it said 'set it')
    from trainlab.evaluation.timeseries import series_scores

    truth = dm.truth("test")
    rows = series_scores(dm, "test", truth + 0.5, truth, dm.series_windows("test"))
    assert all("| seasonal naive: none (data.season_length=0) ->" in row["test/comparison"] for row in rows.values())


def test_the_per_series_ets_fits_are_announced_before_training_and_counted_while_they_run(tmp_path, caplog,
                                                                                          monkeypatch):
    """2,000 series: their ETS fits took 13 minutes after training, announced when they began, with a
    line per series and no count of how many were left."""
    from trainlab.data.timeseries import baselines

    monkeypatch.setattr(baselines, "PROGRESS_S", 0.0)  # a progress line at every series
    with caplog.at_level(logging.DEBUG, logger="trainlab.data.timeseries"):
        dm = TimeSeriesDataModule(source(write(tmp_path, long_frame()), series_column="store"), window=8,
                                  target_inputs=True, baseline_cache=str(tmp_path / "cache"))
        dm.setup("fit")
        assert "the ETS baseline will be fit on each of the 3 series when the test windows are scored" in caplog.text
        caplog.clear()
        dm.baseline_forecasts("test")
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [m.split(" (")[0] for m in info if " series fitted (" in m] == [
        "ETS baseline: 1 of 3 series fitted", "ETS baseline: 2 of 3 series fitted"]
    assert len([m for m in info if m.startswith("ETS baseline of 3 series ready in ")]) == 1
    assert not [m for m in info if "fitted and cached" in m]  # per series: debug only


def test_the_ets_fit_of_one_series_says_where_it_is_cached(tmp_path, caplog):
    """A file of one series logged 'ETS baseline ready in 0.4 s (cached in ...)'; the fits of many series
    in worker processes kept that line for several series only."""
    from trainlab.data.timeseries import baselines

    series = np.cumsum(np.random.default_rng(0).normal(size=(60, 1)), axis=0)
    with caplog.at_level(logging.INFO, logger=baselines.log.name):
        baselines.cached_ets(series, 45, None, str(tmp_path))
        baselines.cached_ets(series, 45, None, str(tmp_path))
    ready = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ETS baseline ready in ")]
    assert len(ready) == 2 and all(f"cached in {tmp_path}" in m for m in ready)
    assert "(1 fitted)" in ready[0] and "(0 fitted, 1 from the cache)" in ready[1]


def test_the_ets_fits_of_many_series_run_in_worker_processes_and_equal_those_run_here(tmp_path, monkeypatch, caplog):
    """2,000 short series took 5 minutes of ETS fits one after the other: when the rest would take long,
    it is shared among as many processes as the run has threads; the cache is read and written here."""
    from trainlab.data.timeseries import baselines

    rng = np.random.default_rng(0)
    pieces = [(np.cumsum(rng.normal(size=(60, 1)), axis=0), 45) for _ in range(5)]
    here = baselines.ets_fits(pieces, None, None)
    monkeypatch.setattr(baselines, "PARALLEL_AFTER_S", 0.0)  # the rest to workers after the first fit
    with caplog.at_level(logging.INFO, logger=baselines.log.name):
        there = baselines.ets_fits(pieces, None, str(tmp_path), processes=2)
    assert "ETS baseline of 5 series ready in" in caplog.text and "(5 fitted, in 2 processes after the first ones)" \
        in caplog.text
    for mine, theirs in zip(here, there):
        assert np.array_equal(mine[0][0], theirs[0][0]) and mine[0][1] == theirs[0][1]
    assert len(list(tmp_path.glob("ets-*.npz"))) == 5  # cached by this process
    monkeypatch.setattr(baselines, "fit_columns", None)  # all five from the cache now: nothing is fitted
    again = baselines.ets_fits(pieces, None, str(tmp_path), processes=2)
    assert all(np.array_equal(a[0][0], b[0][0]) for a, b in zip(again, here))


def test_the_ets_fits_run_on_one_blas_thread_found_once_per_process(monkeypatch):
    """threadpoolctl searched every library the process had loaded at each series (~10 ms, beside a fit
    of ~18 ms): the BLAS libraries are found once, and each fit still runs on one thread of each."""
    import threadpoolctl

    from trainlab.data.timeseries import ets

    searches, during = [], []
    real_init, real_fit = threadpoolctl.ThreadpoolController.__init__, ets.fit_ets_states
    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__",
                        lambda self: searches.append(1) or real_init(self))
    monkeypatch.setattr(ets, "fit_ets_states", lambda *args: during.append(
        {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"})
        or real_fit(*args))
    series = np.cumsum(np.random.default_rng(0).normal(size=(60, 2)), axis=0)
    for _ in range(3):
        ets.fit_columns(series, 45, None)
    assert len(during) == 6 and all(during) and all(n == 1 for found in during for n in found.values())
    # threadpool_info's own searches (the check above) aside, the controller at most once: 3 with one per fit
    assert len(searches) - len(during) <= 1


def test_the_ets_fits_go_to_processes_also_where_joblib_defaults_to_threads(monkeypatch, caplog):
    """In a trial run by hydra's joblib launcher (a loky worker) joblib's default backend is threads: the
    'worker processes' were threads of the trial, entering and leaving warnings.catch_warnings (process-wide:
    one thread's recorder could stay installed, swallowing later warnings) out of order."""
    import os

    from joblib import parallel_config

    from trainlab.data.timeseries import baselines

    real = baselines.fit_columns
    monkeypatch.setattr(baselines, "fit_columns", lambda *args: (real(*args)[0], [(UserWarning, f"pid {os.getpid()}")]))
    monkeypatch.setattr(baselines, "PARALLEL_AFTER_S", 0.0)  # the rest to workers after the first fit
    rng = np.random.default_rng(0)
    pieces = [(np.cumsum(rng.normal(size=(60, 1)), axis=0), 45) for _ in range(5)]
    with parallel_config(backend="threading"), caplog.at_level("WARNING", logger=baselines.__name__):
        baselines.ets_fits(pieces, None, None, processes=2)
    # one line per text: 'ETS baseline: statsmodels warned while fitting 2 of 5 series (UserWarning: pid 123)'
    lines = [r.getMessage() for r in caplog.records if "pid " in r.getMessage()]
    pids = [line.split("(UserWarning: ")[1].rstrip(")") for line in lines]
    assert sum(int(line.split("fitting ")[1].split(" of ")[0]) for line in lines) == 5  # every fit's warning came
    assert pids[0] == f"pid {os.getpid()}" and len(pids) > 1  # the first fit here, to time it
    assert f"pid {os.getpid()}" not in pids[1:]


def test_the_ets_fits_warnings_are_one_readable_line_per_text(monkeypatch, caplog):
    """statsmodels' ConvergenceWarning was printed as Python prints a warning: the path and line of
    baselines.py's warnings.warn, its source line below, once per text and no word of which fit it was."""
    import warnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    from trainlab.data.timeseries import baselines

    real = baselines.fit_columns
    text = "Maximum Likelihood optimization failed to converge. Check mle_retvals"
    calls = []
    monkeypatch.setattr(baselines, "fit_columns", lambda *args: (
        real(*args)[0], [(ConvergenceWarning, text)] if calls.append(1) or len(calls) <= 2 else []))
    rng = np.random.default_rng(0)
    pieces = [(np.cumsum(rng.normal(size=(60, 1)), axis=0), 45) for _ in range(3)]
    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level("WARNING", logger=baselines.__name__):
        warnings.simplefilter("always")
        baselines.ets_fits(pieces, None, None, names=["store=A", "store=B", "store=C"])
    assert not caught, [str(w.message) for w in caught]
    assert [r.getMessage() for r in caplog.records] == [  # the series named (a line said '1 of 3 series' alone)
        f"ETS baseline: statsmodels warned while fitting 2 of 3 series (store=A, store=B) (ConvergenceWarning: {text})"]


def test_a_test_cut_short_fits_ets_only_for_the_series_it_scores(tmp_path, monkeypatch):
    """trainer.limit_test_batches (or fast_dev_run) scores the first windows only: the series that have
    none of them are not fitted (a debug run on 2,000 series waited minutes for fits it never used)."""
    from trainlab.data.timeseries import baselines

    fitted = []
    real = baselines.fit_columns
    monkeypatch.setattr(baselines, "fit_columns", lambda *args: fitted.append(args) or real(*args))
    dm = TimeSeriesDataModule(source(write(tmp_path, long_frame()), series_column="store"), window=8,
                              target_inputs=True, baseline_cache=None, season_length=0)
    dm.setup("fit")
    first = dm.series_windows("test")[0][1]
    assert len(first) and set(dm.baseline_scores("test", windows=len(first))) == {"last_value", "ets"}
    assert len(fitted) == 1  # store A's only
    whole = dm.baseline_forecasts("test")
    assert len(fitted) == 1 + 3 and len(whole["ets"]) == len(dm.truth("test"))
    assert np.array_equal(dm.baseline_forecasts("test", len(first))["ets"], whole["ets"][:len(first)])


def test_each_series_gets_exactly_its_own_windows_and_baselines(tmp_path):
    """Series of unequal lengths, one with a gap that drops windows: each gets the windows that start
    inside it (found by a binary search per series; masks over every window grew as series x windows)."""
    frame = long_frame()
    frame = frame[~((frame.store == "B") & (frame.date > DAYS[89].strftime("%Y-%m-%d")))].copy()  # B: 90 days
    frame.loc[(frame.store == "C") & (frame.date == DAYS[110].strftime("%Y-%m-%d")), "sales"] = np.nan
    dm = TimeSeriesDataModule(source(write(tmp_path, frame), series_column="store"), window=8, target_inputs=True,
                              ets_baseline=False, missing="drop")
    dm.setup("fit")
    table = dm.load()
    for split in ("val", "test"):
        starts = dm.datasets[split].starts.numpy()
        edges = np.cumsum([0] + [rows for _, rows in table.series_rows])
        for (name, positions, _), first, end in zip(dm.series_windows(split), edges[:-1], edges[1:]):
            assert np.array_equal(positions, np.flatnonzero((starts >= first) & (starts < end))) and len(positions)
        last_value = dm.baseline_forecasts(split)["last_value"][:, 0, 0]
        assert np.array_equal(last_value, table.targets[starts + dm.window - 1, 0])


def test_a_model_learns_several_series_at_once(tmp_path, compose_cfg, run_train):
    path = write(tmp_path, long_frame(stores=("A", "B")))
    cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[sales]",
                       "data.source.time_column=date", "data.source.series_column=store", "data.window=8",
                       "data.season_length=7", "logger=none", "hardware.num_threads=1", "trainer.max_epochs=1"])
    metrics = run_train(cfg)  # ETS on, fit per series (one cached fit each)
    assert np.isfinite(metrics["test/rmse"]) and np.isfinite(metrics["test/baseline_ets_rmse"])
    assert len(list(Path(cfg.paths.log_dir, "baselines").glob("ets-*.npz"))) == 2
    short = pd.concat([long_frame(stores=("A",)), long_frame(stores=("tiny",), days=DAYS[:20])])
    with pytest.raises(UserError, match=r"training split of 'long \(store=A,tiny\)' series tiny \(14 rows\) holds "
                                        r"no window .* or leave the short series out of data.source.series"):
        pooled(write(tmp_path, short), window=16)


def test_series_in_two_files_numbers_as_ids_empty_ids_and_series_within_a_series(tmp_path):
    frame = long_frame()
    features = write(tmp_path, frame.drop(columns="sales"), "x.csv")
    targets = write(tmp_path, frame[["date", "sales"]], "y.csv")  # row-aligned, without the series column
    two_files = TableFile(features, ["sales"], target_path=targets, time_column="date", series_column="store",
                          series="B").load()
    assert np.array_equal(two_files.targets[:, 0], 1000.0 + np.arange(120)) and two_files.feature_names == ["price"]
    write(tmp_path, frame[["date", "sales"]].iloc[:-1], "y.csv")
    with pytest.raises(UserError, match=r"target_path '.*y.csv' has 359 rows and data.source.path 360: to pick series"):
        TableFile(features, ["sales"], target_path=targets, time_column="date", series_column="store",
                  series="B").load()
    floats = write(tmp_path, frame.assign(store=frame.store.map({"A": 1.0, "B": 2.0, "C": 3.0})), "floats.csv")
    assert source(floats, series_column="store", series=2).load().targets[0, 0] == 1000.0  # 2 finds 2.0
    holes = frame.copy()
    holes.iloc[5, 0] = None
    with pytest.raises(UserError, match=r"series_column 'store' in '.*' is empty in 1 row\(s\) \(first row 5\); fill"):
        source(write(tmp_path, holes, "holes.csv"), series_column="store").load()
    assert source(write(tmp_path, holes, "holes.csv"), series_column="store", series="B").load().series == "store=B"
    items = pd.concat([long_frame().assign(item=i) for i in ("x", "y")])
    with pytest.raises(UserError, match=r"series store=A holds several itself: column 'item' tells them apart \(x, y; "
                                        r"120 rows each\); join 'store' and 'item' into one column"):
        source(write(tmp_path, items, "items.csv"), series_column="store").load()
    with pytest.raises(UserError, match=r"series store=A repeats its times; keep one row per time step in each"):
        source(write(tmp_path, pd.concat([frame, frame.assign(sales=frame.sales + 0.5)]), "twice.csv"),
               series_column="store", series="A").load()


# -- evaluate.py on a run of several series --------------------------------------------------------
def test_evaluate_scores_and_draws_each_series(tmp_path, compose_cfg, run_train, monkeypatch):
    """Per-series figures in report.json and report.md (the overall keys, with each series' own baselines
    and MASE scale); predictions.png draws a panel per series up to its cap and names those left out."""
    import json

    import evaluate as evaluate_script
    from trainlab.evaluation import timeseries as evaluation

    stores = [f"s{i}" for i in range(10)]
    path = write(tmp_path, long_frame(stores=stores, days=DAYS[:60]))
    cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=[sales]",
                       "data.source.time_column=date", "data.source.series_column=store", "data.window=8",
                       "data.ets_baseline=false", "data.season_length=0", "logger=none", "trainer.max_epochs=1"])
    run_train(cfg)
    drawn = []
    monkeypatch.setattr(evaluation, "plot_predictions",
                        lambda pred, true, names, path, series, total: drawn.append(([s[0] for s in series], total)))
    eval_cfg = compose_cfg([f"ckpt_path={cfg.paths.output_dir}", "hardware.num_threads=1"], config_name="eval")
    report = evaluate_script.evaluate(eval_cfg)
    per_series = report["per_series"]
    assert list(per_series) == stores
    assert drawn == [(stores[:evaluation.MAX_PANELS], 10)]
    assert report["test/series_not_plotted"] == "s8, s9"
    windows = np.array([row["windows"] for row in per_series.values()])
    rmse = np.array([row["test/rmse"] for row in per_series.values()])
    assert windows.sum() == 10 * 9  # 15% of 60 rows each
    assert np.sqrt((windows * rmse**2).sum() / windows.sum()) == pytest.approx(report["metrics"]["test/rmse"], rel=1e-4)
    for row in per_series.values():  # each series steps by 1 a day: its last value is off by 1, its own MASE scale 1
        assert row["test/baseline_last_value_rmse"] == pytest.approx(1.0)
        assert row["test/baseline_last_value_mase"] == pytest.approx(1.0)
        assert row["test/aaa"] == pytest.approx(1 - row["test/mape"])
        assert row["test/comparison"].startswith(f"test rmse {row['test/rmse']:.4g} | last value 1 |")
    out_dir = Path(eval_cfg.paths.output_dir)
    assert json.loads((out_dir / "metrics.json").read_text())["per_series"]["s3"] == per_series["s3"]
    section = (out_dir / "report.md").read_text().split("## Per series (10)")[1].split("## Inference")[0]
    assert len(re.findall(r"\n\| s\d \|", section)) == 10 and "last value 1 \\|" in section
    # split=all: every window of each series, its baselines on the same windows; a season longer than the window
    # leaves that many rows first, so the seasonal naive of the first window has a season before it
    whole = evaluate_script.evaluate(compose_cfg([f"ckpt_path={cfg.paths.output_dir}", "hardware.num_threads=1",
                                                  "split=all", "+data.season_length=12"], config_name="eval"))
    assert [row["windows"] for row in whole["per_series"].values()] == [60 - 4 - 8] * 10  # window 8, 4 rows of lead-in
    assert whole["extra"]["test/scored"].endswith("every window of each of its 10 series after its first 4 rows (one "
                                                  "season for the seasonal naive) (split=all)")
    for row in whole["per_series"].values():  # a step of 1 a day: off by 1, and by 12 a season back
        assert row["test/baseline_last_value_rmse"] == pytest.approx(1.0)
        assert row["test/baseline_seasonal_naive_rmse"] == pytest.approx(12.0)


@pytest.mark.parametrize("days", [[0, 2], [0, 2, 6], [0, 3]])
def test_a_short_series_with_gaps_takes_the_step_of_the_file(tmp_path, caplog, days):
    """A daily file where store B has two rows with a day missing between them read B as a step of 2 days, and the
    file then had no step, season length or frequency ('the series step differently (2D, D)'). The step comes from
    the file's other series: B's missing days are empty rows, logged naming it."""
    dates = pd.date_range("2021-01-01", periods=60)
    rows = [("A", d, float(k)) for k, d in enumerate(dates)] + [("B", dates[k], 100.0 + k) for k in days]
    frame = pd.DataFrame(rows, columns=["store", "date", "sales"]).assign(date=lambda f: f.date.dt.strftime("%Y-%m-%d"))
    path = write(tmp_path, frame)
    with caplog.at_level(logging.INFO):
        table = TableFile(path, ["sales"], time_column="date", series_column="store").load()
    assert (table.frequency, table.season_length) == ("D", 7)
    assert table.series_rows == (("A", 60), ("B", days[-1] + 1))
    b = table.targets[60:, 0]
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(b)), days)
    assert "1 series laid on the file's step of 1 day" in caplog.text and "store=B" in caplog.text


def test_a_series_off_the_step_of_the_file_is_named(tmp_path, caplog):
    """A series whose times do not fit the file's step (every 90 minutes among hourly ones) is named in one line,
    not lost in 'the series step differently (90min, h)'."""
    hours = pd.date_range("2021-01-01", periods=48, freq="h")
    rows = [(s, t, float(k)) for s in "AB" for k, t in enumerate(hours)]
    rows += [("C", t, float(k)) for k, t in enumerate(pd.date_range("2021-01-01", periods=20, freq="90min"))]
    frame = pd.DataFrame(rows, columns=["store", "time", "load"]).assign(time=lambda f: f.time.astype(str))
    path = write(tmp_path, frame)
    with caplog.at_level(logging.INFO):
        table = TableFile(path, ["load"], time_column="time", series_column="store").load()
    assert table.frequency is None
    assert ("data.source.time_column 'time': 1 series do not step by the file's step of 1 hour: store=C (90 minutes); "
            "no season or frequency taken from it") in caplog.text
