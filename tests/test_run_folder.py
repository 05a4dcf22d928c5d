"""The run folder's owner (trainlab.run.folder): its layout, the best checkpoint recorded relative to
the folder, a copied folder evaluated from its own files, round-1 run configs still readable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import TINY
from tests.families import GRAPH
from trainlab.config.errors import UserError
from trainlab.run.checkpoint_path import resolve_checkpoint
from trainlab.run.folder import BEST_POINTER, CHECKPOINTS, RunFolder
from trainlab.run.root import repo_root


def test_checkpoint_dir_in_config_is_the_folders_layout(compose_cfg):
    cfg = compose_cfg([])
    assert Path(cfg.paths.checkpoint_dir) == Path(cfg.paths.output_dir) / CHECKPOINTS
    assert cfg.callbacks.model_checkpoint.dirpath == cfg.paths.checkpoint_dir == cfg.callbacks.on_exception.dirpath


def test_repository_root_is_found_one_way(monkeypatch, tmp_path):
    assert (repo_root() / "conf" / "train.yaml").is_file() and (repo_root() / "train.py").is_file()
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "train.yaml").write_text("{}\n")
    (tmp_path / "train.py").write_text("")
    monkeypatch.setenv("TRAINLAB_ROOT", str(tmp_path))
    assert repo_root() == tmp_path
    from hydra_plugins.trainlab_searchpath import experiments_dir

    assert experiments_dir() == tmp_path / "experiments"


def test_best_is_recorded_relative_and_a_moved_folder_evaluates_its_own_files(compose_cfg, run_train, tmp_path):
    import evaluate as evaluate_script

    cfg = compose_cfg([*TINY, "logger=none"])
    trained = run_train(cfg)
    original = RunFolder(cfg.paths.output_dir)
    pointer = (original.checkpoints / BEST_POINTER).read_text().strip()
    assert not Path(pointer).is_absolute() and (original.checkpoints / pointer).is_file()

    moved = tmp_path / "moved_run"
    shutil.copytree(original.path, moved)
    shutil.rmtree(original.path)  # the original's files are gone: only the copy's can be used
    assert RunFolder(moved).best() == moved / CHECKPOINTS / pointer
    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={moved}", "hardware.num_threads=1"], config_name="eval"))
    assert Path(report["checkpoint"]) == moved / CHECKPOINTS / pointer
    assert report["metrics"]["test/rmse"] == pytest.approx(trained["test/rmse"], rel=1e-5)


def test_an_absolute_best_pointer_of_round_one_is_looked_up_in_the_folder_itself(tmp_path):
    elsewhere = tmp_path / "original" / CHECKPOINTS
    here = tmp_path / "copy" / CHECKPOINTS
    for folder in (elsewhere, here):
        folder.mkdir(parents=True)
        for name in ("epoch01-loss0.1000.ckpt", "last.ckpt"):
            (folder / name).write_bytes(b"x")
    (here / BEST_POINTER).write_text(str(elsewhere / "epoch01-loss0.1000.ckpt") + "\n")
    assert resolve_checkpoint(str(here.parent)) == here / "epoch01-loss0.1000.ckpt"
    (here / "epoch01-loss0.1000.ckpt").unlink()  # named but missing here: last.ckpt, never the original's
    assert resolve_checkpoint(str(here.parent)) == here / "last.ckpt"


def test_round_one_module_paths_are_upgraded(tmp_path):
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save({"model": {"_target_": "trainlab.models.regression.RegressionModule",
                              "net": {"_target_": "trainlab.models.nets.lstm.LSTMNet"}},
                    "data": {"_target_": "trainlab.data.timeseries.TimeSeriesDataModule",
                             "source": {"_target_": "trainlab.data.sources.SyntheticSeries"}},
                    "callbacks": {"x": {"_target_": "trainlab.callbacks.EpochSeed"},
                                  "y": {"_target_": "trainlab.callbacks.records.RunRecords"}}},
                   tmp_path / ".hydra" / "config.yaml")
    cfg = RunFolder(tmp_path).config()
    assert cfg.model._target_ == "trainlab.models.timeseries.RegressionModule"
    assert cfg.model.net._target_ == "trainlab.models.nets.lstm.LSTMNet"
    assert cfg.data._target_ == "trainlab.data.timeseries.module.TimeSeriesDataModule"
    assert cfg.data.source._target_ == "trainlab.data.timeseries.synthetic.SyntheticSeries"
    assert cfg.callbacks.x._target_ == "trainlab.callbacks.checkpoints.EpochSeed"  # moved twice
    assert cfg.callbacks.y._target_ == "trainlab.callbacks.records.RunRecords"  # already new: unchanged
    from hydra.utils import get_class

    for node in (cfg.model, cfg.model.net, cfg.data, cfg.data.source, cfg.callbacks.x):
        get_class(node._target_)


def test_a_class_moved_out_of_its_module_is_upgraded(compose_cfg):
    """A run saved while SyntheticGaia lived in trainlab.data.graph.catalogue (or, in round 1, in
    trainlab.data.catalogue) still loads: its config names the class's new home, reads as a fresh
    compose of the same options (so a resume sees no other data) and builds that class."""
    from hydra.utils import instantiate

    from trainlab.data.graph.synthetic import SyntheticGaia
    from trainlab.run.resume_checks import _config_differences

    new = "trainlab.data.graph.synthetic.SyntheticGaia"
    for old in ("trainlab.data.graph.catalogue.SyntheticGaia", "trainlab.data.catalogue.SyntheticGaia"):
        cfg = compose_cfg(GRAPH.tiny())
        saved = Path(cfg.paths.output_dir) / ".hydra" / "config.yaml"
        as_saved = OmegaConf.load(saved)
        assert as_saved.data.source._target_ == new  # conf/data/gaia.yaml names the new home
        as_saved.data.source._target_ = old
        OmegaConf.save(as_saved, saved)
        loaded = RunFolder(cfg.paths.output_dir).config()
        assert loaded.data.source._target_ == new
        assert _config_differences(loaded, cfg, ("model", "data")) == []
        assert type(instantiate(loaded.data.source)) is SyntheticGaia


def test_image_folder_runs_saved_before_it_left_the_sources_module_build_it():
    """ImageFolder lived in trainlab.data.image.sources (and in round 1 in trainlab.data.sky_sources): the
    data.source._target_ saved in such a run's config reaches trainlab.data.image.folder; the Hubble source
    that stayed keeps its name."""
    from hydra.utils import get_class

    from trainlab.data.image.folder import ImageFolder
    from trainlab.data.image.sources import HubbleTiles
    from trainlab.run.folder import _upgraded

    for old in ("trainlab.data.image.sources.ImageFolder", "trainlab.data.sky_sources.ImageFolder"):
        assert get_class(_upgraded(old)) is ImageFolder
    for old in ("trainlab.data.image.sources.HubbleTiles", "trainlab.data.sky_sources.HubbleTiles"):
        assert get_class(_upgraded(old)) is HubbleTiles


def test_a_folder_without_its_config_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"has no \.hydra/config\.yaml"):
        RunFolder(tmp_path).config()


def test_an_interrupted_run_evaluates_its_best_epoch_and_one_stopped_in_its_first_is_refused(compose_cfg, run_train,
                                                                                             tmp_path, caplog):
    """No best.txt (training never ended): the best the checkpoint callback held in last.ckpt, not last.ckpt;
    only on_exception.ckpt (stopped during epoch 0): refused for evaluation, taken for a resume, and
    evaluated with a warning when named."""
    import evaluate as evaluate_script

    cfg = compose_cfg([*TINY, "logger=none"])
    run_train(cfg)
    folder = RunFolder(cfg.paths.output_dir)
    best = folder.best()
    assert best is not None and best.name.startswith("epoch")
    (folder.checkpoints / BEST_POINTER).unlink()  # as a run stopped before fit returned leaves it
    assert folder.checkpoint() == best and folder.checkpoint(prefer="last").name == "last.ckpt"

    for ckpt in folder.checkpoints.glob("*.ckpt"):  # stopped during its first epoch: on_exception.ckpt alone
        ckpt.rename(folder.checkpoints / "on_exception.ckpt") if ckpt.name == "last.ckpt" else ckpt.unlink()
    with pytest.raises(UserError, match=r"stopped before its first checkpoint .* holds only on_exception.ckpt, its "
                                        r"weights when it stopped, mid-epoch; resume training with python train.py "
                                        r"<its overrides> ckpt_path=.*, or evaluate that snapshot by name"):
        resolve_checkpoint(str(folder.path))
    snapshot = folder.checkpoints / "on_exception.ckpt"
    assert resolve_checkpoint(str(folder.path), prefer="last") == snapshot
    eval_cfg = compose_cfg([f"ckpt_path={snapshot}", "hardware.num_threads=1"], config_name="eval")
    with caplog.at_level("WARNING", logger="trainlab.run.checkpoint_path"):
        report = evaluate_script.evaluate(eval_cfg)
    assert report["checkpoint_epoch"] == 1  # the report says which epoch a file named without one holds
    assert "on_exception.ckpt`, saved after epoch 1" in (Path(eval_cfg.paths.output_dir) / "report.md").read_text()
    assert any("holds the weights of the moment training stopped (epoch 1, step" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kept_by,line", [
    ("val/loss", "(best val/loss 0.25: checkpoints/epoch02.ckpt)"),
    # it said "best val/loss 0.25" beside a checkpoint kept by val/rmse, whatever epoch that was
    ("val/rmse", "(val/loss 0.25 at the last epoch; checkpoints/epoch02.ckpt is the best by val/rmse)"),
    (None, "(val/loss 0.25 at the last epoch; checkpoints/epoch02.ckpt is the last epoch's (no checkpoint callback "
           "watches a metric))"),
])
def test_the_run_end_line_says_whose_best_the_checkpoint_is(tmp_path, caplog, monkeypatch, kept_by, line):
    from hydra.core.hydra_config import HydraConfig

    from trainlab.run.console import announce_run_done

    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: False))  # a plain run's, not a sweep's

    folder = RunFolder(tmp_path)
    folder.checkpoints.mkdir()
    (folder.checkpoints / "epoch02.ckpt").write_bytes(b"")
    folder.record_best(folder.checkpoints / "epoch02.ckpt")
    with caplog.at_level("INFO", logger="trainlab.run.console"):
        announce_run_done(str(tmp_path), "val/loss", 0.25, kept_by)
    assert caplog.messages[-1].startswith(f"run done: {tmp_path} {line}; its report and plots: ")


@pytest.mark.parametrize("monitor, score", [("val/rmse", 0.5), (None, None)])
def test_the_summary_says_which_metric_its_checkpoint_is_the_best_by(tmp_path, monitor, score):
    """training_summary.json's best_value and best_epoch are optimized_metric's, its test metrics the kept
    checkpoint's: with callbacks.model_checkpoint.monitor set apart, nothing said they were of different epochs."""
    from types import SimpleNamespace

    import torch

    from trainlab.callbacks.records import kept_checkpoint

    callback = SimpleNamespace(best_model_path=str(tmp_path / "checkpoints" / "epoch02-rmse0.5000.ckpt"), monitor=monitor,
                               best_model_score=None if score is None else torch.tensor(score))
    kept = kept_checkpoint(SimpleNamespace(checkpoint_callback=callback))
    assert kept == {"file": "epoch02-rmse0.5000.ckpt", "kept_by": monitor, "score": score}
    assert kept_checkpoint(SimpleNamespace(checkpoint_callback=None)) is None
    folder = RunFolder(tmp_path)
    assert folder.checkpoint_kept_by() == (False, None)  # no summary: not known
    (tmp_path / "training_summary.json").write_text(json.dumps({"monitor": "val/loss", "checkpoint": kept}))
    assert folder.checkpoint_kept_by() == (True, monitor)


@pytest.mark.parametrize("metric, name", [("val/loss", "epoch03-loss0.1250.ckpt"), ("val/rmse", "epoch03-rmse0.5000.ckpt"),
                                          ("val/r2", "epoch03-r2_0.7500.ckpt")])
def test_a_checkpoint_is_named_after_the_metric_it_is_ranked_on(compose_cfg, metric, name):
    """The template named val/loss whatever the run kept its top 3 on: optimized_metric=val/rmse wrote
    epoch03-loss0.1250.ckpt, ranked on an rmse its name did not show; a name ending in a digit is kept apart from
    the value (r2_0.7500: the first try wrote r20.7500)."""
    import torch
    from hydra.utils import instantiate

    callback = instantiate(compose_cfg([f"optimized_metric={metric}"]).callbacks.model_checkpoint)
    metrics = {"epoch": 3, "val/loss": torch.tensor(0.125), "val/rmse": torch.tensor(0.5), "val/r2": torch.tensor(0.75)}
    assert Path(callback.format_checkpoint_name(metrics)).name == name


@pytest.mark.parametrize("overrides, added", [(["callbacks=none"], True), (["callbacks=none", "logger=csv"], True),
                                              ([], False)])
def test_lightnings_own_checkpoint_is_kept_in_the_run_folder(compose_cfg, overrides, added):
    """With no checkpoint callback in the group, Lightning's own went into its first logger's folder
    (tensorboard/<run name>/checkpoints/): the run's end said 'no checkpoint kept' and evaluate.py found none."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from trainlab.callbacks.checkpoints import ModelCheckpoint as Ours
    from trainlab.run.pipeline import assemble

    cfg = compose_cfg(["data.source.num_rows=600", *overrides])
    (callback,) = [c for c in assemble(cfg).trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert Path(callback.dirpath) == Path(cfg.paths.output_dir) / CHECKPOINTS
    assert isinstance(callback, Ours) is not added  # the group's own is left as it is
    # no '=' in its name: Lightning's epoch=3-step=12.ckpt, pasted as ckpt_path=<run>/checkpoints/<file>, was
    # refused by Hydra's grammar ('mismatched input '='') until quoted
    assert "=" not in Path(callback.format_checkpoint_name({"epoch": 3, "step": 12, "val/loss": 0.5})).name
