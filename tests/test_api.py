"""``trainlab.train`` / ``trainlab.evaluate``: the command line's runs in one call from Python (README
"From Python"), in-process and tiny."""

from __future__ import annotations

import datetime
import json
import logging
import textwrap
from pathlib import Path

import pytest

import trainlab
from tests.conftest import TINY
from tests.test_command_line_errors import refused
from trainlab.config.errors import UserError

FAST = [*TINY, "trainer.max_epochs=1", "logger=none"]  # TINY: small data and net, hardware.num_threads=1


class _OneSecond(datetime.datetime):
    """Hydra's ${now:} as if every run started in the same second (as two short runs in a loop can)."""

    @classmethod
    def now(cls, tz=None):
        return cls(2026, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, list]:
    """Two runs from one loop, their clock stopped: the outputs folder and the results."""
    outputs = tmp_path_factory.mktemp("api") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("hydra.core.utils.datetime", _OneSecond)  # the clock of Hydra's ${now:} resolver
        root = logging.getLogger()
        handlers = list(root.handlers)
        results = [trainlab.train([*FAST, f"paths.log_dir={outputs}"]) for _ in range(2)]
        assert root.handlers == handlers  # the run's train.log handler went with the run
    return outputs, results


def test_two_runs_from_one_loop_in_the_same_second_get_a_folder_each(two_runs):
    """${uid:} was drawn once per process: both runs got one folder and the second was refused
    ("hydra.run.dir ... already holds a training run")."""
    outputs, results = two_runs
    folders = [r.run_dir for r in results]
    assert folders[0] != folders[1]
    for folder in folders:  # the command line's folder: evaluate.py and a resume read it the same
        assert folder.parent == outputs / "train" / "runs" and folder.name.startswith("2026-01-02_03-04-05_")
        assert {p.name for p in (folder / ".hydra").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}
        assert "run folder: " in (folder / "train.log").read_text()


def test_the_metrics_returned_are_those_the_run_recorded(two_runs):
    for result in two_runs[1]:
        summary = json.loads((result.run_dir / "training_summary.json").read_text())
        last_epoch = [json.loads(line) for line in (result.run_dir / "epochs.jsonl").read_text().splitlines()][-1]
        test = {k: v for k, v in result.metrics.items() if k.startswith("test/")}
        val = {k: v for k, v in result.metrics.items() if k.startswith("val/")}
        assert test and test == summary["test"]
        assert val and val == {k: v for k, v in last_epoch.items() if k.startswith("val/")}
        assert result.objective == summary["best_value"] == result.metrics["val/loss"]
        assert result.best_checkpoint.parent == result.run_dir / "checkpoints" and result.best_checkpoint.is_file()
        assert summary["checkpoint"] == {"file": result.best_checkpoint.name, "kept_by": "val/loss",
                                         "score": pytest.approx(result.objective)}
        assert result.checkpoint_kept_by == "val/loss"


def test_a_run_ends_naming_its_folder_its_best_checkpoint_and_the_next_command(two_runs):
    """The run folder was named only in the first line, which Lightning's tables scrolled away; nothing said
    what to do with the run. Its last line now names the folder, the best checkpoint and evaluate.py's command."""
    for result in two_runs[1]:
        last = (result.run_dir / "train.log").read_text().splitlines()[-1]
        assert (f"run done: {result.run_dir} (best val/loss {result.objective:.4g}: "
                f"checkpoints/{result.best_checkpoint.name}); its report and plots: "
                f"python evaluate.py ckpt_path={result.run_dir}") in last, last


def test_evaluate_on_the_returned_run(two_runs, tmp_path):
    result = two_runs[1][0]
    report = trainlab.evaluate(result.run_dir, ["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    assert report.out_dir.parent == tmp_path / "eval" / "runs" and report.report.is_file()
    assert report.metrics == json.loads((report.out_dir / "metrics.json").read_text())["metrics"]
    assert report.metrics["test/rmse"] == pytest.approx(result.metrics["test/rmse"], rel=1e-5)
    assert report.details["run_dir"] == str(result.run_dir)
    # a refusal of Hydra's start (Preflight) raised, not an exit: the run's folder is no evaluation's
    with pytest.raises(UserError, match="already holds a training run"):
        trainlab.evaluate(result.run_dir, [f"hydra.run.dir={result.run_dir}"])


# ~task_name: read by Hydra's run folder before the job, where the overrides were looked for in sys.argv alone
@pytest.mark.parametrize("override", ["trainer.max_epoch=3", "model=lstn", "seed=choice(1,2)", "~task_name"])
def test_a_bad_override_raises_the_command_lines_line(override, capsys, monkeypatch, tmp_path):
    with pytest.raises(UserError) as raised:
        trainlab.train([override, f"paths.log_dir={tmp_path / 'outputs'}"])
    assert capsys.readouterr().err == "" and not (tmp_path / "outputs").exists()
    assert refused([override], capsys, monkeypatch, tmp_path) == f"error: {raised.value}"


def test_overrides_as_one_string_or_a_flag_are_refused(tmp_path):
    with pytest.raises(UserError, match=r"one string: give a list, one override each \(\['model=cnn', 'seed=1'\]\)"):
        trainlab.train("model=cnn seed=1")
    with pytest.raises(UserError, match="--config-dir is config_dir="):
        trainlab.train(["--config-dir", str(tmp_path)])
    with pytest.raises(UserError, match="no such folder"):  # the command line's check of --config-dir
        trainlab.train([], config_dir=tmp_path / "nowhere")


def test_overrides_as_a_dict_are_refused_with_the_list_to_give(tmp_path):
    """A dict, as a notebook writes settings, was iterated for its keys alone: "data has no '='"."""
    with pytest.raises(UserError, match=r"overrides is a dict: give a list, one override each \(\['data=elnino', "
                                        r"'trainer.max_epochs=1', 'ckpt_path=null', 'data.source.series=\[A,B\]', "
                                        r"'trainer.deterministic=true'\]\)$"):
        trainlab.evaluate(tmp_path, {"data": "elnino", "trainer.max_epochs": 1, "ckpt_path": None,
                                     "data.source.series": ["A", "B"], "trainer.deterministic": True})


def test_config_dir_is_the_command_lines_config_dir(tmp_path):
    """A user's own option, in a folder given as config_dir= (--config-dir), with the repository's around it."""
    mine = tmp_path / "myconf" / "model"
    mine.mkdir(parents=True)
    (mine / "tiny_lstm.yaml").write_text(textwrap.dedent("""\
        defaults:
          - lstm
          - _self_
        net:
          init: kaiming
        """))
    # checkpoints kept by another metric than optimized_metric (val/loss): the records say whose each figure is
    result = trainlab.train([*FAST, "model=tiny_lstm", "callbacks.model_checkpoint.monitor=val/rmse",
                             f"paths.log_dir={tmp_path / 'outputs'}"], config_dir=tmp_path / "myconf")
    saved = (result.run_dir / "resolved_config.yaml").read_text()
    assert "init: kaiming" in saved and "test/rmse" in result.metrics
    summary = json.loads((result.run_dir / "training_summary.json").read_text())
    assert result.checkpoint_kept_by == summary["checkpoint"]["kept_by"] == "val/rmse"
    assert summary["monitor"] == "val/loss" and summary["checkpoint"]["file"] == result.best_checkpoint.name
    assert "model=tiny_lstm" in (result.run_dir / ".hydra" / "overrides.yaml").read_text()


def test_a_callers_own_hydra_is_given_back(tmp_path):
    """Hydra holds one initialized instance per process: a notebook's own initialize() outlives a run."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        own = GlobalHydra.instance().hydra
        with pytest.raises(UserError, match="model=lstn is not an option"):
            trainlab.train(["model=lstn", f"paths.log_dir={tmp_path / 'outputs'}"])
        assert GlobalHydra.instance().hydra is own


def test_a_refusal_inside_the_run_is_raised_without_hydras_line(capsys, tmp_path):
    """A UserError raised in the job (the data module's check) reached the caller after Hydra had written
    'Error executing job with overrides: [...]' to stderr."""
    with pytest.raises(UserError, match=r"^data.window=0 must be at least 1"):
        trainlab.train(["data.window=0", "hardware.num_threads=1", f"paths.log_dir={tmp_path / 'outputs'}"])
    assert "Error executing job" not in capsys.readouterr().err


def test_a_run_called_from_another_folder_goes_to_the_repositorys_outputs(tmp_path, monkeypatch):
    """trainlab.train in a notebook of another folder wrote into that folder's outputs/ (paths.root_dir reads
    TRAINLAB_ROOT, which only the scripts set), where train.py started there writes into the repository's."""
    import os

    from tests.conftest import ROOT

    checkout = tmp_path / "checkout"  # a checkout of this repository, its outputs/ this test's own
    checkout.mkdir()
    for name in ("conf", "experiments", "train.py", "evaluate.py", "predict.py"):
        (checkout / name).symlink_to(ROOT / name)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)
    monkeypatch.delenv("TRAINLAB_ROOT", raising=False)
    monkeypatch.setattr("trainlab.run.root.repo_root", lambda: checkout)
    result = trainlab.train(FAST)
    assert result.run_dir.parent == checkout / "outputs" / "train" / "runs"
    assert not (notebooks / "outputs").exists()
    assert "TRAINLAB_ROOT" not in os.environ  # given back, as the run's other settings are


def test_a_train_group_added_with_a_plus_to_evaluate_or_predict_is_refused_as_on_the_command_line(tmp_path):
    """trainlab.predict(run, 1, ["+data=file"]) was refused as 'data.source.path has no value; set it'."""
    with pytest.raises(UserError, match=r"^\+data=file: predict.py chooses no data; the run's own data settings are "
                                        r"used, .* \+data.source.path=<file> .*: leave it out$"):
        trainlab.predict(tmp_path / "run", 1, ["+data=file"])
    with pytest.raises(UserError, match=r"^\+logger=none: evaluate.py chooses no logger; it writes no training logs"):
        trainlab.evaluate(tmp_path / "run", ["+logger=none"])
