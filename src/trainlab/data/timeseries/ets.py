"""The ETS baseline's numbers: statsmodels' ``ETSModel`` (additive error, additive damped trend, additive
season when one is known) fit on the training rows only, then run over the whole series with those
parameters (``smooth``: filtering, no re-estimation), so a forecast from row t uses rows <= t only.

ETS forecasts h steps after origin t come from the filtered states at t (Hyndman & Athanasopoulos,
"Forecasting: Principles and Practice", 3rd ed., section 8.4):
``l_t + (phi + ... + phi^h) b_t + s_{t+h-m(k+1)}``, k = floor((h-1)/m).

Imports numpy, threadpoolctl and statsmodels only: worker processes fitting many series (baselines.ets_fits) import
this module, and torch or Lightning would cost each of them seconds before its first fit.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any, Optional

import numpy as np

from trainlab.data.rounding import beyond_rounding


# Seasons longer than this (96 for 15-minute steps, 168 for hourly data's week) start from statsmodels'
# heuristic initial states (Hyndman et al. 2008, section 2.6.1: from the first two cycles) instead of estimating
# one initial state per season step with the parameters: estimated, a season of 96 took 29 s on 1,400 training
# rows and did not converge, 288 took 100 s; heuristic, 0.8 s and 1.3 s for 168, as accurate on a sine with noise
# (one timing each, by hand, on this 2-core machine with other work on it)
LONG_SEASON = 52


def initialisation(season: Optional[int]) -> str:
    """statsmodels' ``initialization_method`` for a season: "estimated", or "heuristic" above LONG_SEASON."""
    return "heuristic" if season and season > LONG_SEASON else "estimated"


def fit_ets_states(series: np.ndarray, train_end: int, season: Optional[int]) -> tuple[np.ndarray, float]:
    """Fit on series[:train_end], filter the whole 1-D series: (states (rows, 3), phi).

    States per row after observing it: level, trend, seasonal (0 without a season). The fit sees the
    series standardised by its training rows, and the states are mapped back (an additive model is
    equivariant: level -> level * std + mean, trend and season -> * std): statsmodels' optimiser works
    in the data's units, and a series around 1e-9 got an ETS 10x worse than its seasonal naive, where
    the same series around 1 got one better than it. Training rows of one value are not fit
    (:func:`_constant_states`)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    centre, spread = float(np.mean(series[:train_end])), float(np.std(series[:train_end]))
    # training rows within float64 rounding of one value: nothing to fit (all zeros too); rows with NaN are fit
    if not np.isnan(spread) and not beyond_rounding(spread, float(np.max(np.abs(series[:train_end])))):
        return _constant_states(np.asarray(series, dtype=np.float64)), 1.0
    series = (np.asarray(series, dtype=np.float64) - centre) / spread

    spec = dict(error="add", trend="add", damped_trend=True, seasonal="add" if season else None,
                seasonal_periods=season, initialization_method=initialisation(season))
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


def _constant_states(series: np.ndarray) -> np.ndarray:
    """The states of a series whose training rows hold one value (a store closed all year, a sensor stuck): its
    likelihood is flat in every smoothing parameter, and statsmodels' fit took 7.6 s to fail to converge (ten
    warnings, divide by zero in log) where a fit takes ~20 ms. Every ETS forecast of such rows is that value; the
    states take each later row's value as the level (smoothing 1: trend and season stay 0), so a series that
    starts to move after training is forecast by its last value, not by a flat line."""
    states = np.zeros((len(series), 3))
    states[:, 0] = series
    return states


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


def fit_columns(series: np.ndarray, train_end: int, season: Optional[int],
                ) -> tuple[list[tuple[np.ndarray, float]], list[tuple[type, str]]]:
    """:func:`fit_ets_states` of each target column of ``series`` (rows, targets), and the warnings the
    fits gave (category, text): in a worker process they would go to its stderr, outside the run's log.

    The fits use one BLAS thread: their matrices are tiny, and numpy's OpenBLAS threads (one per core)
    made each fit 10x slower or worse on a busy machine (benchmarks/many_series.py)."""
    with _blas().limit(limits=1, user_api="blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fits = [fit_ets_states(series[:, j], train_end, season) for j in range(series.shape[1])]
    return fits, [(w.category, str(w.message)) for w in caught]


@cache
def _blas() -> Any:
    """threadpoolctl's controller of the BLAS libraries this process has loaded (numpy's and scipy's, which
    statsmodels loads: imported first), found once per process: ``threadpool_limits`` searched every loaded
    library again at each series, ~10 ms a time beside a fit of ~18 ms."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: F401 - scipy's BLAS loaded first
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
