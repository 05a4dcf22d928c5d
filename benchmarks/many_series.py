"""A file of many series (the long layout, ``store,date,sales``): how long it takes to read, and how long
its per-series ETS baselines take one after the other against worker processes.

The file is generated (deterministic; daily dates written as text, rows shuffled as an export from a
database may be) into a temporary folder. Reported:

* ``TableFile.load()``: the file read, each series sorted on its time column and checked, and the time
  per series, two ways alternating (medians of ``--repeats`` reads each): as a run reads it (the series
  already regular sorted in one pass, trainlab.data.timeseries.regular) and every series one at a time
  (as before that pass);
* the ETS fits of every series (no cache), ``--repeats`` rounds alternating three ways: in one process
  with numpy's BLAS threads as they come (one per core: how the fits ran before they were limited;
  the first ``--fit`` series only, it is slow), in one process with one BLAS thread, and as a run
  fits them (``baselines.ets_fits`` with ``--processes``, default torch's thread count as in a run:
  in this process until the rest would take over 10 s, then in worker processes, their start
  included); medians, and the time per series against the first way's.

Run: ``make bench-series`` or ``.venv/bin/python benchmarks/many_series.py --series 2000 --length 200``;
``--only read`` times the read alone (it runs in a checkout of an older commit too, copied there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from trainlab.data.timeseries.sources import TableFile  # noqa: E402


def write_file(path: Path, series: int, length: int) -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2020-01-01", periods=length, freq="D").strftime("%Y-%m-%d")
    level = np.repeat(rng.normal(100, 20, size=series), length)
    walk = np.cumsum(rng.normal(size=(series, length)), axis=1).ravel()
    frame = pd.DataFrame({"date": np.tile(days, series), "store": np.repeat([f"s{i}" for i in range(series)], length),
                          "sales": (level + walk).round(3), "price": rng.normal(size=series * length).round(3)})
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--length", type=int, default=200, help="rows per series")
    parser.add_argument("--fit", type=int, default=100, help="series fitted with BLAS threads as they come")
    parser.add_argument("--processes", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("read", "fits"), help="time the read or the ETS fits alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stores.csv"
        write_file(path, args.series, args.length)
        source = TableFile(str(path), ["sales"], time_column="date", series_column="store")
        if args.only != "fits":
            reads(path, args)
        table = source.load()
    if args.only != "read":
        fits(table, args)


def reads(path: Path, args: argparse.Namespace) -> None:
    """The read as a run does it against every series sorted one at a time, alternating, medians."""
    from trainlab.data.timeseries import sources

    def read() -> None:
        sources.TableFile(str(path), ["sales"], time_column="date", series_column="store").load()

    arms: dict[str, list[float]] = {"as a run reads it": [], "one series at a time (before)": []}
    one_pass = getattr(sources, "regular_series", None)  # an older checkout has only the one-at-a-time way
    for _ in range(args.repeats):
        if one_pass is not None:
            arms["as a run reads it"].append(timed(read))
            sources.regular_series = lambda *_: None
        try:
            arms["one series at a time (before)"].append(timed(read))
        finally:
            if one_pass is not None:
                sources.regular_series = one_pass
    print(f"{args.series} series of {args.length} rows ({args.series * args.length:,} rows), read (medians of "
          f"{args.repeats} alternating rounds):")
    for name, times in arms.items():
        if times:
            load = statistics.median(times)
            print(f"  {name}: {load:.2f} s ({', '.join(f'{t:.2f}' for t in times)}), "
                  f"{1000 * load / args.series:.2f} ms per series")


def fits(table, args: argparse.Namespace) -> None:
    from trainlab.data.timeseries import baselines, ets

    train_end = int(0.7 * args.length)
    pieces = [(table.targets[i * args.length:(i + 1) * args.length].astype(np.float64), train_end)
              for i in range(args.series)]
    few = pieces[:args.fit]
    arms = {f"1 process, BLAS threads as they come, first {len(few)} series":
            (few, lambda: [ets.fit_ets_states(s[:, 0], t, None) for s, t in few]),
            "1 process, 1 BLAS thread": (pieces, lambda: baselines.ets_fits(pieces, None, None, 1)),
            f"as a run: up to {args.processes} processes": (pieces, lambda: baselines.ets_fits(pieces, None, None,
                                                                                               args.processes))}
    rounds: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, (_, arm) in arms.items():
            rounds[name].append(timed(arm))
    per_series = {name: statistics.median(rounds[name]) / len(arms[name][0]) for name in arms}
    first = next(iter(per_series.values()))
    print(f"ETS fits (medians of {args.repeats} alternating rounds):")
    for name, each in per_series.items():
        print(f"  {name}: {each * len(arms[name][0]):.2f} s, {1000 * each:.1f} ms per series, {each / first:.3f} of "
              f"the first per series (rounds {', '.join(f'{t:.2f}' for t in rounds[name])} s)")


if __name__ == "__main__":
    main()
