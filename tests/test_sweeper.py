"""The Optuna sweeper: search spaces, the pruning callback, bad sweep configs, and small real sweeps.

Real sweeps run as a person types them (subprocesses) on tiny data; they take 10-60 s each (the
submitit_local one up to two minutes: it starts a Python process per trial) and are marked slow.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch
import yaml
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tests.conftest import ROOT, config_options, family_overrides
from trainlab.config.instantiate import build
from trainlab.run.pipeline import build_net
from trainlab.config.errors import UserError, report_user_errors
from trainlab.search.handover import TrialHandover
from trainlab.run.cores import usable_cores
from trainlab.search.plan import SweepPlan
from trainlab.search.pruning import OptunaPruning
from trainlab.search.shared import trial_id
from trainlab.search.checks import check_value_types
from trainlab.search.space import check_keys, grid_values, parse_space
from trainlab.search.trial import TrialFailed, optuna_trial

TINY_SWEEP = ["data.source.num_rows=400", "data.window=12", "model.net.hidden_size=8", "trainer.max_epochs=4",
              "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "hardware.num_threads=1",
              # the seed's setup (no past targets, no window scaling): its trials differ clearly in their
              # validation curves, so a median rule has trials to prune; with the forecasting defaults every
              # tiny trial lands within a few percent of the last-value forecast
              "data.target_inputs=false", "model.window_scaling=none",
]
HAS_LAUNCHER = {name: importlib.util.find_spec(f"hydra_plugins.hydra_{name}_launcher") is not None
                for name in ("joblib", "submitit")}
# the time-series models' spaces (conf/hparams_search/space/<model>.yaml) and, per model, the width
# that TINY_SWEEP pins small (a searched key given on the command line is fixed for every trial)
TIME_SERIES_WIDTH = {"lstm": "model.net.hidden_size", "lstm_attention": "model.net.hidden_size",
                     "cnn": "model.net.hidden_channels", "tcn": "model.net.hidden_channels"}


def sweep(*args: str, tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", *args,
                           f"paths.log_dir={tmp_path}/outputs"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=timeout)


def trials_of(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "trials.csv").open() as handle:
        return list(csv.DictReader(handle))


def epochs_reported(sweep_dir: Path) -> int:
    """Epochs trial 0 has reported to the study so far (0 before the study is ready)."""
    if not (sweep_dir / "multirun.yaml").is_file():  # written after the study's tables: reading earlier races
        return 0
    try:
        trials = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db").trials
    except KeyError:  # the study is not created yet
        return 0
    return len(trials[0].intermediate_values) if trials else 0


def only_sweep_dir(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    return found


# -- search spaces ------------------------------------------------------------------------------------
def test_search_file_gives_the_seed_space(compose_cfg):
    cfg = compose_cfg(["hparams_search=optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.trainlab_optuna_sweeper.TrainlabOptunaSweeper"
    assert sweeper.pruner._target_ == "optuna.pruners.MedianPruner"
    assert (sweeper.pruner.n_startup_trials, sweeper.pruner.n_warmup_steps) == (5, 3)
    assert cfg.trainer.max_epochs == 10 and "early_stopping" in cfg.callbacks
    assert cfg.optimized_metric == "val/loss" and sweeper.direction == "minimize"
    space, fixed = parse_space(sweeper.params, None, [])
    assert space == {
        "model.net.hidden_size": IntDistribution(32, 128, step=16),
        "model.net.num_layers": IntDistribution(1, 5),
        "optimizer.lr": FloatDistribution(1e-5, 1e-3, log=True),
        "data.batch_size": CategoricalDistribution([16, 32, 64]),
    }
    assert fixed == []


@pytest.mark.parametrize("model", config_options("model"))
def test_every_model_has_a_search_space_of_its_own_keys(compose_cfg, model):
    cfg = compose_cfg(["hparams_search=optuna", *family_overrides(model)])  # with its family's data
    assert cfg.hydra.runtime.choices["hparams_search/space@hydra.sweeper.params"] == model
    space, fixed = parse_space(cfg.hydra.sweeper.params, None, [])
    assert space and fixed == []
    check_keys(cfg, space)  # raises on a key the model's config does not have
    check_value_types(cfg, space)  # and on values of another type than the key's


def corner(dist: BaseDistribution, end: int) -> Any:
    """The lowest (end=0) or highest (end=-1) value a distribution can give."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[end]
    return dist.low if end == 0 else dist.high


@pytest.mark.parametrize("model", sorted(TIME_SERIES_WIDTH))
@pytest.mark.parametrize("end", [0, -1], ids=["low", "high"])
def test_search_space_corners_build_and_run(compose_cfg, model, end):
    """Every parameter at its lowest (or highest) value at once still gives a net that runs."""
    space, _ = parse_space(compose_cfg(["hparams_search=optuna", f"model={model}"]).hydra.sweeper.params, None, [])
    picked = [f"{key}={corner(dist, end)}" for key, dist in space.items()]
    cfg = compose_cfg([f"model={model}", "data.source.num_rows=300", *picked])
    datamodule = build(cfg.data, "data")
    net = build_net(cfg, datamodule)
    batch = torch.randn(2, cfg.data.window, datamodule.dims["in"])  # (batch, window, features)
    assert net(batch).shape == (2, datamodule.dims["out"])


def test_command_line_replaces_a_searched_key_and_adds_sweeps():
    params = {"model.net.hidden_size": "range(32, 129, 16)", "optimizer.lr": "interval(0.1, 1)"}
    space, fixed = parse_space(params, None, ["model.net.hidden_size=8", "model.net.dropout=choice(0.0,0.2)",
                                              "+extra=int(interval(1, 4))"])
    assert fixed == ["model.net.hidden_size=8"]
    assert space == {"optimizer.lr": FloatDistribution(0.1, 1.0),
                     "model.net.dropout": CategoricalDistribution([0.0, 0.2]),
                     "+extra": IntDistribution(1, 4)}


def test_upstream_search_space_mapping_and_grid():
    space, _ = parse_space(None, {"a": {"type": "int", "low": 1, "high": 3},
                                  "b": {"type": "categorical", "choices": ["x", "y"]}}, [])
    assert grid_values(space) == {"a": [1, 2, 3], "b": ["x", "y"]}
    with pytest.raises(UserError, match="grid needs discrete values, but c is continuous"):
        grid_values({"c": FloatDistribution(0.0, 1.0)})


# -- the job side: pruning callback and trial context ----------------------------------------------------
def fake_trainer(value: float, epoch: int) -> SimpleNamespace:
    return SimpleNamespace(sanity_checking=False, callback_metrics={"val/loss": torch.tensor(value)},
                           current_epoch=epoch, should_stop=False)


def test_pruning_callback_reopens_the_trial_reports_and_stops(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    study = optuna.create_study(storage=storage, study_name="s")
    for value in (1.0, 1.1):  # two finished trials with val/loss 1.0 and 1.1 at epoch 0
        trial = study.ask()
        trial.report(value, 0)
        study.tell(trial, value)
    trial = study.ask()
    pruner = OmegaConf.create({"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 2,
                               "n_warmup_steps": 0})
    callback = OptunaPruning.for_trial(TrialHandover(storage, "s", trial_id(trial), pruner),  # as a job process does
                                       "val/loss")

    trainer = fake_trainer(5.0, 0)  # far worse than the median
    callback.on_validation_end(trainer, None)
    assert trainer.should_stop and callback.pruned_at == 0
    with pytest.raises(optuna.TrialPruned):
        callback.on_fit_end(trainer, None)
    assert study.get_trials()[-1].intermediate_values == {0: 5.0}  # reached the study's storage


def test_pruning_callback_fails_a_nan_run():
    study = optuna.create_study()
    callback = OptunaPruning(study.ask(), "val/loss")
    trainer = fake_trainer(float("nan"), 2)
    callback.on_validation_end(trainer, None)
    assert trainer.should_stop
    with pytest.raises(TrialFailed, match="val/loss is nan at epoch 2"):
        callback.on_fit_end(trainer, None)


def test_pruning_callback_stops_a_run_whose_trial_the_sweep_closed(tmp_path):
    """An interrupted sweep marks its running trials FAIL; a job that lives on stops at its next epoch."""
    storage = f"sqlite:///{tmp_path}/study.db"
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    callback = OptunaPruning.for_trial(TrialHandover(storage, "s", trial_id(trial)), "val/loss")
    trainer = fake_trainer(1.0, 0)
    callback.on_validation_end(trainer, None)
    assert not trainer.should_stop
    study.tell(trial, state=optuna.trial.TrialState.FAIL)  # as OptunaSearch._interrupt does
    trainer = fake_trainer(0.9, 1)
    callback.on_validation_end(trainer, None)
    assert trainer.should_stop
    with pytest.raises(TrialFailed, match="the sweep closed trial 0"):
        callback.on_fit_end(trainer, None)


def stand_in_search(tmp_path: Path, launch, n_trials: int, **plan: Any):
    """An OptunaSearch on a new sqlite study in tmp_path whose launcher is ``launch``."""
    from trainlab.search.sweep import OptunaSearch

    storage = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(storage=storage, study_name="slots")
    plan = SweepPlan(space={"optimizer.lr": FloatDistribution(1e-4, 1e-2)}, n_trials=n_trials, storage=storage,
                     study_name="slots", sweep_dir=tmp_path, metric="val/loss", **plan)
    return OptunaSearch(plan, SimpleNamespace(launch=launch), study=study)


def test_a_signal_landing_inside_a_job_interrupts_the_sweep_instead_of_failing_the_trial(tmp_path):
    """SIGTERM's exception raised mid torch.save comes out of the job as torch's RuntimeError: the
    sweep must still see an interruption (exit 143, trial FAIL 'interrupted'), not a failed trial."""
    from trainlab.search import sweep as sweep_module

    def launch(jobs, initial_job_idx):
        sweep_module._signals_seen.append("SIGTERM")  # what _on_signal does before raising
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 15360 vs 15252")

    search = stand_in_search(tmp_path, launch, n_trials=1)
    recorded = []
    search._record = lambda *args: recorded.append(args)
    try:
        with pytest.raises(sweep_module.Interrupted, match="SIGTERM"):
            search._run_slot()
    finally:
        sweep_module._signals_seen.pop()
    assert recorded == []  # left running, for _interrupt to mark FAIL with the signal's name


def test_an_interrupted_sweep_cancels_the_jobs_of_its_running_trials(tmp_path, monkeypatch):
    """The sweep marked them FAIL and exited; their jobs stayed queued, started later and stopped as they
    found their sweep gone (or trained for nothing)."""
    from hydra_plugins.trainlab_slurm_launcher import TrainlabSlurmLauncher
    from trainlab.search import sweep as sweep_module

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "scancel").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/cancelled\n")
    (folder / "scancel").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    launcher = TrainlabSlurmLauncher(partition="debug")

    def launch(jobs, initial_job_idx):  # as submit: the jobs are in flight when SIGTERM lands in the watch
        launcher.in_flight.add(f"15_{initial_job_idx}")
        sweep_module._signals_seen.append("SIGTERM")
        raise sweep_module.Interrupted("SIGTERM")

    launcher.launch = launch
    search = stand_in_search(tmp_path, launch, n_trials=1)
    search.launcher = launcher
    try:
        with pytest.raises(sweep_module.Interrupted):
            search._run_slot()
    finally:
        sweep_module._signals_seen.pop()
    search._interrupt("SIGTERM")
    assert (tmp_path / "cancelled").read_text().split() == ["15_0"] and not launcher.in_flight
    trial, again = search.study.trials  # the second: its configuration, queued to run first when continued
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["fail_reason"] == "interrupted (SIGTERM)"


def test_an_interrupted_trials_configuration_runs_first_when_the_sweep_is_continued(tmp_path):
    """Ctrl-C marked the running trial FAIL, and the continued sweep drew new configurations: the one
    interrupted was never trained to its end. It is queued again and the continued sweep runs it first."""
    from hydra.core.utils import JobReturn, JobStatus

    from trainlab.search import sweep as sweep_module
    from trainlab.search.sweep import OptunaSearch

    def interrupted(jobs, initial_job_idx):
        sweep_module._signals_seen.append("Ctrl-C")
        raise KeyboardInterrupt

    search = stand_in_search(tmp_path, interrupted, n_trials=2)
    try:
        with pytest.raises(KeyboardInterrupt):
            search._run_slot()
    finally:
        sweep_module._signals_seen.pop()
    search._interrupt("Ctrl-C")
    lr = search.study.trials[0].params["optimizer.lr"]
    launched = []

    def launch(jobs, initial_job_idx):
        launched.append(next(o for o in jobs[0] if o.startswith("optimizer.lr=")))
        job = JobReturn(overrides=jobs[0], status=JobStatus.COMPLETED)
        job.return_value = 0.5
        return [job]

    continued = OptunaSearch(search.plan, SimpleNamespace(launch=launch),
                             study=optuna.load_study(study_name="slots", storage=search.plan.storage))
    continued._run_slot()
    states = [t.state.name for t in continued.study.trials]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"] and len(launched) == 2
    assert launched[0] == f"optimizer.lr={lr}" and continued.study.trials[1].params == {"optimizer.lr": lr}


def test_a_ctrl_c_handed_back_by_a_worker_ends_a_slot_thread_quietly(tmp_path):
    """Ctrl-C reaches joblib's worker processes too; joblib raises their KeyboardInterrupt in the slot's
    thread, which ended with an 'Exception in thread slot0' traceback. The main thread ends the sweep."""
    import threading

    from trainlab.search import sweep as sweep_module

    def launch(jobs, initial_job_idx):
        sweep_module._signals_seen.append("Ctrl-C")  # the sweep process's own handler saw it too
        raise KeyboardInterrupt

    search = stand_in_search(tmp_path, launch, n_trials=2)
    recorded, escaped = [], []
    search._record = lambda *args: recorded.append(args)
    thread = threading.Thread(target=search._run_slot, args=(1,))
    previous_hook, threading.excepthook = threading.excepthook, lambda hook_args: escaped.append(hook_args.exc_type)
    try:
        thread.start()
        thread.join(timeout=30)
    finally:
        threading.excepthook = previous_hook
        sweep_module._signals_seen.pop()
    assert escaped == [] and recorded == []  # left running, for _interrupt to mark FAIL with the signal's name
    assert list(search.running) == [0]


def test_a_slot_starts_its_next_trial_while_the_other_slot_is_still_busy(tmp_path):
    """The slots' logic with a stand-in launcher whose trial 0 takes far longer than the others: the
    other slot goes through trials 1, 2, 3 ... meanwhile (a sweeper that runs trials in batches of
    n_jobs would have started trial 2 only after trial 0 ended)."""
    import threading

    from hydra.core.utils import JobReturn, JobStatus

    launched = []

    def launch(jobs, initial_job_idx):
        launched.append(initial_job_idx)
        time.sleep(5.0 if initial_job_idx == 0 else 0.1)  # long beside the others even on a loaded machine
        job = JobReturn(overrides=jobs[0], status=JobStatus.COMPLETED)
        job.return_value = float(initial_job_idx)
        return [job]

    search = stand_in_search(tmp_path, launch, n_trials=5)
    study = search.study
    slots = [threading.Thread(target=search._run_slot, args=(i,)) for i in range(2)]
    for slot in slots:
        slot.start()
        time.sleep(0.05)
    for slot in slots:
        slot.join(timeout=30)
    trials = {t.number: t for t in study.trials}
    assert sorted(trials) == [0, 1, 2, 3, 4] and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials.values())
    assert sorted(launched) == [0, 1, 2, 3, 4]
    started_meanwhile = [n for n in (2, 3, 4) if trials[n].datetime_start < trials[0].datetime_complete]
    assert started_meanwhile == [2, 3, 4], [(n, t.datetime_start, t.datetime_complete) for n, t in trials.items()]


def test_user_error_inside_a_trial_fails_the_trial_instead_of_exiting(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    trial = optuna.create_study(storage=storage, study_name="s").ask()
    cfg = OmegaConf.create({"optimized_metric": "val/loss",
                            "optuna_trial": {"storage": storage, "study_name": "s", "trial_id": trial_id(trial)}})
    with pytest.raises(TrialFailed, match="bad lr"):
        with report_user_errors(), optuna_trial(cfg) as callbacks:
            assert len(callbacks) == 1
            raise UserError("bad lr")
    with pytest.raises(SystemExit):  # outside a sweep: the usual one-line error and exit 2
        with report_user_errors(), optuna_trial(OmegaConf.create({"optuna_trial": None})) as callbacks:
            assert callbacks == []
            raise UserError("bad lr")


def test_a_full_disk_stops_the_sweep_in_one_line(tmp_path, capsys):
    """A trial that meets a full disk fails (its process goes on), and the sweep stops after recording it,
    in one line; so does a study that cannot be written (SQLite's 'database or disk is full'). Before, a
    trial's DiskFull was one more failed trial (every next one failed too), and the full study a
    StorageInternalError traceback, exit 1."""
    import errno
    import os
    import sqlite3

    from hydra.core.utils import JobReturn, JobStatus

    from trainlab.search.handover import TrialOutOfSpace

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    storage = f"sqlite:///{tmp_path}/study.db"
    trial = optuna.create_study(storage=storage, study_name="s").ask()
    cfg = OmegaConf.create({"optimized_metric": "val/loss",
                            "optuna_trial": {"storage": storage, "study_name": "s", "trial_id": trial_id(trial)}})
    with pytest.raises(TrialOutOfSpace, match=r"^the disk is full: writing '/run/0/epochs.jsonl' failed \(No space "
                                              r"left on device\)$"):
        with report_user_errors(), optuna_trial(cfg):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/run/0/epochs.jsonl")

    def launch(jobs, initial_job_idx):
        launched.append(initial_job_idx)
        job = JobReturn(overrides=jobs[0], status=JobStatus.FAILED)
        job._return_value = TrialOutOfSpace("the disk is full: writing '/run/0/epochs.jsonl' failed (No space ...)")
        return [job]

    launched = []
    search = stand_in_search(tmp_path / "a", launch, n_trials=3)
    with pytest.raises(SystemExit) as stop:
        search.run()
    assert stop.value.code == 2 and launched == [0]
    assert [t.state for t in search.study.trials] == [optuna.trial.TrialState.FAIL]
    err = capsys.readouterr().err.strip()
    assert err == (f"error: the sweep stopped: the disk is full: writing '/run/0/epochs.jsonl' failed (No space ...). "
                   f"The study keeps the trials recorded before ({tmp_path / 'a' / 'optuna.db'}); free some space "
                   f"on that disk, then continue it with the same command plus hydra.sweep.dir={tmp_path / 'a'}")

    def full_study(*args):
        cause = sqlite3.OperationalError("database or disk is full")
        cause.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from cause

    search = stand_in_search(tmp_path / "b", launch, n_trials=3)
    search._record = full_study
    with pytest.raises(SystemExit) as stop:
        search.run()
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("error: the sweep stopped: the disk is full: the study could not be "
                                              "written (database or disk is full). The study keeps")


@pytest.mark.parametrize("where", ["results", "launcher"])
def test_a_full_disk_in_a_slot_thread_stops_the_sweep_in_one_line(tmp_path, capsys, monkeypatch, where):
    """hydra.sweeper.n_jobs > 1: trials run from threads of the sweep process. A full disk met there (the
    sweep's results.json after a trial; the launcher's own temporary files) ended that thread with an
    'Exception in thread slot0' traceback while the other slot went on starting trials (or, from the
    launcher, was one more failed trial: exit 1 'trials failed'); it stops the sweep as with one slot:
    no next trial, one line, exit 2."""
    import errno
    import os
    import threading

    from hydra.core.utils import JobReturn, JobStatus

    from trainlab.run.durable import DiskFull

    launched, escaped = [], []
    results = tmp_path / "results.json"

    def launch(jobs, initial_job_idx):
        launched.append(initial_job_idx)
        time.sleep(0.3 if initial_job_idx == 0 else 1.5)  # the other slot is busy when trial 0 ends
        if where == "launcher" and initial_job_idx == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/dev/shm/joblib_memmapping_folder_1/x.pkl")
        job = JobReturn(overrides=jobs[0], status=JobStatus.COMPLETED)
        job.return_value = float(initial_job_idx)
        return [job]

    def full(*args):
        raise DiskFull.writing(results, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    search = stand_in_search(tmp_path, launch, n_trials=6, slot_overrides=[[], []])
    if where == "results":
        monkeypatch.setattr(search, "_write_results", full)
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    with pytest.raises(SystemExit) as stop:
        search.run()
    assert escaped == [] and stop.value.code == 2
    assert sorted(launched) == [0, 1]  # the running trial ends, no next one starts
    assert search.study.trials[0].state == optuna.trial.TrialState.FAIL if where == "launcher" else \
        optuna.trial.TrialState.COMPLETE
    (line,) = capsys.readouterr().err.strip().splitlines()
    named = "/dev/shm/joblib_memmapping_folder_1/x.pkl" if where == "launcher" else results
    assert line.startswith(f"error: the sweep stopped: the disk is full: writing '{named}' failed (No space left on "
                           f"device). The study keeps the trials recorded before ({tmp_path / 'optuna.db'}); free some "
                           f"space on that disk, then continue it")


# -- bad sweep configs: one line, exit 2, before any trial (no torch import, fast) ------------------------
@pytest.mark.parametrize("override,message", [
    ("hydra.sweeper.n_trials=0", "error: hydra.sweeper.n_trials=0 must be 1 or more"),
    ("hydra.sweeper.sampler._target_=optuna.samplers.FooSampler",
     "error: hydra.sweeper.sampler._target_=optuna.samplers.FooSampler is not an Optuna sampler"),
    ("model.net.hiden_size=range(8,17,8)",
     "error: the command line: model.net.hiden_size=range(8,17,8): model.net.hiden_size is not a key of the config "
     "nor a config group; "
     "did you mean model.net.hidden_size?"),
    ("hydra.sweeper.params=null", "error: the search space is empty"),
    ("hydra/sweeper/sampler=grid", "error: hydra/sweeper/sampler=grid needs discrete values, but optimizer.lr"),
    ("hydra.sweeper.direction=up", "error: hydra.sweeper.direction=up must be minimize or maximize"),
])
def test_bad_sweep_configs_are_refused_before_any_trial(override, message, tmp_path):
    result = sweep(override, *TINY_SWEEP, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    runs = list((tmp_path / "outputs").rglob("train.log"))
    assert runs == []


def test_unknown_sampler_name_lists_the_choices(tmp_path):
    result = sweep("hydra/sweeper/sampler=foo", tmp_path=tmp_path)
    assert result.returncode == 2  # one line of ours (it was Hydra's list and exit 1)
    assert result.stderr.strip() == ("error: hydra/sweeper/sampler=foo is not an option of the hydra/sweeper/sampler "
                                     "group; its options: cmaes, grid, nsgaii, nsgaii_small, qmc, random, tpe")


# -- real sweeps ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_median_pruner_stops_trials_early(tmp_path):
    result = sweep("hydra.sweeper.n_trials=6", "hydra.sweeper.pruner.n_startup_trials=2",
                   "hydra.sweeper.pruner.n_warmup_steps=1", *TINY_SWEEP, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = only_sweep_dir(tmp_path)
    trials = trials_of(sweep_dir)
    assert len(trials) == 6 and {t["state"] for t in trials} <= {"COMPLETE", "PRUNED"}
    pruned = [t for t in trials if t["state"] == "PRUNED"]
    assert pruned, trials
    for t in pruned:  # stopped after the epoch the pruner spoke, well before max_epochs=4
        assert int(t["epochs"]) < 4 and int(t["pruned_at_epoch"]) == int(t["epochs"]) - 1
        assert t["value"]  # the last reported val/loss
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 6 - len(pruned), "pruned": len(pruned), "fail": 0, "running": 0}
    # relative to the sweep folder, which may be moved (tests/test_search_folders.py)
    assert (sweep_dir / results["best_checkpoint"]).is_file() and results["best_run_dir"] == str(results["best_trial"])
    assert set(results["best_params"]) == {"model.net.num_layers", "optimizer.lr", "data.batch_size"}
    assert (sweep_dir / "optuna.db").is_file()
    assert "6/6 done" in result.stderr + result.stdout


@pytest.mark.slow
def test_resume_continues_the_count_without_repeating(tmp_path):
    common = ["hydra.sweeper.pruner.n_startup_trials=20", f"hydra.sweep.dir={tmp_path}/sweep", *TINY_SWEEP,
              "trainer.max_epochs=2"]
    first = sweep("hydra.sweeper.n_trials=2", *common, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = sweep("hydra.sweeper.n_trials=4", *common, tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    trials = trials_of(tmp_path / "sweep")
    assert [t["number"] for t in trials] == ["0", "1", "2", "3"]
    assert all(t["state"] == "COMPLETE" for t in trials)
    assert [t["run_dir"] for t in trials] == [str(i) for i in range(4)]  # relative to the sweep folder
    params = [(t["model.net.num_layers"], t["optimizer.lr"], t["data.batch_size"]) for t in trials]
    assert len(set(params)) == 4  # the continued sampler drew new points
    assert "2 of 4 trials finished" in second.stderr + second.stdout


@pytest.mark.slow
def test_a_failing_trial_does_not_stop_the_sweep(tmp_path):
    # random sampler, seed 15: the second trial draws the negative learning rate, the others do not
    result = sweep("hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=15", "hydra.sweeper.n_trials=3",
                   "optimizer.lr=choice(0.001,0.003,-0.01)", "model.net.num_layers=1", "data.batch_size=32",
                   "hydra.sweeper.max_failure_rate=0.5", *TINY_SWEEP, "trainer.max_epochs=2", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(only_sweep_dir(tmp_path))
    assert [t["state"] for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1]["fail_reason"].startswith("optimizer.lr=-0.01 is refused by Adam (Invalid learning rate: -0.01)")
    assert "1 failed" in result.stderr + result.stdout


@pytest.mark.slow
def test_too_many_failures_end_the_sweep_with_a_message(tmp_path):
    result = sweep("optimizer.lr=choice(-0.01,-0.02)", "hydra.sweeper.max_failure_rate=0.5", *TINY_SWEEP,
                   tmp_path=tmp_path)
    assert result.returncode == 1
    assert "error: the sweep stopped: 1 of 1 trials failed (hydra.sweeper.max_failure_rate=0.5)" in result.stderr
    assert [t["state"] for t in trials_of(only_sweep_dir(tmp_path))] == ["FAIL"]


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["grid", "random", "tpe"])
def test_samplers(sampler, tmp_path):
    space = ["model.net.num_layers=choice(1,2)", "optimizer.lr=choice(0.001,0.003)", "data.batch_size=32"]
    result = sweep(f"hydra/sweeper/sampler={sampler}", "hydra/sweeper/pruner=nop", "hydra.sweeper.n_trials=3",
                   *space, *TINY_SWEEP, "trainer.max_epochs=1", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(only_sweep_dir(tmp_path))
    assert [t["state"] for t in trials] == ["COMPLETE"] * 3
    if sampler == "grid":  # no grid point twice
        assert len({(t["model.net.num_layers"], t["optimizer.lr"]) for t in trials}) == 3


LHT_STYLE = """\
# @package _global_
# lightning-hydra-template's configs/hparams_search/mnist_optuna.yaml, keys renamed to this project's
defaults:
  - override /hydra/sweeper: optuna

optimized_metric: "val/loss"

hydra:
  mode: "MULTIRUN"
  sweeper:
    _target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper
    storage: null
    study_name: null
    n_jobs: 1
    direction: minimize
    n_trials: 2
    sampler:
      _target_: optuna.samplers.TPESampler
      seed: 1234
      n_startup_trials: 10
    params:
      optimizer.lr: interval(0.0001, 0.1)
      data.batch_size: choice(32, 64, 128, 256)
      model.net.num_layers: choice(1, 2)
"""


@pytest.mark.slow
def test_lightning_hydra_template_search_file_runs(tmp_path):
    folder = tmp_path / "extra" / "hparams_search"
    folder.mkdir(parents=True)
    (folder / "mnist_optuna.yaml").write_text(LHT_STYLE)
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "hparams_search=mnist_optuna",
                             f"hydra.searchpath=[file://{tmp_path}/extra]", *TINY_SWEEP, "trainer.max_epochs=1",
                             f"paths.log_dir={tmp_path}/outputs"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(only_sweep_dir(tmp_path))
    assert [t["state"] for t in trials] == ["COMPLETE"] * 2


def job_pids(trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> set[int]:
    """Ids of the processes that trained a trial, from its TensorBoard file names (...<host>.<pid>.<n>)."""
    return {int(p.name.split(".")[-2]) for p in (sweep_dir / trial.user_attrs["run_dir"]).rglob("events.out.tfevents.*")}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_trials_run_in_worker_processes_are_pruned_and_refilled(launcher, tmp_path):
    """Two slots with a launcher whose jobs run in other processes: each job reports to the study and
    is pruned in its own process, and a slot starts its next trial as soon as its last one ends."""
    if not HAS_LAUNCHER[launcher.split("_")[0]]:
        pytest.skip(f"hydra-{launcher.split('_')[0]}-launcher is not installed")
    tiny = [arg for arg in TINY_SWEEP if not arg.startswith("hardware.num_threads")]  # the sweeper splits them
    result = sweep(f"hydra/launcher={launcher}", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=6",
                   "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.pruner.n_warmup_steps=1", *tiny,
                   tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = only_sweep_dir(tmp_path)
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    trials = sorted(study.trials, key=lambda t: t.datetime_start)
    states = [t.state for t in trials]
    assert len(trials) == 6 and set(states) <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "no trial was pruned"
    for t in pruned:  # stopped after the epoch the pruner spoke, before max_epochs=4
        assert len(t.intermediate_values) < 4 and t.last_step == len(t.intermediate_values) - 1
    # two trials ran at once, in two worker processes. That a slot starts its next trial without
    # waiting for the other slot is shown by test_a_slot_starts_its_next_trial_while_the_other_slot_is_
    # still_busy: here the tiny trials are equally long, so the two slots often end together and
    # timings cannot tell asynchronous slots from batches.
    refills = [(a.number, b.number) for a in trials for b in trials
               if a.number != b.number and a.datetime_start <= b.datetime_start < a.datetime_complete]
    assert refills, "no two trials ran at once: " + "; ".join(
        f"{t.number} {t.datetime_start:%H:%M:%S.%f}-{t.datetime_complete:%H:%M:%S.%f}" for t in trials)
    # the jobs ran in other processes than the sweeper's (submitit: a new one per job); each got half
    # of the CPU threads
    sweeper_pid = int(trials[0].user_attrs["sweeper"].rsplit(":", 1)[1])
    pids = [job_pids(t, sweep_dir) for t in trials]
    assert all(len(p) == 1 for p in pids) and sweeper_pid not in set.union(*pids)
    if launcher == "submitit_local":
        assert len(set.union(*pids)) == len(trials)
    cores = usable_cores()  # the affinity, or the cgroup CPU quota where fewer (the sweep splits those)
    for t in trials:
        resolved = yaml.safe_load((sweep_dir / t.user_attrs["run_dir"] / "resolved_config.yaml").read_text())
        assert resolved["hardware"]["num_threads"] == max(1, cores // 2)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn", "lstm_attention"])
def test_sweep_searches_the_chosen_models_space(model, tmp_path):
    tiny = [arg for arg in TINY_SWEEP if not arg.startswith("model.net.hidden_size")]
    result = sweep(f"model={model}", "hydra.sweeper.n_trials=2", f"{TIME_SERIES_WIDTH[model]}=8", *tiny,
                   "trainer.max_epochs=1", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(only_sweep_dir(tmp_path))
    assert [t["state"] for t in trials] == ["COMPLETE"] * 2
    space_file = yaml.safe_load((ROOT / "conf/hparams_search/space" / f"{model}.yaml").read_text())
    searched = set(space_file) - {TIME_SERIES_WIDTH[model]}
    assert searched <= set(trials[0]) and all(trials[0][key] != "" for key in searched)


def sigterm_once_training(args: list[str], tmp_path: Path) -> str:
    """Start ``train.py -m hparams_search=optuna <args>``, SIGTERM it once a trial has reported an
    epoch, check it exited 143 and return its stderr."""
    command = [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", *args,
               f"paths.log_dir={tmp_path}/outputs"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not epochs_reported(tmp_path / "sweep"):
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-3000:]
    return stderr


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LAUNCHER["submitit"], reason="hydra-submitit-launcher is not installed")
def test_sigterm_under_submitit_stops_the_job_at_its_next_epoch(tmp_path):
    """submitit_local's jobs outlive the sweeper: the one whose trial the interrupt closed stops itself."""
    args = ["hydra/launcher=submitit_local", "hydra.sweeper.n_trials=2", "hydra/sweeper/pruner=nop",
            f"hydra.sweep.dir={tmp_path}/sweep", *TINY_SWEEP, "trainer.max_epochs=5000",
            "callbacks.early_stopping.patience=10000"]  # minutes of training if nothing stopped it
    sigterm_once_training(args, tmp_path)
    trial, queued = trials_of(tmp_path / "sweep")  # the interrupted one, and its configuration queued to run again
    assert trial["state"] == "FAIL" and trial["fail_reason"] == "interrupted (SIGTERM)"
    assert queued["state"] == "WAITING"

    deadline = time.time() + 60  # the job's result appears when its process ends
    while time.time() < deadline and not list((tmp_path / "sweep" / ".submitit").rglob("*_result.pkl")):
        time.sleep(0.5)
    (result_file,) = (tmp_path / "sweep" / ".submitit").rglob("*_result.pkl")
    outcome, job_return = pickle.loads(result_file.read_bytes())  # ("success", hydra's JobReturn)
    assert outcome == "success"
    assert isinstance(job_return._return_value, TrialFailed)
    assert "the sweep closed trial 0" in str(job_return._return_value)


@pytest.mark.slow
def test_sigterm_marks_running_trial_failed_and_the_study_resumes(tmp_path):
    args = ["hydra.sweeper.n_trials=3", "hydra/sweeper/pruner=nop", f"hydra.sweep.dir={tmp_path}/sweep",
            *TINY_SWEEP, "trainer.max_epochs=200", "callbacks.early_stopping.patience=1000"]
    stderr = sigterm_once_training(args, tmp_path)
    assert "running trials marked FAIL" in stderr
    trial, queued = trials_of(tmp_path / "sweep")  # the interrupted one, and its configuration queued to run again
    assert trial["state"] == "FAIL" and trial["fail_reason"] == "interrupted (SIGTERM)"
    assert trial["run_dir"] == "0"  # where its checkpoints are, relative to the sweep folder
    assert queued["state"] == "WAITING"

    resumed = sweep(*args[:3], *TINY_SWEEP, "trainer.max_epochs=1", tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    states = [t["state"] for t in trials_of(tmp_path / "sweep")]
    assert states == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]


def test_analysis_reports_top_trials_edges_pruning_and_plots(tmp_path):
    from trainlab.search.analyze import report
    from trainlab.search.results import write_results

    storage = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(storage=storage, study_name=tmp_path.name, sampler=optuna.samplers.RandomSampler(0))
    space = {"optimizer.lr": FloatDistribution(1e-5, 1e-3, log=True), "model.net.num_layers": IntDistribution(1, 5)}
    for i in range(8):
        trial = study.ask(space)
        epochs = 2 if i % 3 == 2 else 4
        for epoch in range(epochs):
            trial.report(1.0 / trial.params["optimizer.lr"] ** 0.1 + epoch * 0.01, epoch)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED) if epochs == 2 else study.tell(
            trial, 1.0 / trial.params["optimizer.lr"] ** 0.1)
    write_results(study, tmp_path, storage, "val/loss")
    text = report(tmp_path)
    assert "top trials:" in text and text.count("  #") == 5
    assert "pruning: 2 of 8 trials pruned, 28 epochs trained, 4 saved" in text
    # 6 complete trials rank 2 parameters no better than the best of 6 says where the optimum lies
    assert ("parameter importance: not yet (too few trials to rank: 6 complete trial(s) for 2 searched parameter(s)"
            in text) and "widen" not in text
    assert (tmp_path / "optimization_history.png").is_file() and (tmp_path / "analysis.txt").read_text() == text


SEARCH_FILES = sorted(p.stem for p in (ROOT / "conf" / "hparams_search").glob("*.yaml"))


@pytest.mark.parametrize("search", SEARCH_FILES)
def test_every_search_file_starts_a_sweep_and_says_so_when_m_is_not_given(compose_cfg, monkeypatch, caplog, search):
    """hparams_search=<file> without -m swept without a word about it (Hydra starts a sweep with -m; the search
    files set hydra.mode=MULTIRUN, as lightning-hydra-template's do). Every search file follows that one rule, and
    the sweep's first line says so when -m was not typed."""
    import logging

    from hydra.core.plugins import Plugins
    from hydra.types import RunMode

    from trainlab.search.sweep import run_sweep

    cfg = compose_cfg([f"hparams_search={search}"])
    assert cfg.hydra.mode == RunMode.MULTIRUN

    class Started(Exception):
        pass

    def no_launcher(*args, **kwargs):
        raise Started

    monkeypatch.setattr(Plugins.instance(), "instantiate_launcher", no_launcher)
    for argv, said in ([f"hparams_search={search}", "trainer.max_epochs=2"], True), (["-m", f"hparams_search={search}"], False):
        monkeypatch.setattr(sys, "argv", ["train.py", *argv])
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trainlab.search.sweep"), pytest.raises(Started):
            run_sweep(cfg.hydra.sweeper, hydra_context=None, task_function=None, config=cfg, arguments=[])
        lines = [r.getMessage() for r in caplog.records if "without -m" in r.getMessage()]
        assert lines == ([f"hparams_search={search} starts a sweep without -m: its search file sets hydra.mode=MULTIRUN, "
                          f"as every search file does (a search is many runs); python train.py -m "
                          f"hparams_search={search} ... is the same"] if said else [])


def test_a_search_file_chosen_for_one_run_is_refused_not_ignored(compose_cfg, tmp_path, monkeypatch):
    """A search file of one's own without hydra.mode: MULTIRUN, run without -m, and trainlab.train([...,
    'hparams_search=optuna']) (one job) trained once and read none of the search, without a word."""
    import trainlab
    from trainlab.config.invocation import search_run_once

    monkeypatch.setattr(sys, "argv", ["train.py"])
    compose_cfg(["hparams_search=optuna", "hydra.mode=RUN"])  # as Hydra's run of a file without the mode
    assert search_run_once() == ("hparams_search=optuna is a search, but this command trains once (its file does not "
                                 "set hydra.mode: MULTIRUN, as conf/hparams_search/optuna.yaml does) and would read none "
                                 "of it; add -m: python train.py -m hparams_search=optuna ...")
    compose_cfg(["hparams_search=optuna"])
    assert search_run_once() is None  # the sweep's own config
    with pytest.raises(UserError, match=r"^hparams_search=optuna is a search, a sweep of runs, which runs on the command "
                                        r"line: python train.py -m hparams_search=optuna ...; train\(\) makes one run"):
        trainlab.train(["hparams_search=optuna", f"paths.log_dir={tmp_path}"])
    assert not any((tmp_path / "train" / "runs").iterdir())  # nothing was run: its folder removed
