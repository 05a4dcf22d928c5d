"""Apply a hardware profile (conf/hardware) to torch before anything is built."""

from __future__ import annotations

import copy
import logging
import platform
from typing import Optional

import torch
from omegaconf import DictConfig

from trainlab.config.errors import UserError
from trainlab.config.schemas import ACCELERATORS, MATMUL_PRECISIONS, PRECISIONS

log = logging.getLogger(__name__)

_GPU_ACCELERATORS = ("gpu", "cuda")


def _cuda_usable() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def cpu_has_bf16() -> bool:
    """Whether oneDNN computes bfloat16 natively on this CPU (AVX512-BF16 or AMX).

    bf16 autocast on a CPU without it ends inside oneDNN's RNN kernels (the LSTM's forward) with an
    error, as seen on such machines; with it, bf16-mixed trains the LSTM (checked here on an EPYC with
    avx512_bf16). The flag is torch's own probe (no public API yet; torch's inductor uses it too).
    """
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())


def _auto_precision() -> str:
    """bf16 where the GPU has it (Ampere and newer), fp16 on older GPUs, fp32 on CPU."""
    if not _cuda_usable():
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def _check_choice(hw: DictConfig, key: str, allowed: tuple[str, ...]) -> None:
    value = hw[key]
    if value not in allowed:
        raise UserError(
            f"hardware.{key}={value!r} is not one of {', '.join(allowed)}; "
            f"pick one of those (profile '{hw.name}')"
        )


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_host_memory(keep_mb: Optional[int]) -> str:
    """Make glibc's malloc keep freed host memory for the next training step; returns what was done.

    By default glibc hands big blocks (above a threshold it adapts as it goes, 128 kB to 32 MB) to
    the kernel with mmap and returns them on free, and trims the top of its heap when more than
    twice that threshold lies free there. A training step allocates and frees the same activation
    buffers every step, so the next step gets its memory from the kernel again, page by page: the
    default LSTM on one CPU thread took 100,000-200,000 minor page faults per epoch in some runs
    (1.5 s epochs) and almost none in others (1.0 s), depending on where the adaptive threshold
    settled. Blocks below a quarter of ``keep_mb`` now come from the heap, and up to ``keep_mb``
    free at its top stays there: page faults per epoch drop to a few (benchmarks/epoch_time.py
    prints them). The cost is resident memory that stays at the run's peak, as a GPU's caching
    allocator does. None leaves glibc's defaults. Settings are process-wide and inherited by
    DataLoader workers that fork.
    """
    if keep_mb is None:
        return "glibc defaults"
    if keep_mb < 1:
        raise UserError(f"hardware.host_memory_keep_mb={keep_mb} must be 1 or more (or null: glibc's defaults)")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return f"not set ({platform.system()} without glibc's malloc)"
    import ctypes

    libc = ctypes.CDLL(None)
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, keep_mb << 20)
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, max(keep_mb >> 2, 1) << 20)
    return f"{keep_mb} MB kept" if trim_ok == 1 and mmap_ok == 1 else "glibc refused the settings"


def apply_hardware(profile: DictConfig) -> DictConfig:
    """Check the profile against this machine, set torch flags, and return a copy of the profile with
    its ``auto`` values resolved (the profile given is left as it is).

    Stops with a UserError, before any work, when the profile needs a GPU that is not usable here.
    """
    hw = copy.deepcopy(profile)
    _check_choice(hw, "accelerator", ACCELERATORS)
    _check_choice(hw, "precision", PRECISIONS)
    _check_choice(hw, "float32_matmul_precision", MATMUL_PRECISIONS)
    if hw.accelerator in _GPU_ACCELERATORS and not _cuda_usable():
        raise UserError(
            f"hardware={hw.name} needs an NVIDIA GPU with CUDA, but torch sees none on this machine "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False); "
            "use hardware=cpu, or hardware=auto to take whatever the machine has"
        )
    if hw.accelerator == "auto":
        hw.accelerator = "gpu" if _cuda_usable() else "cpu"
    if hw.precision == "auto":
        hw.precision = _auto_precision() if hw.accelerator != "cpu" else "32-true"
    if hw.accelerator == "cpu" and hw.precision in ("16-mixed", "16-true"):
        also = " (or bf16-mixed: this CPU computes bfloat16 natively)" if cpu_has_bf16() else ""
        raise UserError(f"hardware.precision={hw.precision} runs on GPUs only; on the CPU use 32-true{also}")
    if hw.accelerator == "cpu" and hw.precision.startswith("bf16") and not cpu_has_bf16():
        raise UserError(
            f"hardware.precision={hw.precision}: this CPU has no native bfloat16 (oneDNN's LSTM kernels fail "
            "without it, and emulated bf16 is slower than fp32); use hardware.precision=32-true"
        )
    if hw.num_workers < 0:
        raise UserError(f"hardware.num_workers={hw.num_workers} must be 0 or more")

    torch.set_float32_matmul_precision(hw.float32_matmul_precision)
    torch.backends.cuda.matmul.allow_tf32 = bool(hw.allow_tf32)
    torch.backends.cudnn.allow_tf32 = bool(hw.allow_tf32)
    torch.backends.cudnn.benchmark = bool(hw.cudnn_benchmark)
    if hw.num_threads is not None:
        if hw.num_threads < 1:
            raise UserError(f"hardware.num_threads={hw.num_threads} must be 1 or more (or null)")
        torch.set_num_threads(int(hw.num_threads))
    host_memory = keep_host_memory(hw.host_memory_keep_mb)
    log.info(
        "hardware=%s: accelerator=%s precision=%s matmul=%s tf32=%s cudnn.benchmark=%s threads=%d host memory: %s",
        hw.name, hw.accelerator, hw.precision, hw.float32_matmul_precision, hw.allow_tf32,
        hw.cudnn_benchmark, torch.get_num_threads(), host_memory,
    )
    return hw
