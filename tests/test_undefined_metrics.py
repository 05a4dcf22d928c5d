"""Scores undefined on a split (AUROC/AUPRC on targets of one class; IoU/Dice where no pixel is anomalous nor
predicted so) were logged as torchmetrics' 0.0, which reads as "the model is as bad as it gets". They are NaN
everywhere now (loggers, epochs.jsonl, training_summary.json, evaluate.py's report, the baselines' line), said once
with the reason, and the checkpoint monitor and early stopping pass over an epoch where the monitored score is
undefined (trainlab.metrics.undefined)."""

from __future__ import annotations

import json
import logging
import math

import torch

from tests.test_image import TINY_UNET, make_folder
from trainlab.callbacks.checkpoints import EarlyStopping
from trainlab.callbacks.records import RunRecords
from trainlab.evaluation.baselines import Baselines
from trainlab.metrics.classification import classification_metrics
from trainlab.metrics.undefined import say_undefined
from trainlab.models.image import SegmentationModule
from trainlab.models.nets.unet import UNet


def test_auroc_and_auprc_of_targets_of_one_class_are_nan_and_of_both_classes_as_torchmetrics_gives_them():
    from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

    metrics = classification_metrics(2)
    probs = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    metrics.update(probs, torch.tensor([1, 1, 1]))
    scores = metrics.compute()
    assert math.isnan(float(scores["auroc"])) and math.isnan(float(scores["auprc"]))  # was 0.0
    assert abs(float(scores["accuracy"]) - 1 / 3) < 1e-6  # defined scores are untouched
    metrics.reset()
    target = torch.tensor([0, 1, 1])
    metrics.update(probs, target)
    scores = metrics.compute()
    assert float(scores["auroc"]) == float(BinaryAUROC()(probs[:, 1], target))
    assert float(scores["auprc"]) == float(BinaryAveragePrecision()(probs[:, 1], target))
    many = classification_metrics(3)
    many.update(torch.full((4, 3), 1 / 3), torch.tensor([2, 2, 2, 2]))
    assert math.isnan(float(many.compute()["auroc"]))


def test_pixel_iou_and_dice_are_nan_where_no_pixel_is_anomalous_nor_predicted_and_0_where_some_are_predicted():
    module = SegmentationModule(UNet(1, 1, base_channels=4, depth=1), optimizer=None)
    clean = torch.zeros(4 * 8 * 8, dtype=torch.long)
    module.val_pixel.update(torch.full((4 * 8 * 8,), 0.1), clean)
    found = say_undefined(module, "val", module.val_pixel)
    assert set(found) == {"val/iou", "val/dice", "val/pixel_auprc"}
    assert "no target and no prediction is positive (0 / 0)" in found["val/iou"]
    module.val_pixel.reset()
    module.val_pixel.update(torch.full((4 * 8 * 8,), 0.9), clean)  # a false alarm everywhere: IoU 0, a score
    scores = module.val_pixel.compute()
    assert float(scores["val/iou"]) == 0.0 and float(scores["val/dice"]) == 0.0
    assert math.isnan(float(scores["val/pixel_auprc"]))


def test_an_undefined_monitored_score_is_no_improvement_for_early_stopping_and_never_the_best_epoch(tmp_path):
    stopping = EarlyStopping(monitor="val/iou", mode="max", patience=2)
    stopping._undefined = {"val/iou": "no target and no prediction is positive (0 / 0)"}
    assert stopping._evaluate_stopping_criteria(torch.tensor(float("nan"))) == (False, None)  # Lightning: stop
    assert stopping._evaluate_stopping_criteria(torch.tensor(float("nan")))[0]  # patience 2 spent
    diverged = EarlyStopping(monitor="val/loss", patience=5)
    diverged._undefined = {}
    assert diverged._evaluate_stopping_criteria(torch.tensor(float("nan")))[0]  # a NaN loss still stops
    records = RunRecords(str(tmp_path), monitor="val/auroc", mode="max")
    records.epochs = [{"epoch": 0, "val/auroc": float("nan")}, {"epoch": 1, "val/auroc": 0.6},
                      {"epoch": 2, "val/auroc": float("nan")}]
    assert records.best_epoch() == (1, 0.6)  # min/max kept the NaN met first
    records.epochs = [{"epoch": 0, "val/auroc": float("nan")}]
    assert records.best_epoch() == (None, None)


def test_the_baselines_line_says_undefined_and_gives_no_verdict_beside_a_nan():
    baselines = Baselines("test", "auroc", {"brightness": 0.7})
    assert baselines.line("UNet", float("nan")) == "test auroc: UNet undefined | brightness 0.700"
    assert baselines.winner(float("nan")) is None
    both = Baselines("test", "auroc", {"brightness": float("nan"), "difference": 0.6})
    assert both.line("UNet", 0.8) == "test auroc: UNet 0.800 | brightness undefined | difference 0.600"
    assert both.winner(0.5) == "difference"


def test_a_run_on_splits_of_one_label_records_nan_everywhere_and_monitors_on(compose_cfg, run_train, tmp_path,
                                                                             caplog):
    """Six files leave one file to each of val (anomalous) and test (clean): AUROC is undefined on both."""
    import evaluate as evaluate_script

    root = make_folder(tmp_path / "sky", count=6, suffixes=("npy",))
    cfg = compose_cfg([*TINY_UNET, "data=sky_folder", f"data.source.path={root}", "data.batch_size=2",
                       "trainer.max_epochs=3", "optimized_metric=val/auroc", "optimized_mode=max",
                       "callbacks.early_stopping.patience=3"])
    with caplog.at_level(logging.INFO):
        metrics = run_train(cfg)
    assert math.isnan(metrics["objective"])  # a sweep's value: Lightning's worst value for NaN, -inf, before
    run = tmp_path / "run0"
    epochs = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
    assert len(epochs) == 3  # early stopping stopped at the first NaN ('is not finite') before
    assert all(math.isnan(e["val/auroc"]) and math.isnan(e["val/auprc"]) for e in epochs)  # 0.0 before
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["best_epoch"] is None and summary["best_value"] is None
    assert math.isnan(summary["test"]["test/auroc"]) and math.isnan(summary["test"]["test/pixel_auprc"])
    assert "every target is of class 0" in summary["undefined"]["test/auroc"]
    assert not [r for r in caplog.records if "score(s) of the" in r.getMessage()]  # the data module said it once
    from trainlab.run.console import announce_run_done

    with caplog.at_level(logging.INFO):
        announce_run_done(str(run), "val/auroc", metrics["objective"], "val/auroc")  # train.py's last line
    assert "(best val/auroc undefined (NaN): checkpoints/" in caplog.text  # 'best val/auroc -inf' before
    caplog.clear()
    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={run}", "hardware.num_threads=1"], config_name="eval"))
    assert math.isnan(report["metrics"]["test/auroc"]) and math.isnan(report["baseline_brightness_image_auroc"])
    assert math.isnan(report["baseline_empty_mask_iou"])  # no anomalous pixel in the clean test split: 0 / 0
    markdown = (tmp_path / "run1" / "report.md").read_text()
    assert "| test/auroc | NaN (undefined) |" in markdown
    assert "test/auroc is undefined on this split (NaN): every target is of class 0" in markdown


def test_mcc_of_a_constant_prediction_is_chance_and_of_targets_of_one_class_undefined():
    """torchmetrics' MCC gave a model calling all 9 tiles clean (8 are) 0.825, and 1.0 on targets of one class."""
    metrics = classification_metrics(2)
    all_clean = torch.tensor([[0.9, 0.1]] * 9)
    metrics.update(all_clean, torch.tensor([0] * 8 + [1]))
    assert float(metrics.compute()["mcc"]) == 0.0
    metrics.reset()
    metrics.update(all_clean, torch.tensor([0] * 9))
    assert math.isnan(float(metrics.compute()["mcc"]))
    metrics.reset()
    metrics.update(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), torch.tensor([0, 1, 0]))
    assert abs(float(metrics.compute()["mcc"]) - 0.5) < 1e-6  # defined: as torchmetrics computes it
