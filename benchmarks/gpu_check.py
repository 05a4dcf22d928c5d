"""One command that checks the GPU path on a machine with one NVIDIA GPU: ``make gpu-check``.

Unattended, offline, within about 8 minutes; writes ``gpu_report.json`` and ``gpu_report.md`` into
``--out`` and ends with a one-screen summary. Sections:

1. **profiles**: how ``hardware=auto``, ``h100``, ``a100`` and ``rtx4070_mobile`` resolve here
   (accelerator, precision), or the one line that refuses them.
2. **throughput**: for each family (lstm, gnn, unet) and precision (32-true, bf16-mixed, 16-mixed),
   a short ``train.train`` run: steady-state training steps per second (epochs after the first,
   training batches only), peak allocated memory (torch's allocator), and host-device
   synchronisations per steady-state step: on a GPU the ones ``torch.cuda.set_sync_debug_mode``
   reports, on a CPU tensor value reads (trainlab.testing.host_reads).
3. **energy**: a fixed workload (matrix products for ``--energy-seconds``, default 75 s; NVML's
   power reading is a one-second average) measured by the energy meter's readers against an
   independent integration of NVML power sampled at 20 Hz in another thread, and against Zeus's
   ZeusMonitor when the ``zeus`` package is importable. Goal: within 5%.
4. **overhead**: ``train.py`` against a hand-written loop on the default LSTM at batch 32 and 256
   (benchmarks/epoch_time.py's two sides, alternated, medians). Goal on a GPU: <= 1.05 at 256.

``--dry`` runs every section on the CPU with tiny sizes (CI runs it in a fast test): what a GPU
alone can give (16-mixed, NVML, CUDA syncs) is reported as skipped, with the reason.

Run: ``make gpu-check`` or ``python benchmarks/gpu_check.py [--dry] [--out DIR]``; on the device
machine see README ("Checking a GPU") for the wheels it needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from epoch_time import EpochTimer, compose_cfg, quiet_lightning, run_plain  # noqa: E402 - also sets TRAINLAB_ROOT

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402

import train  # noqa: E402
from trainlab.config.errors import UserError  # noqa: E402
from trainlab.testing.host_reads import HostReadCounter  # noqa: E402

PROFILES = ("auto", "h100", "a100", "rtx4070_mobile")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
ENERGY_GOAL, OVERHEAD_GOAL = 0.05, 1.05
BUDGET_S = 8 * 60

# per family: overrides that give many steady-state steps quickly (full size on a GPU, tiny dry)
FAMILIES = {
    "lstm": {"gpu": ["model=lstm", "data.batch_size=256"],
             "dry": ["model=lstm", "data.source.num_rows=600", "data.window=16", "model.net.hidden_size=8",
                     "model.net.num_layers=1"]},
    "gnn": {"gpu": ["model=gnn", "data=gaia", "data.source.num_stars=20000", "hardware.max_nodes_per_graph=4000"],
            "dry": ["model=gnn", "data=gaia", "data.source.num_stars=400", "hardware.max_nodes_per_graph=150",
                    "data.batch_size=64", "model.net.hidden_channels=8"]},
    "unet": {"gpu": ["model=unet", "data=sky", "data.batch_size=32"],
             "dry": ["model=unet", "data=sky", "data.source.tile_size=32", "data.source.num_tiles=16",
                     "data.batch_size=2", "model.net.base_channels=4", "model.net.depth=2"]},
}
QUIET = ["test=false", "logger=none", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
         "callbacks.early_stopping=null"]


# -- section 1: profiles --------------------------------------------------------------------------
def resolve_profiles(tmp: Path) -> dict[str, Any]:
    """Each profile as apply_hardware resolves it on this machine, or the line that refuses it."""
    from trainlab.run.hardware import apply_hardware

    out = {}
    for name in PROFILES:
        cfg = compose_cfg([f"hardware={name}"], tmp / f"profile-{name}")
        try:
            hw = apply_hardware(cfg.hardware)
            out[name] = {"accelerator": hw.accelerator, "precision": hw.precision,
                         "matmul": hw.float32_matmul_precision, "memory_gb": hw.memory_gb}
        except UserError as exc:
            out[name] = {"refused": str(exc)}
    torch.set_float32_matmul_precision("highest")  # leave no profile's flags behind for later sections
    return out


# -- section 2: throughput, memory, host syncs ----------------------------------------------------
class SteadyState(pl.Callback):
    """Times training batches of every epoch after the first (validation excluded); peak memory and
    CUDA synchronisations per steady-state step on a GPU."""

    def __init__(self, cuda: bool):
        self.cuda, self.steps, self.seconds = cuda, 0, 0.0
        self.peak_bytes: Optional[int] = None
        self.syncs = 0
        self._start: Optional[float] = None
        self._caught: Any = None
        self._log: list = []

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch >= 1:
            self._sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
                self._caught = warnings.catch_warnings(record=True)
                self._log = self._caught.__enter__()
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")  # one warning per synchronising call
            self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self._start is not None:
            self.steps += 1

    def _close(self) -> None:
        if self._start is None:
            return
        if self.cuda:
            torch.cuda.set_sync_debug_mode(0)
            self.syncs += sum("synchroniz" in str(w.message) for w in self._log)
            self._caught.__exit__(None, None, None)
        self._sync()
        self.seconds += time.perf_counter() - self._start
        self._start = None
        if self.cuda:
            self.peak_bytes = max(self.peak_bytes or 0, torch.cuda.max_memory_allocated())

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._close()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._close()


def throughput(tmp: Path, dry: bool, cuda: bool, deadline: float, families: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    size = "dry" if dry else "gpu"
    epochs = 2 if dry else 3
    for family in families:
        overrides = FAMILIES[family]
        for precision in PRECISIONS:
            key = f"{family}/{precision}"
            if time.perf_counter() > deadline:
                out[key] = {"skipped": "over the time budget"}
                continue
            hardware = ["hardware=auto" if cuda else "hardware=cpu", f"hardware.precision={precision}",
                        "hardware.num_threads=1" if dry else "hardware.num_threads=null"]
            cfg = compose_cfg([*overrides[size], *hardware, *QUIET, f"trainer.max_epochs={epochs}",
                               "trainer.log_every_n_steps=10"], tmp / key.replace("/", "-"))
            timer, reads = SteadyState(cuda), HostReadCounter()
            try:
                train.train(cfg, extra_callbacks=[timer] if cuda else [timer, reads])
            except UserError as exc:
                out[key] = {"skipped": str(exc)}
                continue
            row = {"steps": timer.steps, "steps_per_s": round(timer.steps / timer.seconds, 2) if timer.seconds else None,
                   "peak_allocated_gb": round(timer.peak_bytes / 1024**3, 3) if timer.peak_bytes else None}
            if cuda:
                row["syncs_per_step"] = round(timer.syncs / max(timer.steps, 1), 3)
                row["syncs_counted_by"] = "torch.cuda.set_sync_debug_mode (all steps, logging steps included)"
            else:
                row["host_reads_per_step"] = round(steady_reads(reads), 3)
                sites = sorted({site for found in reads.steady_state().values() for site in found})
                if sites:
                    row["read_sites"] = sites[:10]  # where a steady-state step read a value
                row["syncs_counted_by"] = "tensor value reads (CPU) in steady-state steps (no logging step)"
            out[key] = row
    return out


def steady_reads(counter: HostReadCounter) -> float:
    """Tensor value reads per steady-state batch (trainlab.testing.host_reads: logging steps and
    epoch ends excluded; the goal is 0)."""
    batches = counter.steady_batches()
    return sum(sum(counter.per_batch[key].values()) for key in batches) / max(len(batches), 1)


# -- section 3: energy --------------------------------------------------------------------------
class PowerIntegrator:
    """NVML power sampled at ``hz`` in its own thread, integrated with the trapezoid rule."""

    def __init__(self, nvml: Any, handle: Any, hz: float = 20.0):
        self.nvml, self.handle, self.period = nvml, handle, 1.0 / hz
        self.joules, self.samples = 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last_t, last_w = time.perf_counter(), self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
        while not self._stop.wait(self.period):
            now, watts = time.perf_counter(), self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
            self.joules += 0.5 * (last_w + watts) * (now - last_t)
            self.samples += 1
            last_t, last_w = now, watts

    def __enter__(self) -> "PowerIntegrator":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def workload(seconds: float, cuda: bool) -> int:
    """Matrix products for ``seconds`` of wall time; returns how many ran."""
    device = "cuda" if cuda else "cpu"
    n = 8192 if cuda else 256
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10):
            a = torch.tanh(a @ b) if not cuda else (a @ b).tanh_()
        count += 10
        if cuda:
            torch.cuda.synchronize()
    return count


def energy(seconds: float, cuda: bool) -> dict[str, Any]:
    from trainlab.callbacks.energy import open_readers
    from trainlab.callbacks.nvml import cuda_board

    if not cuda:
        workload(seconds, cuda)  # exercised, not measured
        return {"skipped": "no NVIDIA GPU: NVML has nothing to read"}
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = cuda_board(pynvml, torch.cuda.current_device())
    except Exception as exc:  # noqa: BLE001 - no driver, no nvidia-ml-py, no board with the device's UUID: say which
        return {"skipped": f"NVML is not usable ({type(exc).__name__}: {exc})"}
    readers, why = open_readers(pynvml, [handle], interval_s=0.1)
    if why:
        return {"skipped": f"the meter measures nothing here: {why}"}
    zeus = zeus_monitor()
    torch.cuda.synchronize()
    start_meter = readers[0].joules()
    if zeus is not None:
        zeus.begin_window("gpu_check")
    start = time.perf_counter()
    with PowerIntegrator(pynvml, handle) as power:
        products = workload(seconds, cuda)
    wall = time.perf_counter() - start
    meter = readers[0].joules() - start_meter
    zeus_j = None
    if zeus is not None:
        measured = zeus.end_window("gpu_check")
        zeus_j = float(sum(measured.gpu_energy.values()))
    for reader in readers:
        reader.close()
    out = {"seconds": round(wall, 2), "products": products, "meter_kind": type(readers[0]).__name__,
           "meter_joules": round(meter, 1), "nvml_20hz_joules": round(power.joules, 1),
           "nvml_samples": power.samples, "zeus_joules": round(zeus_j, 1) if zeus_j is not None else None,
           "zeus": "measured" if zeus is not None else "not installed"}
    out["meter_vs_nvml"] = round(meter / power.joules - 1, 4) if power.joules else None
    if zeus_j:
        out["meter_vs_zeus"] = round(meter / zeus_j - 1, 4)
    out["within_goal"] = out["meter_vs_nvml"] is not None and abs(out["meter_vs_nvml"]) <= ENERGY_GOAL
    return out


def zeus_monitor() -> Any:
    try:
        from zeus.monitor import ZeusMonitor
    except ImportError:
        return None
    return ZeusMonitor(gpu_indices=[torch.cuda.current_device()])


# -- section 4: overhead against a plain loop ------------------------------------------------------
def overhead(tmp: Path, dry: bool, cuda: bool, deadline: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rounds, epochs = (1, 1) if dry else (3, 2)
    rows = ["data.source.num_rows=600", "data.window=16"] if dry else []
    for batch in (32, 256):
        if time.perf_counter() > deadline:
            out[f"batch_{batch}"] = {"skipped": "over the time budget"}
            continue
        overrides = ["model=lstm", f"data.batch_size={batch}", f"trainer.max_epochs={epochs + 1}", "test=false",
                     "callbacks.early_stopping=null", "logger=tensorboard",
                     "hardware=auto" if cuda else "hardware=cpu", "hardware.num_threads=1" if dry else
                     "hardware.num_threads=null", "hardware.precision=32-true", *rows]
        lightning, plain = [], []
        for i in range(rounds):
            cfg = compose_cfg(overrides, tmp / f"overhead-{batch}-{i}")
            timer = EpochTimer()
            train.train(cfg, extra_callbacks=[timer])
            lightning += timer.train_val[1:]
            plain += run_plain(cfg, epochs + 1, torch.get_num_threads(), "cuda" if cuda else "cpu")[0][1:]
        ratio = statistics.median(lightning) / statistics.median(plain)
        out[f"batch_{batch}"] = {"lightning_s_per_epoch": round(statistics.median(lightning), 4),
                                 "plain_s_per_epoch": round(statistics.median(plain), 4),
                                 "ratio": round(ratio, 3), "rounds": rounds}
    return out


# -- report ---------------------------------------------------------------------------------------
def environment(cuda: bool) -> dict[str, Any]:
    import lightning

    env = {"torch": torch.__version__, "lightning": lightning.__version__, "python": sys.version.split()[0],
           "cuda_available": cuda}
    if cuda:
        env.update(device=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                   memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 1024**3, 1),
                   bf16=torch.cuda.is_bf16_supported())
    return env


def summary_lines(report: dict[str, Any]) -> list[str]:
    env = report["environment"]
    lines = [f"gpu check ({'dry, CPU' if report['dry'] else env.get('device', 'no GPU')}), torch {env['torch']}, "
             f"{report['seconds']:.0f} s"]
    lines.append("profiles: " + "; ".join(
        f"{k} -> {v['accelerator']}/{v['precision']}" if "refused" not in v else f"{k} refused"
        for k, v in report["profiles"].items()))
    lines.append(f"{'run':<22}{'steps/s':>9}{'peak GB':>9}{'syncs/step':>12}")
    for key, row in report["throughput"].items():
        if "skipped" in row:
            lines.append(f"{key:<22}  skipped: {row['skipped'][:60]}")
            continue
        syncs = row.get("syncs_per_step", row.get("host_reads_per_step"))
        peak = row["peak_allocated_gb"]
        lines.append(f"{key:<22}{row['steps_per_s'] or float('nan'):>9.1f}{peak if peak is not None else '-':>9}"
                     f"{syncs:>12}")
    e = report["energy"]
    if "skipped" in e:
        lines.append(f"energy: skipped ({e['skipped']})")
    else:
        lines.append(f"energy: meter {e['meter_joules']} J vs NVML 20 Hz {e['nvml_20hz_joules']} J "
                     f"({e['meter_vs_nvml']:+.1%}; goal within {ENERGY_GOAL:.0%}: "
                     f"{'met' if e['within_goal'] else 'MISSED'}); Zeus: {e['zeus_joules'] or e['zeus']}")
    for key, row in report["overhead"].items():
        if "skipped" in row:
            lines.append(f"overhead {key}: skipped")
        else:
            lines.append(f"overhead {key}: train.py {row['lightning_s_per_epoch']} s/epoch vs plain "
                         f"{row['plain_s_per_epoch']} s/epoch = {row['ratio']}x")
    return lines


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_report.json").write_text(json.dumps(report, indent=2) + "\n")
    md = ["# GPU check", "", "```", *summary_lines(report), "```", "", "Full figures: gpu_report.json.", ""]
    (out / "gpu_report.md").write_text("\n".join(md))


def run(dry: bool, out: Path, energy_seconds: Optional[float] = None,
        families: Optional[list[str]] = None) -> dict[str, Any]:
    quiet_lightning()
    cuda = torch.cuda.is_available() and not dry
    started = time.perf_counter()
    deadline = started + BUDGET_S - (energy_seconds or 75) - 60  # leave time for energy and overhead
    report: dict[str, Any] = {"dry": dry, "environment": environment(cuda)}
    with tempfile.TemporaryDirectory(prefix="trainlab-gpu-check-") as tmp_name:
        tmp = Path(tmp_name)
        report["profiles"] = resolve_profiles(tmp)
        report["throughput"] = throughput(tmp, dry, cuda, deadline, families or list(FAMILIES))
        report["energy"] = energy(energy_seconds if energy_seconds is not None else (2 if dry else 75), cuda)
        report["overhead"] = overhead(tmp, dry, cuda, started + BUDGET_S - 30)
    report["seconds"] = time.perf_counter() - started
    write_report(report, out)
    return report


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry", action="store_true", help="CPU, tiny sizes: rehearse every section")
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu_check"), help="report folder")
    parser.add_argument("--energy-seconds", type=float, default=None,
                        help="length of the energy workload (default 75 s; 2 s with --dry)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated; default all")
    args = parser.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"--families: unknown {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    report = run(args.dry, args.out, args.energy_seconds, families)
    print("\n".join(["", *summary_lines(report), f"report: {args.out / 'gpu_report.md'}"]))


if __name__ == "__main__":
    main()
