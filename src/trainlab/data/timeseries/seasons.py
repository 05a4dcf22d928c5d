"""The season length in use: the one given (``data.season_length``; 0: none), else the source's own
where it fits the training rows, with a hint of lengths that suit the time column's frequency."""

from __future__ import annotations

import logging
from typing import Optional

from trainlab.data.timeseries import baselines
from trainlab.data.timeseries.table import SeriesTable

log = logging.getLogger(__name__)

# What to suggest for data.season_length when a time column's frequency (pandas offset alias, its
# letters) has no single obvious cycle; the frequencies with one are inferred by the source.
SEASON_HINTS = {"D": "7 for a weekly cycle in daily data, 365 for a yearly one",
                "B": "5 for a weekly cycle in business-day data",
                "h": "24 for a daily cycle in hourly data, 168 for a weekly one",
                "H": "24 for a daily cycle in hourly data, 168 for a weekly one",
                "min": "60 for an hourly cycle in minute data, 1440 for a daily one",
                "T": "60 for an hourly cycle in minute data, 1440 for a daily one",
                "12MS": "yearly data has no calendar season: the years of a cycle you know, e.g. 11 for sunspots"}


def season_hint(frequency: Optional[str]) -> str:
    """Season lengths that suit a time column's frequency (``"h"``, ``"15min"``, ``"D"``; None: unknown)."""
    base = (frequency or "").split("-")[0]
    return SEASON_HINTS.get(base) or SEASON_HINTS.get(
        base.lstrip("0123456789"), "the steps of one cycle: 7 for daily data with a weekly cycle, 24 or 168 for hourly "
                                   "data, 12 for monthly")


def season_rows(season: int, ets_baseline: bool) -> int:
    """Training rows a season needs: two cycles, and the ETS baseline's minimum when it runs."""
    return baselines.ets_min_rows(season) if ets_baseline else 2 * season


def resolve_season(given: Optional[int], table: SeriesTable, frequency: Optional[str],
                   shortest_training: tuple[int, str], ets_baseline: bool) -> Optional[int]:
    """The season in use: the one ``given`` (0: none), else the source's where it fits the training
    rows (``shortest_training``: the fewest of a series, and its name); an inferred one that does not
    fit falls back to none with one warning."""
    if given is not None:
        return given or None
    season = table.season_length
    no_season = "no seasonal naive baseline, MASE scaled by the one-step naive"
    if season is None:
        log.info("no season length for %s (data.season_length=null, none known from the source or its time "
                 "column): %s; give data.season_length (%s) to add them", table.name, no_season,
                 season_hint(frequency))
        return None
    train_end, where = shortest_training
    need = season_rows(season, ets_baseline)
    if train_end < need:
        log.warning("season length %d, the source's own for %s, does not fit: it needs %d training rows%s, "
                    "the training split has %d; going on without a season (%s); give "
                    "data.season_length=<steps> that fits, or 0 to say none", season, where, need,
                    " for the ETS baseline" if ets_baseline else " (two cycles)", train_end, no_season)
        return None
    return season
