"""trainer=ddp_sim: two CPU processes over gloo, one run folder, metrics gathered across ranks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# 807 rows, window 48: 121 validation and test windows, which 2 ranks cannot split evenly (Lightning's
# sampler repeated the first window to make 122)
DDP_RUN = ["trainer=ddp_sim", "data.source.num_rows=807", "trainer.max_epochs=2", "model.net.hidden_size=16",
           "trainer.enable_progress_bar=false", "hardware.num_threads=1", "logger=csv"]


# a callback that upsets one rank only, put on the ranks' path (every rank imports it: Hydra builds it there)
FAULT = """
import math, os, signal, time
import lightning.pytorch as pl

class Fault(pl.Callback):
    def __init__(self, kind, rank=1, batch=2):
        self.kind, self.rank, self.batch = kind, rank, batch
        if kind.startswith("build_") and os.environ.get("LOCAL_RANK") == str(rank):  # this rank builds its run
            self.upset(kind[len("build_"):])
            time.sleep(2)  # the signal arrives while this rank builds, rank 0 waiting for it

    def setup(self, trainer, pl_module, stage):
        if self.kind.startswith("setup_") and trainer.global_rank == self.rank:  # the data built, the callbacks next
            self.upset(self.kind[len("setup_"):])
            time.sleep(2)

    def on_test_start(self, trainer, pl_module):
        if self.kind.endswith("_to_all") and self.kind.startswith("test_") and trainer.global_rank != self.rank:
            time.sleep(1.5)  # the other rank is still setting up its test when the signal comes (Lightning's handler)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        sanity = self.kind.startswith("sanity_") and trainer.sanity_checking
        if sanity and trainer.global_rank == self.rank and batch_idx == 0:
            self.upset(self.kind[len("sanity_"):], batch)
            time.sleep(0.5)  # the signal arrives while this rank checks

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.kind.startswith("test_") and trainer.global_rank == self.rank and batch_idx == 0:
            self.upset(self.kind[len("test_"):], batch)
            time.sleep(0.5)  # the signal arrives while this rank tests

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_rank != self.rank or trainer.current_epoch != 0 or batch_idx != self.batch:
            return
        if not self.kind.startswith("test_"):
            self.upset(self.kind, batch)

    def upset(self, kind, batch=None):
        if kind == "nan_batch":
            batch[0].fill_(math.nan)  # this rank's inputs: its loss is NaN, the other's finite at that step
        elif kind == "raise":
            raise RuntimeError(f"fault on rank {self.rank}")
        elif kind == "refuse":
            from trainlab.config.errors import UserError
            raise UserError(f"fault on rank {self.rank}")
        elif kind.endswith("_to_all"):  # as Ctrl-C in a terminal, or scancel: every process of the run
            os.killpg(os.getpgid(0), getattr(signal, kind[:-len("_to_all")]))
        else:  # as kill <pid>
            os.kill(os.getpid(), getattr(signal, kind))
"""


def train_ddp(tmp_path: Path, *overrides: str, timeout: int = 240, multirun: bool = False) -> subprocess.CompletedProcess:
    """train.py under trainer=ddp_sim in a session of its own, with :data:`FAULT` importable. A run that hangs
    fails the test (its processes are killed); every process of the run must have ended with it."""
    import signal
    import time

    (tmp_path / "ddp_fault.py").write_text(FAULT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *(["-m"] if multirun else []), *DDP_RUN, f"paths.log_dir={tmp_path}/outputs",
                             *overrides], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=env, start_new_session=True,
                            # Ctrl-C as a terminal's shell gives it: a suite started in the background passes SIGINT
                            # ignored, where the scripts leave it so and a multi-process run's test then finished
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the DDP run hung: still running after {timeout} s")
    for _ in range(100):  # the other rank leaves within moments of rank 0
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a rank of the run was still running 10 s after train.py ended")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ddp_configs_compose(compose_cfg):
    sim = compose_cfg(["trainer=ddp_sim"]).trainer
    assert (sim.strategy, sim.devices, sim.accelerator) == ("ddp", 2, "cpu")
    gpu = compose_cfg(["trainer=ddp", "hardware=h100"]).trainer
    assert gpu.strategy == "ddp" and gpu.accelerator == "gpu" and gpu.precision == "bf16-mixed"


@pytest.mark.slow
def test_only_a_collectives_error_is_taken_for_another_rank_gone():
    """A BrokenPipeError of this process's own (its console piped into a 'head' that ended) was told as 'another
    process of this 2-process run ended, so this one stopped too', hiding the real error; gloo's is a RuntimeError."""
    from types import SimpleNamespace

    from trainlab.run.ranks import RankGone, peer_gone

    trainer = SimpleNamespace(world_size=2, global_rank=0, strategy=SimpleNamespace(process_group_backend="gloo"))
    gloo = RuntimeError("[pair.cc:534] Read error [127.0.0.1]:4242: Connection reset by peer")
    assert isinstance(peer_gone(trainer, gloo), RankGone)
    assert peer_gone(trainer, BrokenPipeError(32, "Broken pipe")) is None
    assert peer_gone(trainer, ConnectionResetError(104, "Connection reset by peer")) is None


@pytest.mark.parametrize("rank", [0, 1])
def test_a_lightning_whose_sigterm_notifier_moved_keeps_it_and_says_so_once_on_rank_zero(monkeypatch, caplog, rank):
    """trainlab mutes Lightning's SIGTERM notifier (a private method) in a multi-process run; where a Lightning
    release keeps it elsewhere, the attribute was set on the connector and read by nothing, without a word."""
    import logging
    from types import SimpleNamespace

    from lightning.fabric.plugins.environments import LightningEnvironment
    from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector

    from trainlab.callbacks import training

    class Moved:  # another release's connector
        def _notify_on_sigterm(self, signum, frame):
            pass

    monkeypatch.setattr(training, "_NOTIFIER_KEPT_SAID", [])

    def trainer(connector):
        return SimpleNamespace(world_size=2, global_rank=rank, is_global_zero=rank == 0, local_rank=rank,
                               strategy=SimpleNamespace(cluster_environment=LightningEnvironment()),
                               _signal_connector=connector)

    ours = _SignalConnector(None)
    with caplog.at_level(logging.WARNING, logger="trainlab.callbacks.training"):
        training.StopOnSignal().setup(trainer(ours), None, "test")
        assert ours._sigterm_notifier_fn is training._lightning_notifier_muted and not caplog.records
        for _ in range(2):
            training.StopOnSignal().setup(trainer(Moved()), None, "test")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == (rank == 0) and all(line.startswith("Lightning ") and "_sigterm_notifier_fn" in line
                                            for line in said), said


@pytest.mark.slow  # a 2-process training run in a subprocess (~60 s on 2 busy cores)
def test_ddp_sim_writes_one_run_folder_and_gathers_metrics(compose_cfg, tmp_path):
    import evaluate as evaluate_script

    result = subprocess.run([sys.executable, str(ROOT / "train.py"), *DDP_RUN, f"paths.log_dir={tmp_path}/outputs"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sync_dist=True" not in result.stderr  # Lightning's advice for the baselines rank 0 logs alone: 16 lines
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1, runs  # one folder for the run, not one per rank
    run_dir = runs[0]
    assert not list(run_dir.glob(".pl_hydra*")) and (run_dir / ".hydra" / "config.yaml").is_file()
    records = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]  # written once, by rank 0
    ddp_test = json.loads((run_dir / "training_summary.json").read_text())["test"]
    # the same checkpoint tested in one process: the metrics gathered from 2 ranks must agree
    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={run_dir}"], config_name="eval"))
    for key in ("test/rmse", "test/r2", "test/mape", "test/loss"):  # the uneven split: 1.5e-3 apart before
        assert report["metrics"][key] == pytest.approx(ddp_test[key], rel=1e-5), key  # float32 sums, another order
    # the validation loss that chose the best checkpoint is its loss on every validation window, each once
    best = min(records, key=lambda r: r["val/loss"])
    val = evaluate_script.evaluate(compose_cfg([f"ckpt_path={run_dir}", "split=val"], config_name="eval"))
    assert val["checkpoint_epoch"] == best["epoch"]
    assert val["metrics"]["val/loss"] == pytest.approx(best["val/loss"], rel=1e-5)


def test_a_spawned_rank_sets_up_the_runs_logging_and_hardware_again(tmp_path, monkeypatch):
    """``trainer.strategy=ddp_spawn`` starts every rank as a fresh interpreter that runs no Hydra: its
    lines reached neither train.log nor the console. The setup travels in the pickled trainer; here the
    unpickling is done as in such a rank (another process id, a root logger without handlers)."""
    import logging
    import pickle

    import torch
    from omegaconf import OmegaConf

    from trainlab.run.spawned import SpawnedRankSetup

    root, threads = logging.getLogger(), torch.get_num_threads()
    saved = root.handlers[:], root.level
    log_file = logging.FileHandler(tmp_path / "train.log")
    log_file.setFormatter(logging.Formatter("[%(name)s][%(levelname)s] - %(message)s"))
    hardware = OmegaConf.create({"float32_matmul_precision": "highest", "allow_tf32": False, "cudnn_benchmark": False,
                                 "num_threads": 1, "host_memory_keep_mb": 256})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        root.handlers, root.level = [log_file], logging.INFO  # the main process, as Hydra sets it up
        sent = pickle.dumps(SpawnedRankSetup(hardware))
        pickle.loads(sent)  # a copy in the main process: nothing set up twice
        assert root.handlers == [log_file] and "OMP_NUM_THREADS" not in os.environ
        root.handlers, root.level = [], logging.WARNING  # the spawned rank
        with monkeypatch.context() as m:
            m.setattr(os, "getpid", lambda: -1)
            pickle.loads(sent)
        logging.getLogger("trainlab.rank").info("epoch 0 of rank 1")
        assert len(root.handlers) == 1 and root.handlers[0] is not log_file
        assert "[trainlab.rank][INFO] - epoch 0 of rank 1" in (tmp_path / "train.log").read_text()
        # the profile's threads survive the launcher's own guess (it keeps OMP_NUM_THREADS when set)
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        for handler in root.handlers:
            handler.close()
        log_file.close()
        root.handlers, root.level = saved
        torch.set_num_threads(threads)


def test_only_spawned_ranks_get_the_setup(compose_cfg):
    from trainlab.run.pipeline import build_trainer
    from trainlab.run.spawned import spawns_ranks

    spawn = build_trainer(compose_cfg(["trainer.strategy=ddp_spawn", "trainer.devices=2"]))
    assert spawns_ranks(spawn)
    assert not spawns_ranks(build_trainer(compose_cfg(["trainer=ddp_sim"])))  # ranks run the script, with Hydra
    assert not spawns_ranks(build_trainer(compose_cfg([])))


@pytest.mark.slow
def test_ddp_spawn_ranks_write_to_train_log(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), *DDP_RUN, "trainer.strategy=ddp_spawn",
                             "trainer.max_epochs=1", "logger=none", f"paths.log_dir={tmp_path}/outputs"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    text = (run_dir / "train.log").read_text()
    for line in ("Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2", "`Trainer.fit` stopped: `max_epochs=1`",
                 "[trainlab.callbacks.baselines][INFO] - test rmse"):
        assert line in text, line
    assert "test rmse" in result.stdout  # the console too


def test_slurm_launcher_config_composes(compose_cfg):
    launcher = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=gpu"]).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    # GPUs: null, i.e. from the hardware profile (none for hardware=cpu; tests/test_slurm.py)
    assert (launcher.timeout_min, launcher.gpus_per_node, launcher.tasks_per_node) == (240, None, 1)


@pytest.mark.parametrize("launcher", ["slurm", "joblib", "submitit_local"])
def test_a_launcher_chosen_for_a_single_run_is_refused_not_ignored(launcher, tmp_path, capsys):
    """Hydra uses a launcher only with -m: train.py hydra/launcher=slurm (no -m) trained in the shell's
    own process, on a login node, without a word."""
    from omegaconf import OmegaConf

    from trainlab.run.preflight import Preflight

    def start(chosen: str, folder: str = "run") -> None:
        config = {"paths": {"log_dir": str(tmp_path)}, "hydra": {"run": {"dir": str(tmp_path / folder)},
                                                                 "runtime": {"choices": {"hydra/launcher": chosen}}}}
        Preflight(min_free_mb=0).on_run_start(OmegaConf.create(config))

    start("basic", "basic_run")  # the single run's own launcher: starts (and makes its folder)
    assert (tmp_path / "basic_run").is_dir()
    with pytest.raises(SystemExit) as stop:
        start(launcher)
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        f"error: hydra/launcher={launcher} launches the jobs of a multirun, and without -m this run would train "
        f"here, in this process: add -m (python ")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra,message", [
    ([], "hydra/launcher=slurm needs a partition: add hydra.launcher.partition=<name>"),
    (["hydra.launcher.partition=gpu"], "submits with sbatch, which this machine does not have"),
])
def test_slurm_launcher_refused_before_anything_starts(tmp_path, extra, message):
    # a PATH without SLURM's commands, also where the machine has them (CI installs SLURM)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "sbatch").exists())
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "hydra/launcher=slurm", *extra,
                             f"paths.log_dir={tmp_path}/outputs"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, env={**os.environ, "PATH": path})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_nan_loss_on_one_rank_stops_every_rank_with_one_line(tmp_path):
    """The rank whose loss was NaN raised alone; the other went on into the next gradient all-reduce, and the
    first waited for it in the on-exception checkpoint's barrier: both waited forever, nothing printed."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", "+callbacks.fault.kind=nan_batch",
                       "trainer.log_every_n_steps=1")
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the training loss became nan at epoch 0, step 3 (batch 2 of the epoch in process 1 of "
                      "2); lower optimizer.lr, set trainer.gradient_clip_val=1.0, or look for extreme or missing "
                      "values in the data"], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"].startswith("exception")


@pytest.mark.slow
def test_an_exception_on_one_rank_ends_every_rank(tmp_path):
    """An error on one rank only: it waited in the on-exception checkpoint's barrier while the other waited in
    the gradient all-reduce, forever. Now it leaves without a collective; the others' next one fails."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", "+callbacks.fault.kind=raise")
    assert result.returncode != 0
    assert "RuntimeError: fault on rank 1" in result.stderr  # the rank's own error, for the user to read
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"] == "exception (RuntimeError)"


@pytest.mark.slow
def test_a_refusal_on_rank_0_is_one_line_on_each_rank_and_train_log_holds_rank_0s_lines(tmp_path):
    """Rank 0 refused alone: the other rank's next collective failed with gloo's traceback ('Connection closed
    by peer', HYDRA_FULL_ERROR advice); and every line of rank 1 (its run folder, hardware, data, seed, energy)
    was in train.log a second time, among rank 0's."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", "+callbacks.fault.kind=refuse",
                       "+callbacks.fault.rank=0")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors[0] == "error: fault on rank 0", errors
    assert len(errors) == 2 and re.fullmatch(
        r"error: \[rank 1\] another process of this 2-process run ended, so this one stopped too \(gloo: Connection "
        r"(closed|reset) by peer\); the error that process printed, above, says why \(none: it was killed, e.g. out of "
        r"memory\)", errors[1]), result.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    log = (run_dir / "train.log").read_text()
    assert log.count("run folder: ") == 1 and "[rank: 1]" not in log and log.count("hardware=cpu") == 1, log


@pytest.mark.slow
@pytest.mark.parametrize("kind,rank", [("SIGTERM", 0), ("SIGTERM", 1), ("SIGTERM_to_all", 0)])
def test_sigterm_to_one_rank_or_all_stops_every_rank_at_one_step(tmp_path, kind, rank):
    """Lightning's SIGTERM handler broadcast from inside the handler, wherever the signal landed: a SIGTERM
    to rank 0 while rank 1 was in the gradients' all-reduce left both waiting forever (not every time)."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", f"+callbacks.fault.kind={kind}",
                       f"+callbacks.fault.rank={rank}", "trainer.max_epochs=3")
    assert result.returncode == 143, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: stopped by SIGTERM during epoch 0;"), errors
    assert "Traceback" not in result.stderr
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert json.loads((run_dir / "training_summary.json").read_text())["stopped_by"] == "signal SIGTERM"
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_with_one_line(tmp_path):
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", "+callbacks.fault.kind=SIGINT_to_all",
                       "+callbacks.fault.rank=0", "trainer.max_epochs=3")
    assert result.returncode == 130, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: stopped by Ctrl-C during epoch 0;"), errors
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("kind,rank", [("SIGTERM", 1), ("SIGTERM_to_all", 0)])
def test_sigterm_while_a_ddp_run_tests_lets_the_test_end_and_says_so(tmp_path, kind, rank):
    """Lightning puts its SIGTERM handler in front again for the test, and it broadcasts from inside the handler:
    a SIGTERM to rank 1 while testing left both ranks waiting forever. The ranks cannot stop at one test batch
    together (one may have a batch fewer): they finish the test, agree at its end, and rank 0 says so."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", f"+callbacks.fault.kind=test_{kind}",
                       f"+callbacks.fault.rank={rank}", "trainer.max_epochs=1", timeout=150)
    assert result.returncode == 0, result.stderr[-3000:]
    told = [line for line in (result.stdout + result.stderr).splitlines() if "came while testing" in line]
    assert len(told) == 1 and told[0].endswith("SIGTERM came while testing: the 2 processes of this run finish "
                                               "the test together, so it ran to its end; the run is complete"), told
    assert "Traceback" not in result.stderr and "error:" not in result.stderr, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert "test/rmse" in summary["test"] and summary["stopped_by"] == "max_epochs or max_steps"


@pytest.mark.slow
@pytest.mark.parametrize("kind,rank", [("SIGTERM", 1), ("SIGTERM_to_all", 0), ("SIGINT_to_all", 0)])
def test_a_signal_during_a_ddp_runs_sanity_check_stops_every_rank_with_one_line(tmp_path, kind, rank):
    """Raised at once on the rank that got it, as before training in one process: a SIGTERM to rank 1 alone
    ended the run with exit 1 and two lines (rank 1 removed the run folder, rank 0 said another process had
    ended); to every rank, each said its own. Ctrl-C: each rank said 'stopped by Ctrl-C during epoch 0 ...
    Resume with: ... ckpt_path=<run>', a folder without a checkpoint. The ranks now agree at training's start."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", f"+callbacks.fault.kind=sanity_{kind}",
                       f"+callbacks.fault.rank={rank}", "trainer.max_epochs=1", timeout=150)
    name = "Ctrl-C" if kind.startswith("SIGINT") else "SIGTERM"
    assert result.returncode == (130 if name == "Ctrl-C" else 143), result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"error: stopped by {name} before training started"), errors
    assert "Traceback" not in result.stderr
    runs = tmp_path / "outputs" / "train" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # nothing was trained: removed, by rank 0 alone


@pytest.mark.slow
@pytest.mark.parametrize("when", ["build", "setup"])
def test_ctrl_c_while_a_rank_builds_its_data_stops_the_run_with_one_line(tmp_path, when):
    """Rank 1, started by Lightning's launcher, builds its own data and model (the script run again; 'build') and
    sets its data up in fit ('setup') while rank 0 waits for it. Ctrl-C to every rank then: in setup, rank 1 said
    'stopped by Ctrl-C before training started ...' and removed rank 0's run folder, and rank 0 'another process of
    this 2-process run ended' (exit 1); while building, rank 1 said it alone, rank 0 was killed (exit -9)."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", f"+callbacks.fault.kind={when}_SIGINT_to_all",
                       "+callbacks.fault.rank=1", "trainer.max_epochs=1", timeout=150)
    assert result.returncode == 130, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: stopped by Ctrl-C before training started"), errors
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


@pytest.mark.slow
def test_ctrl_c_while_a_ddp_run_tests_stops_it_with_one_line(tmp_path):
    """Ctrl-C to every rank while rank 0 tests stops the run with one line naming evaluate.py (exit 130). In a
    fresh-clone run started in the background it exited 0: SIGINT came ignored, the scripts then leave no quiet stop
    on it, and the run's own handler records the signal instead (as during training), so the ranks finished the test
    and rank 0 said so (reproduced: pytest started with SIGINT ignored). train_ddp now gives the run SIGINT as a
    terminal's shell does."""
    result = train_ddp(tmp_path, "+callbacks.fault._target_=ddp_fault.Fault", "+callbacks.fault.kind=test_SIGINT_to_all",
                       "+callbacks.fault.rank=0", "trainer.max_epochs=1", timeout=150)
    said = result.stdout[-2000:] + result.stderr[-3000:]
    assert result.returncode == 130, said
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: stopped by Ctrl-C while testing; its training had ended, and its checkpoints and "
                      f"records are in {run_dir}. Test its best checkpoint with: python evaluate.py "
                      f"ckpt_path={run_dir}"], said


@pytest.mark.slow
def test_accumulated_gradients_under_ddp_equal_a_batch_as_large(tmp_path):
    """trainer.accumulate_grad_batches=2 of batches of 16 on 2 processes trains as batches of 32 on 2 processes:
    an effective batch of 64 either way, the same val/loss every epoch (512 training windows: no partial step).
    A single process at batch 64 ends elsewhere (0.2128 against 0.2098 after epoch 0 here): the DDP runs draw
    another training order, not another step, and so are not compared with it."""
    def run(name: str, *overrides: str) -> tuple[list[float], dict]:
        (tmp_path / name).mkdir()
        result = train_ddp(tmp_path / name, "data.source.num_rows=800", "model.net.dropout=0.0", "logger=none",
                           *overrides)
        assert result.returncode == 0, result.stderr[-3000:]
        (run_dir,) = (tmp_path / name / "outputs" / "train" / "runs").iterdir()
        records = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
        return [r["val/loss"] for r in records], json.loads((run_dir / "training_summary.json").read_text())

    accumulated, summary = run("accumulated", "data.batch_size=16", "trainer.accumulate_grad_batches=2")
    whole, _ = run("whole", "data.batch_size=32")
    assert len(accumulated) == 2 and accumulated == pytest.approx(whole, rel=1e-5)
    assert summary["effective_batch_size"] == 64, summary.get("effective_batch_size")


@pytest.mark.slow
def test_ddp_in_a_job_of_a_multirun_is_refused_in_one_line(tmp_path):
    """Lightning starts the other ranks with the command line as typed, -m included: each rank ran the
    multirun again (under hparams_search=optuna a second study, sampling its own hyperparameters for the
    ranks of one trial), and the next job found the first one's ranks gone."""
    result = train_ddp(tmp_path, "seed=1,2", multirun=True, timeout=240)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: trainer.strategy=ddp over 2 processes cannot run as a job of a multirun (-m): Lightning starts the "
        "other ranks by running the whole command line again")
    assert "Initializing distributed" not in result.stderr  # refused before any rank started


@pytest.mark.slow
def test_a_ddp_run_resumed_from_last_ckpt_ends_as_the_run_never_stopped(tmp_path):
    """Each rank's order comes from (seed, epoch) through Lightning's distributed wrapper of the training
    sampler: 1 epoch and a resume to 2 end as 2 epochs in one go, on both processes."""
    def summary(name: str, *overrides: str) -> tuple[dict, list, Path]:
        (tmp_path / name).mkdir()
        result = train_ddp(tmp_path / name, "trainer.max_epochs=2", *overrides)
        assert result.returncode == 0, result.stderr[-3000:]
        (run_dir,) = (tmp_path / name / "outputs" / "train" / "runs").iterdir()
        records = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
        return json.loads((run_dir / "training_summary.json").read_text())["test"], records, run_dir

    whole, whole_records, _ = summary("whole")
    _, _, first = summary("first", "trainer.max_epochs=1")
    resumed, resumed_records, _ = summary("resumed", f"ckpt_path={first}")
    assert [r["epoch"] for r in resumed_records] == [0, 1]
    assert resumed_records[-1]["val/loss"] == pytest.approx(whole_records[-1]["val/loss"], rel=1e-5)
    for key in ("test/rmse", "test/loss"):
        assert resumed[key] == pytest.approx(whole[key], rel=1e-5), key


def test_a_stop_is_said_by_rank_zero_whatever_the_run(monkeypatch):
    """The rank comes from the environment until setup (a rank started by Lightning's launcher is quiet from its
    start); a one-process run says its own stop whatever rank its environment names (srun -n 2 of two runs)."""
    from types import SimpleNamespace

    from trainlab.callbacks.training import StopOnSignal

    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    started = StopOnSignal()
    assert (started.rank, started.launched) == (1, True)
    started.setup(SimpleNamespace(world_size=1), None, "fit")
    assert (started.rank, started.launched) == (0, False)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")  # torchrun's ranks start themselves
    assert StopOnSignal().launched is False
