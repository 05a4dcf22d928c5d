"""predict.py for a graph run (README "Forecast past the data", its graph part): the classes of the stars of a
catalogue (its labels, if any, left out), as the run's GNN gives them on the same stars in evaluate.py, and the refusals. The run
has a category column (survey: trainlab.data.graph.node_categories), whose encoding evaluate.py, predict.py and a
resume take from its checkpoint."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainlab
from tests.test_graph import TINY_GNN
from tests.test_graph_catalogues import gaia_like
from trainlab.config.errors import UserError

PRINTED: dict[str, str] = {}  # what the fixture's evaluation printed
SURVEYS = ["2MASS", "APOGEE", "SDSS"]
FEATURES = "data.source.feature_columns=[parallax,pmra,pmdec,phot_g_mean_mag,bp_rp,survey]"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """A tiny GNN run on a Gaia-like catalogue with gaps (BP-RP imputed with a 'was missing' column) and a survey
    column (text: one 0/1 feature per survey), its evaluate.py folder, and the catalogue."""
    folder = tmp_path_factory.mktemp("graph_predict")
    frame = gaia_like()
    frame["survey"] = np.random.default_rng(1).choice(SURVEYS, len(frame))
    path = folder / "stars.csv"
    frame.to_csv(path, index=False)
    trained = trainlab.train([*TINY_GNN, "data=catalogue", f"data.source.path={path}", "data.source.label_column=label",
                              FEATURES, "trainer.max_epochs=2", "logger=none", f"paths.log_dir={folder / 'out'}"])
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        evaluated = trainlab.evaluate(trained.run_dir, ["hardware.num_threads=1", f"paths.log_dir={folder / 'out'}"])
    PRINTED["evaluate"] = printed.getvalue()
    return trained.run_dir, evaluated.out_dir, frame


def test_evaluate_names_every_file_it_wrote(run):
    """Its closing line, 'report written to <folder>: metrics.json, ...', left out test_predictions.csv (the
    per-star classes, which README's graph section points to): every file but its log is named now."""
    _, eval_dir, _ = run
    line = next(x for x in PRINTED["evaluate"].splitlines() if x.startswith("report written to"))
    named = line.split(": ", 1)[1].split(", ")
    assert sorted(named) == sorted(p.name for p in eval_dir.iterdir() if p.is_file() and p.suffix != ".log")


def predict(run_dir: Path, catalogue: object, tmp_path: Path, *overrides: str) -> trainlab.PredictResult:
    return trainlab.predict(run_dir, catalogue=catalogue, overrides=["hardware.num_threads=1",
                                                                     f"paths.log_dir={tmp_path}", *overrides])


@pytest.mark.parametrize("labels, sampled", [("dropped", False), ("empty", False), ("dropped", True), ("kept", False)])
def test_a_catalogue_without_labels_gets_the_classes_evaluate_py_gave_its_stars(run, tmp_path, labels, sampled):
    """Whole graph, or (sampled: the graph above this machine's node budget) ego nets with every neighbour. A
    catalogue with its labels (kept: a user comparing) was refused; its labels are left out now, said once."""
    run_dir, eval_dir, frame = run
    stars = {"dropped": frame.drop(columns="label"), "empty": frame.assign(label=""), "kept": frame}[labels]
    path = tmp_path / "unlabelled.csv"
    stars.to_csv(path, index=False)
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # the run's log, as a user sees it
        result = predict(run_dir, path, tmp_path, *(["hardware.max_nodes_per_graph=200"] if sampled else []))
    said = [line.split(" - ", 1)[1] for line in printed.getvalue().splitlines() if "label(s) in column" in line]
    assert said == ([f"catalogue={path} has 600 label(s) in column 'label': left out, each star is classified from "
                     "the run's features alone; to score the predictions against these labels, python evaluate.py "
                     f"ckpt_path=<run> +data.source.path={path}"] if labels == "kept" else [])
    made = pd.read_csv(result.forecast, dtype={"source_id": np.int64})
    scored = pd.read_csv(eval_dir / "test_predictions.csv", dtype={"source_id": np.int64})
    classes = ["field", "old_cluster", "young_cluster"]
    assert list(made.columns) == ["source_id", "predicted", *(f"p_{c}" for c in classes)]
    assert len(made) == len(frame) - 10  # ten stars without a parallax cannot be placed, as in training
    assert made.source_id.is_monotonic_increasing  # the file's order
    both = scored.merge(made, on="source_id", suffixes=("_eval", ""))
    assert len(both) == len(scored) > 0
    assert (both.predicted_eval == both.predicted).all()
    for c in classes:
        np.testing.assert_allclose(both[f"p_{c}"], both[f"p_{c}_eval"], atol=2e-6)
    details = json.loads((result.out_dir / "predictions.json").read_text())
    assert details["stars"] == len(made) and sum(details["predicted"].values()) == len(made)
    assert details["missing_values_imputed"] == {"bp_rp": int((frame.bp_rp.isna() & frame.parallax.notna()).sum())}
    assert result.plot.name == "predictions_map.png" and result.plot.stat().st_size > 0
    assert details["batches"] == ("sampled ego nets" if sampled else "whole graph")


def test_predictions_csvs_are_separated_and_their_decimals_marked_as_the_catalogue_is(run, tmp_path):
    """A catalogue written the European way (';', 0,5) got predictions.csv and evaluate.py's test_predictions.csv
    of ',' and '.'; now both as the catalogue is, predictions.json naming them."""
    run_dir, eval_dir, frame = run
    path, unlabelled = tmp_path / "european.csv", tmp_path / "unlabelled.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    # saved by Excel on Windows: its code page, a remark the run does not read
    frame.drop(columns="label").assign(Bemerkung="Föhn, 20 °C").to_csv(unlabelled, index=False, sep=";", decimal=",",
                                                                         encoding="cp1252")
    result = predict(run_dir, unlabelled, tmp_path)
    assert result.forecast.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8's mark: Excel reads it as UTF-8
    assert result.forecast.read_text(encoding="utf-8-sig").splitlines()[0] == \
        "source_id;predicted;p_field;p_old_cluster;p_young_cluster"
    made = pd.read_csv(result.forecast, sep=";", decimal=",", dtype={"source_id": np.int64})
    assert made.p_field.dtype == np.float64 and made.p_field.between(0, 1).all() and len(made) == len(frame) - 10
    details = json.loads((result.out_dir / "predictions.json").read_text())
    assert (details["csv_separator"], details["csv_decimal"], details["csv_encoding"]) == (";", ",", "utf-8-sig")
    evaluated = trainlab.evaluate(run_dir, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                            f"+data.source.path={path}"])
    written = (evaluated.out_dir / "test_predictions.csv").read_text().splitlines()  # UTF-8: no mark
    assert written[0].startswith("source_id;label;predicted;p_field;") and "," in written[1] and "." not in written[1]
    scored = pd.read_csv(eval_dir / "test_predictions.csv", dtype={"source_id": np.int64})  # the run's own: commas
    again = pd.read_csv(evaluated.out_dir / "test_predictions.csv", sep=";", decimal=",", dtype={"source_id": np.int64})
    pd.testing.assert_frame_equal(again, scored)


def test_a_checkpoint_is_rebuilt_with_the_settings_it_was_trained_with(run, tmp_path):
    """predict.py's graph model, as evaluate.py's (trainlab.run.trained): a setting its run's config leaves to the
    default is the checkpoint's, not today's default; it took today's before."""
    from omegaconf import open_dict

    from trainlab.prediction.graph import restore_unlabelled
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder

    run_dir, _, frame = run
    folder = RunFolder(run_dir)
    run_cfg, saved = folder.config(), load_checkpoint(folder.best())
    with open_dict(run_cfg):
        del run_cfg.model["figures_every_n_epochs"]  # a user's model config without the key
    saved["hyper_parameters"]["figures_every_n_epochs"] = 3  # trained when the default was another
    path = tmp_path / "unlabelled.csv"
    frame.drop(columns="label").to_csv(path, index=False)
    model, _ = restore_unlabelled(run_cfg, saved, "best.ckpt", str(path))
    assert model.hparams.figures_every_n_epochs == 3


def test_evaluate_on_another_catalogue_encodes_it_in_the_runs_categories(run, tmp_path):
    """A catalogue whose training stars hold two of the three surveys (fit anew: 8 features, refused for a model of
    9) and one unseen survey: encoded in the checkpoint's categories, the unseen one said once."""
    run_dir, _, frame = run
    other = frame.assign(survey=frame.survey.replace("APOGEE", "SDSS"))
    other.loc[:3, "survey"] = "LAMOST"
    path = tmp_path / "other.csv"
    other.to_csv(path, index=False)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        evaluated = trainlab.evaluate(run_dir, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                                f"+data.source.path={path}"])
    assert np.isfinite(evaluated.metrics["test/accuracy"])
    said = re.findall(r"values of 'other' that the training stars never held.*", printed.getvalue())
    assert len(said) == 1 and "survey 'LAMOST' (" in said[0] and "its categories: 2MASS, APOGEE, SDSS" in said[0]


def test_a_resume_reads_the_catalogue_in_the_checkpoints_categories(run, monkeypatch):
    from trainlab.data import categories
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder
    from trainlab.run.pipeline import build_model_and_data

    def fit(*args, **kwargs):
        raise AssertionError("the categories were fit anew on a resume")

    folder = RunFolder(run[0])
    saved = load_checkpoint(folder.best())
    assert saved["StarGraphDataModule"]["categories"] == {"survey": SURVEYS}
    monkeypatch.setattr(categories, "fit", fit)
    model, data = build_model_and_data(folder.config(), ckpt=saved)  # what a resume (ckpt_path=) builds
    assert data.encoding == {"survey": SURVEYS} and data.dims["in"] == 9


def test_a_catalogue_without_identifiers_is_keyed_by_row(run, tmp_path):
    run_dir, _, frame = run
    path = tmp_path / "rows.csv"
    frame.drop(columns=["label", "source_id"]).dropna(subset=["parallax"]).head(50).to_csv(path, index=False)
    made = predict(run_dir, path, tmp_path).frame
    assert list(made["row"]) == list(range(50))


def test_refusals_name_the_culprit_in_one_line(run, tmp_path):
    run_dir, _, frame = run
    stars = frame.drop(columns="label")
    cases = {
        "no_pmra": (stars.drop(columns="pmra"), r"^catalogue=\S+no_pmra.csv lacks column\(s\) \['pmra'\], which the run "
                                                r"read .*give a catalogue with the run's columns"),
        "few": (stars.dropna(subset=["parallax"]).head(3),
                r"^catalogue=\S+ has 3 star\(s\) to place; the run joins each to its data.k=\d+ nearest neighbours, "
                r"which needs at least \d+: give a larger catalogue$"),
    }
    for name, (table, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        table.to_csv(path, index=False)
        with pytest.raises(UserError, match=message):
            predict(run_dir, path, tmp_path)
    path = tmp_path / "few.csv"
    with pytest.raises(UserError, match=r"^horizon=3: a graph run's predictions are the classes of the stars of "
                                        r"catalogue=<file>, with no horizon; leave it out$"):
        trainlab.predict(run_dir, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}"], catalogue=path)
    with pytest.raises(UserError, match=r"^images=\S+: a graph run's predictions are .* with no images; leave it out$"):
        predict(run_dir, path, tmp_path, f"images={tmp_path}")
    with pytest.raises(UserError, match=re.escape("catalogue=<file> is required for a graph run")):
        trainlab.predict(run_dir, overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    with pytest.raises(UserError, match=r"^\+data.k=3: a graph run's predict.py reads catalogue=<file> with the run's "
                                        r"own data settings; leave it out$"):
        predict(run_dir, path, tmp_path, "+data.k=3")


def test_a_catalogue_stating_other_position_units_than_the_run_read_is_converted(tmp_path, caplog):
    """An ECSV (VOTable, FITS) with ra in hourangle and parallax in arcsec, for a run trained in degrees and mas,
    was refused naming data.source.angle_units=hours, which predict.py keeps (its data settings are the run's)."""
    import logging

    import astropy.units as u
    from astropy.table import Table

    from trainlab.data.graph.catalogue import StarCatalogue
    from trainlab.prediction.graph import UnlabelledCatalogue, reading_of

    stars = gaia_like(colour_gaps=0, parallax_gaps=0).drop(columns="label")
    stars.to_csv(tmp_path / "deg.csv", index=False)
    table = Table.from_pandas(stars)
    table["ra"], table["parallax"] = table["ra"] / 15 * u.hourangle, table["parallax"] / 1000 * u.arcsec
    table["dec"].unit = u.deg
    table.write(tmp_path / "hours.ecsv")
    reading = reading_of(StarCatalogue(str(tmp_path / "deg.csv"), "label"))
    with caplog.at_level(logging.INFO):
        converted = UnlabelledCatalogue(tmp_path / "hours.ecsv", reading, ["a", "b"], 10).load()
    np.testing.assert_allclose(converted.positions, UnlabelledCatalogue(tmp_path / "deg.csv", reading, ["a", "b"],
                                                                        10).load().positions, rtol=1e-9)
    assert "column 'ra' is in hourangle, converted to deg, the unit it is read in (x 15)" in caplog.text
    assert "column 'parallax' is in arcsec, converted to mas, the unit it is read in (x 1000)" in caplog.text


@pytest.mark.parametrize("family", ["timeseries", "image"])
def test_other_families_are_refused_a_catalogue(family):
    from omegaconf import OmegaConf

    from trainlab.prediction.run import _check_family_keys

    cfg = OmegaConf.create({"horizon": 2 if family == "timeseries" else None, "history": None, "images": None,
                            "catalogue": "stars.csv"})
    does = ("an image run maps the anomalies of images=<folder>" if family == "image"  # it said 'a image run'
            else r"a timeseries run forecasts its data's series \(horizon=<steps>\)")
    with pytest.raises(UserError, match=rf"^catalogue=stars.csv: {does} and reads no star catalogue; leave it out$"):
        _check_family_keys(cfg, family)


def test_a_catalogues_angle_warnings_in_predict_advise_the_file_not_a_setting_predict_keeps(tmp_path, caplog):
    """RA in hours and a Dec beyond 90 in catalogue=<file> were told 'set data.source.angle_units=hours' and to check
    data.source.position_columns, which predict.py refuses (its data settings are the run's); the fix is in the file,
    or its stated unit, which is converted."""
    import logging

    import astropy.units as u
    from astropy.table import Table

    from trainlab.data.graph.catalogue import StarCatalogue
    from trainlab.prediction.graph import UnlabelledCatalogue, reading_of

    stars = gaia_like(colour_gaps=0, parallax_gaps=0).drop(columns="label")
    stars.to_csv(tmp_path / "deg.csv", index=False)
    reading = reading_of(StarCatalogue(str(tmp_path / "deg.csv"), "label"))
    stars.assign(ra=stars["ra"] / 15).to_csv(tmp_path / "hours.csv", index=False)
    with caplog.at_level(logging.WARNING):
        UnlabelledCatalogue(tmp_path / "hours.csv", reading, ["a", "b"], 10).load()
    assert ("read as degrees: if they are RA hours, write them in degrees in the file, as the run reads them (ra x 15), "
            "or give an ECSV or VOTable stating their unit (hourangle), which is converted") in caplog.text
    assert "data.source.angle_units" not in caplog.text
    table = Table.from_pandas(stars.assign(ra=stars["ra"] / 15))  # the fix offered: the unit stated
    table["ra"].unit, table["dec"].unit = u.hourangle, u.deg
    table.write(tmp_path / "hours.ecsv")
    np.testing.assert_allclose(UnlabelledCatalogue(tmp_path / "hours.ecsv", reading, ["a", "b"], 10).load().positions,
                               UnlabelledCatalogue(tmp_path / "deg.csv", reading, ["a", "b"], 10).load().positions,
                               rtol=1e-9)
    stars.loc[3, "dec"] = 120.0
    stars.to_csv(tmp_path / "dec.csv", index=False)
    with pytest.raises(UserError, match=r"with dec beyond \+-90 deg \(e.g. 120 in deg, row 3\); the run reads \['ra', "
                                        r"'dec', 'parallax'\] in that order, dec in deg: correct those rows, or write "
                                        r"the columns so in the file$"):
        UnlabelledCatalogue(tmp_path / "dec.csv", reading, ["a", "b"], 10).load()


def test_a_catalogue_is_classified_with_the_runs_training_catalogue_moved_away(run, tmp_path):
    """What predict.py needs of a graph run is in its checkpoint and config (the columns read, the training medians,
    the scaling, the categories): its training catalogue is not read, and may have moved."""
    run_dir, _, frame = run
    path = tmp_path / "unlabelled.csv"
    frame.drop(columns="label").to_csv(path, index=False)
    before = pd.read_csv(predict(run_dir, path, tmp_path).forecast)
    from trainlab.run.folder import RunFolder

    trained_on = Path(RunFolder(run_dir).config().data.source.path)
    moved = trained_on.rename(trained_on.with_name("elsewhere.csv"))
    try:
        after = pd.read_csv(predict(run_dir, path, tmp_path).forecast)
    finally:
        moved.rename(trained_on)
    pd.testing.assert_frame_equal(before, after)


def test_evaluate_takes_a_catalogue_whose_gaps_lie_in_other_columns(run, tmp_path):
    """The run's 'was missing' features are its own (bp_rp_missing): another catalogue with no BP-RP gap but pmra
    gaps got indicators of its own and was refused as other columns ('feature_mean has 8 value(s) in the checkpoint,
    ...'); predict.py's catalogue= filled the same gaps. Now both fill them with the run's medians."""
    _, _, frame = run
    other = frame.assign(bp_rp=frame["bp_rp"].fillna(1.0))
    other.loc[other.index[::7], "pmra"] = np.nan
    path = tmp_path / "other.csv"
    other.to_csv(path, index=False)
    evaluated = trainlab.evaluate(run[0], ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                           f"+data.source.path={path}"])
    scored = pd.read_csv(evaluated.out_dir / "test_predictions.csv")
    assert len(scored) > 0 and scored["predicted"].notna().all()
    assert np.isfinite(evaluated.metrics["test/accuracy"])


def test_a_vizier_catalogue_is_told_which_columns_to_rename_to_the_runs(tmp_path):
    """A VizieR export names ra, dec, parallax RA_ICRS, DE_ICRS, Plx: predict.py, which keeps its run's settings,
    said only 'give a catalogue with the run's columns'; train.py offered data.source.position_columns=[RA_ICRS,...]."""
    from tests.test_graph_catalogues import write
    from trainlab.data.graph.catalogue import StarCatalogue
    from trainlab.prediction.graph import UnlabelledCatalogue, reading_of

    frame = gaia_like(num_stars=60)
    reading = reading_of(StarCatalogue(write(tmp_path / "run", frame), "label"))
    vizier = frame.drop(columns="label").rename(columns={"ra": "RA_ICRS", "dec": "DE_ICRS", "parallax": "Plx"})
    with pytest.raises(UserError, match=r"lacks column\(s\) \['parallax', 'ra', 'dec'\], .*: it holds 3 of them under "
                                        r"an archive's names: rename Plx to parallax, RA_ICRS to ra, DE_ICRS to dec "
                                        r"in the file \(predict.py"):
        UnlabelledCatalogue(write(tmp_path / "new", vizier), reading, ["a", "b"], 10).load()
    partly = vizier.drop(columns="pmra")
    with pytest.raises(UserError, match=r"rename Plx to parallax, RA_ICRS to ra, DE_ICRS to dec in the file, and add "
                                        r"\['pmra'\] \(predict.py"):
        UnlabelledCatalogue(write(tmp_path / "partly", partly), reading, ["a", "b"], 10).load()
