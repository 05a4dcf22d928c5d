"""No host-device synchronisation per training step: tensor value reads counted on CPU, per family."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests.conftest import family_overrides
from trainlab.callbacks.training import FiniteLoss
from trainlab.config.errors import UserError
from trainlab.metrics.aggregation import WeightedMean
from trainlab.testing.host_reads import HostReadCounter, intercept_reads

QUIET = ["trainer.enable_model_summary=false", "hardware.num_threads=1", "test=false", "trainer.max_epochs=2",
         "data.val_batch_multiplier=1",  # validation batches as small as training ones: several per epoch
         "trainer.log_every_n_steps=4"]
# per family: enough batches per epoch that most are neither logging steps nor the epoch's last
FAMILY_RUNS = {
    "lstm": ["model.net.hidden_size=8", "model.net.num_layers=1", "data.window=16"],
    "gnn": ["model.net.hidden_channels=8", "hardware.max_nodes_per_graph=150", "data.batch_size=64",
            "data.source.num_stars=400"],
    "unet": ["model.net.base_channels=4", "model.net.depth=2", "data.batch_size=2"],
}


# every family plainly; the LSTM also with the progress bar and under bf16-mixed (the same code paths
# serve every family there: the bar is one callback, autocast one precision plugin)
VARIANTS = [(model, []) for model in sorted(FAMILY_RUNS)] + [
    ("lstm", ["trainer.enable_progress_bar=true"]), ("lstm", ["hardware.precision=bf16-mixed"])]


@pytest.mark.parametrize("model,extra", VARIANTS, ids=lambda v: v if isinstance(v, str) else "-".join(v) or "plain")
def test_steady_state_steps_read_no_tensor_value(compose_cfg, run_train, model, extra):
    cfg = compose_cfg([*family_overrides(model), *QUIET, "trainer.enable_progress_bar=false", *FAMILY_RUNS[model],
                       *extra])
    counter = HostReadCounter()
    run_train(cfg, extra_callbacks=[counter])
    assert len(counter.per_batch) >= 12, "too few batches to tell steady state from logging steps"
    assert len(counter.steady_batches()) >= 8
    assert counter.steady_state() == {}
    # the logging steps do read (the finite-loss flag, the logged loss): the counter sees reads
    logged = [k for k, v in counter.per_batch.items() if any("_check" in r for r in v)]
    assert logged, "the finite-loss flag was never read: the counter is not counting"
    # validation too: the metric objects' updates read nothing (torchmetrics' input checks and NaN
    # checks did, several times per batch); only the epoch's end computes and reads
    assert counter.steady_validation_batches(), "no validation batch before an epoch's last one: use more data"
    assert counter.steady_validation() == {}


def test_the_counter_sees_every_way_a_value_reaches_python():
    seen = []
    t, mask = torch.tensor([1.5, -2.0]), torch.tensor([True, False])
    with intercept_reads(lambda method, tensor: seen.append(method)):
        t.sum().item(), bool(t.sum()), float(t[0]), int(t[0]), t.tolist(), t.cpu(), t.numpy()
        t[mask], t.nonzero(), torch.unique(t)
    assert seen.count("aten.index with a boolean mask") == 1
    assert {"item", "__bool__", "__float__", "__int__", "tolist", "cpu", "numpy", "aten.nonzero",
            "aten._unique2"} <= set(seen)
    assert torch.Tensor.item.__name__ == "item"  # restored after the block


def _finite_loss_run(losses: list[float], every: int = 4) -> FiniteLoss:
    callback = FiniteLoss(check_every_n_steps=every)
    trainer = SimpleNamespace(current_epoch=3, global_step=0, log_every_n_steps=every, world_size=1)
    for i, value in enumerate(losses):
        trainer.global_step = 100 + i + 1  # Lightning has counted the step by on_train_batch_end
        callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(value)}, None, i)
    callback.on_train_epoch_end(trainer, None)
    return callback


def test_finite_loss_names_the_first_bad_step_after_a_deferred_read():
    with pytest.raises(UserError, match=r"became nan at epoch 3, step 103 \(batch 2 of the epoch\)"):
        _finite_loss_run([0.5, 0.4, float("nan"), float("inf"), float("nan")], every=4)
    with pytest.raises(UserError, match=r"became inf at epoch 3, step 106 \(batch 5"):
        _finite_loss_run([0.5, 0.4, 0.3, 0.3, 0.2, float("inf")], every=4)  # read at the epoch's end
    _finite_loss_run([0.5, 0.4, 0.3, 0.3, 0.2], every=2)  # all finite: no error


def test_finite_loss_keeps_the_step_of_a_loss_stacked_before_the_read(monkeypatch):
    """Kept losses are stacked every STACK_EVERY steps between reads; a bad one in an earlier stack,
    or a bad term of a non-scalar loss, still names its own step."""
    monkeypatch.setattr(FiniteLoss, "STACK_EVERY", 2)
    with pytest.raises(UserError, match=r"became nan at epoch 3, step 102 \(batch 1"):
        _finite_loss_run([0.5, float("nan"), 0.3, 0.3, 0.2, 0.1, 0.4], every=7)
    callback = FiniteLoss(check_every_n_steps=3)
    trainer = SimpleNamespace(current_epoch=0, global_step=7, world_size=1)
    losses = [torch.tensor([0.1, 0.2]), torch.tensor([0.3, float("inf")]), torch.tensor([0.5, 0.6])]
    with pytest.raises(UserError, match=r"became inf at epoch 0, step 7 \(batch 1"):
        for i, loss in enumerate(losses):
            callback.on_train_batch_end(trainer, None, loss, None, i)


def test_finite_loss_reads_only_at_its_interval():
    reads = []
    with intercept_reads(lambda method, tensor: reads.append(method)):
        callback = FiniteLoss(check_every_n_steps=5)
        trainer = SimpleNamespace(current_epoch=0, global_step=0, log_every_n_steps=5, world_size=1)
        for i in range(9):
            callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(1.0)}, None, i)
    assert len(reads) == 1  # after the 5th step, none for the 4 since


def test_weighted_mean_matches_the_weighted_average():
    mean = WeightedMean()
    for value, weight in [(1.0, 2), (4.0, 1), (2.5, torch.tensor(3.0))]:
        mean.update(torch.tensor(value), weight)
    assert float(mean.compute()) == pytest.approx((2 * 1.0 + 4.0 + 3 * 2.5) / 6)


@pytest.mark.parametrize("overrides, expected", [([], "NoProfiler"), (["trainer.profiler=simple"], "SimpleProfiler"),
                                                 (["debug=profiler"], "SimpleProfiler")])
def test_the_per_hook_profiler_is_free_unless_one_is_asked_for(compose_cfg, overrides, expected):
    """Lightning enters ``trainer.profiler.profile(name)`` around every hook of every callback (~200
    times a step): with none asked for, the run gets NoProfiler; a profiler the user names is kept."""
    from trainlab.run.pipeline import assemble
    from trainlab.run.profiling import NoProfiler

    trainer = assemble(compose_cfg(["data.source.num_rows=600", *overrides])).trainer
    assert type(trainer.profiler).__name__ == expected
    if expected == "NoProfiler":
        with trainer.profiler.profile("[Callback]x.on_train_batch_end") as entered:
            assert entered is None
        assert trainer.profiler.profile("a") is trainer.profiler.profile("b")  # one shared context, nothing built
        assert isinstance(trainer.profiler, NoProfiler) and trainer.profiler.summary() == ""


def test_element_mean_is_the_mean_of_every_element_and_reads_nothing():
    from trainlab.metrics.aggregation import ElementMean

    mean, seen = ElementMean(), []
    with intercept_reads(lambda method, tensor: seen.append(method)):
        mean.update(torch.tensor([1.0, 2.0, 3.0]))
        mean.update(torch.tensor([[10.0], [20.0]]))
    assert seen == []
    assert mean.compute().item() == pytest.approx(36.0 / 5)
    mean.update(torch.tensor([float("nan")]))  # a NaN forecast is not dropped from the score
    assert torch.isnan(mean.compute())
