"""Shared studies: several sweep processes on one study (sqlite file, journal file, PostgreSQL), and faults.

Fast: the storage spellings, the owner and admission rules, surplus trials in the results, files
replaced whole, and real processes racing to ask trials of one study (no training) on each storage.
Slow: real ``train.py -m hparams_search=optuna`` processes on tiny data: three at once on one study,
a sweep SIGKILLed mid-trial and run again, a joblib worker SIGKILLed mid-trial.

The PostgreSQL cases start a throwaway server (trainlab.testing.postgres) and are skipped, with the
reason, where none can be started.
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState

from tests.conftest import ROOT, skip_engine
from trainlab.config.errors import UserError
from trainlab.run.durable import write_atomic
from trainlab.search.results import progress_line, write_results
from trainlab.search.shared import (SQLITE_TIMEOUT_S, ask_admitted, close_orphans, is_surplus, open_storage,
                                    storage_url, taken)

N_TRIALS = 9
TINY = ["data.source.num_rows=400", "data.window=12", "model.net.hidden_size=8", "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "hardware.num_threads=1"]
# trials long enough to be killed in the middle: 8 epochs of ~0.3 s; the kill comes after the first
SLOW_TRIAL = ["data.source.num_rows=4000", "data.window=12", "model.net.hidden_size=8", "trainer.max_epochs=8",
              "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "hydra/sweeper/pruner=nop"]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


# -- storages -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server's database for this module's tests (skipped, with why, if none)."""
    from trainlab.testing.postgres import PostgresUnavailable, throwaway_postgres

    if importlib.util.find_spec("psycopg2") is None:
        skip_engine("psycopg2 is not installed (pip install -r requirements.txt)")
    try:
        with throwaway_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        skip_engine(f"no PostgreSQL server could be started: {exc}")


@pytest.fixture(params=["sqlite", "journal", "postgresql"])
def storage(request, tmp_path: Path) -> str:
    """A storage spelling as hydra.sweeper.storage takes it; each test gets a new study name anyway."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return {"sqlite": f"sqlite:///{tmp_path}/shared.db", "journal": f"journal:{tmp_path}/shared.journal"}[request.param]


def url_of(storage: str, tmp_path: Path) -> str:
    return storage_url(storage, tmp_path / "optuna.db")  # as the sweeper opens it (sqlite with its lock timeout)


def new_study(url: str, name: str = "s") -> optuna.Study:
    return optuna.create_study(storage=open_storage(url), study_name=name)


def test_storage_spellings(tmp_path, monkeypatch):
    default = tmp_path / "optuna.db"
    assert storage_url(None, default) == f"sqlite:///{default}?timeout={SQLITE_TIMEOUT_S}"
    assert storage_url("postgresql+psycopg2://u@h:5/db", default) == "postgresql+psycopg2://u@h:5/db"
    monkeypatch.chdir(tmp_path)
    # the user's timeout stays; a relative file is made absolute, as a journal's is, for the jobs and the tools
    assert storage_url("sqlite:///a.db?timeout=5", default) == f"sqlite:///{tmp_path}/a.db?timeout=5"
    assert storage_url("journal:study.journal", default) == f"journal:{tmp_path}/study.journal"  # for the jobs
    assert isinstance(open_storage(f"journal:{tmp_path}/study.journal"), optuna.storages.JournalStorage)
    with pytest.raises(UserError, match=r"study.journal is neither a database URL .* nor journal:<file>"):
        storage_url("study.journal", default)
    with pytest.raises(UserError, match="does not exist"):
        open_storage(f"journal:{tmp_path}/missing/study.journal")


def test_a_journal_cut_mid_append_stays_readable_after_the_next_append(tmp_path, caplog):
    """A journal's torn last line (a kill mid-append) was continued by the next append, and from then on
    every process failed to read the study (JSONDecodeError). Opening the journal cuts it, with a warning."""
    url = f"journal:{tmp_path}/study.journal"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    for value in (1.0, 2.0):
        study.tell(study.ask(), value)
    with open(tmp_path / "study.journal", "ab") as journal:
        journal.write(b'{"op_code":6,"worker_id":"w","trial_id":2,"sta')
    with caplog.at_level("WARNING"):
        again = optuna.load_study(storage=open_storage(url), study_name="s")
    again.tell(again.ask(), 3.0)
    assert [t.value for t in optuna.load_study(storage=open_storage(url), study_name="s").trials] == [1.0, 2.0, 3.0]
    assert any("study.journal ended in a line cut short" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "study.journal").read_bytes().endswith(b"\n")


# -- owners and admission -------------------------------------------------------------------------------
def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_running_trials_of_live_or_unknown_owners_count_and_dead_ones_are_failed(tmp_path):
    study = new_study(f"sqlite:///{tmp_path}/s.db")
    done = study.ask()
    study.tell(done, 1.0)
    for who in ("elsewhere:1", f"{socket.gethostname()}:{dead_pid()}", f"{socket.gethostname()}:{os.getpid()}"):
        trial = study.ask()
        trial.set_user_attr("sweeper", who)
        trial.suggest_float("x", 0.0, 1.0)
    study.ask()  # just asked, its owner not written yet
    assert taken(study) == 4  # complete, other host's, this process's, the owner-less young one
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING,
                      TrialState.WAITING]
    assert study.trials[2].user_attrs["fail_reason"].startswith("its sweep process (")
    # the dead one's configuration is queued to run first (it was lost: a new one was drawn in its place)
    waiting = study.trials[5]
    assert waiting.system_attrs["fixed_params"] == study.trials[2].params and waiting.user_attrs == {"rerun_of": 2}
    assert close_orphans(study) == 0  # closed already, and by one process only


def test_a_trial_whose_sweep_pid_now_belongs_to_a_later_process_is_failed(tmp_path):
    """A sweep killed hard frees its pid; a process started later under it kept the trial RUNNING for ever
    (a continued sweep then stopped short of n_trials). A process younger than the trial is not its owner."""
    study = new_study(f"sqlite:///{tmp_path}/s.db")
    trial = study.ask()
    with sqlite3.connect(tmp_path / "s.db") as db:  # the trial started a minute ago
        db.execute("UPDATE trials SET datetime_start = ?", (datetime.datetime.now() - datetime.timedelta(minutes=1),))
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        trial.set_user_attr("sweeper", f"{socket.gethostname()}:{later.pid}")
        assert taken(study) == 0
        assert study.trials[0].state == TrialState.FAIL
        assert study.trials[0].user_attrs["fail_reason"].endswith(f"(pid {later.pid} is now another process's)")
    finally:
        later.kill()
        later.wait()


def test_the_later_of_two_racing_asks_is_surplus_and_never_launched(tmp_path, monkeypatch):
    study = new_study(f"sqlite:///{tmp_path}/s.db")
    first = ask_admitted(study, n_trials=2)
    assert first is not None and first.user_attrs["sweeper"].endswith(f":{os.getpid()}")
    real_ask = study.ask

    def another_process_asks_first() -> optuna.trial.Trial:
        real_ask().set_user_attr("sweeper", "elsewhere:7")  # between this process's count and its ask
        return real_ask()

    monkeypatch.setattr(study, "ask", another_process_asks_first)
    assert ask_admitted(study, n_trials=2) is None
    surplus = study.trials[-1]
    assert surplus.number == 2 and surplus.state == TrialState.FAIL and is_surplus(surplus)
    assert surplus.user_attrs["fail_reason"].startswith("surplus: 2 trials before it were finished or running")
    assert surplus.params == {}  # no point drawn for it
    monkeypatch.undo()
    assert ask_admitted(study, n_trials=2) is None and len(study.trials) == 3  # full: nothing more asked


def test_a_place_freed_while_this_process_asked_a_surplus_trial_is_taken_again(tmp_path, monkeypatch):
    """Another process asked the last place just before this one, so this one's trial was surplus; that
    other trial then failed, and its process, asking again, counted this one's trial (running until told
    surplus) as taken and ended. This process ended too: the study finished a trial short (11 of 12 in the
    4-process race, on a loaded machine)."""
    from trainlab.search import shared

    study = new_study(f"sqlite:///{tmp_path}/s.db")
    study.tell(study.ask(), 1.0)
    real_ask, real_taken, others = study.ask, shared.taken, []

    def another_process_asks_first() -> optuna.trial.Trial:
        if not others:  # between this process's count and its ask
            others.append(real_ask())
            others[-1].set_user_attr("sweeper", "elsewhere:7")
        return real_ask()

    def the_other_fails_after_this_count(study_, below=None):
        count = real_taken(study_, below)
        if below is not None and study_.trials[others[0].number].state == TrialState.RUNNING:
            study_.tell(others[0], state=TrialState.FAIL)
        return count

    monkeypatch.setattr(study, "ask", another_process_asks_first)
    monkeypatch.setattr(shared, "taken", the_other_fails_after_this_count)
    trial = ask_admitted(study, n_trials=2)
    assert is_surplus(study.trials[2]) and study.trials[1].state == TrialState.FAIL
    assert trial is not None and trial.number == 3  # the place trial 1 left, taken


def test_surplus_trials_are_not_failures_in_results_and_analysis(tmp_path):
    from trainlab.search.analyze import pruning_stats, report

    url = f"sqlite:///{tmp_path}/optuna.db"
    study = new_study(url, tmp_path.name)
    space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for value in (0.5, 0.25):
        trial = study.ask(space)
        trial.report(value, 0)
        study.tell(trial, value)
    broken = study.ask(space)
    broken.set_user_attr("fail_reason", "optimizer: Invalid learning rate: -0.01")
    study.tell(broken, state=TrialState.FAIL)
    surplus = study.ask()
    surplus.set_user_attr("fail_reason", "surplus: 3 trials before it were finished or running (n_trials=3)")
    study.tell(surplus, state=TrialState.FAIL)

    line = progress_line(study, 3, study.trials[1], "val/loss")
    assert "2/3 done (0 pruned), 1 failed" in line
    result = write_results(study, tmp_path, url, "val/loss")
    assert result["trials"] == {"complete": 2, "pruned": 0, "fail": 1, "running": 0, "surplus": 1}
    with (tmp_path / "trials.csv").open() as handle:
        assert [row["state"] for row in csv.DictReader(handle)] == ["COMPLETE", "COMPLETE", "FAIL", "SURPLUS"]
    assert pruning_stats(study)["trials"] == 3
    assert report(tmp_path).startswith(f"study {tmp_path.name}: 3 trials (and 1 surplus, never launched)")


def test_results_files_are_replaced_whole(tmp_path):
    """A reader never sees half a file while two writers replace it (as two sweep processes do)."""
    path = tmp_path / "trials.csv"
    texts = ["a," * 200_000, "b," * 300_000]
    write_atomic(path, texts[0])
    stop = threading.Event()

    def writer(text: str) -> None:
        while not stop.is_set():
            write_atomic(path, text)

    threads = [threading.Thread(target=writer, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    try:
        seen = {path.read_text() in texts for _ in range(300)}
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert seen == {True}
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]  # no temporary file left


# -- real processes racing to ask (no training) ----------------------------------------------------------
RACER = """
import json, random, sys, time
from pathlib import Path
import optuna
from trainlab.search.shared import ask_admitted, create_or_load

url, name, n_trials, index, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = create_or_load(url, name, ["minimize"])
(folder / f"ready{index}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
rng, ran = random.Random(index), []
while (trial := ask_admitted(study, n_trials)) is not None:
    x = trial.suggest_float("x", 0.0, 1.0)
    time.sleep(rng.random() * 0.03)
    if rng.random() < 0.2:  # a trial that fails: another must take its place
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    else:
        study.tell(trial, x)
    ran.append(trial.number)
print(json.dumps(ran))
"""


def test_processes_asking_at_once_finish_exactly_n_trials(storage, tmp_path):
    processes, n_trials, name = 4, 12, f"race_{tmp_path.name}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, url_of(storage, tmp_path), name, str(n_trials),
                                str(i), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env) for i in range(processes)]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("ready*"))) < processes and time.time() < deadline:
        time.sleep(0.05)
    (tmp_path / "go").touch()  # all ask from the same moment on
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * processes, [err[-2000:] for _, err in outputs]
    ran = [json.loads(out) for out, _ in outputs]

    trials = optuna.load_study(study_name=name, storage=open_storage(url_of(storage, tmp_path))).trials
    assert sum(t.state in FINISHED for t in trials) == n_trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    launched = [number for numbers in ran for number in numbers]
    assert len(launched) == len(set(launched))  # no trial ran in two processes
    assert set(launched) == {t.number for t in trials if not is_surplus(t)}  # and none was lost


# -- real sweeps: three processes, one study ---------------------------------------------------------------
def start_sweep(args: list[str], tmp_path: Path, name: str) -> subprocess.Popen:
    """``train.py -m hparams_search=optuna <args>``, its output in <tmp_path>/<name>.out and .err."""
    command = [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", *args,
               f"paths.log_dir={tmp_path}/outputs"]
    return subprocess.Popen(command, cwd=tmp_path, stdout=(tmp_path / f"{name}.out").open("w"),
                            stderr=(tmp_path / f"{name}.err").open("w"), env={**os.environ, "HYDRA_FULL_ERROR": "0"})


def output(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.out").read_text() + (tmp_path / f"{name}.err").read_text()


def tail(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.err").read_text()[-3000:]


def launched_trial_ids(sweep_dir: Path) -> list[int]:
    """The optuna_trial.trial_id each run folder's job was started with (.hydra/overrides.yaml)."""
    ids = []
    for overrides in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        (handover,) = [o for o in yaml.safe_load(overrides.read_text()) if o.startswith("optuna_trial=")]
        ids.append(int(re.search(r"trial_id:(\d+)", handover).group(1)))
    return ids


def check_study(study: optuna.Study, sweep_dir: Path, n_trials: int) -> list[FrozenTrial]:
    """Exactly n_trials finished, nothing RUNNING, every failure has a reason, every launched trial has
    one run folder and its trial id was launched once; returns the trials."""
    trials = study.trials
    assert sum(t.state in FINISHED for t in trials) == n_trials, [(t.number, t.state) for t in trials]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert all(t.user_attrs.get("fail_reason") for t in trials if t.state == TrialState.FAIL)
    launched = [t for t in trials if not is_surplus(t)]
    assert sorted(int(p.name) for p in sweep_dir.iterdir() if p.name.isdigit()) == [t.number for t in launched]
    ids = launched_trial_ids(sweep_dir)
    assert len(ids) == len(set(ids)) and set(ids) == {t._trial_id for t in launched}
    return trials


@pytest.mark.slow
def test_three_processes_share_one_study(storage, tmp_path):
    """The SLURM-array pattern: one command started three times; together they finish n_trials."""
    sweep_dir, name = tmp_path / "sweep", f"shared_{tmp_path.name}"
    args = [f"hydra.sweeper.n_trials={N_TRIALS}", f"hydra.sweeper.storage={storage}",
            f"hydra.sweeper.study_name={name}", f"hydra.sweep.dir={sweep_dir}", *TINY]
    processes = [start_sweep(args, tmp_path, f"p{i}") for i in range(3)]
    codes = [process.wait(timeout=600) for process in processes]
    assert codes == [0, 0, 0], [tail(tmp_path, f"p{i}") for i in range(3)]
    study = optuna.load_study(study_name=name, storage=open_storage(url_of(storage, tmp_path)))
    trials = check_study(study, sweep_dir, N_TRIALS)
    owners = {t.user_attrs["sweeper"] for t in trials if not is_surplus(t)}
    assert len(owners) >= 2, owners  # the work was shared
    lrs = [t.params["optimizer.lr"] for t in trials if t.params]
    assert len(lrs) == len(set(lrs))  # processes started with one seed still drew different points
    with (sweep_dir / "trials.csv").open() as handle:  # the last writer's view: the whole study
        assert sum(row["state"] in ("COMPLETE", "PRUNED") for row in csv.DictReader(handle)) == N_TRIALS


# -- faults ---------------------------------------------------------------------------------------------
def running_trial_with_an_epoch(sweep_dir: Path) -> Optional[FrozenTrial]:
    """A RUNNING trial that has reported an epoch, or None (also before the study is ready)."""
    if not (sweep_dir / "multirun.yaml").is_file():  # written after the study's tables: reading earlier races
        return None
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.intermediate_values]
    return running[0] if running else None


def wait_for(condition, timeout: float = 180.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing found within {timeout} s")


@pytest.mark.slow
def test_sigkilled_sweep_is_run_again_and_loses_nothing(tmp_path):
    """SIGKILL (no handler runs) mid-trial with the basic launcher: the trial dies with the sweep. The
    same command with the same hydra.sweep.dir marks it FAIL and finishes the study."""
    sweep_dir = tmp_path / "sweep"
    args = ["hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep_dir}", *SLOW_TRIAL, "hardware.num_threads=1"]
    first = start_sweep(args, tmp_path, "first")
    victim = wait_for(lambda: running_trial_with_an_epoch(sweep_dir))
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=60) == -signal.SIGKILL
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    assert [t.number for t in study.get_trials(states=(TrialState.RUNNING,))] == [victim.number]

    again = start_sweep(args, tmp_path, "again")
    assert again.wait(timeout=600) == 0, tail(tmp_path, "again")
    trials = check_study(study, sweep_dir, 3)
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs["fail_reason"] == f"its sweep process ({victim.user_attrs['sweeper']}) ended before it did"
    assert "3/3 done (0 pruned), 1 failed" in output(tmp_path, "again")


_SWEEP_AND_JOB = """
import os, subprocess, sys, time
job = subprocess.Popen([sys.executable, "-c", sys.argv[1], f"{os.uname().nodename}:{os.getpid()}"])
print(job.pid, flush=True)
time.sleep(60)
"""
_JOB = """
import logging, sys, time
from trainlab.search.trial import stop_with_the_sweep
logging.basicConfig()
stop_with_the_sweep(sys.argv[1], interval_s=0.1)  # a job ran, and the worker idles
time.sleep(60)
"""


def ended(pid: int) -> bool:
    """No such process, or a zombie nobody reaps (a container's first process may not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_job_in_a_worker_process_stops_with_its_sweep_process_killed_hard(tmp_path):
    """A joblib worker outlived a SIGKILLed sweep, running its job (whose result nothing records) or idle
    for joblib's 300 s, holding CPU threads, memory and GPU while the sweep was continued. It now ends
    within a second of its sweep."""
    job = None
    with (tmp_path / "job.err").open("w") as errors, subprocess.Popen(
            [sys.executable, "-c", _SWEEP_AND_JOB, _JOB], stdout=subprocess.PIPE, stderr=errors, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")}) as sweep:
        try:
            job = int(sweep.stdout.readline())
            time.sleep(1.0)  # the job's imports and watcher are up
            assert not ended(job)
            sweep.send_signal(signal.SIGKILL)
            sweep.wait()
            wait_for(lambda: ended(job), timeout=10)
        finally:  # a failed assertion leaves neither sleeping for a minute
            sweep.kill()
            if job is not None and not ended(job):
                os.kill(job, signal.SIGKILL)
    assert "the sweep process that started this trial's worker" in (tmp_path / "job.err").read_text()


def test_a_job_whose_sweep_pid_now_belongs_to_a_later_process_stops_too():
    """The job's watcher (not a child of its sweep process) took any process under the sweep's pid for the
    sweep: one started after a hard kill kept the job running; it judges by start time, as the trials do."""
    from trainlab.search.trial import _gone

    host = socket.gethostname()
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _gone(f"{host}:{later.pid}", parent_at_start=os.getppid(), watched_since=time.time() - 60)
        assert not _gone(f"{host}:{os.getpid()}", parent_at_start=os.getppid(), watched_since=time.time())
    finally:
        later.kill()
        later.wait()
    assert _gone(f"{host}:{later.pid}", parent_at_start=os.getppid(), watched_since=time.time())


def test_the_sweep_process_itself_and_jobs_on_another_host_are_not_watched():
    from trainlab.search.trial import stop_with_the_sweep

    for sweeper in (f"{socket.gethostname()}:{os.getpid()}", f"another-host:{os.getppid()}", None):
        stop_with_the_sweep(sweeper)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("stop-with-sweep")]


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = parent_of(pid)
    return False


def worker_of_a_running_trial(sweep_dir: Path) -> Optional[tuple[FrozenTrial, int]]:
    """A RUNNING trial with an epoch and the worker process that runs it, or None."""
    trial = running_trial_with_an_epoch(sweep_dir)
    # the job's TensorBoard file is named ...<host>.<pid>.<n>: the worker that runs it
    files = list((sweep_dir / str(trial.number)).rglob("events.out.tfevents.*")) if trial else []
    return (trial, int(files[0].name.split(".")[-2])) if files else None


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None,
                    reason="hydra-joblib-launcher is not installed")
def test_a_sigkilled_joblib_sweep_takes_its_workers_along_and_is_run_again(tmp_path):
    """SIGKILL the sweep process of hydra/launcher=joblib mid-trial: its workers ran on (the trial's
    result recorded by nobody, threads, memory and GPU held while the sweep is continued); they now end
    within seconds, and the same command finishes the study."""
    sweep_dir = tmp_path / "sweep"
    args = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=3",
            f"hydra.sweep.dir={sweep_dir}", *SLOW_TRIAL]
    sweep = start_sweep(args, tmp_path, "first")
    victim, worker = wait_for(lambda: worker_of_a_running_trial(sweep_dir))
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    wait_for(lambda: ended(worker), timeout=15)
    again = start_sweep(args, tmp_path, "again")
    assert again.wait(timeout=600) == 0, tail(tmp_path, "again")
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    trials = check_study(study, sweep_dir, 3)
    assert trials[victim.number].state == TrialState.FAIL
    assert trials[victim.number].user_attrs["fail_reason"].startswith("its sweep process (")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None,
                    reason="hydra-joblib-launcher is not installed")
def test_sigkilled_joblib_worker_fails_its_trial_and_the_sweep_goes_on(tmp_path):
    """SIGKILL one worker process of hydra/launcher=joblib (n_jobs=2) mid-trial: its trial is FAIL with
    the reason, and the same sweep goes on to n_trials finished, without being run again. joblib's
    pool (loky) then stops the whole pool, so the other slot's running trial fails with it:
    max_failure_rate=1 keeps those two failures from ending the sweep."""
    sweep_dir = tmp_path / "sweep"
    args = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.max_failure_rate=1.0", f"hydra.sweep.dir={sweep_dir}", *SLOW_TRIAL]
    sweep = start_sweep(args, tmp_path, "sweep")
    victim, worker = wait_for(lambda: worker_of_a_running_trial(sweep_dir))
    assert worker != sweep.pid and descends_from(worker, sweep.pid)
    os.kill(worker, signal.SIGKILL)
    assert sweep.wait(timeout=600) == 0, tail(tmp_path, "sweep")
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    trials = check_study(study, sweep_dir, 4)
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs["fail_reason"].startswith("TerminatedWorkerError: A worker process managed by the "
                                                       "executor was unexpectedly terminated")
    assert len(killed.intermediate_values) < 8  # it did not train to the end


KILLED_PYTEST = """
import os, time
from pathlib import Path
from trainlab.testing.postgres import throwaway_postgres

def test_holds_a_server():
    with throwaway_postgres() as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        Path(os.environ["STARTED"]).write_text(port)
        time.sleep(120)
"""


@pytest.mark.slow  # a pytest in a subprocess, killed while its PostgreSQL server runs
def test_the_postgresql_server_ends_with_the_pytest_that_started_it(tmp_path):
    """Started by pg_ctl (a daemon), the server of a test run that was killed (timeout, SIGKILL) ran on, and its
    folder stayed in the temp folder. The server is now the test process's child and gets SIGQUIT when it ends;
    the next start removes the folder."""
    from trainlab.testing.postgres import PREFIX, PostgresUnavailable, bin_dir, throwaway_postgres

    if bin_dir() is None:
        skip_engine("no PostgreSQL server binaries (apt-get install postgresql)")
    (tmp_path / "test_holds.py").write_text(KILLED_PYTEST)
    started = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_holds.py"], cwd=tmp_path,
                            env={**os.environ, "STARTED": str(started)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not started.exists():
        proc.kill()
        pytest.fail(f"the pytest started no server: {proc.communicate()[0].decode()[-2000:]}")
    port = started.read_text()
    folders = [f for f in Path(tempfile.gettempdir()).glob(f"{PREFIX}*") if (f / "data" / "postmaster.pid").is_file()
               and (f / "data" / "postmaster.pid").read_text().splitlines()[3] == port]
    (folder,) = folders
    server = int((folder / "data" / "postmaster.pid").read_text().splitlines()[0])
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{server}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{server}").exists(), "the server outlived the pytest that started it"
    assert folder.is_dir()  # nothing could remove it: the next start does
    try:
        with throwaway_postgres():
            assert not folder.exists()
    except PostgresUnavailable as exc:
        skip_engine(f"no PostgreSQL server could be started: {exc}")


def test_a_storage_sqlalchemy_cannot_open_here_is_refused_when_the_sweep_is_planned(tmp_path, monkeypatch):
    """foo:// failed after five tries with "Can't load plugin: sqlalchemy.dialects:foo"; postgresql:// (psycopg 3 to
    SQLAlchemy 2, where requirements.txt installs psycopg2) and mysql:// with SQLAlchemy's "No module named ..." from
    inside Optuna, after the sweep folder was made."""
    import builtins

    default = tmp_path / "optuna.db"
    with pytest.raises(UserError, match=r"^hydra.sweeper.storage=foo://bar: 'foo' is no database SQLAlchemy knows; "
                                        r"give sqlite:///<file>, postgresql\+psycopg2://"):
        storage_url("foo://bar", default)
    real_import = builtins.__import__

    def without_psycopg(name, *args, **kwargs):  # psycopg 3 absent, whether or not this machine has it
        if name == "psycopg" or name.startswith("psycopg."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psycopg)
    with pytest.raises(UserError, match=r"^hydra.sweeper.storage=postgresql://me@db:5432/s: its driver postgresql needs "
                                        r"the Python module 'psycopg', which is not installed .*; psycopg2 is "
                                        r"installed: postgresql\+psycopg2://me@db:5432/s$"):
        storage_url("postgresql://me@db:5432/s", default)
    assert storage_url("postgresql+psycopg2://me@db:5432/s", default) == "postgresql+psycopg2://me@db:5432/s"
