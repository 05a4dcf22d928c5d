"""Classical forecasts every time-series model is judged against, on the model's own test windows.

- last value: every step repeats the window's last observed value;
- seasonal naive: each step repeats the value one season before it (the latest of the same phase
  at or before the window's end), when a season length is known;
- ETS: statsmodels' ``ETSModel`` (additive error, additive damped trend, additive season when one
  is known) fit on the training rows only, then run over the whole series with those parameters
  (``smooth``: filtering, no re-estimation), so a forecast from row t uses rows <= t only.

ETS forecasts h steps after origin t come from the filtered states at t (Hyndman &
Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 8.4):
``l_t + (phi + ... + phi^h) b_t + s_{t+h-m(k+1)}``, k = floor((h-1)/m). The fitted parameters and
states depend only on the series, the training rows and the season, so they are cached on disk per
data configuration (hash of those): sweep trials and evaluate.py reuse them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Sequence, TypeVar, Union

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.module import constant_columns
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


def fit_ets_states(series: np.ndarray, train_end: int, season: Optional[int]) -> tuple[np.ndarray, float]:
    """Fit on series[:train_end], filter the whole 1-D series: (states (rows, 3), phi).

    States per row after observing it: level, trend, seasonal (0 without a season). The fit sees the
    series standardised by its training rows, and the states are mapped back (an additive model is
    equivariant: level -> level * std + mean, trend and season -> * std): statsmodels' optimiser works
    in the data's units, and a series around 1e-9 got an ETS 10x worse than its seasonal naive, where
    the same series around 1 got one better than it."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    centre = float(np.mean(series[:train_end]))
    spread = float(np.std(series[:train_end])) or 1.0
    series = (np.asarray(series, dtype=np.float64) - centre) / spread

    spec = dict(error="add", trend="add", damped_trend=True, seasonal="add" if season else None,
                seasonal_periods=season)
    model = ETSModel(series[:train_end].astype(np.float64), **spec)
    # the parameters and the raw filter output only: statsmodels' results objects would also compute a
    # numerical Hessian (standard errors nobody reads here), about a sixth of the time
    params = model.fit(disp=False, return_params=True)
    _, raw = ETSModel(series.astype(np.float64), **spec).smooth(params, return_raw=True)
    states = np.zeros((len(series), 3))
    raw = np.asarray(raw)
    states[:, : raw.shape[1]] = raw
    states[:, 0] = states[:, 0] * spread + centre
    states[:, 1:] *= spread
    return states, float(params[list(model.param_names).index("damping_trend")])


def ets_forecast(states: np.ndarray, phi: float, origins: np.ndarray, offsets: np.ndarray,
                 season: Optional[int]) -> np.ndarray:
    """(samples, steps) forecasts from the filtered states of one target (see the module docstring)."""
    damp = np.cumsum(phi ** np.arange(1, offsets.max() + 1))[offsets - 1]  # phi + ... + phi^h
    level, trend = states[origins, 0][:, None], states[origins, 1][:, None]
    forecast = level + damp[None, :] * trend
    if season:
        back = season * ((offsets - 1) // season + 1)
        forecast = forecast + states[origins[:, None] + offsets[None, :] - back[None, :], 2]
    return forecast


def cached_ets(series: np.ndarray, train_end: int, season: Optional[int],
               cache_dir: Optional[str]) -> list[tuple[np.ndarray, float]]:
    """ETS states and phi per target column, from the cache when this configuration was seen."""
    key = hashlib.sha256()
    for part in (ETS_VERSION, str(train_end), str(season), str(series.shape)):
        key.update(part.encode())
    key.update(np.ascontiguousarray(series, dtype=np.float64).tobytes())
    path = Path(cache_dir) / f"ets-{key.hexdigest()[:20]}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as stored:
                return [(stored[f"states{j}"], float(stored["phi"][j])) for j in range(series.shape[1])]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # cut short (power loss)
            log.warning("ETS cache %s is unreadable (%s: %s): fitted again and replaced", path, type(exc).__name__,
                        str(exc)[:80])
    fits = [fit_ets_states(series[:, j], train_end, season) for j in range(series.shape[1])]
    if path is not None and path.parent not in _UNCACHED:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(path) as tmp, open(tmp, "wb") as out:  # a parallel trial reads the whole file or none
                np.savez(out, phi=np.array([phi for _, phi in fits]),
                         **{f"states{j}": s for j, (s, _) in enumerate(fits)})
            log.debug("ETS baseline fitted and cached in %s", path)  # one line per run: fitted_in
        except (OSError, DiskFull) as exc:  # a cache: the run goes on without it
            _UNCACHED.add(path.parent)
            full = exc if isinstance(exc, DiskFull) else DiskFull.of(exc)  # full, read-only, no permission
            reason = full.reason if full else os.strerror(exc.errno) if exc.errno else str(exc)
            log.warning("ETS fits not cached in %s (%s): this run goes on, and the next one fits them again; %s, "
                        "or set data.baseline_cache=<a writable folder> (null: no cache)", path.parent, reason,
                        full.remedy_on("its disk") if full else "make it writable")
    return fits


Item = TypeVar("Item")
PROGRESS_S = 30.0  # seconds between progress lines of the per-series ETS fits


def fitted_in(series: Sequence[Item], cache_dir: Optional[str]) -> Iterator[Item]:
    """The ``series`` (what the ETS baseline is fit on, one after the other), logging every 30 s how
    many are done and, at the end, once, how long it took and where the fits are cached: 2,000 short
    series took minutes after training, with a line per series and no count."""
    start = last = time.perf_counter()
    for done, item in enumerate(series):
        now = time.perf_counter()
        if done and now - last >= PROGRESS_S:
            log.info("ETS baseline: %d of %d series fitted (%.0f s)", done, len(series), now - start)
            last = now
        yield item
    log.info("ETS baseline%s ready in %.1f s%s", f" of {len(series)} series" if len(series) > 1 else "",
             time.perf_counter() - start,
             f" (cached in {cache_dir}: sweep trials and evaluate.py reuse it)" if cache_dir else "")


def forecasts(series: np.ndarray, train_end: int, origins: np.ndarray, offsets: np.ndarray,
              season: Optional[int], ets: bool, cache_dir: Optional[str]) -> dict[str, np.ndarray]:
    """Every baseline's (samples, steps, targets) forecast for windows ending at ``origins``.

    ``series`` is gap-free (filled where the data had gaps; no scored window touches such a row)."""
    out = {"last_value": last_value(series, origins, offsets)}
    if season:
        out["seasonal_naive"] = seasonal_naive(series, origins, offsets, season)
    if ets:
        check_ets_rows(train_end, season)
        fits = cached_ets(series, train_end, season, cache_dir)
        out["ets"] = np.stack([ets_forecast(s, phi, origins, offsets, season) for s, phi in fits], axis=-1)
    return out


def mase_scale(train_targets: Union[np.ndarray, Sequence[np.ndarray]], season: Optional[int]) -> np.ndarray:
    """MASE's denominator per target (Hyndman & Koehler 2006): the in-sample mean absolute error of
    the (seasonal) naive forecast on the training rows; for several series (a list of their training
    rows) the naive errors within each series, pooled. A series without naive errors beyond float64
    rounding of its values (constant, or repeating its season exactly) gets 1 (no division by 0); the
    test is relative, so a series of values around 1e-9 keeps its own scale."""
    blocks = [train_targets] if isinstance(train_targets, np.ndarray) else list(train_targets)
    m = season or 1
    diffs = [np.abs(block[m:] - block[:-m]) for block in blocks if len(block) > m]
    if not diffs:
        return np.ones(blocks[0].shape[1])
    scale = np.nanmean(np.concatenate(diffs), axis=0)
    return np.where(np.isfinite(scale) & ~constant_columns(np.concatenate(blocks), scale), scale, 1.0)
