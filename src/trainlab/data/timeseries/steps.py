"""A fixed time step (nanoseconds) in words, as a pandas offset alias, and the season it implies."""

from __future__ import annotations

from typing import Optional

import numpy as np

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS


def step_season(step_ns: int) -> Optional[int]:
    """The season a fixed step implies: the calendar cycle that series on such a step most often follow
    (README, "Season length"). A step of whole minutes under a day that divides it: one day (hourly 24,
    half-hourly 48, 15 minutes 96, 6 hours 4); a day: one week (7); a week: one year (52). None for any
    other step (seconds: a day of them is tens of thousands of steps; 2 days: no calendar cycle)."""
    if step_ns < DAY_NS and step_ns % MINUTE_NS == 0 and DAY_NS % step_ns == 0:
        return DAY_NS // step_ns
    return {DAY_NS: 7, WEEK_NS: 52}.get(step_ns)


def step_words(step_ns: int) -> str:
    """A fixed step in its largest whole unit, for log lines: "1 day", "1 week", "15 minutes", "90 seconds"."""
    import pandas as pd

    for unit_ns, unit in ((WEEK_NS, "week"), (DAY_NS, "day"), (HOUR_NS, "hour"), (MINUTE_NS, "minute"),
                          (10**9, "second")):
        if step_ns % unit_ns == 0:
            count = step_ns // unit_ns
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return str(pd.Timedelta(step_ns, unit="ns"))


def step_alias(step_ns: int) -> str:
    """A fixed step as a pandas offset alias in its largest whole unit: "D", "7D", "h", "15min", "30s"."""
    for unit_ns, name in ((DAY_NS, "D"), (HOUR_NS, "h"), (MINUTE_NS, "min"), (10**9, "s")):
        if step_ns % unit_ns == 0:
            count = step_ns // unit_ns
            return f"{count if count > 1 else ''}{name}"
    return f"{step_ns}ns"


def most_common(diffs: np.ndarray) -> float:
    """The most common of the differences between sorted times: the step they are on, where they have one."""
    values, counts = np.unique(diffs, return_counts=True)
    return float(values[np.argmax(counts)])
