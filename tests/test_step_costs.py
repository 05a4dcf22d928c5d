"""What trainlab takes out of Lightning's fixed cost per step keeps Lightning's behaviour: the hook
dispatch (trainlab.run.profiling), the steps' stored signatures (trainlab.models.task) and the
TensorBoard logger's flushes (trainlab.loggers.tensorboard)."""

from __future__ import annotations


import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.trainer import call

from trainlab.run.profiling import NoProfiler, defines_hook, lean_call_callback_hooks, use_lean_dispatch


class Recorder(Callback):
    """Records the hooks it defines, with what each got, in a list shared by every callback of a run."""

    def __init__(self, name: str, seen: list):
        self.name, self.seen = name, seen

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen.append((self.name, "on_train_batch_end", type(pl_module).__name__, batch_idx, trainer.lightning_module._current_fx_name))

    def on_validation_end(self, trainer, pl_module):
        self.seen.append((self.name, "on_validation_end"))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.seen.append((self.name, "on_save_checkpoint", sorted(checkpoint)[:2]))


class Monitor(EarlyStopping):
    """A monitoring callback (dispatched apart by Lightning's ``monitoring_callbacks``) that records."""

    def __init__(self, seen: list):
        super().__init__(monitor="valid_loss", patience=100, check_finite=False)
        self.seen = seen

    def on_validation_end(self, trainer, pl_module):
        self.seen.append(("monitor", "on_validation_end"))
        super().on_validation_end(trainer, pl_module)


class Logged(BoringModel):
    def validation_step(self, batch, batch_idx):
        out = super().validation_step(batch, batch_idx)
        self.log("valid_loss", out["x"])
        return out


def _fit(tmp_path, profiler) -> list:
    seen: list = []
    by_instance = Callback()  # a hook set on the instance, not its class
    by_instance.on_train_batch_start = lambda trainer, module, batch, batch_idx: seen.append(("instance", batch_idx))
    callbacks = [Recorder("a", seen), Callback(), by_instance, Monitor(seen), Recorder("b", seen),
                 ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="valid_loss")]
    trainer = pl.Trainer(default_root_dir=tmp_path, max_epochs=2, limit_train_batches=3, limit_val_batches=2,
                         callbacks=callbacks, profiler=profiler, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(Logged())
    return seen


def test_the_lean_dispatch_calls_what_lightnings_calls_in_the_same_order(tmp_path):
    assert use_lean_dispatch() and call._call_callback_hooks is lean_call_callback_hooks
    lightnings = _fit(tmp_path / "lightning", profiler=None)  # PassThroughProfiler: Lightning's own dispatch
    lean = _fit(tmp_path / "lean", profiler=NoProfiler())
    assert lean == lightnings
    assert ("instance", 0) in lean and ("monitor", "on_validation_end") in lean
    assert sum(1 for s in lean if s[1:2] == ("on_train_batch_end",)) == 2 * 2 * 3  # two recorders, 2 epochs of 3


def test_the_lean_dispatch_skips_only_the_base_classs_empty_hooks():
    plain, recorder = Callback(), Recorder("a", [])
    assert not defines_hook(plain, "on_train_batch_end") and defines_hook(recorder, "on_train_batch_end")
    assert not defines_hook(recorder, "on_train_batch_start")
    plain.on_train_batch_end = lambda *args: None
    assert defines_hook(plain, "on_train_batch_end")
    assert defines_hook(ModelCheckpoint(), "on_train_batch_end")  # Lightning's own callbacks count as any


def test_a_hook_given_to_a_callbacks_class_later_is_dispatched_to(tmp_path):
    """A class patched after the dispatch has seen it (mock.patch.object in a user's test, a hook added
    between two runs of one process) gets its hook called, as Lightning calls it."""
    from unittest import mock

    class Later(Callback):
        pass

    use_lean_dispatch()
    trainer = pl.Trainer(default_root_dir=tmp_path, callbacks=[Later()], logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.profiler = NoProfiler()
    call._call_callback_hooks(trainer, "on_train_start")  # seen once without the hook
    with mock.patch.object(Later, "on_train_start") as hook:
        call._call_callback_hooks(trainer, "on_train_start")
    assert hook.call_count == 1


def test_a_trainer_with_another_profiler_gets_lightnings_dispatch(monkeypatch):
    use_lean_dispatch()
    called = []
    monkeypatch.setattr("trainlab.run.profiling._LIGHTNINGS", lambda *args, **kwargs: called.append(args[1]))
    trainer = pl.Trainer(profiler="simple", logger=False, enable_progress_bar=False, enable_model_summary=False)
    lean_call_callback_hooks(trainer, "on_train_start")
    assert called == ["on_train_start"]


def test_the_steps_signatures_are_stored_and_true():
    from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

    from trainlab.models.task import TaskModule

    for step in (TaskModule.training_step, TaskModule.validation_step, TaskModule.test_step):
        assert "__signature__" in vars(step)
        assert tuple(vars(step)["__signature__"].parameters) == step.__code__.co_varnames[:3] == ("self", "batch", "batch_idx")
        assert is_param_in_hook_signature(step, "batch_idx", min_args=2)


def test_tensorboard_flushes_at_most_every_flush_secs_and_fully_at_the_end(tmp_path, monkeypatch):
    from trainlab.loggers import tensorboard

    clock = [100.0]
    monkeypatch.setattr(tensorboard.time, "monotonic", lambda: clock[0])
    logger = tensorboard.TensorBoardLogger(str(tmp_path), name="", version="v", flush_secs=5)
    flushes = []
    monkeypatch.setattr(type(logger.experiment), "flush", lambda self: flushes.append(clock[0]))
    logger.log_hyperparams({"lr": 0.1})
    logger.save()  # the first save writes hparams.yaml and flushes
    assert (tmp_path / "v" / "hparams.yaml").is_file() and flushes == [100.0]
    for step in range(10):  # Lightning saves after every logging step
        clock[0] += 0.25
        logger.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        logger.save()
    assert flushes == [100.0]  # 2.5 s later: nothing flushed from the training thread
    clock[0] += 3.0
    logger.save()
    assert flushes == [100.0, 105.5]
    logger.finalize("success")
    assert flushes[-1] == 105.5 and len(flushes) >= 3  # finalize flushes (and closes) whatever the clock says


@pytest.mark.parametrize("status", ["success", "failed"])
def test_tensorboard_events_are_all_on_disk_after_finalize(tmp_path, status):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from trainlab.loggers.tensorboard import TensorBoardLogger

    logger = TensorBoardLogger(str(tmp_path), name="", version="v", flush_secs=3600)
    for step in range(25):
        logger.log_metrics({"loss": float(step)}, step=step)
        logger.save()
    logger.finalize(status)
    events = EventAccumulator(str(tmp_path / "v")).Reload()
    assert [e.step for e in events.Scalars("loss")] == list(range(25))


@pytest.mark.parametrize("flush_secs", [0, -1])
def test_a_flush_interval_not_above_0_is_refused_in_one_line(tmp_path, flush_secs):
    """0 or less left TensorBoard's writer thread polling its queue without a pause: a whole core for the run."""
    from omegaconf import OmegaConf

    from trainlab.config.errors import UserError
    from trainlab.loggers import build_loggers

    nodes = OmegaConf.create({"tensorboard": {"_target_": "trainlab.loggers.tensorboard.TensorBoardLogger",
                                              "save_dir": str(tmp_path), "name": "", "flush_secs": flush_secs}})
    with pytest.raises(UserError, match=rf"^logger.tensorboard.flush_secs={flush_secs} must be above 0 .*"
                                        r"e.g. logger.tensorboard.flush_secs=10$"):
        build_loggers(nodes, "run")


@pytest.mark.parametrize("rank", ["0", "1"])
def test_a_changed_lightning_dispatch_is_kept_and_said_once_on_rank_zero(monkeypatch, caplog, rank):
    """Another Lightning whose _call_callback_hooks takes other arguments keeps its own dispatch: that fell back
    without a word, every hook of every run paying Lightning's cost. Now one line, once per process, on rank 0."""
    import logging

    import lightning

    from trainlab.run import profiling

    def changed(trainer, hook_name, *args, monitoring=None, **kwargs):  # a renamed keyword
        pass

    monkeypatch.setattr(profiling, "_LIGHTNINGS", changed)
    monkeypatch.setattr(profiling, "_FALLBACK_SAID", False)
    monkeypatch.setattr(call, "_call_callback_hooks", changed)
    monkeypatch.setenv("LOCAL_RANK", rank)
    with caplog.at_level(logging.INFO, logger="trainlab.run.profiling"):
        assert not use_lean_dispatch() and not use_lean_dispatch()
    assert call._call_callback_hooks is changed
    said = [r.getMessage() for r in caplog.records if r.name == "trainlab.run.profiling"]
    assert said == ([f"Lightning {lightning.__version__}'s hook dispatch (lightning.pytorch.trainer.call."
                     "_call_callback_hooks) is not the one trainlab's lean dispatch stands in for: hooks go through "
                     "Lightning's own dispatch, so runs are a little slower (trainlab.run.profiling)"]
                    if rank == "0" else [])
