"""Where and how trainlab is run: the checkout found from any folder (or refused in one line), an
installed package without its checkout, an inherited TRAINLAB_ROOT of another folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import trainlab.run.folder as folder_module
from tests.conftest import ROOT
from trainlab.config.errors import UserError
from trainlab.run.folder import claim_root, repo_root


def test_a_trainlab_root_without_a_checkout_is_refused_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINLAB_ROOT", str(tmp_path / "gone"))
    with pytest.raises(UserError, match=r"TRAINLAB_ROOT=.*gone holds no trainlab checkout .*unset it"):
        repo_root()


@pytest.fixture
def installed_without_checkout(monkeypatch, tmp_path):
    """trainlab as a wheel installs it: the package in site-packages, no conf/ or train.py above it."""
    site = tmp_path / "venv" / "lib" / "python3" / "site-packages"
    monkeypatch.setattr(folder_module, "__file__", str(site / "trainlab" / "run" / "folder.py"))
    monkeypatch.delenv("TRAINLAB_ROOT", raising=False)
    return site


def test_an_installed_package_finds_the_checkout_it_is_run_in_or_says_how(installed_without_checkout, monkeypatch,
                                                                           tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"installed in .*site-packages/trainlab without its checkout .* the working "
                                         r"folder .* is none either; run this in the checkout, or set TRAINLAB_ROOT="):
        repo_root()
    monkeypatch.chdir(ROOT)
    assert repo_root() == ROOT


def test_the_experiments_path_plugin_stays_quiet_without_a_checkout(installed_without_checkout, monkeypatch, tmp_path):
    """Hydra loads the plugin in every app of an environment trainlab is installed in."""
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl

    from hydra_plugins.trainlab_searchpath import TrainlabExperimentsPath

    monkeypatch.chdir(tmp_path)
    path = ConfigSearchPathImpl()
    TrainlabExperimentsPath().manipulate_search_path(path)
    assert path.get_path() == []
    monkeypatch.setenv("TRAINLAB_ROOT", str(ROOT))
    TrainlabExperimentsPath().manipulate_search_path(path)
    assert [p.path for p in path.get_path()] == [f"file://{ROOT / 'experiments'}"]


def test_train_py_takes_its_own_folder_over_an_inherited_trainlab_root(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("TRAINLAB_ROOT", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="trainlab.run.folder"):
        claim_root(str(ROOT / "train.py"))
    assert repo_root() == ROOT
    assert [r.getMessage() for r in caplog.records] == [
        f"TRAINLAB_ROOT={tmp_path} is not the folder of train.py; using {ROOT} (its conf/, experiments/ and "
        "outputs/; paths.log_dir=<folder> puts runs elsewhere)"]
    caplog.clear()
    claim_root(str(ROOT / "evaluate.py"))  # the same folder again (a sweep's trial process): no word
    assert caplog.records == []
