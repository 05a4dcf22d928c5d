"""Categories among a star catalogue's features (trainlab.data.graph.node_categories, trainlab.data.categories): a
column of text (a survey, a spectral type), or integer codes named in data.source.categorical_columns, one 0/1
feature per category of the training stars, left unscaled, seen by the features-only baseline too. Each was refused
before ('is not numeric; make it numbers in the file (a category: a 0/1 column per value) or leave it out of the
inputs') or read as one number. The checkpoint's side (evaluate.py, predict.py, a resume) is in
tests/test_graph_prediction.py, whose run has a category column."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_graph import catalogue_file
from trainlab.config.errors import UserError
from trainlab.data.graph.catalogue import StarCatalogue
from trainlab.data.graph.module import StarGraphDataModule
from trainlab.data.graph.synthetic import SyntheticGaia

SURVEYS = ["2MASS", "APOGEE", "SDSS"]
NUMERIC = ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp"]


def surveyed(num_stars: int = 300, seed: int = 5) -> pd.DataFrame:
    """A synthetic Gaia catalogue with a survey column (text) and a spectral-class code (1/2/3), both at random."""
    frame = SyntheticGaia(num_stars, seed=seed).frame()
    rng = np.random.default_rng(seed)
    return frame.assign(survey=rng.choice(SURVEYS, num_stars), code=rng.choice([1, 2, 3], num_stars))


def data(tmp_path: Path, frame: pd.DataFrame, features: list[str], seed: int = 3, **source) -> StarGraphDataModule:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return StarGraphDataModule(StarCatalogue(catalogue_file(tmp_path, frame), "label", feature_columns=features,
                                             **source), seed=seed)


def test_a_text_column_among_the_features_is_one_0_1_feature_per_category_left_unscaled(tmp_path):
    frame = surveyed()
    frame.loc[7, "survey"] = None  # an empty cell: none of the categories
    dm = data(tmp_path, frame, [*NUMERIC, "survey"])
    dm.setup()
    assert dm.feature_names == [*NUMERIC, *(f"survey={s}" for s in SURVEYS)]
    assert dm.dims["in"] == 8 and dm.graph.x.shape == (300, 8)
    one_hot = dm.graph.x[:, 5:].numpy()
    assert set(np.unique(one_hot)) == {0.0, 1.0}  # unscaled: what the net sees is 0 and 1
    assert (one_hot.sum(axis=1) == (frame.index != 7)).all()
    np.testing.assert_array_equal(one_hot[:, 2], (frame.survey == "SDSS").to_numpy())
    assert dm.stats["feature_mean"][5:].tolist() == [0.0] * 3 and dm.stats["feature_std"][5:].tolist() == [1.0] * 3
    assert abs(float(dm.graph.x[dm.graph.train_mask, 1].mean())) < 1e-5  # the numbers are standardised
    assert dm.state_dict()["categories"] == {"survey": SURVEYS}


def test_categories_come_from_the_training_stars_and_a_value_only_others_hold_is_none_said_once(tmp_path, caplog):
    frame = surveyed()
    masks = data(tmp_path / "a", frame, [*NUMERIC, "survey"])._split_masks()  # the split depends on labels and seed
    val, test = np.flatnonzero(masks["val"]), np.flatnonzero(masks["test"])
    frame.loc[test[:3], "survey"] = "LAMOST"
    frame.loc[val[:1], "survey"] = "RAVE"
    dm = data(tmp_path / "b", frame, [*NUMERIC, "survey"])
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert dm.encoding == {"survey": SURVEYS}
    assert dm.graph.x[test[:3], 5:].tolist() == [[0.0] * 3] * 3
    said = [r.getMessage() for r in caplog.records if "never held" in r.getMessage()]
    first = int(min(val[0], test[0]))
    assert said == [f"values of 'stars' that the training stars never held, encoded as none of their column's "
                    f"categories (each of its 0/1 inputs 0): survey {frame.survey[first]!r}, "
                    f"{'LAMOST' if frame.survey[first] == 'RAVE' else 'RAVE'!r} (4 star(s), first at source_id "
                    f"{frame.source_id[first]}; its categories: 2MASS, APOGEE, SDSS)"]


def test_integer_codes_are_categories_where_categorical_columns_names_them(tmp_path):
    frame = surveyed()
    frame.loc[11, "code"] = np.nan  # a float column with a gap: 3.0 is still the category '3'
    dm = data(tmp_path / "named", frame, ["pmra", "code"], categorical_columns=["code"])
    dm.setup()
    assert dm.feature_names == ["pmra", "code=1", "code=2", "code=3"]
    assert dm.graph.x[11, 1:].tolist() == [0.0, 0.0, 0.0]
    assert dm.graph.x[:, 1:].sum(axis=1).tolist() == [float(i != 11) for i in range(300)]
    plain = data(tmp_path / "plain", frame, ["pmra", "code"], missing="drop")
    plain.setup()
    assert plain.feature_names == ["pmra", "code"]  # not named: one number


def test_a_blank_cell_is_none_of_the_categories(tmp_path):
    """A VOTable or FITS null in a text column reads back as '' (a cell of spaces likewise): it was the category ''."""
    frame = surveyed().astype({"survey": object})
    frame.loc[[4, 9], "survey"] = ["", "  "]
    dm = data(tmp_path, frame, ["pmra", "survey"])
    frame.to_parquet(dm.source.path.replace(".csv", ".parquet"))
    dm.source.path = dm.source.path.replace(".csv", ".parquet")
    dm.setup()
    assert dm.feature_names == ["pmra", *(f"survey={s}" for s in SURVEYS)]
    assert dm.graph.x[[4, 9], 1:].tolist() == [[0.0] * 3] * 2


def test_the_features_only_baseline_sees_the_categories(tmp_path):
    """The class is the survey's alone (positions and numbers at random): the baseline learns it from the 0/1
    features."""
    frame = surveyed(num_stars=240)
    frame["label"] = frame.survey.map({"2MASS": "field", "APOGEE": "young_cluster", "SDSS": "old_cluster"})
    dm = data(tmp_path, frame, ["pmra", "survey"])
    baselines = dm.baselines("test")
    assert dm.features_only().net(torch.zeros(1, dm.dims["in"])).shape == (1, 3)
    assert baselines.scores["features only"] == 1.0 > baselines.scores["majority class"]


def test_settings_of_category_columns_that_cannot_be_one_are_refused_in_one_line(tmp_path):
    frame = surveyed(num_stars=200)
    cases = [
        (dict(categorical_columns=["label"]), r"^data.source.categorical_columns names 'label', the "
                                              r"data.source.label_column: the class a model is to learn is no input"),
        (dict(categorical_columns=["ra"]), r"^data.source.categorical_columns names 'ra', a position column "
                                           r"\(data.source.position_columns\): the graph places the stars by its "
                                           r"numbers"),
        (dict(categorical_columns=["parallax"]), r"^data.source.categorical_columns names 'parallax', a position "
                                                 r"column"),
        (dict(categorical_columns=["source_id"]), r"^data.source.categorical_columns names 'source_id', the stars' "
                                                  r"identifier: an identifier is no category"),
        (dict(categorical_columns=["Code"]), r"^data.source.categorical_columns names 'Code', which "
                                             r"data.source.feature_columns leaves out of the features \[.*\]; add it "
                                             r"there, or leave it out here; did you mean "
                                             r"'data.source.categorical_columns=\[code\]'\?$"),
    ]
    for settings, message in cases:
        with pytest.raises(UserError, match=message):
            data(tmp_path, frame.assign(source_id=np.arange(200)), ["pmra", "parallax", "code"], **settings).setup()
    with pytest.raises(UserError, match=r"^data.source.feature_columns: \['survy'\] not in '.*'; its columns are .*; "
                                        r"did you mean 'data.source.feature_columns=\[pmra,survey\]'\?$"):
        data(tmp_path, frame, ["pmra", "survy"]).setup()


def test_a_column_of_more_than_50_values_among_the_training_stars_is_refused(tmp_path):
    frame = surveyed(num_stars=200).assign(name=[f"star {i}" for i in range(200)])
    with pytest.raises(UserError, match=r"^column 'name' of 'stars' holds 1\d\d distinct values in the training stars "
                                        r"\('star 0', 'star 10', 'star 100', \.\.\.\), more than the 50 a category may "
                                        r"have .*; leave it out of the inputs: "
                                        r"'data.source.feature_columns=\[pmra,survey\]'$"):
        data(tmp_path, frame, ["pmra", "name", "survey"]).setup()


def test_a_checkpoint_from_before_categories_reads_none_and_another_encoding_reads_the_graph_again(tmp_path):
    frame = surveyed()
    plain = data(tmp_path / "plain", frame, NUMERIC)
    plain.setup()
    old = {k: v for k, v in plain.state_dict().items() if k != "categories"}  # as written before categories
    restored = data(tmp_path / "plain", frame, NUMERIC)
    restored.load_state_dict(old)
    restored.setup()
    assert restored.encoding == {} and restored.dims["in"] == 5
    text = data(tmp_path / "text", frame, [*NUMERIC, "survey"])
    text.read_as_saved(old)
    with pytest.raises(UserError, match=r"^column\(s\) \['survey'\] of 'stars' hold categories, but the run was "
                                        r"trained without category columns"):
        text.setup()
    # given after the graph was built in its own categories (no read_as_saved): its features again in the saved
    dm = data(tmp_path / "text", frame, [*NUMERIC, "survey"])
    dm.setup()
    state = {**dm.state_dict(), "categories": {"survey": ["SDSS", "2MASS"]}}
    state["feature_mean"], state["feature_std"] = state["feature_mean"][:-1], state["feature_std"][:-1]
    dm.load_state_dict(state)
    assert dm.feature_names[5:] == ["survey=SDSS", "survey=2MASS"] and dm.graph.x.shape == (300, 7)
    np.testing.assert_array_equal(dm.graph.x[:, 5].numpy(), (frame.survey == "SDSS").to_numpy())


def test_a_new_catalogue_holds_a_saved_category_column_as_categories_however_it_reads(tmp_path, caplog):
    """A saved run's category column in a new catalogue is read in its categories whatever pandas makes of it: left
    empty for every star, it read as a column of numbers, all missing, and the run was refused ('trained with the
    category column(s) ['survey'], which 'stars' holds as numbers')."""
    frame = surveyed().assign(survey=np.nan)
    dm = data(tmp_path, frame, ["pmra", "survey"])
    dm.read_as_saved({"categories": {"survey": SURVEYS}})
    with caplog.at_level(logging.WARNING, logger="trainlab.data.categories"):
        dm.setup()
    assert dm.feature_names == ["pmra", *(f"survey={s}" for s in SURVEYS)]
    assert (dm.graph.x[:, 1:] == 0).all()
    assert "column(s) ['survey'] of 'stars' hold no value in any star" in caplog.text


def test_ordinals_among_the_features_are_categories(tmp_path):
    """A class written '1st', '2nd', '3rd' was read as numbers with the units 'st', 'nd', 'rd' and refused as a
    column in several units."""
    frame = surveyed().assign(rank=lambda f: np.array(["1st", "2nd", "3rd"])[np.arange(len(f)) % 3])
    dm = data(tmp_path, frame, ["pmra", "rank"])
    dm.setup()
    assert dm.feature_names == ["pmra", "rank=1st", "rank=2nd", "rank=3rd"]
