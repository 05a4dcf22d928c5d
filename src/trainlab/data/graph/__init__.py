"""Graph family: star catalogues as kNN graphs for node classification (conf/data: gaia, catalogue).

- ``module``: :class:`StarGraphDataModule` (graph, missing-value imputation, train-only scaling,
  loaders, baselines); ``node_categories``: its category columns as 0/1 node features, in the training
  stars' categories (kept in checkpoints)
- ``split``: the stratified split of the stars; ``batching``: how the graph is batched within the node
  budget; ``subgraphs``: the kNN table and the ego nets cut from it
- ``catalogue``: :class:`StarTable` and your own file; ``columns``: Gaia's columns and the missing
  policy; ``sky``: ra, dec, parallax to 3-D positions, and the checks of their units; ``synthetic``: the
  seeded Gaia-like default
"""
