"""The kNN graph and the batches cut from it, in pure PyTorch (no pyg-lib, no torch-sparse).

PyG's ``knn_graph`` and ``NeighborLoader`` need compiled extensions that are not available for
this torch (see FACTS.md), so the graph is built with scipy's cKDTree and ego nets are gathered
from the neighbour table: every star has exactly ``k`` in-neighbours, so the ``L``-hop
neighbourhood of a batch of seed stars is ``L`` table look-ups, at a cost that grows with the
batch, not with the graph (``torch_geometric.utils.k_hop_subgraph`` scans every edge of the graph
per call; tests/test_graph.py checks that both give the same subgraph).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torch_geometric.data import Data

from trainlab.data.shared_memory import in_shared_memory

log = logging.getLogger(__name__)
QUERY_CHUNK = 50_000  # stars per query and thread: a million stars' search reports every PROGRESS_S seconds
PROGRESS_S = 15.0  # seconds between the progress lines of a long neighbour search


def knn_table(positions: np.ndarray, k: int, workers: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other stars of every star: indices (stars, k) int64 and distances (stars, k).

    A star never counts as its own neighbour, even when other stars share its exact position. The
    queries run in ``workers`` threads; None: torch's thread count, which ``hardware.num_threads``
    sets (every core, as before, took cores the setting had left to other trials and jobs).
    """
    from scipy.spatial import cKDTree

    workers = torch.get_num_threads() if workers is None else workers
    n = len(positions)
    tree, chunk = cKDTree(positions), QUERY_CHUNK * max(workers, 1)  # workers=-1: every core
    distances, indices = np.empty((n, k + 1)), np.empty((n, k + 1), dtype=np.int64)
    start = said = time.monotonic()
    for first in range(0, n, chunk):  # in chunks, so that a long search says how far it is
        rows = slice(first, min(first + chunk, n))
        distances[rows], indices[rows] = tree.query(positions[rows], k=k + 1, workers=workers)
        now = time.monotonic()
        if now - said >= PROGRESS_S and rows.stop < n:
            done = rows.stop / n
            log.info("nearest neighbours: %d of %d stars (%.0f%%) in %.0f s, about %.0f s left", rows.stop, n,
                     100 * done, now - start, (now - start) * (1 - done) / done)
            said = now
    is_self = indices == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)  # duplicates of a position can push the star itself out
    is_self[no_self, -1] = True
    keep = ~is_self
    return indices[keep].reshape(n, k).astype(np.int64), distances[keep].reshape(n, k)


def edge_index_from_table(neighbours: Tensor) -> Tensor:
    """(2, stars * k) edges j -> i for every neighbour j of star i: messages flow from the
    neighbours to the star (PyG's source_to_target flow, as ``knn_graph`` builds it)."""
    n, k = neighbours.shape
    return torch.stack([neighbours.reshape(-1), torch.arange(n).repeat_interleave(k)])


def ego_net_bound(k: int, num_hops: int) -> int:
    """Most nodes an ego net can hold: 1 + k + k^2 + ... + k^num_hops."""
    return sum(k**h for h in range(num_hops + 1))


class NodeIds(Dataset):
    """Node indices served in batches: ``__getitems__`` hands the collate function one tensor."""

    def __init__(self, ids: Tensor):
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Tensor:
        return self.ids[i]

    def __getitems__(self, indices: Sequence[int]) -> Tensor:
        return self.ids[torch.as_tensor(indices, dtype=torch.long)]


class EgoNets:
    """collate_fn: seed nodes -> the subgraph induced by their ``num_hops``-hop in-neighbourhoods.

    The batch is a ``Data`` with ``x``, ``y``, ``edge_index`` (relabelled), ``n_id`` (the nodes'
    indices in the whole graph) and ``target_mask`` (True on the seeds: the nodes whose loss and
    metrics count). With every neighbour kept (``fanout`` None), a seed's output after
    ``num_hops`` mean- or attention-aggregating layers equals its output on the whole graph.
    With ``fanout`` f < k, each node on the frontier passes on f of its neighbours, drawn from a
    generator seeded by (seed, batch), as in GraphSAGE's neighbour sampling (Hamilton et al. 2017).
    """

    def __init__(self, graph: Data, neighbours: Tensor, num_hops: int, fanout: Optional[int] = None,
                 seed: int = 0):
        self.x, self.y, self.neighbours = graph.x, graph.y, neighbours
        self.num_hops, self.seed = num_hops, seed
        self.fanout = fanout if fanout is not None and fanout < neighbours.shape[1] else None

    def nodes(self, seeds: Tensor) -> Tensor:
        """Sorted indices of every node within ``num_hops`` of the seeds (seeds included)."""
        reached, frontier = [seeds], seeds
        generator = None
        if self.fanout is not None:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(seeds.sum()) + len(seeds))
        for _ in range(self.num_hops):
            table = self.neighbours[frontier]  # (frontier, k)
            if generator is not None:
                picks = torch.rand(table.shape, generator=generator).argsort(dim=1)[:, : self.fanout]
                table = table.gather(1, picks)
            frontier = table.reshape(-1).unique()
            reached.append(frontier)
        return torch.cat(reached).unique()

    def __call__(self, seeds: Tensor) -> Data:
        seeds = torch.as_tensor(seeds, dtype=torch.long).reshape(-1)
        subset = self.nodes(seeds)
        k = self.neighbours.shape[1]
        sources = self.neighbours[subset].reshape(-1)  # every in-neighbour of every node in the subset
        position = torch.searchsorted(subset, sources).clamp_(max=len(subset) - 1)
        inside = subset[position] == sources  # keep edges whose source is in the subset too
        targets = torch.arange(len(subset)).repeat_interleave(k)
        edge_index = torch.stack([position[inside], targets[inside]])
        target_mask = torch.zeros(len(subset), dtype=torch.bool)
        target_mask[torch.searchsorted(subset, seeds)] = True
        return in_shared_memory(Data(x=self.x[subset], y=self.y[subset], edge_index=edge_index, n_id=subset,
                                     target_mask=target_mask))


def only_item(items: list[Data]) -> Data:
    """collate_fn for loaders whose items are whole batches already (the full graph)."""
    return in_shared_memory(items[0])
