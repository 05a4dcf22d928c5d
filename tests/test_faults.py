"""Faults: non-finite losses, exceptions mid-training, kills during saves and runs, unwritable outputs."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from tests.conftest import ROOT, TINY
from trainlab.run.checkpoint_io import AtomicCheckpointIO
from trainlab.run.checkpoint_path import resolve_checkpoint
from trainlab.run.preflight import output_problem
from trainlab.config.errors import UserError


# -- non-finite loss ---------------------------------------------------------------------------
def test_nan_loss_stops_with_epoch_and_step(compose_cfg, run_train):
    # a learning rate this large sends the LSTM's loss to inf/NaN within a few steps
    cfg = compose_cfg([*TINY, "optimizer=sgd", "optimizer.lr=1e12", "model.net.dropout=0"])
    with pytest.raises(UserError, match=r"the training loss became (nan|inf) at epoch \d+, step \d+ \(batch \d+"):
        run_train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()  # saved before the run ended


class _Boom(pl.Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("disk controller on fire")


def test_an_exception_mid_training_saves_a_checkpoint_and_records(compose_cfg, run_train):
    cfg = compose_cfg([*TINY, "trainer.max_epochs=4"])
    with pytest.raises(RuntimeError, match="on fire"):
        run_train(cfg, extra_callbacks=[_Boom()])
    run_dir = Path(cfg.paths.output_dir)
    saved = torch.load(run_dir / "checkpoints" / "on_exception.ckpt", weights_only=True)
    assert saved["epoch"] == 1 and "state_dict" in saved
    assert [json.loads(line)["epoch"] for line in (run_dir / "epochs.jsonl").read_text().splitlines()] == [0, 1]


# -- checkpoints -------------------------------------------------------------------------------
def test_resuming_a_run_folder_takes_last_and_evaluating_takes_best(tmp_path):
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    for name in ("epoch01-loss0.1000.ckpt", "last.ckpt"):
        (ckpts / name).write_bytes(b"x")
    (ckpts / "best.txt").write_text(str(ckpts / "epoch01-loss0.1000.ckpt") + "\n")
    assert resolve_checkpoint(str(tmp_path / "run"), prefer="last").name == "last.ckpt"
    assert resolve_checkpoint(str(tmp_path / "run")).name == "epoch01-loss0.1000.ckpt"


def test_atomic_save_leaves_no_temporary_file(tmp_path):
    io = AtomicCheckpointIO()
    target = tmp_path / "ck" / "last.ckpt"
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "last.ckpt.tmp-99999").write_bytes(b"left by a killed save")
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 2}, target)
    assert torch.load(target, weights_only=True)["epoch"] == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]


_SAVER = """
import sys, torch
from trainlab.run.checkpoint_io import AtomicCheckpointIO
io, path = AtomicCheckpointIO(), sys.argv[1]
step = 0
while True:  # big enough that a save takes a while: kills land inside saves
    io.save_checkpoint({"state_dict": {"w": torch.full((4_000_000,), float(step))}, "step": step}, path)
    step += 1
    print(step, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_kill_during_saves_never_leaves_an_unreadable_checkpoint(tmp_path, seed):
    path = tmp_path / "last.ckpt"
    rng = random.Random(seed)
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # one save done
    for _ in range(5):
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGSTOP)  # freeze it wherever it is (often mid-write) and read
        loaded = torch.load(path, weights_only=True)
        assert float(loaded["state_dict"]["w"][0]) == loaded["step"]
        os.kill(proc.pid, signal.SIGCONT)
    proc.kill()
    proc.wait()
    loaded = torch.load(path, weights_only=True)
    assert float(loaded["state_dict"]["w"][-1]) == loaded["step"]


# -- a real training process killed and resumed -------------------------------------------------
KILL_RUN = ["data.source.num_rows=1500", "data.window=16", "model.net.hidden_size=16", "model.net.num_layers=1",
            "trainer.max_epochs=6", "callbacks.early_stopping.patience=100", "hardware.num_threads=1",
            "trainer.enable_progress_bar=false", "logger=none"]


def _train(*args: str, log_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args, f"paths.log_dir={log_dir}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=log_dir)


def _runs(log_dir: Path) -> list[Path]:
    return sorted((log_dir / "train" / "runs").glob("*"))


def _test_metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "training_summary.json").read_text())["test"]


@pytest.mark.slow
def test_sigkill_then_resume_ends_exactly_like_an_uninterrupted_run(tmp_path):
    straight_dir = tmp_path / "straight"
    straight_dir.mkdir()
    straight = _train(*KILL_RUN, log_dir=straight_dir)
    assert straight.wait(timeout=600) == 0, straight.stderr.read()
    expected = _test_metrics(_runs(straight_dir)[0])

    rng = random.Random(20261123)
    for attempt in range(3):  # three kills at random moments, each resumed
        log_dir = tmp_path / f"killed{attempt}"
        log_dir.mkdir()
        proc = _train(*KILL_RUN, log_dir=log_dir)
        first = None
        while first is None:  # wait for the run folder, then for its first epoch's last.ckpt
            time.sleep(0.2)
            runs = _runs(log_dir)
            if runs and (runs[0] / "checkpoints" / "last.ckpt").is_file():
                first = runs[0]
            assert proc.poll() is None, proc.stderr.read()
        time.sleep(rng.uniform(0.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        trained = torch.load(first / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] + 1
        resumed = _train(*KILL_RUN, f"ckpt_path={first}", log_dir=log_dir)
        if trained == 6:  # killed after its last epoch (while testing): nothing is left to resume
            assert resumed.wait(timeout=600) == 2 and "has already trained 6 epoch(s)" in resumed.stderr.read()
            continue
        assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
        got = _test_metrics(_runs(log_dir)[-1])
        for key in ("test/loss", "test/rmse", "test/r2"):
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), (attempt, key)


# -- output location -----------------------------------------------------------------------------
def test_output_problem_names_the_culprit(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert "is a file" in output_problem(blocker / "outputs" / "run")
    assert output_problem(tmp_path / "new" / "run") is None
    assert output_problem(tmp_path, min_free_mb=1e15).endswith("; choose another place with paths.log_dir=<folder>, "
                                                               "or free some space there")


@pytest.mark.parametrize("read_only, said", [
    (True, r"'{}' is on a read-only disk, so the output folder '.*' cannot be made there; choose another place with "
           r"paths.log_dir=<folder>$"),
    (False, r"'{0}' is not writable by user '\w+', so the output folder '.*' cannot be made there; choose another place "
            r"with paths.log_dir=<folder>; or let user '\w+', its owner, write in it: chmod u\+wx '{0}'$"),
])
def test_an_unwritable_output_folder_is_refused_with_what_mends_it(tmp_path, monkeypatch, read_only, said):
    """A read-only disk is mended by no free space (the refusal said 'or free some space' whatever the cause)."""
    import re
    from types import SimpleNamespace

    real_statvfs = os.statvfs
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(
        f_flag=real_statvfs(path).f_flag | (os.ST_RDONLY if read_only else 0)))
    assert re.match(said.format(re.escape(str(tmp_path))), output_problem(tmp_path / "run"))


def test_a_run_dir_that_holds_files_is_refused_before_hydra_writes_into_it(tmp_path, capsys, monkeypatch):
    """hydra.run.dir=<a training run> would overwrite its .hydra/config.yaml (evaluate.py and resuming read
    it); =<an earlier evaluation> its report; =<a folder of the user's> is removed by a refused start."""
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight, occupied_problem

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text("model: {}\n")
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "metrics.json").write_text("{}")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert "already holds a training run (checkpoints/, .hydra/config.yaml)" in occupied_problem(run)
    assert "already holds an earlier evaluation (metrics.json, report.json)" in occupied_problem(evaluation)
    assert "already holds other files (notes.txt ...)" in occupied_problem(mine)
    (tmp_path / "empty").mkdir()
    assert occupied_problem(tmp_path / "empty") is None and occupied_problem(tmp_path / "new") is None
    with pytest.raises(SystemExit) as stop:
        Preflight(min_free_mb=0).on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(run)}}}))
    assert stop.value.code == 2 and "leave hydra.run.dir out" in capsys.readouterr().err
    monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP run's other ranks join their first rank's folder
    Preflight(min_free_mb=0).on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(run)}}}))
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # a requeued job continues in its own folder
    Preflight(min_free_mb=0).on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(run)}}}))


def test_a_requeued_plain_run_in_a_slurm_job_goes_on_in_its_first_attempts_folder(tmp_path, monkeypatch, caplog):
    """python train.py in an sbatch script, requeued (sbatch --requeue, a preemption): the new attempt composed a new
    run folder, found no last.ckpt in it and trained from epoch 0 again, the first attempt's folder left aside."""
    import logging

    from omegaconf import OmegaConf

    from trainlab.run import preemption, preflight
    from trainlab.run.preemption import requeued_checkpoint
    from trainlab.run.preflight import Preflight

    def attempt(name: str):
        return OmegaConf.create({"paths": {"log_dir": str(tmp_path / "logs")},
                                 "hydra": {"run": {"dir": str(tmp_path / "logs" / "train" / "runs" / name)}}})

    for key in ("SLURM_RESTART_COUNT", "LOCAL_RANK", "SLURM_STEP_ID", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    Preflight(min_free_mb=0).on_run_start(attempt("first"))
    first = tmp_path / "logs" / "train" / "runs" / "first"
    (first / "checkpoints").mkdir()
    (first / "checkpoints" / "last.ckpt").write_bytes(b"epoch 3")
    while preflight._held:  # the attempt is killed: the system closes its lock, and no hook of its runs
        os.close(preflight._held.pop())
    preemption._job_notes.clear()
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    second = attempt("second")
    Preflight(min_free_mb=0).on_run_start(second)
    assert second.hydra.run.dir == str(first) and requeued_checkpoint(second.hydra.run.dir) == str(
        first / "checkpoints" / "last.ckpt")
    Preflight(min_free_mb=0).on_run_end(second)  # it finished: its note goes, and the notes' folder once empty
    assert not (tmp_path / "logs" / ".slurm_jobs").exists()
    monkeypatch.setenv("SLURM_JOB_ID", "78")  # a job whose earlier attempt named no folder: a new one, said
    other = attempt("other")
    with caplog.at_level(logging.WARNING, logger="trainlab.run.preemption"):
        Preflight(min_free_mb=0).on_run_start(other)
    assert other.hydra.run.dir.endswith("other") and "no earlier attempt named its run folder" in caplog.text


def test_two_runs_started_at_once_into_one_run_dir_do_not_share_it(tmp_path, capsys):
    """Both found hydra.run.dir empty (neither had written yet) and trained into it, each overwriting the other's
    config, checkpoints and records; the second is now refused while the first holds the folder."""
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight

    config = OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "shared")}}})
    first, second = Preflight(min_free_mb=0), Preflight(min_free_mb=0)
    first.on_run_start(config)  # nothing written yet: the moment the second one starts
    with pytest.raises(SystemExit) as stop:
        second.on_run_start(config)
    assert stop.value.code == 2 and capsys.readouterr().err == (
        f"error: hydra.run.dir '{tmp_path / 'shared'}' is in use by another run started at the same moment; leave "
        "hydra.run.dir out (each run gets a new folder under paths.log_dir), or give each run its own\n")
    first.on_run_end(config)  # a run ended (a loop of runs from Python) gives the folder back
    Preflight(min_free_mb=0).on_run_start(config)


def test_a_run_stopped_by_ctrl_c_from_python_gives_its_folder_back(tmp_path, monkeypatch):
    """Hydra skips on_run_end after a KeyboardInterrupt: each run of a loop stopped by Ctrl-C kept its folder locked
    (the same process refused it as 'in use by another run started at the same moment') and its descriptor open."""
    import fcntl

    import trainlab
    from trainlab.run import jobs

    def stopped(cfg, exits):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "train_job", stopped)
    for name in ("one", "two"):
        with pytest.raises(KeyboardInterrupt):
            trainlab.train([f"hydra.run.dir={tmp_path / name}"])
    open_on = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.islink(f"/proc/self/fd/{fd}") and str(tmp_path) in os.readlink(f"/proc/self/fd/{fd}")]
    assert open_on == []
    fd = os.open(tmp_path / "one", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raised BlockingIOError: the stopped run's lock
    finally:
        os.close(fd)


@pytest.mark.parametrize("errno_name", ["ENOLCK", "ENOSYS", "EOPNOTSUPP"])
def test_a_file_system_without_locks_runs_as_before(tmp_path, monkeypatch, errno_name):
    """Lustre mounted without -o flock answers flock with ENOSYS, some NFS setups with ENOLCK: every run there
    was refused as 'in use by another run'; only a lock another process holds refuses one."""
    import errno
    import fcntl

    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight

    def no_locks(fd, operation):
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    config = OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "run")}}})
    Preflight(min_free_mb=0).on_run_start(config)
    assert (tmp_path / "run").is_dir()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "HYDRA_FULL_ERROR": "0"})


@pytest.mark.parametrize("case", ["unwritable", "full"])
def test_unusable_output_location_stops_before_anything_starts(tmp_path, case):
    if case == "unwritable":
        (tmp_path / "a_file").write_text("")
        result = _cli(f"paths.log_dir={tmp_path / 'a_file' / 'outputs'}", cwd=tmp_path)
        expected = "is a file, so the output folder"
    else:
        result = _cli(f"paths.log_dir={tmp_path}/outputs", "hydra.callbacks.preflight.min_free_mb=1e15", cwd=tmp_path)
        expected = "MB free on the disk of"
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last and "paths.log_dir=" in last
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_a_resumed_run_keeps_the_earlier_top_k_in_its_own_folder(tmp_path):
    from trainlab.callbacks.checkpoints import ModelCheckpoint

    old = tmp_path / "old" / "checkpoints"
    old.mkdir(parents=True)
    for name in ("epoch00-loss0.5000.ckpt", "epoch01-loss0.2000.ckpt", "last.ckpt"):
        (old / name).write_bytes(name.encode())
    state = ModelCheckpoint(dirpath=str(old), monitor="val/loss").state_dict()
    state.update(best_model_score=torch.tensor(0.2), best_model_path=str(old / "epoch01-loss0.2000.ckpt"),
                 best_k_models={str(old / "epoch00-loss0.5000.ckpt"): torch.tensor(0.5),
                                str(old / "epoch01-loss0.2000.ckpt"): torch.tensor(0.2),
                                str(old / "gone.ckpt"): torch.tensor(0.9)},
                 kth_best_model_path=str(old / "epoch00-loss0.5000.ckpt"), last_model_path=str(old / "last.ckpt"))
    new = tmp_path / "new" / "checkpoints"
    callback = ModelCheckpoint(dirpath=str(new), monitor="val/loss")
    callback.load_state_dict(state)
    assert callback.best_model_path == str(new / "epoch01-loss0.2000.ckpt")
    assert float(callback.best_model_score) == pytest.approx(0.2)
    assert sorted(Path(p).name for p in callback.best_k_models) == ["epoch00-loss0.5000.ckpt", "epoch01-loss0.2000.ckpt"]
    assert (new / "epoch01-loss0.2000.ckpt").read_bytes() == b"epoch01-loss0.2000.ckpt"  # copied, not moved
    assert (old / "epoch01-loss0.2000.ckpt").is_file()


def test_last_ckpt_is_every_epochs_end_and_resumes_exactly_with_validation_twice_an_epoch(compose_cfg, run_train):
    """last.ckpt is what a resume continues from. Lightning wrote it only beside a top-k checkpoint (here
    only the first validation is the top 1, so last.ckpt stayed at epoch 0 of 3), and with validation
    twice an epoch it wrote it inside the epoch: resumed from there, the run started the epoch's batches
    over and ended with other metrics than the run that was never stopped (val/loss 0.1870 against 0.1871)."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null", "trainer.val_check_interval=0.5",
              "callbacks.model_checkpoint.save_top_k=1", "callbacks.model_checkpoint.mode=max"]  # the first check stays the top 1
    straight_cfg = compose_cfg([*common, "trainer.max_epochs=3"])
    straight = run_train(straight_cfg)
    assert torch.load(Path(straight_cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2
    first = compose_cfg([*common, "trainer.max_epochs=1"])
    run_train(first)
    last = torch.load(Path(first.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 1  # the epoch's end, not inside it
    resumed = run_train(compose_cfg([*common, "trainer.max_epochs=3", f"ckpt_path={first.paths.output_dir}"]))
    for key in ("val/loss", "val/rmse", "test/rmse", "objective"):
        assert resumed[key] == straight[key], key  # bit for bit


# -- a disk that fills mid-run ---------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs where the machine lets us mount one (root), else None."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        yield None
        return
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


class _FillDisk(pl.Callback):
    """Takes the disk's free space (bar a few kB) at the start of epoch 3: the disk fills mid-run."""

    def __init__(self, disk: Path):
        self.disk = disk

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 3:
            import shutil

            (self.disk / "filler").write_bytes(b"x" * max(shutil.disk_usage(self.disk).free - 8192, 0))


def test_a_full_disk_ends_with_one_line_and_keeps_the_earlier_checkpoints(compose_cfg, run_train, small_disk,
                                                                            monkeypatch):
    """On a real small filesystem where possible, else with ENOSPC injected at the fourth checkpoint."""
    import errno

    from trainlab.run.checkpoint_io import DiskFull

    cfg = compose_cfg([*TINY, "trainer.max_epochs=8", "callbacks.early_stopping.patience=100"])
    extra = []
    if small_disk is not None:
        from omegaconf import open_dict

        with open_dict(cfg):  # the whole run folder on the small disk
            cfg.paths.output_dir = str(small_disk / "run")
        extra = [_FillDisk(small_disk)]
    else:
        real_save, saves = torch.save, []

        def save(obj, f, *args, **kwargs):
            saves.append(1)
            if len(saves) > 6:  # two files per epoch (top-k and last): epochs 0-2 fit
                f.write(b"partial")
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_save(obj, f, *args, **kwargs)

        monkeypatch.setattr(torch, "save", save)
    with pytest.raises(DiskFull, match=r"the disk is full: writing checkpoint '.*epoch03.*\.ckpt' stopped after "
                                       r"\d+ kB \(No space left on device\); the earlier checkpoints in .* are intact. "
                                       r"Free some space on the run folder's disk, then resume: python \S+.py "
                                       r".*trainer.max_epochs=8 callbacks.early_stopping.patience=100 ckpt_path="):
        run_train(cfg, extra_callbacks=extra)
    ckpts = Path(cfg.paths.output_dir) / "checkpoints"
    assert not list(ckpts.glob("*.tmp-*"))
    assert not (ckpts / "on_exception.ckpt").exists()  # nothing more written onto a full disk
    last = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2  # the last complete one, readable
    assert len(list(ckpts.glob("epoch0*.ckpt"))) == 3


class _FullFrom(pl.Callback):
    """From the start of epoch ``epoch`` on, every write of a file named ``name`` fails for lack of space
    (or with another ``error``: EACCES, a folder whose permissions changed)."""

    def __init__(self, monkeypatch, epoch: int, name: str, error: int = errno.ENOSPC):
        self.monkeypatch, self.epoch, self.name, self.error = monkeypatch, epoch, name, error

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch != self.epoch:
            return
        real_open, real_write, name, error = Path.open, os.write, self.name, self.error

        def full(*args):
            raise OSError(error, os.strerror(error))

        def open_(path, *args, **kwargs):
            return full() if name in str(path) and "w" in (args[0] if args else kwargs.get("mode", "r")) else \
                real_open(path, *args, **kwargs)

        def write(fd, data):
            return full() if name in os.readlink(f"/proc/self/fd/{fd}") else real_write(fd, data)

        self.monkeypatch.setattr(Path, "open", open_)
        self.monkeypatch.setattr(os, "write", write)


_FULL = r"the disk is full: writing '.*{}' failed \(No space left on device\)"


@pytest.mark.parametrize("name, epoch, error, line", [
    ("epochs.jsonl", 3, errno.ENOSPC, _FULL + r"\. Free some space on the run folder's disk, then resume: "
                                              r"python \S+.py .*trainer.max_epochs=5 logger=none ckpt_path="),
    ("training_summary.json", 4, errno.ENOSPC,
     _FULL + r"\. Training ended; free some space on the run folder's disk \(or choose another disk with "
             r"paths.log_dir=<folder>\), then test its best checkpoint: python evaluate.py ckpt_path="),
    # a folder whose permissions changed mid-run (or a file another user made there): a traceback before
    # (the file is known, so the advice is the owner's own command for it)
    ("epochs.jsonl", 3, errno.EACCES, r"permission denied: writing '.*{0}' failed \(Permission denied\)\. Let user "
                                      r"'\w+', its owner, write it: chmod u\+w '.*{0}', then resume: "
                                      r"python \S+.py .*ckpt_path="),
])
def test_a_disk_full_for_the_records_names_the_file_and_says_what_next(compose_cfg, run_train, monkeypatch,
                                                                        name, epoch, error, line):
    """A record that cannot be written (epochs.jsonl mid-run, the summary after the last epoch) is one line
    naming it and the next step, and no on_exception.ckpt is tried on the full disk; before, the line
    named on_exception.ckpt and said to resume a run whose training had ended."""
    from trainlab.run.durable import DiskFull

    cfg = compose_cfg([*TINY, "trainer.max_epochs=5", "logger=none"])
    with pytest.raises(DiskFull, match=rf"^{line.format(name)}{cfg.paths.output_dir}$"):
        run_train(cfg, extra_callbacks=[_FullFrom(monkeypatch, epoch, name, error)])
    ckpts = Path(cfg.paths.output_dir) / "checkpoints"
    assert not (ckpts / "on_exception.ckpt").exists()
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["epoch"] == 3 if epoch == 3 else 4
    monkeypatch.undo()
    assert [r["epoch"] for r in map(json.loads, (ckpts.parent / "epochs.jsonl").read_text().splitlines())] == \
        list(range(epoch if epoch == 3 else 5))


def test_train_log_on_a_full_disk_warns_once_and_writes_no_more(compose_cfg, tmp_path, capsys):
    """Before, each line logged after the disk filled printed a '--- Logging error ---' traceback."""
    import errno

    from trainlab.run.console import RunLogFile

    cfg = compose_cfg(TINY)  # Hydra's job logging writes train.log through it
    assert cfg.hydra.job_logging.handlers.file["class"] == "trainlab.run.console.RunLogFile"
    handler = RunLogFile(tmp_path / "train.log")
    logger = logging.getLogger("test_train_log_on_a_full_disk")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("written")
        handler.stream.close()

        class Full:
            def write(self, text):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            flush = close = write

        handler.stream = Full()
        for n in range(3):
            logger.warning("line %d", n)
    finally:
        logger.removeHandler(handler)
        handler.stream = None
    err = capsys.readouterr().err
    assert "Logging error" not in err and err.count("\n") == 1
    assert err.startswith(f"warning: the disk is full: '{tmp_path / 'train.log'}' takes no more lines (No space left")
    assert (tmp_path / "train.log").read_text().endswith("written\n")


# -- resuming ---------------------------------------------------------------------------------------
def test_resume_refuses_other_models_data_and_no_epochs_left_and_carries_the_records(compose_cfg, run_train):
    base = [*TINY, "logger=none", "callbacks.early_stopping.patience=100"]
    first = compose_cfg(base)
    run_train(first)
    run_dir = first.paths.output_dir
    # 6 inputs per step: the 5 features and the past target (data.target_inputs, issue 12)
    # another shape of net: the key, its old and new values first, before the tensors they made (one line, before
    # Lightning's load_state_dict error)
    for changed, named, tensors in (("model.net.hidden_size=32", "model.net.hidden_size: 16 -> 32",
                                     r"net.lstm.weight_ih_l0 \(64, 6\) in the checkpoint, \(128, 6\) here; net.lstm.weight_hh_l0 "
                                     r"\(64, 16\) in the checkpoint, \(128, 32\) here"),
                                    ("model.net.num_layers=2", "model.net.num_layers: 1 -> 2",
                                     r"missing \['net.lstm.weight_ih_l1', 'net.lstm.weight_hh_l1'\]")):
        with pytest.raises(UserError, match=rf"^ckpt_path=\S+ does not fit .*LSTMNet \(settings that differ from that "
                                            rf"run: {named}\): {tensors}; resume with the model and data of that run") as no:
            run_train(compose_cfg([*base, changed, f"ckpt_path={run_dir}"]))
        assert "\n" not in str(no.value)
    with pytest.raises(UserError, match=r"was trained on other data \(data.source.num_rows: 600 -> 700"):
        run_train(compose_cfg([*base, "data.source.num_rows=700", f"ckpt_path={run_dir}"]))
    # a resume composes the config anew: the refusal says how the run was started (its overrides.yaml)
    (Path(run_dir) / ".hydra").mkdir(exist_ok=True)
    (Path(run_dir) / ".hydra" / "overrides.yaml").write_text("- data.source.num_rows=600\n- trainer.max_epochs=2\n")
    with pytest.raises(UserError, match=r"600 -> 700; that run was started with: data.source.num_rows=600: repeat "
                                        r"them after ckpt_path="):
        run_train(compose_cfg([*base, "data.source.num_rows=700", f"ckpt_path={run_dir}"]))
    # a setting the data interpolate (the synthetic series' seed) is named beside what changed in the data
    with pytest.raises(UserError, match=r"the data now differ \(training statistics .*\); settings that differ from "
                                        r"that run: seed: \d+ -> 7; train a new run"):
        run_train(compose_cfg([*base, "seed=7", "trainer.max_epochs=3", f"ckpt_path={run_dir}"]))
    # the checkpoint's optimizer and scheduler state would override new settings without a word
    for changed, named in (("optimizer.lr=0.1", r"optimizer.lr: 0.001 -> 0.1"),
                           ("optimizer=sgd", r"optimizer._target_: torch.optim.Adam -> torch.optim.SGD"),
                           ("scheduler=cosine", r"scheduler._target_: None -> .*CosineAnnealingLR")):
        with pytest.raises(UserError, match=rf"^ckpt_path=.*: {named} cannot take effect on a resume, which continues "
                                            r"the checkpoint's optimizer and scheduler as they were .* or leave "
                                            r"ckpt_path out"):
            run_train(compose_cfg([*base, changed, "trainer.max_epochs=3", f"ckpt_path={run_dir}"]))
    with pytest.raises(UserError, match=r"has already trained 2 epoch\(s\) and trainer.max_epochs=2, so nothing "
                                        r"would be trained; give more: epochs=12"):
        run_train(compose_cfg([*base, f"ckpt_path={run_dir}"]))
    resumed = compose_cfg([*base, "trainer.max_epochs=3", f"ckpt_path={run_dir}"])
    run_train(resumed)
    records = [json.loads(line) for line in (Path(resumed.paths.output_dir) / "epochs.jsonl").read_text().splitlines()]
    earlier = [json.loads(line) for line in (Path(run_dir) / "epochs.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert records[:2] == earlier  # carried over as written
    summary = json.loads((Path(resumed.paths.output_dir) / "training_summary.json").read_text())
    assert summary["epochs_run"] == 3


@pytest.mark.parametrize("scheduler, named", [
    ("cosine", r"scheduler.T_max: 1 -> 3 \(\$\{trainer.max_epochs\}\)"),
    ("onecycle", r"trainer.max_epochs: 1 -> 3 \(the one cycle of scheduler=OneCycleLR was planned over that run's "
                 r"\d+ steps\)")])
def test_a_resume_to_more_epochs_refuses_a_scheduler_planned_over_the_runs_length(compose_cfg, run_train, scheduler,
                                                                                   named):
    """Cosine's T_max is ${trainer.max_epochs}: resumed with more epochs, the checkpoint's cosine went on past its
    end (the learning rate rose again) without a word; one cycle's step count is in its state too, and the
    resume died in a traceback (ValueError: Tried to step 14 times. The specified number of total steps is 13)."""
    base = [*TINY, "logger=none", f"scheduler={scheduler}"]
    first = compose_cfg([*base, "trainer.max_epochs=1"])
    run_train(first)
    with pytest.raises(UserError, match=rf"^ckpt_path=.*: {named} cannot take effect on a resume"):
        run_train(compose_cfg([*base, "trainer.max_epochs=3", f"ckpt_path={first.paths.output_dir}"]))


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_a_finished_run_whose_scheduler_spans_its_length_is_not_told_to_resume_with_more_epochs(compose_cfg, run_train,
                                                                                              scheduler):
    """The refusal of a resume that has nothing left to train advised epochs=11, and that resume was then refused
    in turn (scheduler.T_max: 1 -> 11 cannot take effect on a resume): a run whose scheduler is planned over its
    length cannot be lengthened by a resume, and the line says to train a new run instead."""
    base = [*TINY, "logger=none", f"scheduler={scheduler}", "trainer.max_epochs=1"]
    first = compose_cfg(base)
    run_train(first)
    with pytest.raises(UserError, match=r"has already trained 1 epoch\(s\) and trainer.max_epochs=1, so nothing would "
                                        r"be trained; .*is planned over the run's length, so a resume cannot lengthen "
                                        r"it: train a new run with more epochs \(leave ckpt_path out\): epochs=11") as info:
        run_train(compose_cfg([*base, f"ckpt_path={first.paths.output_dir}"]))
    assert "give more" not in str(info.value)


def test_a_resume_with_loader_workers_ends_like_the_run_never_stopped(compose_cfg, run_train):
    """With hardware.num_workers=2 the resumed epoch was trained in epoch 0's order (its workers took their
    indices before Lightning set the sampler's epoch): 1 epoch + resume to 2 ended at best val/loss 0.20821,
    the run never stopped at 0.20881."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null", "hardware.num_workers=2"]
    straight = run_train(compose_cfg([*common, "trainer.max_epochs=2"]))
    first = compose_cfg([*common, "trainer.max_epochs=1"])
    run_train(first)
    resumed = run_train(compose_cfg([*common, "trainer.max_epochs=2", f"ckpt_path={first.paths.output_dir}"]))
    for key in ("val/loss", "test/rmse", "objective"):
        assert resumed[key] == straight[key], key  # bit for bit


def test_a_resume_makes_the_plateau_step_its_checkpoint_was_written_before(compose_cfg, run_train):
    """An epoch-end checkpoint is written before Lightning steps ReduceLROnPlateau for that epoch, and a resume
    never made the step: resumed after epoch 2, epoch 3 trained at 1e-3 where the run never stopped had 1e-4."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null", "scheduler=plateau", "scheduler.patience=0",
              "+scheduler.threshold=0.5"]  # epoch 1 is not 50 % better than epoch 0: the rate is cut after it
    straight = run_train(compose_cfg([*common, "trainer.max_epochs=3"]))
    first = compose_cfg([*common, "trainer.max_epochs=2"])
    run_train(first)
    resumed_cfg = compose_cfg([*common, "trainer.max_epochs=3", f"ckpt_path={first.paths.output_dir}"])
    resumed = run_train(resumed_cfg)
    rates = [json.loads(line)["lr"] for line in (Path(resumed_cfg.paths.output_dir) / "epochs.jsonl").read_text().splitlines()]
    assert rates == pytest.approx([1e-3, 1e-3, 1e-4])
    for key in ("val/loss", "val/rmse", "test/rmse", "objective"):
        assert resumed[key] == straight[key], key  # bit for bit


@pytest.mark.parametrize("records", [True, False])
def test_a_checkpoint_of_an_earlier_version_makes_its_plateau_step_from_the_epoch_records(compose_cfg, run_train,
                                                                                          records, caplog):
    """trainlab before the plateau step was stored wrote the same epoch-end checkpoint without it: resumed after
    epoch 2 with this version, the step was silently left out (epoch 3 at 1e-3, the scheduler one step behind).
    Such a run's epochs.jsonl holds the value; without it, one warning says the step is not made."""
    from trainlab.callbacks.checkpoints import ModelCheckpoint

    common = [*TINY, "logger=none", "callbacks.early_stopping=null", "scheduler=plateau", "scheduler.patience=0",
              "+scheduler.threshold=0.5"]  # epoch 1 is not 50 % better than epoch 0: the rate is cut after it
    first = compose_cfg([*common, "trainer.max_epochs=2"])
    run_train(first)
    run_dir = Path(first.paths.output_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    del ckpt[ModelCheckpoint.PLATEAU_STEPS]  # as the earlier version wrote it
    torch.save(ckpt, last)
    if not records:
        (run_dir / "epochs.jsonl").unlink()
    resumed_cfg = compose_cfg([*common, "trainer.max_epochs=3", f"ckpt_path={run_dir}"])
    with caplog.at_level(logging.WARNING, logger="trainlab.callbacks.checkpoints"):
        run_train(resumed_cfg)
    rates = [json.loads(line)["lr"] for line in (Path(resumed_cfg.paths.output_dir) / "epochs.jsonl").read_text().splitlines()]
    warned = [r.message for r in caplog.records if "written by an earlier trainlab" in r.message]
    if records:
        assert rates[-1] == pytest.approx(1e-4) and not warned
    else:
        assert rates[-1] == pytest.approx(1e-3)
        assert len(warned) == 1 and "has no val/loss of that epoch: the step is not made" in warned[0]


def test_a_resume_with_another_effective_batch_says_so_in_one_line(compose_cfg, run_train, caplog):
    """A trainer=ddp_sim run (2 processes) resumed in one process went on at half its effective batch, its
    batches in another order, without a word. Its checkpoint is made here by hand (the records' state of a
    2-process run); accumulating gradients over 2 batches takes the same 64 samples per step: no warning, but
    an information line naming the changed settings (it said nothing at all before, the settings unsaid)."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null"]
    first = compose_cfg([*common, "trainer.max_epochs=1"])
    run_train(first)
    last = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    (key,) = [k for k in ckpt["callbacks"] if k.startswith("RunRecords")]
    assert ckpt["callbacks"][key]["batch"]["effective_batch_size"] == 32
    ckpt["callbacks"][key]["batch"].update(processes=2, effective_batch_size=64)
    torch.save(ckpt, last)
    said, told = {}, {}
    for extra in ([], ["trainer.accumulate_grad_batches=2"]):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trainlab.callbacks.effective_batch"):
            run_train(compose_cfg([*common, *extra, "trainer.max_epochs=2", f"ckpt_path={first.paths.output_dir}"]))
        said[tuple(extra)] = [r.message for r in caplog.records
                              if "samples per optimizer step" in r.message and r.levelno >= logging.WARNING]
        told[tuple(extra)] = [r.message for r in caplog.records
                              if "samples per optimizer step" in r.message and r.levelno == logging.INFO]
    assert said[()] == ["the checkpoint's run took 64 samples per optimizer step, this resume takes 32 (processes "
                        "(trainer.devices x trainer.num_nodes) 2 -> 1): it goes on with another effective batch (and, "
                        "with other processes, another order of batches), so it will not end as that run would have; "
                        "resume with that run's settings for that"]
    assert said[("trainer.accumulate_grad_batches=2",)] == [] and told[()] == []
    # the same effective batch from other settings: each changed setting is still told, with what it changes
    assert told[("trainer.accumulate_grad_batches=2",)] == [
        "this resume goes on with processes (trainer.devices x trainer.num_nodes) 2 -> 1; "
        "trainer.accumulate_grad_batches 1 -> 2: the checkpoint's run took 64 samples per optimizer step and so does "
        "this resume (what the optimizer sees per step is the same; the order of samples and the BatchNorm "
        "statistics of each step differ)"]


def test_a_resume_under_another_seed_or_settings_says_so_in_one_line(compose_cfg, run_train, caplog):
    """A resume composes its config anew: a run trained with seed=1, resumed without it, went on under the
    default seed (its training order and dropout drawn from another seed) without a word, where README
    promises a resume that ends as the run never stopped. The data here do not depend on the seed (their
    own seeds fixed), so nothing else refuses it; the same seed again says nothing."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null", "data.source.seed=7", "data.seed=7"]
    first = compose_cfg([*common, "seed=1", "trainer.max_epochs=1"])
    run_train(first)
    said, other = {}, {}
    for seed, extra in (("3407", []), ("1", []), ("1", ["data.window=12", "model.net.dropout=0.3"])):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="trainlab.run"):
            run_train(compose_cfg([*common, f"seed={seed}", *extra, "trainer.max_epochs=2",
                                   f"ckpt_path={first.paths.output_dir}"]))
        said[seed, bool(extra)] = [r.message for r in caplog.records if "seed=" in r.message]
        other[seed, bool(extra)] = [r.message for r in caplog.records if "settings differ" in r.message]
    assert said["3407", False] == [f"ckpt_path={first.paths.output_dir}/checkpoints/last.ckpt: that run was trained with seed=1, this resume runs with "
                                   "seed=3407: its training order and dropout from here on are drawn from another seed, so it "
                                   "will not end as that run would have; resume with seed=1 for that"]
    assert said["1", False] == [] and said["1", True] == []
    # the same for the model's and data's settings, which went on without a word (data.window=12 where the run
    # had 16): other settings that still fit the checkpoint's tensors
    assert other["3407", False] == other["1", False] == []
    assert other["1", True] == [f"ckpt_path={first.paths.output_dir}/checkpoints/last.ckpt: this resume's settings differ "
                                "from that run's: model.net.dropout: 0.1 -> 0.3; data.window: 16 -> 12; it goes on with "
                                "them, so it will not end as that run would have; resume with that run's settings for "
                                "that"]


def test_a_resume_names_every_setting_that_differs_from_its_run(compose_cfg, run_train, caplog):
    """Only the model's and data's settings were named: a resume with another gradient clipping, precision of
    matmuls or checkpoint monitor went on without a word. Now every differing setting is in the warning, and those
    a resume is meant to change (more epochs, a raised patience, the logger) in an information line."""
    common = [*TINY, "callbacks.early_stopping.patience=5"]
    first = compose_cfg([*common, "logger=none", "trainer.max_epochs=1"])
    run_train(first)
    changed = ["model.net.dropout=0.3", "model.loss=mae", "trainer.gradient_clip_val=0.5",
               "hardware.float32_matmul_precision=medium", "callbacks.early_stopping.patience=9", "logger=csv"]
    with caplog.at_level(logging.INFO, logger="trainlab.run"):
        run_train(compose_cfg([*common, *changed, "trainer.max_epochs=2", f"ckpt_path={first.paths.output_dir}"]))
    ckpt = f"ckpt_path={first.paths.output_dir}/checkpoints/last.ckpt"
    warned = [r.message for r in caplog.records if r.levelno == logging.WARNING and "settings differ" in r.message]
    assert warned == [f"{ckpt}: this resume's settings differ from that run's: model.loss: mse -> mae; "
                      "model.net.dropout: 0.1 -> 0.3; trainer.gradient_clip_val: None -> 0.5; "
                      "hardware.float32_matmul_precision: highest -> medium; it goes on with them, so it will not end as "
                      "that run would have; resume with that run's settings for that"]
    told = [r.message for r in caplog.records if r.levelno == logging.INFO and "this resume goes on with" in r.message]
    assert told == [f"{ckpt}: this resume goes on with trainer.max_epochs: 1 -> 2; callbacks.early_stopping.patience: "
                    "5 -> 9; logger.csv: None -> {...} (settings a resume may change: its length, its test, early "
                    "stopping's patience, its display, its logger, its loader workers, its devices)"]


def test_a_resume_from_inside_an_epoch_says_in_one_line_that_it_is_not_exact(compose_cfg, run_train, caplog, recwarn):
    """trainlab before last.ckpt was written at epochs' ends wrote it at each validation: with
    trainer.val_check_interval=0.5 a killed run's last.ckpt lay inside an epoch, and a resume with this version
    started that epoch's batches over (test loss 0.10338 against 0.10356 never stopped) with only Lightning's
    multi-line Python warning. Made here by hand: an epoch-end last.ckpt given the loop state of a validation
    after 3 batches of epoch 1."""
    common = [*TINY, "logger=none", "callbacks.early_stopping=null"]
    first = compose_cfg([*common, "trainer.max_epochs=1"])
    run_train(first)
    last = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    fit_loop = ckpt["loops"]["fit_loop"]
    fit_loop["epoch_progress"]["current"] = fit_loop["epoch_progress"]["total"] = \
        {"ready": 2, "started": 2, "processed": 1, "completed": 1}
    fit_loop["epoch_loop.batch_progress"]["current"] = {"ready": 3, "started": 3, "processed": 3, "completed": 3}
    torch.save(ckpt, last)
    with caplog.at_level(logging.WARNING, logger="trainlab.run.resume_checks"):
        run_train(compose_cfg([*common, "trainer.max_epochs=2", f"ckpt_path={first.paths.output_dir}"]))
    said = [r.message for r in caplog.records if "was written inside epoch" in r.message]
    assert len(said) == 1 and said[0].startswith(f"ckpt_path={last} was written inside epoch 1 (3 of its training "
                                                 "batches done); last.ckpt is written at epochs' ends, this one by an "
                                                 "earlier trainlab")
    assert not [w for w in recwarn if "ended before the epoch ended" in str(w.message)]


def test_a_run_early_stopping_ended_is_not_resumed_past_its_end_and_more_patience_trains_on(compose_cfg, run_train):
    """The run that early stopping ended after epoch 2 (its checkpoint holds the stop) was resumed and trained on,
    unlike the run that was never stopped; and raising the patience to train on did nothing (Lightning restored
    the checkpoint's patience of 1: the resumed run stopped after one more epoch, its summary 'early stopping')."""
    common = [*TINY, "logger=none", "callbacks.early_stopping.min_delta=10"]  # no epoch after the first improves
    first = compose_cfg([*common, "callbacks.early_stopping.patience=1", "trainer.max_epochs=5"])
    run_train(first)
    run_dir = Path(first.paths.output_dir)
    assert json.loads((run_dir / "training_summary.json").read_text())["epochs_run"] == 2
    with pytest.raises(UserError, match=r"early stopping ended that run after epoch 2 \(its metric had not improved for 1 "
                                        r"validation\(s\); callbacks.early_stopping.patience=1\), and would end this one "
                                        r"before it trains; to train on, raise callbacks.early_stopping.patience"):
        run_train(compose_cfg([*common, "callbacks.early_stopping.patience=1", "trainer.max_epochs=8",
                               f"ckpt_path={run_dir}"]))
    resumed = compose_cfg([*common, "callbacks.early_stopping.patience=3", "trainer.max_epochs=8", f"ckpt_path={run_dir}"])
    run_train(resumed)
    summary = json.loads((Path(resumed.paths.output_dir) / "training_summary.json").read_text())
    assert (summary["epochs_run"], summary["stopped_by"]) == (4, "early stopping")  # waited 3 validations, not 1


# -- signals: SIGTERM (preemption, scancel, time limits) and a requeued job ------------------------------
class _SigtermAt(pl.Callback):
    """Sends this process SIGTERM at the end of one epoch, as a scheduler would mid-run."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_mid_training_saves_records_and_exits_143(compose_cfg, run_train, capsys):
    from trainlab.run.preemption import stop_on_signals

    cfg = compose_cfg([*TINY, "trainer.max_epochs=5"])
    run_dir = Path(cfg.paths.output_dir)
    with pytest.raises(SystemExit) as exited, stop_on_signals(str(run_dir)) as callbacks:
        run_train(cfg, extra_callbacks=[_SigtermAt(1), *callbacks])
    assert exited.value.code == 143  # not 0: a scheduler must not record the job as COMPLETED
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: stopped by SIGTERM during epoch ") and line.endswith(f"ckpt_path={run_dir}")
    assert "Resume with: python " in line
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"] == "signal SIGTERM"
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()
    assert [json.loads(line)["epoch"] for line in (run_dir / "epochs.jsonl").read_text().splitlines()] == [0, 1]
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)  # handlers given back


class _SweepStopped(BaseException):
    pass


def test_sigterm_reaches_a_sweeps_handler_once_training_has_unwound(compose_cfg, run_train):
    """A sweep's SIGTERM handler raises to stop the sweep. The run's handler used to call it from inside
    the signal handler, so its exception landed wherever the signal did (mid-step, inside a lock: a
    sweep then hung); and when Lightning's own SIGTERM stop came first, the sweep never heard of the
    signal and went on to its next trial. Now it is called once, after the run's records are written."""
    from trainlab.run.preemption import stop_on_signals

    cfg = compose_cfg([*TINY, "trainer.max_epochs=5", "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    seen = []

    def sweeps_handler(signum, frame):
        seen.append((run_dir / "training_summary.json").is_file())
        raise _SweepStopped

    before = signal.signal(signal.SIGTERM, sweeps_handler)
    try:
        with pytest.raises(_SweepStopped), stop_on_signals(str(run_dir)) as callbacks:
            run_train(cfg, extra_callbacks=[_SigtermAt(1), *callbacks])
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen == [True]  # once, with the run's records already written
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"] == "signal SIGTERM"


class _CtrlCAt(pl.Callback):
    """Ctrl-C at the end of one epoch's first batch (the KeyboardInterrupt Python raises on SIGINT)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 0:
            raise KeyboardInterrupt


def _stopped_run(run_train, cfg, *stoppers: pl.Callback) -> int:
    """train.py's run of ``cfg`` with the stopping callbacks, as the script handles a stop: its exit status."""
    from trainlab.run.preemption import stop_on_signals

    ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exited, stop_on_signals(cfg.paths.output_dir) as callbacks:
            run_train(cfg, extra_callbacks=[*stoppers, *callbacks])
    finally:
        signal.signal(signal.SIGINT, ctrl_c)  # Lightning ignores SIGINT after a Ctrl-C; not in this test process
    return exited.value.code


def test_ctrl_c_mid_training_says_where_the_run_is_and_it_resumes(compose_cfg, run_train, capsys):
    """Lightning wrote the checkpoint and records, then exited 1 without a word on where they are."""
    cfg = compose_cfg([*TINY, "trainer.max_epochs=3", "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    assert _stopped_run(run_train, cfg, _CtrlCAt(1)) == 130
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"error: stopped by Ctrl-C during epoch 1; checkpoints and records are in {run_dir}. "
                           "Resume with: python ") and line.endswith(f"ckpt_path={run_dir}")
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"] == "exception (KeyboardInterrupt)"
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()
    resumed = run_train(compose_cfg([*TINY, "trainer.max_epochs=3", "logger=none", f"ckpt_path={run_dir}"]))
    assert "test/rmse" in resumed


class _StopWhileTesting(pl.Callback):
    """Ctrl-C (a KeyboardInterrupt) or a signal to this process in the first test batch."""

    def __init__(self, how: str):
        self.how = how

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self.how == "Ctrl-C":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.Signals[self.how])


@pytest.mark.parametrize(("how", "code"), [("Ctrl-C", 130), ("SIGTERM", 143)])
def test_a_stop_while_testing_says_to_test_the_run_not_to_resume_it(compose_cfg, run_train, capsys, how, code):
    """Training had ended. Ctrl-C: the line said 'stopped by Ctrl-C during epoch 2 ... Resume with: ... ckpt_path=<run>',
    a command that is refused (nothing left to train); on_exception.ckpt was written with the tested weights and
    the summary rewritten as stopped by KeyboardInterrupt. SIGTERM (a scheduler's preemption, `kill`): the test ran
    to its end and the run exited 0, as if nothing had asked it to stop."""
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    assert _stopped_run(run_train, cfg, _StopWhileTesting(how)) == code
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == (f"error: stopped by {how} while testing; its training had ended, and its checkpoints and records "
                    f"are in {run_dir}. Test its best checkpoint with: python evaluate.py ckpt_path={run_dir}")
    assert not (run_dir / "checkpoints" / "on_exception.ckpt").exists()
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert summary["stopped_by"] == "max_epochs or max_steps" and "test" not in summary


def _stopped_job(run_train, cfg, stopper: pl.Callback, resume: str):
    """A job of a multirun stopped by ``stopper``: its RunStopped, with the command a multirun sets, and the
    launcher's line for it when not requeued (``finish_in_job``'s RunStopped)."""
    from hydra.core.utils import JobReturn, JobStatus

    from trainlab.run.preemption import RunStopped, stop_on_signals
    from trainlab.run.slurm import finish_in_job

    with pytest.raises(RunStopped) as stopped, stop_on_signals(cfg.paths.output_dir, exits=False) as callbacks:
        run_train(cfg, extra_callbacks=[stopper, *callbacks])
    stopped.value.resume = resume  # set in a multirun, from Hydra's config
    ret = JobReturn()
    ret.status, ret._return_value = JobStatus.FAILED, stopped.value
    with pytest.raises(RunStopped) as told:
        finish_in_job(ret, requeue="timeout", handler=object())  # SIGTERM: requeued only with requeue=always
    return stopped.value, str(told.value)


def test_a_signal_while_testing_in_a_job_names_the_test_to_run(compose_cfg, run_train):
    """In a job of a multirun (a sweep's trial, a SLURM job): RunStopped says the test was cut short and its
    command is evaluate.py's; a job the SLURM launcher does not requeue says so (a requeued one tests its run:
    test_a_requeued_job_whose_training_had_ended_tests_its_run)."""
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    evaluate = f"python evaluate.py ckpt_path={run_dir}"
    stopped, line = _stopped_job(run_train, cfg, _StopWhileTesting("SIGTERM"), evaluate)
    assert stopped.testing and str(stopped) == (
        f"stopped by SIGTERM while testing (its training had ended); checkpoints and records are in {run_dir}")
    assert re.search(r"while testing .*; not requeued \(hydra.launcher.requeue=timeout\); test it with: python "
                     r"evaluate.py ", line), line


class _StopInSanityCheck(pl.Callback):
    def __init__(self, how: str):
        self.how = how

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if trainer.sanity_checking:
            if self.how == "Ctrl-C":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.Signals[self.how])


def test_a_job_stopped_before_its_first_checkpoint_says_to_start_it_again(compose_cfg, run_train):
    """A job of a multirun stopped in Lightning's sanity check said 'stopped by SIGTERM; checkpoints and records
    are in <run>; not requeued ...; resume with: ... ckpt_path=<run>', a folder without a checkpoint."""
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    stopped, line = _stopped_job(run_train, cfg, _StopInSanityCheck("SIGTERM"), "python train.py -m data.window=16")
    assert stopped.restart
    assert str(stopped) == f"stopped by SIGTERM before its first checkpoint; what it wrote is in {run_dir}"
    assert re.search(r"before its first checkpoint; what it wrote is in .*; not requeued "
                     r"\(hydra.launcher.requeue=timeout\); start it again with: python train.py ", line), line


def test_ctrl_c_on_a_full_disk_is_still_ctrl_c(compose_cfg, run_train, monkeypatch, capsys, caplog):
    """Ctrl-C on a disk that filled since the last epoch: on_exception.ckpt cannot be written, and that error
    took Ctrl-C's place (exit 2, a line naming on_exception.ckpt); Ctrl-C stays what stopped the run (exit
    130, its own line), and one warning says the disk kept the checkpoint out."""
    from trainlab.run.preemption import stop_on_signals

    cfg = compose_cfg([*TINY, "trainer.max_epochs=3", "logger=none"])
    run_dir = Path(cfg.paths.output_dir)

    class FullThenCtrlC(_CtrlCAt):
        def on_train_batch_end(self, trainer, *args):
            if trainer.current_epoch == self.epoch:
                def full(*args, **kwargs):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

                monkeypatch.setattr(torch, "save", full)
            super().on_train_batch_end(trainer, *args)

    ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exited, stop_on_signals(str(run_dir)) as callbacks:
            run_train(cfg, extra_callbacks=[_FullFrom(monkeypatch, 1, str(run_dir)), FullThenCtrlC(1), *callbacks])
    finally:
        signal.signal(signal.SIGINT, ctrl_c)
        monkeypatch.undo()
    assert exited.value.code == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith(f"error: stopped by Ctrl-C during epoch 1; checkpoints and records "
                                                   f"are in {run_dir}. Resume with: python ")
    (warning,) = [r.getMessage() for r in caplog.records if "on_exception.ckpt" in r.getMessage()]
    assert re.fullmatch(r"Ctrl-C: the disk is full: writing checkpoint '.*on_exception.ckpt' stopped after 0 kB \(No "
                        r"space left on device\); the earlier checkpoints in '.*' are intact; on_exception.ckpt not "
                        r"written, the run resumes from its last finished epoch", warning)
    checkpoints = run_dir / "checkpoints"
    assert not (checkpoints / "on_exception.ckpt").exists()
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 0


@pytest.mark.parametrize("epoch", [0, None])  # in fit; in the test after it (None: the test's first batch)
def test_ctrl_c_in_a_run_from_python_raises_and_later_ctrl_c_still_works(compose_cfg, run_train, epoch):
    """train() called from a notebook or a script's loop: Lightning's answer to a Ctrl-C was SystemExit(1)
    with SIGINT left ignored, so no later Ctrl-C could stop anything in that process."""

    class CtrlCInTest(pl.Callback):
        def on_test_batch_end(self, *args):
            raise KeyboardInterrupt

    ctrl_c = signal.getsignal(signal.SIGINT)
    cfg = compose_cfg([*TINY, "trainer.max_epochs=1", "logger=none"])
    try:
        with pytest.raises(KeyboardInterrupt):
            run_train(cfg, extra_callbacks=[_CtrlCAt(epoch) if epoch is not None else CtrlCInTest()])
        assert signal.getsignal(signal.SIGINT) is ctrl_c
    finally:
        signal.signal(signal.SIGINT, ctrl_c)
    assert (Path(cfg.paths.output_dir) / "checkpoints" / ("on_exception.ckpt" if epoch is not None else "last.ckpt")).is_file()


def test_ctrl_c_before_training_is_one_line_and_leaves_no_empty_folder(compose_cfg, run_train, capsys, monkeypatch):
    from trainlab.run import pipeline
    from trainlab.run.preemption import stop_on_signals

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # while the data are read, before Lightning's handler is there

    monkeypatch.setattr(pipeline, "build_model_and_data", interrupted)
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    with pytest.raises(SystemExit) as exited, stop_on_signals(str(run_dir)):
        run_train(cfg)
    assert exited.value.code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: stopped by Ctrl-C; nothing was run, so its run folder was removed")
    assert not run_dir.exists()


def test_sigterm_before_training_stops_at_once_and_says_there_is_nothing_to_resume(compose_cfg, run_train, capsys,
                                                                                   monkeypatch):
    """It was noted and acted on only at the first batch, after the data and model were built."""
    from trainlab.run import pipeline
    from trainlab.run.preemption import stop_on_signals

    def preempted(*args, **kwargs):  # while the data are read
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("the run went on after SIGTERM")

    monkeypatch.setattr(pipeline, "build_model_and_data", preempted)
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    with pytest.raises(SystemExit) as exited, stop_on_signals(str(run_dir)) as callbacks:
        run_train(cfg, extra_callbacks=callbacks)
    assert exited.value.code == 143
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: stopped by SIGTERM before training started, so there is nothing to resume; "
                           "nothing was run, so its run folder was removed. Start it again with: python "), line
    assert "ckpt_path=" not in line and not run_dir.exists()
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)  # handlers given back


def test_a_ctrl_c_in_the_sanity_check_offers_no_resume_from_a_checkpoint_never_written(compose_cfg, run_train, capsys):
    """It said 'stopped by Ctrl-C during epoch 0; checkpoints and records are in <run>. Resume with: ...
    ckpt_path=<run>', a folder without a checkpoint (none is written before the first step). A signal there
    was already told as before training (test_sigterm_before_training_stops_at_once_...)."""
    cfg = compose_cfg([*TINY, "logger=none"])
    run_dir = Path(cfg.paths.output_dir)
    assert _stopped_run(run_train, cfg, _StopInSanityCheck("Ctrl-C")) == 130
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: stopped by Ctrl-C before training started, so there is nothing to resume; "), line
    assert "Start it again with: python " in line and "ckpt_path=" not in line, line
    assert not any(run_dir.glob("checkpoints/*.ckpt"))


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_a_signal_while_the_script_imports_is_one_line(sig, name, capsys, monkeypatch):
    """Before the run's own handling is there (train.py's imports, Hydra composing): no traceback."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.quiet_stop import stop_quietly_until_training

    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: False))  # no run folder yet
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.SIG_DFL)  # as in a fresh process

    def exit_now(code: int) -> None:  # os._exit would end pytest too
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    try:
        stop_quietly_until_training()
        with pytest.raises(SystemExit) as exited:
            os.kill(os.getpid(), sig)
            pytest.fail("went on after the signal")
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    assert exited.value.code == 128 + sig
    assert capsys.readouterr().err == f"error: stopped by {name}; nothing was written\n"


def test_a_signal_while_hydra_sets_its_config_is_one_line(capsys, monkeypatch):
    """Hydra sets its config before the job's folder (``hydra.runtime.output_dir`` still ``???``): the
    handler read it, and the MissingMandatoryValue it raised in the middle of Hydra went out as Hydra's
    traceback, exit 1 (a fresh clone's slower imports put a Ctrl-C 0.5 s in there)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.quiet_stop import _stop_quietly
    from trainlab.run.folder import discard_unstarted_run

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    assert OmegaConf.is_missing(cfg.hydra.runtime, "output_dir")
    HydraConfig.instance().set_config(cfg)

    def exit_now(code: int) -> None:  # os._exit would end pytest too
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    try:
        assert discard_unstarted_run() is None
        with pytest.raises(SystemExit) as exited:
            _stop_quietly(signal.SIGINT, None)
    finally:
        GlobalHydra.instance().clear()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "error: stopped by Ctrl-C; nothing was written\n"


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_the_quiet_stop_imports_nothing(sig, name):
    """The signal can land in the middle of any import (CI: ``inspect`` half made by the time the handler ran):
    an import started from the handler met the half-made module, raised out of it, and the script died with a
    traceback, exit 1. The handler runs on the modules already loaded, in a fresh interpreter that has
    loaded only its own module."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from trainlab.config import quiet_stop
        loaded, exit_now = set(sys.modules), os._exit
        def reported_exit(code):
            print(sorted(set(sys.modules) - loaded), flush=True)
            exit_now(code)
        os._exit = reported_exit
        quiet_stop._stop_quietly({int(sig)}, None)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 128 + sig, done.stderr
    assert done.stdout == "[]\n", f"the handler imported {done.stdout}"
    assert done.stderr == f"error: stopped by {name}; nothing was written\n"


def test_a_half_made_module_leaves_the_stop_line_whole(capsys, monkeypatch):
    """A module that is in ``sys.modules`` but half made (what the signal interrupted) gives the plain line
    with the reason the folder was not looked at, not an exception out of the handler."""
    from trainlab.config.quiet_stop import _stop_quietly

    monkeypatch.setitem(sys.modules, "hydra.core.hydra_config", types.ModuleType("hydra.core.hydra_config"))

    def exit_now(code: int) -> None:  # os._exit would end pytest too
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    with pytest.raises(SystemExit) as exited:
        _stop_quietly(signal.SIGTERM, None)
    assert exited.value.code == 143
    assert capsys.readouterr().err == ("error: stopped by SIGTERM; nothing was written "
                                       "(the run folder was not looked at: AttributeError)\n")


def _catches(pid: int, sig: signal.Signals) -> bool:
    """Whether process ``pid`` has a handler of its own for ``sig`` (Linux: SigCgt in /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE).group(1), 16)
    return bool(caught >> (sig - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc/<pid>/status (Linux)")
def test_ctrl_c_while_train_py_imports_is_one_line_and_exit_130(tmp_path):
    """The real script, interrupted while it imports (Python printed a traceback and died by the signal).
    The signal goes once the script's first line has set its handlers (SIGTERM's is set last): a fixed
    half second came, on a loaded machine, before Python itself had started the script."""
    started = subprocess.Popen([sys.executable, str(ROOT / "train.py"), f"paths.log_dir={tmp_path}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not _catches(started.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.01)
    started.send_signal(signal.SIGINT)
    out, err = started.communicate(timeout=60)
    assert started.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: stopped by Ctrl-C"), err


@pytest.mark.parametrize("ended_by", ["early_stopping", "max_epochs"])
def test_a_requeued_job_whose_training_had_ended_tests_its_run(compose_cfg, run_train, monkeypatch, ended_by):
    """A job stopped after its training ended (its test, its records: the time limit's signal) is requeued and its
    next attempt continues from its own last.ckpt; the resume refusals meant for a ckpt_path= command ended it
    with 'early stopping ended that run ... raise callbacks.early_stopping.patience' (or 'give more: epochs=...'),
    a job that only had its test to run. It tests the run now, with no epoch more."""
    common = [*TINY, "logger=none", "callbacks.early_stopping.min_delta=10", "trainer.max_epochs=5"]
    common += ["callbacks.early_stopping.patience=1"] if ended_by == "early_stopping" else ["trainer.max_epochs=2"]
    first = compose_cfg(common)
    run_dir = Path(first.paths.output_dir)
    run_train(first)
    (run_dir / "metrics.json").unlink(missing_ok=True)
    epochs = (run_dir / "epochs.jsonl").read_text()
    again = compose_cfg(common)
    with open_dict(again):
        again.paths.output_dir = str(run_dir)  # the job's folder, as the requeued attempt gets it again
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    metrics = run_train(again)
    assert "test/rmse" in metrics
    assert (run_dir / "epochs.jsonl").read_text() == epochs  # no epoch trained past the run's end


def test_a_requeued_job_continues_in_its_own_folder(compose_cfg, run_train, monkeypatch):
    """SLURM starts a requeued job again (SLURM_RESTART_COUNT=1): same run folder, from its last.ckpt,
    records continued, no second last.ckpt; a first attempt that was stopped leaves on_exception.ckpt."""
    first = compose_cfg([*TINY, "trainer.max_epochs=2"])
    run_dir = Path(first.paths.output_dir)
    run_train(first)
    (run_dir / "checkpoints" / "on_exception.ckpt").write_bytes(b"left by the stopped attempt")
    again = compose_cfg([*TINY, "trainer.max_epochs=4"])
    with open_dict(again):
        again.paths.output_dir = str(run_dir)  # the job's folder, as the requeued attempt gets it again
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    run_train(again)
    assert [json.loads(line)["epoch"] for line in (run_dir / "epochs.jsonl").read_text().splitlines()] == [0, 1, 2, 3]
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert summary["resumed_at_epoch"] == 2 and summary["epochs_run"] == 4
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in names and not [n for n in names if n.startswith("last-v") or n == "on_exception.ckpt"]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 3
