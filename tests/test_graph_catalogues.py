"""Star catalogues as they come from Gaia: missing values, identifiers, extra columns, and the
features-only baseline that shows what the graph adds."""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_graph import QUIET, catalogue_file, catalogue_overrides
from trainlab.config.errors import UserError
from trainlab.data.graph.catalogue import GAIA_FEATURES, StarCatalogue
from trainlab.data.graph.synthetic import SyntheticGaia
from trainlab.data.graph.module import StarGraphDataModule

BIG_ID = 2**62 + 1  # Gaia DR3 source_ids reach ~6.9e18; a float64 keeps integers exactly only up to 2^53


def gaia_like(num_stars: int = 600, seed: int = 5, colour_gaps: int = 40, parallax_gaps: int = 10) -> pd.DataFrame:
    """A Gaia DR3-like export: source_id above 2^53, extra columns, missing BP-RP and parallaxes."""
    frame = SyntheticGaia(num_stars, seed=seed).frame()
    rng = np.random.default_rng(seed)
    frame["source_id"] = BIG_ID + 2 * np.arange(num_stars, dtype=np.int64)  # neighbours differ by 2: beyond float64
    frame["parallax_error"] = 0.1
    frame["ruwe"] = rng.uniform(0.8, 1.4, num_stars)
    frame.loc[rng.choice(num_stars, colour_gaps, replace=False), "bp_rp"] = np.nan
    frame.loc[rng.choice(num_stars, parallax_gaps, replace=False), "parallax"] = np.nan
    return frame


def write(tmp_path: Path, frame: pd.DataFrame, suffix: str = ".csv") -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return catalogue_file(tmp_path, frame, suffix)


def test_catalogue_with_gaps_trains_with_defaults_and_records_the_counts(compose_cfg, run_train, tmp_path):
    frame = gaia_like()
    colour_gaps = frame["bp_rp"].isna() & frame["parallax"].notna()
    cfg = compose_cfg(catalogue_overrides(write(tmp_path, frame)))
    metrics = run_train(cfg)
    assert np.isfinite(metrics["test/accuracy"])
    summary = json.loads((Path(cfg.paths.output_dir) / "training_summary.json").read_text())
    details = summary["baselines"]["details"]
    assert details["left_out"] == {"without a position": 10}  # no parallax: cannot be placed (position=sky)
    assert details["missing_values"] == {"bp_rp": int(colour_gaps.sum())}  # kept and imputed
    # imputation values and indicator columns are fixed on the training stars and stored in the checkpoint
    ckpt = torch.load(next((Path(cfg.paths.output_dir) / "checkpoints").glob("last*.ckpt")), weights_only=False)
    state = ckpt["StarGraphDataModule"]
    assert state["indicator_columns"] == ["bp_rp"] and len(state["feature_mean"]) == 6
    dm = StarGraphDataModule(StarCatalogue(cfg.data.source.path, "label"), seed=cfg.seed)
    dm.setup()
    train_colours = dm.table.features[dm.masks["train"], 4]
    assert state["impute_value"][4] == pytest.approx(float(np.nanmedian(train_colours)))
    assert dm.feature_names[-1] == "bp_rp_missing"
    flag = dm.graph.x[:, 5]  # standardised 0/1: two values, the larger one where bp_rp was missing
    missing = torch.from_numpy(np.isnan(dm.table.features[:, 4]))
    assert bool((flag[missing] > flag[~missing].max()).all())


def test_checkpointed_imputation_wins_over_refitting(tmp_path):
    path = write(tmp_path, gaia_like())
    dm = StarGraphDataModule(StarCatalogue(path, "label"), seed=1)
    dm.setup()
    state = dm.state_dict()
    other = StarGraphDataModule(StarCatalogue(path, "label"), seed=2)  # another split would fit other medians
    other.load_state_dict(state)
    other.setup()
    assert other.indicator_columns == ["bp_rp"]
    np.testing.assert_array_equal(other.impute_value, dm.impute_value)
    refit = StarGraphDataModule(StarCatalogue(path, "label"), seed=2)
    refit.setup()
    assert not np.array_equal(refit.impute_value, dm.impute_value)


def test_missing_drop_and_error(tmp_path):
    frame = gaia_like()
    path = write(tmp_path, frame)
    kept = StarCatalogue(path, "label", missing="drop").load()
    complete = frame[["bp_rp", "parallax"]].notna().all(axis=1)
    assert len(kept.labels) == int(complete.sum()) and not np.isnan(kept.features).any()
    assert kept.left_out == {"without a position": 10, "missing features (missing=drop)": int((~complete).sum()) - 10}
    np.testing.assert_array_equal(kept.ids, frame.loc[complete, "source_id"].to_numpy())
    with pytest.raises(UserError, match=r"has 10 star\(s\) without a position \(10 without parallax; first at row \d+\); "
                                        r"data.source.missing=impute or drop leaves them out"):
        StarCatalogue(path, "label", missing="error").load()
    placed = write(tmp_path, frame.dropna(subset=["parallax"]).reset_index(drop=True), ".csv")
    with pytest.raises(UserError, match=r"has 4\d star\(s\) with missing values in \['bp_rp'\]"):
        StarCatalogue(placed, "label", missing="error").load()
    with pytest.raises(UserError, match=r"data.source.missing='fill' is not one of impute, drop, error"):
        StarCatalogue(path, "label", missing="fill")


def test_cartesian_catalogue_imputes_a_missing_parallax(tmp_path):
    frame = gaia_like()
    frame["x"], frame["y"], frame["z"] = np.random.default_rng(0).normal(size=(3, len(frame)))
    dm = StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label", position="cartesian"), seed=3)
    dm.setup()
    assert dm.graph.num_nodes == len(frame)  # every star placed: the parallax is only a feature here
    assert dm.feature_names[5:] == ["parallax_missing", "bp_rp_missing"]
    assert dm.missing_counts() == {"parallax": 10, "bp_rp": 40}
    assert torch.isfinite(dm.graph.x).all()


def test_a_column_without_training_values_is_refused(tmp_path):
    frame = gaia_like()
    frame["bp_rp"] = np.nan
    with pytest.raises(UserError, match=r"no training star of 'stars' has a value in \['bp_rp'\]; leave it out"):
        StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label"), seed=3).setup()


def test_a_catalogue_that_loses_every_star_or_a_class_says_which_column_emptied_it(tmp_path):
    # every parallax missing (a two-parameter export): every star was left out, and the refusal said
    # "has only the class [] in column 'label'"
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    with pytest.raises(UserError, match=r"no star of '.*' can be placed in the graph: all 200 lack a position \(200 "
                                        r"without parallax\); fill parallax, or place the stars on the sky alone: "
                                        r"data.source.position_columns=\[ra,dec\] \(and parallax out of"):
        StarCatalogue(write(tmp_path, frame.assign(parallax=np.nan)), "label").load()
    with pytest.raises(UserError, match=r"no star of '.*' is left: data.source.missing=drop left out all 200 placed "
                                        r"stars for missing features \(bp_rp 200\); data.source.missing=impute"):
        StarCatalogue(write(tmp_path, frame.assign(bp_rp=np.nan)), "label", missing="drop").load()
    # the stars of all but one class without a parallax: the class count says what was left out
    gone = frame.assign(parallax=frame["parallax"].where(frame["label"] == "field"))
    lost = int((frame["label"] != "field").sum())
    with pytest.raises(UserError, match=rf"has only the class \['field'\] in column 'label' among the {200 - lost} "
                                        rf"stars kept \(left out {lost} of 200: {lost} without a position\)"):
        StarCatalogue(write(tmp_path, gone), "label").load()


@pytest.mark.parametrize("columns", [["ra", "dec", "parallax"], ["ra", "dec"]])
def test_a_catalogue_whose_stars_are_all_at_one_position_is_refused(tmp_path, columns):
    """A query's centre copied onto every row (or a constant column named as a position) gave a graph that joined
    stars by file order, trained and scored without a word."""
    frame = gaia_like(colour_gaps=0, parallax_gaps=0)
    frame[columns] = [10.5, -20.25, 1.5][: len(columns)]
    where = ", ".join(f"{c}={v:g}" for c, v in zip(columns, [10.5, -20.25, 1.5]))
    with pytest.raises(UserError, match=rf"^every star of '.*' is at one position \({where}\): the neighbour graph "
                                        r"would join stars at random; give each star's own position"):
        StarCatalogue(write(tmp_path, frame), "label", position_columns=columns).load()


def test_a_feature_value_that_flattens_the_other_stars_into_one_float32_value_is_refused(tmp_path):
    # one pmra of 1e12 (an error code) left every other training star's pmra one float32 value in standard
    # units, and the run trained on without a word
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    frame.loc[7, "pmra"] = 1e12
    dm = StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label"), seed=3)
    with pytest.raises(UserError, match=rf"a few extreme values set the scaling of the training stars of 'stars': 'pmra' "
                                        rf"1e\+12 at source_id {BIG_ID + 14} \(std .*: its \d+ distinct training values "
                                        r"become [12] in float32 standard units\); .*\(data.source.missing imputes it\)"):
        dm.setup()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_source_id_is_exact_and_never_a_feature(tmp_path, suffix):
    pytest.importorskip("pyarrow") if suffix == ".parquet" else None
    frame = gaia_like(colour_gaps=0, parallax_gaps=0)
    table = StarCatalogue(write(tmp_path, frame, suffix), "label").load()
    assert table.id_name == "source_id" and table.ids.dtype == np.int64
    np.testing.assert_array_equal(table.ids, frame["source_id"].to_numpy())  # exact above 2^53
    assert float(BIG_ID) == float(BIG_ID + 1) and table.ids[0] == BIG_ID  # what a float would have lost
    assert "source_id" not in table.feature_names and table.features.shape[1] == 5  # extra columns ignored
    with pytest.raises(UserError, match=r"feature_columns names 'source_id', the stars' identifier"):
        StarCatalogue(write(tmp_path, frame, suffix), "label", feature_columns=["pmra", "source_id"]).load()


def test_source_id_in_capitals_is_the_identifier(tmp_path, caplog):
    """An export that writes SOURCE_ID (TOPCAT, some archive outputs) named its stars by row number in
    evaluate.py's and predict.py's files, without a word."""
    frame = gaia_like(colour_gaps=0, parallax_gaps=0).rename(columns={"source_id": "SOURCE_ID"})
    with caplog.at_level("INFO"):
        table = StarCatalogue(write(tmp_path, frame, ".csv"), "label").load()
    assert table.id_name == "SOURCE_ID" and table.ids[0] == BIG_ID
    np.testing.assert_array_equal(table.ids, frame["SOURCE_ID"].to_numpy())
    assert "column 'SOURCE_ID' taken as the stars' identifier (source_id)" in caplog.text
    both = frame.assign(source_id=np.arange(len(frame)))  # the exact name wins over another spelling
    assert StarCatalogue(write(tmp_path, both, ".csv"), "label").load().id_name == "source_id"


def test_columns_named_in_another_case_are_read_as_the_settings_name_them(tmp_path, caplog):
    """A FITS table (or an archive's export) writes RA, PARALLAX, BP_RP: a run's settings name ra, parallax, bp_rp,
    so train.py needed every column renamed in data.source.*, and predict.py, whose columns are its run's, refused
    the file ('lacks column(s) [...]') with no setting to give."""
    from trainlab.prediction.graph import UnlabelledCatalogue, reading_of

    frame = gaia_like()
    lower = StarCatalogue(write(tmp_path / "lower", frame), "label").load()
    with caplog.at_level(logging.INFO), warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # pandas 3 deprecated the rename(inplace=True) it was
        upper = StarCatalogue(write(tmp_path / "upper", frame.rename(columns=str.upper)), "label").load()
    np.testing.assert_array_equal(upper.features, lower.features)
    np.testing.assert_array_equal(upper.positions, lower.positions)
    assert upper.class_names == lower.class_names and upper.id_name == "SOURCE_ID"
    assert "column(s) ['LABEL', 'RA', 'DEC', 'PARALLAX', 'PMRA', 'PMDEC', 'PHOT_G_MEAN_MAG', 'BP_RP'] read as " in caplog.text
    reading = reading_of(StarCatalogue(str(tmp_path / "lower"), "label"))
    stars = write(tmp_path / "new", frame.drop(columns="label").rename(columns=str.upper))
    np.testing.assert_array_equal(UnlabelledCatalogue(stars, reading, lower.class_names, 10).load().positions,
                                  lower.positions)
    both = frame.rename(columns={"ra": "RA"}).assign(Ra=frame["ra"])  # two candidates: none is guessed
    with pytest.raises(UserError, match=r"data.source.position_columns: \['ra'\] not in"):
        StarCatalogue(write(tmp_path / "both", both), "label").load()


def test_identifier_problems(tmp_path):
    frame = gaia_like(colour_gaps=0, parallax_gaps=0)
    as_float = frame.assign(source_id=frame["source_id"].astype(np.float64))
    with pytest.raises(UserError, match=r"column 'source_id' in '.*' holds floating-point numbers"):
        StarCatalogue(write(tmp_path, as_float), "label").load()
    with pytest.raises(UserError, match=r"data.source.id_column: 'designation' not in"):
        StarCatalogue(write(tmp_path, frame), "label", id_column="designation").load()
    rows = StarCatalogue(write(tmp_path, frame.drop(columns=["source_id"])), "label").load()
    assert rows.id_name == "row" and rows.ids.tolist() == list(range(len(frame)))


def test_mlp_shapes_and_gradients():
    from trainlab.models.nets.mlp import MLP

    net = MLP(6, hidden_channels=8, out_channels=3, num_layers=2)
    logits = net(torch.randn(10, 6))
    assert logits.shape == (10, 3)
    logits.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(UserError, match=r"model.net.num_layers=0 must be a positive integer"):
        MLP(6, num_layers=0)


def test_features_only_baseline_on_the_same_test_stars():
    dm = StarGraphDataModule(SyntheticGaia(600, seed=7), seed=7)
    baselines = dm.baselines("test")
    test = dm.graph.test_mask
    assert baselines.details["test_stars"] == int(test.sum())
    predicted = dm.features_only().predict(dm.graph.x[test]).argmax(dim=1)
    assert len(predicted) == int(test.sum())
    assert baselines.scores["features only"] == pytest.approx(float((predicted == dm.graph.y[test]).float().mean()))
    assert baselines.scores["majority class"] == pytest.approx(dm.majority_accuracy("test"))
    assert baselines.scores["features only"] > baselines.scores["majority class"]  # it learned something
    facts = baselines.details["features_only"]
    assert facts["best_epoch"] < facts["epochs_run"] <= 300  # early stopping on the validation loss
    before = torch.random.get_rng_state()
    StarGraphDataModule(SyntheticGaia(600, seed=7), seed=7).baselines("test")
    assert torch.equal(torch.random.get_rng_state(), before)  # the run's own RNG is left alone


def test_run_end_and_evaluation_report_the_baselines(compose_cfg, run_train, tmp_path, caplog):
    import evaluate as evaluate_script

    frame = gaia_like()
    train_cfg = compose_cfg(catalogue_overrides(write(tmp_path, frame), "optimizer.lr=0.01", "trainer.max_epochs=3"))
    with caplog.at_level("INFO", logger="trainlab"):
        trained = run_train(train_cfg)
    summary = json.loads((Path(train_cfg.paths.output_dir) / "training_summary.json").read_text())["baselines"]
    assert summary["metric"] == "test/accuracy" and summary["model"] == "GNN"
    assert summary["model_score"] == pytest.approx(trained["test/accuracy"])
    line = summary["line"]
    assert line.startswith(f"test accuracy: GNN {trained['test/accuracy']:.3f} | features only 0.")
    assert "| majority class 0." in line and line in caplog.text  # the run's end line
    eval_cfg = compose_cfg([f"ckpt_path={train_cfg.paths.output_dir}"], config_name="eval")
    extra = evaluate_script.evaluate(eval_cfg)["extra"]
    assert extra["baseline_features_only_accuracy"] == pytest.approx(summary["scores"]["features only"], abs=1e-6)
    assert extra["versus_baselines"].split(" | ")[1:] == line.split(" | ")[1:]
    predictions = pd.read_csv(Path(eval_cfg.paths.output_dir) / extra["predictions_file"], dtype={"source_id": np.int64})
    assert len(predictions) == extra["test_nodes"]
    assert set(predictions["source_id"]) <= set(frame["source_id"])  # exact identifiers, above 2^53
    assert predictions["source_id"].min() >= BIG_ID
    assert list(predictions.columns) == ["source_id", "label", "predicted", "p_field", "p_old_cluster",
                                         "p_young_cluster"]


# -- what the graph adds (real training runs) ------------------------------------------------------
# The README's graph command: 200 full-graph epochs at lr 0.01, early stopping given room (one step per epoch)
GRAPH_RUN = ["model=gnn", "trainer.max_epochs=200", "optimizer.lr=0.01", "callbacks.early_stopping.patience=20",
             "logger=none", *QUIET]


def gnn_and_baselines(cfg, run_train) -> tuple[float, dict[str, float]]:
    metrics = run_train(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "training_summary.json").read_text())
    return metrics["test/accuracy"], summary["baselines"]["scores"]


@pytest.mark.slow
def test_the_graph_adds_at_least_5_points_on_the_default_catalogue(compose_cfg, run_train):
    """The synthetic catalogue's claim: members share their neighbours' motion, so the GNN beats a
    model of each star's own features clearly (with 50-member clusters it did not: see SyntheticGaia)."""
    gnn, scores = gnn_and_baselines(compose_cfg(["data=gaia", *GRAPH_RUN]), run_train)
    print(f"default catalogue: GNN {gnn:.3f}, {scores}")
    assert gnn >= scores["features only"] + 0.05, (gnn, scores)
    assert scores["features only"] > scores["majority class"]


def features_decide(num_stars: int, seed: int) -> pd.DataFrame:
    """Labels drawn from each star's own features and noise, positions at random: the neighbours
    carry no information about a star's class."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_stars, 5))
    score = x[:, 0] + 0.7 * x[:, 1] - 0.6 * x[:, 2] * x[:, 3] + 0.5 * rng.normal(size=num_stars)
    frame = pd.DataFrame(x, columns=["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp"])
    frame[["x", "y", "z"]] = rng.uniform(0, 100, (num_stars, 3))
    frame["label"] = np.asarray(["low", "mid", "high"])[np.digitize(score, [-0.5, 0.8])]
    return frame


@pytest.mark.slow
def test_without_information_in_the_graph_the_gnn_matches_features_only(compose_cfg, run_train, tmp_path):
    gaps = []
    for seed in (1, 2, 3):
        path = write(tmp_path / str(seed), features_decide(2000, seed))
        cfg = compose_cfg([*GRAPH_RUN, "data=catalogue", f"data.source.path={path}", "data.source.label_column=label",
                           "data.source.position=cartesian", f"seed={seed}"])
        gnn, scores = gnn_and_baselines(cfg, run_train)
        gaps.append(gnn - scores["features only"])
        print(f"seed {seed}: GNN {gnn:.3f}, {scores}")
    assert abs(float(np.mean(gaps))) <= 0.03, gaps


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_catalogue_saved_by_a_spreadsheet_with_padded_rows_is_read_as_its_header_names_it(tmp_path, sep):
    # '...,field,,' rows under a header without the empty fields lost the header (the first star was read as it)
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    lines = frame.to_csv(index=False, sep=sep).splitlines()
    path = tmp_path / "padded.csv"
    path.write_text("\n".join(lines[:1] + [line + sep * 3 for line in lines[1:]]) + "\n")
    table = StarCatalogue(str(path), "label").load()
    assert len(table.labels) == 200 and table.class_names == sorted(set(frame["label"]))


def test_labels_padded_with_spaces_are_one_class_and_labels_differing_in_case_are_refused(tmp_path, caplog):
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    padded = frame.assign(label=np.where(np.arange(len(frame)) % 2, frame["label"] + " ", frame["label"]))
    with caplog.at_level("INFO"):
        table = StarCatalogue(write(tmp_path, padded), "label").load()
    assert table.class_names == SyntheticGaia.CLASSES[:1] + sorted(SyntheticGaia.CLASSES[1:])
    expected = frame["label"].map({n: i for i, n in enumerate(table.class_names)}).to_numpy()
    np.testing.assert_array_equal(table.labels, expected)  # each star keeps its own class
    assert "100 label(s) in column 'label' had spaces around them" in caplog.text
    cased = frame.assign(label=np.where(np.arange(len(frame)) % 3, frame["label"], frame["label"].str.upper()))
    with pytest.raises(UserError, match=r"labels in column 'label' that differ only in case: 'FIELD' and 'field'"):
        StarCatalogue(write(tmp_path, cased), "label").load()
    named = StarCatalogue(write(tmp_path, cased), "label", classes=sorted(set(cased["label"]))).load()
    assert len(named.class_names) == 6  # named in data.source.classes: taken as different classes


def test_a_star_listed_twice_is_kept_once_and_one_identifier_with_other_values_is_refused(tmp_path):
    frame = gaia_like(num_stars=200, colour_gaps=5, parallax_gaps=0)
    twice = pd.concat([frame, frame.iloc[:7]], ignore_index=True)  # two queries that overlap
    table = StarCatalogue(write(tmp_path, twice), "label").load()
    np.testing.assert_array_equal(table.ids, frame["source_id"].to_numpy())
    assert table.left_out == {"repeated rows": 7}
    without_ids = StarCatalogue(write(tmp_path, twice.drop(columns=["source_id"])), "label").load()
    assert without_ids.ids.tolist() == list(range(len(frame)))  # rows of the file; the repeats left out
    clash = frame.copy()
    clash.loc[3, "source_id"] = clash.loc[1, "source_id"]
    with pytest.raises(UserError, match=rf"lists source_id {BIG_ID + 2} more than once with different values "
                                        r"\(rows 1 and 3; 1 such identifier\(s\)\); keep one row per star"):
        StarCatalogue(write(tmp_path, clash), "label").load()


def test_a_parquet_index_is_a_column(tmp_path):
    pytest.importorskip("pyarrow")
    frame = gaia_like(num_stars=100, colour_gaps=0, parallax_gaps=0)
    path = tmp_path / "indexed.parquet"
    frame.set_index("source_id").to_parquet(path)
    table = StarCatalogue(str(path), "label").load()
    assert table.id_name == "source_id"
    np.testing.assert_array_equal(table.ids, frame["source_id"].to_numpy())


def test_features_of_tiny_or_huge_scale_are_standardised_not_taken_as_constant(tmp_path, caplog):
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    frame = frame.assign(bp_rp=frame["bp_rp"] * 1e-12, phot_g_mean_mag=frame["phot_g_mean_mag"] * 1e15, flat=3.0)
    columns = ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "flat"]
    data = StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label", feature_columns=columns), seed=3)
    with caplog.at_level("WARNING"):
        data.setup()
    x = data.graph.x[torch.from_numpy(data.masks["train"])]
    np.testing.assert_allclose(x[:, :5].std(dim=0, unbiased=False).numpy(), 1.0, rtol=1e-4)
    assert float(x[:, 5].abs().max()) == 0.0 and "['flat'] have one value on every training star" in caplog.text


def test_resume_reads_a_moved_catalogue_and_refuses_other_contents(compose_cfg, run_train, tmp_path, caplog):
    frame = gaia_like(num_stars=300, colour_gaps=10, parallax_gaps=0)
    path = write(tmp_path / "before", frame)
    base = ["logger=none", "trainer.max_epochs=1", "callbacks.early_stopping.patience=100"]
    first = compose_cfg([*catalogue_overrides(path), *base])
    run_train(first)
    moved = Path(tmp_path / "after" / "stars.csv")
    moved.parent.mkdir()
    Path(path).rename(moved)  # the run's own file, somewhere else now
    with caplog.at_level("INFO", logger="trainlab.run.resume_checks"):
        run_train(compose_cfg([*catalogue_overrides(str(moved)), *base, "trainer.max_epochs=2",
                               f"ckpt_path={first.paths.output_dir}"]))
    assert f"data read from another place (data.source.path: {path} -> {moved})" in caplog.text
    edited = frame.assign(pmra=frame["pmra"] + 1.0)  # same stars, same columns, other values
    other = write(tmp_path / "edited", edited)
    with pytest.raises(UserError, match=r"was trained on other data: the data now differ \(training statistics "
                                        r"feature_mean\)"):
        run_train(compose_cfg([*catalogue_overrides(other), *base, "trainer.max_epochs=2",
                               f"ckpt_path={first.paths.output_dir}"]))


def test_the_label_as_a_feature_and_a_named_class_without_stars_are_refused(tmp_path):
    frame = gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0)
    numbered = frame.assign(label=frame["label"].map({n: i for i, n in enumerate(SyntheticGaia.CLASSES)}))
    with pytest.raises(UserError, match=r"feature_columns names 'label', the data.source.label_column: a model that "
                                        r"is shown each star's class learns nothing"):
        StarCatalogue(write(tmp_path, numbered), "label", feature_columns=["pmra", "label"]).load()
    with pytest.raises(UserError, match=r"data.source.classes names \['globular'\], which no star of '.*' has in "
                                        r"column 'label'; leave it out"):
        StarCatalogue(write(tmp_path, frame), "label", classes=[*SyntheticGaia.CLASSES, "globular"]).load()


def test_settings_a_catalogue_does_not_use_are_named(tmp_path, caplog):
    path = write(tmp_path, gaia_like(num_stars=200, colour_gaps=0, parallax_gaps=0))
    with caplog.at_level("WARNING"):
        StarCatalogue(path, "label", position="cartesian", position_columns=["ra", "dec", "parallax"],
                      parallax_floor=1.0)
        StarGraphDataModule(StarCatalogue(path, "label"), fanout=3, sampler="random_nodes",
                            max_nodes_per_graph=1000).setup()
    assert "data.source.parallax_floor=1.0 is not used: it applies to position=sky only" in caplog.text
    assert ("data.fanout=3 and data.sampler=random_nodes not used: the graph of 200 stars trains whole "
            "(hardware.max_nodes_per_graph=1000") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        StarGraphDataModule(StarCatalogue(path, "label"), fanout=3, sampler="random_nodes", max_nodes_per_graph=100,
                            num_hops=1).setup()
    assert "data.fanout=3 not used: fanout applies to data.sampler=ego only" in caplog.text


def test_comment_lines_above_the_header_are_left_out(tmp_path, caplog):
    frame = gaia_like(num_stars=100, colour_gaps=0, parallax_gaps=0)
    path = Path(write(tmp_path, frame))
    path.write_text("# Gaia DR3, cone of 1.5 deg\n# 2026-01-01\n" + path.read_text())
    with caplog.at_level("INFO"):
        table = StarCatalogue(str(path), "label").load()
    np.testing.assert_array_equal(table.ids, frame["source_id"].to_numpy())
    assert "2 comment line(s) (#) above the header left out" in caplog.text


def vizier_tsv(frame: pd.DataFrame, units: bool = True) -> str:
    """``frame`` as VizieR's ASU-TSV export writes a table: '#' lines and a blank line above the header,
    a units line and a line of dashes under it, values padded to the column's width (a blank value is
    missing; integers right-aligned, text left-aligned)."""
    widths = {c: max(len(c), 22) for c in frame.columns}
    lines = ["#", "#   VizieR Astronomical Server vizier.cds.unistra.fr", "#Coosys\tICRS:\teq_FK5 J2000",
             "#Table\tI_355_gaiadr3:", *(f"#Column\t{c}\t(F9.4)\t{c}" for c in frame.columns), "",
             "\t".join(frame.columns)]
    if units:
        lines.append("\t".join("deg" if c in ("ra", "dec") else "mas" if c == "parallax" else "" for c in frame.columns))
    lines.append("\t".join("-" * widths[c] for c in frame.columns))
    for row in frame.itertuples(index=False):
        lines.append("\t".join(str(v).ljust(widths[c]) if isinstance(v, str) else
                               ("" if pd.isna(v) else f"{v:+.9f}" if c in ("ra", "dec") else str(v)).rjust(widths[c])
                               for c, v in zip(frame.columns, row)))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("units", [True, False])
def test_a_vizier_export_is_read_as_it_comes(tmp_path, caplog, units):
    """Its dashes line (and units line) under the header were read as stars: the columns turned to text
    and the catalogue was refused without saying what to delete."""
    frame = gaia_like(num_stars=100, colour_gaps=5, parallax_gaps=0)
    path = tmp_path / "vizier.tsv"
    path.write_text(vizier_tsv(frame, units))
    with caplog.at_level("INFO"):
        table = StarCatalogue(str(path), "label").load()
    np.testing.assert_array_equal(table.ids, frame["source_id"].to_numpy())  # exact 64-bit ids
    np.testing.assert_allclose(table.features, frame[GAIA_FEATURES].to_numpy(), equal_nan=True)
    assert np.isnan(table.features[:, 4]).sum() == 5  # blank (padded) values are missing
    assert table.class_names == sorted(frame["label"].unique())  # padded labels are their class
    under = "its units line and dashes line" if units else "its dashes line"
    assert f"'vizier.tsv': {under} under the header left out (a VizieR export)" in caplog.text
    assert "comment line(s) (#) and 1 blank line(s) above the header left out" in caplog.text


def test_a_vizier_export_of_several_tables_is_refused_at_the_second(tmp_path, caplog):
    frame = gaia_like(num_stars=60, colour_gaps=0, parallax_gaps=0)
    path = tmp_path / "vizier.tsv"
    first = vizier_tsv(frame)
    path.write_text(first + "\n#END of table\n")  # closing comment lines: left out
    with caplog.at_level("INFO"):
        assert len(StarCatalogue(str(path), "label").load().ids) == 60
    closing = len(first.splitlines()) + 2
    assert f"the comment line(s) (#) below the data, from line {closing}, left out" in caplog.text
    path.write_text(first + "\n" + vizier_tsv(frame.iloc[:5]))
    with pytest.raises(UserError, match=rf"data.source.path: '.*vizier.tsv' holds another table below line "
                                        rf"{closing} \(an export of several tables, from line \d+: 'source_id.*'\); "
                                        rf"export one table per file, or delete line {closing} and below"):
        StarCatalogue(str(path), "label").load()


def test_evaluate_refuses_a_catalogue_whose_classes_are_others(compose_cfg, run_train, tmp_path):
    """Same number of classes, other names: the outputs would be read as the wrong classes."""
    import evaluate as evaluate_script

    frame = gaia_like(num_stars=300, colour_gaps=10, parallax_gaps=0)
    first = compose_cfg([*catalogue_overrides(write(tmp_path / "before", frame)), "logger=none", "trainer.max_epochs=1"])
    run_train(first)
    names = sorted(frame["label"].astype(str).unique())
    renamed = frame.assign(label=frame["label"].astype(str).map({n: f"class_{n}" for n in names}))
    other = write(tmp_path / "renamed", renamed)
    with pytest.raises(UserError, match=rf"^\+data.source.path={re.escape(other)} changes the model that '.*' holds "
                                        rf"\(class_names \[.*'{names[0]}'.*\] in the checkpoint, \[.*'class_{names[0]}'"):
        evaluate_script.evaluate(compose_cfg([f"ckpt_path={first.paths.output_dir}", f"+data.source.path={other}",
                                              "hardware.num_threads=1"], config_name="eval"))


def test_a_baseline_that_wins_is_said_and_a_split_of_one_class_cautions_against_accuracy(tmp_path):
    """An astronomer's real balance: 1 member in ~30 field stars. Calling every star 'field' scores 0.97
    accuracy; the end line says when a baseline is as good as the model, and a caution names the metrics
    that mean something (balanced accuracy: the majority class scores 1/classes there)."""
    from trainlab.evaluation.baselines import Baselines

    versus = Baselines("test", "accuracy", {"features only": 0.9, "majority class": 0.97})
    assert versus.line("GNN", 0.95).endswith("| majority class 0.970 -> majority class does as well or better")
    assert "->" not in versus.line("GNN", 0.98) and "->" not in versus.line("GNN", None)
    assert Baselines("val", "rmse", {"last value": 2.0}, higher_is_better=False).winner(1.5) is None
    # a near tie with the best baseline is written with the decimals that tell them apart (it read GNN 0.850 |
    # majority class 0.850, without a verdict, the model being ahead by 8e-4)
    near = Baselines("test", "accuracy", {"features only": 0.8496, "majority class": 0.7})
    assert near.line("GNN", 0.8504) == "test accuracy: GNN 0.8504 | features only 0.8496 | majority class 0.700"

    frame = SyntheticGaia(600, seed=5).frame()
    frame["label"] = np.where(np.arange(len(frame)) % 30 == 0, "member", "field")
    dm = StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label"), seed=5)
    caution = dm.baselines("test").caution
    assert caution is not None and "'field'" in caution and "test/balanced_accuracy (majority class 0.500" in caution
    balanced = StarGraphDataModule(StarCatalogue(write(tmp_path / "b", SyntheticGaia(600, seed=5).frame()), "label"),
                                   seed=5)
    assert balanced.baselines("test").caution is None  # 70% field: accuracy still tells models apart


def shared_with_the_sky(frame: pd.DataFrame, found: np.ndarray) -> float:
    """Mean share of each star's neighbours in ``found`` (stars, k) that are among its k nearest by great-circle
    distance (ra, dec of ``frame`` in degrees)."""
    ra, dec = np.radians(frame["ra"].to_numpy()), np.radians(frame["dec"].to_numpy())
    cos_angle = np.sin(dec)[:, None] * np.sin(dec) + np.cos(dec)[:, None] * np.cos(dec) * np.cos(ra[:, None] - ra)
    np.fill_diagonal(cos_angle, -2)
    truth = np.argsort(-cos_angle, axis=1)[:, : found.shape[1]]
    return float(np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(found, truth)]))


def test_sky_neighbours_across_ra_zero_and_at_the_pole_and_angles_in_other_units(tmp_path, caplog):
    """Neighbours are found in 3-D, so a cluster split by RA 0/360 or sitting on the pole keeps its true
    neighbours (measured against great-circle distances). Radians or RA hours read as degrees would shrink
    the sky: data.source.angle_units converts them, degrees that look like them are warned about, and a
    Dec beyond 90 (columns swapped) is refused; parallaxes in arcsec read as mas are warned about."""
    from trainlab.data.graph.subgraphs import knn_table

    rng = np.random.default_rng(3)
    frame = SyntheticGaia(300, seed=3).frame()
    for centre_dec in (0.0, 89.9):  # RA 359.9 and 0.1 are 0.2 deg apart; at Dec 89.9 RA is almost no angle
        frame["ra"] = (rng.normal(0.0, 0.3, len(frame)) % 360 if centre_dec == 0 else rng.uniform(0, 360, len(frame)))
        frame["dec"] = centre_dec + (rng.normal(0.0, 0.1, len(frame)) if centre_dec == 0 else
                                     -np.abs(rng.normal(0.0, 0.1, len(frame))) + 0.1)  # up to the pole
        frame["parallax"] = 2.0  # one distance: 3-D neighbours must be the angular ones
        table = StarCatalogue(write(tmp_path, frame), "label").load()
        assert shared_with_the_sky(frame, knn_table(table.positions, 10)[0]) > 0.99, centre_dec

    frame = SyntheticGaia(300, seed=3).frame()
    degrees = StarCatalogue(write(tmp_path, frame), "label").load().positions
    for units, scale in (("rad", np.radians(1.0)), ("hours", 1 / 15)):
        other = frame.assign(ra=frame["ra"] * scale, dec=frame["dec"] * (np.radians(1.0) if units == "rad" else 1))
        path = write(tmp_path / units, other)
        caplog.clear()
        with caplog.at_level("WARNING", logger="trainlab"):
            StarCatalogue(path, "label").load()
        assert f"set data.source.angle_units={units}" in caplog.text
        assert np.allclose(StarCatalogue(path, "label", angle_units=units).load().positions, degrees)
    swapped = write(tmp_path / "swapped", frame.rename(columns={"ra": "dec", "dec": "ra"}))
    with pytest.raises(UserError, match=r"dec beyond \+-90 deg .*position_columns is \[ra, dec, parallax\]"):
        StarCatalogue(swapped, "label").load()
    caplog.clear()
    with caplog.at_level("WARNING", logger="trainlab"):
        StarCatalogue(write(tmp_path / "arcsec", frame.assign(parallax=frame["parallax"] / 1000)), "label").load()
    assert "below data.source.parallax_floor=0.05 mas" in caplog.text and "in arcsec? multiply by 1000" in caplog.text


@pytest.mark.parametrize("change, units, message", [
    ({"ra": (7, 400.0)}, "deg", r"^'.*' has 1 star\(s\) with ra outside 0..360 deg \(or -180..180\) \(e.g. 400 in deg, "
                                r"row 7\); data.source.position_columns is \[ra, dec, parallax\] in that order \(\['ra', "
                                r"'dec', 'parallax'\] now\) and data.source.angle_units \(deg\) says their unit \(ra in "
                                r"0..360 deg, 0..24 hours or 0..2 pi rad; dec in \+-90 deg or \+-pi / 2 rad\): correct "
                                r"those rows, or those settings$"),
    ({"ra": (4, -200.0)}, "deg", r"with ra outside 0..360 deg \(or -180..180\) \(e.g. -200 in deg, row 4\)"),
    ({}, "hours", r"star\(s\) with ra outside 0..360 deg \(or -180..180\) \(e.g. \S+ in hours, row \d+\); they read "
                  r"as degrees: set data.source.angle_units=deg \(now hours\)$"),
    ({}, "rad", r"star\(s\) with ra outside 0..360 deg \(or -180..180\) \(e.g. \S+ in rad, row \d+\); they read as "
                r"degrees: set data.source.angle_units=deg \(now rad\)$"),
    ({"dec": (9, -91.0)}, "deg", r"with dec beyond \+-90 deg \(e.g. -91 in deg, row 9\); data.source.position_columns"),
])
def test_ra_and_dec_outside_the_sky_are_refused_naming_column_row_and_fix(tmp_path, change, units, message):
    """An RA of 400 deg, or degrees read as RA hours (x 15) or radians (x 57.3), became directions as any other: the
    catalogue trained scattered over the sky without a word. The rows named are the file's (0-based, as every
    refusal of a catalogue row names them), also after stars without a position are left out."""
    frame = SyntheticGaia(60, seed=2).frame()
    frame.loc[2, "parallax"] = np.nan  # left out (no position): the rows after it keep their numbers
    for column, (row, value) in change.items():
        frame.loc[row, column] = value
    with pytest.raises(UserError, match=message):
        StarCatalogue(write(tmp_path, frame), "label", angle_units=units).load()


def test_ra_from_minus_180_to_180_is_the_same_sky_as_from_0_to_360(tmp_path):
    frame = SyntheticGaia(60, seed=2).frame()
    wrapped = frame.assign(ra=(frame["ra"] + 180.0) % 360.0 - 180.0)
    assert (wrapped["ra"] < 0).any()
    np.testing.assert_allclose(StarCatalogue(write(tmp_path / "wrapped", wrapped), "label").load().positions,
                               StarCatalogue(write(tmp_path, frame), "label").load().positions, atol=1e-9)


def test_the_features_only_baseline_costs_on_a_million_stars_what_it_costs_on_200_000(monkeypatch):
    """It runs after the test, before the run's last line: a whole pass per epoch over 700,000 training stars
    took ~2 CPU s, up to 300 epochs. Epochs are capped at max_steps_per_epoch x max_batch_size rows, drawn
    afresh, and the validation loss at max_val_rows (scaled down here: 5 x 64 and 100)."""
    from trainlab.models import features_only
    from trainlab.models.nets.mlp import MLP

    rows: list[int] = []
    forward = MLP.forward
    monkeypatch.setattr(MLP, "forward", lambda self, x: rows.append(len(x)) or forward(self, x))
    g = torch.Generator().manual_seed(0)
    x, y, split = torch.randn(5000, 3, generator=g), torch.randint(0, 2, (5000,), generator=g), torch.rand(5000, generator=g)
    fitted = features_only.fit_features_only(x, y, split < 0.7, split >= 0.7, 2, seed=0, batch_size=16,
                                             max_steps_per_epoch=5, max_epochs=3, max_batch_size=64, max_val_rows=100)
    per_epoch = len(rows) // fitted.epochs_run
    assert per_epoch == 6 and rows[:per_epoch] == [64] * 5 + [100], rows[:per_epoch]  # 5 steps of 64, one validation


def test_a_test_split_of_a_few_stars_cautions_that_one_star_moves_accuracy(tmp_path):
    """30 stars: 5 test stars, accuracies in steps of 0.2; 'GNN 1.000 | features only 0.400' is chance."""
    frame = SyntheticGaia(60, seed=5).frame().head(30)
    frame["label"] = np.where(np.arange(30) % 3 == 0, "member", "field")
    caution = StarGraphDataModule(StarCatalogue(write(tmp_path, frame), "label"), seed=5).baselines("test").caution
    assert caution.startswith("the test split holds 5 star(s): one star moves accuracy by 0.200")


def test_a_catalogue_without_distances_is_placed_on_the_sky_by_ra_and_dec(tmp_path):
    """A photometric catalogue has no parallax: position_columns=[ra, dec] puts its stars on the unit sphere,
    and their neighbours are the nearest on the sky (across RA 0/360 too); 3 columns were required before."""
    from trainlab.data.graph.subgraphs import knn_table

    frame = SyntheticGaia(300, seed=4).frame()
    frame["ra"] = np.random.default_rng(4).normal(0.0, 0.5, len(frame)) % 360
    frame["parallax"] = np.random.default_rng(5).uniform(0.2, 5.0, len(frame))  # not used: angles alone
    source = StarCatalogue(write(tmp_path, frame), "label", position_columns=["ra", "dec"],
                           feature_columns=["pmra", "pmdec", "phot_g_mean_mag"])
    table = source.load()
    assert np.allclose(np.linalg.norm(table.positions, axis=1), 1.0)
    assert shared_with_the_sky(frame, knn_table(table.positions, 10)[0]) > 0.99
    with pytest.raises(UserError, match=r"must name 3 columns: \[x, y, z\]"):
        StarCatalogue(write(tmp_path, frame), "label", position="cartesian", position_columns=["ra", "dec"]).load()


def test_building_the_graph_of_a_large_catalogue_is_announced_before_it_starts(monkeypatch, caplog):
    """A million stars: ~30 s of tree building and queries after 'Seed set', silent before (scaled down here)."""
    monkeypatch.setattr(StarGraphDataModule, "MANY_STARS", 200)
    with caplog.at_level("INFO", logger="trainlab.data.graph.module"):
        StarGraphDataModule(SyntheticGaia(300, seed=7), seed=7).setup()
    first, *_ = [r.getMessage() for r in caplog.records]
    assert first == f"finding the 10 nearest neighbours of each of 300 stars (scipy cKDTree, {torch.get_num_threads()} thread(s)) ..."


def test_ra_and_dec_in_sexagesimal_text_are_read_as_hours_and_degrees(tmp_path, caplog):
    """'12:02:30.88' and '-06 40 57.8' (SIMBAD, older catalogues) were refused as not numeric, with advice to
    set data.source.time_column, a key catalogues do not have."""
    frame = SyntheticGaia(200, seed=6).frame()
    ra, dec = frame["ra"].to_numpy(), frame["dec"].to_numpy()
    degrees = StarCatalogue(write(tmp_path, frame), "label").load().positions

    def sexagesimal(value: float, scale: float, marks: tuple[str, str, str]) -> str:
        sign, value = ("-" if value < 0 else "+"), abs(value) / scale
        whole, minutes = int(value), int(value * 60) % 60
        return f"{sign}{whole}{marks[0]}{minutes:02d}{marks[1]}{(value * 3600) % 60:09.6f}{marks[2]}"

    frame["ra"] = [sexagesimal(v, 15.0, (":", ":", "")) for v in ra]  # '+12:02:30.876265'
    frame["dec"] = [sexagesimal(v, 1.0, ("d", "m", "s")) for v in dec]  # '-6d40m57.835109s'
    frame.loc[3, "dec"] = sexagesimal(-0.25, 1.0, (" ", " ", ""))  # '-0 15 00.000000': the sign of a zero degree
    with caplog.at_level("INFO", logger="trainlab"):
        table = StarCatalogue(write(tmp_path / "text", frame), "label").load()
    assert "column 'ra' is sexagesimal text, read as hours, minutes, seconds" in caplog.text
    expected = degrees.copy()
    expected[3] = StarCatalogue(write(tmp_path / "zero", frame.assign(ra=ra, dec=np.where(np.arange(200) == 3, -0.25, dec))),
                                "label").load().positions[3]
    assert np.allclose(table.positions, expected, rtol=1e-6, atol=1e-6)
    in_rad = StarCatalogue(write(tmp_path / "text", frame), "label", angle_units="rad").load().positions
    assert np.allclose(in_rad, expected, rtol=1e-6, atol=1e-6)  # sexagesimal is sexagesimal whatever the unit


def test_a_sexagesimal_column_with_a_malformed_cell_is_refused_naming_that_cell(tmp_path, caplog):
    """One typo ('12:34:xx') among 200 sexagesimal Decs was refused as "column 'dec' ... is not numeric (row 0:
    '+12:02:17.6')", naming a well-formed value; a missing-value mark ('--') there is a missing value."""
    frame = SyntheticGaia(200, seed=6).frame()
    frame["dec"] = [f"{'-' if v < 0 else '+'}{int(abs(v)):02d}:{int(abs(v) * 60) % 60:02d}:{abs(v) * 3600 % 60:04.1f}"
                    for v in frame["dec"]]
    first = frame["dec"].iloc[0]
    frame.loc[5, "dec"] = "--"
    with caplog.at_level("INFO", logger="trainlab"):
        assert len(StarCatalogue(write(tmp_path / "marked", frame), "label").load().ids) == 199  # row 5 left out
    frame.loc[[7, 9], "dec"] = ["12:34:xx", "150.25"]
    with pytest.raises(UserError) as refused:
        StarCatalogue(write(tmp_path / "typo", frame), "label").load()
    assert str(refused.value) == (
        f"column 'dec' in '{tmp_path / 'typo' / 'stars.csv'}' is sexagesimal text (row 0: '{first}') but row 7 holds "
        "'12:34:xx', which is not (2 such rows): write it as the others are ('12:34:56.7', '12h34m56.7s'), or empty it "
        "(a star without a position is left out, or refused under data.source.missing=error)")


def test_the_neighbour_queries_use_the_threads_hardware_num_threads_allows(monkeypatch):
    """hardware.num_threads=1 (parallel trials, a shared machine) held for torch, but the kNN queries took every
    core."""
    import scipy.spatial
    from trainlab.data.graph.subgraphs import knn_table

    used = []

    class Tree(scipy.spatial.cKDTree):
        def query(self, *args, **kwargs):
            used.append(kwargs.get("workers"))
            return super().query(*args, **kwargs)

    monkeypatch.setattr(scipy.spatial, "cKDTree", Tree)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        knn_table(np.random.default_rng(0).normal(size=(50, 3)), 5)
    finally:
        torch.set_num_threads(threads)
    assert used == [1]


def rare_members(tmp_path: Path, every: int = 30) -> str:
    """An astronomer's real balance: one 'member' in ``every`` stars, the rest 'field' (members picked among
    the synthetic cluster stars, so the features can tell them)."""
    frame = SyntheticGaia(1500, seed=5).frame()
    clustered = np.flatnonzero(frame["label"].to_numpy() != "field")
    frame["label"] = "field"
    frame.loc[clustered[: len(frame) // every], "label"] = "member"
    return write(tmp_path, frame)


def test_class_weights_are_checked_in_one_line_and_balanced_ones_raise_the_rare_class_recall(tmp_path):
    """model.class_weights: null | balanced | one positive weight per class; the features-only baseline trains
    with the model's weights, and balanced ones find more of a 3% class than unweighted training does."""
    from trainlab.models.graph import check_class_weights, class_weight_tensor
    from trainlab.models.nets.gnn import GNN

    names = ["field", "member"]
    for bad, said in (([1.0], "has 1 weight"), ([1.0, 0.0], "must all be positive"), ([1.0, "x"], "non-number"),
                      ("inverse", "is not a choice")):
        with pytest.raises(UserError, match=said):
            check_class_weights(bad, names)
    check_class_weights([1.0, 30.0], names)
    balanced = class_weight_tensor("balanced", torch.tensor([90, 10, 0]))
    assert balanced.tolist() == pytest.approx([100 / 270, 100 / 30, 0])
    from trainlab.models.graph import NodeClassificationModule

    def module(weights):
        return NodeClassificationModule(GNN(5, 8, 2), torch.optim.Adam, class_names=names, class_weights=weights)

    with pytest.raises(UserError, match=r"model.class_weights has 3 weight\(s\), the data 2 classes"):
        module([1, 2, 3])
    dm = StarGraphDataModule(StarCatalogue(rare_members(tmp_path), "label"), seed=5)
    recall = {}
    for spec in (None, "balanced"):
        weights = module(spec).weigh_classes(dm)
        baselines = dm.baselines("test")
        assert baselines.details["class_weights"] == (None if weights is None else pytest.approx(weights.tolist()))
        test = dm.graph.test_mask
        predicted = dm.features_only().predict(dm.graph.x[test]).argmax(dim=1)
        members = dm.graph.y[test] == 1
        recall[spec] = float((predicted[members] == 1).float().mean())
    counts = dm.train_class_counts().double()
    assert weights.tolist() == pytest.approx((counts.sum() / (2 * counts)).tolist())
    assert recall["balanced"] > recall[None]


def test_the_map_of_a_catalogue_without_distances_is_drawn_in_degrees_on_the_sky(tmp_path):
    """position_columns=[ra, dec] puts stars on the unit sphere: evaluate.py's map drew that sphere's x, y
    and called them pc; it draws ra and dec in degrees (a field across RA 0 as one patch), and keeps pc for
    catalogues with distances."""
    import matplotlib.image
    from trainlab.evaluation.graph import plot_map

    frame = SyntheticGaia(200, seed=4).frame()
    frame["ra"] = np.random.default_rng(4).normal(0.0, 2.0, len(frame)) % 360
    path = write(tmp_path, frame)
    table = StarCatalogue(path, "label", position_columns=["ra", "dec"]).load()
    rows = np.arange(len(frame))
    plane, xlabel, ylabel = table.map_plane(rows)
    assert (xlabel, ylabel) == ("ra (deg)", "dec (deg)")
    assert np.allclose(plane[:, 0] % 360, frame["ra"], atol=1e-9) and np.ptp(plane[:, 0]) < 30  # not 0..360
    assert np.allclose(plane[:, 1], frame["dec"], atol=1e-9)
    with_distances = StarCatalogue(path, "label").load().map_plane(rows)
    assert with_distances[1:] == ("x (pc, from ra, dec, parallax)", "y (pc, from ra, dec, parallax)")
    assert np.allclose(with_distances[0], StarCatalogue(path, "label").load().positions[:, :2])
    out = tmp_path / "map.png"
    plot_map(table.map_plane(rows), table.labels, table.labels, table.class_names, out, "test")
    assert matplotlib.image.imread(out).shape[0] > 100


def test_missing_value_marks_and_thousands_separators_in_a_catalogue_are_read(tmp_path):
    # the catalogue reader checked a copy of the columns and then converted the file's own text: a '-' or '1,234.5'
    # ended in a ValueError traceback (could not convert string to float) instead of being read
    frame = gaia_like(colour_gaps=0)
    frame["bp_rp"] = frame["bp_rp"].map("{:.4f}".format).astype(object)
    frame.loc[[3, 8], "bp_rp"] = "-"
    frame["phot_g_mean_mag"] = frame["phot_g_mean_mag"].map("{:,.4f}".format)
    frame.loc[0, "phot_g_mean_mag"] = "1,234.5000"
    table = StarCatalogue(write(tmp_path, frame), "label").load()
    rows = {name: table.features[:, table.feature_names.index(name)] for name in ("bp_rp", "phot_g_mean_mag")}
    assert int(np.isnan(rows["bp_rp"]).sum()) == 2 and 1234.5 in rows["phot_g_mean_mag"]


@pytest.mark.parametrize("rare", [0, 1])
def test_a_rare_class_on_the_map_is_drawn_above_the_common_one(tmp_path, rare):
    """The classes were drawn in their order: 61 predicted cluster members inside a cone of 239 field stars
    ('cluster' before 'field') were covered by them, the legend naming a colour the map did not show."""
    import matplotlib.image
    from trainlab.evaluation.graph import plot_map

    common = np.random.default_rng(0).uniform(-1, 1, (600, 2))
    points = np.concatenate([common, common[:60]])  # each rare star where a common one is, as a cluster in a cone
    predicted = np.r_[np.full(600, 1 - rare), np.full(60, rare)]
    order = np.random.default_rng(1).permutation(len(points))  # the file's order says nothing
    points, predicted = points[order], predicted[order]
    out = tmp_path / "map.png"
    plot_map((points, "x", "y"), None, predicted, ["cluster", "field"], out, "test")
    rgb = matplotlib.image.imread(out)[..., :3]
    blue, orange = rgb[..., 2] > rgb[..., 0] + 0.2, rgb[..., 0] > rgb[..., 2] + 0.2  # C0 and C1 over white
    rare_pixels = (blue if rare == 0 else orange).sum()
    assert rare_pixels > 0.02 * (blue | orange).sum()  # 9% of the stars: 4.8% of the coloured pixels; 0.3% hidden


def test_a_missing_position_offers_the_archive_spelling_never_another_setting_column(tmp_path):
    """A VizieR export's RA_ICRS, DE_ICRS (and Plx, Gmag, ...) beside Gaia's pmra, pmdec: the refusal offered
    position_columns=[pmra,pmdec,parallax], which, pasted, placed the stars by their proper motions."""
    frame = gaia_like(num_stars=100, colour_gaps=0, parallax_gaps=0).rename(columns={"ra": "RA_ICRS",
                                                                                       "dec": "DE_ICRS"})
    path = write(tmp_path, frame)
    with pytest.raises(UserError) as refusal:
        StarCatalogue(path, "label").load()
    offered = re.search(r"did you mean 'data.source.position_columns=\[(.*)\]'\?", str(refusal.value))
    assert offered and offered.group(1).split(",") == ["RA_ICRS", "DE_ICRS", "parallax"], str(refusal.value)
    table = StarCatalogue(path, "label", position_columns=offered.group(1).split(",")).load()  # the fix, as pasted
    assert len(table.ids) == 100
    renamed = frame.rename(columns={"parallax": "Plx", "phot_g_mean_mag": "Gmag", "bp_rp": "BP-RP"})
    with pytest.raises(UserError, match=re.escape("did you mean 'data.source.feature_columns=[Plx,pmra,pmdec,Gmag,"
                                                  "BP-RP]'?")):
        StarCatalogue(write(tmp_path, renamed), "label", position_columns=["RA_ICRS", "DE_ICRS", "Plx"]).load()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".fits", ".vot", ".npy", "header"])
def test_an_empty_file_is_said_to_be_empty_in_every_reader(tmp_path, suffix):
    """A file of 0 bytes got each library's words ('No columns to parse from file', ...), and a header without rows
    was told to 'give a file with the series', a catalogue too."""
    from trainlab.data.files import read_frame
    from trainlab.data.image.folder import ImageFolder

    path = tmp_path / f"stars{'.csv' if suffix == 'header' else suffix}"
    path.write_text(",".join(["source_id", "ra", "dec", *GAIA_FEATURES, "label"]) + "\n" if suffix == "header" else "")
    said = (r"has no data rows \(only a header, or nothing\); give a file that holds the data in rows under its header$"
            if suffix == "header" else r"is empty \(0 bytes\): a save, download or copy that wrote nothing; give the "
                                       r"file with the data, or save it again$")
    with pytest.raises(UserError, match=rf"^data.source.path: '.*{path.name}' {said}"):
        StarCatalogue(str(path), "label").load() if suffix != ".npy" else read_frame(str(path), "data.source.path")
    if suffix in (".npy", ".csv"):  # an image folder's file (a PNG, an NPY) the same way
        root = tmp_path / "sky"
        (root / "masks").mkdir(parents=True)
        (root / f"a{'.png' if suffix == '.csv' else suffix}").write_bytes(b"")
        with pytest.raises(UserError, match=r"^data.source.path: '.*a\.(png|npy)' is empty \(0 bytes\)"):
            ImageFolder(str(root)).load()


def test_a_catalogues_missing_values_are_said_to_be_data_source_missings(tmp_path, caplog):
    """A catalogue's missing-value mark and typo were said to be handled by data.missing, the series family's key:
    data.missing=drop on a catalogue run is refused as a key that does not exist."""
    frame = gaia_like(num_stars=100, colour_gaps=0, parallax_gaps=0)
    frame["pmra"] = frame["pmra"].astype(object)
    frame.loc[3, "pmra"] = "--"
    with caplog.at_level("INFO"):
        StarCatalogue(write(tmp_path, frame), "label").load()
    assert "marks 1 missing value(s) with '--': read as missing (data.source.missing handles them)" in caplog.text
    frame.loc[4, "pmra"] = "1.2.3"
    with pytest.raises(UserError, match=r"column 'pmra' .* 1 of its 99 values is no number \('1.2.3'\): correct it in "
                                        r"the file, or empty that cell \(a missing value, which data.source.missing "
                                        r"handles\)$"):
        StarCatalogue(write(tmp_path, frame), "label").load()
    assert "data.missing" not in caplog.text.replace("data.source.missing", "")


def test_numbers_written_with_their_unit_are_read_as_the_numbers(tmp_path):
    """pmra of '-0.04 mas/yr' was read as a category of 100 values and refused as free text to leave out of the
    features, and ra of '275.6°' was told to 'leave it out of data.source.position_columns': each is read as its
    numbers (trainlab.data.timeseries.units, shared with the series files); a category named with a number is not."""
    frame = gaia_like(num_stars=100, colour_gaps=0, parallax_gaps=0)
    plain = StarCatalogue(write(tmp_path, frame), "label").load()
    written = frame.assign(pmra=frame["pmra"].map(lambda v: f"{v:.3f} mas/yr"), ra=frame["ra"].map(lambda v: f"{v:.5f}°"))
    table = StarCatalogue(write(tmp_path, written), "label").load()
    np.testing.assert_allclose(table.features, plain.features, atol=1e-3)
    np.testing.assert_allclose(table.positions, plain.positions, rtol=1e-4)
    survey = frame.assign(survey="2MASS")  # a category named with a number: no unit
    survey.loc[::2, "survey"] = "Gaia"
    table = StarCatalogue(write(tmp_path, survey), "label", feature_columns=[*GAIA_FEATURES, "survey"]).load()
    assert list(table.categories) == ["survey"]


def test_an_identifier_of_text_is_refused_with_its_row_and_fix(tmp_path):
    """A source_id of text ('Gaia DR3 ...', a typo) was refused with Python's 'invalid literal for int() with base
    10' and no fix."""
    frame = gaia_like(num_stars=60, colour_gaps=0, parallax_gaps=0)
    frame["source_id"] = frame["source_id"].astype(str)
    frame.loc[4, "source_id"] = "Gaia DR3 4295806720"
    with pytest.raises(UserError, match=r"column 'source_id' in '.*' is not a 64-bit integer identifier \(row 4: 'Gaia DR3 "
                                        r"4295806720'\); an identifier is a whole number, .*: write whole numbers there, "
                                        r"or name another column of them in data.source.id_column$"):
        StarCatalogue(write(tmp_path, frame), "label").load()


def test_a_catalogue_without_a_header_names_its_columns_by_number_as_a_series_does(compose_cfg, tmp_path):
    """A headerless export (to_csv(header=False)) has its columns named 0, 1, ...: label_column=8 was refused
    as 'must be str' (the series' keys take column numbers); now every column key takes them, read as that file's
    columns, and the stars, labels and ids are those the same file with its header gives."""
    from trainlab.config.instantiate import build

    frame = SyntheticGaia(300, seed=4).frame()
    frame = frame[["source_id", "ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "label"]]
    named = StarCatalogue(write(tmp_path, frame), "label").load()
    bare = tmp_path / "bare.csv"
    frame.to_csv(bare, index=False, header=False)
    cfg = compose_cfg(["model=gnn", "data=catalogue", f"data.source.path={bare}", "data.source.label_column=8",
                       "data.source.position_columns=[1,2,3]", "data.source.feature_columns=[4,5,6,7]",
                       "data.source.id_column=0", "data.source.categorical_columns=null"])
    table = build(cfg.data.source, "data.source").load()
    assert table.feature_names == ["4", "5", "6", "7"] and table.id_name == "0"
    np.testing.assert_array_equal(table.ids, named.ids)
    np.testing.assert_array_equal(table.labels, named.labels)
    np.testing.assert_allclose(table.positions, named.positions)


@pytest.mark.parametrize("members, fill", [(1, "0"), ("member", "'other'"), (0, "1")])
def test_a_cross_match_with_empty_labels_for_non_members_is_told_to_fill_them_with_a_class(tmp_path, members, fill):
    """Members labelled, the rest empty (a cross-match's export): refused before with 'label them or drop them' alone;
    now the line offers the class a user most likely wants for the empty cells, one the labels do not use, and says
    that data.source.missing (feature values) does not fill labels."""
    frame = SyntheticGaia(200, seed=2).frame()
    frame["member"] = np.where(np.arange(200) % 3 == 0, members, None)
    with pytest.raises(UserError, match=re.escape(
            f"has 133 star(s) without a label in column 'member' (first at row 1); where an empty label means 'not "
            f"one of them' (a cross-match's export: members labelled, the rest empty), fill those cells with a class "
            f"of their own, e.g. {fill} (pandas: frame['member'] = frame['member'].fillna({fill}); data.source.missing "
            "fills feature values, not labels); else label them, or drop them before training")):
        StarCatalogue(write(tmp_path, frame), "member").load()


def test_a_headerless_catalogue_is_shown_one_column_number_per_position(tmp_path):
    """A catalogue written without its header (to_csv(header=False)), position_columns left at ra, dec, parallax:
    the refusal's example was "data.source.position_columns=['10']", one column (the last) for three positions."""
    path = tmp_path / "stars.csv"
    gaia_like(num_stars=60).to_csv(path, header=False, index=False)
    with pytest.raises(UserError, match=r"which has no header .* name them so, e.g. "
                                        r"data.source.position_columns=\[<ra>,<dec>,<parallax>\], each the number of "
                                        r"its column \(0 to 10\), or add a header row to the file$"):
        StarCatalogue(str(path), "8").load()
