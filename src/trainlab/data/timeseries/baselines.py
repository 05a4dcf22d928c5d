"""Classical forecasts every time-series model is judged against, on the model's own test windows.

- last value: every step repeats the window's last observed value;
- seasonal naive: each step repeats the value one season before it (the latest of the same phase
  at or before the window's end), when a season length is known;
- ETS (:mod:`trainlab.data.timeseries.ets`: the fit and its forecasts). The fitted parameters and
  states depend only on the series, the training rows and the season, so they are cached on disk per
  data configuration (hash of those): sweep trials and evaluate.py reuse them; the fits of many series
  run in worker processes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.ets import ets_forecast, fit_columns, initialisation
from trainlab.data.module import constant_columns
from trainlab.data.rounding import beyond_rounding, magnitudes
from trainlab.run.durable import DiskFull, replacing

log = logging.getLogger(__name__)

_UNCACHED: set[Path] = set()  # cache folders a write failed in: warned once, not written again

ETS_VERSION = "ets-add-damped-v2"  # part of the cache key: change it when the ETS setup changes (v2: standardised)


def last_value(series: np.ndarray, origins: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(samples, steps, targets) forecasts; series (rows, targets), origins: windows' last rows."""
    return np.repeat(series[origins][:, None, :], len(offsets), axis=1)


def seasonal_naive(series: np.ndarray, origins: np.ndarray, offsets: np.ndarray, season: int) -> np.ndarray:
    """Row o + h is forecast by row o + h - m * ceil(h / m): one, two ... seasons back, never after o."""
    back = season * np.ceil(offsets / season).astype(int)  # (steps,)
    return series[origins[:, None] + offsets[None, :] - back[None, :]]


def ets_min_rows(season: Optional[int]) -> int:
    """Training rows the ETS fit needs: two full seasons plus enough to estimate level and trend."""
    return 2 * season + 10 if season else 10


def check_ets_rows(train_end: int, season: Optional[int]) -> None:
    """One line naming the keys when ``train_end`` training rows are too few for the ETS fit."""
    if train_end < ets_min_rows(season):
        raise UserError(
            f"the ETS baseline needs at least {ets_min_rows(season)} training rows"
            f"{f' with data.season_length={season}' if season else ''}, the training split has "
            f"{train_end}: give more rows, lower data.val_fraction/test_fraction"
            f"{', a shorter data.season_length (0: none)' if season else ''} or set data.ets_baseline=false")


def check_cache_dir(cache_dir: str) -> None:
    """``data.baseline_cache`` must be a folder this process can read, or create (checked before training:
    the ETS fits are cached after it). One it can read but not write (a shared cache an admin prepared,
    a read-only mount) is used for its fits, and nothing is written there: one line says so."""
    path = Path(cache_dir)
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"data.baseline_cache={cache_dir}: '{existing}' is a file, not a folder; give a folder "
                        "(it is created) or null to not cache the ETS fits")
    writable = os.access(existing, os.W_OK | os.X_OK)
    if existing != path and not writable:  # not there yet, and cannot be made
        raise UserError(f"data.baseline_cache={cache_dir}: '{existing}' is not writable, so the cache folder "
                        "cannot be made there; give a folder you can write in, or null to not cache the ETS fits")
    if writable:
        return
    if not os.access(path, os.R_OK | os.X_OK):
        raise UserError(f"data.baseline_cache={cache_dir} can be neither read nor written here; give a folder you "
                        "can write in, or null to not cache the ETS fits")
    if path not in _UNCACHED:
        _UNCACHED.add(path)
        log.info("data.baseline_cache=%s is read-only here: the ETS fits cached there are used, new ones are not "
                 "stored (give a writable folder to keep them)", cache_dir)


def _cache_path(series: np.ndarray, train_end: int, season: Optional[int], cache_dir: Optional[str]) -> Optional[Path]:
    """Where the fits of this series, training rows and season are cached (None: no cache)."""
    if not cache_dir:
        return None
    key = hashlib.sha256()
    started = "" if initialisation(season) == "estimated" else initialisation(season)  # the keys before it, kept
    for part in (ETS_VERSION, str(train_end), f"{season}{started}", str(series.shape)):
        key.update(part.encode())
    key.update(np.ascontiguousarray(series, dtype=np.float64).tobytes())
    return Path(cache_dir) / f"ets-{key.hexdigest()[:20]}.npz"


def _cached(path: Optional[Path], columns: int) -> Optional[list[tuple[np.ndarray, float]]]:
    """The fits stored at ``path``, or None (not there, or unreadable: warned, fitted again and replaced)."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            return [(stored[f"states{j}"], float(stored["phi"][j])) for j in range(columns)]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # cut short (power loss)
        log.warning("ETS cache %s is unreadable (%s: %s): fitted again and replaced", path, type(exc).__name__,
                    str(exc)[:80])
        return None


def _store(path: Optional[Path], fits: list[tuple[np.ndarray, float]]) -> None:
    """The fits cached at ``path``; a cache that cannot be written is one warning, and the run goes on."""
    if path is None or path.parent in _UNCACHED:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp, open(tmp, "wb") as out:  # a parallel trial reads the whole file or none
            np.savez(out, phi=np.array([phi for _, phi in fits]), **{f"states{j}": s for j, (s, _) in enumerate(fits)})
        log.debug("ETS baseline fitted and cached in %s", path)  # one line per run: ets_fits
    except (OSError, DiskFull) as exc:  # a cache: the run goes on without it
        _UNCACHED.add(path.parent)
        full = exc if isinstance(exc, DiskFull) else DiskFull.of(exc, path)  # full, read-only, no permission
        reason = full.reason if full else os.strerror(exc.errno) if exc.errno else str(exc)
        log.warning("ETS fits not cached in %s (%s): this run goes on, and the next one fits them again; %s, "
                    "or set data.baseline_cache=<a writable folder> (null: no cache)", path.parent, reason,
                    full.remedy_on("its disk") if full else "make it writable")


def cached_ets(series: np.ndarray, train_end: int, season: Optional[int],
               cache_dir: Optional[str]) -> list[tuple[np.ndarray, float]]:
    """ETS states and phi per target column, from the cache when this configuration was seen."""
    return ets_fits([(series, train_end)], season, cache_dir)[0]


SHOWN = 3  # series named in a line on the fits' warnings before "..."
PROGRESS_S = 30.0  # seconds between progress lines of the per-series ETS fits
PARALLEL_AFTER_S = 10.0  # fits still to do beyond this many seconds go to worker processes (each starts in ~1-3 s)


def ets_fits(pieces: Sequence[tuple[np.ndarray, int]], season: Optional[int], cache_dir: Optional[str],
             processes: int = 1, names: Sequence[str] = ()) -> list[list[tuple[np.ndarray, float]]]:
    """The ETS fits of each (series, training rows) in ``pieces`` (:func:`cached_ets`), the cache read
    and written here. Those not cached are fit here, one after the other, until the rest would take
    over ``PARALLEL_AFTER_S`` at the pace so far: then the rest is shared among up to ``processes``
    worker processes (the fits are independent; a worker's start costs the time of a hundred short
    fits, so short jobs stay here). Progress every 30 s, and one line at the end (where they are cached).
    ``names``: each piece's series, for the lines on statsmodels' warnings to name the series that gave them."""
    for _, train_end in pieces:
        check_ets_rows(train_end, season)
    start = last = time.perf_counter()  # the cache's reads count too (2,000 files: seconds)
    paths = [_cache_path(series, train_end, season, cache_dir) for series, train_end in pieces]
    fits = [_cached(path, series.shape[1]) for path, (series, _) in zip(paths, pieces)]
    todo = [i for i, fit in enumerate(fits) if fit is None]
    fitting, workers = time.perf_counter(), 1
    done = iter(fit_columns(*pieces[i], season) for i in todo)
    warned: dict[tuple[type, str], list[int]] = {}  # (category, text) -> the pieces whose fit gave it, in order
    for count, i in enumerate(todo, start=1):
        fit, caught = next(done)
        for said in dict.fromkeys(caught):
            warned.setdefault(said, []).append(i)
        fits[i] = fit
        _store(paths[i], fit)
        now, rest = time.perf_counter(), todo[count:]
        if workers == 1 and processes > 1 and len(rest) >= 2 * processes \
                and (now - fitting) / count * len(rest) > PARALLEL_AFTER_S:
            from joblib import Parallel, delayed

            workers = processes
            # processes whatever joblib's context: in a trial run by hydra's joblib launcher (a loky worker) its
            # default is threads, whose fits ran on with warnings.catch_warnings and threadpoolctl's limits, both
            # process-wide and not thread-safe, entered and left out of order
            done = iter(Parallel(n_jobs=workers, backend="loky", return_as="generator")(
                delayed(fit_columns)(*pieces[j], season) for j in rest))
        if rest and now - last >= PROGRESS_S:
            log.info("ETS baseline: %d of %d series fitted (%.0f s)", count, len(todo), now - start)
            last = now
    for (category, text), which in warned.items():  # one line per text, where Python printed baselines.py's
        # warn() and its source line; the series named (a closed store among open ones: which one gave it?)
        named = f" ({', '.join(names[i] for i in which[:SHOWN])}{', ...' if len(which) > SHOWN else ''})" \
            if len(names) == len(pieces) else ""
        log.warning("ETS baseline: statsmodels warned while fitting %s (%s: %s)",
                    f"{len(which)} of {len(todo)} series{named}" if len(todo) > 1 else "it", category.__name__, text)
    if pieces:  # one series too: where its fit is cached
        log.info("ETS baseline%s ready in %.1f s (%s)%s", f" of {len(pieces)} series" if len(pieces) > 1 else "",
                 time.perf_counter() - start,
                 f"{len(todo)} fitted" + (f", in {workers} processes after the first ones" if workers > 1 else "")
                 + (f", {len(pieces) - len(todo)} from the cache" if len(todo) < len(pieces) else ""),
                 f"; cached in {cache_dir}: sweep trials and evaluate.py reuse it" if cache_dir else "")
    return fits


def forecasts(series: np.ndarray, train_end: int, origins: np.ndarray, offsets: np.ndarray,
              season: Optional[int], ets: Optional[list[tuple[np.ndarray, float]]]) -> dict[str, np.ndarray]:
    """Every baseline's (samples, steps, targets) forecast for windows ending at ``origins``; ``ets``:
    the series' ETS fits (:func:`ets_fits`), or None for no ETS baseline.

    ``series`` is gap-free (filled where the data had gaps; no scored window touches such a row)."""
    out = {"last_value": last_value(series, origins, offsets)}
    if season:
        out["seasonal_naive"] = seasonal_naive(series, origins, offsets, season)
    if ets is not None:
        out["ets"] = np.stack([ets_forecast(s, phi, origins, offsets, season) for s, phi in ets], axis=-1)
    return out


def mase_scale(train_targets: Union[np.ndarray, Sequence[np.ndarray]], season: Optional[int]) -> np.ndarray:
    """MASE's denominator per target (Hyndman & Koehler 2006): the in-sample mean absolute error of
    the (seasonal) naive forecast on the training rows; for several series (a list of their training
    rows) the naive errors within each series, pooled. A series without naive errors beyond float64
    rounding of its values (constant, or repeating its season exactly) gets 1 (no division by 0); the
    test is relative, so a series of values around 1e-9 keeps its own scale. :func:`mase_notes` says where
    it is 1 for want of naive errors."""
    return _naive_scale(train_targets, season)[0]


def _naive_scale(train_targets: Union[np.ndarray, Sequence[np.ndarray]],
                 season: Optional[int]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(:func:`mase_scale`, per target whether it is 1 for want of naive errors, whether any block was longer than
    the naive's lag)."""
    blocks = [train_targets] if isinstance(train_targets, np.ndarray) else list(train_targets)
    m = season or 1
    diffs = [np.abs(block[m:] - block[:-m]) for block in blocks if len(block) > m]
    if not diffs:
        return np.ones(blocks[0].shape[1]), np.ones(blocks[0].shape[1], dtype=bool), False
    scale = np.nanmean(np.concatenate(diffs), axis=0)
    kept = np.isfinite(scale) & ~constant_columns(np.concatenate(blocks), scale)
    return np.where(kept, scale, 1.0), ~kept, True


def mase_notes(train_targets: Sequence[np.ndarray], season: Optional[int], names: Sequence[str],
               series: Sequence[str] = (), dropped: Optional[int] = None) -> list[str]:
    """Where MASE's scale is not the (seasonal) naive's own errors on the training rows, one line each, for the run's
    log and the records that hold the score: the source's season ``dropped`` for too few training rows (the one-step
    naive's errors instead), a target whose scale is 1 (its MASE then its mean absolute error, in its units) for want
    of naive errors (every training stretch as short as the naive's lag, or the naive exact on them), and the
    ``series`` (one name per block of ``train_targets``) whose own MASE (evaluate.py's per-series figures) is so."""
    m = season or 1
    naive = f"the seasonal naive (lag {m})" if season else "the one-step naive"
    found = []
    if dropped:
        found.append(f"MASE is scaled by the one-step naive's errors, not by those of the seasonal naive of season "
                     f"length {dropped} (the source's), which does not fit the training rows")
    _, unscaled, long_enough = _naive_scale(list(train_targets), season)
    why = (f"{naive} is exact on the training rows" if long_enough
           else f"no training stretch is longer than {m} row(s), {naive}'s lag")
    found += [f"MASE of '{name}' is its mean absolute error, not scaled (scale 1): {why}, leaving no error to scale by"
              for name, flat in zip(names, unscaled) if flat]
    if len(series) > 1 and not unscaled.all():
        own = [name for name, flat in zip(series, _unscaled_series(train_targets, m)) if flat]
        if own:
            shown = ", ".join(map(str, own[:5])) + (f", ... ({len(own)} in all)" if len(own) > 5 else "")
            found.append(f"{len(own)} of {len(series)} series ({shown}) have no error of {naive} of their own in "
                         "their training rows (too few rows, or repeated exactly): their own MASE (evaluate.py's "
                         "per-series figures) is their mean absolute error, not scaled")
    return found


def _unscaled_series(blocks: Sequence[np.ndarray], m: int) -> np.ndarray:
    """Per block (a series' training rows), whether :func:`mase_scale` of it alone is 1 for want of naive errors at
    lag ``m`` in some target: every series at once (20,000 series one at a time took 1.6 s)."""
    sizes = np.array([len(block) for block in blocks], dtype=np.int64)
    rows = np.concatenate(blocks).astype(np.float64)  # (rows, targets)
    owner = np.repeat(np.arange(len(blocks)), sizes)
    same = owner[m:] == owner[:-m]  # a naive error within one series
    errors = np.abs(rows[m:] - rows[:-m])[same]
    ok = ~np.isnan(errors)
    count = np.stack([np.bincount(owner[m:][same], ok[:, j], len(blocks)) for j in range(rows.shape[1])], axis=1)
    total = np.stack([np.bincount(owner[m:][same], np.where(ok[:, j], errors[:, j], 0.0), len(blocks))
                      for j in range(rows.shape[1])], axis=1)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    largest = np.maximum.reduceat(magnitudes(rows), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = beyond_rounding(total / count, largest)  # as constant_columns decides it; no error at all: NaN, not scaled
    return ~scaled.all(axis=1)
