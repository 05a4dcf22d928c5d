"""The step of a file of several series, taken from the file as a whole: a series too short to show its own step
(two daily rows a day apart with a gap between them read as a step of 2 days) is laid on the step of the file's
other series, its missing steps added as empty rows (``data.missing`` handles them), and logged; a series whose
times do not fit that step is named, and the file then has no common step, season length or frequency
(:func:`common_step`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.data.timeseries.grids import Grid
from trainlab.data.timeseries.series import stacked
from trainlab.data.timeseries.times import MAX_FILL

log = logging.getLogger(__name__)

SHOWN = 3  # series named in a log line before "..."


def _file_frequency(grids: Sequence[Optional[Grid]]) -> Optional[str]:
    """The frequency most of the file's rows step by (pandas' alias: "D", "h", "MS" ...); None without one."""
    rows = Counter()
    for grid in grids:
        if grid is not None and grid.frequency is not None:
            rows[grid.frequency] += len(grid.positions)
    return rows.most_common(1)[0][0] if rows else None


def _on(grid: Grid, frequency: str) -> Optional[np.ndarray]:
    """The positions of ``grid``'s times on ``frequency`` from its first time, where every time is on it and the
    steps between them hold at most MAX_FILL times its rows; None otherwise."""
    import pandas as pd

    if grid.times is None or len(grid.times) != len(grid.positions):
        return None
    times = pd.DatetimeIndex(np.asarray(grid.times).astype("datetime64[ns]"))
    try:
        steps = pd.date_range(times[0], times[-1], freq=frequency)
    except ValueError:  # a frequency pandas cannot lay from this start
        return None
    if len(steps) > MAX_FILL * len(times) or not len(steps) or steps[0] != times[0]:
        return None
    positions = steps.searchsorted(times)
    if (positions >= len(steps)).any() or not (steps[np.minimum(positions, len(steps) - 1)] == times).all():
        return None
    return positions.astype(np.int64)


def on_file_step(frame: Any, target_frame: Any, grids: list[Optional[Grid]], lengths: list[int],
                 names: Sequence[str], where: str) -> tuple[Any, Any, list[Optional[Grid]], list[int]]:
    """The series' rows (stacked, ``lengths`` each) and grids with every series whose step differs from the file's
    laid on the file's step where its times fit it (a series of two rows with a gap between them), its missing
    steps added as empty rows; logged naming them (``names``: "store=B" ...; ``where``: the time column)."""
    frequency = _file_frequency(grids)
    if frequency is None or all(g is None or g.frequency == frequency for g in grids):
        return frame, target_frame, grids, lengths
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    parts, target_parts, laid = [], [], []
    grids, lengths = list(grids), list(lengths)
    for k, grid in enumerate(grids):
        rows = frame.iloc[starts[k]:starts[k] + lengths[k]]
        target_rows = target_frame.iloc[starts[k]:starts[k] + lengths[k]]
        positions = None if grid is None or grid.frequency == frequency else _on(grid, frequency)
        if positions is not None:
            size = int(positions[-1]) + 1
            kept = [rows.iloc[grid.positions].set_axis(positions) for rows in (rows, target_rows)]
            rows, target_rows = (part.reindex(range(size)) for part in kept)
            laid.append(f"{names[k]} ({grid.step} -> {size - len(positions)} step(s) added)")
            grids[k] = replace(grid, positions=positions, step=_step_of(grids, frequency), frequency=frequency,
                               season_length=_season_of(grids, frequency))
            lengths[k] = size
        parts.append(rows.reset_index(drop=True))
        target_parts.append(target_rows.reset_index(drop=True))
    if not laid:
        return frame, target_frame, grids, lengths
    log.info("%s: %d series laid on the file's step of %s, which their own few times only seemed to step "
             "otherwise by; missing steps added as empty rows for data.missing: %s", where, len(laid), _step_of(grids, frequency),
             ", ".join(laid[:SHOWN]) + (", ..." if len(laid) > SHOWN else ""))
    same = target_frame is frame
    frame = stacked(parts)
    return frame, frame if same else stacked(target_parts), grids, lengths


def _step_of(grids: Sequence[Optional[Grid]], frequency: str) -> str:
    return next(g.step for g in grids if g is not None and g.frequency == frequency)


def _season_of(grids: Sequence[Optional[Grid]], frequency: str) -> Optional[int]:
    return next(g.season_length for g in grids if g is not None and g.frequency == frequency)


def common_step(grids: Sequence[Optional[Grid]], where: str, names: Optional[Sequence[str]] = None,
                ) -> tuple[Optional[int], Optional[str]]:
    """(season length, frequency) of the series' time steps when they all agree, else (None, None), logged naming
    the series that step otherwise than most of the file's rows (``names``: "store=B" ...)."""
    steps = {(g.season_length, g.frequency) if g else (None, None) for g in grids}
    if len(steps) <= 1:
        return next(iter(steps))
    frequency = _file_frequency(grids)
    names = names or [f"series {k + 1}" for k in range(len(grids))]
    odd = [f"{names[k]} ({'no regular step' if g is None else g.step})" for k, g in enumerate(grids)
           if g is None or g.frequency != frequency]
    if frequency is None or len(odd) == len(grids):
        log.info("%s: the series step differently (%s); no season or frequency taken from it", where,
                 ", ".join(sorted({str(f) for _, f in steps})))
    else:
        log.warning("%s: %d series do not step by the file's step of %s: %s; no season or frequency taken from it "
                    "(give them the file's step, or pick the others with data.source.series)", where, len(odd),
                    _step_of(grids, frequency), ", ".join(odd[:SHOWN]) + (", ..." if len(odd) > SHOWN else ""))
    return None, None
