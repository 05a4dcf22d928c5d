"""Graph family: star catalogues, kNN graphs, subgraph sampling (conf/data: gaia, catalogue)."""
