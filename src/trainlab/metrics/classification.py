"""Classification metrics and curve figures shared by the graph and image families.

Every metric is a torchmetrics object, except the Brier score, which torchmetrics does not have.
Inputs everywhere: ``probs`` (N, C) class probabilities (softmax output) and ``target`` (N,) int64.
With two classes, class 1 is the positive one ("anomalous", "member"): threshold-free scores (AUROC,
AUPRC), calibration (ECE, Brier) and the curves are those of class 1, as is usual for detection;
the averaged scores (macro, micro, weighted) still average over both classes. With more classes, AUROC and
AUPRC score each class against the rest and take their unweighted mean (``average="macro"``: a rare class counts as
much as a common one), and the curves are drawn per class.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics import classification as tmc
from torchmetrics.wrappers import LambdaInputTransformer

from trainlab.metrics.undefined import BOTH_CLASSES, UndefinedAsNaN
from trainlab.run.durable import save_figure


# torchmetrics checks every update's inputs (the targets' values through torch.unique, their range):
# a host-device synchronisation per validation batch on a GPU, several per batch with these
# collections. The inputs here come from the task modules (softmax or sigmoid outputs; targets the
# data modules have already mapped to class indices and checked), so the checks are off.
UNCHECKED = {"validate_args": False}


# what torchmetrics warns when the targets of a threshold-free score (AUROC, AUPRC, the ROC and PR curves) hold one
# class: "No negative samples in targets, ...", "No positive samples in targets, ...", "No positive samples found in
# target, recall is undefined ..."
ONE_CLASS_WARNING = r"No (positive|negative) samples (found )?in target"


@contextmanager
def one_class_said(said: bool, *collections: MetricCollection) -> Iterator[None]:
    """Where ``said`` (a warning of ours has named the split whose targets hold one class, and which scores are
    undefined there), torchmetrics' own warning of it is left out of what is computed inside, and ``collections``
    are computed here: torchmetrics keeps the values, and Lightning's compute after the epoch's hooks reads them
    without warning again. Elsewhere nothing changes: one class in targets no warning of ours named is told."""
    if not said:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ONE_CLASS_WARNING, category=UserWarning)
        for collection in collections:
            collection.compute()
        yield


def _positive_class(probs: torch.Tensor) -> torch.Tensor:
    """(N, 2) probabilities -> (N,) probability of class 1."""
    return probs[:, 1]


class BrierScore(Metric):
    """Mean squared error of predicted probabilities against one-hot targets (Brier, 1950).

    Multi-class form: mean over samples of ``sum_k (p_k - [y == k])^2``, from 0 (certain and right) to
    2 (certain and wrong). With ``binary=True`` it takes (N,) probabilities of class 1 and gives the
    usual binary form ``mean((p - y)^2)``, from 0 to 1 (half the multi-class value for two classes).
    Lower is better; a constant prediction of the class frequencies scores the data's own variance.
    """

    higher_is_better = False
    is_differentiable = True
    full_state_update = False

    def __init__(self, num_classes: int, binary: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_classes, self.binary = num_classes, binary
        self.add_state("sum_squares", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        if self.binary:
            errors = (probs.double() - target.double()) ** 2  # (N,)
        else:
            onehot = nn.functional.one_hot(target.long(), self.num_classes).double()  # (N, C)
            errors = ((probs.double() - onehot) ** 2).sum(dim=1)
        self.sum_squares += errors.sum()
        self.count += target.numel()

    def compute(self) -> torch.Tensor:
        return (self.sum_squares / self.count.clamp(min=1)).float()


class MatthewsCorrCoef(tmc.MulticlassMatthewsCorrCoef):
    """torchmetrics' MCC, 0 (chance) where the predictions hold one class: its edge-case arithmetic (an epsilon in
    the zero terms) gave a model calling every tile clean 0.825 on 8 clean tiles and 1 anomalous one, a score near
    perfect for the majority class; the coefficient is 0 / 0 there, and 0 is its usual value (scikit-learn's).
    Where the targets hold one class it is undefined: wrapped in UndefinedAsNaN by :func:`classification_metrics`."""

    def compute(self) -> torch.Tensor:
        predicted = self.confmat.sum(dim=0)  # (C,) predictions per class: rows are targets, columns predictions
        if int((predicted > 0).sum()) < 2:
            return torch.tensor(0.0, device=self.confmat.device)
        return super().compute()


def classification_metrics(num_classes: int) -> MetricCollection:
    """Every score the seeds ask for, fed with ``update(probs (N, C), target (N,))``.

    Keys: accuracy, balanced_accuracy (mean per-class recall), precision/recall/f1 with _macro,
    _micro and _weighted averages, auroc, auprc (average precision), mcc, ece (expected calibration
    error, 15 bins, L1), brier. Clone per stage: ``classification_metrics(3).clone(prefix="val/")``.
    AUROC, AUPRC and MCC are NaN where the targets hold one class (trainlab.metrics.undefined), not torchmetrics'
    0.0 (AUROC, AUPRC) or 1.0 (MCC); MCC is 0 where the predictions hold one class (:class:`MatthewsCorrCoef`).
    """
    if num_classes < 2:
        raise ValueError(f"classification needs at least 2 classes, got {num_classes}")
    c = num_classes
    metrics: dict[str, Metric] = {
        "accuracy": tmc.MulticlassAccuracy(c, average="micro", **UNCHECKED),
        "balanced_accuracy": tmc.MulticlassAccuracy(c, average="macro", **UNCHECKED),  # = mean recall per class
        "mcc": MatthewsCorrCoef(c, **UNCHECKED),
    }
    for average in ("macro", "micro", "weighted"):
        metrics[f"precision_{average}"] = tmc.MulticlassPrecision(c, average=average, **UNCHECKED)
        metrics[f"recall_{average}"] = tmc.MulticlassRecall(c, average=average, **UNCHECKED)
        metrics[f"f1_{average}"] = tmc.MulticlassF1Score(c, average=average, **UNCHECKED)
    if c == 2:
        positive = {
            "auroc": tmc.BinaryAUROC(**UNCHECKED),
            "auprc": tmc.BinaryAveragePrecision(**UNCHECKED),
            "ece": tmc.BinaryCalibrationError(n_bins=15, norm="l1", **UNCHECKED),
            "brier": BrierScore(2, binary=True),
        }
        metrics.update({k: LambdaInputTransformer(m, transform_pred=_positive_class) for k, m in positive.items()})
    else:
        metrics.update({
            "auroc": tmc.MulticlassAUROC(c, average="macro", **UNCHECKED),
            "auprc": tmc.MulticlassAveragePrecision(c, average="macro", **UNCHECKED),
            "ece": tmc.MulticlassCalibrationError(c, n_bins=15, norm="l1", **UNCHECKED),
            "brier": BrierScore(c),
        })
    for key in ("auroc", "auprc", "mcc"):  # one class against another: undefined on targets of one class
        metrics[key] = UndefinedAsNaN(metrics[key], key, BOTH_CLASSES, c)
    return MetricCollection(metrics)


class CurveFigures(nn.Module):
    """Confusion matrix, ROC and precision-recall curves of one stage, drawn as figures.

    The curves use ``thresholds`` fixed bins, so memory stays constant however many samples pass
    (a million graph nodes, every test tile). Call :meth:`update` in the steps, then
    :meth:`log_figures` (TensorBoard and MLflow loggers) or :meth:`save` (PNG files), then :meth:`reset`.

    Args:
        num_classes: number of classes (2: the curves are those of class 1).
        class_names: labels for the confusion matrix axes and curve legends.
        thresholds: number of probability thresholds of the ROC and PR curves.
    """

    def __init__(self, num_classes: int, class_names: Optional[list[str]] = None, thresholds: int = 200):
        super().__init__()
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.confusion = tmc.MulticlassConfusionMatrix(num_classes, **UNCHECKED)
        if num_classes == 2:
            self.roc = tmc.BinaryROC(thresholds=thresholds, **UNCHECKED)
            self.pr = tmc.BinaryPrecisionRecallCurve(thresholds=thresholds, **UNCHECKED)
        else:
            self.roc = tmc.MulticlassROC(num_classes, thresholds=thresholds, **UNCHECKED)
            self.pr = tmc.MulticlassPrecisionRecallCurve(num_classes, thresholds=thresholds, **UNCHECKED)

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        self.confusion.update(probs, target)
        scores = probs[:, 1] if self.num_classes == 2 else probs
        self.roc.update(scores, target)
        self.pr.update(scores, target)

    def reset(self) -> None:
        for metric in (self.confusion, self.roc, self.pr):
            metric.reset()

    def has_data(self) -> bool:
        return bool(self.confusion.update_called)

    def figures(self, stage: str) -> dict[str, Any]:
        """``{name: matplotlib Figure}`` for confusion_matrix, roc and pr (empty before any update)."""
        if not self.has_data():
            return {}
        import matplotlib

        matplotlib.use("Agg")
        binary = self.num_classes == 2
        labels = {} if binary else {"labels": self.class_names}  # the binary curves take no labels
        of_positive = f" of class '{self.class_names[1]}'" if binary else ""
        figs = {}
        fig, ax = self.confusion.plot(labels=self.class_names)
        ax.set_title(f"{stage}: confusion matrix (rows: true, columns: predicted)")
        figs["confusion_matrix"] = fig
        fig, ax = self.roc.plot(score=True, **labels)
        ax.set_title(f"{stage}: ROC{of_positive}")
        figs["roc"] = fig
        figs["pr"] = self._pr_figure(stage, of_positive)
        for fig in figs.values():
            fig.set_size_inches(6, 5)
        return figs

    def _pr_figure(self, stage: str, of_positive: str) -> Any:
        # drawn here rather than by the metric's own plot(), whose legend shows AUC=nan for PR curves
        import matplotlib.pyplot as plt

        precision, recall, _ = self.pr.compute()  # binned: (thresholds + 1,) or (classes, thresholds + 1)
        fig, ax = plt.subplots()
        if self.num_classes == 2:
            ax.plot(recall.cpu().numpy(), precision.cpu().numpy(), label=self.class_names[1])
        else:
            for k, name in enumerate(self.class_names):
                ax.plot(recall[k].cpu().numpy(), precision[k].cpu().numpy(), label=name)
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
               title=f"{stage}: precision-recall{of_positive}")
        ax.grid(True)
        ax.legend(loc="lower left")
        return fig

    def log_figures(self, trainer: Any, stage: str) -> None:
        """Add the figures as images to every TensorBoard logger (and MLflow run) of ``trainer``."""
        from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

        targets = [lg for lg in trainer.loggers if isinstance(lg, (TensorBoardLogger, MLFlowLogger))]
        if not targets or not trainer.is_global_zero:
            return
        import matplotlib.pyplot as plt

        for name, fig in self.figures(stage).items():
            for logger in targets:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_figure(f"{stage}/{name}", fig, global_step=trainer.global_step,
                                                 close=False)
                else:
                    logger.experiment.log_figure(logger.run_id, fig, f"figures/{stage}_{name}_step{trainer.global_step}.png")
            plt.close(fig)

    def save(self, out_dir: str | Path, stage: str) -> list[str]:
        """Write ``<stage>_confusion_matrix.png``, ``<stage>_roc.png``, ``<stage>_pr.png``; returns the names."""
        import matplotlib.pyplot as plt

        out_dir = Path(out_dir)
        names = []
        for name, fig in self.figures(stage).items():
            names.append(f"{stage}_{name}.png")
            save_figure(fig, out_dir / names[-1], dpi=100)
            plt.close(fig)
        return names
