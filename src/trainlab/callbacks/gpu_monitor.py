"""GPU utilisation, memory and power per training epoch (NVML for the board, torch for the allocator)."""

from __future__ import annotations

import logging
import statistics
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.callbacks.energy import check_interval
from trainlab.callbacks.nvml import SamplingThread, board_name, not_supported, open_nvml, shared_board

log = logging.getLogger(__name__)

GB = 1024**3


class BoardSampler(SamplingThread):
    """Samples utilisation (%) and power (W) of one board from a background thread.

    NVML's utilisation is the share of the last sample period (1/6 s to 1 s, by board) in which a
    kernel ran; sampling it regularly and averaging over an epoch gives the epoch's utilisation.
    Nothing here touches CUDA, so it never waits for the GPU. ``utilisation`` and ``power`` false
    leave out a reading the board does not have (:meth:`GpuMonitor.start` asks once).
    """

    def __init__(self, nvml: Any, handle: Any, interval_s: float = 0.5, utilisation: bool = True,
                 power: bool = True):
        super().__init__(nvml, handle, interval_s, name="gpu-monitor")
        self.utilisation, self.power = utilisation, power
        self._util: list[float] = []
        self._watts: list[float] = []
        self.sample()
        self._start()

    def sample(self) -> None:
        util = float(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu) if self.utilisation else None
        watts = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0 if self.power else None  # mW -> W
        with self._lock:
            if util is not None:
                self._util.append(util)
            if watts is not None:
                self._watts.append(watts)

    def take(self) -> tuple[list[float], list[float]]:
        """The samples since the previous call (utilisation %, watts); starts a new window."""
        self.sample()
        with self._lock:
            util, watts, self._util, self._watts = self._util, self._watts, [], []
        return util, watts


class GpuMonitor(pl.Callback):
    """Per training epoch: ``gpu/utilization_pct`` and ``gpu/power_watts`` (means of NVML samples),
    ``gpu/memory_used_gb`` (the board's memory in use at the epoch's end, every process included),
    ``gpu/peak_allocated_gb`` and ``gpu/peak_reserved_gb`` (this process's tensors and its
    allocator's cache at their highest during the epoch, from torch's allocator statistics).

    The values go to every logger and, through them, to ``epochs.jsonl``; ``summary()`` holds the
    fit's figures for ``training_summary.json``. Nothing here reads a CUDA tensor or synchronises:
    NVML and the allocator's counters are host-side. Each process monitors the GPU it trains on.
    On a machine without an NVIDIA GPU the run says once that there is nothing to monitor.

    Args:
        sample_interval_s: time between two NVML samples (utilisation, power).
    """

    def __init__(self, sample_interval_s: float = 0.5):
        check_interval(sample_interval_s, "callbacks.gpu_monitor.sample_interval_s")
        self.interval = sample_interval_s
        self.sampler: Optional[BoardSampler] = None
        self.device: Optional[torch.device] = None
        self.reason: Optional[str] = None
        self.name = ""
        self.epochs: list[dict[str, float]] = []
        self.shared: Optional[str] = None  # why the board's figures are not this run's alone (gpu_shared)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.sampler is not None:
            return
        nvml, handles, self.reason = open_nvml(trainer)
        if nvml is None:
            log.info("gpu monitor: nothing to monitor, %s", self.reason)
            return
        self.start(nvml, handles[0], trainer.strategy.root_device)  # the GPU this process trains on

    def start(self, nvml: Any, handle: Any, device: torch.device) -> None:
        """Begin sampling ``handle`` (the board of ``device``): each reading the board has, and one line
        naming those it has not (utilisation on a MIG instance, power on some laptop boards; a MIG
        instance's power is the whole GPU's, so it is not taken for the run's)."""
        self.device = device
        self.name = board_name(nvml, handle)
        missing = {"utilisation": not_supported(nvml, nvml.nvmlDeviceGetUtilizationRates, handle),
                   "power": shared_board(nvml, handle) or not_supported(nvml, nvml.nvmlDeviceGetPowerUsage, handle)}
        self.sampler = BoardSampler(nvml, handle, self.interval, utilisation=missing["utilisation"] is None,
                                    power=missing["power"] is None)
        self._nvml, self._handle = nvml, handle
        log.info("gpu monitor: %s (%s), NVML samples every %.2f s", self.name, device, self.interval)
        for what, why in missing.items():
            if why is not None:
                log.info("gpu monitor: no %s figures for %s (%s)", what, self.name, why)

    def _stopped(self, exc: Exception) -> None:
        """NVML stopped answering during training: one line, and no more figures (training goes on)."""
        self.reason = f"NVML stopped answering during training ({exc})"
        log.warning("gpu monitor: stopped, %s", self.reason)
        self.close()

    def gpu_shared(self, why: str) -> None:
        """The GPU runs other trials of a sweep at the same time (:class:`trainlab.callbacks.nvml.SharedGpu`): its
        utilisation, power and memory in use are the board's, theirs included; said once, and in the summary."""
        if self.shared is None:
            self.shared = why
            log.info("gpu monitor: the GPU is shared (%s): its utilisation, power and memory in use are the board's, "
                     "the other trials' included", why)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.sampler is None:
            return
        try:
            self.sampler.take()  # start the epoch's window (drops validation and set-up samples)
        except self._nvml.NVMLError as exc:
            self._stopped(exc)
            return
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def epoch_figures(self) -> dict[str, float]:
        """The current epoch's figures (the window opened by on_train_epoch_start)."""
        util, watts = self.sampler.take()
        figures = {"gpu/memory_used_gb": self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / GB}
        if util:
            figures["gpu/utilization_pct"] = statistics.fmean(util)
        if watts:
            figures["gpu/power_watts"] = statistics.fmean(watts)
        if self.device is not None and self.device.type == "cuda":
            figures["gpu/peak_allocated_gb"] = torch.cuda.max_memory_allocated(self.device) / GB
            figures["gpu/peak_reserved_gb"] = torch.cuda.max_memory_reserved(self.device) / GB
        return figures

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.sampler is None:
            return
        try:
            figures = self.epoch_figures()
        except self._nvml.NVMLError as exc:
            self._stopped(exc)
            return
        self.epochs.append(figures)
        for key, value in figures.items():
            pl_module.log(key, value, on_step=False, on_epoch=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
            self.sampler = None

    def summary(self) -> dict[str, Any]:
        """The fit's figures: mean utilisation and power over epochs, the highest memory figures."""
        if not self.epochs:
            return {"monitored": False, "reason": self.reason or "no training epoch finished"}
        out: dict[str, Any] = {"monitored": True, "device": self.name, "epochs": len(self.epochs)}
        if self.reason:  # it stopped after these epochs
            out["stopped"] = self.reason
        if self.shared:
            out["shared"] = self.shared
        for key in ("gpu/utilization_pct", "gpu/power_watts"):
            values = [e[key] for e in self.epochs if key in e]
            if values:
                out[f"mean_{key.split('/')[1]}"] = statistics.fmean(values)
        for key in ("gpu/memory_used_gb", "gpu/peak_allocated_gb", "gpu/peak_reserved_gb"):
            values = [e[key] for e in self.epochs if key in e]
            if values:
                out[f"max_{key.split('/')[1]}"] = max(values)
        return out
