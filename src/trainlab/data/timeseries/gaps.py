"""Missing values in a series: interpolate short gaps, drop the windows that touch longer ones,
or refuse (the data module's ``missing`` key)."""

from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.values import refuse_missing

log = logging.getLogger(__name__)

POLICIES = ("interpolate", "drop", "refuse")


def nan_runs(column: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) of every run of NaN in a 1-D array, end exclusive."""
    nan = np.isnan(column).astype(np.int8)
    edges = np.diff(np.concatenate([[0], nan, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def interpolate_gaps(block: np.ndarray, max_gap: int) -> np.ndarray:
    """Copy of (rows, columns) with interior NaN runs of at most ``max_gap`` rows filled linearly
    between their neighbours; longer runs and runs at either end stay NaN."""
    out = block.copy()
    rows = np.arange(len(block))
    for j in range(block.shape[1]):
        col = out[:, j]
        for first, end in nan_runs(block[:, j]):
            if end - first <= max_gap and first > 0 and end < len(col):
                col[first:end] = np.interp(rows[first:end], [first - 1, end], [col[first - 1], col[end]])
    return out


def fill_all(column: np.ndarray) -> np.ndarray:
    """A gap-free copy of a 1-D series (linear inside, nearest value at the ends), for baselines
    that need every row; the windows they are scored on never touch a filled row."""
    ok = ~np.isnan(column)
    if ok.all() or not ok.any():
        return column.copy()
    rows = np.arange(len(column))
    return np.interp(rows, rows[ok], column[ok])


def apply_policy(features: np.ndarray, targets: np.ndarray, names: Sequence[str], where: str,
                 policy: str, max_gap: int, spans: Optional[Sequence[tuple[int, int]]] = None,
                 name_row: Callable[[int], str] = "row {}".format) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, targets, bad_rows) after the policy; bad_rows marks rows still missing a value,
    which no window may touch. ``spans``: (first, end) rows of each series when the rows hold several,
    one after the other; a gap is filled within its series only. Logs one line with the counts when
    anything was missing."""
    block = np.concatenate([features, targets], axis=1).astype(np.float64)
    missing = np.isnan(block)
    if not missing.any():
        return features, targets, np.zeros(len(block), dtype=bool)
    if policy == "refuse":
        refuse_missing(block, names, where, "; or set data.missing=interpolate (or drop)", name_row)
    spans = spans or [(0, len(block))]
    filled = np.concatenate([interpolate_gaps(block[a:b], max_gap) for a, b in spans]) \
        if policy == "interpolate" else block
    bad = np.isnan(filled).any(axis=1)
    gaps = sum(len(nan_runs(block[a:b, j])) for a, b in spans for j in range(block.shape[1]))
    log.info("missing values (data.missing=%s, data.max_gap=%d): %d value(s) in %d gap(s) over %d row(s); "
             "%d value(s) interpolated; %d row(s) left without a value, windows touching them are dropped",
             policy, max_gap, int(missing.sum()), gaps, int(missing.any(axis=1).sum()),
             int(missing.sum() - np.isnan(filled).sum()), int(bad.sum()))
    n = features.shape[1]
    return filled[:, :n], filled[:, n:], bad  # float64, as read: standardised later


def check_policy(policy: str, max_gap: int) -> None:
    if policy not in POLICIES:
        raise UserError(f"data.missing={policy!r} is not one of {', '.join(POLICIES)}")
    if max_gap < 0:
        raise UserError(f"data.max_gap={max_gap} must be >= 0 (rows of a gap that are interpolated)")


def emptiest_columns(features: np.ndarray, targets: np.ndarray, feature_names: Sequence[str],
                     target_names: Sequence[str], first: int, end: int, policy: str, max_gap: int) -> str:
    """What a split of rows ``first``..``end`` without a window clear of gaps says after the window sizes: the
    columns still missing values there after the policy, emptiest first, and the fix for the emptiest (a
    feature that is mostly empty emptied every window, and the refusal named only the window)."""
    rows = end - first
    counts = [(int(np.isnan(block[first:end, j]).sum()), name, role)
              for block, names, role in ((features, feature_names, "feature"), (targets, target_names, "target"))
              for j, name in enumerate(names)]
    named = sorted((c for c in counts if c[0]), key=lambda c: -c[0])
    if not named:
        return ""
    listed = ", ".join(f"'{name}' {n} of {rows}" for n, name, _ in named[:3])
    _, worst, role = named[0]
    fix = (f"leave '{worst}' out of data.source.feature_columns, fill its gaps" if role == "feature"
           else f"fill the gaps of '{worst}'")
    return (f": values still missing there after data.missing={policy} (data.max_gap={max_gap}): {listed}; {fix}, "
            "or raise data.max_gap")
