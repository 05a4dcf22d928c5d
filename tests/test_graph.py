"""The graph family: catalogues, the kNN graph, sampled subgraphs, GNNs, training and evaluation."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.families import GRAPH, QUIET
from trainlab.data.graph.catalogue import GAIA_FEATURES, StarCatalogue
from trainlab.data.graph.sky import sky_to_cartesian
from trainlab.data.graph.synthetic import SyntheticGaia, _astrometry
from trainlab.data.graph.module import StarGraphDataModule
from trainlab.data.graph.subgraphs import EgoNets, ego_net_bound, knn_table
from trainlab.config.errors import UserError
from trainlab.models.nets.gnn import GNN

# small and quick, still the real pipeline
TINY_GRAPH = GRAPH.tiny()
TINY_GNN = [o for o in TINY_GRAPH if not o.startswith(("data=", "data.source."))]  # for other graph data


def datamodule(num_stars: int = 600, **kwargs) -> StarGraphDataModule:
    dm = StarGraphDataModule(SyntheticGaia(num_stars, seed=7), seed=7, **kwargs)
    dm.setup("fit")
    return dm


# -- layer 2: the nets -------------------------------------------------------------------------
@pytest.mark.parametrize("conv", ["sage", "gcn", "gat"])
def test_gnn_shapes_and_gradients(conv):
    torch.manual_seed(0)
    x, edge_index = torch.randn(30, 6), torch.randint(0, 30, (2, 120))
    net = GNN(6, hidden_channels=8, out_channels=3, num_layers=3, conv=conv, heads=2)
    logits = net(x, edge_index)
    assert logits.shape == (30, 3)
    logits.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_gnn_uses_the_graph():
    """A node's output changes with its neighbours' features, and not with a stranger's."""
    torch.manual_seed(0)
    net = GNN(2, hidden_channels=8, out_channels=2, num_layers=1, dropout=0.0).eval()
    x = torch.randn(3, 2)
    edge_index = torch.tensor([[1], [0]])  # 1 -> 0
    base = net(x, edge_index)
    x2 = x.clone()
    x2[1] += 1.0
    assert not torch.allclose(net(x2, edge_index)[0], base[0])
    x3 = x.clone()
    x3[2] += 1.0
    assert torch.allclose(net(x3, edge_index)[0], base[0])


@pytest.mark.parametrize("init", ["kaiming", "xavier", "default"])
def test_gnn_init_schemes(init):
    torch.manual_seed(0)
    net = GNN(6, hidden_channels=64, out_channels=3, init=init)
    lin = net.convs[0].lin_l
    std = float(lin.weight.detach().std())
    if init == "kaiming":  # He normal: std = sqrt(2 / fan_in)
        assert std == pytest.approx(math.sqrt(2 / 6), rel=0.2)
    elif init == "xavier":  # Glorot uniform: std = sqrt(2 / (fan_in + fan_out))
        assert std == pytest.approx(math.sqrt(2 / 70), rel=0.2)
    if init != "default":
        assert float(lin.bias.abs().sum()) == 0.0


@pytest.mark.parametrize("kwargs,match", [
    ({"conv": "gin"}, r"model.net.conv='gin' is not one of sage, gcn, gat"),
    ({"conv": "gat", "hidden_channels": 30, "heads": 4}, r"hidden_channels=30 must be a multiple of model.net.heads=4"),
    ({"num_layers": 0}, r"model.net.num_layers=0 must be a positive integer"),
    ({"dropout": 1.0}, r"model.net.dropout=1.0 must be in \[0, 1\)"),
])
def test_gnn_bad_arguments(kwargs, match):
    with pytest.raises(UserError, match=match):
        GNN(6, out_channels=3, **kwargs)


# -- the synthetic catalogue ------------------------------------------------------------------
def test_synthetic_catalogue_is_seeded_and_sized():
    a, b = SyntheticGaia(500, seed=1).frame(), SyntheticGaia(500, seed=1).frame()
    pd.testing.assert_frame_equal(a, b)
    assert not SyntheticGaia(500, seed=2).frame()[GAIA_FEATURES].equals(a[GAIA_FEATURES])
    assert len(a) == 500 and set(GAIA_FEATURES + ["ra", "dec", "label"]) <= set(a.columns)
    counts = a["label"].value_counts()
    assert counts["field"] == 350 and counts["young_cluster"] + counts["old_cluster"] == 150
    assert a["phot_g_mean_mag"].max() < 19.1  # the magnitude limit, up to photometric noise
    table = SyntheticGaia(500, seed=1).load()
    assert table.positions.shape == (500, 3) and table.features.shape == (500, 5)
    assert table.class_names == ["field", "young_cluster", "old_cluster"]


@pytest.mark.parametrize("mag_limit", [19.0, 12.0])
def test_every_synthetic_star_is_within_the_magnitude_limit(mag_limit):
    """Stars that 100 redraws left fainter than the limit stayed as drawn: 2 of 3,000 at G up to 24.4 with the default
    limit, 586 with mag_limit=12 (G 34, a parallax's noise of hundreds of mas). Now they are seen at the limit."""
    frame = SyntheticGaia(3000, mag_limit=mag_limit).frame()
    assert frame["phot_g_mean_mag"].max() < mag_limit + 0.05  # up to photometric noise
    assert frame["parallax"].max() < 100  # no star within 10 pc: the disc's stars lie 80 pc or more away on average


def test_cluster_members_move_together():
    """Members of a cluster share proper motions far more closely than field stars do."""
    frame = SyntheticGaia(3000, seed=3).frame()
    field_spread = frame.loc[frame.label == "field", "pmra"].std()
    assert field_spread > 5.0  # mas/yr: tens of km/s at a few hundred pc
    table = SyntheticGaia(3000, seed=3).load()
    neighbours, _ = knn_table(table.positions, 5)
    members = np.flatnonzero(table.labels > 0)
    same = table.labels[neighbours[members]] == table.labels[members, None]
    assert same.mean() > 0.6  # a member's nearest stars are mostly members of its kind


def test_astrometry_agrees_with_astropy():
    astropy_units = pytest.importorskip("astropy.units")
    from astropy.coordinates import ICRS, CartesianDifferential, CartesianRepresentation, Galactic

    u = astropy_units
    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(-800, 800, (20, 3)), rng.normal(0, 30, (20, 3))
    icrs = Galactic(CartesianRepresentation(pos.T * u.pc, differentials=CartesianDifferential(vel.T * u.km / u.s))
                    ).transform_to(ICRS())
    ra, dec, parallax, pmra, pmdec = _astrometry(pos, vel)
    np.testing.assert_allclose(ra, icrs.ra.deg, atol=1e-6)
    np.testing.assert_allclose(dec, icrs.dec.deg, atol=1e-6)
    np.testing.assert_allclose(parallax, 1000 / icrs.distance.pc, rtol=1e-9)
    np.testing.assert_allclose(pmra, icrs.pm_ra_cosdec.to_value(u.mas / u.yr), atol=1e-5)
    np.testing.assert_allclose(pmdec, icrs.pm_dec.to_value(u.mas / u.yr), atol=1e-5)


def test_sky_to_cartesian():
    xyz = sky_to_cartesian(np.array([0.0, 90.0, 0.0]), np.array([0.0, 0.0, 90.0]), np.array([2.0, 1.0, -0.3]), 0.05)
    np.testing.assert_allclose(xyz, [[500, 0, 0], [0, 1000, 0], [0, 0, 20000]], atol=1e-9)


# -- the kNN graph, splits and scaling ----------------------------------------------------------
def test_knn_table_matches_brute_force():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3))
    points[10] = points[11]  # a duplicate position must not make a star its own neighbour
    neighbours, distances = knn_table(points, 6)
    assert neighbours.shape == (200, 6) and (neighbours != np.arange(200)[:, None]).all()
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(np.sort(distances, axis=1), np.sort(d, axis=1)[:, :6], atol=1e-12)
    assert 11 in neighbours[10] and 10 in neighbours[11]


def test_a_long_neighbour_search_says_how_far_it_is(monkeypatch, caplog):
    """A million stars' search ran ~100 s on a busy machine between its announcement and the graph's line,
    silent; in chunks it reports every PROGRESS_S seconds, and finds the same neighbours."""
    import trainlab.data.graph.subgraphs as subgraphs

    points = np.random.default_rng(0).normal(size=(1000, 3))
    whole = knn_table(points, 6)
    monkeypatch.setattr(subgraphs, "QUERY_CHUNK", 300)
    monkeypatch.setattr(subgraphs, "PROGRESS_S", 0.0)
    with caplog.at_level("INFO", logger="trainlab.data.graph.subgraphs"):
        chunked = knn_table(points, 6, workers=1)
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        "nearest neighbours: 300 of 1000 stars (30%)", "nearest neighbours: 600 of 1000 stars (60%)",
        "nearest neighbours: 900 of 1000 stars (90%)"]
    assert "s left" in caplog.records[0].getMessage()
    np.testing.assert_array_equal(chunked[0], whole[0])
    np.testing.assert_array_equal(chunked[1], whole[1])


def test_graph_edges_masks_and_sizes():
    dm = datamodule(600, k=8)
    g = dm.graph
    assert g.num_edges == 600 * 8
    assert torch.equal(torch.bincount(g.edge_index[1], minlength=600), torch.full((600,), 8))  # in-degree k
    assert not (g.edge_index[0] == g.edge_index[1]).any()
    masks = torch.stack([g.train_mask, g.val_mask, g.test_mask]).long()
    assert torch.equal(masks.sum(0), torch.ones(600, dtype=torch.long))  # every star in exactly one split
    for c in range(3):  # stratified: each class split 70 / 15 / 15
        members = g.y == c
        share = float(g.test_mask[members].float().mean())
        assert share == pytest.approx(0.15, abs=0.02)
    assert dm.dims == {"in": 5, "out": 3}
    assert dm.model_kwargs() == {"class_names": ["field", "young_cluster", "old_cluster"]}
    again = datamodule(600, k=8)
    assert torch.equal(again.graph.test_mask, g.test_mask)  # seeded


def test_scaling_is_fit_on_training_stars_and_checkpointed():
    dm = datamodule(600, density_feature=True)
    x = dm.graph.x
    assert dm.dims["in"] == 6
    torch.testing.assert_close(x[dm.graph.train_mask].mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(x[dm.graph.train_mask].std(0, unbiased=False), torch.ones(6), atol=1e-4, rtol=0)
    assert x[dm.graph.test_mask].mean(0).abs().max() > 1e-3  # test stars were not used
    state = dm.state_dict()
    other = StarGraphDataModule(SyntheticGaia(600, seed=7), seed=7, density_feature=True)
    other.load_state_dict({k: [v * 2 for v in values] if k == "feature_mean" else values
                           for k, values in state.items()})
    other.setup("fit")
    assert not torch.allclose(other.graph.x, x)  # the checkpoint's statistics win over refitting
    other.load_state_dict(state)  # after setup: rescaled in place
    torch.testing.assert_close(other.graph.x, x)


# -- sampled subgraphs --------------------------------------------------------------------------
def test_ego_nets_equal_k_hop_subgraph():
    from torch_geometric.utils import k_hop_subgraph

    dm = datamodule(600, k=5)
    seeds = torch.tensor([3, 50, 51, 400])
    batch = EgoNets(dm.graph, dm.neighbours, num_hops=2)(seeds)
    subset, edge_index, _, _ = k_hop_subgraph(seeds, 2, dm.graph.edge_index, relabel_nodes=True, num_nodes=600)
    assert torch.equal(batch.n_id, subset)  # both sorted
    assert set(map(tuple, batch.edge_index.t().tolist())) == set(map(tuple, edge_index.t().tolist()))
    assert torch.equal(batch.n_id[batch.target_mask], seeds)
    assert torch.equal(batch.x, dm.graph.x[subset])


def test_sampled_training_batches_fit_the_budget_and_cover_every_training_star():
    dm = datamodule(600, k=5, max_nodes_per_graph=100, batch_size=64)
    assert dm.sampled and dm.batches.seeds_per_batch() == 100 // ego_net_bound(5, 2) == 3
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(0)
    seen = []
    for batch in loader:
        assert batch.num_nodes <= 100
        seen.append(batch.n_id[batch.target_mask])
    seen = torch.cat(seen)
    assert torch.equal(seen.sort().values, dm.graph.train_mask.nonzero().reshape(-1))

    def first_seeds(epoch: int) -> torch.Tensor:  # the order is drawn from (seed, epoch) alone
        loader.sampler.set_epoch(epoch)
        batch = next(iter(loader))
        return batch.n_id[batch.target_mask]

    assert torch.equal(first_seeds(1), first_seeds(1)) and not torch.equal(first_seeds(0), first_seeds(1))


def test_fanout_bounds_the_ego_nets():
    dm = datamodule(600, k=10, max_nodes_per_graph=100, fanout=3, num_hops=2)
    assert dm.batches.seeds_per_batch() == 100 // (1 + 3 + 9)
    for batch in dm.train_dataloader():
        assert batch.num_nodes <= 100


def test_ego_nets_too_big_for_the_budget():
    with pytest.raises(UserError, match=r"holds up to 111 nodes, more than hardware.max_nodes_per_graph=100; set data.fanout"):
        datamodule(600, k=10, max_nodes_per_graph=100, num_hops=2, sampler="ego")  # at setup, before any training


def test_node_budget_too_small_stops_before_training(compose_cfg, run_train):
    cfg = compose_cfg([*TINY_GRAPH, "hardware.max_nodes_per_graph=50"])
    with pytest.raises(UserError, match=r"holds up to 111 nodes, more than hardware.max_nodes_per_graph=50"):
        run_train(cfg)
    assert not (Path(cfg.paths.output_dir) / "resolved_config.yaml").exists()  # stopped before the trainer


def test_random_node_parts():
    dm = datamodule(600, max_nodes_per_graph=150, sampler="random_nodes")
    parts = list(dm.train_dataloader())
    assert len(parts) == 4 and all(p.num_nodes <= 150 for p in parts)
    assert sum(int(p.target_mask.sum()) for p in parts) == int(dm.graph.train_mask.sum())


@pytest.mark.parametrize("conv", ["sage", "gat"])
def test_sampled_evaluation_equals_the_whole_graph(conv):
    """Ego nets with every neighbour give each star exactly its whole-graph prediction."""
    torch.manual_seed(0)
    full = datamodule(600, k=6)
    sampled = datamodule(600, k=6, max_nodes_per_graph=120)
    net = GNN(5, hidden_channels=8, out_channels=3, num_layers=2, conv=conv, heads=2).eval()
    whole = net(full.graph.x, full.graph.edge_index)
    covered = []
    for batch in sampled.val_dataloader():
        assert batch.num_nodes <= 2 * 120
        ids = batch.n_id[batch.target_mask]
        torch.testing.assert_close(net(batch.x, batch.edge_index)[batch.target_mask], whole[ids], atol=1e-5, rtol=1e-5)
        covered.append(ids)
    assert torch.equal(torch.cat(covered).sort().values, full.graph.val_mask.nonzero().reshape(-1))


# -- bad input ------------------------------------------------------------------------------------
def catalogue_file(tmp_path: Path, frame: pd.DataFrame, suffix: str = ".csv") -> str:
    path = tmp_path / f"stars{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    return str(path)


def catalogue_overrides(path: str, *extra: str) -> list[str]:
    return [*TINY_GNN, "data=catalogue", f"data.source.path={path}", "data.source.label_column=label", *extra]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_catalogue_file_trains(compose_cfg, run_train, tmp_path, suffix):
    pytest.importorskip("pyarrow") if suffix == ".parquet" else None
    path = catalogue_file(tmp_path, SyntheticGaia(400, seed=5).frame(), suffix)
    metrics = run_train(compose_cfg(catalogue_overrides(path, "debug=fdr")))
    assert {"val/accuracy", "test/f1_macro"} <= set(metrics)


def test_catalogue_classes_in_given_order(tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    path = catalogue_file(tmp_path, frame)
    given = StarCatalogue(path, "label", classes=["old_cluster", "field", "young_cluster"]).load()
    assert given.class_names == ["old_cluster", "field", "young_cluster"]
    assert (np.asarray(given.class_names)[given.labels] == frame["label"].to_numpy()).all()
    assert StarCatalogue(path, "label").load().class_names == ["field", "old_cluster", "young_cluster"]  # sorted


def test_catalogue_missing_column(compose_cfg, run_train, tmp_path):
    path = catalogue_file(tmp_path, SyntheticGaia(300, seed=5).frame().drop(columns=["pmdec"]))
    with pytest.raises(UserError, match=r"data.source.feature_columns: \['pmdec'\] not in '.*stars.csv'; its columns are"):
        run_train(compose_cfg(catalogue_overrides(path)))


def test_catalogue_missing_label_column(compose_cfg, run_train, tmp_path):
    path = catalogue_file(tmp_path, SyntheticGaia(300, seed=5).frame())
    with pytest.raises(UserError, match=r"data.source.label_column: 'member' not in '.*stars.csv'; its columns are \['source_id'"):
        run_train(compose_cfg(catalogue_overrides(path, "data.source.label_column=member")))


def test_catalogue_unknown_label(compose_cfg, run_train, tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    frame.loc[17, "label"] = "globular"
    path = catalogue_file(tmp_path, frame)
    with pytest.raises(UserError, match=r"row 17 has label 'globular' in column 'label', which is not one of "
                                        r"data.source.classes \['field', 'young_cluster', 'old_cluster'\] \(1 such star"):
        run_train(compose_cfg(catalogue_overrides(path, "data.source.classes=[field,young_cluster,old_cluster]")))


def test_catalogue_nan_in_features_with_missing_error(compose_cfg, run_train, tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    frame.loc[[5, 9], "bp_rp"] = np.nan
    path = catalogue_file(tmp_path, frame)
    with pytest.raises(UserError, match=r"has 2 star\(s\) with missing values in \['bp_rp'\] \(first at row 5\); "
                                        r"data.source.missing=impute keeps them"):
        run_train(compose_cfg(catalogue_overrides(path, "data.source.missing=error")))


def test_catalogue_missing_label(tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    frame.loc[8, "label"] = None
    with pytest.raises(UserError, match=r"1 star\(s\) without a label in column 'label' \(first at row 8\)"):
        StarCatalogue(catalogue_file(tmp_path, frame), "label").load()


def test_catalogue_text_in_a_feature(tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    frame["pmra"] = frame["pmra"].astype(object)
    frame.loc[4, "pmra"] = "faint?"
    with pytest.raises(UserError, match=r"column 'pmra' in '.*stars.csv' is not numeric \(row 4: 'faint\?'\)"):
        StarCatalogue(catalogue_file(tmp_path, frame), "label").load()


def test_catalogue_missing_file_and_required_keys(compose_cfg, run_train, tmp_path):
    with pytest.raises(UserError, match=r"data.source.path: file not found: '.*nope.csv'"):
        run_train(compose_cfg(catalogue_overrides(str(tmp_path / "nope.csv"))))
    with pytest.raises(UserError, match=r"data.source.path has no value \(\?\?\? in the config\)"):
        run_train(compose_cfg([*TINY_GNN, "data=catalogue"]))


def test_catalogue_cartesian_positions(tmp_path):
    frame = SyntheticGaia(300, seed=5).frame()
    frame["x"], frame["y"], frame["z"] = np.random.default_rng(0).normal(size=(3, 300))
    table = StarCatalogue(catalogue_file(tmp_path, frame), "label", position="cartesian").load()
    np.testing.assert_allclose(table.positions, frame[["x", "y", "z"]].to_numpy(), rtol=1e-6)
    with pytest.raises(UserError, match=r"data.source.position='galactic' is not one of sky, cartesian"):
        StarCatalogue(catalogue_file(tmp_path, frame), "label", position="galactic").load()


def test_too_few_stars_for_k():
    """It said 'lower data.k' without how far: a 6-star catalogue's user tried data.k=8, 7, 6."""
    with pytest.raises(UserError, match=r"has 60 stars; data.k=80 neighbours need at least 81: lower data.k "
                                        r"\(data.k=59 at most for these stars\) or use a larger catalogue$"):
        StarGraphDataModule(SyntheticGaia(60), k=80).setup()


# -- layer 3 and behaviour: real runs -------------------------------------------------------------
def test_gaia_classifier_is_the_seed(compose_cfg):
    cfg = compose_cfg(["experiment=gaia_classifier"])
    assert cfg.optimizer.lr == pytest.approx(1e-3) and cfg.data.batch_size == 64
    assert cfg.model.net._target_.endswith("GNN") and cfg.data.num_hops == cfg.model.net.num_layers
    assert cfg.data.max_nodes_per_graph is None  # hardware=cpu: whole-graph batches
    laptop = compose_cfg(["experiment=gaia_classifier", "hardware=rtx4070_mobile"])
    assert laptop.data.max_nodes_per_graph == 1000  # the seed's laptop: sampled subgraphs


@pytest.mark.parametrize("sampler,conv", [("ego", "sage"), ("ego", "gcn"), ("random_nodes", "gat")])
def test_fast_dev_run_on_sampled_subgraphs(compose_cfg, run_train, sampler, conv, caplog):
    overrides = [*TINY_GRAPH, "hardware.max_nodes_per_graph=200", f"data.sampler={sampler}", f"model.net.conv={conv}",
                 "trainer.fast_dev_run=3"]
    with caplog.at_level("INFO", logger="trainlab.callbacks.records"):
        metrics = run_train(compose_cfg(overrides))
    assert {"val/loss", "test/accuracy"} <= set(metrics)
    if sampler == "random_nodes":  # it said "effective batch 256 = data.batch_size 256 x ...", a setting unused here
        assert re.search(r"effective batch \d+: a random node part of <= 200 nodes, x trainer.accumulate_grad_batches "
                         r"1 x 1 process\(es\); data.batch_size=256 applies to data.sampler=ego only", caplog.text)


def test_a_training_steps_batch_is_said_where_it_is_not_data_batch_size():
    """The effective-batch line named data.batch_size for every graph run: 'effective batch 64 = data.batch_size 64
    x ...' for a graph that trains whole, where data.batch_size is read by nothing (a setting ignored without a word)."""
    from trainlab.data.graph.batching import BatchPlan

    def plan(budget, sampler="ego", batch_size=64):
        return BatchPlan(sampler, k=4, num_hops=2, fanout=None, max_nodes_per_graph=budget, batch_size=batch_size,
                         val_batch_multiplier=2)

    assert plan(None).step_note(500, 350) == (
        "the whole graph, its 350 training stars",
        "data.batch_size=64 applies only to a graph sampled above hardware.max_nodes_per_graph (null: none is)")
    assert plan(1000).step_note(500, 350)[1].endswith("hardware.max_nodes_per_graph (1000)")
    assert plan(200, "random_nodes").step_note(500, 350)[0] == "a random node part of <= 200 nodes"
    assert plan(200).step_note(500, 350) == (  # ego nets of 1 + 4 + 16 nodes: 9 seeds fit 200
        "9 seed stars", "data.batch_size=64 capped so that their ego nets fit hardware.max_nodes_per_graph=200")
    assert plan(200, batch_size=8).step_note(500, 350) is None  # data.batch_size seeds a batch: the plain line


def test_the_effective_batch_counts_what_a_graph_step_trains_on(caplog):
    """training_summary.json's effective_batch_size was data.batch_size x accumulation x processes for every graph
    run: 64 for a graph that trains whole on its 350 training stars. A resume of a checkpoint recorded so, with the
    same settings, is not warned of another effective batch."""
    import logging

    from trainlab.callbacks.effective_batch import warn_other_batch
    from trainlab.data.graph.batching import BatchPlan

    def plan(budget, sampler="ego", batch_size=64):
        return BatchPlan(sampler, k=4, num_hops=2, fanout=None, max_nodes_per_graph=budget, batch_size=batch_size,
                         val_batch_multiplier=2)

    assert plan(None).step_samples(500, 350, 1) == 350 and plan(None).step_samples(500, 350, 2) == 350  # one graph
    assert plan(200, "random_nodes").step_samples(500, 350, 1) == 117  # 3 parts of the 500 stars
    assert plan(200).step_samples(500, 350, 2) == 18 and plan(200, batch_size=8).step_samples(500, 350, 1) == 8
    old = {"batch_size": 64, "accumulate_grad_batches": 1, "processes": 1, "effective_batch_size": 64}
    now = {**old, "step_samples": 350, "effective_batch_size": 350}
    with caplog.at_level(logging.WARNING, logger="trainlab.callbacks.effective_batch"):
        warn_other_batch(old, now)
        assert caplog.messages == []
        warn_other_batch(old, {**now, "accumulate_grad_batches": 2, "effective_batch_size": 700})
    assert caplog.messages[0].startswith("the checkpoint's run had other batch settings (trainer.accumulate_grad_"
                                         "batches 1 -> 2)")


def test_records_count_labelled_nodes(compose_cfg, run_train):
    from trainlab.config.instantiate import build

    cfg = compose_cfg([*TINY_GRAPH, "hardware.max_nodes_per_graph=200", "data.k=4", "data.batch_size=8"])
    run_train(cfg)
    records = [json.loads(line) for line in (Path(cfg.paths.output_dir) / "epochs.jsonl").read_text().splitlines()]
    dm = build(cfg.data, "data")
    dm.setup()
    train_stars = int(dm.graph.train_mask.sum())
    for r in records:  # samples/s x seconds = training stars per epoch, not batches or context nodes
        assert r["samples_per_second"] * r["seconds"] == pytest.approx(train_stars, rel=0.02)
        assert {"val/accuracy", "val/f1_macro", "val/mcc", "val/balanced_accuracy"} <= set(r)


@pytest.mark.slow  # 8 s: a real training run (make test kept under 10 min)
def test_short_run_beats_the_majority_class(compose_cfg, run_train):
    """The default data and model, 60 full-graph epochs: test accuracy clearly above calling every
    star 'field' (the majority class, 70% of the stars)."""
    from trainlab.config.instantiate import build

    cfg = compose_cfg(["model=gnn", "data=gaia", "trainer.max_epochs=60", "optimizer.lr=0.01", "logger=none", *QUIET])
    metrics = run_train(cfg)
    dm = build(cfg.data, "data")
    majority = dm.majority_accuracy("test")
    assert majority == pytest.approx(0.70, abs=0.01)
    assert metrics["test/accuracy"] > majority + 0.15, (metrics["test/accuracy"], majority)
    assert metrics["test/f1_macro"] > 0.75 and metrics["test/auroc"] > 0.9


def test_evaluate_a_graph_run(compose_cfg, run_train):
    import evaluate as evaluate_script
    from trainlab.config.instantiate import build

    train_cfg = compose_cfg([*TINY_GRAPH, "optimizer.lr=0.01", "trainer.max_epochs=3"])
    trained = run_train(train_cfg)
    eval_cfg = compose_cfg([f"ckpt_path={train_cfg.paths.output_dir}"], config_name="eval")
    report = evaluate_script.evaluate(eval_cfg)
    out_dir = Path(eval_cfg.paths.output_dir)
    assert report["plots"] == ["test_confusion_matrix.png", "test_roc.png", "test_pr.png", "test_map.png"]
    for name in report["plots"]:
        assert (out_dir / name).read_bytes()[:4] == b"\x89PNG"
    assert report["metrics"]["test/accuracy"] == pytest.approx(trained["test/accuracy"], abs=1e-6)
    assert report["extra"]["baseline_majority_class"] == "field"
    assert report["extra"]["baseline_majority_accuracy"] == pytest.approx(0.70, abs=0.01)
    dm = build(train_cfg.data, "data")
    dm.setup()
    assert report["extra"]["test_nodes"] == int(dm.graph.test_mask.sum())
    assert report["latency"]["samples_per_second"] > 0
    # a whole-graph step averages over the training stars: it recorded data.batch_size (64) x 1 x 1
    summary = json.loads((Path(train_cfg.paths.output_dir) / "training_summary.json").read_text())
    stars = int(dm.graph.train_mask.sum())
    assert (summary["effective_batch_size"], summary["step_samples"], summary["batch_size"]) == (
        stars, stars, train_cfg.data.batch_size)


def test_figures_reach_tensorboard(compose_cfg, run_train):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_cfg([*TINY_GRAPH, "model.figures_every_n_epochs=1"])
    run_train(cfg)
    events = next((Path(cfg.paths.output_dir) / "tensorboard").rglob("events.out.tfevents.*"))
    tags = EventAccumulator(str(events.parent), size_guidance={"images": 0}).Reload().Tags()["images"]
    assert {f"{s}/{n}" for s in ("val", "test") for n in ("confusion_matrix", "roc", "pr")} <= set(tags)


@pytest.mark.parametrize("end", [0, -1], ids=["low", "high"])
def test_search_space_of_the_gnn(compose_cfg, end):
    """The space's keys exist, and every parameter at its lowest (or highest) value at once gives a
    net that runs on ego nets within the seed's laptop budget (1000 nodes)."""
    from optuna.distributions import CategoricalDistribution

    from trainlab.config.instantiate import build
    from trainlab.run.pipeline import build_net
    from trainlab.search.space import check_keys, parse_space

    cfg = compose_cfg(["hparams_search=optuna", "experiment=gaia_classifier"])
    space, fixed = parse_space(cfg.hydra.sweeper.params, None, [])
    assert {"model.net.conv", "model.net.hidden_channels", "model.net.num_layers", "optimizer.lr"} <= set(space)
    check_keys(cfg, space)
    picked = [f"{key}={d.choices[end] if isinstance(d, CategoricalDistribution) else (d.low, d.high)[end]}"
              for key, d in space.items()]
    cfg = compose_cfg(["model=gnn", "data=gaia", "data.source.num_stars=1500", "hardware.max_nodes_per_graph=1000",
                       *picked])
    dm = build(cfg.data, "data")
    dm.setup("fit")
    net = build_net(cfg, dm)
    assert dm.sampled
    batch = next(iter(dm.train_dataloader()))
    assert batch.num_nodes <= 1000
    assert net(batch.x, batch.edge_index).shape == (batch.num_nodes, 3)
