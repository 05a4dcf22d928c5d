"""How the star graph is batched within the node budget (``hardware.max_nodes_per_graph``): whole,
masked to the split, up to the budget; above it, training on ego nets of seed stars or on random
node parts (``data.sampler``), evaluation on ego nets with every neighbour. The subgraphs themselves
are cut by :mod:`trainlab.data.graph.subgraphs`."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional

from trainlab.config.errors import UserError
from trainlab.data.graph.subgraphs import ego_net_bound

log = logging.getLogger(__name__)

SAMPLERS = ("ego", "random_nodes")


@dataclass(frozen=True)
class BatchPlan:
    """The data module's batching settings (their meaning: :class:`~trainlab.data.graph.module.StarGraphDataModule`)."""

    sampler: str
    k: int
    num_hops: int
    fanout: Optional[int]
    max_nodes_per_graph: Optional[int]
    batch_size: int
    val_batch_multiplier: int

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise UserError(f"data.sampler={self.sampler!r} is not one of {', '.join(SAMPLERS)}")

    def sampled(self, stars: int) -> bool:
        """True when training runs on sampled subgraphs (a graph of ``stars`` exceeds max_nodes_per_graph)."""
        return self.max_nodes_per_graph is not None and stars > self.max_nodes_per_graph

    def parts(self, stars: int) -> int:
        """Random node parts of at most max_nodes_per_graph nodes (``sampler=random_nodes``)."""
        return math.ceil(stars / self.max_nodes_per_graph)

    def warn_unused(self, stars: int) -> None:
        """Name sampling settings that this graph does not use (a setting is never ignored without a word)."""
        unused, why = [], ""
        if not self.sampled(stars):
            unused = [f"data.fanout={self.fanout}"] * (self.fanout is not None)
            unused += [f"data.sampler={self.sampler}"] * (self.sampler != "ego")
            why = (f"the graph of {stars} stars trains whole (hardware.max_nodes_per_graph="
                   f"{self.max_nodes_per_graph}; sampling starts above it)")
        elif self.sampler != "ego" and self.fanout is not None:
            unused, why = [f"data.fanout={self.fanout}"], "fanout applies to data.sampler=ego only"
        if unused:
            log.warning("%s not used: %s", " and ".join(unused), why)

    def step_note(self, stars: int, train_stars: int) -> Optional[tuple[str, str]]:
        """(what one training batch of a graph of ``stars`` holds, why it is not ``batch_size`` seed stars), for the
        run's effective-batch line, which said "data.batch_size 256" for a graph that trains whole; None where
        a batch is ``batch_size`` seed stars."""
        budget = self.max_nodes_per_graph if self.max_nodes_per_graph is not None else "null: none is"
        if not self.sampled(stars):
            return (f"the whole graph, its {train_stars} training stars",
                    f"data.batch_size={self.batch_size} applies only to a graph sampled above "
                    f"hardware.max_nodes_per_graph ({budget})")
        if self.sampler == "random_nodes":
            return (f"a random node part of <= {self.max_nodes_per_graph} nodes",
                    f"data.batch_size={self.batch_size} applies to data.sampler=ego only")
        seeds = self.seeds_per_batch()
        if seeds < self.batch_size:
            return (f"{seeds} seed stars", f"data.batch_size={self.batch_size} capped so that their ego nets fit "
                                           f"hardware.max_nodes_per_graph={self.max_nodes_per_graph}")
        return None

    def step_samples(self, stars: int, train_stars: int, processes: int) -> int:
        """Labelled stars one training step's loss averages over, across ``processes``: a graph that trains whole
        gives every process the same graph (its ``train_stars``, once); a random node part about its share of them;
        an ego batch its seed stars, on each process."""
        if not self.sampled(stars):
            return train_stars
        if self.sampler == "random_nodes":
            return max(1, round(train_stars / self.parts(stars))) * processes
        return self.seeds_per_batch() * processes

    def train_bound(self) -> int:
        """Most nodes of one training ego net."""
        return ego_net_bound(self.fanout or self.k, self.num_hops)

    def seeds_per_batch(self) -> int:
        """Seed stars per sampled training batch: ``batch_size``, fewer if their ego nets could
        exceed ``max_nodes_per_graph`` together."""
        bound = self.train_bound()
        if bound > self.max_nodes_per_graph:
            raise UserError(
                f"an ego net of data.num_hops={self.num_hops} hops over {self.fanout or self.k} neighbours holds up "
                f"to {bound} nodes, more than hardware.max_nodes_per_graph={self.max_nodes_per_graph}; set "
                f"data.fanout to fewer neighbours, use fewer layers (model.net.num_layers) or a smaller data.k"
            )
        return min(self.batch_size, self.max_nodes_per_graph // bound)

    def eval_seeds_per_batch(self) -> int:
        """Seed stars per evaluation batch: ego nets with every neighbour, within
        ``val_batch_multiplier`` x ``max_nodes_per_graph`` nodes (at least one seed)."""
        return max(1, self.val_batch_multiplier * self.max_nodes_per_graph // ego_net_bound(self.k, self.num_hops))

    def describe(self, stars: int) -> str:
        """How a graph of ``stars`` is batched, for the data module's summary line."""
        if not self.sampled(stars):
            return "full-graph batches"
        if self.sampler == "random_nodes":
            return (f"training on {self.parts(stars)} random node parts of <= {self.max_nodes_per_graph} nodes "
                    "(RandomNodeLoader)")
        seeds = self.seeds_per_batch()
        capped = f" (data.batch_size={self.batch_size} capped to fit)" if seeds < self.batch_size else ""
        return (f"training on ego nets: {seeds} seed stars per batch{capped}, <= {self.train_bound()} nodes "
                f"each, max_nodes_per_graph={self.max_nodes_per_graph}; evaluation on ego nets of "
                f"{self.eval_seeds_per_batch()} seeds")
