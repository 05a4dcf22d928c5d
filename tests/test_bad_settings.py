"""Bad settings, evaluate.py's mistakes and bad data files: one line each, before anything is trained
(the older cases are in test_errors.py, whose helpers this file shares)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import TINY, TINY_ANY_DATA
from tests.test_errors import csv_file, file_overrides, good_frame
from trainlab.config.errors import UserError


# -- settings that contradict each other or would do nothing: refused before the first step ---------
@pytest.mark.parametrize(
    "overrides,match",
    [
        (["trainer.val_check_interval=1000"], r"trainer.val_check_interval=1000 is more than the \d+ training batches"),
        (["trainer.limit_val_batches=0"],
         r"trainer.limit_val_batches=0 switches validation off, but optimized_metric=val/loss, "
         r"callbacks.early_stopping.monitor=val/loss"),
        (["trainer.limit_val_batches=0", "scheduler=plateau", "callbacks.early_stopping=null"],
         r"scheduler=plateau \(model.monitor\)=val/loss watch\(es\) validation"),
        (["trainer.check_val_every_n_epoch=5"], r"check_val_every_n_epoch=5 is more than trainer.max_epochs=2"),
        (["optimized_metric=val/rmsee"], r"optimized_metric=val/rmsee is a metric that RegressionModule never logs; "
                                         r"did you mean val/rmse\? during training it logs: .*val/mase, .*val/rmse, val/smape \(and "),  # + MASE, sMAPE (issue 12)
        (["callbacks.early_stopping.monitor=val/foo"], r"callbacks.early_stopping.monitor=val/foo is a metric"),
        # a mode against the metric's direction kept the worst checkpoints and tested the worst, without a word
        (["optimized_metric=val/rmse", "optimized_mode=max"],
         r"^optimized_mode=max ranks val/rmse largest first, but a smaller rmse is better: checkpoints, early stopping "
         r"and a sweep would keep the worst; set optimized_mode=min$"),
        (["optimized_mode=max"], r"^optimized_mode=max ranks val/loss largest first, but a smaller loss is better"),
        (["optimized_metric=val/r2"], r"^optimized_mode=min ranks val/r2 smallest first, but a larger r2 is better: "
                                      r".*; set optimized_mode=max$"),
        # a callback watching another metric ranks it by optimized_mode's direction unless its own mode is set
        (["callbacks.model_checkpoint.monitor=val/r2"],
         r"^callbacks.model_checkpoint.monitor=val/r2 with callbacks.model_checkpoint.mode=min ranks val/r2 smallest "
         r"first, but a larger r2 is better: the checkpoints kept would be the worst; set "
         r"callbacks.model_checkpoint.mode=max$"),
        (["callbacks.early_stopping.monitor=val/r2"],
         r"^callbacks.early_stopping.monitor=val/r2 with callbacks.early_stopping.mode=min .*; set "
         r"callbacks.early_stopping.mode=max$"),
        # a callback of the user's own is named by its own key, not the default's
        (["+callbacks.best_r2._target_=lightning.pytorch.callbacks.ModelCheckpoint", "+callbacks.best_r2.monitor=val/r2"],
         r"^callbacks.best_r2.monitor=val/r2 with callbacks.best_r2.mode=min .*; set callbacks.best_r2.mode=max$"),
        (["+callbacks.stop_r2._target_=lightning.pytorch.callbacks.EarlyStopping", "+callbacks.stop_r2.monitor=val/r3"],
         r"^callbacks.stop_r2.monitor=val/r3 is a metric"),
        (["scheduler=plateau", "model.monitor=val/r2"],
         r"^model.monitor=val/r2 \(scheduler=plateau\) with scheduler.mode=min .*: it would cut the learning rate while "
         r"the metric still improves; set scheduler.mode=max$"),
        (["callbacks.early_stopping.monitor=test/rmse"], r"callbacks.early_stopping.monitor=test/rmse is a metric"),
        (["seed=abc"], r"seed='abc' must be a whole number"),
        (["seed=null"], r"^seed=null must be a whole number \(e.g. seed=42\)"),  # said seed=None
        (["trainer.gradient_clip_val=-1"], r"trainer.gradient_clip_val=-1.0 must be > 0 \(e.g. 1.0\), or null"),
        (["scheduler=cyclic", "~scheduler.max_lr"], r"scheduler: CyclicLR missing a required argument: 'max_lr'; "
                                                    r"add scheduler.max_lr=<value>"),
        # values that fail only when the scheduler steps: a traceback an epoch (or hours) into the run
        (["scheduler=cosine", "scheduler.T_max=0"],
         r"^scheduler: CosineAnnealingLR \(scheduler.T_max=0, scheduler.eta_min=1e-06\) fails at its step 1 of this "
         r"run's 2: integer modulo by zero; change these values \(conf/scheduler/ shows working ones\)$"),
        (["scheduler=onecycle", "+scheduler.total_steps=3"],
         r"^scheduler: OneCycleLR \(.*scheduler.total_steps=3\) fails at its step 4 of this run's \d+: Tried to step 4 "
         r"times"),
        # the learning rate below 0: the optimizer would climb the loss without a word
        (["scheduler=cosine", "scheduler.eta_min=-1"],
         r"^scheduler: CosineAnnealingLR \(scheduler.T_max=2, scheduler.eta_min=-1\) takes the learning rate to "
         r"-0.4995 at its step 1 of this run's 2; a learning rate must stay finite and >= 0"),
        (["scheduler=cyclic", "scheduler.step_size_up=0"],  # a ZeroDivisionError traceback while being built
         r"^scheduler: CyclicLR \(.*scheduler.step_size_up=0.*\) cannot be built: float division by zero"),
        (["scheduler=plateau", "scheduler.factor=2"],  # torch's line alone: "scheduler: Factor should be < 1.0."
         r"^scheduler: ReduceLROnPlateau \(scheduler.mode=min, scheduler.factor=2, scheduler.patience=2\) cannot be "
         r"built: Factor should be < 1.0."),
        (["scheduler=plateau", "scheduler.patience=-1"],  # cut the rate after every validation
         r"^scheduler.patience=-1 must be 0 or more \(ReduceLROnPlateau"),
        # a learning rate of 0 (torch takes it): trained for hours without changing a weight, without a word
        (["optimizer.lr=0"], r"^optimizer.lr=0 trains nothing: each step moves a weight by the learning rate times "
                             r"its update; give one above 0 \(e.g. optimizer.lr=0.001\)$"),
        (["scheduler=cosine", "optimizer.lr=0.0"], r"^optimizer.lr=0 trains nothing \(CosineAnnealingLR only scales it\)"),
        (["scheduler=onecycle", "optimizer.lr=0"],  # its max_lr is optimizer.lr: 0 at every step
         r"^scheduler: OneCycleLR \(scheduler.max_lr=0, .*\) keeps the learning rate at 0 through its \d+ steps of this "
         r"run's \d+ \(optimizer.lr=0\): nothing would train"),
        (["optimizer=sgd", "optimizer.momentum=2"],  # trained to a forecast worse than the last value, no word
         r"^optimizer.momentum=2 must be below 1 \(e.g. optimizer.momentum=0.9\)"),
        (["callbacks.early_stopping.patience=-2"],  # stopped at the first validation without improvement
         r"^callbacks.early_stopping.patience=-2 must be a whole number of validations, 0 or more"),
        (["callbacks.early_stopping.min_delta=-1"],  # counted a worse value as an improvement
         r"^callbacks.early_stopping.min_delta=-1 would count a worse value as an improvement"),
        # trainer values Lightning took: a ZeroDivisionError at the first batch, validation after every batch,
        # a minimum it never reached, an AttributeError traceback, a test skipped without a word
        (["trainer.val_check_interval=0"], r"^trainer.val_check_interval=0 must be above 0: a number of training "
                                           r"batches \(e.g. 100\) or a fraction of the epoch \(e.g. 0.25\), or null"),
        (["trainer.val_check_interval=0.0"], r"^trainer.val_check_interval=0.0 must be above 0"),
        # check_val_every_n_epoch=null (the advice of the refusal of an interval longer than an epoch) with a fraction:
        # Lightning's MisconfigurationException, which named neither setting as given here
        (["trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=0.5"],
         r"^trainer.val_check_interval=0.5 is a fraction of an epoch, but trainer.check_val_every_n_epoch=null counts "
         r"training batches across epochs; give a whole number of batches \(trainer.val_check_interval=<n>\), or "
         r"trainer.check_val_every_n_epoch=1 to validate within each epoch$"),
        (["trainer.min_epochs=3"], r"^trainer.min_epochs=3 is more than trainer.max_epochs=2: training stops at 2 "
                                   r"epochs all the same; give trainer.min_epochs=2 or less, or raise trainer.max_epochs$"),
        (["+trainer.min_steps=100", "trainer.max_steps=50", "trainer.val_check_interval=1"],
         r"^trainer.min_steps=100 is more than trainer.max_steps=50: training stops at 50 steps"),
        (["+trainer.max_time=60"], r"^trainer.max_time=60 must be a duration DD:HH:MM:SS \(e.g. "
                                   r"\+trainer.max_time=00:12:00:00\), or null$"),
        (["trainer.limit_test_batches=0"], r"^trainer.limit_test_batches=0 tests nothing, but test=true; give "
                                           r"test=false to train without testing, or a limit above 0$"),
        (["data.batch_size=64.5"], r"data.batch_size=64.5 must be int; e.g. data.batch_size=\d+$"),
        # a value with a unit: the number alone (was 'must be int or null' and no example)
        (["data.season_length=24h"], r"data.season_length='24h' must be int or null \(the number alone, without a "
                                     r"unit\); e.g. data.season_length=24$"),
        (["epochs=3"], r"epochs=3 and trainer.max_epochs=2 contradict each other"),
        (["optimized_mode=maximum"], r"optimized_mode='maximum' must be min or max"),
        (["trainer.max_epochs=0"], r"trainer.max_epochs=0 trains nothing; give at least 1"),
        (["trainer.limit_train_batches=0"], r"trainer.limit_train_batches=0 trains nothing"),
        # training that ends before its first validation: Lightning's EarlyStopping raised a RuntimeError traceback
        (["trainer.max_steps=1"], r"trainer.max_steps=1 ends training before the first validation \(after \d+ step\(s\)\), "
                                  r"but optimized_metric=val/loss, callbacks.early_stopping.monitor=val/loss, "
                                  r"callbacks.model_checkpoint.monitor=val/loss watch\(es\) validation; give "
                                  r"trainer.max_steps=\d+ or more, or validate sooner: trainer.val_check_interval=1 "
                                  r"\(batches\)$"),
        (["trainer.max_steps=3", "trainer.accumulate_grad_batches=2", "trainer.val_check_interval=8"],
         r"trainer.max_steps=3 ends training before the first validation \(after 4 step\(s\)\)"),
        # batches counted across epochs, more than the fit has: trained and tested, then 'val/loss was never logged'
        (["trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=1000"],
         r"^trainer.val_check_interval=1000 with trainer.check_val_every_n_epoch=null validates after 1000 training "
         r"batches, but trainer.max_epochs=2 trains (\d+) \(\d+ an epoch\), and optimized_metric=val/loss, .* watch\(es\) "
         r"validation; give trainer.val_check_interval=\1 or less, or more trainer.max_epochs$"),
        # one step per epoch of a quarter of the gradient, logged as an effective batch 4x the one it had
        (["trainer.accumulate_grad_batches=4", "trainer.limit_train_batches=2"],
         r"^trainer.accumulate_grad_batches=4 is more than the 2 training batch\(es\) of an epoch: Lightning steps "
         r"the optimizer at each epoch's end, after 2, and scales each batch's gradient by 1/4; give at most "
         r"trainer.accumulate_grad_batches=2, or more batches per epoch \(trainer.limit_train_batches=2 limits them\)$"),
        # one batch as a whole number (1, not 1.0: the whole loader) was no limit to the message: 'a smaller batch_size'
        (["trainer.accumulate_grad_batches=2", "trainer.limit_train_batches=1"],
         r"or more batches per epoch \(trainer.limit_train_batches=1 limits them\)$"),
    ],
)
def test_settings_that_would_fail_or_do_nothing(compose_cfg, run_train, overrides, match):
    cfg = compose_cfg([*TINY, "logger=none", *overrides])
    with pytest.raises(UserError, match=match):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))  # refused before anything was trained


# -- argument types the signature check could not read: a traceback at the first step, or a value taken as another
@pytest.mark.parametrize(
    "overrides,key,match",
    [
        # torch's ``lr: float | Tensor`` (a union written with |) was not checked: Adam's own comparison, a TypeError
        (["optimizer.lr=abc"], "optimizer", r"^optimizer.lr='abc' must be float; e.g. optimizer.lr=0.001$"),
        (["optimizer=sgd", "optimizer.lr=1e-3x"], "optimizer", r"^optimizer.lr='1e-3x' must be float"),
        # Lightning's ``save_last: bool | Literal['link']`` behind our subclass's **kwargs: a last.ckpt, as if true
        (["callbacks.model_checkpoint.save_last=sometimes"], "callbacks",
         r"^callbacks.model_checkpoint.save_last='sometimes' must be bool or 'link' or null; e.g. "
         r"callbacks.model_checkpoint.save_last=true$"),
        (["callbacks.lr_monitor.logging_interval=batch"], "callbacks",
         r"^callbacks.lr_monitor.logging_interval='batch' must be 'step' or 'epoch' or null$"),
        # a list where one number goes: '<' not supported between instances of 'list' and 'int' (a traceback)
        (["model=gnn", "data=gaia", "data.fanout=[5,5]"], "data", r"^data.fanout=\[5, 5\] must be int or null, not a list"),
    ],
)
def test_argument_types_the_signature_check_missed(compose_cfg, overrides, key, match):
    from trainlab.config.instantiate import check_node

    cfg = compose_cfg(overrides)
    nodes = cfg[key].items() if key == "callbacks" else [(None, cfg[key])]
    with pytest.raises(UserError, match=match):
        for name, node in nodes:
            check_node(node, f"{key}.{name}" if name else key)


@pytest.mark.parametrize(
    "overrides, match",
    [
        # behind our subclasses' **kwargs, read as "takes anything": Hydra's traceback of Lightning's TypeError
        # after the data was built (ModelCheckpoint, RichProgressBar), or ignored without a word (ModelSummary)
        (["+callbacks.model_checkpoint.save_top_kk=3"],
         r"^callbacks.model_checkpoint.save_top_kk is not an argument of .*ModelCheckpoint; did you mean "
         r"callbacks.model_checkpoint.save_top_k\? valid ones: filename, monitor, dirpath, "),
        (["+callbacks.rich_progress_bar.leavee=true"],
         r"^callbacks.rich_progress_bar.leavee is not an argument .* did you mean callbacks.rich_progress_bar.leave\?"),
        (["+callbacks.model_summary.foo=1"], r"^callbacks.model_summary.foo is not an argument .* valid ones: "
                                             r"max_depth, header_style$"),
        (["+callbacks.early_stopping.stopping_threshhold=0.1"],
         r"did you mean callbacks.early_stopping.stopping_threshold\?"),
        (["+callbacks.early_stopping.check_finite=often"],
         r"^callbacks.early_stopping.check_finite='often' must be bool"),
    ],
)
def test_keys_a_subclass_hands_on_to_its_base_are_checked_as_the_bases(compose_cfg, overrides, match):
    from trainlab.config.instantiate import check_node

    cfg = compose_cfg(overrides)
    with pytest.raises(UserError, match=match):
        for name, node in cfg.callbacks.items():
            check_node(node, f"callbacks.{name}")


class _KeepsItsKeywords(pl.callbacks.EarlyStopping):
    """A user's subclass whose **kwargs are its own (not handed on): it still takes any key."""

    def __init__(self, monitor: str, **options: Any):
        super().__init__(monitor=monitor)
        self.options = options


class _GivesTheMonitorItself(pl.callbacks.EarlyStopping):
    """A user's subclass that gives a base's required argument itself: the config need not, and cannot."""

    def __init__(self, **kwargs: Any):
        super().__init__(monitor="val/loss", **kwargs)


def test_a_users_subclass_takes_what_its_own_code_says():
    from trainlab.config.instantiate import arguments_of, check_node

    keeps = OmegaConf.create({"_target_": f"{__name__}._KeepsItsKeywords", "monitor": "val/loss", "colour": "red"})
    check_node(keeps, "callbacks.mine")
    assert arguments_of(_KeepsItsKeywords).takes_any
    gives = arguments_of(_GivesTheMonitorItself)
    assert not gives.takes_any and "patience" in gives.parameters and "monitor" not in gives.parameters
    check_node(OmegaConf.create({"_target_": f"{__name__}._GivesTheMonitorItself", "patience": 3}), "callbacks.mine")
    with pytest.raises(UserError, match=r"callbacks.mine.monitor is not an argument"):
        check_node(OmegaConf.create({"_target_": f"{__name__}._GivesTheMonitorItself", "monitor": "x"}),
                   "callbacks.mine")


def test_the_values_those_types_admit_pass(compose_cfg):
    from trainlab.config.instantiate import check_node

    cfg = compose_cfg(["callbacks.model_checkpoint.save_last=link", "optimizer.lr=0.01"])
    check_node(cfg.callbacks.model_checkpoint, "callbacks.model_checkpoint")
    check_node(cfg.optimizer, "optimizer")
    check_node(compose_cfg(["model=gnn", "data=gaia", "data.fanout=5"]).data, "data")


# -- settings of trainlab's own callbacks out of their range: a traceback at the start of fit, or taken as another
@pytest.mark.parametrize(
    "override,match",
    [
        ("callbacks.model_summary.max_depth=-2",  # Lightning's ValueError traceback at the start of fit
         r"^callbacks.model_summary.max_depth=-2 must be -1 \(every layer\), 0 \(no summary\) or more"),
        ("callbacks.rich_progress_bar.min_interval_s=-1",  # redrawn at every batch
         r"^callbacks.rich_progress_bar.min_interval_s=-1 must be 0 or more \(seconds between redraws; 0: every batch\)$"),
        ("callbacks.run_records.mode=maximum",  # training_summary.json named the largest value the best
         r"^callbacks.run_records.mode='maximum' must be min or max"),
        ("callbacks.on_exception.filename=''",  # checkpoints/.ckpt, a hidden file
         r"^callbacks.on_exception.filename='' must be a file name without .ckpt and without '/'"),
    ],
)
def test_callback_settings_out_of_range(compose_cfg, override, match):
    from trainlab.config.instantiate import build

    name = override.split(".")[1]
    with pytest.raises(UserError, match=match):
        build(compose_cfg([override]).callbacks[name], f"callbacks.{name}")


def test_callback_settings_at_their_limits_build(compose_cfg):
    from trainlab.config.instantiate import build

    cfg = compose_cfg(["callbacks.model_summary.max_depth=-1", "callbacks.rich_progress_bar.min_interval_s=0",
                       "callbacks.run_records.mode=max"])
    for name in ("model_summary", "rich_progress_bar", "run_records", "on_exception"):
        build(cfg.callbacks[name], f"callbacks.{name}")


def test_a_checkpoint_name_template_naming_a_metric_the_run_does_not_log(compose_cfg, run_train):
    """Lightning writes 0 for such a name: '{epoch}-{val_acc:.2f}' named every checkpoint 0-0.00.ckpt, each top-k
    save replacing the last. Refused at the first save, the epoch's weights kept in on_exception.ckpt."""
    cfg = compose_cfg([*TINY, "logger=none", "callbacks.model_checkpoint.filename='{epoch}-{val_acc:.2f}'"])
    with pytest.raises(UserError, match=r"^callbacks.model_checkpoint.filename='\{epoch\}-\{val_acc:.2f\}' names "
                                        r"val_acc, which this run does not log .*; it logs epoch, step, .*val/loss"):
        run_train(cfg)
    assert [p.name for p in Path(cfg.paths.output_dir).rglob("*.ckpt")] == ["on_exception.ckpt"]
    # the names it does log are taken, "/" and all (written without it: auto_insert_metric_name is off)
    cfg = compose_cfg([*TINY, "logger=none", "callbacks.model_checkpoint.filename='e{epoch}-{val/loss:.3f}'"])
    run_train(cfg)
    assert any(p.name.startswith("e0-") for p in Path(cfg.paths.output_dir).rglob("*.ckpt"))


def test_a_checkpoint_name_template_naming_a_metric_logged_later_is_taken(compose_cfg, run_train):
    """A name the run logs, but not yet at a save, is not one it never logs: with two validations an epoch the
    first top-k save comes mid-epoch, before train/loss_epoch is logged at the epoch's end (Lightning writes 0
    there once, and the value from then on); it was refused as a metric 'this run does not log'."""
    cfg = compose_cfg([*TINY, "logger=none", "trainer.val_check_interval=0.5",
                       "callbacks.model_checkpoint.filename='e{epoch}-{step}-{train/loss_epoch:.3f}'"])
    run_train(cfg)
    names = sorted(p.name for p in Path(cfg.paths.output_dir).rglob("e*.ckpt"))
    assert names and not any(name.endswith("-0.000.ckpt") for name in names[1:]), names


@pytest.mark.parametrize("classes", [2, 3])
def test_a_classifiers_mode_is_checked_against_its_metrics_direction(classes):
    """The graph and image families' metrics: torchmetrics' own, a binary one wrapped (LambdaInputTransformer, which
    leaves higher_is_better unset) and the Brier score; each direction both ways."""
    import lightning.pytorch as pl

    from trainlab.metrics.classification import classification_metrics
    from trainlab.run.checks import _against_direction

    module = pl.LightningModule()
    module.val_metrics = classification_metrics(classes).clone(prefix="val/")
    for metric, better in (("val/auroc", "max"), ("val/mcc", "max"), ("val/ece", "min"), ("val/brier", "min"),
                           ("val/loss", "min")):
        worse = "min" if better == "max" else "max"
        assert _against_direction(module, metric, better) is None
        assert _against_direction(module, metric, worse).endswith(f"set optimized_mode={better}"), metric


def test_the_epochs_shortcut_is_weighed_against_min_epochs(compose_cfg, run_train):
    """epochs=2 sets trainer.max_epochs after the trainer's checks had passed its default of 20: trainer.min_epochs=3
    was taken, and training stopped at 2 epochs all the same."""
    from tests.families import QUIET, TIMESERIES

    cfg = compose_cfg([*TIMESERIES.small_data, *TIMESERIES.small_model, *QUIET, "logger=none", "epochs=2",
                       "trainer.min_epochs=3"])
    with pytest.raises(UserError, match=r"^trainer.min_epochs=3 is more than trainer.max_epochs=2: training stops"):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))


def test_a_smoke_run_of_accumulated_batches_runs(compose_cfg, run_train):
    """debug=fdr (fast_dev_run: one batch) of a run that accumulates 2 batches was refused as 'more than the 1
    training batch(es) of an epoch ... or more batches per epoch (a smaller data.batch_size)': the smoke run of a
    valid config failed, and no batch size was the fix."""
    metrics = run_train(compose_cfg([*TINY, "logger=none", "debug=fdr", "trainer.accumulate_grad_batches=2"]))
    assert "val/loss" in metrics and "train/loss_step" in metrics  # one batch trained and validated


def test_a_max_steps_run_that_validates_in_time_trains(compose_cfg, run_train):
    """The fix the max_steps refusal gives (validate sooner) trains, and scores the split it validated."""
    cfg = compose_cfg([*TINY, "logger=none", "trainer.max_steps=1", "trainer.val_check_interval=1"])
    run_train(cfg)
    assert list(Path(cfg.paths.output_dir).rglob("*.ckpt"))


def test_epochs_shortcut_sets_max_epochs(compose_cfg):
    from trainlab.config.checks import apply_epochs_shortcut

    cfg = compose_cfg(["epochs=7"])
    apply_epochs_shortcut(cfg, command_line=["epochs=7"])
    assert cfg.trainer.max_epochs == 7
    apply_epochs_shortcut(cfg, command_line=["epochs=7", "trainer.max_epochs=7"])  # both, agreeing: fine
    with pytest.raises(UserError, match=r"epochs=7 and trainer.max_epochs=3 contradict"):
        apply_epochs_shortcut(cfg, command_line=["epochs=7", "trainer.max_epochs=3"])


def test_whole_floats_for_int_arguments_become_ints(compose_cfg):
    from trainlab.config.instantiate import check_node

    cfg = compose_cfg(["data.batch_size=64.0", "data.window=16.0"])
    check_node(cfg.data, "data")
    assert cfg.data.batch_size == 64 and isinstance(cfg.data.batch_size, int)
    assert isinstance(cfg.data.window, int)


def test_sweep_direction_follows_optimized_mode_or_is_refused(compose_cfg):
    from trainlab.config.checks import check_direction

    cfg = compose_cfg(["hparams_search=optuna", "optimized_mode=max", "optimized_metric=val/r2"])
    assert cfg.hydra.sweeper.direction == "maximize"
    check_direction(["maximize"], cfg)
    with pytest.raises(UserError, match=r"hydra.sweeper.direction=minimize contradicts optimized_mode=max .*"
                                        r"highest val/r2.*set optimized_mode=min alone"):
        check_direction(["minimize"], cfg)


# -- evaluate.py's own mistakes ---------------------------------------------------------------------
def _fake_run(tmp_path: Path, config_text: str) -> Path:
    run_dir = tmp_path / "fake_run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text(config_text)
    torch.save({"state_dict": {}, "epoch": 0}, run_dir / "checkpoints" / "last.ckpt")
    return run_dir


@pytest.mark.parametrize(
    "case,match",
    [
        ("no ckpt_path", r"ckpt_path is required: python evaluate.py ckpt_path=<run folder or .ckpt file>"),
        ("split=tset", r"split='tset' is not one of test, val, all; e.g. split=val"),
        ("latency.warmup=-1", r"latency.warmup=-1 must be a whole number, 0 or more"),
        ("latency.max_batches=0", r"latency.max_batches=0 must be a whole number, 1 or more"),
        ("trainer.devices=2", r"trainer.devices=2: evaluate.py tests and times the model in one process on one device"),
        ("hardware.devices=auto", r"hardware.devices=auto: evaluate.py tests and times the model in one process"),
        ("trainer=ddp_sim", r"trainer.devices=2: evaluate.py"),
        ("corrupt config", r"config.yaml' is not readable YAML \(.*\); the run's config was damaged"),
        ("config without model", r"config.yaml has no model and no data: it is not \(or no longer\) the config"),
        ("config missing", r"has no .hydra/config.yaml; a checkpoint is read with the config its run saved: give a run directory "
                           r"written by train.py, or a .ckpt file in its checkpoints/ folder"),
    ],
)
def test_evaluate_mistakes_get_one_line(compose_cfg, tmp_path, case, match):
    import evaluate as evaluate_script

    text = {"corrupt config": "model: {net: [unclosed\n", "config without model": "seed: 1\n"}.get(case, "seed: 1\n")
    run_dir = _fake_run(tmp_path, text)
    if case == "config missing":
        (run_dir / ".hydra" / "config.yaml").unlink()
    overrides = {"no ckpt_path": []}.get(case, [f"ckpt_path={run_dir}", case] if "=" in case else [f"ckpt_path={run_dir}"])
    with pytest.raises(UserError, match=match):
        evaluate_script.evaluate(compose_cfg(overrides, config_name="eval"))


# -- a run refused at the start leaves no folder behind ---------------------------------------------
@pytest.mark.parametrize("override", ["seed=abc", "trainer.limit_val_batches=0"])
def test_a_refused_start_leaves_no_run_folder(compose_cfg, run_train, override, capsys):
    from trainlab.config.errors import report_user_errors
    from trainlab.run.folder import discard_unstarted_run

    cfg = compose_cfg([*TINY, "logger=none", override])
    run_dir = Path(cfg.paths.output_dir)
    assert run_dir.is_dir()  # made by Hydra (here: the fixture) before the task starts
    log_file = logging.FileHandler(run_dir / "train.log")  # as Hydra's job logging sets it up
    logging.getLogger().addHandler(log_file)
    try:
        with pytest.raises(SystemExit) as stopped, report_user_errors(on_error=discard_unstarted_run):
            run_train(cfg)
        assert log_file not in logging.getLogger().handlers
        logging.getLogger("tests").warning("a line after the folder is gone (an atexit hook's)")
    finally:
        logging.getLogger().removeHandler(log_file)
    assert stopped.value.code == 2
    assert not run_dir.exists()  # and the late line did not open train.log again (a FileNotFoundError)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: ") and line.endswith("nothing was run, so its run folder was removed")


# -- data files: shape and values ------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "case,match",
    [
        ("header only", r"data.source.path: '.*series.csv' has no data rows \(only a header, or nothing\)"),
        ("one row", r"'series' has 1 row\(s\), fewer than one window of data.window=16 \+ data.horizon=1"),
        # inf beside four values: nothing to tell a missing-value code from (among more it is one: test_missing_codes)
        ("inf", r"column 'a' in '.*series.csv' has an infinite value \(row 5: inf\); if it stands for no value, "
                r"leave the cell empty"),
        ("huge", r"column 'b' in '.*series.csv' has a value beyond ±1e\+18 \(row 0: .*e\+30\); fix or rescale it"),
        ("folder", r"data.source.path: '.*' is a folder; give the path of one .csv, .parquet, .npy, .xlsx, .xls, .ods, .ecsv, .vot or .fits file in it"),
        ("repeated names", r"names the column\(s\) \['a'\] more than once; rename them"),
        ("window longer than the data", r"'series' has 300 row\(s\), fewer than one window of data.window=400"),
        # one short series among long ones: the fix was 'leave the short series out of data.source.series'
        ("a short series", r"series B has 5 row\(s\), fewer than one window of data.window=16 \+ data.horizon=1 \(a "
                           r"series needs at least 26 rows: a window in each of its training, validation and test "
                           r"splits\); use "
                           r"a shorter window or horizon, or more data, or leave the 1 short series out: "
                           r"'data.source.series=\[A,C\]'$"),
    ],
)
def test_data_files_that_cannot_train(compose_cfg, run_train, tmp_path, case, match):
    frame = good_frame()
    extra = []
    if case == "header only":
        path = csv_file(tmp_path, frame.iloc[:0])
    elif case == "one row":
        path = csv_file(tmp_path, frame.iloc[:1])
    elif case == "inf":
        frame.loc[4:, "a"] = np.nan
        frame.loc[5, "a"] = np.inf
        path = csv_file(tmp_path, frame)
    elif case == "huge":
        frame["b"] *= 1e30  # float32 holds it, its standard deviation overflows
        path = csv_file(tmp_path, frame)
    elif case == "folder":
        csv_file(tmp_path, frame)
        path = str(tmp_path)
    elif case == "repeated names":
        path = _write(tmp_path, "series.csv", "a,a,y\n" + "".join(f"{i},{i % 5},{i % 3}\n" for i in range(300)))
    elif case == "a short series":
        frame = pd.concat([frame.assign(s="A"), frame.iloc[:5].assign(s="B"), frame.assign(s="C")])
        path, extra = csv_file(tmp_path, frame), ["data.source.series_column=s"]
    else:
        path, extra = csv_file(tmp_path, frame), ["data.window=400"]
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg(file_overrides(path, *extra)))


def test_one_target_column_without_brackets_is_one_column(compose_cfg, tmp_path):
    from trainlab.config.instantiate import build

    path = csv_file(tmp_path, good_frame())
    cfg = compose_cfg([*TINY_ANY_DATA, "data=file", f"data.source.path={path}", "data.source.target_columns=y"])
    table = build(cfg.data.source, "data.source").load()
    assert table.target_names == ["y"] and table.feature_names == ["a", "b"]


def test_a_catalogue_class_too_small_for_every_split(compose_cfg, run_train, tmp_path):
    from trainlab.data.graph.synthetic import SyntheticGaia

    frame = SyntheticGaia(num_stars=600).frame()
    frame.loc[frame.index[0], "label"] = "lonely"
    path = tmp_path / "catalogue.csv"
    frame.to_csv(path, index=False)
    cfg = compose_cfg(["model=gnn", "data=catalogue", f"data.source.path={path}", "data.source.label_column=label",
                       "trainer.max_epochs=1", "hardware.num_threads=1", "logger=none"])
    with pytest.raises(UserError, match=r"class 'lonely' of 'catalogue' has 1 star\(s\), too few for the val and "
                                        r"test split\(s\) to hold one"):
        run_train(cfg)


# -- precision advice on a CPU is true for this CPU ---------------------------------------------
@pytest.mark.parametrize("native_bf16", [True, False])
def test_cpu_precision_advice_matches_the_cpu(compose_cfg, monkeypatch, native_bf16):
    from trainlab.run import hardware

    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: native_bf16)
    with pytest.raises(UserError) as refused:
        hardware.apply_hardware(compose_cfg(["hardware.precision=16-mixed"]).hardware)
    assert str(refused.value).endswith("on the CPU use 32-true" + (" (or bf16-mixed: this CPU computes bfloat16 "
                                                                   "natively)" if native_bf16 else ""))
    bf16 = compose_cfg(["hardware.precision=bf16-mixed"]).hardware
    if native_bf16:
        assert hardware.apply_hardware(bf16).precision == "bf16-mixed"
    else:
        with pytest.raises(UserError, match=r"this CPU has no native bfloat16 .*use hardware.precision=32-true"):
            hardware.apply_hardware(bf16)


@pytest.mark.parametrize(
    "override,match",
    [
        ("model.net._target_=trainlab.models.nets.lstm.LSTMNett",
         r"model.net._target_=trainlab.models.nets.lstm.LSTMNett: trainlab.models.nets.lstm has no 'LSTMNett'; "
         r"did you mean LSTMNet\?"),
        ("model._target_=trainlab.models.timeseries.RegresionModule", r"did you mean RegressionModule\?"),
        ("optimizer._target_=apex.optimizers.FusedAdam",
         r"optimizer._target_=apex.optimizers.FusedAdam: No module named 'apex'; install the package"),
    ],
)
def test_a_target_that_cannot_be_imported(compose_cfg, run_train, override, match):
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg([*TINY, override]))


def test_a_logger_whose_package_is_missing_is_refused_before_training(compose_cfg, run_train, monkeypatch):
    """TensorBoard's writer imported its package at the start of fit: a traceback, and the run folder stayed."""
    for package in ("tensorboard", "tensorboardX"):  # Lightning falls back from one to the other
        monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    cfg = compose_cfg([*TINY, "logger=tensorboard"])
    with pytest.raises(UserError, match=r"^logger=tensorboard needs the Python package tensorboard, which is not "
                                        r"installed; pip install tensorboard .*logger=csv or logger=none$"):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))


@pytest.mark.slow  # 10 s: trains, then evaluates (make test kept under 10 min)
def test_evaluate_says_how_to_change_the_runs_data(compose_cfg, tmp_path):
    """The run's data file moved: the line named data.source.path, which evaluate.py refuses without a '+'."""
    from trainlab.config.command_line import unknown_key_problem
    from trainlab.run.restore import restore

    run_cfg = compose_cfg([*TINY_ANY_DATA, "data=file", "data.source.target_columns=[y]",
                           f"data.source.path={tmp_path / 'gone.csv'}"])
    with pytest.raises(UserError, match=r"^data.source.path: file not found: .*gone.csv'; give the path of an existing "
                                        r".* \(evaluate.py sets the run's data with a '\+': \+data.source.path=<value>\)$"):
        restore(run_cfg, {"state_dict": {}}, "x.ckpt")
    assert unknown_key_problem(["ckpt_path=run", "data.source.path=new.csv"], "eval") == (
        "data.source.path is a setting of the run's own config, which evaluate.py changes with a '+' in front: "
        "+data.source.path=new.csv")


@pytest.mark.parametrize("logger", ["tensorboard", "csv"])
def test_a_logger_folder_that_cannot_be_written_is_refused_before_training(compose_cfg, run_train, tmp_path, logger):
    """A save_dir that cannot be made (read-only, a file in the way) was os.makedirs' traceback, exit 1."""
    (tmp_path / "blocker").write_text("a file where the folder would go\n")
    folder = tmp_path / "blocker" / "logs"
    cfg = compose_cfg([*TINY, f"logger={logger}", f"logger.{logger}.save_dir={folder}"])
    with pytest.raises(UserError, match=rf"^logger.{logger}.save_dir={folder}: cannot write {folder} \(.*\); give a "
                                        r"writable folder, or change paths.log_dir \(every run writes below it\)$"):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))


def test_a_required_key_of_the_replacing_option_is_one_it_has(compose_cfg, caplog, monkeypatch, tmp_path):
    """A key the replacing option requires (``???``, as data=file's source.path) was read as absent: experiment=...
    data=file was refused as 'file has no data.source.path', a key it has, instead of the warning that it applies."""
    from trainlab.config import checks, search_path

    mine = tmp_path / "cnn.yaml"  # the model option replacing lstm_seed's lstm: every key it sets, one required
    mine.write_text("window_scaling: none\nnet:\n  hidden_size: ???\n  num_layers: 2\n  dropout: 0.0\n")
    real = search_path.option_file
    monkeypatch.setattr(search_path, "option_file",
                        lambda group, option, sources=None: mine if (group, option) == ("model", "cnn")
                        else real(group, option, sources))
    cfg = compose_cfg(["experiment=lstm_seed", "model=cnn"])
    with caplog.at_level(logging.WARNING, logger="trainlab.config.checks"):
        checks.check_experiment_choices(cfg)
    assert "model=cnn on the command line replaced that choice: its model settings apply to cnn" in caplog.text


def test_an_experiments_choice_replaced_on_the_command_line_is_named(compose_cfg, caplog):
    """experiment=lstm_seed model=cnn: the experiment's model.net.hidden_size, set for the LSTM, reached the
    CNN, refused as 'model.net.hidden_size is not an argument of TemporalCNN; did you mean kernel_size?'."""
    from trainlab.config.checks import check_config

    with pytest.raises(UserError, match=r"^experiment=lstm_seed chooses model=lstm and sets model keys for it, but "
                                        r"model=cnn on the command line replaced that choice, and cnn has no "
                                        r"model.net.hidden_size; leave model=cnn out, or make an experiment of your "
                                        r"own for cnn \(experiments/experiment/lstm_seed.yaml shows the form\)$"):
        check_config(compose_cfg(["experiment=lstm_seed", "model=cnn"]))
    # the keys all fit the other model: they apply to it, and one warning says so
    with caplog.at_level(logging.WARNING, logger="trainlab.config.checks"):
        check_config(compose_cfg(["experiment=lstm_seed", "model=lstm_attention", "model.net.num_layers=2"]))
    assert ("experiment=lstm_seed chooses model=lstm and sets model keys for it, but model=lstm_attention on the "
            "command line replaced that choice: its model settings apply to lstm_attention (model.window_scaling=none, "
            "model.net.hidden_size=128, model.net.num_layers=2, model.net.dropout=0.0)") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab.config.checks"):
        check_config(compose_cfg(["experiment=lstm_seed", "model=lstm"]))
    assert "experiment=" not in caplog.text


@pytest.mark.parametrize("max_epochs, max_steps, known", [(-1, 40, 40), (3, 40, 3), (-1, -1, None)])
def test_a_scheduler_is_tried_through_the_epochs_a_run_can_reach(max_epochs, max_steps, known):
    """trainer.max_epochs=-1 with trainer.max_steps=40 ends within 40 epochs (each takes a step at least); an
    epoch scheduler was tried through 5,000 epochs all the same, refusing a growth (ExponentialLR gamma=1.2: 1e-3
    x 1.2**40 ~ 1.5) that only overflows thousands of epochs past the run's end."""
    from functools import partial
    from types import SimpleNamespace

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    module.trainer = SimpleNamespace(max_epochs=max_epochs, max_steps=max_steps, estimated_stepping_batches=float("inf"))
    growing = partial(torch.optim.lr_scheduler.ExponentialLR, gamma=1.2)
    make = partial(torch.optim.SGD, lr=1e-3)
    if known is None:  # a run with no end in epochs or steps: tried through TRIED_STEPS, and refused there
        with pytest.raises(UserError, match=r"^scheduler: ExponentialLR \(scheduler.gamma=1.2\) takes the learning "
                                            r"rate to inf at its step \d+; "):
            configure_optimizers(module, make, growing, "val/loss")
    else:
        assert configure_optimizers(module, make, growing, "val/loss")["lr_scheduler"]["interval"] == "epoch"


def test_a_scheduler_given_as_a_plain_function_is_named_in_its_refusal():
    """From Python a task module takes any callable as its scheduler (trainlab.models.task: only the config's are
    partials); one failing the dry run ended in AttributeError ('function' object has no attribute 'keywords')
    while its refusal was being written."""
    from types import SimpleNamespace

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    def every_zero_epochs(optimizer):
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=0)

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    module.trainer = SimpleNamespace(max_epochs=3, max_steps=-1, estimated_stepping_batches=30)
    with pytest.raises(UserError, match=r"^scheduler: every_zero_epochs fails at its step 1 of this run's 3: "):
        configure_optimizers(module, lambda params: torch.optim.SGD(params, lr=0.1), every_zero_epochs, "val/loss")


def test_a_scheduler_is_completed_for_a_module_outside_a_trainer():
    """configure_optimizers of a module no Trainer holds (a loop of one's own, a test) built an epoch scheduler
    until the dry run of 7fb669e read module.trainer, which Lightning's property refuses there (RuntimeError: 'not
    attached to a `Trainer`'); the dry run meant to try TRIED_STEPS steps when no trainer tells the run's."""
    from functools import partial

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    built = configure_optimizers(module, partial(torch.optim.SGD, lr=0.1),
                                 partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=10), "val/loss")
    assert isinstance(built["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.CosineAnnealingLR)
    with pytest.raises(UserError, match=r"^scheduler: CosineAnnealingLR \(scheduler.T_max=0\) fails at its step 1: "):
        configure_optimizers(module, partial(torch.optim.SGD, lr=0.1),
                             partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=0), "val/loss")


def test_a_schedule_of_ones_own_that_holds_the_rate_at_zero_is_refused_and_a_warm_up_from_zero_is_not():
    from functools import partial

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    sgd = partial(torch.optim.SGD, lr=0.1)
    warm_up = partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=lambda step: min(step / 10, 1.0))
    configure_optimizers(module, sgd, warm_up, "val/loss")  # 0 at its first step only
    held = partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=lambda step: 0.0)
    with pytest.raises(UserError, match=r"^scheduler: LambdaLR \(scheduler.lr_lambda=.*\) keeps the learning rate at 0 "
                                        r"through its 5000 steps \(optimizer.lr=0.1\): nothing would train"):
        configure_optimizers(module, sgd, held, "val/loss")


class _CountingWarmUp:
    """An lr_lambda of one's own that keeps state: how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, step: int) -> float:
        self.calls += 1
        return 1.0


def test_the_dry_run_steps_a_copy_of_a_stateful_schedule_and_names_any_error_it_raises():
    """The dry run stepped the config's own lr_lambda object 5,000 times before training (its state was then the
    run's); an error other than ValueError/ArithmeticError/TypeError from one's own code was a traceback."""
    from functools import partial

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    sgd = partial(torch.optim.SGD, lr=0.1)
    counting = _CountingWarmUp()
    built = configure_optimizers(module, sgd, partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=counting), "val/loss")
    assert counting.calls == 1  # the run's scheduler, built once; the 5,000 tried steps were a copy's
    assert built["lr_scheduler"]["scheduler"].lr_lambdas[0] is counting

    def broken(step: int) -> float:
        return {0: 1.0}[step]

    with pytest.raises(UserError, match=r"^scheduler: LambdaLR \(scheduler.lr_lambda=.*\) fails at its step 1: "
                                        r"KeyError: 1; the error is in its code or values$"):
        configure_optimizers(module, sgd, partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=broken), "val/loss")


@pytest.mark.parametrize("name", ["val_acc", "test/loss"])
def test_a_template_refused_before_anything_is_logged_names_what_the_run_logs(compose_cfg, name):
    """A save before the run logged anything (every_n_train_steps, a monitor of None) refused the template with
    'it logs epoch, step, : name those', an empty list: the metrics the module logs are named. A test metric is
    logged after training only: no checkpoint of the run has it (Lightning would write 0 in every name)."""
    from types import SimpleNamespace

    from hydra.utils import instantiate

    from trainlab.run.pipeline import build_model_and_data, prepare

    cfg = prepare(compose_cfg([*TINY, f"callbacks.model_checkpoint.filename='{{epoch}}-{{{name}:.2f}}'"]))
    module, _ = build_model_and_data(cfg)
    callback = instantiate(cfg.callbacks.model_checkpoint)
    callback._trainer = SimpleNamespace(lightning_module=module, limit_val_batches=1.0, check_val_every_n_epoch=1,
                                        max_epochs=2)
    with pytest.raises(UserError, match=rf"names {name}, which this run does not log .*; it logs epoch, step, "
                                        r"train/loss_epoch, train/loss_step, val/aaa, .*val/rmse, val/smape: name"):
        callback.format_checkpoint_name({"epoch": 0, "step": 3})


def test_a_template_naming_a_validation_metric_is_refused_when_validation_is_off(compose_cfg):
    """With validation off (trainer.limit_val_batches=0, optimized_metric=train/loss_epoch) a val/ metric is never
    logged: no checkpoint of the run has it, though the module has it among its metrics."""
    from types import SimpleNamespace

    from hydra.utils import instantiate

    from trainlab.run.pipeline import build_model_and_data, prepare

    cfg = prepare(compose_cfg([*TINY, "callbacks.model_checkpoint.filename='{epoch}-{val/rmse:.2f}'"]))
    module, _ = build_model_and_data(cfg)
    callback = instantiate(cfg.callbacks.model_checkpoint)
    trainer = SimpleNamespace(lightning_module=module, limit_val_batches=0, check_val_every_n_epoch=1, max_epochs=2)
    callback._trainer = trainer
    with pytest.raises(UserError, match=r"names val/rmse, which this run does not log"):
        callback.format_checkpoint_name({"epoch": 0, "step": 3, "train/loss_epoch": torch.tensor(1.0)})
    trainer.limit_val_batches = 1.0  # validating: logged later, taken
    assert callback.format_checkpoint_name({"epoch": 0, "step": 3}).endswith("0-0.00.ckpt")


def test_evaluate_adds_the_plus_hint_only_to_refusals_of_a_setting(compose_cfg, tmp_path):
    """A file with a spreadsheet's 'Total' row is refused for that row, with the time column named as where it lies:
    evaluate.py appended '(... +data.source.time_column=<value>)', which no value of that setting mends; a refusal
    that asks for a setting keeps it."""
    from trainlab.config.checks import run_data_hint
    from trainlab.run.restore import restore

    dates = pd.date_range("2023-01-01", periods=60, freq="D").strftime("%Y-%m-%d").tolist()
    pd.DataFrame({"date": [*dates, "Total"], "y": [*range(60), 1770]}).to_csv(tmp_path / "total.csv", index=False)
    run_cfg = compose_cfg([*TINY_ANY_DATA, "data=file", "data.source.target_columns=[y]", "data.source.time_column=date",
                           f"data.source.path={tmp_path / 'total.csv'}"])
    with pytest.raises(UserError, match=r"^data.source.time_column 'date' in '.*total.csv': row 60 \('Total'\) is a "
                                        r"summary .*[^)]\)$") as refused:
        restore(run_cfg, {"state_dict": {}}, "x.ckpt")
    assert "sets the run's data with a '+'" not in str(refused.value)
    assert run_data_hint("data.source.time_column 'year' in 'nile.csv' holds years ...; drop data.source.time_zone") \
        .endswith("(evaluate.py sets the run's data with a '+': +data.source.time_zone=<value>)")
    assert run_data_hint("data.source.series_column 'store' is also a target or the time column").endswith(
        "+data.source.series_column=<value>)")


@pytest.mark.parametrize("make, expected", [
    # torch's words alone before: 'optimizer: Invalid learning rate: -1', naming no key and no value it takes
    ((torch.optim.Adam, {"lr": -1, "weight_decay": 0.0}), "optimizer.lr=-1 is refused by Adam (Invalid learning rate: "
                                                         "-1); give a value it takes (e.g. its default, optimizer.lr=0.001)"),
    ((torch.optim.Adam, {"lr": 1e-3, "betas": [1.5, 0.999]}), "optimizer.betas=[1.5, 0.999] is refused by Adam (Invalid "
     "beta parameter at index 0: 1.5); give a value it takes (e.g. its default, optimizer.betas=[0.9,0.999])"),
    ((torch.optim.SGD, {"lr": 0.1, "momentum": -0.5}), "optimizer.momentum=-0.5 is refused by SGD (Invalid momentum "
                                                       "value: -0.5); give a value it takes (e.g. its default, "
                                                       "optimizer.momentum=0)"),
])
def test_a_value_torchs_optimizer_refuses_is_named_by_its_key(make, expected):
    from functools import partial

    import lightning.pytorch as pl

    from trainlab.models.optim import configure_optimizers

    module = pl.LightningModule()
    module.layer = torch.nn.Linear(2, 1)
    with pytest.raises(UserError) as refused:
        configure_optimizers(module, partial(make[0], **make[1]), None, "val/loss")
    assert str(refused.value) == expected
