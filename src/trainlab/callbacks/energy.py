"""GPU energy accounting on NVML (package nvidia-ml-py, module ``pynvml``).

Volta and newer boards keep a total-energy counter (millijoules since the driver loaded): reading
it at the edges of an epoch, after a CUDA synchronise, gives that epoch's energy exactly. Older
boards only report instantaneous power; there a background thread samples it and integrates with
the trapezoid rule. Without an NVIDIA GPU or driver nothing is measured and nothing is made up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from trainlab.callbacks.nvml import SamplingThread, board_name, on_nvidia, open_nvml, shared_board
from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

# IEA, Global Energy & CO2 Status Report 2019: world-average carbon intensity of electricity
# generation, 475 g CO2 per kWh. Set energy.grid_g_co2_per_kwh to your grid's value.
DEFAULT_GRID_G_CO2_PER_KWH = 475.0


@dataclass
class EnergyFigures:
    """Energy over an interval, with what follows from it."""

    joules: float
    seconds: float
    grid_g_co2_per_kwh: float

    @property
    def watt_hours(self) -> float:
        return self.joules / 3600.0

    @property
    def mean_watts(self) -> float:
        return self.joules / self.seconds if self.seconds > 0 else 0.0

    @property
    def co2_grams(self) -> float:
        return self.watt_hours / 1000.0 * self.grid_g_co2_per_kwh

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}joules": self.joules, f"{prefix}watt_hours": self.watt_hours,
                f"{prefix}mean_watts": self.mean_watts, f"{prefix}co2_grams": self.co2_grams}


class CounterReader:
    """Cumulative joules from the board's total-energy counter (Volta and newer)."""

    def __init__(self, nvml: Any, handle: Any):
        self.nvml, self.handle = nvml, handle
        self.origin = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # mJ; raises if unsupported

    def joules(self) -> float:
        return (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self.origin) / 1000.0

    def close(self) -> None:
        pass


def check_interval(seconds: float, key: str) -> None:
    """A sampling thread's period: 0 or less would make it spin, taking a core from training (on a GPU machine;
    elsewhere nothing is sampled, and the setting would pass unnoticed until then)."""
    if not seconds > 0:
        raise UserError(f"{key}={seconds} must be more than 0 seconds (e.g. 0.1)")


class SamplingReader(SamplingThread):
    """Cumulative joules integrated from power samples taken by a background thread."""

    def __init__(self, nvml: Any, handle: Any, interval_s: float = 0.1, clock=time.monotonic):
        super().__init__(nvml, handle, interval_s, name="energy-sampler")
        self.clock = clock
        self._total = 0.0
        self._last = (self.clock(), self._watts())
        self._start()

    def _watts(self) -> float:
        return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0  # mW -> W

    def sample(self) -> None:
        """Add the trapezoid from the previous sample to now."""
        now, watts = self.clock(), self._watts()
        with self._lock:
            then, before = self._last
            self._total += 0.5 * (before + watts) * (now - then)
            self._last = (now, watts)

    def joules(self) -> float:
        self.sample()
        with self._lock:
            return self._total


def open_readers(nvml: Any, handles: list[Any], interval_s: float) -> tuple[list[Any], Optional[str]]:
    """(One reader per device, None): the counter where the board has one, else power sampling; or
    ([], why not) where a board gives no reading that is this run's: neither counter nor power (NVML's
    NotSupported), or a MIG instance (:func:`trainlab.callbacks.nvml.shared_board`). A total over some of
    the boards only would pass for the whole, so one such board means nothing is measured.
    """
    readers: list[Any] = []
    for handle in handles:
        why = shared_board(nvml, handle)
        if why is None:
            try:
                readers.append(CounterReader(nvml, handle))
                continue
            except nvml.NVMLError:  # NotSupported on boards older than Volta (and on some since)
                pass
            try:
                readers.append(SamplingReader(nvml, handle, interval_s))
                continue
            except nvml.NVMLError as exc:  # no power reading either (some laptop boards)
                why = f"{board_name(nvml, handle)} reports neither an energy counter nor its power (NVML: {exc})"
        for reader in readers:
            reader.close()
        return [], why
    return readers, None


class EnergyMeter(pl.Callback):
    """Energy of every training epoch and of the whole fit, on the GPUs this run uses.

    Logs ``energy/epoch_joules``, ``energy/epoch_watt_hours``, ``energy/epoch_mean_watts`` and
    ``energy/epoch_co2_grams`` each epoch (to every logger, and so to epochs.jsonl); ``summary()``
    holds the totals, which RunRecords writes into training_summary.json.

    Under DDP each process meters the one GPU it trains on (after synchronising that GPU) and the
    figures are the sum over all processes, on every node; where one process cannot measure its GPU,
    none is given, rather than a part passed off as the whole.

    Args:
        grid_g_co2_per_kwh: carbon intensity of the electricity, g CO2 per kWh (default: IEA 2019
            world average, 475).
        sample_interval_s: power sampling period on boards without an energy counter.
    """

    def __init__(self, grid_g_co2_per_kwh: float = DEFAULT_GRID_G_CO2_PER_KWH, sample_interval_s: float = 0.1):
        if grid_g_co2_per_kwh < 0:
            raise UserError(f"callbacks.energy.grid_g_co2_per_kwh={grid_g_co2_per_kwh} must be 0 or more (g CO2 per "
                            f"kWh of your grid; {DEFAULT_GRID_G_CO2_PER_KWH:g}, the world average, by default)")
        check_interval(sample_interval_s, "callbacks.energy.sample_interval_s")
        self.grid, self.interval = grid_g_co2_per_kwh, sample_interval_s
        self.readers: list[Any] = []
        self.reason: Optional[str] = None
        self._fit: Optional[tuple[float, float]] = None  # (time, joules) at fit start
        self._epoch: Optional[tuple[float, float]] = None
        self._strategy: Any = None  # the trainer's strategy where GPU processes add up their figures
        self._processes = 1
        self.shared: Optional[str] = None  # why the GPU's readings are not this run's (gpu_shared)
        self.total: Optional[EnergyFigures] = None

    def _joules(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # count the work queued so far, not just what has been launched
        return sum(r.joules() for r in self.readers)

    def _read(self) -> Optional[float]:
        """This process's joules so far, or None where there are no readers or NVML stopped answering during
        training (a GPU lost, a driver reloaded): then once a line saying so, and nothing more is measured."""
        if not self.readers:
            return None
        try:
            return self._joules()
        except tuple({r.nvml.NVMLError for r in self.readers}) as exc:
            self.reason = f"NVML stopped answering during training ({exc})"
            log.warning("energy: not measured, %s", self.reason)
            self.teardown_readers()
            return None

    def gpu_shared(self, why: str) -> None:
        """The GPU runs other trials of a sweep at the same time (:class:`trainlab.callbacks.nvml.SharedGpu`):
        its counter and power are theirs too, so nothing is measured (said once, before or after set-up)."""
        if self.shared is not None:
            return
        self.shared = f"the GPU is shared: {why}, whose energy its counter and power include"
        self.teardown_readers()
        self._strategy = None  # every process of the trial is told alike: none takes part in a sum
        self.reason = self.shared
        log.info("energy: not measured, %s", self.reason)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.readers or self.shared is not None:
            return
        nvml, handles, self.reason = open_nvml(trainer)
        if nvml is not None:
            self.readers, self.reason = open_readers(nvml, handles, self.interval)
        # every GPU process takes part in the sum, measured or not, so that none waits for another
        self._strategy = trainer.strategy if trainer.world_size > 1 and on_nvidia(trainer) else None
        self._processes = trainer.world_size
        if self.reason:
            log.info("energy: not measured, %s", self.reason)
        else:
            kinds = sorted({type(r).__name__ for r in self.readers})
            log.info("energy: measuring %d GPU(s) with %s", len(self.readers), ", ".join(kinds))

    def _since(self, mark: Optional[tuple[float, float]]) -> Optional[EnergyFigures]:
        """The figures since ``mark``, summed over the GPU processes; None where a process measured nothing."""
        joules = self._read() if mark is not None else None
        own = EnergyFigures(joules - mark[1], time.perf_counter() - mark[0], self.grid) if joules is not None else None
        if self._strategy is None:
            return own
        mine = [own.joules if own else 0.0, 0.0 if own else 1.0]
        joules, unmeasured = self._strategy.reduce(torch.tensor(mine, dtype=torch.float64,
                                                                device=self._strategy.root_device),
                                                   reduce_op="sum").tolist()
        if unmeasured:
            if own is not None and self.reason is None:
                self.reason = (f"{int(unmeasured)} of the {self._processes} GPU processes measured nothing "
                               "(each one's log says why)")
                log.info("energy: not measured, %s", self.reason)
            return None
        return EnergyFigures(joules, own.seconds, self.grid)

    def _mark(self) -> Optional[tuple[float, float]]:
        joules = self._read()
        return (time.perf_counter(), joules) if joules is not None else None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit = self._mark()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch = self._mark()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        figures = self._since(self._epoch)
        if figures is None:
            return
        for key, value in figures.as_dict("energy/epoch_").items():
            pl_module.log(key, value, on_step=False, on_epoch=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.total = self._since(self._fit)
        self.teardown_readers()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.teardown_readers()

    def teardown_readers(self) -> None:
        for reader in self.readers:
            reader.close()
        self.readers = []

    def summary(self) -> dict[str, Any]:
        if self.total is None:
            return {"measured": False, "reason": self.reason or "no fit finished"}
        return {"measured": True, **self.total.as_dict(), "seconds": self.total.seconds,
                "grid_g_co2_per_kwh": self.grid}
