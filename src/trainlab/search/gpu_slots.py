"""One GPU per slot of a sweep: with k GPUs visible, slot i's trials train on GPU i mod k, in one precision
where the GPUs are of different models (README "Parallel trials and launchers")."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Optional

from omegaconf import DictConfig

log = logging.getLogger("trainlab.search.plan")  # the plan's lines, as before this moved out of plan.py


def visible_gpu_count() -> int:
    """CUDA devices this process sees (CUDA_VISIBLE_DEVICES applies). NVML is asked first: where it
    finds no NVIDIA driver, CUDA cannot run either, and the answer is 0 without importing torch (1-2 s
    of a sweep's start, which only its trials need); otherwise torch counts."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return 0
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except ImportError:
        pass  # nvidia-ml-py missing: torch will tell
    except (pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded):
        return 0
    except Exception:  # any other NVML trouble: torch will tell
        pass
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_overrides(config: DictConfig, slots: int, scheduled: bool, given: Callable[[str], bool]) -> list[list[str]]:
    """Per slot, the GPU its trials train on: slot i -> ``hardware.devices=[i mod k]`` for k visible GPUs.

    Lightning reads a list as device indices, so each job picks its own board whatever process it
    runs in (a joblib worker that served another slot before, a fresh submitit_local process), and
    the energy meter measures the board the trainer uses. Nothing is assigned when a single slot
    runs, when the hardware profile is the CPU or asks for several devices per trial (DDP), when the
    command line or the space sets ``hardware.devices``, under SLURM (the scheduler gives each job its
    GPUs: ``scheduled``), or when fewer than two GPUs are visible (every trial then uses the only one).
    ``given(key)``: whether the command line or the search space sets ``key``.
    """
    nothing: list[list[str]] = [[] for _ in range(slots)]
    key = "hardware.devices"
    if slots == 1 or "hardware" not in config or given(key):
        return nothing
    if scheduled or str(config.hardware.get("accelerator")) == "cpu":
        return nothing
    devices = config.hardware.get("devices")
    if devices not in (1, "1"):
        log.info("%s=%s per trial: GPUs are not assigned to slots", key, devices)
        return nothing
    count = visible_gpu_count()
    if count < 2:
        return nothing
    log.info("%d slots on %d GPUs: slot i trains on GPU i mod %d", slots, count, count)
    same = _one_precision(config, list(range(min(slots, count))), given) or []
    return [[f"{key}=[{slot % count}]", *same] for slot in range(slots)]


def _one_precision(config: DictConfig, used: list[int], given: Callable[[str], bool]) -> Optional[list[str]]:
    """Where the slots' GPUs are of different models, a warning; and where ``hardware.precision=auto`` would
    then resolve per trial by its slot's GPU (bf16 on an A100, fp16 on a T4), the precision every trial
    takes instead, so that the trials compare (None: nothing to add)."""
    from trainlab.run.gpus import auto_precision, mixed_models

    mixed = mixed_models(used)
    if mixed is None:
        return None
    log.warning("the slots train on GPUs of different models (%s): a trial's speed depends on its slot's GPU; "
                "CUDA_VISIBLE_DEVICES=<ids of one model> keeps a sweep to one", mixed)
    if str(config.hardware.get("precision")) != "auto" or given("hardware.precision"):
        return None
    precision = auto_precision(used)
    log.info("hardware.precision=auto: every trial trains in %s, what all the slots' GPUs have", precision)
    return [f"hardware.precision={precision}"]


def shared_gpus(config: DictConfig, slots: int, scheduled: bool, assigned: bool) -> Optional[str]:
    """Where trials running at once share this machine's GPUs, the words that say so, else None. A GPU's energy
    counter, power, utilisation and memory in use are the board's, every trial on it included, so a trial's own
    figures cannot be told apart: its energy meter and GPU monitor are told
    (:class:`trainlab.callbacks.nvml.SharedGpu`). ``assigned``: whether :func:`gpu_overrides` gave the slots
    GPUs (i mod k), which they then share only when there are more slots than GPUs (two slots on a laptop's
    one GPU); otherwise every trial trains on the same ones (``hardware.devices=[0]`` given, or a count: from
    ``cuda:0`` on), which any two trials at once share. A scheduler's jobs have GPUs of their own
    (``scheduled``)."""
    if slots == 1 or scheduled or "hardware" not in config or str(config.hardware.get("accelerator")) == "cpu":
        return None
    count = visible_gpu_count()
    if count == 0 or (assigned and slots <= count):
        return None
    why = f"{slots} trials at once on {count} GPU(s)"
    if not assigned and count > 1:
        why += f", each on hardware.devices={config.hardware.get('devices')}"
    log.warning("%s: they share GPUs, so a trial's energy is not measured and its GPU figures are the board's, "
                "the other trials' included (one trial per GPU: hydra.sweeper.n_jobs=%d)", why,
                count if assigned else 1)
    return why
