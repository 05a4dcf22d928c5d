"""Layer 1: every option of every config group composes, and what it builds instantiates."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests.conftest import config_options, data_options, family_overrides
from trainlab.config.instantiate import build, build_all
from trainlab.run.pipeline import build_data, build_model_and_data
from trainlab.config.errors import UserError
from trainlab.run.hardware import apply_hardware
from trainlab.run.host_memory import keep_host_memory, worker_start
from trainlab.loggers import build_loggers
from trainlab.run.pipeline import task_config

GROUPS = ["data", "model", "optimizer", "scheduler", "trainer", "hardware", "callbacks", "logger", "paths", "debug"]
GPU_PROFILES = ["rtx4070_mobile", "a100", "h100"]


def test_every_group_has_options():
    for group in GROUPS + ["experiment"]:
        assert config_options(group), f"config group {group} has no options"


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in config_options(g)])
def test_option_composes_and_resolves(compose_cfg, group, option, tmp_path):
    overrides = [f"{group}={option}"]
    if (group, option) == ("data", "file"):
        csv = tmp_path / "series.csv"
        csv.write_text("a,b,y\n" + "\n".join(f"{i},{i % 7},{i % 5}" for i in range(200)))
        overrides += [f"data.source.path={csv}", "data.source.target_columns=[y]"]
    cfg = compose_cfg(overrides)
    task_config(cfg)  # every interpolation points somewhere
    assert cfg.hardware.name in config_options("hardware")


@pytest.mark.parametrize("option", config_options("experiment"))
def test_experiment_composes(compose_cfg, option):
    cfg = compose_cfg([f"experiment={option}"])
    task_config(cfg)


def test_lstm_seed_is_the_seed(compose_cfg):
    cfg = compose_cfg(["experiment=lstm_seed"])
    assert (cfg.model.net.hidden_size, cfg.model.net.num_layers) == (128, 5)
    assert cfg.optimizer.lr == pytest.approx(0.000382819)
    assert cfg.data.batch_size == 32 and cfg.trainer.max_epochs == 80
    assert cfg.callbacks.early_stopping.patience == 5 and cfg.seed == 3407
    assert cfg.data.source.num_features == 5


@pytest.mark.parametrize("option", data_options("timeseries"))  # other families: tests/test_graph.py, test_image.py
def test_data_builds(compose_cfg, option, tmp_path):
    overrides = [f"data={option}"]
    if option == "file":
        csv = tmp_path / "series.csv"
        csv.write_text("a,b,y\n" + "\n".join(f"{i},{i % 7},{i % 5}" for i in range(300)))
        overrides += [f"data.source.path={csv}", "data.source.target_columns=[y]"]
    cfg = compose_cfg(overrides)
    dm = build(cfg.data, "data")
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (cfg.data.batch_size, cfg.data.window, dm.num_features)
    assert y.shape == (cfg.data.batch_size, dm.num_targets)


@pytest.mark.parametrize("model", config_options("model"))
@pytest.mark.parametrize("optimizer", config_options("optimizer"))
def test_model_and_optimizer_build(compose_cfg, model, optimizer):
    cfg = compose_cfg([*family_overrides(model), f"optimizer={optimizer}"])
    module, _ = build_model_and_data(cfg)
    assert isinstance(module.configure_optimizers(), torch.optim.Optimizer)


@pytest.mark.parametrize("scheduler", [s for s in config_options("scheduler") if s != "none"])
def test_scheduler_builds(compose_cfg, scheduler):
    cfg = compose_cfg([f"scheduler={scheduler}"])
    make = build(cfg.scheduler, "scheduler")
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    extra = {"total_steps": 10} if scheduler == "onecycle" else {}
    assert make(optimizer=opt, **extra) is not None


def test_scheduler_none_is_empty(compose_cfg):
    assert not compose_cfg(["scheduler=none"]).scheduler


@pytest.mark.parametrize("option", config_options("callbacks"))
def test_callbacks_build(compose_cfg, option):
    cfg = compose_cfg([f"callbacks={option}"])
    callbacks = build_all(cfg.callbacks, "callbacks")
    # 13: the model summary, GPU monitor, batch-size finder and forecasting baselines joined the 9 defaults
    assert len(callbacks) == (13 if option == "default" else len([c for c in cfg.callbacks.values() if c]))


@pytest.mark.parametrize("option", config_options("logger"))
def test_loggers_build(compose_cfg, option):
    if option == "mlflow":
        pytest.importorskip("mlflow")  # an optional extra (make install-mlflow); CI installs it
    cfg = compose_cfg([f"logger={option}"])
    loggers = build_loggers(cfg.logger, "label")
    assert len(loggers) == (0 if option == "none" else 1)


@pytest.mark.parametrize("hardware", config_options("hardware"))
def test_hardware_profiles(compose_cfg, hardware):
    cfg = compose_cfg([f"hardware={hardware}"])
    if hardware in GPU_PROFILES and not torch.cuda.is_available():
        with pytest.raises(UserError, match=rf"hardware={hardware} needs an NVIDIA GPU.*hardware=cpu.*hardware=auto"):
            apply_hardware(cfg.hardware)
        return
    given = cfg.hardware.copy()
    cfg.hardware = apply_hardware(cfg.hardware)
    assert cfg.hardware.accelerator in ("cpu", "gpu") and cfg.hardware.precision != "auto"
    assert compose_cfg([f"hardware={hardware}"]).hardware == given  # the profile given is not changed
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize("hardware", config_options("hardware"))
def test_profiles_leave_torchs_matmul_precision_readable(compose_cfg, hardware):
    """torch >= 2.9 keeps one setting for CUDA matmuls that set_float32_matmul_precision and allow_tf32 both
    write; with allow_tf32 last, rtx4070_mobile (medium, TF32) left get_float32_matmul_precision() raising,
    and Lightning calls it when it sets up an Ampere or newer GPU: the run failed there before training."""
    from trainlab.run.hardware import set_process_flags
    from trainlab.run.process import settings_kept

    profile = compose_cfg([f"hardware={hardware}", "hardware.host_memory_keep_mb=null"]).hardware
    with settings_kept():
        set_process_flags(profile)
        assert torch.get_float32_matmul_precision() == profile.float32_matmul_precision
        assert torch.backends.cudnn.allow_tf32 == profile.allow_tf32


def test_tf32_against_the_matmul_precision_is_said(compose_cfg, monkeypatch, caplog):
    """CUDA matmuls follow float32_matmul_precision; an allow_tf32 that says otherwise gets a line."""
    from trainlab.run import hardware
    from trainlab.run.process import settings_kept

    monkeypatch.setattr(hardware, "cuda_usable", lambda: True)  # a GPU profile, checked as on a GPU machine
    with settings_kept():
        apply_hardware(compose_cfg(["hardware=a100", "hardware.host_memory_keep_mb=null"]).hardware)
        assert "allow_tf32" not in caplog.text
        apply_hardware(compose_cfg(["hardware=a100", "hardware.allow_tf32=false", "hardware.precision=32-true",
                                    "hardware.host_memory_keep_mb=null"]).hardware)
    assert "hardware.allow_tf32=False with hardware.float32_matmul_precision=high: CUDA matmuls follow" in caplog.text


@pytest.mark.parametrize("profile", ["cpu", "auto"])
def test_a_medium_matmul_precision_on_the_cpu_is_said(compose_cfg, monkeypatch, caplog, profile):
    """float32_matmul_precision=medium on the CPU ran float32 matmuls in bfloat16 on CPUs with AMX or avx512_bf16
    (a 512x512 matmul 0.25 off, against 6e-5 at high) without a word; it gets one line, and high none."""
    from trainlab.run import hardware
    from trainlab.run.process import settings_kept

    monkeypatch.setattr(hardware, "cuda_usable", lambda: False)  # auto takes the CPU
    with settings_kept():
        apply_hardware(compose_cfg([f"hardware={profile}", "hardware.float32_matmul_precision=high",
                                    "hardware.host_memory_keep_mb=null"]).hardware)
        assert "bfloat16" not in caplog.text
        apply_hardware(compose_cfg([f"hardware={profile}", "hardware.float32_matmul_precision=medium",
                                    "hardware.host_memory_keep_mb=null"]).hardware)
    assert "hardware.float32_matmul_precision=medium on the CPU: torch runs float32 matmuls in bfloat16" in caplog.text


def test_gpu_profiles_set_what_the_seed_asks(compose_cfg):
    laptop = compose_cfg(["hardware=rtx4070_mobile"]).hardware
    assert laptop.precision == "16-mixed" and laptop.max_nodes_per_graph == 1000
    assert (laptop.num_workers, laptop.persistent_workers, laptop.prefetch_factor, laptop.pin_memory) == (4, True, 2, True)
    assert laptop.float32_matmul_precision == "medium" and laptop.cudnn_benchmark
    for name in ("a100", "h100"):
        assert compose_cfg([f"hardware={name}"]).hardware.precision == "bf16-mixed"
    assert compose_cfg(["hardware=cpu"]).hardware.precision == "32-true"


def test_trainer_and_data_take_their_settings_from_hardware(compose_cfg):
    cfg = compose_cfg(["hardware=rtx4070_mobile"])
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert raw["trainer"]["precision"] == "${hardware.precision}"
    assert cfg.trainer.precision == "16-mixed"
    assert not {"num_workers", "pin_memory", "persistent_workers", "prefetch_factor"} & set(raw["data"])  # one home
    loaders = build_data(cfg).loader_kwargs  # the pipeline hands the profile's DataLoader settings over
    assert loaders.pop("worker_init_fn") is worker_start  # workers leave the kept host memory to training
    assert loaders == {"num_workers": 4, "pin_memory": True, "persistent_workers": True, "prefetch_factor": 2}
    assert build(cfg.data, "data").loader_kwargs == {"num_workers": 0, "pin_memory": False}  # built alone


def test_run_dirs_are_timestamped_and_unique(compose_cfg):
    cfg = compose_cfg([])
    run_dir = cfg.hydra.run.dir
    assert "/train/runs/" in run_dir
    stamp = run_dir.rsplit("/", 1)[-1]
    date, time, suffix = stamp.split("_")
    assert len(date) == 10 and len(time) == 8 and len(suffix) == 6


_FAULTS_SCRIPT = """
import ctypes, resource, sys
from trainlab.run.host_memory import keep_host_memory
if sys.argv[1] != "default":
    print(keep_host_memory(int(sys.argv[1])), file=sys.stderr)
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
faults, size = [], 48 << 20  # above the largest threshold glibc adapts to (32 MB)
for _ in range(6):  # a step's buffer: allocated, touched, freed, as activations are every step
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    libc.memset(block, 1, size)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[1:]))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_kept_host_memory_is_reused_without_page_faults():
    """hardware.host_memory_keep_mb: a block freed by one step is reused by the next instead of going
    back to the kernel and being faulted in again, page by page (glibc's default for big blocks)."""
    def faults(keep: str) -> int:
        done = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT, keep], capture_output=True, text=True, check=True)
        return int(done.stdout.strip())

    assert faults("default") > 5 * 10_000  # each 48 MB block mapped anew: ~12,000 faults of 4 kB pages
    assert faults("256") < 1_000


class _Churn(torch.utils.data.Dataset):
    """One item that allocates 4 x 16 MB at once and frees them, as a big decode would; it returns how
    many more free bytes glibc then holds in the worker (mallinfo2's fordblks) and the worker's numpy seed."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[int, int]:
        import ctypes

        class MallInfo2(ctypes.Structure):  # malloc.h
            _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                             "fsmblks", "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        before = libc.mallinfo2().fordblks
        blocks = [np.ones(4 << 20, np.float32) for _ in range(4)]
        del blocks
        return int(libc.mallinfo2().fordblks) - int(before), int(np.random.get_state()[1][0])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_dataloader_workers_give_the_kept_host_memory_back_and_are_still_seeded(compose_cfg, monkeypatch):
    """A forked worker inherited hardware.host_memory_keep_mb and kept what its items freed (up to that
    much per worker); worker_start sets glibc's thresholds back there and seeds the worker as Lightning
    would (it adds its own worker_init_fn only to loaders without one)."""
    from lightning.fabric.utilities.seed import pl_worker_init_function

    keep_host_memory(256)  # the training process's setting, as apply_hardware makes it
    monkeypatch.setenv("PL_SEED_WORKERS", "1")  # seed_everything(workers=True)

    def first_item(init):
        loader = torch.utils.data.DataLoader(_Churn(), batch_size=None, num_workers=1, worker_init_fn=init,
                                             generator=torch.Generator().manual_seed(0))
        return next(iter(loader))

    kept, _ = first_item(None)
    kept_now, seed = first_item(worker_start)
    # of 64 MB freed: most kept before (what earlier tests left free in the arena is reused first), none now
    assert kept > 32 << 20 and kept_now < 1 << 20
    assert seed == first_item(pl_worker_init_function)[1]
    no_keep = compose_cfg(["hardware.num_workers=2", "hardware.host_memory_keep_mb=null"])
    assert "worker_init_fn" not in build_data(no_keep).loader_kwargs  # nothing kept, nothing to give back


def test_host_memory_keep_is_checked(compose_cfg):
    cfg = compose_cfg(["hardware.host_memory_keep_mb=0"])
    with pytest.raises(UserError, match=r"hardware.host_memory_keep_mb=0 must be 1 or more \(or null"):
        apply_hardware(cfg.hardware)
    assert compose_cfg(["hardware.host_memory_keep_mb=null"]).hardware.host_memory_keep_mb is None


def test_one_callbacks_option_chosen_alone_says_what_the_run_lacks(compose_cfg, caplog):
    """callbacks=early_stopping replaced the defaults without a word: the run kept no best checkpoint and wrote no
    epochs.jsonl, and its end said only '(no checkpoint kept)'. callbacks=none and the defaults stay quiet."""
    import logging

    from trainlab.config.checks import warn_lone_callbacks

    with caplog.at_level(logging.WARNING, logger="trainlab.config.checks"):
        warn_lone_callbacks(compose_cfg(["callbacks=early_stopping"]))
        (line,) = caplog.messages
        assert line.startswith("callbacks=early_stopping is chosen instead of the default callbacks, not added to them: "
                               "this run has no model_checkpoint, on_exception, ")
        assert "(no best checkpoint kept; no epochs.jsonl, training_summary.json or curves plot)" in line
        assert "change one (callbacks.early_stopping.<key>=...), drop one (callbacks.<name>=null)" in line
        caplog.clear()
        # a default dropped by its key (callbacks.<name>=null, as the line advises) is meant: it read
        # 'callbacks=default is chosen instead of the default callbacks'
        for quiet in (["callbacks=none"], [], ["callbacks.lr_monitor=null"], ["callbacks.model_checkpoint=null"],
                      ["callbacks.run_records=null"]):
            warn_lone_callbacks(compose_cfg(quiet))
        assert caplog.messages == []
