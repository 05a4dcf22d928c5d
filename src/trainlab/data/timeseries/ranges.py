"""What a series' values say before training, one warning line each, logged when the data module
loads (:func:`value_warnings`): what a scaling fit on the training rows alone cannot carry (a few
values that dominate it: one reading of 1e6 among values of 1 flattens the rest to ~0 in standard
units; later rows that leave the training range: a strong trend, the model must extrapolate), and
where a metric means nothing (targets at or across 0 for MAPE, constant ones for R2). The end-of-run
line then shows how the model fared against the baselines, which need no scaling."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.module import constant_columns, erased_columns, erased_refusal
from trainlab.data.timeseries.baselines import mase_scale
from trainlab.data.timeseries.table import SeriesTable
from trainlab.metrics.regression import zero_target_warning

DOMINANCE = 10.0  # std with the most extreme values over std without them
EXTREME_SHARE = 1e-3  # the share of training values left out for "without them" (at least one)
OUTSIDE_SHARE = 0.2  # the share of later values beyond the training range (plus a tenth of it) that warns


def value_warnings(table: SeriesTable, spans: Sequence[tuple[int, int, int, int]], training: np.ndarray,
                   season: Optional[int], scored: Optional[np.ndarray] = None) -> list[str]:
    """The warnings for a table whose series span ``spans`` ((first, train end, val end, end) rows), its
    ``training`` rows those of the first part of each, with ``season`` in use: targets at or across 0
    where MAPE and AAA are reported (the ``scored`` rows, evaluate.py split=all's every row; by default
    those after training's), a few values that dominate the training scaling or the scored rows, later
    values beyond the training range, constant validation or test targets."""
    later = scored if scored is not None else np.concatenate([np.arange(train_end, end)
                                                              for _, train_end, _, end in spans])
    # 0 is relative to the series' own steps (MASE's scale): a series around 1e-9 has no zeros
    scale = mase_scale([table.targets[first:train_end] for first, train_end, _, _ in spans], season)
    where = f"'{table.name}'"
    part = EFFECTS["evaluated"][0] if scored is None else "the rows scored (split=all: every row)"
    found = (zero_target_warning(table.targets[later], table.target_names, f"{part} of {where}", scale),
             dominating_values(np.concatenate([table.features, table.targets], axis=1)[training],
                               [*table.feature_names, *table.target_names], training, where,
                               name_row=table.row_name),
             dominating_values(table.targets[later], table.target_names, later, where, "evaluated", table.row_name,
                               part),
             beyond_training(spans, table.targets, table.target_names, where),
             constant_splits(spans, table.targets, table.target_names, where))
    return [warning for warning in found if warning]


# what a few dominating values do, by the rows they are in
EFFECTS = {"training": ("the scaling fit on the training rows", "every other value becomes ~0 in standard units and "
                        "the model learns little from it"),
           "evaluated": ("the validation and test rows", "their RMSE, the model's and the baselines', is mostly "
                         "the error on those values")}


def dominating_values(block: np.ndarray, names: Sequence[str], rows: np.ndarray, where: str,
                      role: str = "training", name_row: Callable[[int], str] = "row {}".format,
                      part: Optional[str] = None) -> Optional[str]:
    """The warning for columns of (rows, columns) ``block`` (the table's ``rows``, NaN ignored) whose
    standard deviation is more than ten times what it is without their most extreme values (a tenth
    of a per cent, at least one); ``role``: the rows' part (see EFFECTS), ``part`` naming them otherwise;
    ``name_row``: how a table row is named (:meth:`~trainlab.data.timeseries.table.SeriesTable.row_name`).
    None when there are none."""
    found = []
    for j, name in enumerate(names):
        column = block[:, j]
        kept = np.flatnonzero(~np.isnan(column))
        if len(kept) < 3:
            continue
        values = column[kept]
        distance = np.abs(values - np.median(values))
        k = max(1, int(len(values) * EXTREME_SHARE))
        extreme = np.argpartition(distance, -k)[-k:]
        spread, without = values.std(), np.delete(values, extreme).std()
        if spread > DOMINANCE * without:
            worst = extreme[np.argmax(distance[extreme])]
            found.append(f"'{name}' {values[worst]:.4g} at {name_row(int(rows[kept[worst]]))} (std {spread:.4g} with its {k} "
                         f"most extreme value(s), {without:.4g} without)")
    if not found:
        return None
    named, effect = EFFECTS[role]
    part = part or named
    return (f"a few values dominate {part} of {where}: {'; '.join(found)}; {effect}: if such a value is an error, "
            "remove it (an empty cell is filled or skipped by data.missing)")


def beyond_training(spans: Sequence[tuple[int, int, int, int]], targets: np.ndarray, names: Sequence[str],
                    where: str) -> Optional[str]:
    """The warning for targets of which more than a fifth of the validation and test values lie beyond
    their series' training range (widened by a tenth of it on each side); ``spans``: (first, train
    end, val end, end) rows of each series. None when the later values stay within it."""
    outside, total, reach = np.zeros(len(names)), 0, [[] for _ in names]
    for first, train_end, _, end in spans:
        train, later = targets[first:train_end], targets[train_end:end]
        if len(later) == 0 or np.isnan(train).all(axis=0).any():
            continue
        low, high = np.nanmin(train, axis=0), np.nanmax(train, axis=0)
        margin = (high - low) / 10
        beyond = (later < low - margin) | (later > high + margin)  # NaN compares False: not counted
        outside += beyond.sum(axis=0)
        total += len(later)
        for j in range(len(names)):
            if beyond[:, j].any():
                reach[j].append((low[j], high[j], np.nanmin(later[:, j]), np.nanmax(later[:, j])))
    named = []
    for j, name in enumerate(names):
        if total and outside[j] > OUTSIDE_SHARE * total:
            ranges = (f" (training {reach[j][0][0]:.4g} to {reach[j][0][1]:.4g}, later {reach[j][0][2]:.4g} to "
                      f"{reach[j][0][3]:.4g})" if len(reach[j]) == 1 else "")  # one series: its ranges
            named.append(f"'{name}' {outside[j] / total:.0%} of them{ranges}")
    if not named:
        return None
    return (f"the validation and test values of {where} leave the training range: {'; '.join(named)}; scaled on "
            "the training rows, the model must extrapolate: model.window_scaling=last (the default) or revin "
            "forecasts each window relative to its own level, none cannot leave the range; the end-of-run line "
            "compares it with the baselines")


def constant_splits(spans: Sequence[tuple[int, int, int, int]], targets: np.ndarray, names: Sequence[str],
                    where: str) -> Optional[str]:
    """The warning for targets that are constant over the validation or the test rows (of every series
    together, as R2 pools them): R2 is undefined there, reported as NaN; None when none is. Targets constant
    in the training rows too are left to their refusal (the data module's check_fits): this warning came
    first, about R2 of a run that never starts."""
    found = []
    for i, split in ((0, "training"), (1, "validation"), (2, "test")):
        block = targets[np.concatenate([np.arange(span[i], span[i + 1]) for span in spans])]
        flat = constant_columns(block, np.nanstd(block, axis=0)) if len(block) else np.zeros(len(names), bool)
        if i == 0:
            refused = flat
            continue
        found += [f"'{n}' in the {split} rows" for n, c, r in zip(names, flat, refused) if c and not r]
    if not found:
        return None
    return (f"constant targets in {where}: {', '.join(found)}: R2 (1 - error / spread) is undefined there and "
            "reported as NaN; read RMSE and MASE")


def refuse_erased(block: np.ndarray, mean: np.ndarray, std: np.ndarray, names: Sequence[str], table: SeriesTable,
                  train: np.ndarray) -> None:
    """Refuses columns of the training ``block`` (the table's ``train`` rows) that the fitted scaling flattens
    into a constant in float32, beyond what :func:`dominating_values` warns of: one 1e12 among values of 1
    trained to a loss of exactly 0, R2 NaN and every target called zero, after that warning alone."""
    erased = erased_columns(block, mean, std)
    if erased:
        raise UserError(erased_refusal(block, std, erased, names, f"'{table.name}'",
                                       lambda i: table.row_name(int(train[i])), "data.missing fills it"))
