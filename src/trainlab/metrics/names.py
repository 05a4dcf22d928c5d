"""What the short metric names in the test table and the logs stand for (``test/aaa`` ...).

Logged once under the test table by RunRecords, so that a first run explains its own numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

MEANINGS = {
    "loss": "the criterion training minimises, on this split",
    "rmse": "root mean squared error, in the target's units",
    "mape": "mean absolute percentage error, as a fraction (0.1: off by 10%)",
    "aaa": "average absolute accuracy, 1 - mape (1: perfect)",
    "r2": "coefficient of determination (1: perfect, 0: no better than the mean)",
    "mcc": "Matthews correlation coefficient (1: perfect, 0: chance)",
    "auroc": "area under the ROC curve (of class 1 with two classes; with more, each class against the rest, "
             "their unweighted mean)",
    "auprc": "area under the precision-recall curve, average precision (of class 1 with two classes; with more, each "
             "class against the rest, their unweighted mean)",
    "ece": "expected calibration error (0: probabilities match frequencies)",
    "brier": "Brier score, squared error of the probabilities (0: perfect)",
    "iou": "intersection over union of the anomalous pixels",
    "dice": "Dice coefficient (pixel F1) of the anomalous pixels",
    "pixel_auprc": "area under the precision-recall curve of single pixels",
    "mase": "mean absolute scaled error, the MAE over a naive forecast's on the training rows (below 1: better "
            "than it)",
    "smape": "symmetric mean absolute percentage error, as a fraction (0 to 2)",
    "rmse_vs_best_naive": "the best naive forecast's rmse over the model's (above 1: the model is better)",
    "baseline_<name>_<metric>": "that metric of a naive forecast (last_value, seasonal_naive) or ETS on the same "
                                "windows",
}


def legend(keys: Iterable[str]) -> str:
    """``aaa = average absolute accuracy ...; r2 = ...`` for the abbreviated names among ``keys``
    (``test/aaa``, ``val/r2``); names that read as words (accuracy, f1_macro) are left out."""
    names = {key.split("/", 1)[-1] for key in keys}
    names = sorted({"baseline_<name>_<metric>" if name.startswith("baseline_") else name for name in names}
                   & set(MEANINGS))
    return "; ".join(f"{name} = {MEANINGS[name]}" for name in names)
