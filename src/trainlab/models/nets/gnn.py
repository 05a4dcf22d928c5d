"""Graph neural networks for node classification: GraphSAGE, GCN or GAT layers, stacked."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear as PygLinear

from trainlab.config.errors import UserError
from trainlab.models.nets.checks import require_dropout, require_sizes
from trainlab.models.nets.init import check_scheme, initialise_linear

CONVS = ("sage", "gcn", "gat")


class GNN(nn.Module):
    """``num_layers`` message-passing layers; every layer but the last is followed by an activation
    and dropout, the last one outputs one logit per class for every node.

    conv:
      * ``sage``: GraphSAGE with mean aggregation, x_i' = W1 x_i + W2 mean_j x_j (Hamilton et al.
        2017); keeps a star's own features apart from its neighbours', so it can compare them.
      * ``gcn``: graph convolution, symmetric-normalised mean over the neighbours and the node itself
        (Kipf & Welling 2017). On ego-net batches the normalisation sees truncated degrees at the
        rim, so sampled training is approximate for it (sage and gat are exact).
      * ``gat``: graph attention (Velickovic et al. 2018), ``heads`` heads concatenated in hidden
        layers and averaged in the last one, ELU activations as in the paper.

    Args:
        in_channels: features per node (from the data when null).
        hidden_channels: width of the hidden layers (a multiple of ``heads`` for gat).
        out_channels: classes (from the data when null).
        num_layers: message-passing layers; a node sees neighbours up to this many hops away.
        conv: "sage", "gcn" or "gat".
        heads: attention heads (gat only).
        dropout: after every hidden layer.
        init: "kaiming" (He et al. 2015, ReLU units), "xavier" (Glorot & Bengio 2010) or "default"
            (PyG's own: Glorot for the convolutions' weights).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 2, num_layers: int = 2,
                 conv: str = "sage", heads: int = 4, dropout: float = 0.2, init: str = "kaiming"):
        super().__init__()
        require_sizes(in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels,
                      num_layers=num_layers, heads=heads)
        require_dropout(dropout)
        check_scheme(init)
        if conv not in CONVS:
            raise UserError(f"model.net.conv={conv!r} is not one of {', '.join(CONVS)}")
        if conv == "gat" and hidden_channels % heads:
            raise UserError(f"model.net.hidden_channels={hidden_channels} must be a multiple of "
                            f"model.net.heads={heads} (gat concatenates the heads)")
        self.in_channels, self.out_channels, self.num_layers = in_channels, out_channels, num_layers
        self.convs = nn.ModuleList()
        for i in range(num_layers):
            c_in = in_channels if i == 0 else hidden_channels
            last = i == num_layers - 1
            c_out = out_channels if last else hidden_channels
            if conv == "sage":
                layer = SAGEConv(c_in, c_out, aggr="mean")
            elif conv == "gcn":
                layer = GCNConv(c_in, c_out)
            else:
                layer = GATConv(c_in, c_out if last else c_out // heads, heads=heads, concat=not last)
            self.convs.append(layer)
        self.activation = nn.ELU() if conv == "gat" else nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        initialise_gnn(self, init)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        # x (nodes, in_channels), edge_index (2, edges) -> logits (nodes, out_channels)
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < self.num_layers - 1:
                x = self.dropout(self.activation(x))
        return x


def initialise_gnn(module: nn.Module, scheme: str) -> None:
    """Re-initialise every linear map (torch's and PyG's own ``Linear``) with Xavier or He weights and
    zero biases; attention vectors and conv biases keep PyG's init. ``default`` changes nothing."""
    check_scheme(scheme)
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, PygLinear)):
            initialise_linear(m, scheme)
