"""``hydra/launcher=slurm`` against a real single-node SLURM cluster started by the suite.

The cluster (trainlab.testing.slurm) lives for this module; each test submits as a user types it
(``train.py -m ...`` in a subprocess) and watches the jobs with SLURM's own commands. Where no
cluster can be started the tests skip with the reason (under CI=true that fails the run: conftest).
Requeued jobs are released at once (``scontrol update StartTime=now``) instead of after SLURM's two
minutes. Fast: the request checked against ``sinfo``. Slow (~6-7 min together on 2 busy cores): one
run, a sweep with pruning, an sbatch array sharing one study, SIGTERM, a requeue, a time limit, a job
pending too long, a job killed without a result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.trial import TrialState

from tests.conftest import ROOT, skip_engine
from trainlab.run.slurm_request import job_resources, request_problem
from trainlab.testing.slurm import SlurmCluster

TINY = ["data.source.num_rows=400", "data.window=12", "model.net.hidden_size=8", "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "hardware.num_threads=1",
        "logger=none"]
# ~0.1-1 s per epoch here (quiet to busy): long enough to be signalled mid-run
LONG = ["data.source.num_rows=3000", "data.window=16", "model.net.hidden_size=16", "model.net.num_layers=1",
        "callbacks.early_stopping.patience=1000", "trainer.enable_progress_bar=false", "hardware.num_threads=1",
        "logger=none"]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.poll_interval_s=1"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    from trainlab.testing.slurm import SlurmUnavailable, throwaway_slurm

    try:
        with throwaway_slurm() as started:
            yield started
    except SlurmUnavailable as exc:
        skip_engine(f"no SLURM cluster could be started: {exc}")


@pytest.fixture
def slurm(cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The module's cluster, with every job of the test cancelled, and gone from the queue, after it."""
    yield cluster
    cluster.command("scancel", "--partition", cluster.partition, check=False)
    wait_for("the queue to empty", lambda: not cluster.jobs(), timeout=60)


def start(*args: str, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), "-m", *SLURM, *args,
                             f"paths.log_dir={tmp_path}/outputs"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "HYDRA_FULL_ERROR": "0"})


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stderr


def job_processes(job_id: str, command_part: str) -> list[int]:
    """This machine's processes of a SLURM job (SLURM_JOB_ID in their environment) whose command line
    contains ``command_part``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"SLURM_JOB_ID={job_id}".encode() in environ and command_part in command:
            found.append(int(entry.name))
    return found


def only_sweep_dir(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    return found


def wait_for(what: str, check, process: Optional[subprocess.Popen] = None, timeout: float = 180,
             logs: Optional[Path] = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the launcher ended (exit {process.returncode}) before {what}: "
                                 f"{process.stderr.read()[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; the queue: {queue_report(logs)}")


def queue_report(logs: Optional[Path]) -> str:
    """squeue's view and the tails of the jobs' logs under ``logs``, for a failure message."""
    found = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T %r %M"], capture_output=True, text=True)
    files = sorted(logs.glob("**/.submitit/*/*.err")) if logs else []
    tails = [f"{p}: ...{p.read_text(errors='replace')[-800:]}" for p in files]
    return found.stdout.strip() + "\n" + "\n".join(tails)


def epochs(run_dir: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "epochs.jsonl").read_text().splitlines()]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "training_summary.json").read_text())


def release_requeued(slurm: SlurmCluster, job_id: str, process: subprocess.Popen, logs: Path) -> None:
    """Wait until the job is back in the queue after its requeue, then start it now."""
    wait_for(f"job {job_id} requeued", lambda: slurm.job_field(job_id, "Restarts") == "1"
             and slurm.job_field(job_id, "JobState") == "PENDING", process, logs=logs)
    slurm.release(job_id)


# -- inside a job ---------------------------------------------------------------------------------------
def test_lightning_does_not_requeue_inside_a_slurm_job(monkeypatch):
    """Only submitit requeues: Lightning's SLURM environment comes with its auto-requeue off."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from trainlab.run.preemption import cluster_plugins

    assert cluster_plugins() == [] or "SLURM_JOB_ID" in os.environ  # not in a job: nothing
    for key, value in {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "vm",
                       "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}.items():
        monkeypatch.setenv(key, value)
    (environment,) = cluster_plugins()
    assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue is False


def test_python_train_py_in_an_sbatch_script_of_several_tasks_is_a_plain_run_or_one_line(monkeypatch, compose_cfg):
    """sbatch --ntasks=2 sets SLURM_NTASKS=2 and no SLURM_NTASKS_PER_NODE; Lightning's SLURM environment
    raised a RuntimeError for it, as a traceback, also for the one process of a plain python train.py; the ranks
    srun starts for such a job get one line."""
    from lightning.fabric.plugins.environments import LightningEnvironment

    from trainlab.config.errors import UserError
    from trainlab.run.pipeline import build_trainer
    from trainlab.run.preemption import cluster_plugins

    for key, value in {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "vm",
                       "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_CPUS_PER_TASK": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SLURM_NTASKS_PER_NODE", raising=False)
    trainer = build_trainer(compose_cfg(["trainer.max_epochs=1"]))
    assert trainer.world_size == 1 and type(trainer._accelerator_connector.cluster_environment) is LightningEnvironment
    monkeypatch.setenv("SLURM_STEP_ID", "0")  # srun -n 2 python train.py ...: each task is one of the run's ranks
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    with pytest.raises(UserError, match=r"^this SLURM job has 2 tasks \(SLURM_NTASKS=2\) but no tasks per node "
                                        r"\(SLURM_NTASKS_PER_NODE\).*--ntasks-per-node=<trainer.devices>"):
        build_trainer(compose_cfg(["trainer=ddp_sim"]))
    with pytest.raises(UserError):  # devices=-1: as many processes as GPUs, more than one perhaps
        cluster_plugins(0)
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "2")  # srun --ntasks-per-node=2: Lightning's SLURM environment
    assert type(cluster_plugins(2)[0]).__name__ == "SLURMEnvironment"


SALLOC = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1",
          "SLURM_JOB_NAME": "debug", "SLURM_NODELIST": "vm", "SLURM_CPUS_PER_TASK": "1"}  # no task's ids
BATCH_TASK = {"SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}  # an sbatch script's one process


@pytest.mark.parametrize("shell", [SALLOC, {**SALLOC, **BATCH_TASK}], ids=["salloc", "sbatch"])
def test_a_run_of_several_processes_typed_in_a_slurm_allocation_starts_them_itself(monkeypatch, compose_cfg, shell):
    """python train.py trainer=ddp_sim in an salloc shell (or an sbatch script) of --ntasks-per-node=2: Lightning
    took the process for one of srun's tasks, and failed with KeyError: 'SLURM_NODEID' (salloc), or waited forever
    for the rank srun never started (sbatch). Now Lightning starts the ranks itself, as on a workstation; over
    several nodes, which it cannot reach, one line says to start the tasks with srun."""
    from lightning.fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

    from trainlab.config.errors import UserError
    from trainlab.run.pipeline import build_trainer

    for key in ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in shell.items():
        monkeypatch.setenv(key, value)
    trainer = build_trainer(compose_cfg(["trainer=ddp_sim"]))
    environment = trainer._accelerator_connector.cluster_environment
    assert type(environment) is LightningEnvironment and not environment.creates_processes_externally
    assert trainer.world_size == 2 and trainer.global_rank == 0
    with pytest.raises(UserError, match=r"^trainer.num_nodes=2, but srun did not start this process .* srun "
                                        r"--nodes=2 --ntasks-per-node=<trainer.devices> python train.py"):
        build_trainer(compose_cfg(["trainer=ddp_sim", "trainer.num_nodes=2"]))
    for key, value in {"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", **BATCH_TASK}.items():
        monkeypatch.setenv(key, value)  # srun --ntasks-per-node=2 python train.py ...: rank 0 of srun's two
    environment = build_trainer(compose_cfg(["trainer=ddp_sim"]))._accelerator_connector.cluster_environment
    assert type(environment) is SLURMEnvironment and environment.creates_processes_externally


# -- before submission ------------------------------------------------------------------------------------
def test_resources_come_from_the_hardware_profile(compose_cfg):
    cpu = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug"])
    params = job_resources(dict(cpu.hydra.launcher), cpu)
    assert params["gpus_per_node"] is None and params["cpus_per_task"] == 1  # no GPU asked on a CPU profile
    gpu = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hardware=a100", "hardware.devices=2"])
    params = job_resources(dict(gpu.hydra.launcher), gpu)
    assert params["gpus_per_node"] == 2 and params["cpus_per_task"] == gpu.hardware.num_workers + 1
    pinned = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hardware=a100",
                          "hydra.launcher.gpus_per_node=4"])
    assert job_resources(dict(pinned.hydra.launcher), pinned)["gpus_per_node"] == 4


def test_a_stop_signal_that_may_come_while_the_job_starts_is_warned_of(caplog):
    from trainlab.run.slurm_request import warn_early_signal

    with caplog.at_level("WARNING", logger="trainlab.run.slurm_request"):
        warn_early_signal({"timeout_min": 240, "signal_delay_s": 120})  # the defaults: silent
        assert not caplog.records
        warn_early_signal({"timeout_min": 1, "signal_delay_s": 30})
    (record,) = caplog.records
    assert "leaves 30 s before the stop signal, and SLURM may send it up to 60 s early" in record.getMessage()


class _Job:
    """What :func:`trainlab.run.slurm.watch` reads of a submitit job: its id and files."""

    def __init__(self, job_id: str, folder: Path, last_words: str):
        from types import SimpleNamespace

        self.job_id = job_id
        self.paths = SimpleNamespace(stderr=folder / f"{job_id}.err", stdout=folder / f"{job_id}.out",
                                     result_pickle=folder / f"{job_id}_result.pkl")
        self.paths.stderr.write_text(f"epoch 3\n{last_words}\n")


def test_a_job_that_asked_for_its_requeue_is_waited_for_while_slurm_still_lists_it_ended(tmp_path, monkeypatch):
    """slurmctld may list a job that requeued itself as FAILED (exit 143) for a while before it shows
    PENDING again: the watcher called it lost after 15 s, and the sweep gave up on a trial that went on."""
    from trainlab.run import slurm as slurm_module

    clock = [0.0]
    monkeypatch.setattr(slurm_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(slurm_module.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    requeued = _Job("7_0", tmp_path, "requeued: SIGTERM (preempted or cancelled); the next attempt continues in x\n"
                                     "slurmstepd-vm: error: *** JOB 7 ON vm CANCELLED AT 2026-11-29T21:58:12 DUE TO "
                                     "JOB REQUEUE ***\nsubmitit WARNING (2026-11-29 22:41:01,285) - Bypassing signal "
                                     "SIGCONT\nsrun: got SIGCONT\nsrun: error: vm: task 0: Terminated")
    failed = _Job("7_1", tmp_path, "requeued: SIGTERM; the next attempt continues in x\nepoch 4\n"
                                   "RuntimeError: boom\nsrun: error: vm: task 0: Exited with exit code 1")  # the next attempt failed

    def states(job_ids):
        if clock[0] >= 60:  # the requeue shows, then the attempt runs and gives its result
            requeued.paths.result_pickle.write_bytes(b"done") if clock[0] >= 90 else None
            return {"7_0": ("PENDING", "BeginTime"), "7_1": ("FAILED", "NonZeroExitCode")}
        return {"7_0": ("FAILED", "NonZeroExitCode"), "7_1": ("FAILED", "NonZeroExitCode")}

    monkeypatch.setattr(slurm_module, "_states", states)
    lost = slurm_module.watch([requeued, failed], pending_timeout_min=None, poll_s=5)
    assert list(lost) == ["7_1"] and "ended FAILED (NonZeroExitCode) without a result" in lost["7_1"]
    assert clock[0] >= 90  # waited for the requeued attempt's result

    stuck = _Job("8_0", tmp_path, "requeued: its time limit was near; the next attempt continues in x")
    monkeypatch.setattr(slurm_module, "_states", lambda job_ids: {"8_0": ("FAILED", "NonZeroExitCode")})
    clock[0] = 0.0
    lost = slurm_module.watch([stuck], pending_timeout_min=None, poll_s=5)
    assert lost["8_0"] == f"asked SLURM to requeue it, but it stayed FAILED (NonZeroExitCode) for {slurm_module.REQUEUE_GRACE_S} s"


@pytest.mark.parametrize("overrides,expected", [
    # submitit's own launcher asked for no GPU: the job waited in the queue, started without one and failed
    # on the node ('hardware=a100 needs an NVIDIA GPU ...'), while submitit polled sacct for it
    (["hardware=a100"], "hardware=a100 trains on 1 GPU(s), but hydra/launcher=submitit_slurm asks SLURM for none (its "
                        "gpus_per_node, gpus_per_task and gres are null): use hydra/launcher=slurm, which asks for "
                        "the hardware profile's GPUs and CPUs, or add hydra.launcher.gpus_per_node=1"),
    (["hardware=a100", "hardware.devices=2", "hydra.launcher.gres=gpu:2"], None),
    (["hardware=a100", "+hydra.launcher.additional_parameters.gpus=2"], None),
    ([], None),
])
def test_submitits_own_launcher_asking_no_gpu_for_a_gpu_profile_is_refused(compose_cfg, tmp_path, monkeypatch,
                                                                           overrides, expected):
    from trainlab.run.preflight import launcher_problem

    monkeypatch.setenv("PATH", str(_commands(tmp_path / "bin", "sbatch", "srun")))
    cfg = compose_cfg(["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", *overrides])
    assert launcher_problem(cfg.hydra.launcher, cfg) == expected


def test_a_jobs_commands_name_the_script_and_its_launcher(compose_cfg, monkeypatch):
    """Inside a SLURM job a message's command named submitit's entry (`python _submit.py ...`), and
    without -m and the launcher it would have trained on the login node."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import read_write

    from trainlab.run.preemption import resume_hint

    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hparams_search=optuna",
                       "trainer.max_epochs=3"])
    with read_write(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.job.name = "train"  # as @hydra.main names it after train.py (compose: "app")
    HydraConfig.instance().set_config(cfg)
    monkeypatch.setattr(sys, "argv", ["/venv/lib/site-packages/submitit/core/_submit.py", "/sweep/.submitit/7"])
    assert resume_hint("/sweep/0") == ("python train.py -m hydra/launcher=slurm hydra.launcher.partition=debug "
                                       "trainer.max_epochs=3 optimized_metric=val/loss optimized_mode=min "
                                       "ckpt_path=/sweep/0")  # one run: no hparams_search, what it set kept


def test_a_trials_resume_command_keeps_what_its_search_file_set(compose_cfg):
    """A trial's resume command left hparams_search=optuna out (it would start a sweep) and with it the search
    file's trainer.max_epochs: 10: the command composed the default 20 epochs, a longer run than the trial's, and
    with scheduler=cosine (T_max: ${trainer.max_epochs}) the resume it printed was refused (T_max: 10 -> 20)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import read_write

    from trainlab.config.rerun import rerun_overrides
    from trainlab.run.resume_checks import _config_differences

    trial = compose_cfg(["scheduler=cosine", "hparams_search=optuna", "optimizer.lr=0.003"])
    assert trial.trainer.max_epochs == 10  # the search file's
    with read_write(trial.hydra):
        trial.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(trial)
    command = [o for o in rerun_overrides() if o != "-m"]
    assert "trainer.max_epochs=10" in command and not any(o.startswith("hparams_search=") for o in command)
    resumed = compose_cfg(command)
    differs = _config_differences(trial, resumed, ("trainer", "optimizer", "scheduler", "optimized_metric",
                                                   "optimized_mode"), resolve=True)
    assert [d for d in differs if not d.startswith("trainer.default_root_dir")] == []  # that is the run's folder
    # a key the command line gave is kept as given, once
    trial = compose_cfg(["hparams_search=optuna", "trainer.max_epochs=3"])
    with read_write(trial.hydra):
        trial.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(trial)
    assert [o for o in rerun_overrides() if o.startswith("trainer.max_epochs")] == ["trainer.max_epochs=3"]


def test_a_trials_one_run_command_keeps_the_groups_its_search_file_chose(tmp_path, monkeypatch):
    """A search file of one's own may choose a group (defaults: [optuna, override /model: cnn]); left out with
    hparams_search=, the command composed the default model, lstm: another network than the trial's."""
    from trainlab.config import search_path
    from trainlab.config.rerun import one_run_overrides

    conf = tmp_path / "conf" / "hparams_search"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("defaults:\n  - optuna\n  - override /model: cnn\n  - _self_\n"
                                    "trainer:\n  max_epochs: 4\n")
    monkeypatch.setattr(search_path, "config_folders", lambda sources=None: [tmp_path / "conf", ROOT / "conf"])
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("trainer:\n  max_epochs: 4\noptimized_metric: val/loss\n"
                                                    "optimized_mode: min\n")
    command = one_run_overrides(["hparams_search=mine", "optimizer.lr=0.1"], run_dir)
    assert command[:1] == ["optimizer.lr=0.1"] and "model=cnn" in command and "trainer.max_epochs=4" in command
    assert not [o for o in command if o.startswith(("hparams_search=", "hydra"))]
    (run_dir / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n    choices:\n      model: tcn\n")
    assert "model=tcn" in one_run_overrides(["hparams_search=mine"], run_dir)  # as the run had it (an experiment's)
    assert [o for o in one_run_overrides(["hparams_search=mine", "model=unet"], run_dir)
            if o.startswith("model=")] == ["model=unet"]  # typed: kept as typed, once
    (run_dir / ".hydra" / "hydra.yaml").write_text("hydra: [cut short\n")  # a damaged record: the file's choice
    assert "model=cnn" in one_run_overrides(["hparams_search=mine"], run_dir)


def test_a_refused_resume_of_a_trial_says_to_repeat_one_runs_options(compose_cfg):
    """A resume of a trial's checkpoint that differs in settings said 'that run was started with:
    hparams_search=optuna optimizer.lr=0.003 +optuna_trial=...: repeat them after ckpt_path=', and repeated so,
    the command started a sweep."""
    import yaml

    from trainlab.run.resume_checks import _repeat_hint
    from trainlab.run.folder import RunFolder

    trial = compose_cfg(["hparams_search=optuna", "optimizer.lr=0.003"])
    run_dir = Path(trial.paths.output_dir)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(
        ["hparams_search=optuna", "optimizer.lr=0.003", "+optuna_trial={study_name:s,trial_id:1}"]))
    hint = _repeat_hint(RunFolder(run_dir), str(run_dir))
    assert hint.startswith("; that run was started with: optimizer.lr=0.003 optimized_metric=val/loss "
                           "optimized_mode=min: repeat them after ckpt_path="), hint


@pytest.mark.parametrize("last_line,expected", [
    # the job's own traceback is in its log, not where Hydra's HYDRA_FULL_ERROR hint points: say where
    ("ImportError: No module named 'torch_scatter'", "SLURM job 9_0 failed: ImportError: No module named "
                                                     "'torch_scatter'; its traceback is in {err}"),
    ("trainlab.run.preemption.RunStopped: stopped by SIGTERM during epoch 3; checkpoints and records are in r",
     "SLURM job 9_0 failed: stopped by SIGTERM during epoch 3; checkpoints and records are in r"),  # one line: all
])
def test_a_job_that_failed_on_its_node_names_its_log(tmp_path, last_line, expected):
    from submitit.core.utils import cloudpickle_dump

    from trainlab.run.slurm import outcome

    job = _Job("9_0", tmp_path, "Traceback (most recent call last):\n  File x")
    cloudpickle_dump(("error", f"Traceback (most recent call last):\n  File x\n{last_line}\n"), job.paths.result_pickle)
    ret = outcome(job, ["a=1"], None)
    assert str(ret._return_value) == expected.format(err=job.paths.stderr)


@pytest.mark.parametrize("raised,expected", [
    # a bug in the run: Hydra's run_job kept the exception in the JobReturn, so the job "completed successfully",
    # its log held no traceback, and the launcher re-raised it: a traceback of the launcher's frames only
    (RuntimeError("a bug in a callback"), "SLURM job 9_0 failed: RuntimeError: a bug in a callback; its traceback "
                                          "is in {err}"),
    (optuna.TrialPruned("pruned at epoch 2"), None),  # what a sweep reads from the JobReturn: kept as it is
])
def test_a_run_that_raised_in_its_job_is_one_line_and_its_traceback_is_in_the_jobs_log(tmp_path, capsys, raised,
                                                                                         expected):
    from hydra.core.utils import JobReturn, JobStatus
    from submitit.core.utils import cloudpickle_dump

    from trainlab.run.slurm import finish_in_job, outcome

    try:
        raise raised
    except Exception as exc:  # as Hydra's run_job keeps it, with its traceback, in the job's process
        ret = JobReturn(overrides=["a=1"], status=JobStatus.FAILED, _return_value=exc)
    assert finish_in_job(ret, "timeout", None) is ret
    err = capsys.readouterr().err
    assert (f"{type(raised).__name__}: {raised}" in err and "Traceback" in err) if expected else err == ""
    job = _Job("9_0", tmp_path, err)
    cloudpickle_dump(("success", ret), job.paths.result_pickle)
    back = outcome(job, ["a=1"], None)
    assert back.status == JobStatus.FAILED
    if expected:
        assert str(back._return_value) == expected.format(err=job.paths.stderr)
    else:
        assert isinstance(back._return_value, optuna.TrialPruned)


def test_a_squeue_that_does_not_answer_is_said_while_the_launcher_waits(tmp_path, monkeypatch, caplog):
    """slurmctld down or restarting: the launcher waited on without a word (possibly for hours)."""
    from trainlab.run import slurm as slurm_module

    clock = [0.0]
    monkeypatch.setattr(slurm_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(slurm_module.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    job = _Job("5_0", tmp_path, "epoch 1")

    def states(job_ids):  # silent for 11 minutes, then the job has its result
        if clock[0] >= 660:
            job.paths.result_pickle.write_bytes(b"done")
        return None

    monkeypatch.setattr(slurm_module, "_states", states)
    with caplog.at_level("WARNING", logger="trainlab.run.slurm"):
        assert slurm_module.watch([job], pending_timeout_min=None, poll_s=5) == {}
    said = [r.getMessage() for r in caplog.records]
    assert said == ["squeue has not answered for 5 min (slurmctld down or busy?): still waiting for job(s) 5_0, "
                    "which SLURM runs whatever happens here"] * 2, said


def test_a_plain_multirun_stopped_while_its_jobs_run_says_they_go_on(monkeypatch, capsys):
    """Ctrl-C while the launcher watched: the script's handler said 'nothing was written', with the
    sweep folder made and the jobs queued, which went on to run."""
    from trainlab.config.quiet_stop import _stop_quietly
    from trainlab.run import slurm as slurm_module

    def exits(code):
        raise SystemExit(code)

    monkeypatch.setattr(slurm_module.os, "_exit", exits)
    before = signal.signal(signal.SIGINT, _stop_quietly)  # as train.py sets it until training
    try:
        with pytest.raises(SystemExit) as stopped, slurm_module.stops_say_what_goes_on(["35_0", "35_1"], "/s"):
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        assert signal.getsignal(signal.SIGINT) is _stop_quietly  # given back
    finally:
        signal.signal(signal.SIGINT, before)
    assert stopped.value.code == 130
    assert capsys.readouterr().err.strip() == ("error: stopped by Ctrl-C; SLURM job(s) 35_0, 35_1 go on without this "
                                               "process (their runs end in /s); scancel 35_0 35_1 stops them")


@pytest.mark.parametrize("overrides,expected", [
    (["hydra.launcher.timeout_min=-5"], "hydra.launcher.timeout_min=-5 must be at least 1"),  # it blamed signal_delay_s
    (["hydra.launcher.mem_gb=0"], "hydra.launcher.mem_gb=0 must be more than 0 (or null: no limit)"),
    (["hydra.launcher.cpus_per_task=0"], "hydra.launcher.cpus_per_task=0 must be at least 1"),
    # read only once the jobs were submitted: time.sleep's ValueError traceback left them running unwatched
    (["hydra.launcher.poll_interval_s=-1"], "hydra.launcher.poll_interval_s=-1 must be more than 0 (seconds between "
                                            "two looks at the jobs; e.g. 30)"),
    (["hydra.launcher.poll_interval_s=0"], "hydra.launcher.poll_interval_s=0 must be more than 0"),  # squeue non-stop
    # Lightning refused these when the job started, after its wait in the queue
    (["trainer=ddp", "trainer.num_nodes=2"], "hydra.launcher.nodes=1 but trainer.num_nodes=2: Lightning refuses a job "
                                             "whose nodes differ from it; give both the same number "
                                             "(hydra.launcher.nodes=2)"),
    (["trainer=ddp_sim"], "hydra.launcher.tasks_per_node=1 but trainer.devices=2: Lightning wants one SLURM task per "
                          "device; set hydra.launcher.tasks_per_node=2"),
    (["hardware.devices=[0,1]"], "hydra.launcher.tasks_per_node=1 but hardware.devices=[0, 1]"),
    # no --gpus-per-node at all: the job started without a GPU and failed on its node
    (["hardware=a100", "hydra.launcher.gpus_per_node=0"], "hydra.launcher.gpus_per_node=0 but the hardware profile "
                                                          "trains on GPUs (hardware.accelerator=gpu)"),
])
def test_the_request_is_checked_before_sinfo_is_asked(compose_cfg, overrides, expected):
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", *overrides])
    problem = request_problem(cfg.hydra.launcher, cfg)
    assert problem is not None and problem.startswith(expected), problem


@pytest.mark.parametrize("launcher,override,expected", [
    # a traceback after the sweep folder was made: 'n_jobs == 0 in Parallel has no meaning'
    ("joblib", "hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs=0 runs no job: give the number of worker processes"),
    ("joblib", "hydra.launcher.n_jobs=-1", None),
    # each job killed as it started, with no word of why
    ("submitit_local", "hydra.launcher.timeout_min=0", "hydra.launcher.timeout_min=0 must be at least 1"),
    # a traceback: AssertionError: Nothing to do!
    ("submitit_local", "hydra.launcher.tasks_per_node=0", "hydra.launcher.tasks_per_node=0 must be at least 1"),
    ("submitit_slurm", "hydra.launcher.timeout_min=0", "hydra.launcher.timeout_min=0 must be at least 1"),
])
def test_the_counts_of_every_launcher_with_worker_processes_are_checked(compose_cfg, launcher, override, expected):
    from trainlab.run.preflight import launcher_problem

    cfg = compose_cfg([f"hydra/launcher={launcher}", override])
    problem = launcher_problem(cfg.hydra.launcher, cfg)
    assert problem is None if expected is None else (problem or "").startswith(expected), problem


@pytest.mark.parametrize("gpus,expected", [
    (0, "hydra.launcher.gpus_per_node=1 but this machine has no GPU (CUDA_VISIBLE_DEVICES applies), and "
        "submitit_local runs its jobs here: leave it out to train on the CPU"),
    (1, None),
])
def test_gpus_submitit_local_cannot_give_are_refused(compose_cfg, monkeypatch, gpus, expected):
    """On a machine without a GPU the jobs trained on the CPU, the setting ignored, exit 0."""
    from trainlab.run.preflight import launcher_problem
    from trainlab.search import gpu_slots

    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: gpus)
    cfg = compose_cfg(["hydra/launcher=submitit_local", "hydra.launcher.gpus_per_node=1"])
    assert launcher_problem(cfg.hydra.launcher, cfg) == expected


@pytest.mark.parametrize("override,expected", [
    ("hydra.launcher.timeout_min=1:00:00", "hydra.launcher.timeout_min is a number of minutes, not sbatch's time "
                                           "format: 1:00:00 is hydra.launcher.timeout_min=60"),
    ("hydra.launcher.timeout_min=1-12", "format: 1-12 is hydra.launcher.timeout_min=2160"),  # 1 day 12 hours
    ("hydra.launcher.timeout_min=90:30", "format: 90:30 is hydra.launcher.timeout_min=91"),  # rounded up: an int
    ("hydra.launcher.mem_gb=4G", "hydra.launcher.mem_gb is a number of GB, not sbatch's --mem format: 4G is "
                                 "hydra.launcher.mem_gb=4"),
    ("hydra.launcher.mem_gb=512M", "format: 512M is hydra.launcher.mem_gb=0.5"),
    ("hydra.launcher.mem_gb=abc", None),  # Hydra's own message stands
])
def test_launcher_values_in_sbatchs_format_get_their_unit(override, expected):
    """OmegaConf refused them as no number, in several lines, exit 1."""
    from trainlab.config.command_line import unknown_key_problem

    problem = unknown_key_problem(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug", override], "train")
    assert problem is None if expected is None else (problem or "").endswith(expected), problem


def test_a_slurm_that_does_not_answer_is_one_line_before_submission(compose_cfg, tmp_path, monkeypatch):
    """sbatch failed the same way after the sweep folder existed: submitit's traceback, exit 1."""
    sinfo = tmp_path / "bin" / "sinfo"
    sinfo.parent.mkdir()
    sinfo.write_text("#!/bin/sh\necho 'sinfo: error: fetch_config: DNS SRV lookup failed' >&2\n"
                     "echo 'sinfo: fatal: Could not establish a configuration source' >&2\nexit 1\n")
    sinfo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{sinfo.parent}{os.pathsep}{os.environ['PATH']}")
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug"])
    assert request_problem(cfg.hydra.launcher, cfg) == (
        "hydra/launcher=slurm: SLURM does not answer on this machine (sinfo: fatal: Could not establish a "
        "configuration source); submit from a login node of the cluster, whose slurm.conf (or SLURM_CONF) names "
        "its controller")


def _commands(folder: Path, *names: str) -> Path:
    """A folder of stand-ins for SLURM's commands ``names`` (none of them is run)."""
    folder.mkdir()
    for name in names:
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return folder


@pytest.mark.parametrize("launcher,have,expected", [
    # submitit's own refuses to start without srun; ours watches with squeue, cancels with scancel: each
    # was a traceback, ours with the jobs already submitted and left unwatched
    ("slurm", ("sbatch", "srun", "scancel"), "hydra/launcher=slurm runs SLURM's squeue, which this machine's PATH "
                                             "does not have (it has sbatch, in {bin}): add the folder that holds "
                                             "SLURM's commands to PATH"),
    ("trainlab_slurm", ("sbatch",), "hydra/launcher=trainlab_slurm runs SLURM's srun and squeue and scancel, which"),
    ("submitit_slurm", ("sbatch",), "hydra/launcher=submitit_slurm runs SLURM's srun, which"),
    ("submitit_slurm", ("sbatch", "srun"), None),  # it watches through sacct, itself
])
def test_slurm_commands_missing_beside_sbatch_are_one_line(compose_cfg, tmp_path, monkeypatch, launcher, have,
                                                           expected):
    from trainlab.run.preflight import launcher_problem

    folder = _commands(tmp_path / "bin", *have)
    monkeypatch.setenv("PATH", str(folder))
    cfg = compose_cfg([f"hydra/launcher={launcher}", "hydra.launcher.partition=debug"])
    problem = launcher_problem(cfg.hydra.launcher, cfg)
    assert problem is None if expected is None else (problem or "").startswith(expected.format(bin=folder)), problem


@pytest.mark.parametrize("overrides,expected", [
    ([], None),
    (["hydra.launcher.mem_gb=100000"], "hydra.launcher.mem_gb=100000 but its nodes have at most"),
    (["hardware=a100"], "hydra.launcher.gpus_per_node=1 (hardware.devices of a GPU profile, unless set) but its "
                        "nodes have no GPU(s)"),
    (["hydra.launcher.cpus_per_task=512"], "= 512 CPUs but its nodes have at most"),
    (["hydra.launcher.mem_gb=null", "hydra.launcher.mem_per_cpu=100000G"],
     "hydra.launcher.mem_per_cpu=100000G x 1 CPU(s) but its nodes have at most"),
    (["hydra.launcher.partition=gpu"], "hydra.launcher.partition=gpu: SLURM has no such partition; it has: debug"),
    (["hydra.launcher.requeue=sometimes"], "hydra.launcher.requeue=sometimes must be one of never, timeout, always"),
    (["hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=120"],
     "hydra.launcher.signal_delay_s=120 is not shorter than hydra.launcher.timeout_min=2 (120 s)"),
])
def test_the_request_is_checked_against_sinfo(slurm, compose_cfg, overrides, expected):
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", *overrides])
    problem = request_problem(cfg.hydra.launcher, cfg)
    assert problem is None if expected is None else expected in problem, problem


@pytest.mark.parametrize("settings,overrides,expected", [
    # each was taken by sbatch and pended for ever (squeue: PartitionConfig, MaxMemPerLimit, PartitionDown, or
    # the account's refusal) until pending_timeout_min cancelled it, an hour later
    ("MaxCPUsPerNode=1", ["hydra.launcher.cpus_per_task=2"],
     "the job does not fit partition limited: hydra.launcher.cpus_per_task x tasks_per_node = 2 CPUs but the "
     "partition allows 1 per node (MaxCPUsPerNode)"),
    ("MaxMemPerNode=1024", [], "hydra.launcher.mem_gb=8 but the partition allows 1 GB per node (MaxMemPerNode)"),
    # memory per CPU beyond MaxMemPerCPU: SLURM gives the job more CPUs, and sbatch (whose --test-only took it)
    # refused it at submission ('Requested node configuration is not available') where no node has so many
    ("MaxMemPerCPU=100", [], "hydra.launcher.mem_gb=8 is 8192 MB per CPU over 1 CPU(s), and the partition allows "
                             "100 MB per CPU (MaxMemPerCPU): SLURM would give the job 82 CPUs, its nodes have at most"),
    ("MaxMemPerCPU=100", ["hydra.launcher.mem_gb=null", "hydra.launcher.mem_per_cpu=1G"],
     "hydra.launcher.mem_per_cpu=1G is 1024 MB per CPU over 1 CPU(s), and the partition allows 100 MB per CPU "
     "(MaxMemPerCPU): SLURM would give the job 11 CPUs, its nodes have at most"),
    ("MaxMemPerCPU=8192", [], None),
    ("MaxTime=30", [], "hydra.launcher.timeout_min=240 but the partition's limit is 30 min"),
    ("MaxTime=30", ["hydra.launcher.timeout_min=30"], None),
    ("AllowAccounts=physics", ["hydra.launcher.account=chemistry"],
     "hydra.launcher.account=chemistry but the partition takes account physics only"),
    ("DenyQos=high", ["hydra.launcher.qos=high"], "hydra.launcher.qos=high but the partition refuses qos high"),
    ("State=DOWN", [], "hydra.launcher.partition=limited is down (sinfo): SLURM starts no job there until an "
                       "administrator brings it up; use hydra.launcher.partition=debug (up: debug), or "
                       "hydra.launcher.pending_timeout_min=null to queue there and wait until it is up"),
    ("State=DOWN", ["hydra.launcher.pending_timeout_min=null"], "until an administrator brings it up; use "
                                                                "hydra.launcher.partition=debug (up: debug)"),
])
def test_what_the_partition_allows_is_checked_before_submission(slurm, compose_cfg, settings, overrides, expected):
    slurm.command("scontrol", "create", "PartitionName=limited", "Nodes=ALL", settings)
    try:
        cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=limited", *overrides])
        problem = request_problem(cfg.hydra.launcher, cfg)
    finally:
        slurm.command("scontrol", "delete", "PartitionName=limited")
    assert problem is None if expected is None else expected in (problem or ""), problem


def test_an_option_sbatch_refuses_is_one_line_before_any_folder(slurm, tmp_path):
    """A key sinfo cannot check (a node feature the cluster lacks): refused at submission with exit 1, Hydra's
    HYDRA_FULL_ERROR advice, and the sweep folder left with its multirun.yaml and submitit's files."""
    code, stderr = finish(start(*TINY, "hydra.launcher.constraint=nosuchfeature", tmp_path=tmp_path), timeout=120)
    assert code == 2 and "Traceback" not in stderr and "HYDRA_FULL_ERROR" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        "error: sbatch refuses the job: Invalid feature specification (asked with sbatch --test-only; nothing was "
        "submitted); it comes from hydra.launcher.constraint=nosuchfeature: change or remove it"), stderr[-3000:]
    assert not slurm.jobs() and not (tmp_path / "outputs" / "train" / "multiruns").exists()


@pytest.mark.parametrize("said,overrides,expected", [
    # what clusters with accounting answer (this one has none): the key behind sbatch's words is named
    ("sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified",
     ["hydra.launcher.account=nobody"], "Invalid account or account/partition combination specified (asked with "
     "sbatch --test-only; nothing was submitted); it comes from hydra.launcher.account=nobody or "
     "hydra.launcher.partition=debug: change or remove it"),
    ("sbatch: error: Batch job submission failed: Invalid qos specification", ["hydra.launcher.qos=gold"],
     "it comes from hydra.launcher.qos=gold: change or remove it"),
    ("sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)",
     ["hydra.launcher.timeout_min=100000"], "it comes from hydra.launcher.timeout_min=100000: change or remove it"),
    # a controller that did not answer says nothing of the keys: it was 'hydra.launcher.* keys become sbatch's
    # options: fix the one it names', a fix no key makes work
    ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation", [],
     "sbatch could not ask SLURM's controller about the job: Socket timed out on send/recv operation (asked with "
     "sbatch --test-only; nothing was submitted); start it again once the controller answers"),
    ("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", [],
     "sbatch could not ask SLURM's controller about the job: Unable to contact slurm controller (connect failure)"),
    (None, [], None),
])
def test_what_sbatch_refuses_is_asked_before_submission_and_names_its_key(compose_cfg, tmp_path, monkeypatch, said,
                                                                        overrides, expected):
    from trainlab.run.slurm_request import sbatch_problem

    folder = tmp_path / "bin"
    folder.mkdir()
    answer = f"echo '{said}' >&2; exit 1" if said else "echo 'sbatch: Job 3 to start at now' >&2"
    (folder / "sbatch").write_text(f"#!/bin/sh\ncat > {tmp_path}/script; echo \"$@\" > {tmp_path}/args; {answer}\n")
    (folder / "sbatch").chmod(0o755)
    (folder / "srun").write_text("#!/bin/sh\n")
    (folder / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", *overrides])
    problem = sbatch_problem(job_resources(OmegaConf.to_container(cfg.hydra.launcher, resolve=True), cfg))
    assert problem is None if expected is None else expected in problem, problem
    assert (tmp_path / "args").read_text().split() == ["--test-only"]  # the script on stdin, as submitit writes it
    assert "#SBATCH --partition=debug" in (tmp_path / "script").read_text()


def test_a_submission_sbatch_refuses_names_the_keys_behind_it(compose_cfg, tmp_path, monkeypatch):
    """What sbatch's --test-only took and its submission refused (memory over a partition's MaxMemPerCPU needs more
    CPUs than a node has): the line said 'fix the one it names', and sbatch named no key."""
    import types

    import submitit

    from trainlab.run import slurm as slurm_module

    said = ("sbatch: error: CPU count per node can not be satisfied\nsbatch: error: Batch job submission failed: "
            "Requested node configuration is not available")

    class Refused:
        def map_array(self, *args):
            raise submitit.core.utils.FailedJobError(said)

    monkeypatch.setattr(slurm_module, "slurm_executor", lambda params, requeue: Refused())
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.mem_gb=4",
                       f"hydra.sweep.dir={tmp_path}/sweep", f"hydra.launcher.submitit_folder={tmp_path}/sweep/.submitit"])
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    launcher = types.SimpleNamespace(params=params, config=cfg, requeue="timeout")
    with pytest.raises(slurm_module.SlurmJobFailed) as refused:
        slurm_module.submit(launcher, [["trainer.max_epochs=1"]], 0)
    assert str(refused.value) == (
        f"sbatch refused the job(s): Requested node configuration is not available; nothing was submitted, and its "
        f"folder {tmp_path}/sweep was removed; it comes from hydra.launcher.cpus_per_task=1 or "
        "hydra.launcher.tasks_per_node=1 or hydra.launcher.mem_gb=4 or hydra.launcher.nodes=1: change or remove it")


def test_every_failed_job_of_a_plain_multirun_is_said(compose_cfg, tmp_path, monkeypatch, caplog):
    """train.py -m hydra/launcher=slurm data.window=12,100000,abc: all three jobs ran (one array), and Hydra's
    sweeper raised the first failure only; job 16_2's (data.window='abc') was said nowhere, nor that 16_0 completed."""
    import types

    from hydra.core.utils import JobReturn, JobStatus
    from submitit.core.utils import cloudpickle_dump

    from trainlab.run import slurm as slurm_module

    jobs = [_Job(f"16_{i}", tmp_path, words) for i, words in
            enumerate(["done", "error: 'synthetic' has 400 row(s)", "error: data.window='abc' must be int"])]
    cloudpickle_dump(("success", JobReturn(overrides=["data.window=12"], status=JobStatus.COMPLETED, _return_value=1.0)),
                     jobs[0].paths.result_pickle)

    class Submitted:
        def map_array(self, *args):
            return jobs

    monkeypatch.setattr(slurm_module, "slurm_executor", lambda params, requeue: Submitted())
    monkeypatch.setattr(slurm_module, "watch", lambda jobs, pending, poll: {
        j.job_id: f"ended FAILED (NonZeroExitCode) without a result{slurm_module._log_tail(j, 1)}" for j in jobs[1:]})
    cfg = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=debug", f"hydra.sweep.dir={tmp_path}/sweep",
                       f"hydra.launcher.submitit_folder={tmp_path}/sweep/.submitit"])
    launcher = types.SimpleNamespace(params=OmegaConf.to_container(cfg.hydra.launcher, resolve=True), config=cfg,
                                     requeue="timeout", in_flight=set(), pending_timeout_min=60, poll_interval_s=1)
    with caplog.at_level("ERROR", logger="trainlab.run.slurm"):
        returns = slurm_module.submit(launcher, [[f"data.window={w}"] for w in (12, 100000, "abc")], 0)
    assert [r.status for r in returns] == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.FAILED]
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("SLURM job 16_2 ended FAILED") and said[0].endswith("error: data.window='abc' must be int")
    assert said[1:] == [f"2 of 3 SLURM jobs failed (16_1, 16_2); 1 completed, their runs in {tmp_path}/sweep; the first "
                        "one's line follows, the others' are above"]


_LOST = ("Job 3618 (task: 0) with path /s/.submitit/3618/3618_0_result.pkl\nhas not produced any output (state: {state})\n"
         "Error stream produced:\n----------------------------------------\n{stream}\n")


@pytest.mark.parametrize("state,stream,code,expected", [
    # the run refused its settings in the job (as it does with no launcher, exit 2)
    ("FINISHED", "[2026-11-30 23:33:20][trainlab.run.console][INFO] - run folder: /s/0\nerror: 'synthetic' has 400 "
                 "row(s), fewer than one window of data.window=100000 + data.horizon=1; use a shorter window",
     2, "error: job 3618 ended without a result (state: FINISHED): 'synthetic' has 400 row(s), fewer than one window "
        "of data.window=100000 + data.horizon=1; use a shorter window; its log is /s/.submitit/3618/3618_0_log.err"),
    # killed (the OOM killer, scancel) while it trained: its last line is whatever it logged last
    ("FAILED", "epoch 3 ...\nsrun: error: vm: task 0: Killed", 1,
     "error: job 3618 ended without a result (state: FAILED); the last line of its log "
     "/s/.submitit/3618/3618_0_log.err: epoch 3 ..."),
])
def test_a_submitit_job_without_a_result_is_one_line(state, stream, code, expected, capsys):
    """hydra/launcher=submitit_local or submitit_slurm (hydra-submitit-launcher's own): a job that wrote no result
    was submitit's UncompletedJobError, a traceback of the launcher's frames (exit 1), the job's words below it."""
    import hydra._internal.utils as hydra_utils
    from submitit.core.utils import UncompletedJobError

    from trainlab.config.composition import hydra_errors_as_one_line

    def multirun():
        raise UncompletedJobError(_LOST.format(state=state, stream=stream))

    with hydra_errors_as_one_line(["-m"], "train"), pytest.raises(SystemExit) as exited:
        hydra_utils.run_and_report(multirun)
    assert (exited.value.code, capsys.readouterr().err.strip()) == (code, expected)


def test_a_refused_submission_removes_what_it_wrote(tmp_path):
    """sbatch refusing what its --test-only took (a submission limit): submitit's pickled call and script stayed
    in .submitit/, and a plain multirun's folder held them and its multirun.yaml, no run."""
    from trainlab.run.slurm import _undo_submission

    sweep = tmp_path / "sweep"
    scripts = sweep / ".submitit"
    scripts.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("x: 1\n")
    (scripts / "7").mkdir()  # an earlier job's folder: kept
    before = set(scripts.iterdir())
    (scripts / "abc.pkl").write_bytes(b"")
    (scripts / ".submission_file_abc.sh").write_text("#!/bin/bash\n")
    assert _undo_submission(scripts, before, sweep) == ""
    assert {p.name for p in scripts.iterdir()} == {"7"}
    (scripts / "7").rmdir()
    (scripts / "abc.pkl").write_bytes(b"")
    assert _undo_submission(scripts, set(), sweep) == f", and its folder {sweep} was removed"
    assert not sweep.exists()


# -- real jobs --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_one_run_is_one_job_in_one_folder(slurm, tmp_path):
    code, stderr = finish(start(*TINY, tmp_path=tmp_path))
    assert code == 0, stderr[-3000:]
    sweep_dir = only_sweep_dir(tmp_path)  # .submitit, multirun.yaml and the run: one folder
    assert {p.name for p in sweep_dir.iterdir()} >= {".submitit", "multirun.yaml", "0"}
    assert epochs(sweep_dir / "0") == [0, 1] and (sweep_dir / "0" / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "outputs" / "train" / "runs").exists()


@pytest.mark.slow
def test_sweep_trials_are_jobs_pruned_from_inside(slurm, tmp_path):
    # Trials that differ clearly, drawn the same way every run: a seeded random sampler (its draws do not
    # depend on which slot finishes first), a learning-rate range from far too small to fast, and enough
    # rows that a fast trial pulls away from a slow one within four epochs. On 400 rows every tiny trial
    # stays near the forecast of the mean, and five trials in two slots then give the median rule
    # nothing to prune.
    process = start("hparams_search=optuna", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=5",
                    "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=3",
                    "hydra.sweeper.pruner.n_startup_trials=1", "hydra.sweeper.pruner.n_warmup_steps=1",
                    "optimizer.lr=tag(log, interval(1e-7, 3e-2))",
                    *[a for a in TINY if not a.startswith(("hardware.num_threads", "trainer.max_epochs",
                                                           "data.source.num_rows"))],
                    "data.source.num_rows=1500", "trainer.max_epochs=4", tmp_path=tmp_path)
    code, stderr = finish(process, timeout=480)
    assert code == 0, stderr[-3000:]
    sweep_dir = only_sweep_dir(tmp_path)
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    trials = study.trials
    assert len(trials) == 5 and {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert any(t.state == TrialState.PRUNED for t in trials), f"no trial was pruned: {[(t.number, t.params, t.intermediate_values, t.user_attrs.get('checks')) for t in trials]}"
    for t in trials:  # each trial a job of its own, its run inside the sweep folder
        assert t.user_attrs["run_dir"] == str(t.number)  # relative to the sweep folder
    jobs = [p.name for p in (sweep_dir / ".submitit").iterdir() if p.is_dir()]
    assert len(jobs) == 5, jobs
    overlaps = [(a.number, b.number) for a in trials for b in trials
                if a.number != b.number and a.datetime_start <= b.datetime_start < a.datetime_complete]
    assert overlaps, "no two trials ran at once"


@pytest.mark.slow
def test_array_tasks_share_one_study_and_one_folder(slurm, tmp_path):
    sweep_dir = tmp_path / "sweep"
    script = tmp_path / "array.sbatch"
    script.write_text(ARRAY_SCRIPT.format(python=sys.executable, root=ROOT, tmp=tmp_path, sweep=sweep_dir))
    job_id = slurm.command("sbatch", "--parsable", str(script)).strip()
    started = time.monotonic()
    wait_for("both array tasks to end", lambda: not slurm.jobs(), timeout=480)
    wall = time.monotonic() - started
    study = optuna.load_study(study_name="array", storage=f"sqlite:///{sweep_dir}/optuna.db")
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4, [(t.number, t.state) for t in study.trials]
    owners = {t.user_attrs["sweeper"] for t in study.trials}
    assert len(owners) == 2, owners  # both tasks took trials
    run_dirs = [t.user_attrs["run_dir"] for t in finished]
    assert run_dirs == [str(t.number) for t in finished]  # each in the sweep folder, relative to it
    assert [p.name for p in (tmp_path / "outputs").glob("train/multiruns/*")] == []  # no folder per task
    import csv

    with (sweep_dir / "trials.csv").open() as handle:  # written from the study: current, whoever wrote it last
        rows = {int(r["number"]): r["state"] for r in csv.DictReader(handle)}
    assert rows == {t.number: t.state.name for t in study.trials}
    print(f"array {job_id}: 2 tasks, 4 trials in {wall:.0f} s")


ARRAY_SCRIPT = """#!/bin/bash
#SBATCH --array=0-1
#SBATCH --partition=debug
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --output={tmp}/array_%A_%a.out
cd {tmp}
{python} {root}/train.py -m hparams_search=optuna hydra.sweep.dir={sweep} hydra.sweeper.study_name=array \\
    hydra.sweeper.n_trials=4 data.source.num_rows=400 data.window=12 model.net.hidden_size=8 trainer.max_epochs=2 \\
    trainer.enable_progress_bar=false hardware.num_threads=1 logger=none paths.log_dir={tmp}/outputs
"""


@pytest.mark.slow
def test_sigterm_saves_records_and_the_job_does_not_finish(slurm, tmp_path):
    process = start(*LONG, "trainer.max_epochs=200", "hydra.launcher.requeue=timeout", tmp_path=tmp_path)
    try:
        last = wait_for("the first checkpoint", lambda: next(iter(tmp_path.glob("outputs/train/multiruns/*/0/"
                                                                                 "checkpoints/last.ckpt")), None), process, logs=tmp_path)
        (job_id,) = slurm.jobs()
        slurm.command("scancel", "--signal=TERM", job_id)
        code, stderr = finish(process)
    finally:
        process.kill()
    run_dir = last.parent.parent
    assert code == 1, stderr[-3000:]
    line = next((line for line in stderr.splitlines() if line.startswith(f"error: SLURM job {job_id} failed:")), None)
    assert line is not None, stderr[-3000:]
    assert "stopped by SIGTERM during epoch" in line and "not requeued (hydra.launcher.requeue=timeout)" in line
    assert "Traceback" not in stderr
    # not COMPLETED: SLURM knows it did not finish (the launcher may report before the job has ended)
    wait_for("the job's end", lambda: slurm.job_field(job_id, "JobState") not in ("RUNNING", "COMPLETING"))
    assert slurm.job_field(job_id, "JobState") == "FAILED"
    assert summary(run_dir)["stopped_by"] == "signal SIGTERM"
    assert (run_dir / "checkpoints" / "on_exception.ckpt").is_file()
    assert epochs(run_dir) == list(range(len(epochs(run_dir))))


@pytest.mark.slow
def test_a_requeued_trial_continues_in_its_folder(slurm, tmp_path):
    # epochs long enough (~1 s each on a quiet machine) that the signal lands while the trial trains:
    # on 3,000 rows its eight epochs could end before scancel reached the job
    process = start("hparams_search=optuna", "hydra.sweeper.n_trials=1", "hydra/sweeper/pruner=nop",
                    "hydra.launcher.requeue=always", *LONG, "data.source.num_rows=12000", "trainer.max_epochs=8",
                    tmp_path=tmp_path)
    try:
        last = wait_for("the first checkpoint", lambda: next(iter(tmp_path.glob("outputs/train/multiruns/*/0/"
                                                                                 "checkpoints/last.ckpt")), None), process, logs=tmp_path)
        (job_id,) = slurm.jobs()
        slurm.command("scancel", "--signal=TERM", job_id)
        release_requeued(slurm, job_id, process, tmp_path)
        code, stderr = finish(process)
    finally:
        process.kill()
    assert code == 0, stderr[-3000:]
    run_dir = last.parent.parent
    assert epochs(run_dir) == list(range(8))  # continued, not repeated
    assert summary(run_dir)["resumed_at_epoch"] > 0 and summary(run_dir)["stopped_by"] == "max_epochs or max_steps"
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in names and not [n for n in names if n.startswith("last-v") or n == "on_exception.ckpt"]
    sweep_dir = run_dir.parent
    (trial,) = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db").trials
    assert trial.state == TrialState.COMPLETE and sorted(trial.intermediate_values) == list(range(8))


@pytest.mark.slow
def test_a_time_limit_requeues_until_max_num_timeout(slurm, tmp_path):
    """2-minute limit, SIGUSR2 30 s before it: the run stops, is requeued once and continues in its
    folder; at the second limit max_num_timeout=1 is spent and the job fails with one line. (With a
    1-minute limit SLURM, which may signal up to 60 s early, sometimes signalled a job before Python
    had set any handler: it ended without a result.)"""
    process = start(*LONG, "trainer.max_epochs=1000000", "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30",
                    "hydra.launcher.max_num_timeout=1", tmp_path=tmp_path)
    try:
        wait_for("the job", slurm.jobs, process)
        (job_id,) = slurm.jobs()
        release_requeued(slurm, job_id, process, tmp_path)
        code, stderr = finish(process)
    finally:
        process.kill()
    assert code == 1, stderr[-3000:]
    line = next((line for line in stderr.splitlines() if line.startswith(f"error: SLURM job {job_id} failed:")), None)
    assert line is not None, stderr[-3000:]
    assert "stopped by SIGUSR2" in line and "not requeued: time limit reached more often than " \
                                           "hydra.launcher.max_num_timeout allows" in line
    run_dir = only_sweep_dir(tmp_path) / "0"
    done = epochs(run_dir)
    assert done == list(range(len(done))) and summary(run_dir)["stopped_by"] == "signal SIGUSR2"
    assert not list((run_dir / "checkpoints").glob("last-v*.ckpt"))


@pytest.mark.slow
def test_a_job_pending_too_long_is_cancelled_with_slurms_reason(slurm, tmp_path):
    blocker = slurm.command("sbatch", "--parsable", "-p", slurm.partition, "-c", str(slurm.cpus),
                            "-o", str(tmp_path / "blocker.out"), "--wrap",
                            "sleep 300").strip()  # takes every CPU of the node
    wait_for("the blocking job to run", lambda: slurm.job_field(blocker, "JobState") == "RUNNING")
    code, stderr = finish(start(*TINY, "hydra.launcher.pending_timeout_min=0.1", tmp_path=tmp_path))
    assert code == 1, stderr[-3000:]
    assert "pending for more than 0.1 min (SLURM's reason: Resources); cancelled " \
           "(hydra.launcher.pending_timeout_min)" in stderr, stderr[-3000:]
    # one line, last: Hydra's advice (HYDRA_FULL_ERROR=1, which shows the launcher's frames) followed it
    assert stderr.strip().splitlines()[-1].startswith("error: SLURM job ") and "HYDRA_FULL_ERROR" not in stderr, \
        stderr[-3000:]
    assert slurm.jobs() == [blocker]  # ours is gone from the queue


@pytest.mark.slow
def test_a_job_killed_without_a_result_is_reported_at_once(slurm, tmp_path):
    process = start(*LONG, "trainer.max_epochs=2000", tmp_path=tmp_path)
    try:
        wait_for("the first checkpoint", lambda: next(iter(tmp_path.glob("outputs/train/multiruns/*/0/checkpoints/"
                                                                           "last.ckpt")), None), process, logs=tmp_path)
        (job_id,) = slurm.jobs()
        # as the kernel's OOM killer would: SIGKILL to the training process (scancel's KILL goes through
        # SLURM's step termination, which sends SIGTERM first, and the run would stop cleanly)
        for pid in job_processes(job_id, "submitit.core._submit"):
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        code, stderr = finish(process)
    finally:
        process.kill()
    assert code == 1 and time.monotonic() - killed < 60, stderr[-3000:]  # accounting is off: no sacct to wait for
    line = next((line for line in stderr.splitlines() if line.startswith(f"error: SLURM job {job_id} ended ")), None)
    assert line is not None and "without a result" in line, stderr[-3000:]


@pytest.mark.slow  # starts a cluster of its own in a subprocess (~5 s)
def test_a_killed_test_run_leaves_no_slurm_daemons_running(tmp_path):
    """A test run killed (``timeout`` ran out, SIGKILL) runs no clean-up: its clusters' slurmctld, slurmd and
    munged ran on for hours, two per killed pytest-xdist run."""
    from trainlab.testing.slurm import missing_binaries

    if missing_binaries():
        skip_engine(f"no {', '.join(missing_binaries())} on this machine")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom trainlab.testing.slurm import "
                               "throwaway_slurm\nwith throwaway_slurm() as c:\n    print(c.conf, flush=True)\n"
                               "    time.sleep(600)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    conf = holder.stdout.readline().strip()
    assert conf, holder.stderr.read()[-2000:]
    folder = str(Path(conf).parent)

    def daemons() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and folder in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    try:
        assert len(daemons()) >= 3  # munged, slurmctld, slurmd
        holder.kill()
        holder.wait()
        wait_for("the daemons to end", lambda: not daemons(), timeout=30)
    finally:
        holder.kill()
        for pid in daemons():  # what this test would otherwise leave running
            os.kill(pid, signal.SIGKILL)


def test_the_readmes_extra_sbatch_options_reach_the_job_script(compose_cfg, tmp_path, monkeypatch):
    """README's SLURM section shows how other sbatch options are given (hydra.launcher.additional_parameters): each
    of its commands composes, and its options are #SBATCH lines of the script submitit would submit."""
    import re
    import shlex

    from trainlab.run.slurm_request import slurm_executor

    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### SLURM", 1)[1].split("\n## ", 1)[0]
    commands = [shlex.split(line)[3:] for line in section.splitlines() if "additional_parameters" in line
                and line.startswith(".venv/bin/python train.py -m ")]
    assert len(commands) == 2, commands
    monkeypatch.setenv("PATH", str(_commands(tmp_path / "bin", "srun")))  # submitit wants srun to build its executor
    for overrides in commands:
        cfg = compose_cfg(overrides)
        params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        params.pop("_target_")
        slurm = slurm_executor(job_resources(params, cfg), folder=str(tmp_path / "submitit"))._executor
        script = slurm._make_submission_file_text(slurm._submitit_command_str, "readme")
        lines = set(re.findall(r"^#SBATCH (--\S+)$", script, flags=re.M))
        assert {"--partition=cpu", "--reservation=maint"} <= lines
        assert ("--mail-type=END" in lines) == ("mail_type" in " ".join(overrides))
