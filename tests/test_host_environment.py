"""trainlab on the machines users have, which are not the developer's: containers and shared hosts (an
arbitrary uid without a passwd entry, no HOME, a CPU quota, a small /dev/shm, a console that goes away)."""

from __future__ import annotations

import os
import pwd
import sys
import tempfile

import pytest

from trainlab.config.errors import UserError


def _no_passwd_entry(uid: int):
    raise KeyError(f"getpwuid(): uid not found: {uid}")


def test_no_home_and_no_passwd_entry_gets_a_matplotlib_folder_not_a_traceback(tmp_path, monkeypatch):
    """``docker run --user 12345`` without HOME: Path.home() raises, and every command ended in a
    RuntimeError traceback before it composed its config (matplotlib's own lookup raises the same)."""
    from trainlab.run.console import home_folder, matplotlib_config_where_writable

    for name in ("HOME", "MPLCONFIGDIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", _no_passwd_entry)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert home_folder() is None
    chosen = matplotlib_config_where_writable()
    assert chosen == str(tmp_path / f"trainlab-matplotlib-{os.getuid()}") == os.environ["MPLCONFIGDIR"]
    assert os.path.isdir(chosen)


def test_a_refusal_that_names_the_user_needs_no_passwd_entry(tmp_path, monkeypatch):
    """An output folder the uid cannot write, or a permission refused mid-run, is one line naming the user;
    with no passwd entry and no USER/LOGNAME getpass.getuser() raised KeyError, and that line was its
    traceback."""
    import errno

    from trainlab.run.durable import disk_state
    from trainlab.run.preflight import output_problem

    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", _no_passwd_entry)
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # a folder this uid may not write
    uid = f"uid {os.getuid()}"
    assert output_problem(tmp_path / "runs").endswith(f"; or let user '{uid}', its owner, write in it: chmod u+wx "
                                                      f"'{tmp_path}'")
    assert disk_state(OSError(errno.EACCES, "Permission denied"))[1] == (
        f"let user '{uid}' write there again (its owner can chmod or chown it)")


def _cgroups(root, monkeypatch, listing: str, files: dict[str, str], cores: int = 64) -> None:
    """This process in a fake cgroup tree under ``root``: ``/proc/self/cgroup`` is ``listing``, ``files``
    maps paths under the mount root to their text; its affinity has ``cores`` cores."""
    from trainlab.run import cores as cores_module

    (root / "proc_cgroup").write_text(listing)
    for name, text in files.items():
        (root / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "fs" / name).write_text(text)
    (root / "fs").mkdir(exist_ok=True)
    monkeypatch.setattr(cores_module, "PROC_CGROUP", str(root / "proc_cgroup"))
    monkeypatch.setattr(cores_module, "CGROUP_ROOT", str(root / "fs"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))


@pytest.mark.parametrize("listing, files, quota", [
    ("0::/\n", {"cpu.max": "200000 100000\n"}, 2),  # docker --cpus=2, cgroup v2 with its own namespace
    ("0::/docker/0123abcd\n", {"cpu.max": "200000 100000\n"}, 2),  # the host's path, not mounted inside
    ("0::/a/b\n", {"cpu.max": "max 100000", "a/cpu.max": "150000 100000", "a/b/cpu.max": "max 100000"}, 2),  # a parent's
    ("4:cpu,cpuacct:/\n1:memory:/x\n", {"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 3),
    ("2:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),  # v1 without a quota
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("0::/\n", {}, None),  # no cpu controller enabled
])
def test_the_cgroup_cpu_quota_is_read(tmp_path, monkeypatch, listing, files, quota):
    from trainlab.run.cores import cpu_quota, usable_cores
    from trainlab.search.plan import machine_cores

    _cgroups(tmp_path, monkeypatch, listing, files)
    assert cpu_quota() == quota
    assert usable_cores() == machine_cores() == (quota or 64)


def test_torch_threads_follow_a_cpu_quota_below_the_affinity(tmp_path, monkeypatch, compose_cfg, caplog):
    """In a container limited to 2 CPUs on a 64-core host torch took 64 threads (its affinity's count),
    which the kernel throttled to two CPUs' time; a thread count chosen by the user stays theirs."""
    import logging

    import torch

    from trainlab.run.hardware import apply_hardware
    from trainlab.run.process import settings_kept

    _cgroups(tmp_path, monkeypatch, "0::/\n", {"cpu.max": "100000 100000\n"}, cores=64)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    profile = compose_cfg(["hardware=auto", "hardware.num_threads=null", "hardware.host_memory_keep_mb=null",
                           "hardware.num_workers=0"]).hardware  # auto's 2 workers on 1 core: a warning of their own
    with settings_kept():
        torch.set_num_threads(2)  # torch's own count of this machine's cores (64 in the container)
        with caplog.at_level(logging.INFO, logger="trainlab.run.hardware"):
            assert apply_hardware(profile).num_threads is None  # the profile's null stays null
        assert torch.get_num_threads() == 1
        assert ("threads=1 (the cgroup's CPU quota of 1 CPU(s) over 1 training process(es); its affinity has 64 cores)"
                in caplog.text)
        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's own choice, which torch took
        apply_hardware(profile)
        assert torch.get_num_threads() == 2
        with pytest.raises(UserError, match=r"hardware.num_threads=2 must be 1 to 1, the CPU cores this process may use"):
            apply_hardware(compose_cfg(["hardware=cpu", "hardware.num_threads=2"]).hardware)


def test_torch_threads_follow_the_cpus_a_slurm_job_gave_its_task(tmp_path, monkeypatch, compose_cfg, caplog):
    """A SLURM job of --cpus-per-task=2 on a cluster that binds no CPU set to its tasks: the affinity is the whole
    node's, and torch took a thread per core of it (SLURM_CPUS_PER_TASK was read nowhere)."""
    import logging

    import torch

    from trainlab.run.cores import usable_cores
    from trainlab.run.hardware import apply_hardware
    from trainlab.run.process import settings_kept

    _cgroups(tmp_path, monkeypatch, "0::/\n", {}, cores=64)  # no CPU quota
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for key, value in {"SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "2", "SLURM_NTASKS": "1"}.items():
        monkeypatch.setenv(key, value)
    assert usable_cores() == 2
    profile = compose_cfg(["hardware=cpu", "hardware.num_threads=null", "hardware.host_memory_keep_mb=null"]).hardware
    with settings_kept():
        torch.set_num_threads(4)  # torch's own count of the node's cores
        with caplog.at_level(logging.INFO, logger="trainlab.run.hardware"):
            apply_hardware(profile)
        assert torch.get_num_threads() == 2
        assert ("threads=2 (the SLURM job's 2 CPU(s) per task (SLURM_CPUS_PER_TASK) over 1 training process(es); its "
                "affinity has 64 cores)" in caplog.text)
        torch.set_num_threads(4)
        monkeypatch.delenv("SLURM_JOB_ID")  # the variable left in a shell outside the job: not read
        apply_hardware(profile)
        assert torch.get_num_threads() == 4


def test_an_unreadable_omp_num_threads_is_named_also_where_the_cpu_quota_chooses_the_threads(
        tmp_path, monkeypatch, compose_cfg, caplog):
    """Under a quota the run wrote the threads it chose into OMP_NUM_THREADS before looking at the user's
    value, so ``OMP_NUM_THREADS=abc`` was replaced without a word."""
    import logging

    import torch

    from trainlab.run.hardware import apply_hardware
    from trainlab.run.process import settings_kept

    _cgroups(tmp_path, monkeypatch, "0::/\n", {"cpu.max": "100000 100000\n"}, cores=64)
    monkeypatch.setenv("OMP_NUM_THREADS", "abc")
    profile = compose_cfg(["hardware=auto", "hardware.num_threads=null", "hardware.host_memory_keep_mb=null",
                           "hardware.num_workers=0"]).hardware  # auto's 2 workers on 1 core: a warning of their own
    with settings_kept():
        torch.set_num_threads(2)
        with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
            apply_hardware(profile)
        assert torch.get_num_threads() == 1
    assert [r.getMessage() for r in caplog.records] == [
        "OMP_NUM_THREADS=abc is not a number of threads, so OpenMP ignores it and torch uses 1; unset it, or choose "
        "them with hardware.num_threads=<n>"]


def test_a_console_whose_reader_went_away_is_silenced_and_the_command_goes_on(monkeypatch, capsys):
    """``python train.py | head -1``: each later log line was a ``--- Logging error ---`` traceback, and
    rich's progress bar ended the process with SystemExit(1), which the run took for a Ctrl-C: its folder
    was removed, exit 130. Now the stream goes to /dev/null, one warning says so, and nothing raises."""
    import logging

    from rich.console import Console

    from trainlab.run.console import readers_may_go

    read, write = os.pipe()
    closed = os.fdopen(write, "w", buffering=1)
    os.close(read)  # the reader (head) has ended
    monkeypatch.setattr(sys, "stdout", closed)
    with readers_may_go():
        handler = logging.StreamHandler(sys.stdout)  # as Hydra's job_logging makes its console handler
        handler.handleError = lambda record: pytest.fail("logging met an error")
        handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "epoch 1", None, None))
        Console(force_terminal=True).print("Epoch 1 ━━━━━━━━ 12/12")  # raised SystemExit(1) on a broken pipe
        print("the last line")
        assert sys.stdout.gone and os.path.samefile(f"/proc/self/fd/{write}", os.devnull)
    assert sys.stdout is closed
    closed.close()
    assert capsys.readouterr().err.count("warning: stdout was closed by its reader") == 1


def test_workers_out_of_shared_memory_end_in_one_line_not_a_hang(monkeypatch):
    """A 64 MB /dev/shm (Docker's default) that a batch did not fit: the worker's queue thread printed
    torch's error and dropped the batch, and training waited for it forever. Now the worker fails, the
    loader raises, and the run ends in one line naming --shm-size and hardware.num_workers=0."""
    import torch
    from torch.utils.data import DataLoader

    from trainlab.config.errors import known_error
    from trainlab.data.sampling import keep_batch

    def full(storage, *args):
        raise RuntimeError("unable to allocate shared memory(shm) for file </torch_1_2_3>: No space left on device (28)")

    class Windows(torch.utils.data.Dataset):  # a dataset that stacks its own batches, as the series windows do
        def __len__(self):
            return 8

        def __getitems__(self, indices):
            return torch.zeros(len(indices), 4), torch.zeros(len(indices), 1)

    monkeypatch.setattr(torch.UntypedStorage, "_share_fd_cpu_", full)  # what a full /dev/shm answers (workers fork with it)
    monkeypatch.setattr(torch.UntypedStorage, "_share_filename_cpu_", full)
    loader = DataLoader(Windows(), batch_size=4, collate_fn=keep_batch, num_workers=1, timeout=30)
    with pytest.raises(RuntimeError) as raised:
        next(iter(loader))
    line = str(known_error(raised.value))
    assert line.startswith("DataLoader workers ran out of shared memory: they pass each batch to the training process")
    assert line.endswith("give the container more (docker run --shm-size=2g, or --ipc=host), use smaller batches "
                         "(data.batch_size), or load the data in the training process: hardware.num_workers=0")


@pytest.mark.parametrize("loader", ["windows", "whole_graph", "ego", "random_nodes"])
def test_every_collate_moves_a_workers_batch_into_shared_memory(monkeypatch, loader):
    """In a worker, each loader's batch is in shared memory when its collate function returns: a failure
    there is the worker's error (above), not one in its queue thread that drops the batch."""
    import torch

    from trainlab.data import shared_memory
    from trainlab.data.graph.module import StarGraphDataModule
    from trainlab.data.graph.synthetic import SyntheticGaia
    from trainlab.data.sampling import keep_batch

    monkeypatch.setattr(shared_memory, "get_worker_info", lambda: object())  # as in a DataLoader worker
    if loader == "windows":
        batch = keep_batch((torch.zeros(4, 16, 3), torch.zeros(4, 1)))
        assert all(t.is_shared() for t in batch)
        return
    kwargs = {"whole_graph": {}, "ego": {"max_nodes_per_graph": 150},
              "random_nodes": {"max_nodes_per_graph": 150, "sampler": "random_nodes"}}[loader]
    dm = StarGraphDataModule(SyntheticGaia(300, seed=7), seed=7, **kwargs)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch.x.is_shared() and batch.edge_index.is_shared()


def test_a_console_without_every_character_shows_them_as_question_marks(monkeypatch):
    """LANG=C with PYTHONUTF8=0 (or a Latin-1 locale) makes the console ASCII: rich's progress bar ended the
    run with a UnicodeEncodeError at its first '•'."""
    import io
    import logging

    from rich.console import Console

    from trainlab.run.console import readers_may_go

    ascii_console = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_console)
    with readers_may_go():
        Console(force_terminal=True, highlight=False).print("Epoch 1 ━━━━ 12/12 • 0:00:01")
        handler = logging.StreamHandler(sys.stdout)
        handler.handleError = lambda record: pytest.fail("logging met an error")
        handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "a value beyond ±1e+30", None, None))
        sys.stdout.flush()
    shown = ascii_console.buffer.getvalue().decode("ascii")
    assert "Epoch 1 ???? 12/12 ? 0:00:01" in shown and "a value beyond ?1e+30" in shown


def test_run_files_are_utf8_whatever_the_locale(tmp_path):
    """In an ASCII locale a run's files were written in ASCII: a path's 'é' in a record or report raised
    UnicodeEncodeError, and Hydra's own config.yaml (UTF-8) read back as 'not readable YAML'."""
    import subprocess

    from trainlab.run.console import RunLogFile

    probe = ("import sys; from trainlab.run.durable import write_atomic, read_yaml; "
             "write_atomic(sys.argv[1], 'data: /data/Jos\\u00e9\\n'); print(ascii(read_yaml(sys.argv[1], 'x')))")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "r.yaml")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{'data': '/data/Jos\\xe9'}"
    assert (tmp_path / "r.yaml").read_bytes() == "data: /data/José\n".encode("utf-8")
    assert RunLogFile(str(tmp_path / "train.log")).encoding == "utf-8"


def test_an_argument_that_is_not_text_in_the_locale_is_one_line():
    from trainlab.config.command_line import start_checks

    assert start_checks(["model=lstm", "paths.log_dir=/data/Jos\udcc3\udca9"]) == (
        f"paths.log_dir=/data/José: this argument is not text in the locale's encoding ({sys.getfilesystemencoding()}); "
        "run it with a UTF-8 locale (LC_ALL=C.UTF-8) or PYTHONUTF8=1")


def test_lightnings_advice_for_more_workers_is_not_given(monkeypatch):
    """On a 64-core host (or a 2-CPU container on one) every hardware=cpu run got three Lightning warnings
    advising ``num_workers=63``: a DataLoader argument, against the profile's choice of 0, counted from the
    affinity and not the quota."""
    import warnings
    from types import SimpleNamespace

    import torch
    from lightning.pytorch.trainer.connectors.data_connector import _worker_check

    from trainlab.run.console import route_lightning_logs

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    loader = torch.utils.data.DataLoader(list(range(4)), num_workers=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        route_lightning_logs()
        _worker_check(SimpleNamespace(num_devices=1), loader, "train_dataloader")
    assert not [w for w in caught if "workers" in str(w.message)], [str(w.message) for w in caught]


def test_lightnings_ddp_launcher_keeps_the_profiles_threads(tmp_path, monkeypatch, compose_cfg):
    """trainer=ddp_sim (any DDP launch) on 64 cores: Lightning's launcher set rank 0 to 64 / 2 = 32 threads
    after hardware.num_threads=1 had set 1 (the ranks it started read 32 from OMP_NUM_THREADS); under a CPU
    quota of 4 the two ranks share it, 2 each."""
    import torch
    from lightning.fabric.utilities.distributed import _set_num_threads_if_needed

    from trainlab.run.hardware import apply_hardware
    from trainlab.run.process import settings_kept

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for overrides, threads in ((["hardware.num_threads=1"], 1), (["hardware.devices=2"], 2)):
        _cgroups(tmp_path, monkeypatch, "0::/\n", {"cpu.max": "400000 100000\n"}, cores=64)
        with settings_kept():
            torch.set_num_threads(8)  # torch's own count, more than a rank's share
            apply_hardware(compose_cfg(["hardware=cpu", "hardware.host_memory_keep_mb=null", *overrides]).hardware)
            _set_num_threads_if_needed(num_processes=2)  # what the DDP launcher does in rank 0 before training
            assert torch.get_num_threads() == threads and os.environ["OMP_NUM_THREADS"] == str(threads)
        assert "OMP_NUM_THREADS" not in os.environ  # given back with the run's other settings


@pytest.mark.parametrize("load, threads, warned", [(4.5, None, True), (0.5, None, False), (4.5, 1, False)])
def test_torch_threads_on_cores_other_work_holds_get_one_line(monkeypatch, compose_cfg, caplog, load, threads,
                                                               warned):
    """A user's 8,700-row file trained at 75 s an epoch on 2 threads with the machine's load average at 4-9 on
    2 cores, and 60 steps took 1-2 s on one thread; nothing said why. The line names hardware.num_threads=1; a thread
    count the user chose, or an idle machine, gets none."""
    import logging

    import torch

    from trainlab.run import cores
    from trainlab.run.hardware import apply_hardware
    from trainlab.run.process import settings_kept

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cores, "cpu_quota", lambda: None)
    monkeypatch.setattr(cores, "affinity_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    profile = compose_cfg(["hardware=cpu", f"hardware.num_threads={threads or 'null'}",
                           "hardware.host_memory_keep_mb=null"]).hardware
    with settings_kept():
        torch.set_num_threads(2)
        with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
            apply_hardware(profile)
    lines = [r.getMessage() for r in caplog.records if "load average" in r.getMessage()]
    assert lines == ([f"the machine's load average is {load:.1f} on 2 usable cores: other work holds them, and "
                      "torch's 2 threads wait on each other for a core at every step (on a busy 2-core machine steps "
                      "were 7-40x slower than on one thread); hardware.num_threads=1 trains faster while the machine "
                      "is this busy"]
                     if warned else [])
