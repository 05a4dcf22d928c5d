"""A saved run's columns are read by the kinds it was trained with (trainlab.data.categories.read_by): its checkpoint
names its category columns, and every other input was numbers. Codes of a number and letters ('3G', '4G', '5G') are a
category since the codes rule (trainlab.data.timeseries.units.codes_of); a run trained before it read them as numbers
in the unit 'G', and evaluate.py and predict.py refused it: "column(s) ['net'] of 'net' hold categories, but the run
was trained without category columns: give the inputs it was trained with". The old runs are made here as the code
before the rule made them: the same training with codes_of finding no codes."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainlab
from tests.test_categories import DAYS, data_module, demand
from tests.test_graph_catalogues import gaia_like
from tests.test_prediction import BASE

NETWORKS = np.array(["3G", "4G", "5G"])


def without_the_codes_rule(monkeypatch) -> None:
    """The reading of the code before the rule: no column holds codes, so '4G' is 4 in the unit 'G'."""
    from trainlab.data.timeseries import units, values

    monkeypatch.setattr(units, "codes_of", lambda column: None)
    monkeypatch.setattr(values, "codes_of", lambda column: None)


@pytest.fixture(scope="module")
def old_run(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A tiny series run on a file with a 'net' column of 3G/4G/5G, trained as before the codes rule; its file and
    test metrics."""
    folder = tmp_path_factory.mktemp("old_codes")
    frame = pd.read_csv(demand(folder / "demand.csv"))
    frame.assign(net=NETWORKS[np.arange(DAYS) % 3]).to_csv(folder / "net.csv", index=False)
    settings = [*BASE, f"data.source.path={folder / 'net.csv'}", "data.source.target_columns=[demand]",
                "data.source.time_column=date", "data.window=7", f"paths.log_dir={folder / 'outputs'}"]
    with pytest.MonkeyPatch.context() as monkeypatch:
        without_the_codes_rule(monkeypatch)
        trained = trainlab.train(settings)
    return trained.run_dir, folder / "net.csv", trained.metrics


def test_a_run_trained_before_the_codes_rule_evaluates_and_predicts_as_trained(old_run, tmp_path):
    from trainlab.run.checkpoint_path import load_checkpoint
    from trainlab.run.folder import RunFolder

    run_dir, path, metrics = old_run
    state = load_checkpoint(RunFolder(run_dir).best())["TimeSeriesDataModule"]
    assert "net" not in state["categories"]  # the old reading: net was one numeric input
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        report = trainlab.evaluate(run_dir, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    assert report.metrics["test/rmse"] == pytest.approx(metrics["test/rmse"], rel=1e-5)
    assert (f"column 'net' in '{path}' holds codes of a number and letters ('3G', '4G', '5G'), which new runs read as "
            "a category; this run was trained with them as numbers in the unit 'G' (before that rule), and reads them "
            "so") in printed.getvalue()
    forecast = trainlab.predict(run_dir, 1, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    assert np.isfinite(forecast.frame.demand).all()
    days = pd.date_range("2024-04-30", periods=3, freq="D").strftime("%Y-%m-%d")  # the inputs after the data's end
    pd.DataFrame({"date": days, "day_type": "weekday", "store_type": 2, "temperature": 0.5, "net": ["4G", "5G", "5G"]}
                 ).to_csv(tmp_path / "plan.csv", index=False)
    ahead = trainlab.predict(run_dir, 3, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                          f"future={tmp_path / 'plan.csv'}"])
    assert len(ahead.frame) == 3 and np.isfinite(ahead.frame.demand).all()


def test_the_run_with_the_column_as_a_category_still_reads_it_so(tmp_path):
    """The other way: a checkpoint that names a column a category (codes; '5kg' amounts, which runs trained before
    numbers with units were read took for text) reads it as one, numbers or not; a new run reads 3G/4G/5G as a
    category and 5kg/10kg as numbers."""
    frame = pd.read_csv(demand(tmp_path / "demand.csv"))
    frame.assign(net=NETWORKS[np.arange(DAYS) % 3], size=np.array(["5kg", "10kg"])[np.arange(DAYS) % 2]).to_csv(
        tmp_path / "net.csv", index=False)
    data = data_module(tmp_path / "net.csv")
    data.setup("fit")
    assert data.encoding["net"] == ["3G", "4G", "5G"] and "size" in data.input_names  # '5kg': 5 in kg
    data = data_module(tmp_path / "net.csv")
    data.read_as_saved({"categories": {"day_type": ["holiday", "weekday", "weekend"], "net": ["3G", "4G", "5G"],
                                       "size": ["10kg", "5kg"]}})
    data.setup("fit")
    assert "size=5kg" in data.input_names and "net=4G" in data.input_names
    np.testing.assert_array_equal(data.table.features[:2, data.input_names.index("size=5kg")], [1, 0])


def test_a_catalogue_run_trained_before_the_codes_rule_reads_its_stars_as_trained(tmp_path, monkeypatch):
    """The star graph's data (evaluate.py +data.source.path=, a resume) and predict.py's catalogue= alike."""
    from trainlab.data.graph.catalogue import StarCatalogue
    from trainlab.data.graph.module import StarGraphDataModule
    from trainlab.prediction.graph import UnlabelledCatalogue, reading_of

    frame = gaia_like(colour_gaps=0, parallax_gaps=0)
    frame["band"] = np.array(["1G", "2G", "3G"])[np.arange(len(frame)) % 3]
    frame.to_csv(tmp_path / "stars.csv", index=False)
    features = ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "band"]

    def module(source) -> StarGraphDataModule:
        return StarGraphDataModule(source, k=5, seed=7)

    with monkeypatch.context() as old:
        without_the_codes_rule(old)
        trained = module(StarCatalogue(str(tmp_path / "stars.csv"), "label", feature_columns=features))
        trained.setup("fit")
        state = trained.state_dict()
    assert state["categories"] == {} and "band" in trained.feature_names
    again = module(StarCatalogue(str(tmp_path / "stars.csv"), "label", feature_columns=features))
    again.read_as_saved(state)
    again.load_state_dict(state)
    again.setup("fit")
    np.testing.assert_array_equal(again.table.features, trained.table.features)
    source = UnlabelledCatalogue(tmp_path / "stars.csv", reading_of(again.source), ["a", "b"], 5)
    categories_read = module(source)
    categories_read.read_as_saved(state)
    np.testing.assert_array_equal(source.load().features, trained.table.features)
