"""GPU monitoring against a fake NVML: per-epoch utilisation, memory and power, and the summary."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch

from tests.gpu_fakes import FakeNVML
from trainlab.callbacks.gpu_monitor import GB, BoardSampler, GpuMonitor


class MonitoredNVML(FakeNVML):
    """FakeNVML plus utilisation (scripted per call), memory in use and the board's name."""

    def __init__(self, utilisation: list[int] | None, used_bytes: int, power_mw: int | None = 150_000,
                 mig: dict | None = None):
        super().__init__(power_mw={"idx0": power_mw} if power_mw is not None else {}, mig=mig)
        self.utilisation, self.used_bytes = list(utilisation or []), used_bytes

    def nvmlDeviceGetUtilizationRates(self, handle):
        if not self.utilisation:
            raise self.NVMLError("Not Supported")  # as on a MIG instance
        value = self.utilisation.pop(0) if len(self.utilisation) > 1 else self.utilisation[0]
        return SimpleNamespace(gpu=value, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=self.used_bytes, total=80 * GB, free=80 * GB - self.used_bytes)

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA Fake 80GB"


class Module:
    def __init__(self):
        self.logged: dict[str, list[float]] = {}

    def log(self, key, value, **kwargs):
        self.logged.setdefault(key, []).append(value)


def test_epoch_figures_are_means_of_the_epochs_samples():
    # samples: start()'s question whether the board has utilisation, 1 at start (dropped by the first
    # epoch's start), then per take(): one each
    nvml = MonitoredNVML(utilisation=[5, 5, 5, 80, 100, 40, 60], used_bytes=3 * GB)
    monitor = GpuMonitor(sample_interval_s=3600)  # the thread never fires: samples come from take()
    monitor.start(nvml, "idx0", torch.device("cpu"))
    module = Module()
    try:
        monitor.on_train_epoch_start(None, module)  # takes 5, 5 (set-up samples, dropped)
        monitor.sampler.sample()  # 80
        monitor.on_train_epoch_end(None, module)  # + 100 at the end: mean 90
        monitor.on_train_epoch_start(None, module)  # 40, dropped (validation time)
        monitor.on_train_epoch_end(None, module)  # 60
    finally:
        monitor.close()
    assert module.logged["gpu/utilization_pct"] == [pytest.approx(90.0), pytest.approx(60.0)]
    assert module.logged["gpu/memory_used_gb"] == [pytest.approx(3.0)] * 2
    assert module.logged["gpu/power_watts"] == [pytest.approx(150.0)] * 2
    assert "gpu/peak_allocated_gb" not in module.logged  # torch's allocator figures exist on CUDA only
    summary = monitor.summary()
    assert summary == {"monitored": True, "device": "NVIDIA Fake 80GB", "epochs": 2,
                       "mean_utilization_pct": pytest.approx(75.0), "mean_power_watts": pytest.approx(150.0),
                       "max_memory_used_gb": pytest.approx(3.0)}


def test_boards_without_power_readings_still_report_utilisation():
    nvml = MonitoredNVML(utilisation=[50], used_bytes=GB, power_mw=None)
    sampler = BoardSampler(nvml, "idx0", interval_s=0.01, power=False)
    time.sleep(0.1)
    util, watts = sampler.take()
    sampler.close()
    assert len(util) >= 3 and set(util) == {50.0} and watts == []  # the thread sampled on its own


def test_no_epoch_no_figures():
    assert GpuMonitor().summary() == {"monitored": False, "reason": "no training epoch finished"}


def test_a_mig_instance_is_monitored_for_memory_and_says_what_it_lacks(caplog):
    """NVML has no utilisation for a MIG instance (NotSupported) and its power is the whole GPU's. Before:
    the first utilisation sample raised NVMLError out of setup, and the run crashed."""
    nvml = MonitoredNVML(utilisation=None, used_bytes=2 * GB, mig={"idx0": "instance"})
    monitor = GpuMonitor(sample_interval_s=3600)
    module = Module()
    with caplog.at_level("INFO", logger="trainlab.callbacks.gpu_monitor"):
        monitor.start(nvml, "idx0", torch.device("cpu"))
    try:
        monitor.on_train_epoch_start(None, module)
        monitor.on_train_epoch_end(None, module)
    finally:
        monitor.close()
    assert module.logged == {"gpu/memory_used_gb": [pytest.approx(2.0)]}
    assert "gpu monitor: no utilisation figures for NVIDIA Fake 80GB (Not Supported)" in caplog.text
    assert "gpu monitor: no power figures for NVIDIA Fake 80GB (NVIDIA Fake 80GB is a MIG instance: " in caplog.text


def test_a_board_without_power_says_so_once(caplog):
    nvml = MonitoredNVML(utilisation=[50], used_bytes=GB, power_mw=None)
    monitor = GpuMonitor(sample_interval_s=3600)
    with caplog.at_level("INFO", logger="trainlab.callbacks.gpu_monitor"):
        monitor.start(nvml, "idx0", torch.device("cpu"))
    monitor.close()
    assert caplog.text.count("gpu monitor: no power figures for NVIDIA Fake 80GB (Not Supported)") == 1


def test_a_gpu_lost_during_training_stops_the_monitor_not_the_run(caplog):
    """Before: the NVMLError of the epoch's last sample ended the run at the epoch's end."""
    nvml = MonitoredNVML(utilisation=[50], used_bytes=GB)
    monitor = GpuMonitor(sample_interval_s=3600)
    monitor.start(nvml, "idx0", torch.device("cpu"))
    module = Module()
    monitor.on_train_epoch_start(None, module)
    monitor.on_train_epoch_end(None, module)
    nvml.utilisation = []  # from now on: NVMLError
    nvml.nvmlDeviceGetUtilizationRates = lambda handle: (_ for _ in ()).throw(nvml.NVMLError("GPU is lost"))
    with caplog.at_level("WARNING", logger="trainlab.callbacks.gpu_monitor"):
        monitor.on_train_epoch_start(None, module)
        monitor.on_train_epoch_end(None, module)
    assert monitor.sampler is None and len(module.logged["gpu/memory_used_gb"]) == 1
    assert caplog.text.count("gpu monitor: stopped, NVML stopped answering during training (GPU is lost)") == 1
    assert monitor.summary()["stopped"] == "NVML stopped answering during training (GPU is lost)"


def test_a_shared_gpus_figures_are_marked_as_the_boards(caplog):
    from tests.gpu_fakes import cuda_trainer
    from trainlab.callbacks.nvml import SharedGpu

    monitor = GpuMonitor(sample_interval_s=3600)
    monitor.start(MonitoredNVML(utilisation=[50], used_bytes=GB), "idx0", torch.device("cpu"))
    trainer = cuda_trainer(0)
    trainer.callbacks = [monitor]
    with caplog.at_level("INFO", logger="trainlab.callbacks.gpu_monitor"):
        SharedGpu("2 trials at once on 1 GPU(s)").setup(trainer, None, "fit")
    module = Module()
    monitor.on_train_epoch_start(None, module)
    monitor.on_train_epoch_end(None, module)
    monitor.close()
    assert monitor.summary()["shared"] == "2 trials at once on 1 GPU(s)"
    assert "gpu monitor: the GPU is shared (2 trials at once on 1 GPU(s)): its utilisation, power" in caplog.text
