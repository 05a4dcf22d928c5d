"""Where and how trainlab is run: the checkout found from any folder (or refused in one line), an
installed package without its checkout, an inherited TRAINLAB_ROOT of another folder."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

import trainlab.run.root as root_module
from tests.conftest import ROOT
from trainlab.config.errors import UserError
from trainlab.run.root import claim_root, repo_root


def test_a_trainlab_root_without_a_checkout_is_refused_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINLAB_ROOT", str(tmp_path / "gone"))
    with pytest.raises(UserError, match=r"TRAINLAB_ROOT=.*gone holds no trainlab checkout .*unset it"):
        repo_root()


@pytest.fixture
def installed_without_checkout(monkeypatch, tmp_path):
    """trainlab as a wheel installs it: the package in site-packages, no conf/ or train.py above it."""
    site = tmp_path / "venv" / "lib" / "python3" / "site-packages"
    monkeypatch.setattr(root_module, "__file__", str(site / "trainlab" / "run" / "root.py"))
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
    with caplog.at_level(logging.WARNING, logger="trainlab.run.root"):
        claim_root(str(ROOT / "train.py"))
    assert repo_root() == ROOT
    assert [r.getMessage() for r in caplog.records] == [
        f"TRAINLAB_ROOT={tmp_path} is not the folder of train.py; using {ROOT} (its conf/, experiments/ and "
        "outputs/; paths.log_dir=<folder> puts runs elsewhere)"]
    caplog.clear()
    claim_root(str(ROOT / "evaluate.py"))  # the same folder again (a sweep's trial process): no word
    assert caplog.records == []


# -- paths given as a shell would read them ------------------------------------------------------------
def _preflight(config: dict, capsys) -> str:
    """Preflight's answer to a run's config: its one line; fails when the run would start."""
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight

    with pytest.raises(SystemExit) as stop:
        Preflight(min_free_mb=0).on_run_start(OmegaConf.create(config))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


@pytest.mark.parametrize("log_dir, folder", [("~/runs", "~"), ("$HOME/runs", "$HOME"), ("/data/$USER/r", "$USER")])
def test_an_output_folder_with_tilde_or_a_variable_is_refused_before_a_folder_named_so_is_made(
        log_dir, folder, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/home/me")
    monkeypatch.setenv("USER", "me")
    config = {"paths": {"log_dir": log_dir}, "hydra": {"run": {"dir": "${paths.log_dir}/train/runs/1"}}}
    written = log_dir.replace("~", "${oc.env:HOME}").replace("$HOME", "${oc.env:HOME}").replace("$USER", "${oc.env:USER}")
    assert _preflight(config, capsys) == (
        f"error: paths.log_dir={log_dir} would make a folder named '{folder}': Hydra expands neither ~ nor $NAME; "
        f"write '{written}' (here {log_dir.replace('~', '/home/me').replace('$HOME', '/home/me').replace('$USER', 'me')}; "
        "the ' marks keep a shell from reading ${...}), or the path in full\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("log_dir, line", [
    ("${HOME}/runs", "error: paths.log_dir: interpolation key 'HOME' not found; ${HOME} names a setting, and the "
                     "environment variable HOME is read with ${oc.env:HOME}\n"),
    ("${oc.env:TRAINLAB_NO_SUCH}/runs", "error: paths.log_dir=${oc.env:TRAINLAB_NO_SUCH}/runs: the environment variable "
                                        "TRAINLAB_NO_SUCH is not set; set it (export TRAINLAB_NO_SUCH=...), or give a "
                                        "default: ${oc.env:TRAINLAB_NO_SUCH,<default>}\n"),
])
def test_an_output_folder_hydra_cannot_name_is_one_line(log_dir, line, capsys):
    """Hydra's callback runner turned the InterpolationKeyError into a warning, then failed to format its
    own error (AssertionError), exit 1."""
    config = {"paths": {"log_dir": log_dir}, "hydra": {"run": {"dir": "${paths.log_dir}/train/runs/1"}}}
    assert _preflight(config, capsys) == line


def test_a_tilde_path_hydra_cannot_parse_is_not_advised_to_be_quoted():
    """Quoting it, as the grammar hint said, made a folder named '~' in the working folder."""
    from trainlab.config.composition import parse_problem

    line = parse_problem("paths.log_dir=~/runs", "LexerNoViableAltException: paths.log_dir=~/runs")
    assert line.startswith("paths.log_dir=~/runs: Hydra expands neither ~ nor $NAME; write '${oc.env:HOME}/runs'")
    assert "quote" not in line


def test_a_data_file_that_is_a_broken_link_or_an_unexpanded_variable_says_so(tmp_path):
    from trainlab.data.files import read_frame

    (tmp_path / "data.csv").symlink_to(tmp_path / "gone.csv")
    with pytest.raises(UserError, match=r"file not found: '.*data.csv' \(a link to '.*gone.csv', which does not exist\)"):
        read_frame(str(tmp_path / "data.csv"), "data.source.path")
    with pytest.raises(UserError, match=r"file not found: '\$TRAINLAB_DATA/x.csv' \(Hydra expands neither ~ nor \$NAME; "
                                        r"write '\$\{oc.env:TRAINLAB_DATA\}/x.csv' \(the ' marks keep a shell from reading \$\{...\}\), "
                                        r"or the path in full\)"):
        read_frame("$TRAINLAB_DATA/x.csv", "data.source.path")


# -- the environment a run inherits ---------------------------------------------------------------------
@pytest.fixture
def no_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_gpus_hidden_by_cuda_visible_devices_are_named(compose_cfg, monkeypatch, no_gpu, caplog):
    """CUDA_VISIBLE_DEVICES='' or -1 left from another job: the refusal of a GPU profile said only that torch
    sees no GPU, and hardware=auto went to the CPU with pinned memory (a torch warning per loader)."""
    from trainlab.run import hardware
    from trainlab.run.pipeline import prepare

    monkeypatch.setattr(hardware, "nvml_gpu_uuids", lambda: ["GPU-0a1b2c3d"])  # the machine has a GPU, NVML says
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(UserError, match=r"^hardware=a100 needs an NVIDIA GPU .*is False; CUDA_VISIBLE_DEVICES='-1' "
                                        r"hides GPUs from torch: unset it, or list the GPUs to use \(0,1\)\); use hardware=cpu"):
        prepare(compose_cfg(["hardware=a100"]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        hw = prepare(compose_cfg(["hardware=auto"])).hardware
    assert (hw.accelerator, hw.pin_memory) == ("cpu", False)
    assert [r.getMessage() for r in caplog.records] == [
        "hardware.accelerator=auto takes the CPU: torch sees no GPU; CUDA_VISIBLE_DEVICES='' hides GPUs from torch: "
        "unset it, or list the GPUs to use (0,1)"]
    # on a machine without any GPU (NVML finds none) no value is at fault, '0' nor '' nor '-1': each was blamed
    # ('-1' hides GPUs from torch: unset it'), and unsetting it changed nothing
    monkeypatch.setattr(hardware, "nvml_gpu_uuids", lambda: [])
    for value in ("0", "", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
            assert prepare(compose_cfg(["hardware=auto"])).hardware.accelerator == "cpu"
        assert caplog.records == []
        with pytest.raises(UserError, match=r"torch.cuda.is_available\(\) is False\); use hardware=cpu"):
            prepare(compose_cfg(["hardware=a100"]))


def test_pinned_memory_asked_for_on_the_cpu_is_left_off_with_a_word(compose_cfg, monkeypatch, no_gpu, caplog):
    from trainlab.run.pipeline import prepare

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        assert prepare(compose_cfg(["hardware=auto"])).hardware.pin_memory is False
        assert caplog.records == []  # the profile's own value: no word
        assert prepare(compose_cfg(["hardware=cpu", "hardware.pin_memory=true"])).hardware.pin_memory is False
    assert [r.getMessage() for r in caplog.records] == [
        "hardware.pin_memory=true does nothing on the CPU (it speeds up copies to a GPU); left off"]


# -- paths inside database URIs ---------------------------------------------------------------------------
def test_an_mlflow_database_in_a_folder_with_a_question_mark_is_refused(tmp_path):
    """sqlite:///<log_dir>/mlflow.db with a '?' in paths.log_dir: SQLAlchemy took the rest for options and
    MLflow wrote its tables into a file named after the part before the '?', beside the database checked here."""
    pytest.importorskip("sqlalchemy")  # MLflow's, and the logger's module needs Lightning only
    from trainlab.loggers.mlflow_store import sqlite_database

    uri = f"sqlite:///{tmp_path}/runs?2/mlflow.db"
    with pytest.raises(UserError) as refused:
        sqlite_database(uri)  # what MLflowRun checks the database with, before it makes a folder
    assert str(refused.value) == (f"logger.mlflow.tracking_uri={uri}: a database URI reads what follows '?' as options, "
                                  f"so MLflow would open '{tmp_path}/runs'; choose a paths.log_dir without '?', or write "
                                  "it as %3F in the URI")
    assert list(tmp_path.iterdir()) == []
    # the file checked and created here is the one MLflow opens: %xx decoded as SQLAlchemy does
    assert sqlite_database(f"sqlite:///{tmp_path}/a%20b/m.db") == tmp_path / "a b" / "m.db"


def test_a_sweep_folder_with_url_characters_keeps_its_study_in_it(tmp_path):
    """A paths.log_dir with '?' made the sweep's sqlite:///<sweep>/optuna.db URL end at the '?': 'cannot open
    the study after 5 tries: unable to open database file', which named no culprit; '#' cut storage_file's path."""
    import optuna
    from sqlalchemy.engine import make_url

    from trainlab.search.shared import open_storage, storage_file, storage_url

    own = tmp_path / "runs?2 #3 %41" / "optuna.db"
    own.parent.mkdir()
    url = storage_url(None, own)
    assert make_url(url).database == str(own) and storage_file(url) == own
    optuna.create_study(storage=open_storage(url), study_name="s")
    assert own.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [own.parent.name]


@pytest.mark.parametrize("query", ["", "?timeout=5"])
def test_a_study_url_typed_with_a_hash_in_its_path_names_the_file_sqlalchemy_opens(tmp_path, query):
    """storage_file read a typed sqlite:///<folder>/run#2/s.db with urllib, for which '#' starts a fragment: the
    study's file was taken for <folder>/run, and a timeout after the '#' was not seen (a second one added)."""
    from sqlalchemy.engine import make_url

    from trainlab.search.shared import storage_file, storage_url

    (tmp_path / "run#2").mkdir()  # a given file's folder must exist (storage_url refuses it otherwise)
    url = storage_url(f"sqlite:///{tmp_path}/run#2/s.db{query}", tmp_path / "unused.db")
    assert storage_file(url) == Path(make_url(url).database) == tmp_path / "run#2" / "s.db"
    assert make_url(url).query == {"timeout": "5" if query else "60"}


def test_a_study_file_given_by_a_relative_sqlite_url_is_found_from_any_folder(tmp_path, monkeypatch):
    """hydra.sweeper.storage=sqlite:///study.db was kept relative (a journal's path is made absolute): make analyze /
    refine, run from the repository's folder, said "its study file 'study.db' does not exist", and jobs started in
    another folder opened a study of their own. sqlite:///tmp/s.db (meant: /tmp/s.db) was told to mkdir -p 'tmp', and
    sqlite://tmp/s.db (a server named tmp) that the folder 's.db' lies in did not exist."""
    from sqlalchemy.engine import make_url

    from trainlab.search.shared import storage_file, storage_url

    (tmp_path / "here" / "my?studies").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "here")
    url = storage_url("sqlite:///my%3Fstudies/s.db?timeout=5", tmp_path / "unused.db")
    assert storage_file(url) == tmp_path / "here" / "my?studies" / "s.db" and make_url(url).query == {"timeout": "5"}
    monkeypatch.chdir(tmp_path)
    assert storage_file(url) == tmp_path / "here" / "my?studies" / "s.db"  # read from elsewhere: the same file
    meant = str(tmp_path / "here")[1:]  # sqlite:///<this, without its leading slash>/s.db
    with pytest.raises(UserError, match=re.escape(f"for the absolute path /{meant}/s.db write four slashes: "
                                                  f"hydra.sweeper.storage=sqlite:////{meant}/s.db")):
        storage_url(f"sqlite:///{meant}/s.db", tmp_path / "unused.db")
    with pytest.raises(UserError, match=re.escape("a sqlite URL names no server, but 'tmp' stands where one would")):
        storage_url("sqlite://tmp/s.db", tmp_path / "unused.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


@pytest.mark.parametrize("value", ["/home/José/runs", "/data/runs?2 #3", "it's", "a\\'b", "ends\\", "/plain/path_1",
                                   "relu", 0.001, 3, True, None, ["a", "é"],
                                   {"storage": "sqlite:////tmp/é/optuna.db?timeout=60", "trial_id": 3}])
def test_values_handed_to_a_sweeps_jobs_read_back_the_same(value):
    """Hydra's Transformer.str left letters outside ASCII, '?', '#' and quotes unquoted, which its own
    grammar refuses: every trial of a sweep under /home/José failed (OverrideParseException)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.search.space import as_override

    assert OverridesParser.create().parse_override(as_override("k", value)).value() == value
    if value in ("relu", "/plain/path_1"):
        assert as_override("k", value) == f"k={value}"  # quoted only where the grammar needs it


def test_commands_printed_to_resume_paste_back_into_a_shell():
    """'Resume with: python train.py ... ckpt_path=<run>' under '/tmp/my runs/José' split at the space and
    was refused by Hydra's grammar at the 'é'."""
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.config.spelling import command_line

    run = "/tmp/my runs/José/2026-11-30_00-00-00_abcdef"
    line = command_line("train.py", ["paths.log_dir='/tmp/my runs/José'", "model=cnn"], ckpt_path=run)
    words = shlex.split(line)
    assert words[:4] == ["python", "train.py", "paths.log_dir='/tmp/my runs/José'", "model=cnn"]
    assert OverridesParser.create().parse_override(words[4]).value() == run
    assert command_line("train.py", ["model=cnn"], ckpt_path="/tmp/run") == "python train.py model=cnn ckpt_path=/tmp/run"


def test_a_relative_run_path_typed_in_another_folder_names_the_repositorys(monkeypatch, tmp_path):
    """Runs go to the repository's outputs/ wherever train.py starts; 'outputs/train/runs/<run>' typed in
    another folder said only that it does not exist."""
    from trainlab.run.checkpoint_path import resolve_checkpoint

    run = tmp_path / "repo" / "outputs" / "train" / "runs" / "r1"
    (run / "checkpoints").mkdir(parents=True)
    for mark in ("conf/train.yaml", "train.py"):
        (tmp_path / "repo" / mark).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / mark).write_text("")
    monkeypatch.setenv("TRAINLAB_ROOT", str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=rf"^ckpt_path: 'outputs/train/runs/r1' does not exist in the working folder "
                                        rf"{tmp_path} \(relative paths are read from there\); the repository has it: "
                                        rf"ckpt_path={run}; give"):
        resolve_checkpoint("outputs/train/runs/r1")
    with pytest.raises(UserError, match=rf"^ckpt_path: 'outputs/x' does not exist in the working folder {tmp_path} "
                                        r"\(relative paths are read from there\); give a .ckpt file"):
        resolve_checkpoint("outputs/x")
    # runs put elsewhere by paths.log_dir: it was told only that the path does not exist, and to give a run
    # 'under outputs/', which held none
    logs = tmp_path / "scratch"
    (logs / "train" / "runs" / "r2" / "checkpoints").mkdir(parents=True)
    with pytest.raises(UserError, match=rf"^ckpt_path: 'outputs/train/runs/r2' does not exist in the working folder "
                                        rf"{tmp_path} \(relative paths are read from there\); paths.log_dir has it: "
                                        rf"ckpt_path={logs}/train/runs/r2; give a .ckpt file or a run directory under "
                                        rf"{logs}/train/runs/$"):
        resolve_checkpoint("outputs/train/runs/r2", log_dir=str(logs))


# -- the real command line: exit codes and the working folder -------------------------------------------
def _train_py(*args: str, cwd: Path, env: dict, shell_prefix: str = "",
              script: Path = ROOT / "train.py") -> "subprocess.CompletedProcess[str]":
    import os
    import shlex
    import sys

    command = shlex.join([sys.executable, str(script), *args])
    return subprocess.run(["sh", "-c", f"{shell_prefix}exec {command}"], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env})


def test_train_py_from_another_folder_with_a_stale_trainlab_root(tmp_path):
    """TRAINLAB_ROOT left from another checkout: experiment= was not found and outputs/ was made in the
    folder it named; a FileNotFoundError traceback for conf/train.yaml on a real run."""
    done = _train_py("--cfg", "job", "experiment=lstm_seed", cwd=tmp_path, env={"TRAINLAB_ROOT": str(tmp_path / "old")})
    assert done.returncode == 0, done.stderr
    assert "model:" in done.stdout and f"TRAINLAB_ROOT={tmp_path / 'old'} is not the folder of train.py" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_train_py_in_a_removed_working_folder_is_one_line(tmp_path):
    (tmp_path / "gone").mkdir()
    done = _train_py("--cfg", "job", cwd=tmp_path, env={}, shell_prefix="cd gone && rmdir ../gone && ")
    assert done.returncode == 2
    assert done.stderr == ("error: the working folder this command was started in no longer exists (removed after "
                           "the shell entered it); cd to an existing folder and run it again\n")


@pytest.mark.parametrize("value, warned", [("abc", True), ("0", True), ("4", False), ("4,2", False)])
def test_an_omp_num_threads_openmp_cannot_read_is_named_with_the_setting_that_chooses(
        compose_cfg, monkeypatch, caplog, value, warned):
    """libgomp's own line ('Invalid value for environment variable OMP_NUM_THREADS') named no fix."""
    from trainlab.run.pipeline import prepare

    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        prepare(compose_cfg(["hardware=cpu"]))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ([f"OMP_NUM_THREADS={value} is not a number of threads, so OpenMP ignores it and torch uses "
                      f"{__import__('torch').get_num_threads()}; unset it, or choose them with hardware.num_threads=<n>"]
                     if warned else [])
    caplog.clear()  # the fix it names: the threads chosen, the variable no longer matters (it kept warning)
    with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        prepare(compose_cfg(["hardware=cpu", "hardware.num_threads=1"]))
    assert caplog.records == []


def test_a_linked_train_py_finds_the_checkouts_configs(tmp_path):
    """train.py linked into ~/bin: Hydra looked for ~/bin/conf ('Primary config directory not found')."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "train.py").symlink_to(ROOT / "train.py")
    done = _train_py("--cfg", "job", "experiment=lstm_seed", cwd=tmp_path, env={}, script=tmp_path / "bin" / "train.py")
    assert done.returncode == 0, done.stderr
    assert "hidden_size: 128" in done.stdout  # experiments/experiment/lstm_seed.yaml


def test_an_image_folder_that_cannot_be_listed_is_one_line(tmp_path, monkeypatch):
    """chmod 000 on data.source.path (or its masks): PermissionError traceback from Path.iterdir. Faked here,
    as the suite may run as root, which reads any folder."""
    from trainlab.data.image.folder import ImageFolder

    (tmp_path / "images").mkdir()
    real = Path.iterdir

    def refused(self):
        if self == tmp_path / "images":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", refused)
    monkeypatch.setenv("USER", "ann")
    with pytest.raises(UserError, match=rf"^data.source.path='{tmp_path}/images' cannot be listed by user 'ann' \(Permission "
                                        rf"denied\); let user 'ann', its owner, list it: chmod u\+rx '{tmp_path}/images'; "
                                        r"or give another folder$"):
        ImageFolder(str(tmp_path / "images")).load()


@pytest.mark.parametrize("target", ["analyze", "refine", "stage2"])
def test_make_targets_pass_a_sweep_folder_with_spaces_as_one_argument(target):
    """make refine SWEEP='/tmp/my sweeps/s1' ran 'refine /tmp/my sweeps/s1': 'unrecognized arguments: sweeps/s1'."""
    import shlex
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("no make here")
    shown = subprocess.run(["make", "-s", "-n", target, "PY=python", "VENV=", "SWEEP=/tmp/my sweeps/s1"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert shlex.split(shown.strip().splitlines()[-1])[3] == "/tmp/my sweeps/s1"


def test_make_dashboard_opens_the_study_the_sweep_wrote(tmp_path):
    """make dashboard wrote its own sqlite:///<SWEEP>/optuna.db: a '?' or '#' in the folder's name cut the URL
    (storage_url escapes them for the sweep), and a sweep on a shared storage got an empty new optuna.db."""
    import shutil
    import subprocess
    import sys

    from sqlalchemy.engine import make_url

    if shutil.which("make") is None:
        pytest.skip("no make here")

    def opened(sweep: Path) -> str:
        return subprocess.run(["make", "-s", "dashboard", f"PY={sys.executable}", "VENV=", "DASHBOARD=echo",
                               f"SWEEP={sweep}"], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")}).stdout.split(" --host")[0]

    odd = tmp_path / "runs?2 #3 %41"
    odd.mkdir()
    (odd / "optuna.db").touch()
    assert make_url(opened(odd)).database == str(odd / "optuna.db")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "optimization_results.yaml").write_text("storage: postgresql://me@db:5432/studies\nstudy_name: s\n")
    assert opened(shared) == "postgresql://me@db:5432/studies"
    # a folder whose optuna.db is gone: optuna-dashboard made an empty one there and showed no study
    gone = tmp_path / "gone"
    gone.mkdir()
    with pytest.raises(subprocess.CalledProcessError) as refused:
        opened(gone)
    errors = [line for line in refused.value.stderr.splitlines() if line.startswith("error: ")]  # then make's own
    assert len(errors) == 1 and errors[0].startswith(
        f"error: {gone}: its study file '{gone / 'optuna.db'}' does not exist (moved or removed?)")
    assert not (gone / "optuna.db").exists()
    # SWEEP= left empty: the Makefile handed '.', told '.: its study file <checkout>/optuna.db does not exist'
    # (now handed as given, and refused by dashboard_storage: the next test)
    shown = subprocess.run(["make", "-s", "-n", "dashboard", "PY=python", "VENV=", "SWEEP="], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert "print(dashboard_storage(sys.argv[1]))' \"\")" in shown, shown


def test_make_dashboard_refuses_a_folder_that_is_no_sweep_as_the_other_tools_do(tmp_path, capsys):
    """A typo in SWEEP= met optuna-dashboard's sqlalchemy traceback; a staged search's folder, whose stages hold the
    studies, was told its optuna.db was 'moved or removed?'."""
    from trainlab.search.shared import dashboard_storage

    staged = tmp_path / "staged"
    (staged / "1_architecture").mkdir(parents=True)
    (staged / "1_architecture" / "optuna.db").touch()
    (staged / "stages.yaml").write_text("stages: []\n")
    for sweep, expected in (("", "error: no sweep folder given: make dashboard SWEEP=outputs/train/multiruns/<sweep>, "
                                 "or STORAGE=<url> for a study elsewhere"),
                            (tmp_path / "typo", f"error: {tmp_path / 'typo'} is not a folder; give a sweep folder"),
                            (staged, f"error: {staged} is a staged search, with a study per stage: give one of its "
                                     f"stages' folders ({staged / '1_architecture'})")):
        with pytest.raises(SystemExit) as exited:
            dashboard_storage(str(sweep))
        (line,) = capsys.readouterr().err.splitlines()
        assert exited.value.code == 2 and line.startswith(expected), line
        assert not (Path(sweep) / "optuna.db").exists()


def _journal_sweep(tmp_path: Path) -> tuple[Path, Path]:
    """A sweep folder whose study lives in a journal file beside it (hydra.sweeper.storage=journal:<file>)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = tmp_path / "lstm.journal"
    optuna.create_study(study_name="lstm", storage=JournalStorage(JournalFileBackend(str(journal))))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "optimization_results.yaml").write_text(f"storage: journal:{journal}\nstudy_name: lstm\n")
    return sweep, journal


def test_make_dashboard_hands_a_sweeps_journal_as_its_file(tmp_path):
    """A sweep on hydra.sweeper.storage=journal:<file> was handed to optuna-dashboard as 'journal:<file>', which it
    refused with a traceback (ValueError: Failed to guess storage class from storage_url)."""
    from trainlab.search.shared import dashboard_storage

    sweep, journal = _journal_sweep(tmp_path)
    assert dashboard_storage(str(sweep)) == str(journal)


def test_make_dashboard_hands_a_journal_given_as_storage_as_its_file(tmp_path):
    """STORAGE=journal:<file> (the sweep's hydra.sweeper.storage, copied) reached optuna-dashboard as it was typed,
    which it refuses with a traceback; STORAGE= of a server goes as typed."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("no make here")
    for storage, opened in ((f"journal:{tmp_path}/s.journal", f"{tmp_path}/s.journal"),
                            ("postgresql://me@db:5432/studies", "postgresql://me@db:5432/studies")):
        shown = subprocess.run(["make", "-s", "dashboard", "VENV=", "DASHBOARD=echo", f"STORAGE={storage}"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
        assert shown.split(" --host")[0] == opened


@pytest.mark.slow  # optuna-dashboard's import alone takes 3.5 s
def test_optuna_dashboard_opens_the_journal_make_dashboard_hands_it(tmp_path):
    import optuna
    from optuna_dashboard._storage_url import get_storage

    from trainlab.search.shared import dashboard_storage

    sweep, _ = _journal_sweep(tmp_path)
    assert optuna.get_all_study_names(get_storage(dashboard_storage(str(sweep)))) == ["lstm"]


def test_stage_two_names_an_earlier_sweep_under_any_folder_in_hydras_grammar(tmp_path):
    """hydra.sweeper.fix_top_of=<sweep> was written bare: a sweep under '/home/José' was refused by Hydra's grammar."""
    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.search.stages import stage2_command

    sweep = tmp_path / "José's sweeps" / "s1"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"hydra": [], "task": ["model=cnn"]}}}))
    command = stage2_command(sweep, 2, [], ROOT)
    fixing = OverridesParser.create().parse_overrides(command[3:])
    assert {o.key_or_group: o.value() for o in fixing}["hydra.sweeper.fix_top_of"] == str(sweep)


def test_a_run_folder_moved_elsewhere_resumes_with_its_kept_checkpoints(compose_cfg, run_train, tmp_path):
    """The checkpoint's state names its kept checkpoints by the paths of the old place: a run folder moved
    to another machine resumed without them (the earlier best forgotten: the resumed run could test a worse
    one), and a copied folder reached back into the original's files."""
    import shutil

    from tests.conftest import TINY

    first = compose_cfg([*TINY, "logger=none", "trainer.max_epochs=1", "callbacks.early_stopping=null"])
    run_train(first)
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(first.paths.output_dir, moved)
    shutil.rmtree(first.paths.output_dir)
    kept = sorted(p.name for p in (moved / "checkpoints").glob("epoch*.ckpt"))
    assert kept
    resumed = compose_cfg([*TINY, "logger=none", "trainer.max_epochs=2", "callbacks.early_stopping=null",
                           f"ckpt_path={moved}"])
    run_train(resumed)
    carried = {p.name for p in (Path(resumed.paths.output_dir) / "checkpoints").glob("epoch*.ckpt")}
    assert set(kept) <= carried, (kept, carried)


def test_train_py_of_another_clone_says_whose_code_it_runs(monkeypatch, tmp_path, caplog):
    """A venv installed (editable) from clone A runs clone B's train.py with A's code and B's configs."""
    other = tmp_path / "clone_b"
    (other / "src" / "trainlab").mkdir(parents=True)
    monkeypatch.delenv("TRAINLAB_ROOT", raising=False)
    with caplog.at_level(logging.WARNING, logger="trainlab.run.root"):
        claim_root(str(other / "train.py"))
        assert [r.getMessage() for r in caplog.records] == [
            f"trainlab is imported from {ROOT / 'src' / 'trainlab'}, not from {other / 'src' / 'trainlab'} beside this "
            f"train.py, whose configs it runs with; put {other / 'src'} on PYTHONPATH, or pip install -e {other}"]
        caplog.clear()
        monkeypatch.delenv("TRAINLAB_ROOT")
        claim_root(str(ROOT / "train.py"))  # this clone's own code: no word
        assert caplog.records == []


def test_an_empty_output_folder_or_data_path_is_refused(capsys):
    """paths.log_dir=$LOGDIR with LOGDIR unset: runs went to /train/runs/... at the top of the disk (made
    there as root); data.source.path= read the working folder ('' is a folder)."""
    from trainlab.data.files import read_frame

    config = {"paths": {"log_dir": ""}, "hydra": {"run": {"dir": "${paths.log_dir}/train/runs/1"}}}
    assert _preflight(config, capsys) == (
        "error: paths.log_dir is empty (an unset shell variable in paths.log_dir=$NAME?), so runs would go to the top "
        "of the disk; give a folder: paths.log_dir=<folder>\n")
    with pytest.raises(UserError, match=r"^data.source.path is empty \(an unset shell variable in data.source.path="
                                        r"\$NAME\?\); give the path of a .csv, .parquet, .npy, .xlsx, .xls, .ods, .ecsv, .vot or .fits file$"):
        read_frame("", "data.source.path")
    from trainlab.data.image.folder import ImageFolder

    with pytest.raises(UserError, match=r"^data.source.path is empty .*; give the folder holding your images$"):
        ImageFolder("")


def test_a_config_dir_that_names_no_folder_is_one_line(tmp_path):
    """Hydra's answer was three lines and exit 1 ('Additional config directory ... not found'); with
    --config-dir=~/myconf the shell leaves the '~', which Hydra takes for a folder of that name."""
    done = _train_py("--config-dir=~/myconf", "--cfg", "job", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr == (f"error: --config-dir ~/myconf: no such folder ({tmp_path}/~/myconf); Hydra expands neither ~ "
                           "nor $NAME; write --config-dir ~/myconf (a space, not '=', lets the shell expand it)\n")
    from trainlab.config.search_path import config_dir_problem

    # quoted, after a space: the quotes, not the '=', kept the shell from expanding it
    for quoted in ("~/myconf", "$HOME/myconf"):
        assert config_dir_problem(["--config-dir", quoted]).endswith(
            f"write --config-dir {quoted} (unquoted, the shell expands it)")
    (tmp_path / "mine").mkdir()
    assert config_dir_problem(["-cd", str(tmp_path / "mine"), "model=cnn"]) is None
    assert config_dir_problem(["-cd", str(tmp_path / "nope")]) == (
        f"--config-dir {tmp_path / 'nope'}: no such folder ({tmp_path / 'nope'}); give the folder that holds your config "
        "groups (model/, data/, ...)")
    # a config file given for its folder, a link to nowhere: both were 'no such folder'
    (tmp_path / "mine" / "model.yaml").write_text("x: 1\n")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    assert config_dir_problem(["-cd", str(tmp_path / "mine" / "model.yaml")]).startswith(
        f"--config-dir {tmp_path / 'mine' / 'model.yaml'}: a file, not a folder ({tmp_path / 'mine' / 'model.yaml'}); ")
    assert config_dir_problem([f"hydra.searchpath=[file://{tmp_path / 'gone'}]"]).startswith(
        f"hydra.searchpath: a link to nowhere at file://{tmp_path / 'gone'} ")
    # the same folders given as a search path: Hydra skipped one that is not there without a word
    assert config_dir_problem([f"hydra.searchpath=[file://{tmp_path / 'mine'}]"]) is None
    assert config_dir_problem([f"hydra.searchpath=[file://{tmp_path / 'nope'}]"]) == (
        f"hydra.searchpath: no such folder file://{tmp_path / 'nope'} ({tmp_path / 'nope'}); give the folder that holds "
        "your config groups, or --config-dir <folder>")


def test_a_read_only_home_gets_a_lasting_matplotlib_folder_and_no_warnings(tmp_path, monkeypatch):
    """With ~/.config not writable (a read-only or shared home on a cluster) matplotlib logged two
    warnings at every run and rebuilt its font cache in a new temporary folder each time."""
    import os
    import subprocess
    import sys
    import tempfile

    (tmp_path / "a_file").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path / "a_file" / "home")  # no folder can be made there, not even by root
    probe = ("from trainlab.run.console import matplotlib_config_where_writable as chosen; print(chosen()); "
             "import logging; logging.basicConfig(); import matplotlib.pyplot")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.path.join(tempfile.gettempdir(), f"trainlab-matplotlib-{os.getuid()}")
    assert "Matplotlib created a temporary cache directory" not in done.stderr and "mkdir -p failed" not in done.stderr
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))  # the user's own setting stays
    from trainlab.run.console import matplotlib_config_where_writable

    assert matplotlib_config_where_writable() is None and os.environ["MPLCONFIGDIR"] == str(tmp_path / "mine")


def _unreadable_case(kind: str, tmp_path: Path):
    """(the file to refuse, what reads it, the key its refusal names) for each reader of a user's file."""
    import numpy as np

    if kind in ("series", "catalogue"):
        path = tmp_path / "table.csv"
        path.write_text("member,parallax,pmra,pmdec,phot_g_mean_mag,bp_rp,ra,dec\n" + "0,1,1,1,1,1,1,1\n" * 4)
        if kind == "series":
            from trainlab.data.timeseries.sources import TableFile

            return path, TableFile(str(path), ["parallax"]).load, "data.source.path"
        from trainlab.data.graph.catalogue import StarCatalogue

        return path, StarCatalogue(str(path), "member").load, "data.source.path"
    if kind in ("image", "mask"):
        from trainlab.data.image.folder import ImageFolder

        (tmp_path / "images" / "masks").mkdir(parents=True)
        np.save(tmp_path / "images" / "a.npy", np.ones((16, 16), np.float32))
        np.save(tmp_path / "images" / "masks" / "a.npy", np.zeros((16, 16), np.uint8))
        path = tmp_path / "images" / ("a.npy" if kind == "image" else "masks/a.npy")
        return path, ImageFolder(str(tmp_path / "images")).load, \
            "data.source.path" if kind == "image" else "data.source.mask_dir"
    from trainlab.run.checkpoint_path import load_checkpoint

    path = tmp_path / "last.ckpt"
    path.write_bytes(b"not read")
    return path, lambda: load_checkpoint(path), "ckpt_path"


@pytest.mark.parametrize("kind", ["series", "catalogue", "image", "mask", "checkpoint"])
def test_a_file_this_user_may_not_read_is_one_line_naming_the_setting_and_chmod(kind, tmp_path, monkeypatch):
    """chmod 000 on a data file, an image, a mask or a checkpoint: 'cannot read ... as csv: [Errno 13]
    Permission denied' without a fix, and for a checkpoint 'is not a readable checkpoint (PermissionError ...);
    was it cut short?'. Faked (the suite may run as root, which reads any file): open() refuses that file."""
    from tests.conftest import deny_reading

    path, read, key = _unreadable_case(kind, tmp_path)
    deny_reading(monkeypatch, path)
    monkeypatch.setenv("USER", "ann")
    with pytest.raises(UserError, match=rf"^{key}: '{path}' cannot be read by user 'ann' \(Permission denied\); let "
                                        rf"user 'ann', its owner, read it: chmod u\+r '{path}'; or give another$"):
        read()


@pytest.mark.parametrize("spec, said", [
    ("sqlite:///{tmp}/studies", "'{tmp}/studies' is a folder; name a file in it: sqlite:///{tmp}/studies/optuna.db"),
    ("journal:{tmp}/studies", "'{tmp}/studies' is a folder; name a file in it: journal:{tmp}/studies/study.journal"),
    ("sqlite:///{tmp}/nope/s.db", "the folder '{tmp}/nope' does not exist; create it (mkdir -p '{tmp}/nope'), or name "
                                  "a file in another folder"),
    ("journal:{tmp}/nope/s.journal", "the folder '{tmp}/nope' does not exist"),
    ("sqlite:///{tmp}/shared/s.db", "user 'ann' may not write '{tmp}/shared' (Permission denied); let user 'ann', its "
                                    "owner, write in it: chmod u+wx '{tmp}/shared'; or name a file in a folder of yours"),
])
def test_a_study_file_that_cannot_be_kept_there_is_one_line_naming_why(spec, said, tmp_path, monkeypatch):
    """hydra.sweeper.storage=sqlite:///<a folder, or a file in a missing or unwritable folder>: 'cannot open the
    study after 5 tries: unable to open database file' (five tries, no reason); journal:<a folder>: an
    IsADirectoryError traceback, exit 1. Unwritable is faked (the suite may run as root): os.access says no."""
    from trainlab.search.shared import SQLITE_TIMEOUT_S, create_or_load, storage_url

    (tmp_path / "studies").mkdir()
    (tmp_path / "shared").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path / "shared" else real(p, mode))
    monkeypatch.setenv("USER", "ann")
    given = spec.format(tmp=tmp_path)
    # refused at the sweep's plan (storage_url, before the sweep folder is made), and where the study is opened
    with pytest.raises(UserError, match="^" + re.escape(f"hydra.sweeper.storage={given}: {said.format(tmp=tmp_path)}")):
        storage_url(given, tmp_path / "unused.db")
    url = f"{given}?timeout={SQLITE_TIMEOUT_S}" if given.startswith("sqlite") else given  # as storage_url writes it
    with pytest.raises(UserError, match="^" + re.escape(f"hydra.sweeper.storage={url}: {said.format(tmp=tmp_path)}")):
        create_or_load(url, "s", ["minimize"])
    assert list((tmp_path / "studies").iterdir()) == [] and list((tmp_path / "shared").iterdir()) == []


def test_a_finished_sweeps_study_whose_folder_is_gone_is_not_a_folder_to_create(tmp_path):
    """make analyze / refine of a sweep whose hydra.sweeper.storage file lay in a folder since removed was told
    'the folder ... does not exist; create it (mkdir -p ...)': a new folder holds no study (an empty database,
    then 'Record does not exist')."""
    import yaml

    from trainlab.search.sweep_folder import load_sweep_study

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    gone = tmp_path / "gone" / "s.db"
    (sweep / "optimization_results.yaml").write_text(yaml.safe_dump({"storage": f"sqlite:///{gone}", "study_name": "s"}))
    with pytest.raises(UserError, match=re.escape(f"the folder '{gone.parent}' does not exist, so the study is not "
                                                  "there (moved or removed?)")):
        load_sweep_study(sweep)
    assert not gone.parent.exists()


@pytest.mark.parametrize("code", ["SQLITE_FULL", "SQLITE_IOERR_WRITE"])
def test_a_study_that_cannot_be_written_is_a_full_disk_at_once(code, tmp_path, monkeypatch):
    """A sweep under prlimit --fsize: sqlite's 'disk I/O error' (SQLITE_IOERR_WRITE) was tried five times and
    refused as 'cannot open the study after 5 tries: disk I/O error', naming no disk; a full one (SQLITE_FULL) was
    tried five times too."""
    import sqlite3

    import optuna
    import sqlalchemy.exc

    from trainlab.search.shared import create_or_load, storage_url

    calls = []

    def refused(**kwargs):
        calls.append(kwargs)
        cause = sqlite3.OperationalError("disk I/O error")
        cause.sqlite_errorcode = getattr(sqlite3, code, 778)
        raise sqlalchemy.exc.OperationalError("INSERT INTO studies ...", {}, cause) from cause  # as SQLAlchemy does

    monkeypatch.setattr(optuna, "create_study", refused)
    with pytest.raises(UserError, match=r"^the disk is full: the study could not be written \(disk I/O error\)\. "
                                        r"Free some space on that disk"):
        create_or_load(storage_url(None, tmp_path / "optuna.db"), "s", ["minimize"])
    assert len(calls) == 1


@pytest.mark.parametrize("limit, free, said", [(20000, 10 ** 9, "a file-size limit stopped the write"),
                                               (-1, 10 ** 9, "the disk is full"), (20000, 0, "the disk is full"),
                                               (10 ** 9, 10 ** 9, "the disk is full")])
def test_a_study_stopped_by_a_file_size_limit_is_not_called_a_full_disk(limit, free, said, tmp_path, monkeypatch):
    """A sweep under ulimit -f: sqlite's 'database or disk is full' (no errno) said 'the disk is full' of a disk
    with room. Now a file-size limit the study's file has reached, on a disk with room, is named with its fix;
    a full disk (or a limit far above the file) is still a full disk."""
    import resource
    import shutil
    import sqlite3

    import optuna
    import sqlalchemy.exc

    from trainlab.search.shared import create_or_load, storage_url

    (tmp_path / "optuna.db").write_bytes(b"x" * 20000)  # the study's file, as far as the limit let it grow

    def refused(**kwargs):
        cause = sqlite3.OperationalError("database or disk is full")
        cause.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise sqlalchemy.exc.OperationalError("INSERT INTO trials ...", {}, cause) from cause

    monkeypatch.setattr(optuna, "create_study", refused)
    fsize = resource.RLIM_INFINITY if limit == -1 else limit
    real = resource.getrlimit
    monkeypatch.setattr(resource, "getrlimit", lambda which: (fsize, fsize) if which == resource.RLIMIT_FSIZE
                        else real(which))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 10, 10 ** 10 - free, free))
    with pytest.raises(UserError) as refusal:
        create_or_load(storage_url(None, tmp_path / "optuna.db"), "s", ["minimize"])
    assert str(refusal.value).startswith(f"{said}") and "the study could not be written" in str(refusal.value)
    assert ("ulimit -f unlimited" in str(refusal.value)) == said.startswith("a file-size")


def test_a_relative_mask_dir_missing_from_the_working_folder_names_it(tmp_path, monkeypatch):
    """data.source.mask_dir=masks typed in another folder than the images': 'is not a folder; make it ...', with
    no word that a relative path is read from the working folder (data.source.path's refusal says so)."""
    import numpy as np

    from trainlab.data.image.folder import ImageFolder

    (tmp_path / "images").mkdir()
    np.save(tmp_path / "images" / "a.npy", np.ones((16, 16), np.float32))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(UserError, match="^" + re.escape(
            f"data.source.mask_dir='masks' is not a folder in the working folder {tmp_path / 'elsewhere'} (relative "
            "paths are read from there); make it")):
        ImageFolder(str(tmp_path / "images"), mask_dir="masks").load()


# -- processes another launcher started ------------------------------------------------------------------
def test_torchrun_starting_several_processes_is_refused_once_before_any_folder(tmp_path, monkeypatch, capsys):
    """torchrun --nproc_per_node=2 train.py trained two identical single-process runs, each in a folder of its
    own, said nowhere (or the second was refused for the folder the first had just made)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["train.py"])
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    config = {"paths": {"log_dir": str(tmp_path / "out")}, "hydra": {"run": {"dir": str(tmp_path / "out" / "run")}}}
    line = _preflight(config, capsys)
    assert line.startswith("error: train.py was started by torchrun as process 0 of 2 (WORLD_SIZE=2), and each process "
                           "would train the whole run alone")
    assert "python train.py trainer=ddp_sim" in line and "hydra/launcher=slurm" in line
    assert not (tmp_path / "out" / "run").exists()
    # the other processes end with the same status, without the same line again
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert _preflight_status(config, capsys) == (2, "")


def test_torchrun_with_one_process_or_lightnings_own_ranks_run_as_before(tmp_path, monkeypatch, capsys):
    """One process under torchrun is a plain run; the ranks Lightning starts (LOCAL_RANK, WORLD_SIZE, no
    torchrun mark) join their first rank's folder as before."""
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight, release_run_folder

    config = OmegaConf.create({"paths": {"log_dir": str(tmp_path / "out")},
                               "hydra": {"run": {"dir": str(tmp_path / "out" / "run")}}})
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    Preflight(min_free_mb=0).on_run_start(config)
    release_run_folder()
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    Preflight(min_free_mb=0).on_run_start(config)
    assert capsys.readouterr().err == ""


def _preflight_status(config: dict, capsys) -> tuple[int, str]:
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight

    with pytest.raises(SystemExit) as stop:
        Preflight(min_free_mb=0).on_run_start(OmegaConf.create(config))
    return stop.value.code, capsys.readouterr().err


def _srun_task(monkeypatch, rank: int) -> None:
    for key, value in {"SLURM_JOB_ID": "1", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "SLURM_STEP_NUM_TASKS": "2",
                       "SLURM_NTASKS_PER_NODE": "2",
                       "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank), "SLURM_NODEID": "0"}.items():
        monkeypatch.setenv(key, value)


def test_the_tasks_of_an_srun_step_share_the_folder_rank_0_chose(tmp_path, monkeypatch, capsys):
    """srun --ntasks=2 python train.py trainer=ddp_sim: rank 1 made a run folder of its own (Hydra's default has
    the second it started in), or, with one hydra.run.dir, made it first and rank 0 was refused for a folder
    'that already holds other files'. Rank 1 now runs in the folder rank 0 chose and claimed, and makes none."""
    from omegaconf import OmegaConf

    from trainlab.run import srun_step
    from trainlab.run.preflight import Preflight, release_run_folder

    def config(run: str):
        return OmegaConf.create({"paths": {"log_dir": str(tmp_path / "out")}, "hydra": {
            "run": {"dir": str(tmp_path / "out" / run)}, "output_subdir": ".hydra"}})

    _srun_task(monkeypatch, 0)
    first = config("chosen_by_rank_0")
    Preflight(min_free_mb=0).on_run_start(first)
    (tmp_path / "out" / "chosen_by_rank_0" / "train.log").write_text("rank 0 started\n")
    _srun_task(monkeypatch, 1)
    second = config("a_second_later")  # its own draw of the folder's name
    Preflight(min_free_mb=0).on_run_start(second)
    assert second.hydra.run.dir == str(tmp_path / "out" / "chosen_by_rank_0")
    assert second.hydra.output_subdir is None
    assert not (tmp_path / "out" / "a_second_later").exists()
    # rank 0's note naming its folder goes at its run's end (every rank read it before DDP began), and so does
    # .srun_steps once empty: they were left behind, one per step and requeue
    notes = tmp_path / "out" / ".srun_steps"
    assert [n.name for n in notes.iterdir()] == ["1.0.0"]
    (notes / "1.1.0").write_text("another step's note")
    Preflight(min_free_mb=0).on_run_end(first)
    assert [n.name for n in notes.iterdir()] == ["1.1.0"]
    (notes / "1.1.0").unlink()
    _srun_task(monkeypatch, 0)
    Preflight(min_free_mb=0).on_run_start(config("chosen_again"))
    release_run_folder()
    assert not notes.exists()
    _srun_task(monkeypatch, 1)
    # a rank whose rank 0 never names a folder (it stopped, or paths.log_dir is not shared) says so, once
    monkeypatch.setenv("SLURM_STEP_ID", "1")
    monkeypatch.setattr(srun_step, "STEP_WAIT_S", 0)
    status, err = _preflight_status({"paths": {"log_dir": str(tmp_path / "out")}, "hydra": {
        "run": {"dir": str(tmp_path / "out" / "x")}, "output_subdir": ".hydra"}}, capsys)
    assert status == 2 and err.startswith("error: rank 1 of this srun step waited 0 s for rank 0 to name the run "
                                          "folder") and "hydra/launcher=slurm" in err
    assert not (tmp_path / "out" / "x").exists()


def test_the_tasks_of_an_srun_step_stop_at_once_when_rank_0_stops_before_naming_its_folder(tmp_path, monkeypatch,
                                                                                         capsys):
    """srun --ntasks=2 python train.py trainer=ddp_sim hydra.run.dir=<a folder holding another run>: rank 0 was
    refused in one line, and rank 1 waited 300 s for a folder that would never be named, then said rank 0 had
    stopped. Now rank 0 tells the step it stopped, and rank 1 ends at once, silently (rank 0 said why)."""
    import time

    from trainlab.run import srun_step

    monkeypatch.setattr(srun_step, "STEP_WAIT_S", 20)
    taken = tmp_path / "out" / "taken"
    taken.mkdir(parents=True)
    (taken / "model.ckpt").write_text("another run's file")
    config = {"paths": {"log_dir": str(tmp_path / "out")}, "trainer": {"devices": 2},
              "hydra": {"run": {"dir": str(taken)}, "output_subdir": ".hydra"}}
    _srun_task(monkeypatch, 0)
    status, err = _preflight_status(config, capsys)
    assert status == 2 and err.startswith("error: ") and "taken" in err, err
    _srun_task(monkeypatch, 1)
    began = time.monotonic()
    status, err = _preflight_status(config, capsys)
    assert (status, err) == (2, "")
    assert time.monotonic() - began < 5
    assert (taken / "model.ckpt").read_text() == "another run's file"


@pytest.mark.parametrize("trainer, refused", [({"devices": 1, "num_nodes": 1}, True), ({"devices": "1"}, True),
                                              ({"devices": 2, "num_nodes": 1}, False), ({"devices": "auto"}, False)])
def test_srun_tasks_of_a_one_process_run_are_refused_before_any_folder(tmp_path, monkeypatch, capsys, trainer,
                                                                        refused):
    """srun --ntasks=2 python train.py (no DDP trainer): rank 1 joined rank 0's folder and trained the whole run
    again there, both writing the same checkpoints. Now rank 0 says why in one line and every task stops, before a
    folder is made; a run of several processes (or of a count Lightning finds) goes on as before."""
    config = {"paths": {"log_dir": str(tmp_path / "out")}, "trainer": trainer,
              "hydra": {"run": {"dir": str(tmp_path / "out" / "r")}, "output_subdir": ".hydra"}}
    for rank in (0, 1):
        _srun_task(monkeypatch, rank)
        if not refused:
            continue
        status, err = _preflight_status(config, capsys)
        assert status == 2
        if rank == 0:
            assert err.startswith("error: srun started 2 tasks of this run (SLURM_STEP_NUM_TASKS=2), which trains "
                                  "in one process") and "srun --ntasks=1" in err and "hardware.devices=2" in err, err
        else:
            assert err == ""  # said once, by rank 0
        assert not (tmp_path / "out" / "r").exists()
    if not refused:
        from omegaconf import OmegaConf

        from trainlab.run.preflight import srun_one_process_problem

        assert srun_one_process_problem(OmegaConf.create(config)) is None
