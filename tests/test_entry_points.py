"""``python -m trainlab``: the entry points listed, and each run by name (in-process)."""

from __future__ import annotations

import importlib
import os
import re
import sys

import pytest

from tests.conftest import ROOT
from trainlab.__main__ import COMMANDS, main


def test_python_m_trainlab_lists_every_entry_point_with_one_line(capsys):
    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == list(COMMANDS)
    for name, (target, _, _) in COMMANDS.items():  # each names what exists: a script of the checkout, a module's main
        assert (ROOT / target).is_file() if target.endswith(".py") else callable(importlib.import_module(target).main)
    # every tool the Makefile runs by module is one of them
    for module in set(re.findall(r"-m (trainlab\.[a-z_.]+)", (ROOT / "Makefile").read_text())):
        assert module in {t for t, _, _ in COMMANDS.values()}, module


def test_a_named_script_runs_with_the_rest_of_the_arguments(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setenv("TRAINLAB_ROOT", os.environ.get("TRAINLAB_ROOT", str(ROOT)))
    assert main(["train", "--cfg", "job", "model=cnn", "trainer.max_epochs=3"]) == 0
    out = capsys.readouterr().out
    assert "_target_: trainlab.models.nets.cnn.TemporalCNN" in out and "max_epochs: 3" in out


def test_a_named_tool_gets_the_rest_of_the_arguments(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as exited:
        main(["refine", str(tmp_path / "nowhere"), "--epochs", "2"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'nowhere'} is not a folder; give a sweep folder "
                                               "(outputs/train/multiruns/...)")


def test_an_unknown_command_is_one_line_with_the_nearest(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["trian", "model=cnn"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: trian is no trainlab command; did you mean train? (python -m trainlab lists them)\n"
