"""What NVML (package nvidia-ml-py, module ``pynvml``) can say about the GPU a run trains on.

Readings that a board does not have raise ``NVMLError_NotSupported``: the total-energy counter before
Volta, power on some laptop boards, utilisation on a MIG instance (NVML's reference says so for
``nvmlDeviceGetUtilizationRates``). A MIG instance's power and energy, where NVML gives any, are the
whole GPU's, which the other instances share: they are not this run's, so they are not taken for it.
"""

from __future__ import annotations

from typing import Any, Optional


def board_name(nvml: Any, handle: Any) -> str:
    """The board's name as NVML gives it (``NVIDIA A100-SXM4-80GB``), or ``the GPU`` where it gives none."""
    try:
        name = nvml.nvmlDeviceGetName(handle)
    except (nvml.NVMLError, AttributeError):
        return "the GPU"
    return name.decode() if isinstance(name, bytes) else str(name)


def shared_board(nvml: Any, handle: Any) -> Optional[str]:
    """Why the board's power and energy are not this process's alone, or None.

    ``handle`` is a MIG instance, or a GPU in MIG mode (CUDA then runs on one of its instances): NVML's
    power and energy figures are the whole GPU's, drawn for every instance on it. Boards without MIG
    (before Ampere) answer NotSupported, which means: not shared.
    """
    try:
        if nvml.nvmlDeviceIsMigDeviceHandle(handle):
            return (f"{board_name(nvml, handle)} is a MIG instance: NVML's power and energy are the whole GPU's, "
                    "shared with its other instances")
        current, _ = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError:
        return None
    if current == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
        return (f"{board_name(nvml, handle)} is in MIG mode: NVML's power and energy are the whole GPU's, "
                "shared with its instances")
    return None


def not_supported(nvml: Any, read: Any, handle: Any) -> Optional[str]:
    """NVML's error text where ``read(handle)`` raises (``Not Supported``), None where it gives a reading."""
    try:
        read(handle)
    except nvml.NVMLError as exc:
        return str(exc) or type(exc).__name__
    return None
