"""The GPUs a run trains on, as torch sees them, against what the hardware profile asks of them.

``hardware.devices`` (and ``trainer.devices``) name CUDA devices as this process numbers them, after
``CUDA_VISIBLE_DEVICES``: a count takes ``cuda:0`` onwards, -1 or ``auto`` all of them, a list those
listed. Under DDP every one of them trains, so a property the run needs must hold on each: on a
machine with an A100 and a T4, bf16 is native on the first only.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch
from omegaconf import OmegaConf

GB = 1024**3


def run_gpus(devices: Any) -> list[int]:
    """The CUDA indices ``devices`` trains on (those torch has; the count is checked elsewhere)."""
    available = torch.cuda.device_count()
    try:
        if OmegaConf.is_list(devices) or isinstance(devices, (list, tuple)):
            wanted = [int(i) for i in devices]
        elif isinstance(devices, str) and "," in devices:
            wanted = [int(i) for i in devices.split(",") if i.strip()]
        else:
            count = -1 if str(devices).strip() == "auto" else int(devices)
            wanted = list(range(available if count == -1 else count))
    except ValueError:  # not a device setting at all: check_trainer_devices refuses it, naming the key
        return []
    return [i for i in wanted if 0 <= i < available]


def nvml_gpu_uuids() -> list[str]:
    """The UUIDs (``GPU-<hex>``) of the machine's NVIDIA GPUs as NVML counts them, whatever
    ``CUDA_VISIBLE_DEVICES`` says; none without NVML (no driver, no nvidia-ml-py)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        uuids = [pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))
                 for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # noqa: BLE001 - no nvidia-ml-py, no driver, or any NVML failure: nothing NVML can count
        return []
    return [u.decode() if isinstance(u, bytes) else str(u) for u in uuids]


def names_a_gpu(entry: str, uuids: list[str]) -> bool:
    """Whether a ``CUDA_VISIBLE_DEVICES`` entry names one of this machine's GPUs (``uuids``, NVML's): an index
    below their count, a GPU's UUID or a unique prefix of one (as CUDA takes it), a MIG instance's UUID that NVML
    finds."""
    if entry.isdigit():
        return int(entry) < len(uuids)
    if entry.startswith("MIG-"):
        import pynvml

        try:
            pynvml.nvmlDeviceGetHandleByUUID(entry)
        except pynvml.NVMLError:
            return False
        return True
    return sum(uuid.startswith(entry) for uuid in uuids) == 1


def mig_note() -> str:
    """Where ``CUDA_VISIBLE_DEVICES`` lists several MIG instances, why torch counts one: a process enumerates one
    MIG instance at most, the first listed (NVIDIA's MIG user guide, "CUDA Device Enumeration"); else ''."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") or ""
    migs = [entry.strip() for entry in visible.split(",") if entry.strip().startswith("MIG-")]
    if len(migs) < 2:
        return ""
    return (f": CUDA gives a process one MIG instance, the first listed ({migs[0]}), so DDP cannot span MIG "
            "instances; train on one, or on whole GPUs")


def named(index: int) -> str:
    """``cuda:1 (Tesla V100-SXM2-32GB, compute capability 7.0)``."""
    props = torch.cuda.get_device_properties(index)
    return f"cuda:{index} ({props.name}, compute capability {props.major}.{props.minor})"


def mixed_models(indices: list[int]) -> Optional[str]:
    """``cuda:0 (NVIDIA A100-SXM4-40GB, ...), cuda:1 (Tesla T4, ...)`` where these GPUs are not all one
    model, else None."""
    if len({torch.cuda.get_device_properties(i).name for i in indices}) < 2:
        return None
    return ", ".join(named(i) for i in indices)


def without_bf16(devices: Any) -> list[int]:
    """Those of the run's GPUs that compute bfloat16 in emulation only (compute capability below 8.0, before
    Ampere). ``torch.cuda.is_bf16_supported()`` says True on them (its default counts emulation: a bfloat16
    tensor can be made), and asks about ``cuda:0`` only."""
    return [i for i in run_gpus(devices) if torch.cuda.get_device_properties(i).major < 8]


def auto_precision(devices: Any) -> str:
    """bf16-mixed where every GPU of the run has native bfloat16 (Ampere and newer), else 16-mixed."""
    return "16-mixed" if without_bf16(devices) else "bf16-mixed"


def bf16_problem(precision: str, devices: Any, key: str) -> Optional[str]:
    """Why ``precision`` (``key`` names its setting) does not suit the run's GPUs, or None."""
    lacking = without_bf16(devices) if precision.startswith("bf16") else []
    if not lacking:
        return None
    verb = "has" if len(lacking) == 1 else "have"
    return (f"{key}={precision}, but {', '.join(named(i) for i in lacking)} {verb} no native bfloat16 (it comes with "
            f"compute capability 8.0, Ampere; torch emulates it on older GPUs, slower than float32); use "
            f"{key}=16-mixed (or 32-true)")


# a card sold as 40 GB holds 39.6 GiB (A100 40GB), as 8 GB 7.996 GiB (RTX 4070 Laptop): the profiles give
# the nominal size, and the budget is compared in GiB; a budget that far over the card is not a mistake
NOMINAL_MARGIN = 1.1


def memory_problem(memory_gb: Optional[float], devices: Any) -> Optional[str]:
    """Where the profile's memory budget is more than a GPU of the run has (beyond the margin between a
    card's nominal size and its GiB), what to set instead, or None."""
    if memory_gb is None:
        return None
    sizes = {i: torch.cuda.get_device_properties(i).total_memory / GB for i in run_gpus(devices)}
    smaller = {i: size for i, size in sizes.items() if size * NOMINAL_MARGIN < memory_gb}
    if not smaller:
        return None
    index = min(smaller, key=smaller.get)
    return (f"hardware.memory_gb={memory_gb:g} is more than {named(index)} has ({smaller[index]:.1f} GB): the batch-size "
            f"finder takes the budget for the card's size, and the card runs out first; set "
            f"hardware.memory_gb={int(smaller[index])} (or null: the card's own size)")
