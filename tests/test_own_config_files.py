"""Mistakes inside a user's own config files (trainlab.config.file_problems): each is one line naming the
file and the fix, where Hydra's were a traceback (YAML, a defaults list that is no list) or named another
thing (an experiment without ``# @package _global_``, a file's defaults entry taken for a '+' typed on the
command line, an option nobody typed). Composed in-process; nothing runs."""

from __future__ import annotations

import re
import textwrap

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from tests.conftest import ROOT

FILES = {
    "model/brackets.yaml": "_target_: x.Y\nnet:\n  hidden_size: [8\nmonitor: ${optimized_metric}\n",
    "model/tabs.yaml": "_target_: x.Y\nnet:\n\thidden_size: 8\n",
    "model/basetypo.yaml": "defaults: [lstmm, _self_]\n",
    "model/defaultstext.yaml": "defaults: lstm\n",
    "model/adam2.yaml": "_target_: torch.optim.Adam\n_partial_: true\nlr: 0.01\n",  # an optimizer in model/
    "experiment/nopackage.yaml": "defaults:\n  - override /model: cnn\nseed: 3\n",
    "experiment/nooverride.yaml": "# @package _global_\ndefaults:\n  - /model: cnn\n",
    "experiment/bompackage.yaml": "\ufeff# @package _global_\r\ndefaults:\r\n  - override /model: cnn\r\n",
    "experiment/offbool.yaml": "# @package _global_\ndefaults:\n  - override /logger: false\n",
}


@pytest.mark.parametrize("flag", ["--config-dir", "hydra.searchpath"])
@pytest.mark.parametrize("override, message", [
    ("model=brackets", "{root}/model/brackets.yaml, line 4, column 8 is not readable YAML: expected ',' or ']', but "
                       "got ':', while parsing a flow sequence begun at line 3, column 16 (monitor: ${{optimized_metric}}); "
                       "correct the file there"),
    ("model=tabs", "{root}/model/tabs.yaml, line 3, column 1 is not readable YAML: found character '\\t' that cannot "
                   "start any token (hidden_size: 8); YAML indents with spaces only: replace the tab(s) in the file "
                   "with spaces"),
    ("model=basetypo", "{root}/model/basetypo.yaml: its defaults name model/lstmm, which no config folder holds; did "
                       "you mean lstm? the model group's options: adam2, basetypo, brackets, cnn, defaultstext, gnn, lstm"),
    ("model=defaultstext", "{root}/model/defaultstext.yaml: its defaults must be a list (got str); write a list, "
                           "e.g. defaults: [lstm, _self_]"),
    ("experiment=nopackage", "{root}/experiment/nopackage.yaml is read into experiment.* (Hydra puts a file's settings "
                             "under its folder's name), so its 'override /model' reaches no choice of the config; "
                             "make its first line '# @package _global_'"),
    ("experiment=bompackage", "{root}/experiment/bompackage.yaml is read into experiment.* (Hydra puts a file's "
                              "settings under its folder's name), so its 'override /model' reaches no choice of the "
                              "config; its '# @package _global_' is not read by Hydra: the file begins with a "
                              "byte-order mark (saved as 'UTF-8 with BOM'), so its first line does not begin with "
                              "'#'; save it as UTF-8 without BOM"),
    ("optimizer=adam2", "...; {root}/model/adam2.yaml exists, in the model group's folder: options of the optimizer "
                        "group go in {root}/optimizer/ (move it there), or choose it as model=adam2"),
    ("experiment=nooverride", "a defaults list chooses model: cnn, but model is chosen already (conf/train.yaml's "
                              "defaults); in your file write '- override /model: cnn'"),
    # Hydra's ValueError traceback: Unsupported item value in defaults : bool. Supported: string or list
    ("experiment=offbool", "{root}/experiment/offbool.yaml: its defaults entry 'override /logger: false' gives logger "
                           "a value where an option's name belongs; write one ('override /logger: none' for no "
                           "logger); the logger group's options: csv, mlflow, none, tensorboard"),
])
def test_a_mistake_inside_a_users_config_file_is_one_line_naming_it(tmp_path, flag, override, message):
    """Before: yaml's ParserError / ScannerError and Hydra's ValueError ('Invalid defaults list') with a
    traceback and exit 1; an option written into another group's folder was 'not an option' alone; 'Could not override model@experiment.model. Did you mean to override model?';
    '+model=... adds a second model' (nobody typed '+'); 'model=lstmm is not an option' (nobody typed it)."""
    from trainlab.config.composition import composition_problem

    root = tmp_path / "myconf"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    argv = (["--config-dir", str(root)] if flag == "--config-dir" else [f"hydra.searchpath=[file://{root}]"])
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        with pytest.raises(Exception) as info:
            compose("train", overrides=[f"hydra.searchpath=[file://{root}]", override])
    GlobalHydra.instance().clear()
    problem = composition_problem(info.value, [*argv, override], "train")
    message = message.format(root=root)
    found = message[3:] in problem if message.startswith("...") else problem.startswith(message)
    assert problem is not None and found, problem


def test_an_experiment_file_without_its_package_line_is_not_ignored(tmp_path, compose_cfg):
    """Its settings landed under experiment.* and the run trained without them, without a word."""
    from trainlab.config.checks import check_top_level_keys
    from trainlab.config.errors import UserError

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    path = tmp_path / "myconf" / "experiment" / "small.yaml"
    path.write_text(textwrap.dedent("""\
        model:
          net:
            hidden_size: 8
        """))
    cfg = compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=small"])
    with pytest.raises(UserError, match="^" + re.escape(
            f"experiment=small ({path}) sets experiment.model.net.hidden_size, under experiment.*, where nothing "
            "reads it: a file of the experiment group changes the config's own keys only with '# @package _global_' "
            "as its first line; add it")):
        check_top_level_keys(cfg)
    path.write_text("# @package _global_\n" + path.read_text())
    check_top_level_keys(compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=small"]))


@pytest.mark.parametrize("text, fix", [
    ("\ufeff# @package _global_\r\nmodel:\r\n  net:\r\n    hidden_size: 8\r\n",
     "its '# @package _global_' is not read by Hydra: the file begins with a byte-order mark (saved as 'UTF-8 with "
     "BOM'), so its first line does not begin with '#'; save it as UTF-8 without BOM"),
    ("# a smaller LSTM\n# @package _global_\nmodel:\n  net:\n    hidden_size: 8\n",
     "its '# @package _global_' (line 2) is not read by Hydra, which reads it only above every other line and stops "
     "at line 1 (# a smaller LSTM); make it the first line"),
], ids=["bom", "comment-above"])
def test_an_experiment_file_whose_package_line_hydra_does_not_read_is_told_why(tmp_path, compose_cfg, text, fix):
    """A file saved by a Windows editor as 'UTF-8 with BOM', or with a comment above its '# @package _global_': Hydra
    reads no header, the settings landed under experiment.*, and the refusal said to add the line the file has."""
    from trainlab.config.checks import check_top_level_keys
    from trainlab.config.errors import UserError

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    path = tmp_path / "myconf" / "experiment" / "small.yaml"
    path.write_bytes(text.encode("utf-8"))
    cfg = compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=small"])
    with pytest.raises(UserError) as refused:
        check_top_level_keys(cfg)
    assert str(refused.value).startswith(f"experiment=small ({path}) sets experiment.model.net.hidden_size, ")
    assert str(refused.value).endswith(f"as its first line; {fix}"), str(refused.value)
    first, second, rest = text.lstrip("\ufeff").split("\n", 2)  # as told: no BOM, the package line first
    path.write_text("\n".join([second, first, rest] if "@package" in second else [first, second, rest]))
    fixed = compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=small"])
    check_top_level_keys(fixed)
    assert fixed.model.net.hidden_size == 8


@pytest.mark.parametrize("text, sets", [
    ("model: cnn\ntrainer:\n  max_epochs: 1\n", "model: cnn"),  # a choice written as a value
    ("defaults:\n  - override /model: null\n", "model: null in its defaults list"),
])
def test_an_experiment_that_replaces_a_groups_settings_is_named_not_a_tilde(tmp_path, compose_cfg, text, sets):
    """It was told 'the config has no model (~model takes it out)', an override nobody typed."""
    from trainlab.config.errors import UserError
    from trainlab.config.families import check_nothing_taken_out

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    path = tmp_path / "myconf" / "experiment" / "mine.yaml"
    path.write_text("# @package _global_\n" + text)
    cfg = compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=mine"])
    option = "cnn" if "cnn" in sets else "<option>"
    with pytest.raises(UserError, match="^" + re.escape(
            f"experiment=mine ({path}) sets {sets}, which leaves the config no model settings; a file chooses an "
            f"option in its defaults list: '- override /model: {option}', under '# @package _global_'")):
        check_nothing_taken_out(cfg)
    with pytest.raises(UserError, match=re.escape("(~model takes it out)")):  # typed: as before
        check_nothing_taken_out(compose_cfg(["~model"]))


def test_a_key_an_experiment_indents_one_node_too_high_is_named_with_its_file_and_place(tmp_path, compose_cfg):
    """``num_layers`` indented under model, not model.net: it was 'model.num_layers is not an argument of
    RegressionModule; valid ones: ...', with neither the file that set it nor the key meant."""
    from trainlab.config.errors import UserError
    from trainlab.config.instantiate import check_node

    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    path = tmp_path / "myconf" / "experiment" / "indent.yaml"
    path.write_text("# @package _global_\nmodel:\n  net:\n    hidden_size: 16\n  num_layers: 2\n")
    cfg = compose_cfg([f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "experiment=indent"])
    with pytest.raises(UserError, match="^" + re.escape(
            f"experiment=indent ({path}) sets model.num_layers, which is not an argument of "
            "trainlab.models.timeseries.RegressionModule; did you mean model.net.num_layers? valid ones: net,")):
        check_node(cfg.model, "model", frozenset({"optimizer", "scheduler"}))
    typed = compose_cfg(["+model.num_layers=2"])  # typed on the command line: no file named
    with pytest.raises(UserError, match=r"^model.num_layers is not an argument of .*; did you mean model.net.num_"):
        check_node(typed.model, "model", frozenset({"optimizer", "scheduler"}))


def test_our_data_option_following_a_key_a_users_model_lacks(tmp_path, compose_cfg):
    """data=gaia's num_hops follows model.net.num_layers; a user's graph net without that argument got
    'data.num_hops: interpolation key model.net.num_layers not found; write the full key of another setting',
    a key and a fix in a file the user never wrote."""
    from trainlab.config.interpolations import check_interpolations
    from trainlab.config.errors import UserError

    (tmp_path / "myconf" / "model").mkdir(parents=True)
    (tmp_path / "myconf" / "model" / "mygnn.yaml").write_text(
        "_target_: trainlab.models.graph.NodeClassificationModule\nnet:\n  _target_: mypkg.GraphNet\n"
        "  in_channels: null\n  out_channels: null\nmonitor: ${optimized_metric}\n")
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'myconf'}]"
    with pytest.raises(UserError, match="^" + re.escape(
            "data.num_hops=${model.net.num_layers} follows model.net.num_layers, which model=mygnn does not have; give "
            "data.num_hops=<value> (on the command line, or in a config file of yours), or add model.net.num_layers to "
            "model=mygnn")):
        check_interpolations(compose_cfg([searchpath, "model=mygnn", "data=gaia"]))
    check_interpolations(compose_cfg([searchpath, "model=mygnn", "data=gaia", "data.num_hops=2"]))


class NoLoad:
    def read(self):
        return None


class Frame:
    def load(self):
        return {"y": [1.0, 2.0]}


@pytest.mark.parametrize("family", ["timeseries", "graph", "image"])
def test_a_users_data_source_that_does_not_fit_is_named(family, compose_cfg):
    """A source without load(), or whose load() returns another thing than the family's table, failed in the data
    module with an AttributeError ('NoLoad' object has no attribute 'load', 'DataFrame' object has no attribute
    'features')."""
    from omegaconf import open_dict

    from tests.families import FAMILIES
    from trainlab.config.errors import UserError
    from trainlab.run.pipeline import build_data

    need = {"timeseries": "trainlab.data.timeseries.table.SeriesTable", "graph": "trainlab.data.graph.catalogue.StarTable",
            "image": "trainlab.data.image.sources.SkyTiles"}[family]
    cfg = compose_cfg(FAMILIES[family].tiny())
    for source, message in (("NoLoad", f" has no load() method: a data source's load() returns a {need}"),
                            ("Frame", f": its load() returned a builtins.dict, where a {need} is needed")):
        with open_dict(cfg):
            cfg.data.source = {"_target_": f"{__name__}.{source}"}
        with pytest.raises(UserError, match="^" + re.escape(f"data.source._target_={__name__}.{source}{message}")):
            build_data(cfg).load()


def test_a_series_table_of_one_dimensional_targets_is_named():
    """1-D targets failed in numpy ('all the input arrays must have same number of dimensions')."""
    import numpy as np

    from trainlab.config.errors import UserError
    from trainlab.data.timeseries.table import SeriesTable

    with pytest.raises(UserError, match=re.escape(
            "sine: SeriesTable.targets must be a numpy array of (rows, columns), 2-D; got a ndarray of shape (5,) (one "
            "column: values[:, None])")):
        SeriesTable(features=np.zeros((5, 1)), targets=np.zeros(5), feature_names=["t"], target_names=["y"], name="sine")
    with pytest.raises(UserError, match=re.escape("sine: SeriesTable.features has 1 column(s) but feature_names ['a', "
                                                  "'b'] names 2; give one name per column")):
        SeriesTable(features=np.zeros((5, 1)), targets=np.zeros((5, 1)), feature_names=["a", "b"], target_names=["y"],
                    name="sine")
