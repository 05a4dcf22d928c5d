"""LSTM regressors over windows of a multivariate series, with optional attention pooling."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn
from torch.func import functional_call

from trainlab.config.errors import UserError
from trainlab.models.nets.checkpointing import checkpointed, wanted
from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import check_scheme, initialise


class LSTMNet(nn.Module):
    """Stacked LSTM; the last step's hidden state goes through a linear head.

    Args:
        input_size: features per time step (taken from the data when null in the config).
        hidden_size: LSTM units per layer.
        num_layers: stacked LSTM layers.
        output_size: values predicted per window (taken from the data when null).
        dropout: between LSTM layers (only when num_layers > 1) and before the head.
        init: "xavier", "kaiming" or "default" (see trainlab.models.nets.init).
        checkpointing: gradient checkpointing per LSTM layer in training (trainlab.models.nets.checkpointing):
            each layer's activations are recomputed in backward instead of kept. The weights stay
            those of the one multi-layer ``nn.LSTM``, so checkpoints load into either setting.
    """

    def __init__(self, input_size: int, hidden_size: int = 64, num_layers: int = 2, output_size: int = 1,
                 dropout: float = 0.1, init: str = "xavier", checkpointing: bool = False):
        super().__init__()
        require_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, output_size=output_size)
        require_dropout(dropout)
        check_scheme(init)
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, output_size)
        self.checkpointing = checkpointing
        # one-layer LSTMs that only lend their code to each layer's checkpointed pass: a tuple, so
        # they own no state-dict entries (functional_call runs them on self.lstm's weights)
        self._layers = tuple(nn.LSTM(input_size if i == 0 else hidden_size, hidden_size, batch_first=True)
                             for i in range(num_layers)) if checkpointing else ()
        initialise(self, init)

    def run_lstm(self, x: torch.Tensor) -> torch.Tensor:
        """Every step's top-layer output, (batch, window, features) -> (batch, window, hidden)."""
        if not wanted(self, self.checkpointing):
            return self.lstm(x)[0]
        for i, layer in enumerate(self._layers):
            if i > 0:  # nn.LSTM's dropout: on every layer's output but the last
                x = nn.functional.dropout(x, self.lstm.dropout, self.training)
            weights = {f"{name}_l0": getattr(self.lstm, f"{name}_l{i}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            x = checkpointed(self.lstm, self._layer_pass, layer, weights, x)
        return x

    @staticmethod
    def _layer_pass(layer: nn.LSTM, weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # cuDNN notes that borrowed weights are not one flat block
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            return functional_call(layer, weights, (x,))[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.run_lstm(x)  # (batch, window, hidden)
        return self.head(self.dropout(out[:, -1]))  # (batch, output_size)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. 2015: score_i = vᵀ tanh(W_k h_i + W_q q)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # query (batch, hidden), keys (batch, window, hidden) -> scores (batch, window)
        return self.v(torch.tanh(self.key(keys) + self.query(query).unsqueeze(1))).squeeze(-1)


class ScaledDotAttention(nn.Module):
    """Vaswani et al. 2017: score_i = (W_q q) · (W_k h_i) / sqrt(hidden)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.scale = 1.0 / math.sqrt(hidden_size)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q = self.query(query).unsqueeze(-1)  # (batch, hidden, 1)
        return torch.bmm(self.key(keys), q).squeeze(-1) * self.scale  # (batch, window)


ATTENTIONS = {"additive": AdditiveAttention, "scaled_dot": ScaledDotAttention}


class LSTMAttentionNet(LSTMNet):
    """LSTM whose head sees the last hidden state and an attention-weighted sum of all steps.

    The last step's hidden state is the query over every step's output; ``attention`` picks the
    score function ("additive" or "scaled_dot"). ``forward(x, return_attention=True)`` also returns
    the weights, (batch, window), for heat-maps. Other arguments as in :class:`LSTMNet`.
    """

    def __init__(self, input_size: int, hidden_size: int = 64, num_layers: int = 2, output_size: int = 1,
                 dropout: float = 0.1, init: str = "xavier", attention: str = "additive", checkpointing: bool = False):
        if attention not in ATTENTIONS:
            raise UserError(f"model.net.attention={attention!r} is not one of {', '.join(ATTENTIONS)}")
        super().__init__(input_size, hidden_size, num_layers, output_size, dropout, init, checkpointing)
        self.attention = ATTENTIONS[attention](hidden_size)
        self.head = nn.Linear(2 * hidden_size, output_size)
        initialise(self, init)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        out = self.run_lstm(x)  # (batch, window, hidden)
        last = out[:, -1]
        weights = torch.softmax(self.attention(last, out), dim=-1)  # (batch, window)
        context = torch.bmm(weights.unsqueeze(1), out).squeeze(1)  # (batch, hidden)
        y = self.head(self.dropout(torch.cat([last, context], dim=-1)))
        return (y, weights) if return_attention else y
