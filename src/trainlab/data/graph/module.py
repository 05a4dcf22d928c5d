"""The graph data module: a star catalogue as a kNN graph for node classification, with the missing-value
imputation, train-only scaling and baselines; the split is :mod:`.split`, the batching within the node
budget :mod:`.batching`, the subgraphs :mod:`.subgraphs`."""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from trainlab.config.errors import UserError
from trainlab.data import categories
from trainlab.data.graph.baselines import GraphBaselines
from trainlab.data.graph.batching import BatchPlan
from trainlab.data.graph.catalogue import StarTable
from trainlab.data.graph.node_categories import NodeCategories
from trainlab.data.graph.split import stratified_split
from trainlab.data.graph.subgraphs import EgoNets, NodeIds, edge_index_from_table, knn_table, only_item
from trainlab.data.shared_memory import SharedInWorkers
from trainlab.data.timeseries.values import typed_names
from trainlab.data.module import SplitDataModule, constant_columns, erased_columns, erased_refusal

log = logging.getLogger(__name__)


class StarGraphDataModule(GraphBaselines, NodeCategories, SplitDataModule):
    """Stars as nodes, each joined to its ``k`` nearest neighbours in 3-D, for node classification.

    The graph is built once with scipy's cKDTree on the catalogue's positions; edges run from each
    neighbour to the star (in-degree exactly ``k``). Stars are split into train / val / test masks
    at random, per class (stratified), from ``seed``; the whole graph stays visible (transductive
    node classification, as on Planetoid). Feature means and standard deviations are fit on the
    training stars only and saved in every checkpoint (``state_dict``).

    Missing feature values (``data.source.missing=impute``) are filled with the training stars'
    median of their column, and every column that some training star lacks gets a 0/1 feature
    ``<column>_missing``, so the net can tell a measured value from a filled one and lean on the
    neighbours instead (one log line gives the counts). Medians and those columns are fit on the
    training stars and saved in the checkpoint with the scaling.

    Category columns among the features (text, or codes named in ``data.source.categorical_columns``) are one 0/1
    feature per category of the training stars, after the indicators, left unscaled (:mod:`.node_categories`);
    the encoding is saved in the checkpoint too.

    Batches are PyG ``Data`` objects with ``x``, ``edge_index``, ``y`` and ``target_mask`` (the
    nodes whose loss and metrics count). When the graph has at most ``max_nodes_per_graph`` nodes
    (or that is null) every batch is the whole graph, masked to the split. Above it, training
    runs on sampled subgraphs of at most that many nodes:

    * ``sampler=ego``: batches of ``batch_size`` training stars (fewer if their ego nets would not
      fit) with their ``num_hops``-hop neighbourhoods (every neighbour, or ``fanout`` drawn per
      node); a seed sees exactly what it sees in the whole graph when ``fanout`` is null.
    * ``sampler=random_nodes``: PyG's ``RandomNodeLoader``, the nodes split at random into parts
      of at most ``max_nodes_per_graph`` with the edges inside each part: cheap, but a part keeps
      only ~max_nodes/stars of each star's neighbours.

    Validation and test always cover every star of their split: the whole graph, or (sampled
    mode) ego nets with every neighbour, so their numbers do not depend on the sampling.

    Args:
        source: object with ``load() -> StarTable`` (trainlab.data.graph.catalogue, .synthetic).
        k: neighbours per star.
        density_feature: add log10 of the mean distance to the ``k`` neighbours (local star
            density; pc for sky catalogues, radians for [ra, dec] alone) as a node feature.
        batch_size: seed stars per sampled training batch (unused for full-graph batches).
        val_batch_multiplier: evaluation batches may hold this many times ``max_nodes_per_graph``
            nodes (no gradients are kept there).
        val_fraction, test_fraction: shares of stars (per class) for validation and test.
        sampler: "ego" or "random_nodes" (see above).
        num_hops: depth of the ego nets; one hop per message-passing layer of the net.
        fanout: neighbours kept per node and hop in training ego nets (null: all ``k``).
        max_nodes_per_graph: sample subgraphs above this many nodes (from the hardware profile).
        seed: seeds the split and the training order, drawn per epoch from (seed, epoch).
    """

    STATS = ("feature_mean", "feature_std")
    TRAINED_WITH = ("k", "density_feature")  # evaluate.py keeps them
    INDICATOR_SUFFIX = "_missing"
    MANY_STARS = 100_000  # from this many stars the graph's build is announced before it starts

    family = "graph"  # trainlab.config.families: models and data of one family go together

    def __init__(
        self,
        source: Any,
        k: int = 10,
        density_feature: bool = False,
        batch_size: int = 256,
        val_batch_multiplier: int = 2,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        sampler: str = "ego",
        num_hops: int = 2,
        fanout: Optional[int] = None,
        max_nodes_per_graph: Optional[int] = None,
        seed: int = 3407,
    ):
        super().__init__(batch_size, val_batch_multiplier, val_fraction, test_fraction, seed, "stars",
                         k=(k, 1), num_hops=(num_hops, 1), fanout=(fanout, 1),
                         max_nodes_per_graph=(max_nodes_per_graph, 2))
        self.source, self.k, self.density_feature = source, k, density_feature
        self.batches = BatchPlan(sampler, k, num_hops, fanout, max_nodes_per_graph, batch_size, val_batch_multiplier)
        self.table: Optional[StarTable] = None
        self.stats: dict[str, np.ndarray] = {}
        self.graph: Optional[Data] = None  # x standardised, edge_index, y, train/val/test masks
        self.neighbours: Optional[torch.Tensor] = None  # (stars, k) in-neighbours of every star
        self.raw_features: Optional[np.ndarray] = None  # (stars, features) imputed, before scaling
        self.masks: Optional[dict[str, np.ndarray]] = None  # the split, boolean per star
        self.impute_value: Optional[np.ndarray] = None  # per catalogue feature column: training median
        self.indicator_columns: Optional[list[str]] = None  # columns with a 0/1 "was missing" feature
        self.encoding: Optional[categories.Encoding] = None  # category column -> its categories (.node_categories)
        self._features_only = None  # the fitted features-only baseline (trainlab.models.features_only)
        # (classes,) loss weights the task module resolved from model.class_weights (NodeClassificationModule.
        # weigh_classes); the features-only baseline trains with them too, so the two stay comparable
        self.class_weights: Optional[torch.Tensor] = None

    # -- sizes the model needs ---------------------------------------------------------------
    def load(self) -> StarTable:
        """Read the source once (idempotent)."""
        if self.table is None:
            self.table = self.load_source(self.source, StarTable, "trainlab.data.graph.synthetic")
            n = len(self.table.labels)
            if n <= self.k:  # how far to lower it, not 'lower data.k' alone
                most = f" (data.k={n - 1} at most for these stars)" if n > 1 else ""
                raise UserError(f"'{self.table.name}' has {n} stars; data.k={self.k} neighbours need at least "
                                f"{self.k + 1}: lower data.k{most} or use a larger catalogue")
        return self.table

    @property
    def feature_names(self) -> list[str]:
        """The catalogue's numeric feature columns, their "was missing" indicators, the 0/1 features of its category
        columns, the density feature."""
        indicators = [c + self.INDICATOR_SUFFIX for c in self._indicators()]
        return (self.load().feature_names + indicators + self.category_inputs()
                + (["log10_knn_distance"] if self.density_feature else []))

    @property
    def class_names(self) -> list[str]:
        return self.load().class_names

    @property
    def dims(self) -> dict[str, int]:
        """Sizes the net takes from the data: ``in`` (features per star), ``out`` (classes)."""
        return {"in": len(self.feature_names), "out": len(self.class_names)}

    def model_kwargs(self) -> dict[str, list[str]]:
        """What the classification module needs from the data: the class names, in output order.

        Builds the graph first (train.py calls this before the trainer), so a graph that cannot be
        batched within the node budget stops the run before anything is written."""
        self.setup("fit")
        return {"class_names": list(self.class_names)}

    @property
    def sampled(self) -> bool:
        """True when training runs on sampled subgraphs (the graph exceeds max_nodes_per_graph)."""
        return self.batches.sampled(len(self.load().labels))

    def training_batch_note(self) -> Optional[tuple[str, str]]:
        if self.graph is None:
            return None
        return self.batches.step_note(self.graph.num_nodes, int(self.graph.train_mask.sum()))

    def step_samples(self, processes: int) -> int:
        if self.graph is None:
            return super().step_samples(processes)
        return self.batches.step_samples(self.graph.num_nodes, int(self.graph.train_mask.sum()), processes)

    # -- graph, split and scaling ------------------------------------------------------------
    def setup(self, stage: Optional[str] = None) -> None:
        if self.graph is None:
            self._build_graph()

    def _split_masks(self) -> dict[str, np.ndarray]:
        if self.masks is None:
            table = self.load()
            self.masks = stratified_split(table.labels, table.class_names, table.name, self.val_fraction,
                                          self.test_fraction, self.seed)
        return self.masks

    # -- missing values: fit on the training stars, kept in the checkpoint --------------------
    def _indicators(self) -> list[str]:
        """Feature columns that some training star lacks (each gets a 0/1 feature)."""
        if self.indicator_columns is None:
            table = self.load()
            gaps = np.isnan(table.features[self._split_masks()["train"]]).any(axis=0)
            self.indicator_columns = [c for c, gap in zip(table.feature_names, gaps) if gap]
        return self.indicator_columns

    def _imputed(self) -> np.ndarray:
        """(stars, columns + indicators) float64: missing values filled with the training medians."""
        table = self.load()
        gaps = np.isnan(table.features)
        if self.impute_value is None:
            train = table.features[self._split_masks()["train"]]
            empty = [c for c, n in zip(table.feature_names, (~np.isnan(train)).sum(axis=0)) if n == 0]
            if empty:
                kept = [c for c in table.feature_names if c not in empty]  # the catalogue's columns, to paste
                fix = (f": {typed_names('data.source.feature_columns', [*kept, *(table.categories or {})], False)}"
                       if hasattr(self.source, "feature_columns") and (kept or table.categories) else "")
                raise UserError(f"no training star of '{table.name}' has a value in {empty}; leave "
                                f"{'it' if len(empty) == 1 else 'them'} out of data.source.feature_columns{fix}")
            self.impute_value = np.nanmedian(train, axis=0)
        filled = np.where(gaps, self.impute_value, table.features)
        flags = gaps[:, [table.feature_names.index(c) for c in self._indicators()]].astype(np.float64)
        return np.concatenate([filled, flags], axis=1)

    def _log_missing(self, gaps: np.ndarray) -> None:
        table = self.load()
        per_column = {c: int(n) for c, n in zip(table.feature_names, gaps.sum(axis=0)) if n}
        filled = {c: round(float(v), 4) for c, v in zip(table.feature_names, self.impute_value) if c in per_column}
        unflagged = [c for c in per_column if c not in self._indicators()]
        note = f"; {unflagged} lack values only outside the training stars: filled, no indicator" if unflagged else ""
        log.info("missing values (data.source.missing=impute): %d of %d stars (%s), filled with the training stars' "
                 "medians %s; 0/1 features %s%s", int(gaps.any(axis=1).sum()), len(gaps),
                 ", ".join(f"{c} {n}" for c, n in per_column.items()), filled,
                 [c + self.INDICATOR_SUFFIX for c in self._indicators()], note)

    def missing_counts(self) -> dict[str, int]:
        """Stars with a missing value, per catalogue feature column (imputed ones; dropped stars are gone)."""
        table = self.load()
        return {c: int(n) for c, n in zip(table.feature_names, np.isnan(table.features).sum(axis=0)) if n}

    def _fit_stats(self, train_mask: np.ndarray) -> None:
        block = self.raw_features[train_mask].astype(np.float64)
        std = block.std(axis=0)
        constant = constant_columns(block, std)  # a flux in erg/s/cm^2 ~ 1e-12 is not constant
        if constant.any() and self.advising:
            idle = [n for n, c in zip(self.feature_names, constant) if c]
            kept = [n for n in self.load().feature_names if n not in idle]  # the catalogue's columns, to paste
            fix = (f"; leave them out: {typed_names('data.source.feature_columns', [*kept, *self._encoding()], False)}"
                   if hasattr(self.source, "feature_columns") and len(kept) < len(self.load().feature_names) else "")
            log.warning("feature(s) %s have one value on every training star: they carry no information (left "
                        "unscaled)%s", idle, fix)
        self.stats = {"feature_mean": block.mean(axis=0), "feature_std": np.where(constant, 1.0, std)}
        # the 0/1 features of categories stay 0 and 1: standardised, a rare category's 1 was tens of standard units
        one_hot = self._one_hot()
        self.stats["feature_mean"][one_hot], self.stats["feature_std"][one_hot] = 0.0, 1.0
        erased = erased_columns(block, self.stats["feature_mean"], self.stats["feature_std"])
        if erased:  # one pmra of 1e12 left every other star's pmra one float32 value, without a word
            table, stars = self.load(), np.flatnonzero(train_mask)
            raise UserError(erased_refusal(block, self.stats["feature_std"], erased, self.feature_names,
                                           f"the training stars of '{table.name}'",
                                           lambda i: f"{table.id_name} {table.ids[stars[i]]}",
                                           "data.source.missing imputes it"))

    def _one_hot(self) -> slice:
        """Where the category columns' 0/1 features are among ``feature_names``: after the indicators."""
        start = len(self.load().feature_names) + len(self._indicators())
        return slice(start, start + len(self.category_inputs()))

    def _scaled_features(self) -> torch.Tensor:
        x = (self.raw_features - self.stats["feature_mean"]) / self.stats["feature_std"]
        return torch.from_numpy(x.astype(np.float32))

    def _build_graph(self) -> None:
        table = self.load()
        if self.sampled and self.batches.sampler == "ego":
            self.batches.seeds_per_batch()  # refuses ego nets that cannot fit the node budget, before any work
        self.batches.warn_unused(len(table.labels))
        if len(table.labels) >= self.MANY_STARS:  # the tree and its queries: ~30 s for a million stars on 2 cores
            log.info("finding the %d nearest neighbours of each of %d stars (scipy cKDTree, %d thread(s)) ...", self.k,
                     len(table.labels), torch.get_num_threads())
        neighbours, distances = knn_table(table.positions, self.k)
        features = np.concatenate([self._imputed(), self._category_block()], axis=1)
        if np.isnan(table.features).any():
            self._log_missing(np.isnan(table.features))
        if self.density_feature:
            features = np.concatenate([features, np.log10(distances.mean(axis=1) + 1e-6)[:, None]], axis=1)
        self.raw_features = features
        masks = self._split_masks()
        if not self.stats:  # a checkpoint's statistics, when loaded, take precedence
            self._fit_stats(masks["train"])
        self.neighbours = torch.from_numpy(neighbours)
        self.graph = Data(x=self._scaled_features(), edge_index=edge_index_from_table(self.neighbours),
                          y=torch.from_numpy(table.labels),
                          **{f"{s}_mask": torch.from_numpy(m) for s, m in masks.items()})
        log.info("graph of '%s': %d stars, %d edges (k=%d), features %s, classes %s; train %d, val %d, test %d; %s",
                 table.name, self.graph.num_nodes, self.graph.num_edges, self.k, self.feature_names,
                 self._class_counts(),
                 *(int(m.sum()) for m in masks.values()), self.batches.describe(self.graph.num_nodes))

    def _class_counts(self) -> Any:
        """Stars per class, for the graph's log line."""
        table = self.load()
        return dict(zip(table.class_names, np.bincount(table.labels, minlength=len(table.class_names)).tolist()))

    # -- batches -------------------------------------------------------------------------------
    def _masked_graph(self, split: str) -> Data:
        g = self.graph
        return Data(x=g.x, edge_index=g.edge_index, y=g.y, target_mask=g[f"{split}_mask"])

    def on_before_batch_transfer(self, batch: Data, dataloader_idx: int) -> Data:
        """Find the target nodes while the batch is still on the host (Lightning calls this first).

        Boolean-mask indexing (``logits[mask]``) and ``int(mask.sum())`` on the device make the host
        wait for the GPU (the result's size depends on the mask's values); the indices found here
        travel to the device with the batch and the task module's ``index_select`` needs no wait.
        """
        targets = batch.target_mask.nonzero().flatten()
        batch.target_nodes, batch.num_targets = targets, len(targets)
        return batch

    def _whole_graph_loader(self, split: str) -> DataLoader:
        return DataLoader([self._masked_graph(split)], batch_size=1, collate_fn=only_item,
                          generator=self._generator(), **self.loader_kwargs)

    def train_dataloader(self) -> DataLoader:
        if not self.sampled:
            return self._whole_graph_loader("train")
        if self.batches.sampler == "random_nodes":
            from torch_geometric.loader import RandomNodeLoader

            loader = RandomNodeLoader(self._masked_graph("train"), num_parts=self.batches.parts(self.graph.num_nodes),
                                      sampler=self.training_sampler(self.graph.num_nodes),
                                      generator=self._generator(), **self.loader_kwargs)
            loader.collate_fn = SharedInWorkers(loader.collate_fn)
            return loader
        ids = self.graph.train_mask.nonzero().reshape(-1)
        collate = EgoNets(self.graph, self.neighbours, self.batches.num_hops, self.batches.fanout, self.seed)
        return DataLoader(NodeIds(ids), batch_size=self.batches.seeds_per_batch(),
                          sampler=self.training_sampler(len(ids)), collate_fn=collate,
                          generator=self._generator(), **self.loader_kwargs)

    def _eval_loader(self, split: str) -> DataLoader:
        if not self.sampled:
            return self._whole_graph_loader(split)
        ids = self.graph[f"{split}_mask"].nonzero().reshape(-1)
        collate = EgoNets(self.graph, self.neighbours, self.batches.num_hops, fanout=None, seed=self.seed)
        return DataLoader(NodeIds(ids), batch_size=self.batches.eval_seeds_per_batch(), shuffle=False, collate_fn=collate,
                          generator=self._generator(), **self.loader_kwargs)

    # -- checkpointed state: SplitDataModule saves and checks self.stats --------------------------
    def state_dict(self) -> dict[str, list]:
        """Scaling statistics, imputation medians, the indicator columns (names) and the categories' encoding."""
        self._indicators()
        if self.impute_value is None:
            self.setup()
        return {**super().state_dict(), "impute_value": self.impute_value.tolist(),
                "indicator_columns": list(self.indicator_columns),
                categories.STATE_KEY: {c: list(v) for c, v in self._encoding().items()}}

    def read_as_saved(self, state: dict[str, Any]) -> None:
        """The checkpoint's categories and its 'was missing' features, taken before the catalogue is read: another
        catalogue (evaluate.py +data.source.path=) whose gaps lie in other columns than the training stars' got
        indicators of its own, and was refused as other columns ('feature_mean has 5 value(s) in the checkpoint, 6
        here'); its gaps are now filled with the run's medians, as predict.py's catalogue= fills them."""
        super().read_as_saved(state)
        if "indicator_columns" in state:  # absent from checkpoints written before imputation existed
            self.indicator_columns = [str(c) for c in state["indicator_columns"]]
            self.impute_value = np.asarray(state["impute_value"], dtype=np.float64)  # the log line gives these

    def load_state_dict(self, state_dict: dict[str, list]) -> None:
        self._features_only = None  # fitted on features scaled otherwise
        # absent from checkpoints written before categories were encoded: none (they were refused as text then)
        self._load_categories(state_dict, self._one_hot().start if self.graph is not None else 0)
        if "indicator_columns" in state_dict:  # absent from checkpoints written before imputation existed
            columns = [str(c) for c in state_dict["indicator_columns"]]
            if self.graph is not None and columns != self._indicators():
                raise UserError(f"the checkpoint adds 'was missing' features for {columns}, this data for "
                                f"{self._indicators()}; resume or evaluate with the run's own catalogue")
            self.indicator_columns = columns
            self.impute_value = np.asarray(state_dict["impute_value"], dtype=np.float64)
            if self.graph is not None:  # restored after setup(): refill with the checkpoint's medians
                extra = self.raw_features[:, len(self.load().feature_names) + len(columns):]
                self.raw_features = np.concatenate([self._imputed(), extra], axis=1)
        super().load_state_dict(state_dict)

    def _restore_stats(self, stats: dict[str, np.ndarray]) -> None:
        if len(stats["feature_mean"]) != len(self.feature_names):
            raise UserError(f"checkpoint's data statistics cover {len(stats['feature_mean'])} features, this data "
                            f"has {len(self.feature_names)} ({self.feature_names}); evaluate with the run's own data")
        self.stats = stats
        if self.graph is not None:  # Lightning restores state after setup(): rescale with these statistics
            self.graph.x = self._scaled_features()
