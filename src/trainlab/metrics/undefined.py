"""Scores that are undefined on some data, computed as NaN there and said once, instead of torchmetrics' 0.0.

AUROC and AUPRC rank the samples of one class against the other: on targets of one class they are undefined, and
torchmetrics returned 0.0 (with a warning of its own), which a table or a logger shows as "the model is as bad as it
gets". IoU and Dice of the positive pixels are 0 / 0 where neither the targets nor the predictions hold a positive
one (a split of clean tiles, a model that marks nothing); torchmetrics' ``zero_division`` made that 0.0 too.
:class:`UndefinedAsNaN` wraps such a metric: its ``compute`` is NaN there and ``why`` says why; :func:`say_undefined`
logs one warning a run per split naming the scores and the reason, and keeps them in the module's
``undefined_metrics`` for the callbacks (EarlyStopping reads an undefined monitored value as no improvement).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import torch
from torchmetrics import Metric

log = logging.getLogger(__name__)

BOTH_CLASSES, A_POSITIVE = "both classes", "a positive"  # what a wrapped metric needs to be defined


class UndefinedAsNaN(Metric):
    """``metric`` (fed ``update(preds, target)``) computed as NaN where it is undefined; ``why`` then says why.

    Args:
        metric: the torchmetrics object wrapped.
        name: its key without prefix (``auroc``): the counting state is named after it, so that a
            MetricCollection never takes two wrappers for one compute group (it compares the wrapper's states
            only, and would feed the second wrapped metric nothing).
        needs: ``BOTH_CLASSES`` (threshold-free scores: the targets hold at least two of ``num_classes``
            classes) or ``A_POSITIVE`` (IoU, Dice: a positive target or prediction, ``preds >= threshold``).
        num_classes: the classes of the targets (``BOTH_CLASSES``).
        threshold: a prediction at or above it is positive (``A_POSITIVE``).

    The counts are summed on the device, with no host read per update; they are read once, in ``compute``.
    """

    full_state_update = False

    def __init__(self, metric: Metric, name: str, needs: str = BOTH_CLASSES, num_classes: int = 2,
                 threshold: float = 0.5, **kwargs: Any):
        super().__init__(**kwargs)
        if needs not in (BOTH_CLASSES, A_POSITIVE):
            raise ValueError(f"needs={needs!r} is not one of {BOTH_CLASSES!r}, {A_POSITIVE!r}")
        self.metric, self.name, self.needs = metric, name, needs
        self.num_classes, self.threshold = num_classes, threshold
        self.why: Optional[str] = None
        self.state = f"{name}_counts"  # BOTH_CLASSES: targets per class; A_POSITIVE: positive targets, predictions
        size = num_classes if needs == BOTH_CLASSES else 2
        self.add_state(self.state, default=torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def higher_is_better(self) -> Optional[bool]:  # type: ignore[override] - torchmetrics' is a class constant
        """The wrapped score's direction, read by the checks of optimized_mode and of a callback's mode
        (run/checks.py); a binary score on the positive class (LambdaInputTransformer) leaves it to its own."""
        metric = self.metric
        if metric.higher_is_better is not None:
            return metric.higher_is_better
        return getattr(getattr(metric, "wrapped_metric", None), "higher_is_better", None)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.metric.update(preds, target)
        counts = getattr(self, self.state)
        if self.needs == BOTH_CLASSES:  # scatter_add: no host read (bincount and one_hot read the values' range)
            counts.scatter_add_(0, target.flatten().long(), torch.ones_like(target.flatten(), dtype=counts.dtype))
        else:
            counts[0] += (target != 0).sum()
            counts[1] += (preds >= self.threshold).sum()

    def undefined(self) -> Optional[str]:
        """Why the wrapped score is undefined on what was seen, in words; None where it is defined."""
        counts = getattr(self, self.state).tolist()
        if not any(counts) and self.needs == BOTH_CLASSES:
            return "no target was seen"
        if self.needs == BOTH_CLASSES:
            present = [k for k, n in enumerate(counts) if n]
            return f"every target is of class {present[0]}, and it ranks one class against another" if len(
                present) < 2 else None
        return ("no target and no prediction is positive (0 / 0)" if not counts[0] and not counts[1] else None)

    def compute(self) -> torch.Tensor:
        self.why = self.undefined()
        if self.why:  # the wrapped metric is not computed: torchmetrics' warning and its 0.0 stay out
            return torch.tensor(float("nan"), device=getattr(self, self.state).device)
        return self.metric.compute()

    def reset(self) -> None:
        super().reset()
        self.metric.reset()
        self.why = None


def undefined_in(*collections: Any) -> dict[str, str]:
    """``{key: why}`` of the :class:`UndefinedAsNaN` metrics of ``collections`` (MetricCollections) that compute NaN
    (computed here; torchmetrics keeps the value for Lightning's compute after the epoch's hooks)."""
    found = {}
    for collection in collections:
        for key, metric in collection.items():
            if isinstance(metric, UndefinedAsNaN):
                value = metric.compute()
                if metric.why and math.isnan(float(value)):
                    found[key] = metric.why
    return found


def say_undefined(module: Any, stage: str, *collections: Any, said_elsewhere: bool = False) -> dict[str, str]:
    """At a validation or test epoch's end: which scores of ``collections`` are undefined (``{key: why}``), kept
    in ``module.undefined_metrics`` and said in one warning a run per stage and set of scores (not in Lightning's
    sanity check, whose few batches are thrown away; not where ``said_elsewhere``: a warning of the data module
    named the split and its undefined scores already)."""
    found = undefined_in(*collections)
    module.undefined_metrics = found
    trainer = getattr(module, "_trainer", None)
    if not found or said_elsewhere or (trainer is not None and trainer.sanity_checking):
        return found
    said: set = module.__dict__.setdefault("_undefined_said", set())
    if (stage, tuple(found)) not in said:
        said.add((stage, tuple(found)))
        by_reason: dict[str, list[str]] = {}
        for key, why in found.items():
            by_reason.setdefault(why, []).append(key)
        reasons = "; ".join(f"{', '.join(keys)}: {why}" for why, keys in by_reason.items())
        log.warning("%d score(s) of the %s split are undefined and logged as NaN, not as a score (%s); read the "
                    "others, or give the split samples of both classes", len(found), stage, reasons)
    return found
