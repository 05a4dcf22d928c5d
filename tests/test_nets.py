"""Layer 2: tiny-input shape tests for every net, and the properties each one promises."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.models.nets.cnn import TemporalCNN
from trainlab.models.nets.lstm import LSTMAttentionNet, LSTMNet
from trainlab.models.nets.tcn import TCNNet, tcn_receptive_field
from trainlab.models.nets.unet import UNet

B, W, F, O = 4, 12, 5, 2


def nets():
    yield "lstm", LSTMNet(F, hidden_size=8, num_layers=2, output_size=O)
    for kind in ("additive", "scaled_dot"):
        yield f"attention-{kind}", LSTMAttentionNet(F, hidden_size=8, num_layers=2, output_size=O, attention=kind)
    yield "cnn", TemporalCNN(F, hidden_channels=8, num_layers=3, out_channels=O)
    for norm in ("weight", "none"):
        yield f"tcn-{norm}", TCNNet(F, hidden_channels=8, num_blocks=3, output_size=O, norm=norm)


@pytest.mark.parametrize("name,net", list(nets()), ids=lambda v: v if isinstance(v, str) else "")
def test_shapes_and_gradients(name, net):
    x = torch.randn(B, W, F)
    y = net(x)
    assert y.shape == (B, O)
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("kind", ["additive", "scaled_dot"])
def test_attention_weights_are_a_distribution_over_steps(kind):
    net = LSTMAttentionNet(F, hidden_size=8, num_layers=1, output_size=1, attention=kind)
    y, weights = net(torch.randn(B, W, F), return_attention=True)
    assert weights.shape == (B, W)
    assert torch.allclose(weights.sum(-1), torch.ones(B), atol=1e-6)
    assert (weights >= 0).all()


@pytest.mark.parametrize("dilation_base,receptive", [(2, 1 + (3 - 1) * (1 + 2)), (3, 1 + (3 - 1) * (1 + 3)),
                                                     (1, 1 + (3 - 1) * 2)])  # 7, 9 and 5 steps
def test_cnn_is_causal_and_sees_its_receptive_field(dilation_base, receptive):
    torch.manual_seed(0)
    net = TemporalCNN(F, hidden_channels=8, num_layers=2, kernel_size=3, out_channels=1, dropout=0.0,
                      dilation_base=dilation_base).eval()
    assert net.receptive_field == receptive
    x = torch.randn(1, 20, F)
    base = net(x)
    far = x.clone()
    far[:, : 20 - receptive] += 5.0  # outside the receptive field of the last step
    assert torch.allclose(net(far), base, atol=1e-6)
    near = x.clone()
    near[:, -receptive] += 5.0  # inside it
    assert not torch.allclose(net(near), base, atol=1e-6)


class Steps(nn.Module):
    """A TCN's blocks without its head: every step's features, (batch, window, hidden)."""

    def __init__(self, tcn: TCNNet):
        super().__init__()
        self.tcn = tcn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        for block in self.tcn.blocks:
            h = block(h)
        return h.transpose(1, 2)


@pytest.mark.parametrize("norm", ["weight", "none"])
def test_tcn_outputs_never_depend_on_later_inputs(norm):
    torch.manual_seed(0)
    steps = Steps(TCNNet(F, hidden_channels=8, num_blocks=3, kernel_size=3, dropout=0.0, norm=norm).eval())
    x = torch.randn(2, 30, F)
    base = steps(x)
    for t in (0, 11, 29):  # perturb step t: outputs before t stay equal, the one at t moves
        later = x.clone()
        later[:, t] += 5.0
        out = steps(later)
        torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=0)
        assert not torch.allclose(out[:, t], base[:, t])


@pytest.mark.parametrize("kernel_size,num_blocks", [(2, 1), (3, 2), (3, 4), (5, 3)])
def test_tcn_receptive_field_is_the_formula_and_exact(kernel_size, num_blocks):
    torch.manual_seed(0)
    net = TCNNet(F, hidden_channels=8, num_blocks=num_blocks, kernel_size=kernel_size, dropout=0.0).eval()
    field = 1 + 2 * (kernel_size - 1) * (2**num_blocks - 1)  # two convs per block, dilation 2^i
    assert net.receptive_field == tcn_receptive_field(kernel_size, num_blocks) == field
    window = field + 6
    x = torch.randn(1, window, F)
    base = net(x)
    outside = x.clone()
    outside[:, : window - field] += 5.0  # every step the last output cannot see
    torch.testing.assert_close(net(outside), base, rtol=0, atol=0)
    edge = x.clone()
    edge[:, window - field] += 5.0  # the oldest step it sees
    assert not torch.allclose(net(edge), base)


@pytest.mark.parametrize("model", ["tcn", "cnn"])
def test_a_convolutional_default_sees_the_default_window(model, compose_cfg, caplog):
    """Each convolutional net at its defaults covers the default data's window, so `python train.py model=cnn`
    does not warn on the default data; cnn did not (field 31: kernel 3, four layers of dilation 1, 2, 4, 8), and
    warned; dilation 1, 3, 9, 27 (field 81) does. A user's longer window is still said once."""
    from trainlab.config.instantiate import build
    from trainlab.run.pipeline import bind_data_dims, check_receptive_field

    cfg = compose_cfg([f"model={model}"])
    net = build(cfg.model.net, "model.net", kind=nn.Module, **bind_data_dims(cfg.model.net, {"in": F, "out": 1}))
    assert net.receptive_field >= cfg.data.window
    with caplog.at_level("WARNING", logger="trainlab.run.pipeline"):
        check_receptive_field(net, cfg.data.window)
        assert not caplog.records
        check_receptive_field(net, net.receptive_field + 19)
    (record,) = caplog.records
    assert record.getMessage().startswith(f"data.window={net.receptive_field + 19} is longer than {type(net).__name__}'s "
                                          f"receptive field of {net.receptive_field} steps: its first 19 step(s) never")


def test_a_cnn_run_saved_before_dilation_base_is_rebuilt_with_its_dilations(compose_cfg):
    """Its saved config and net record hold no dilation_base: evaluate.py and predict.py (trainlab.run.restore) rebuild
    it with dilations 1, 2, 4, 8, which its weights learned with, not today's default 3."""
    from omegaconf import open_dict

    from trainlab.config.instantiate import build
    from trainlab.run.pipeline import bind_data_dims
    from trainlab.run.trained import NET_ARGUMENTS, with_trained

    cfg = compose_cfg(["model=cnn"])
    with open_dict(cfg):
        del cfg.model.net.dilation_base  # as the run's config.yaml was written
    record = {"_target_": cfg.model.net._target_, "in_channels": F, "hidden_channels": 64, "num_layers": 4,
              "out_channels": 1, "kernel_size": 3, "dropout": 0.1, "init": "kaiming"}
    cfg = with_trained(cfg, "model", {NET_ARGUMENTS: record, "hyper_parameters": {}})
    net = build(cfg.model.net, "model.net", kind=nn.Module, **bind_data_dims(cfg.model.net, {"in": F, "out": 1}))
    assert [conv.dilation[0] for conv in net.convs] == [1, 2, 4, 8] and net.receptive_field == 31


def test_tiles_smaller_than_the_unets_downsampling_are_warned_about(caplog):
    """5 x 5 whole images in a depth-3 U-Net were padded to 8 x 8 and trained on mostly padding without a word."""
    from trainlab.run.pipeline import check_downsampling

    with caplog.at_level("WARNING", logger="trainlab.run.pipeline"):
        check_downsampling(UNet(1, depth=3), (64, 48))
        check_downsampling(UNet(1, depth=3), (8, 8))
        check_downsampling(TCNNet(F, hidden_channels=8), (5, 5))  # no downsampling to speak of
        assert not caplog.records
        check_downsampling(UNet(1, depth=3), (5, 7))
        check_downsampling(UNet(1, depth=3), (5, 7), trained=True)  # predict.py images=: the run's depth is kept
    training, predicting = caplog.records
    assert training.getMessage() == ("tiles of 5 x 7 px are smaller than UNet's downsampling of 8 (2**model.net.depth): "
                                     "each is padded to 8 px with its edge values repeated, and its deepest level sees "
                                     "mostly padding; give model.net.depth=2 or larger tiles")
    # predict.py refuses model.* (the run's settings): it named a fix it does not take
    assert predicting.getMessage().endswith("mostly padding; give images of at least 8 x 8 px, or a run trained with "
                                            "model.net.depth=2")


def test_window_longer_than_the_receptive_field_is_logged_once(caplog):
    from trainlab.run.pipeline import check_receptive_field

    net = TCNNet(F, hidden_channels=8, num_blocks=2, kernel_size=3)  # field 13
    with caplog.at_level("WARNING", logger="trainlab.run.pipeline"):
        check_receptive_field(net, 13)
        check_receptive_field(net, 5)  # a field beyond the window is fine
        assert not caplog.records
        check_receptive_field(net, 20)
    (record,) = caplog.records
    assert record.getMessage() == ("data.window=20 is longer than TCNNet's receptive field of 13 steps: its first 7 "
                                   "step(s) never reach the forecast; shorten data.window or widen the field "
                                   "(model.net.num_blocks, model.net.kernel_size)")
    caplog.clear()  # the CNN's keys, not the TCN's: it was told 'model.net.num_blocks / num_layers' either way
    with caplog.at_level("WARNING", logger="trainlab.run.pipeline"):
        check_receptive_field(TemporalCNN(F, hidden_channels=8, num_layers=2, kernel_size=3), 20)
    assert caplog.records[0].getMessage().endswith("widen the field (model.net.num_layers, model.net.kernel_size, "
                                                   "model.net.dilation_base)")


@pytest.mark.parametrize("init", ["xavier", "kaiming", "default"])
def test_init_schemes(init):
    torch.manual_seed(0)
    net = LSTMNet(F, hidden_size=16, num_layers=1, output_size=1, init=init)
    bias = net.lstm.bias_ih_l0.detach()
    if init == "default":
        assert bias.abs().sum() > 0  # PyTorch's uniform init
    else:
        assert torch.all(bias[16:32] == 1.0) and torch.all(bias[:16] == 0.0)  # forget gate at 1
        hh = net.lstm.weight_hh_l0.detach()[:16]
        assert torch.allclose(hh @ hh.T, torch.eye(16), atol=1e-4)  # orthogonal rows


def test_xavier_and_kaiming_differ_in_scale():
    torch.manual_seed(0)
    xav = TemporalCNN(F, hidden_channels=64, num_layers=1, init="xavier").convs[0].weight.std()
    torch.manual_seed(0)
    kai = TemporalCNN(F, hidden_channels=64, num_layers=1, init="kaiming").convs[0].weight.std()
    assert kai > xav * 1.2  # He: std sqrt(2/fan_in); Glorot: sqrt(2/(fan_in+fan_out)) ~ sqrt(1/fan_in)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: LSTMNet(None), r"model.net.input_size is unset"),
        (lambda: LSTMNet(5, hidden_size=0), r"model.net.hidden_size=0 must be a positive integer"),
        (lambda: LSTMNet(5, dropout=1.5), r"model.net.dropout=1.5 must be in \[0, 1\)"),
        (lambda: LSTMNet(5, init="he"), r"model.net.init='he' is not one of xavier, kaiming, default"),
        (lambda: LSTMAttentionNet(5, attention="dot"), r"model.net.attention='dot' is not one of additive, scaled_dot"),
        (lambda: TemporalCNN(5, kernel_size=1), r"model.net.kernel_size=1 must be at least 2"),
        (lambda: TCNNet(5, kernel_size=1), r"model.net.kernel_size=1 must be at least 2"),
        (lambda: TCNNet(5, norm="batch"), r"model.net.norm='batch' is not one of weight, none"),
        (lambda: TCNNet(None), r"model.net.input_size is unset"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(UserError, match=match):
        make()


# -- gradient checkpointing --------------------------------------------------------------------
def _checkpointing_pairs():
    from trainlab.models.nets.unet import UNet

    lstm = dict(input_size=F, hidden_size=8, num_layers=3, output_size=O)
    yield "lstm", lambda **kw: LSTMNet(**lstm, **kw), torch.randn(B, W, F)
    yield "attention", lambda **kw: LSTMAttentionNet(F, hidden_size=8, num_layers=2, output_size=O, **kw), \
        torch.randn(B, W, F)
    # dropout on: checkpointing replays the RNG, so the recomputed masks are the forward's
    yield "unet", lambda **kw: UNet(2, 1, base_channels=4, depth=2, dropout=0.2, **kw), torch.randn(2, 2, 20, 20)
    yield "tcn", lambda **kw: TCNNet(F, hidden_channels=8, num_blocks=3, output_size=O, dropout=0.2, **kw), \
        torch.randn(B, W, F)


@pytest.mark.parametrize("name,make,x", list(_checkpointing_pairs()), ids=lambda v: v if isinstance(v, str) else "")
def test_checkpointing_gives_the_plain_nets_outputs_and_gradients(name, make, x):
    plain, checkpointed = make(), make(checkpointing=True)
    # the two settings have the same state-dict keys: checkpoints of either load into the other
    checkpointed.load_state_dict(plain.state_dict())
    plain.load_state_dict(checkpointed.state_dict())
    outputs = []
    for net in (plain, checkpointed):
        torch.manual_seed(7)
        y = net(x)
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        outputs.append((y.detach(), [p.grad.clone() for p in net.parameters()], net.state_dict()))
    (y0, g0, s0), (y1, g1, s1) = outputs
    torch.testing.assert_close(y1, y0)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b)
    for key in s0:  # batch-norm running statistics updated once, not again by the recomputation
        torch.testing.assert_close(s1[key], s0[key])
    assert checkpointed.checkpointing and not plain.checkpointing


def test_checkpointing_saves_activation_memory():
    from trainlab.models.nets.unet import UNet
    from trainlab.testing.memory import cpu_peak_bytes

    x = torch.randn(4, 1, 64, 64)
    peaks = {}
    for flag in (False, True):
        torch.manual_seed(0)
        net = UNet(1, 1, base_channels=8, depth=3, checkpointing=flag)
        peaks[flag] = cpu_peak_bytes(lambda: net(x).sum().backward())
    assert peaks[True] < 0.75 * peaks[False], peaks  # measured here: 7.3 MB against 12.2 MB
