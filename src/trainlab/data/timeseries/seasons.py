"""The season length in use: the one given (``data.season_length``; 0: none), else the source's own
where it fits the training rows, with a hint of lengths that suit the time column's frequency."""

from __future__ import annotations

import logging
from typing import Optional

from trainlab.data.timeseries import baselines
from trainlab.data.timeseries.steps import DAY_NS, HOUR_NS, WEEK_NS, step_words
from trainlab.data.timeseries.table import SeriesTable

log = logging.getLogger(__name__)  # resolve_season's lines, logged by the data module once its windows fit

# What to suggest for data.season_length when a time column's step gives no season, or one that does not
# fit (times.step_season infers a day for minutes and hours, a week for days, a year for weeks and months);
# fixed steps get their hourly, daily and weekly cycles worked out (season_hint)
SEASON_HINTS = {"B": "5 for a weekly cycle in business-day data", "7D": "52 for a yearly cycle in weekly data",
                "MS": "12 for a yearly cycle in monthly data", "3MS": "4 for a yearly cycle in quarterly data",
                "SMS": "24 for a yearly cycle in half-monthly data", "SME": "24 for a yearly cycle in half-monthly data",
                "12MS": "yearly data has no calendar season: the years of a cycle you know, e.g. 11 for sunspots"}
GENERIC_HINT = "the steps of one cycle: 7 for daily data with a weekly cycle, 24 or 168 for hourly data, 12 for monthly"


def season_hint(frequency: Optional[str]) -> str:
    """Season lengths that suit a time column's frequency (``"h"``, ``"15min"``, ``"D"``; None: unknown):
    for a fixed step, the steps of an hourly, a daily and a weekly cycle that it divides."""
    import pandas as pd

    base = (frequency or "").split("-")[0]
    if not base or base in SEASON_HINTS:
        return SEASON_HINTS.get(base, GENERIC_HINT)
    try:
        step = int(pd.Timedelta(pd.tseries.frequencies.to_offset(base)).value)
    except (ValueError, TypeError):  # months, quarters, years: no fixed length
        return GENERIC_HINT
    cycles = [f"{length // step} for {name} cycle" for name, length in (("an hourly", HOUR_NS), ("a daily", DAY_NS),
                                                                         ("a weekly", WEEK_NS))
              if step > 0 and length % step == 0 and length // step > 1]
    return f"{', '.join(cycles)} (steps of {step_words(step)})" if cycles else GENERIC_HINT


def season_rows(season: int, ets_baseline: bool) -> int:
    """Training rows a season needs: two cycles, and the ETS baseline's minimum when it runs."""
    return baselines.ets_min_rows(season) if ets_baseline else 2 * season


def resolve_season(given: Optional[int], table: SeriesTable, frequency: Optional[str],
                   shortest_training: tuple[int, str], ets_baseline: bool, saved_run: bool = False,
                   whole_file: bool = False) -> tuple[Optional[int], list[tuple[int, str]]]:
    """The season in use: the one ``given`` (0: none), else the source's where it fits the training
    rows (``shortest_training``: the fewest of a series, and its name); an inferred one that does not
    fit falls back to none with one warning. With it the (level, line) to log once the windows are known to fit
    the rows (a warning about a run refused for its window was noise). ``saved_run`` (evaluate.py): MASE keeps the
    checkpoint's scale, and the fix is ``+data.`` on its command line; ``whole_file`` (split=all): every row of the
    file counts, not a training split."""
    if given is not None:
        return given or None, []
    season = table.season_length
    key = f"{'+' if saved_run else ''}data.season_length"
    no_season = "no seasonal naive baseline, " + ("MASE with the checkpoint's scale" if saved_run
                                                  else "MASE scaled by the one-step naive")
    if season is None:
        return None, [(logging.INFO, f"no season length for {table.name} (data.season_length=null, none known from "
                                     f"the source or its time column): {no_season}; give {key} "
                                     f"({season_hint(frequency)}) to add {'it' if saved_run else 'them'}")]
    train_end, where = shortest_training
    need = season_rows(season, ets_baseline)
    if train_end < need:
        # two cycles are enough for the seasonal naive: without the ETS fit the season is kept
        keep = (f", {'+' if saved_run else ''}data.ets_baseline=false to keep it for the seasonal naive (two cycles, "
                f"{2 * season} rows)" if ets_baseline and train_end >= 2 * season else "")
        rows = f"the file has {train_end}" if whole_file else f"the training split has {train_end}"
        return None, [(logging.WARNING, f"season length {season}, the source's own for {where}, does not fit: it needs "
                                        f"{need}{' training' if not whole_file else ''} rows"
                                        f"{' for the ETS baseline' if ets_baseline else ' (two cycles)'}, {rows}; "
                                        f"going on without a season ({no_season}); give {key}=<steps> that fits"
                                        f"{keep}, or 0 to say none")]
    return season, []
