"""The shared classification metrics: known values, the two-class convention, figures to files and TensorBoard."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc, multiclass_accuracy

from trainlab.metrics.classification import BrierScore, CurveFigures, classification_metrics

KEYS = {"accuracy", "balanced_accuracy", "mcc", "auroc", "auprc", "ece", "brier"} | {
    f"{m}_{a}" for m in ("precision", "recall", "f1") for a in ("macro", "micro", "weighted")}


def _probs(num_classes: int, n: int = 400, signal: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, num_classes, (n,), generator=g)
    logits = torch.randn(n, num_classes, generator=g) + signal * torch.nn.functional.one_hot(target, num_classes)
    return logits.softmax(dim=1), target


def test_brier_score_against_hand_computed_values():
    binary = BrierScore(2, binary=True)
    binary.update(torch.tensor([0.8, 0.3]), torch.tensor([1, 0]))
    assert float(binary.compute()) == pytest.approx((0.2**2 + 0.3**2) / 2)
    multi = BrierScore(3)
    multi.update(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), torch.tensor([0, 1]))
    assert float(multi.compute()) == pytest.approx(((0.09 + 0.04 + 0.01) + (0.01 + 0.81 + 0.64)) / 2)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_every_key_and_plausible_values(num_classes):
    probs, target = _probs(num_classes)
    metrics = classification_metrics(num_classes).clone(prefix="test/")
    metrics.update(probs, target)
    values = {k.removeprefix("test/"): float(v) for k, v in metrics.compute().items()}
    assert set(values) == KEYS
    assert values["accuracy"] == pytest.approx(float(multiclass_accuracy(probs, target, num_classes, average="micro")))
    assert 0.5 < values["auroc"] <= 1 and 0 < values["ece"] < 1 and values["brier"] > 0


def test_two_classes_score_the_positive_class():
    probs, target = _probs(2)
    metrics = classification_metrics(2)
    metrics.update(probs, target)
    assert float(metrics.compute()["auroc"]) == pytest.approx(float(binary_auroc(probs[:, 1], target)))
    # a random guess scores ~0.5, a perfect one 1.0
    perfect = torch.nn.functional.one_hot(target, 2).float()
    metrics.reset()
    metrics.update(perfect, target)
    out = metrics.compute()
    assert float(out["auroc"]) == 1.0 and float(out["brier"]) == 0.0 and float(out["mcc"]) == 1.0


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes"):
        classification_metrics(1)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_curve_figures_save_and_log(num_classes, tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger

    curves = CurveFigures(num_classes, [f"class{i}" for i in range(num_classes)])
    assert curves.save(tmp_path, "val") == []  # nothing seen yet: nothing drawn
    curves.update(*_probs(num_classes))
    names = curves.save(tmp_path, "val")
    assert names == ["val_confusion_matrix.png", "val_roc.png", "val_pr.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)

    logger = TensorBoardLogger(str(tmp_path / "tb"), name="", version="v")

    class FakeTrainer:
        loggers, is_global_zero, global_step = [logger], True, 7

    curves.log_figures(FakeTrainer(), "val")
    logger.experiment.flush()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb" / "v"))
    events.Reload()
    assert set(events.Tags()["images"]) == {"val/confusion_matrix", "val/roc", "val/pr"}
    curves.reset()
    assert not curves.has_data()


def test_more_classes_score_auroc_and_auprc_each_class_against_the_rest_unweighted():
    """README said AUROC / AUPRC were given for two classes; with three (the synthetic catalogue's) they are the
    unweighted mean of each class against the rest, which the legend under the test table now says too."""
    from torchmetrics.functional.classification import binary_average_precision

    from trainlab.metrics.names import legend

    probs, target = _probs(3, signal=1.0)
    target[target == 2] = torch.where(torch.arange(int((target == 2).sum())) % 3 == 0, 2, 0)  # class 2 rare
    metrics = classification_metrics(3)
    metrics.update(probs, target)
    values = metrics.compute()
    each = [(binary_auroc(probs[:, k], (target == k).long()), binary_average_precision(probs[:, k], (target == k).long()))
            for k in range(3)]
    assert float(values["auroc"]) == pytest.approx(float(sum(a for a, _ in each) / 3), rel=1e-5)
    assert float(values["auprc"]) == pytest.approx(float(sum(p for _, p in each) / 3), rel=1e-5)
    counts = torch.bincount(target, minlength=3).float()
    weighted = float(sum(a * n for (a, _), n in zip(each, counts)) / counts.sum())
    assert abs(float(values["auroc"]) - weighted) > 1e-3  # not weighted by the classes' sizes
    text = legend(["test/auroc", "test/auprc"])
    assert ("auroc = area under the ROC curve (of class 1 with two classes; with more, each class against the rest, "
            "their unweighted mean)") in text and "auprc = area under the precision-recall curve, average precision" in text
