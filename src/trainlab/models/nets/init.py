"""Weight initialisation schemes the seeds ask for: Xavier (Glorot) and He (Kaiming)."""

from __future__ import annotations

from torch import nn

from trainlab.config.errors import UserError

SCHEMES = ("xavier", "kaiming", "default")


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise UserError(f"model.net.init={scheme!r} is not one of {', '.join(SCHEMES)}")


def initialise_linear(m: nn.Module, scheme: str) -> None:
    """Xavier or He weights and a zero bias for one layer with ``weight`` and ``bias`` (linear, conv)."""
    if scheme == "xavier":
        nn.init.xavier_uniform_(m.weight)
    else:
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def initialise(module: nn.Module, scheme: str) -> None:
    """Re-initialise weights of Linear, Conv1d/2d and LSTM layers; biases to zero.

    xavier: Glorot & Bengio 2010, suits tanh/sigmoid units; kaiming: He et al. 2015, suits ReLU.
    LSTM recurrent matrices get orthogonal init per gate in both schemes (Saxe et al. 2014), and the forget
    gate bias starts at 1 (Jozefowicz et al. 2015). ``default`` keeps PyTorch's own init.
    """
    check_scheme(scheme)
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            initialise_linear(m, scheme)
        elif isinstance(m, nn.LSTM):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    (nn.init.xavier_uniform_ if scheme == "xavier" else nn.init.kaiming_normal_)(p)
                elif name.startswith("weight_hh"):
                    for gate in p.data.chunk(4, dim=0):  # each (hidden, hidden) gate block
                        nn.init.orthogonal_(gate)
                elif name.startswith("bias"):
                    nn.init.zeros_(p)
                    hidden = p.shape[0] // 4
                    if name.startswith("bias_ih"):
                        p.data[hidden : 2 * hidden] = 1.0  # gate order i, f, g, o
