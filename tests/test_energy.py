"""Energy accounting against a fake NVML: the counter path, the sampling path, no GPU at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TINY
from tests.gpu_fakes import Board, FakeMachine, FakeNVML, SummingStrategy, cuda_trainer
from trainlab.callbacks.energy import CounterReader, EnergyFigures, EnergyMeter, SamplingReader, open_readers


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_figures_arithmetic():
    f = EnergyFigures(joules=7200.0, seconds=60.0, grid_g_co2_per_kwh=400.0)
    assert f.watt_hours == pytest.approx(2.0)
    assert f.mean_watts == pytest.approx(120.0)
    assert f.co2_grams == pytest.approx(0.8)  # 0.002 kWh x 400 g/kWh
    assert f.as_dict("e/")["e/joules"] == 7200.0


def test_counter_path_reads_the_difference_in_joules():
    nvml = FakeNVML(counters={"idx0": [10_000, 15_000, 22_500]})
    reader = CounterReader(nvml, "idx0")  # origin 10,000 mJ
    assert reader.joules() == pytest.approx(5.0)
    assert reader.joules() == pytest.approx(12.5)


def test_sampling_path_integrates_power_with_trapezoids():
    clock = Clock()
    watts = {"w": 100_000}  # 100 W in mW
    nvml = FakeNVML(power_mw={"idx1": lambda: watts["w"]})
    reader = SamplingReader(nvml, "idx1", interval_s=3600, clock=clock)  # the thread never fires
    try:
        clock.now = 2.0
        assert reader.joules() == pytest.approx(200.0)  # 100 W for 2 s
        watts["w"] = 300_000
        clock.now = 3.0
        assert reader.joules() == pytest.approx(400.0)  # + (100 + 300) / 2 W for 1 s
    finally:
        reader.close()


def test_sampling_thread_samples_on_its_own():
    nvml = FakeNVML(power_mw={"idx0": 50_000})
    reader = SamplingReader(nvml, "idx0", interval_s=0.01)
    import time

    time.sleep(0.2)
    total = reader._total
    reader.close()
    assert total > 0  # the background thread added samples without being asked


def test_readers_chosen_per_board():
    nvml = FakeNVML(counters={"idx0": [0]}, power_mw={"idx1": 1000})
    readers, why = open_readers(nvml, ["idx0", "idx1"], interval_s=3600)
    try:
        assert why is None
        assert [type(r) for r in readers] == [CounterReader, SamplingReader]
    finally:
        for r in readers:
            r.close()


def test_meter_logs_each_epoch_and_totals(monkeypatch):
    nvml = FakeNVML(counters={"idx0": [0, 1_000, 1_000, 31_000, 31_000, 61_000]})
    meter = EnergyMeter(grid_g_co2_per_kwh=500.0)
    meter.readers = [CounterReader(nvml, "idx0")]  # origin reading 0 mJ
    logged: dict[str, list[float]] = {}

    class Module:
        def log(self, key, value, **kwargs):
            logged.setdefault(key, []).append(value)

    ticks = iter([0.0, 1.0, 11.0, 11.0, 21.0, 21.0])
    monkeypatch.setattr("trainlab.callbacks.energy.time.perf_counter", lambda: next(ticks))
    meter.on_fit_start(None, Module())  # t=0, 1 J (counter 1,000 mJ)
    meter.on_train_epoch_start(None, Module())  # t=1, 1 J
    meter.on_train_epoch_end(None, Module())  # t=11, 31 J: 30 J in 10 s
    assert logged["energy/epoch_joules"] == [pytest.approx(30.0)]
    assert logged["energy/epoch_mean_watts"] == [pytest.approx(3.0)]
    meter.on_train_epoch_start(None, Module())
    meter.on_train_end(None, Module())  # t=21 (second call: fit end), 61 J
    summary = meter.summary()
    assert summary["measured"] and summary["joules"] == pytest.approx(60.0)
    assert summary["co2_grams"] == pytest.approx(60 / 3.6e6 * 500)


def test_no_gpu_means_no_numbers(compose_cfg, run_train, caplog):
    cfg = compose_cfg([*TINY])
    with caplog.at_level("INFO", logger="trainlab.callbacks"):
        run_train(cfg)
    assert "energy: not measured, the run is not on an NVIDIA GPU" in caplog.text
    assert caplog.text.count("gpu monitor: nothing to monitor, the run is not on an NVIDIA GPU") == 1
    run_dir = Path(cfg.paths.output_dir)
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert summary["energy"] == {"measured": False, "reason": "the run is not on an NVIDIA GPU"}
    assert summary["gpu"] == {"monitored": False, "reason": "the run is not on an NVIDIA GPU"}
    for line in (run_dir / "epochs.jsonl").read_text().splitlines():
        assert not any(k.startswith(("energy/", "gpu/")) for k in json.loads(line))


def test_gpu_run_without_driver_is_one_info_line(monkeypatch, caplog):
    import pynvml

    def no_library():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)

    meter = EnergyMeter()
    with caplog.at_level("INFO", logger="trainlab.callbacks.energy"):
        meter.setup(cuda_trainer(0), None, "fit")
    assert meter.readers == [] and "NVMLError_LibraryNotFound" in meter.reason
    assert caplog.text.count("energy: not measured") == 1
    assert meter.summary()["measured"] is False


def fitting_meter(monkeypatch, nvml, handles: list) -> EnergyMeter:
    """An EnergyMeter set up for a fit on ``handles`` of ``nvml`` (as open_nvml would hand them over)."""
    monkeypatch.setattr("trainlab.callbacks.energy.open_nvml", lambda trainer: (nvml, handles, None))
    meter = EnergyMeter(sample_interval_s=3600)
    meter.setup(cuda_trainer(0), None, "fit")
    return meter


@pytest.mark.parametrize("board, why", [
    (FakeNVML(), "NVIDIA Fake reports neither an energy counter nor its power (NVML: Not Supported)"),
    (FakeNVML(counters={"idx0": [0]}, power_mw={"idx0": 1}, mig={"idx0": "instance"}),
     "NVIDIA Fake is a MIG instance: NVML's power and energy are the whole GPU's, shared with its other instances"),
    (FakeNVML(counters={"idx0": [0]}, mig={"idx0": "mode"}),
     "NVIDIA Fake is in MIG mode: NVML's power and energy are the whole GPU's, shared with its instances"),
])
def test_a_board_without_a_reading_of_its_own_is_one_line_not_a_crash(monkeypatch, caplog, board, why):
    """Before: a board with neither counter nor power raised NVMLError out of setup (the run crashed), and
    a MIG instance was measured with the whole GPU's counter (other tenants' energy counted as the run's)."""
    with caplog.at_level("INFO", logger="trainlab.callbacks.energy"):
        meter = fitting_meter(monkeypatch, board, ["idx0"])
    assert meter.readers == [] and meter.reason == why
    assert caplog.text.count("energy: not measured") == 1 and why in caplog.text
    assert meter.summary() == {"measured": False, "reason": why}


def test_one_unmeasurable_board_means_no_partial_total(monkeypatch):
    nvml = FakeNVML(counters={"idx0": [0]})  # idx1: neither counter nor power
    meter = fitting_meter(monkeypatch, nvml, ["idx0", "idx1"])
    assert meter.readers == [] and "neither an energy counter nor its power" in meter.reason


def test_readers_opened_before_an_unmeasurable_board_are_closed(monkeypatch):
    """The power-sampling thread of a board opened before one without readings stops with the total it can no
    longer be part of (it sampled on, unread, for the whole fit)."""
    opened, start = [], SamplingReader.__init__
    monkeypatch.setattr(SamplingReader, "__init__", lambda self, *a, **k: (start(self, *a, **k), opened.append(self))[0])
    nvml = FakeNVML(power_mw={"idx0": 1000})  # idx0: power only, sampled; idx1: neither counter nor power
    meter = fitting_meter(monkeypatch, nvml, ["idx0", "idx1"])
    assert meter.readers == [] and len(opened) == 1
    assert opened[0]._stop.is_set()  # its thread ends at its next wake-up


# -- which board: CUDA's device, found in NVML by its UUID -------------------------------------------------
# PCI bus order (NVML's indices): a T4 first, then two A100s; CUDA puts the A100s first (fastest first).
T4, A100_1, A100_2 = (Board("GPU-1111aaaa-0000", "Tesla T4", speed=1, major=7), Board("GPU-2222bbbb-0000", "A100 #1", speed=3),
                      Board("GPU-3333cccc-0000", "A100 #2", speed=3))
MIG = Board("MIG-4444dddd-0000", "A100 MIG 1g.10gb")


@pytest.mark.parametrize("env, device, board", [
    ({}, 0, A100_1),  # fastest first: cuda:0 is an A100, NVML's index 0 the T4 (before: the T4 was read)
    ({"CUDA_VISIBLE_DEVICES": "0"}, 0, A100_1),  # index 0 in CUDA's order (before: NVML's 0, the T4)
    ({"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "2,0"}, 0, A100_2),
    ({"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "2,0"}, 1, T4),
    ({"CUDA_VISIBLE_DEVICES": "GPU-3333"}, 0, A100_2),  # a UUID's prefix (before: NVML found none)
    ({"CUDA_VISIBLE_DEVICES": "GPU-1111aaaa-0000,GPU-2222bbbb-0000"}, 1, A100_1),
    ({"CUDA_VISIBLE_DEVICES": "MIG-4444dddd-0000"}, 0, MIG),
])
def test_nvml_reads_the_board_cuda_trains_on(monkeypatch, env, device, board):
    """NVML numbers the boards in PCI order whatever CUDA_VISIBLE_DEVICES says; CUDA numbers the visible
    ones, fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID. Before, cuda:i went to NVML by the i-th entry
    of CUDA_VISIBLE_DEVICES (or NVML's index i), which is another board in the cases marked above."""
    import sys

    from trainlab.callbacks.nvml import open_nvml

    for key in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nvml = FakeMachine([T4, A100_1, A100_2], migs=[MIG]).install(monkeypatch)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    module, handles, why = open_nvml(cuda_trainer(device))
    assert why is None and handles == [board.uuid]


def test_a_device_nvml_does_not_know_is_not_guessed(monkeypatch):
    import sys

    from trainlab.callbacks.nvml import open_nvml

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = FakeMachine([T4]).install(monkeypatch)
    nvml.machine = FakeMachine([A100_1])  # NVML sees another machine's board (a container's stale libnvidia-ml)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert open_nvml(cuda_trainer(0)) == (None, [], "NVML finds no GPU with the UUID of cuda:0 (1111aaaa-0000)")


# -- DDP: each process meters its own GPU, the figures are the sum over processes ---------------------------
def test_each_ddp_process_meters_only_its_own_gpu(monkeypatch):
    """Before, every process opened a reader on every GPU of trainer.device_ids: two processes metered
    both boards each (double the readers, and a board read without its own process's CUDA synchronise)."""
    import sys

    from trainlab.callbacks.nvml import open_nvml

    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", FakeMachine([T4, A100_1, A100_2]).install(monkeypatch))
    assert [open_nvml(cuda_trainer(1, 2, rank=rank))[1] for rank in (0, 1)] == [[A100_1.uuid], [A100_2.uuid]]


def ddp_meter(monkeypatch, nvml, handles, strategy) -> EnergyMeter:
    monkeypatch.setattr("trainlab.callbacks.energy.open_nvml", lambda trainer: (nvml, handles, None) if handles
                        else (None, [], "NVML is not usable (NVMLError_Unknown: Unknown Error)"))
    meter = EnergyMeter(grid_g_co2_per_kwh=500.0, sample_interval_s=3600)
    meter.setup(cuda_trainer(0, 1, strategy=strategy), None, "fit")
    return meter


def test_ddp_figures_are_the_sum_over_the_processes(monkeypatch):
    """This process's GPU used 10 J, the other's 25 J: 35 J logged and totalled, on every node. Before, each
    process's own figures (over the boards of its node) were logged and written, rank 0's only."""
    nvml = FakeNVML(counters={"idx0": [0, 0, 0, 10_000, 10_000]})
    module = type("Module", (), {"logged": {}, "log": lambda self, k, v, **kw: self.logged.setdefault(k, []).append(v)})()
    meter = ddp_meter(monkeypatch, nvml, ["idx0"], SummingStrategy([25.0, 0.0], [25.0, 0.0]))
    meter.on_fit_start(None, module)
    meter.on_train_epoch_start(None, module)
    meter.on_train_epoch_end(None, module)
    meter.on_train_end(None, module)
    assert module.logged["energy/epoch_joules"] == [pytest.approx(35.0)]
    assert meter.summary()["joules"] == pytest.approx(35.0)


def test_ddp_with_one_process_unmeasured_gives_no_total(monkeypatch, caplog):
    """The other process measured nothing: no figure at all (a half passed off as the whole is worse), in
    one line; and a process that measured nothing still takes part in the sum, so no process waits."""
    nvml = FakeNVML(counters={"idx0": [0, 0, 0, 10_000, 10_000]})
    module = type("Module", (), {"logged": {}, "log": lambda self, k, v, **kw: self.logged.setdefault(k, []).append(v)})()
    measuring = ddp_meter(monkeypatch, nvml, ["idx0"], SummingStrategy([0.0, 1.0], [0.0, 1.0]))
    with caplog.at_level("INFO", logger="trainlab.callbacks.energy"):
        for hook in ("on_fit_start", "on_train_epoch_start", "on_train_epoch_end", "on_train_end"):
            getattr(measuring, hook)(None, module)
    assert module.logged == {}
    assert measuring.summary() == {"measured": False,
                                   "reason": "1 of the 2 GPU processes measured nothing (each one's log says why)"}
    assert caplog.text.count("energy: not measured") == 1
    unmeasured = ddp_meter(monkeypatch, nvml, [], SummingStrategy([10.0, 0.0], [10.0, 0.0]))
    unmeasured.on_train_epoch_end(None, module)
    unmeasured.on_train_end(None, module)
    assert unmeasured.summary()["reason"].startswith("NVML is not usable") and not unmeasured._strategy.others


# -- NVML that stops answering during training (a GPU lost, a driver reloaded) -------------------------------
class LostNVML(FakeNVML):
    """Answers ``answers`` readings (energy or power), then NVML_ERROR_GPU_IS_LOST."""

    def __init__(self, answers: int, **readings):
        super().__init__(**readings)
        self.answers = answers

    def _answer(self):
        self.answers -= 1
        if self.answers < 0:
            raise self.NVMLError("GPU is lost")

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self._answer()
        return super().nvmlDeviceGetTotalEnergyConsumption(handle)

    def nvmlDeviceGetPowerUsage(self, handle):
        self._answer()
        return super().nvmlDeviceGetPowerUsage(handle)


def test_a_gpu_lost_during_training_ends_the_measurement_not_the_run(monkeypatch, caplog):
    """Before: the NVMLError of the epoch's last reading ended the run at the epoch's end."""
    nvml = LostNVML(answers=3, counters={"idx0": [0, 0, 5_000]})  # opening, fit start, epoch start; then lost
    meter = fitting_meter(monkeypatch, nvml, ["idx0"])
    module = type("Module", (), {"logged": {}, "log": lambda self, k, v, **kw: self.logged.setdefault(k, []).append(v)})()
    with caplog.at_level("INFO", logger="trainlab.callbacks.energy"):
        for hook in ("on_fit_start", "on_train_epoch_start", "on_train_epoch_end", "on_train_epoch_start",
                     "on_train_epoch_end", "on_train_end"):
            getattr(meter, hook)(None, module)
    assert module.logged == {} and meter.readers == []
    assert meter.summary() == {"measured": False, "reason": "NVML stopped answering during training (GPU is lost)"}
    assert caplog.text.count("energy: not measured") == 1


def test_a_sampling_thread_whose_board_is_lost_ends_quietly(monkeypatch):
    """Before: the thread died with NVMLError's traceback printed into the run's output."""
    import threading
    import time

    died = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    reader = SamplingReader(LostNVML(answers=2, power_mw={"idx0": 50_000}), "idx0", interval_s=0.01)
    time.sleep(0.2)
    assert not reader._thread.is_alive() and died == []
    with pytest.raises(FakeNVML.NVMLError, match="GPU is lost"):  # the meter's next reading hears of it
        reader.joules()
    reader.close()


# -- a sweep's trials at once on one GPU: the board's readings are not one trial's ---------------------------
@pytest.mark.parametrize("told_first", [False, True])
def test_a_trial_on_a_shared_gpu_measures_nothing_and_says_why(monkeypatch, caplog, told_first):
    """Two trials at once on a laptop's one GPU: its counter counts both. Before, each trial wrote the board's
    energy as its own (the two trials' figures together counted the board twice)."""
    from trainlab.callbacks.nvml import SharedGpu

    nvml = FakeNVML(counters={"idx0": [0, 0, 10_000]})
    meter = EnergyMeter(sample_interval_s=3600)
    monkeypatch.setattr("trainlab.callbacks.energy.open_nvml", lambda trainer: (nvml, ["idx0"], None))
    trainer = cuda_trainer(0)
    trainer.callbacks = [meter]
    hooks = [lambda: SharedGpu("2 trials at once on 1 GPU(s)").setup(trainer, None, "fit"),
             lambda: meter.setup(trainer, None, "fit")]
    with caplog.at_level("INFO", logger="trainlab.callbacks.energy"):
        for hook in hooks if told_first else hooks[::-1]:
            hook()
        meter.on_fit_start(None, None)
        meter.on_train_end(None, None)
    why = "the GPU is shared: 2 trials at once on 1 GPU(s), whose energy its counter and power include"
    assert meter.readers == [] and meter.summary() == {"measured": False, "reason": why}
    assert caplog.text.count("energy: not measured, the GPU is shared") == 1
