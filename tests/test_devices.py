"""Device settings a user moving from a laptop to a cluster gets wrong (and the GPU energy and monitor
callbacks' own, which a CPU machine never exercises): one line each, before anything is built. The profile's own keys (``hardware.*``) and the trainer's keys that interpolate them, overridden
directly (``trainer.accelerator=gpu``, ``trainer.precision=16``), are checked alike
(src/trainlab/run/hardware.py, trainer_devices.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY
from tests.gpu_fakes import Board, FakeMachine
from trainlab.config.errors import UserError
from trainlab.run import hardware, trainer_devices
from trainlab.run.pipeline import prepare

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
TOO_MANY = 4096  # more cores, threads or processes than any machine here has


@pytest.mark.parametrize(
    "override,match",
    [
        pytest.param("trainer.accelerator=gpu", r"trainer.accelerator=gpu needs an NVIDIA GPU with CUDA, but torch sees "
                     r"none .*leave trainer.accelerator out, and use hardware=cpu", marks=NO_GPU),
        pytest.param("hardware.accelerator=gpu", r"hardware.accelerator=gpu needs an NVIDIA GPU .*use hardware=cpu",
                     marks=NO_GPU),
        ("trainer.accelerator=tpu", r"trainer.accelerator='tpu' is not one of cpu, gpu, cuda, mps, auto"),
        # Lightning took these with a warning, and on a CPU ran 16 as bf16-mixed
        ("trainer.precision=16", r"trainer.precision='16' is not one of 32-true, .*; it is Lightning's old spelling of "
                                 r"16-mixed: .*leave trainer.precision out and set hardware.precision=16-mixed"),
        ("trainer.precision=bf16", r"old spelling of bf16-mixed: .*hardware.precision=bf16-mixed"),
        ("hardware.precision=bf16", r"hardware.precision='bf16' is not one of .*old spelling of bf16-mixed"),
        ("trainer.precision=16-mixed", r"trainer.precision=16-mixed runs on GPUs only; on the CPU use 32-true"),
        ("trainer.precision=auto", r"trainer.precision='auto' is not one of .*set hardware.precision=auto"),
        ("hardware.devices=0", r"hardware.devices=0 must be a number of devices \(1 or more; -1 for all\), auto"),
        ("trainer.devices=abc", r"trainer.devices='abc' must be a number of devices"),
        ("hardware.devices=-1", r"hardware.devices=-1 names GPUs, but the run is on the CPU"),
        ("trainer.devices=[0,1]", r"trainer.devices=\[0, 1\] names GPUs, but the run is on the CPU"),
        (f"trainer.devices={TOO_MANY}", rf"trainer.devices={TOO_MANY} on the CPU starts {TOO_MANY} training processes "
                                        r"\(DDP over gloo\), more than the \d+ CPU core\(s\) this process may use"),
        ("trainer.strategy=dpp", r"trainer.strategy='dpp' is not a strategy Lightning knows; did you mean ddp\?"),
        ("trainer.strategy=fsdp", r"trainer.strategy=fsdp shards the model over GPUs, and the run is on the cpu"),
        ("trainer.strategy=xla", r"trainer.strategy=xla runs on TPUs"),
        (f"hardware.num_threads={TOO_MANY}", rf"hardware.num_threads={TOO_MANY} must be 1 to \d+, the CPU cores"),
        ("hardware.num_threads=0", r"hardware.num_threads=0 must be 1 to \d+"),
        ("hardware.memory_gb=-3", r"hardware.memory_gb=-3.0 must be more than 0, or null"),
        ("hardware.max_nodes_per_graph=0", r"hardware.max_nodes_per_graph=0 must be more than 0"),
        ("hardware.prefetch_factor=0", r"hardware.prefetch_factor=0 must be more than 0"),
        # worker-only settings with no workers: the loader left them out without a word
        ("hardware.prefetch_factor=4", r"hardware.prefetch_factor=4 is a setting of DataLoader worker processes, but "
                                       r"hardware.num_workers=0 .*add hardware.num_workers=<n> \(e.g. 2\), or leave"),
        ("hardware.persistent_workers=true", r"hardware.persistent_workers=True is a setting of DataLoader worker"),
        ("callbacks.energy.sample_interval_s=0", r"callbacks.energy.sample_interval_s=0 must be more than 0 seconds"),
        ("callbacks.gpu_monitor.sample_interval_s=-1", r"callbacks.gpu_monitor.sample_interval_s=-1 must be more "),
        ("callbacks.energy.grid_g_co2_per_kwh=-5", r"callbacks.energy.grid_g_co2_per_kwh=-5 must be 0 or more"),
    ],
)
def test_device_settings_this_machine_cannot_run(compose_cfg, run_train, override, match):
    cfg = compose_cfg([*TINY, "logger=none", override])
    with pytest.raises(UserError, match=match):
        run_train(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt"))


def test_a_profiles_own_worker_settings_pass_with_no_workers(compose_cfg):
    """hardware=auto carries prefetch_factor and persistent_workers; hardware.num_workers=0 alone is fine."""
    assert prepare(compose_cfg(["hardware=auto", "hardware.num_workers=0"])).hardware.prefetch_factor == 2


@NO_GPU
def test_more_loader_workers_than_cores_is_said_once_in_our_words(compose_cfg, caplog):
    """hardware.num_workers=64 on 2 cores: torch's multi-line UserWarning at every loader, naming no setting."""
    import logging
    import warnings

    from torch.utils.data import DataLoader

    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        warnings.simplefilter("always")
        prepare(compose_cfg([f"hardware.num_workers={TOO_MANY}"]))
        DataLoader(list(range(4)), num_workers=TOO_MANY)  # torch checks the count when the loader is made
    said = [r.getMessage() for r in caplog.records if "num_workers" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"hardware.num_workers={TOO_MANY} starts more loader processes than "
                                                 "the "), said
    assert said[0].endswith("or fewer")
    assert not [w for w in caught if "worker processes" in str(w.message)], [str(w.message) for w in caught]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab.run.hardware"):
        prepare(compose_cfg(["hardware.num_workers=1"]))
    assert not [r for r in caplog.records if "num_workers" in r.getMessage()]


def test_a_gpu_profile_on_a_slurm_login_node_says_to_submit_it(compose_cfg, tmp_path, monkeypatch):
    """There, 'use hardware=cpu' alone sent a cluster user the wrong way."""
    sbatch = tmp_path / "sbatch"
    sbatch.write_text("#!/bin/sh\n")
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(UserError, match=r"^hardware=a100 needs an NVIDIA GPU .*use hardware=cpu, or hardware=auto .*; "
                                        r"on a SLURM login node, run it as a job on a GPU partition: python train.py "
                                        r"-m hydra/launcher=slurm hydra.launcher.partition=<gpu partition>"):
        prepare(compose_cfg(["hardware=a100"]))
    monkeypatch.setenv("SLURM_JOB_ID", "7")  # inside a job that got no GPU: submitting again is not the fix
    with pytest.raises(UserError) as refused:
        prepare(compose_cfg(["hardware=a100"]))
    assert "login node" not in str(refused.value)


def test_mps_is_refused_where_torch_has_none(compose_cfg, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError, match=r"hardware.accelerator=mps needs an Apple-silicon GPU \(MPS\), which torch "
                                         r"does not find on this machine; use hardware=cpu"):
        prepare(compose_cfg(["hardware.accelerator=mps"]))


def test_several_nodes_need_a_launcher_that_started_them(compose_cfg, monkeypatch):
    """Without one, Lightning took this machine for node 0 and waited for node 1 forever (SIGTERM did not end it)."""
    for name in trainer_devices._MULTI_NODE_ENV + ("SLURM_NNODES",):
        monkeypatch.delenv(name, raising=False)
    cfg = compose_cfg(["trainer=ddp", "trainer.num_nodes=2"])
    with pytest.raises(UserError, match=r"trainer.num_nodes=2, but no multi-node launcher started this process .*wait "
                                        r"forever .*hydra.launcher.nodes=2\), or set trainer.num_nodes=1"):
        prepare(cfg)
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_NNODES", "1")
    with pytest.raises(UserError, match=r"trainer.num_nodes=2 but this SLURM job has 1 node\(s\) \(SLURM_NNODES\); ask "
                                        r"for 2 \(hydra.launcher.nodes=2"):
        prepare(cfg)
    monkeypatch.setenv("SLURM_NNODES", "2")
    assert prepare(cfg).trainer.num_nodes == 2


def test_gpu_device_counts_are_those_torch_sees(compose_cfg, monkeypatch):
    monkeypatch.setattr(hardware, "cuda_usable", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    for devices in ("4", "[0,2]", "'0,2'"):
        cfg = compose_cfg(["trainer.accelerator=gpu", f"trainer.devices={devices}"])
        with pytest.raises(UserError, match=r"trainer.devices=.* but torch sees 2 GPU\(s\) on this machine "
                                            r"\(CUDA_VISIBLE_DEVICES=4,5\), numbered from 0; give at most 2"):
            trainer_devices.check_trainer_devices(cfg.trainer)
    for devices in ("2", "-1", "[1]", "auto"):
        trainer_devices.check_trainer_devices(compose_cfg(["trainer.accelerator=gpu", f"trainer.devices={devices}"]).trainer)


def test_ddp_on_cpu_processes_within_the_cores_trains(compose_cfg):
    """trainer=ddp_sim sets the trainer's own accelerator and devices: checked, and let through."""
    cfg = prepare(compose_cfg(["trainer=ddp_sim"]))
    assert (cfg.trainer.accelerator, cfg.trainer.devices) == ("cpu", 2)


# -- the GPUs users have, on a fake machine (tests/gpu_fakes.py): what torch reports of each -----------------
V100 = Board("GPU-aaaa", "Tesla V100-SXM2-32GB", major=7, memory_gb=31.7)
T4 = Board("GPU-bbbb", "Tesla T4", speed=1, major=7, minor=5, memory_gb=14.6)
A100 = Board("GPU-cccc", "NVIDIA A100-SXM4-40GB", speed=3, memory_gb=39.4)
A10 = Board("GPU-dddd", "NVIDIA A10", major=8, minor=6, memory_gb=22.0)


def on_machine(monkeypatch, *boards: Board) -> None:
    for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)
    FakeMachine(list(boards)).install(monkeypatch)


def test_bf16_on_a_gpu_before_ampere_is_refused(compose_cfg, monkeypatch):
    """Before: hardware=a100 (bf16-mixed) went ahead on a V100, whose bfloat16 torch emulates."""
    on_machine(monkeypatch, V100)
    with pytest.raises(UserError, match=r"^hardware.precision=bf16-mixed, but cuda:0 \(Tesla V100-SXM2-32GB, compute "
                                        r"capability 7.0\) has no native bfloat16 .*use hardware.precision=16-mixed"):
        prepare(compose_cfg(["hardware=a100"]))
    with pytest.raises(UserError, match=r"^trainer.precision=bf16-true, but cuda:0"):
        prepare(compose_cfg(["hardware=a100", "trainer.precision=bf16-true"]))
    assert prepare(compose_cfg(["hardware=a100", "hardware.precision=16-mixed"])).hardware.precision == "16-mixed"


@pytest.mark.parametrize("boards, devices, precision", [
    ([V100], 1, "16-mixed"),  # before: bf16-mixed (torch.cuda.is_bf16_supported() counts emulation)
    ([T4, A100], 1, "bf16-mixed"),  # cuda:0 is the A100 (CUDA puts the fastest first)
    ([T4, A100], 2, "16-mixed"),  # DDP over both: the T4 has no bf16 (before: bf16-mixed, from cuda:0 alone)
    ([T4, A100], "[1]", "16-mixed"),  # the T4 alone
    ([T4, A100], -1, "16-mixed"),  # every GPU, the T4 too
    ([T4, A100], "auto", "16-mixed"),
    ([A100, A10], "auto", "bf16-mixed"),
])
def test_auto_takes_bf16_only_where_every_gpu_of_the_run_has_it(compose_cfg, monkeypatch, boards, devices, precision):
    on_machine(monkeypatch, *boards)
    cfg = compose_cfg(["hardware=auto", f"hardware.devices={devices}"])
    assert hardware.apply_hardware(cfg.hardware).precision == precision


def test_auto_on_a_mac_says_how_to_train_on_its_gpu(compose_cfg, monkeypatch, caplog):
    """hardware=auto picks CUDA or the CPU: on Apple silicon it took the CPU without a word about the GPU there."""
    monkeypatch.setattr(hardware, "cuda_usable", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with caplog.at_level("WARNING", logger="trainlab.run.hardware"):
        assert hardware.apply_hardware(compose_cfg(["hardware=auto"]).hardware).accelerator == "cpu"
    assert "this machine's Apple GPU (MPS) trains with hardware.accelerator=mps" in caplog.text
    caplog.clear()
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with caplog.at_level("WARNING", logger="trainlab.run.hardware"):
        hardware.apply_hardware(compose_cfg(["hardware=auto"]).hardware)
    assert "MPS" not in caplog.text


def test_a_memory_budget_beyond_the_card_is_said(compose_cfg, monkeypatch, caplog):
    """hardware=a100 (a 40 GB budget) on a 24 GB A10: the batch-size finder would keep to 40 GB. The profile's
    nominal 40 GB on the A100 it is for (39.4 GiB) is no mistake, and is not warned about."""
    on_machine(monkeypatch, A10)
    with caplog.at_level("WARNING", logger="trainlab.run.hardware"):
        hardware.apply_hardware(compose_cfg(["hardware=a100"]).hardware)
    assert ("hardware.memory_gb=40 is more than cuda:0 (NVIDIA A10, compute capability 8.6) has (22.0 GB): the "
            "batch-size finder takes the budget for the card's size, and the card runs out first; set "
            "hardware.memory_gb=22 (or null: the card's own size)") in caplog.text
    caplog.clear()
    on_machine(monkeypatch, A100)
    with caplog.at_level("WARNING", logger="trainlab.run.hardware"):
        hardware.apply_hardware(compose_cfg(["hardware=a100"]).hardware)
    assert "memory_gb" not in caplog.text


@pytest.mark.parametrize("visible", ["4,5", "GPU-ffff", "MIG-ffff-0000"])
def test_gpu_ids_of_another_machine_are_named_as_the_cause(compose_cfg, monkeypatch, visible):
    """CUDA_VISIBLE_DEVICES=4,5 (a SLURM job's ids) on a machine with 2 GPUs: torch sees none. Before, the line
    said the machine has no GPU, the variable not named."""
    import sys

    on_machine(monkeypatch, A100, A10)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setitem(sys.modules, "pynvml", FakeMachine([A100, A10]).install(monkeypatch))
    with pytest.raises(UserError, match=rf"torch.cuda.is_available\(\) is False; CUDA_VISIBLE_DEVICES='{visible}' names no "
                                        r"GPU of this machine, which has 2 \(nvidia-smi -L lists them\): unset it, or "
                                        r"list some of 0 to 1\)"):
        prepare(compose_cfg(["hardware=a100"]))


@pytest.mark.parametrize("visible", ["0", "1", "GPU-cccc", "GPU-d", "MIG-eeee-0000"])
def test_gpu_ids_of_this_machine_are_not_blamed_where_torch_is_the_cause(compose_cfg, monkeypatch, visible):
    """A SLURM job's CUDA_VISIBLE_DEVICES=0 on a GPU node whose torch is a CPU build (or built for a newer CUDA
    than the driver has): NVML finds the GPUs, torch none. The line said the variable names no GPU of this
    machine and advised unsetting it, which changes nothing; it now names torch's build."""
    import sys

    from tests.gpu_fakes import MachineNVML

    on_machine(monkeypatch)  # torch sees no GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setattr(torch.version, "cuda", None)
    migs = [Board("MIG-eeee-0000", "NVIDIA A100-SXM4-40GB MIG 1g.5gb")]
    monkeypatch.setitem(sys.modules, "pynvml", MachineNVML(FakeMachine([A100, A10], migs)))
    with pytest.raises(UserError) as refused:
        prepare(compose_cfg(["hardware=a100"]))
    assert "CUDA_VISIBLE_DEVICES" not in str(refused.value)
    assert ("torch.cuda.is_available() is False; NVML finds 2 GPU(s) here, so torch is why: it is a CPU-only build "
            "(torch.version.cuda is None); install a CUDA build of torch") in str(refused.value)


MIG_A = Board("MIG-eeee-0000", "NVIDIA A100-SXM4-40GB MIG 3g.20gb", memory_gb=19.5)
MIG_B = Board("MIG-eeee-0001", "NVIDIA A100-SXM4-40GB MIG 3g.20gb", memory_gb=19.5)


def test_ddp_over_several_mig_instances_is_refused_with_the_reason(compose_cfg, monkeypatch):
    """A job given two MIG instances (CUDA_VISIBLE_DEVICES=MIG-...,MIG-...) sees one: CUDA enumerates the first
    only. The line said torch sees 1 GPU, as if the second had gone; it now says why, and what to do instead."""
    import sys

    on_machine(monkeypatch, A100)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{MIG_A.uuid},{MIG_B.uuid}")
    monkeypatch.setitem(sys.modules, "pynvml", FakeMachine([A100], [MIG_A, MIG_B]).install(monkeypatch))
    with pytest.raises(UserError, match=r"^hardware.devices=2 but torch sees 1 GPU\(s\) on this machine "
                                        r"\(CUDA_VISIBLE_DEVICES=MIG-eeee-0000,MIG-eeee-0001\), numbered from 0: CUDA "
                                        r"gives a process one MIG instance, the first listed \(MIG-eeee-0000\), so DDP "
                                        r"cannot span MIG instances; train on one, or on whole GPUs; give at most 1"):
        prepare(compose_cfg(["hardware=a100", "hardware.devices=2", "trainer=ddp"]))
    assert prepare(compose_cfg(["hardware=a100", "hardware.memory_gb=null"])).trainer.devices == 1  # one instance


def test_bf16_refused_on_several_gpus_names_each(compose_cfg, monkeypatch):
    on_machine(monkeypatch, V100, T4)
    with pytest.raises(UserError, match=r"cuda:0 \(Tesla V100-SXM2-32GB, compute capability 7.0\), cuda:1 \(Tesla T4, "
                                        r"compute capability 7.5\) have no native bfloat16"):
        prepare(compose_cfg(["hardware=a100", "hardware.devices=2", "trainer=ddp"]))


def test_a_gpu_run_says_its_seed_repeats_it_closely_not_bit_for_bit(compose_cfg, monkeypatch, caplog):
    """The CPU repeats a run bit for bit; a GPU profile (cuDNN benchmark on, Lightning's deterministic mode off)
    does not promise it, and said nothing of it."""
    import logging

    on_machine(monkeypatch, A100)
    said = []
    for overrides in (["hardware=a100"], ["hardware=a100", "trainer.deterministic=true"], ["hardware=cpu"]):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trainlab.run.repeatability"):
            prepare(compose_cfg(overrides))
        said.append([r.getMessage() for r in caplog.records if r.name == "trainlab.run.repeatability"])
    assert said[1:] == [[], []]
    assert said[0] == ["on the GPU the same seed repeats this run closely, not bit for bit (cuDNN's benchmark and "
                       "CUDA kernels that add in a varying order); trainer.deterministic=true "
                       "hardware.cudnn_benchmark=false asks for repeatable kernels, at some speed ('warn' instead of "
                       "true: an op without a repeatable kernel warns instead of failing)"]
