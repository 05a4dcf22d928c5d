"""A user's own net (README: Your own configs and code) checked on one batch before training
(trainlab.run.net_checks): for each family, a net that takes other inputs, returns another shape, a
tuple or a dict, float64, integers or NaN, has no parameters or keeps its layers in a plain list is one
line naming the class and the fix; a net with lazy layers is sized before the optimizer sees it. The
checks call ``check_net`` on the task module and a data module of one tiny batch: no training."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.models.graph import NodeClassificationModule
from trainlab.models.image import SegmentationModule
from trainlab.models.timeseries import RegressionModule
from trainlab.run.net_checks import check_net


class Net(nn.Module):
    """A user's net of any family: ``make(x)`` maps its input to the output; ``layer`` is the last layer
    (sized as the test says)."""

    def __init__(self, layer: nn.Module, make=lambda net, x: net.layer(x)):
        super().__init__()
        self.layer, self.make = layer, make

    def forward(self, x, edge_index=None):
        return self.make(self, x)


class Loader(SimpleNamespace):
    """A data module whose loaders give one batch (validation first, as the check takes it)."""

    def val_dataloader(self):
        torch.randperm(4)  # as a shuffling sampler draws
        return [self.batch]

    def train_dataloader(self):
        raise AssertionError("the check takes a validation batch when there is one")


def series(net: nn.Module, steps: int = 1) -> tuple[RegressionModule, Loader]:
    """(the regression module of ``net``, data of 4 windows of 16 steps x 3 inputs, 2 targets)."""
    module = RegressionModule(net, None, target_mean=[0.0, 0.0], target_std=[1.0, 1.0], steps=steps,
                              window_scaling="none")  # these inputs hold no past targets to scale
    return module, Loader(batch=(torch.randn(4, 16, 3), torch.randn(4, 2)))


def graph(net: nn.Module) -> tuple[NodeClassificationModule, Loader]:
    """(the node classifier of ``net``, a graph of 10 nodes with 3 features, 3 classes)."""
    module = NodeClassificationModule(net, None, class_names=["a", "b", "c"])
    return module, Loader(batch=SimpleNamespace(x=torch.randn(10, 3), edge_index=torch.tensor([[0, 1], [1, 0]])))


def image(net: nn.Module) -> tuple[SegmentationModule, Loader]:
    """(the segmentation module of ``net``, 4 images of 1 x 8 x 8)."""
    return SegmentationModule(net, None), Loader(batch=(torch.randn(4, 1, 8, 8), torch.zeros(4, 8, 8)))


def last_step(net, x):
    return net.layer(x[:, -1])


CONV = nn.Conv2d(1, 1, 3, padding=1)
PREFIX = f"model.net._target_={__name__}.Net"  # tests.test_own_nets or test_own_nets, as pytest imports it


@pytest.mark.parametrize("build, message", [
    (lambda: series(Net(nn.Linear(3, 3), last_step)),
     "returned shape (2, 3), where (batch, data.steps x targets) = (2, 1 x 2) is needed; the data gives 2 target(s) "
     "and data.steps=1: build the last layer with the output_size the pipeline passes"),
    (lambda: series(Net(nn.Linear(3, 2), last_step), steps=3), "returned shape (2, 2), where (batch, data.steps x "
                                                               "targets) = (2, 3 x 2) is needed"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: (n.layer(x[:, -1]), x))),
     "returned a tuple, where one tensor (batch, data.steps x targets) = (2, 1 x 2) is needed; return that tensor "
     "alone (the first of the tuple?)"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: {"y": n.layer(x[:, -1])})), "returned a dict, where one tensor"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: n.layer(x[:, -1]).double())),
     "returned torch.float64 (the whole step would run in float64), where float32 is needed"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: n.layer(x[:, -1]).round().long())),
     "returned torch.int64, where float32 is needed"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: n.layer(x[:, -1]) * torch.tensor(float("nan")))),
     "returned NaN on the first batch, before any training (no learning rate did this)"),
    (lambda: series(Net(nn.Linear(3, 2), lambda n, x: n.layer(x[:, -1]).detach())),
     "returned values that do not depend on its trainable parameters"),
    (lambda: series(Net(nn.Identity(), lambda n, x: x[:, -1, :2])), "has no trainable parameters, so nothing would train"),
    (lambda: graph(Net(nn.Linear(3, 3), lambda n, x: n.layer(x).mean(0, keepdim=True))),
     "returned shape (1, 3), where (nodes, classes) = (10, 3), a logit per class for every node of the batch is "
     "needed; the data has 3 classes ['a', 'b', 'c']"),
    (lambda: graph(Net(nn.Linear(3, 4))), "returned shape (10, 4), where (nodes, classes) = (10, 3)"),
    (lambda: image(Net(nn.Conv2d(1, 2, 3, padding=1))),
     "returned shape (2, 2, 8, 8), where (batch, 1, height, width) = (2, 1, 8, 8), one anomaly logit per pixel is "
     "needed"),
    (lambda: image(Net(nn.Conv2d(1, 1, 3))), "returned shape (2, 1, 6, 6), where (batch, 1, height, width) = (2, 1, "
                                             "8, 8)"),
    (lambda: image(Net(CONV, lambda n, x: n.layer(x)[:, 0])), "returned shape (2, 8, 8), where"),
])
def test_a_net_whose_output_does_not_fit_its_task_is_named(build, message):
    """Each of these failed deep in the loss or a metric (``The size of tensor a (128) must match ...``,
    ``'tuple' object has no attribute 'reshape'``, ``element 0 of tensors does not require grad``,
    ``optimizer got an empty parameter list``) or trained without a word (an image net's second channel,
    float64, a (1, classes) output broadcast against every node)."""
    module, data = build()
    with pytest.raises(UserError) as info:
        check_net(module, data)
    assert str(info.value).startswith(f"{PREFIX} {message}") or str(info.value).startswith(f"{PREFIX}: {message}"), \
        info.value


class PlainList(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 2)
        self.blocks = [nn.Linear(3, 3)]

    def forward(self, x):
        return self.head(self.blocks[0](x[:, -1]))


class TakesMask(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 2)

    def forward(self, x, mask):
        return self.head(x[:, -1])


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(7, 2)  # the user's own size, not the data's 3 inputs

    def forward(self, x):
        return self.head(x[:, -1])


def test_a_net_that_keeps_layers_unregistered_or_wants_other_inputs():
    with pytest.raises(UserError, match=re.escape(
            f"model.net._target_={__name__}.PlainList: PlainList keeps its layers in self.blocks, a plain "
            "list, where PyTorch does not see them: they would not be trained, moved to the device or saved in "
            "checkpoints; hold them in nn.ModuleList(...) instead")):
        check_net(*series(PlainList()))
    with pytest.raises(UserError, match=re.escape(
            f"model.net._target_={__name__}.TakesMask: its forward(x, mask) does not take what "
            "RegressionModule calls it with, net(x) with x (2, 16, 3) (missing a required argument: 'mask')")):
        check_net(*series(TakesMask()))


def test_an_error_inside_a_users_forward_names_its_file_and_line():
    """Chosen: one line with the user's file and line, not the traceback through Lightning and trainlab."""
    with pytest.raises(UserError) as info:
        check_net(*series(Broken()))
    line = Broken.forward.__code__.co_firstlineno + 1
    assert re.match(re.escape(f"model.net._target_={__name__}.Broken") + r" failed on the first batch, before training: "
                    r"RuntimeError: mat1 and mat2 shapes cannot be multiplied \(2x3 and 7x2\) \(at .*test_own_nets.py, "
                    rf"line {line}, in forward\); it was called as net\(x\) with x \(2, 16, 3\): the error is in that "
                    r"net$", str(info.value)), info.value


def test_lazy_layers_are_sized_before_the_optimizer_sees_them():
    """A lazy layer (nn.LazyLinear) failed the run records' parameter count (``Attempted to use an
    uninitialized parameter``) and reached the optimizer unsized; the check's call sizes it."""
    lazy = Net(nn.LazyLinear(2), last_step)
    module, data = series(lazy)
    torch.manual_seed(0)
    check_net(module, data)
    assert lazy.layer.weight.shape == (2, 3) and lazy.training


def test_a_fitting_net_of_each_family_passes_and_the_random_generators_are_kept():
    """The batch is drawn (a shuffling loader draws from the generators) and the net called with them kept,
    so a run trains as it did without the check."""
    module, data = series(Net(nn.Sequential(nn.Dropout(0.5), nn.Linear(3, 2)), last_step))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_net(module, data)
    assert torch.equal(torch.rand(3), expected)
    check_net(*graph(Net(nn.Linear(3, 3))))
    check_net(*image(Net(nn.Conv2d(1, 1, 3, padding=1))))


def test_a_checkpoint_of_lazy_layers_fits_and_a_graph_net_needs_no_out_channels_attribute():
    """evaluate.py / predict.py compare a run's checkpoint with the net they build, whose lazy layers are unsized
    (``Can't access the shape of an uninitialized parameter``); the graph module read ``net.out_channels``
    (``AttributeError`` for a net without it)."""
    from trainlab.run.resume_checks import tensor_differences

    trained = Net(nn.LazyLinear(2), last_step)
    check_net(*series(trained))
    assert tensor_differences(Net(nn.LazyLinear(2)).state_dict(), trained.state_dict()) == ([], [], [])
    assert tensor_differences(Net(nn.Linear(3, 3)).state_dict(), trained.state_dict())[2] == [
        "layer.weight (2, 3) in the checkpoint, (3, 3) here", "layer.bias (2,) in the checkpoint, (3,) here"]
    assert graph(Net(nn.Linear(3, 3)))[0].class_names == ["a", "b", "c"]


def test_the_check_before_training_and_every_forward_agree_on_a_series_net():
    """A series net returning (batch, steps, targets), which README and the check before training take, was
    refused by the task module's own check at the first training step (checked_output read only (batch,
    steps x targets)); a net of another shape is told in the same words by both."""
    fits = Net(nn.Linear(3, 6), lambda n, x: n.layer(x[:, -1]).reshape(len(x), 3, 2))
    module, data = series(fits, steps=3)
    check_net(module, data)
    assert module(data.batch[0]).shape == (4, 3, 2)
    module, data = series(Net(nn.Linear(3, 5), last_step), steps=3)
    with pytest.raises(UserError) as before:
        check_net(module, data)
    with pytest.raises(UserError) as forward:
        module(data.batch[0])
    assert str(before.value).startswith(f"{PREFIX} returned shape (2, 5), where (batch, data.steps x targets) = (2, 3")
    assert str(forward.value).startswith(f"{PREFIX} returned shape (4, 5), where (batch, data.steps x targets) = (4, 6)")
