"""What NVML (package nvidia-ml-py, module ``pynvml``) can say about the GPU a run trains on.

Which board that is: NVML numbers every GPU of the machine in PCI bus order and ignores
``CUDA_VISIBLE_DEVICES``; CUDA numbers only the visible ones, in the order that variable lists them
(indices, GPU UUIDs or unique prefixes of them, MIG UUIDs), and without ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
the fastest first. An index means different boards to the two, so the one name they share is taken:
the device's UUID, which torch gives for ``cuda:i`` and NVML finds a board (or MIG instance) by.

Readings that a board does not have raise ``NVMLError_NotSupported``: the total-energy counter before
Volta, power on some laptop boards, utilisation on a MIG instance (NVML's reference says so for
``nvmlDeviceGetUtilizationRates``). A MIG instance's power and energy, where NVML gives any, are the
whole GPU's, which the other instances share: they are not this run's, so they are not taken for it.

:class:`SamplingThread` is the background thread that the energy and GPU-monitor callbacks read a board through.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import lightning.pytorch as pl


class SamplingThread:
    """Calls :meth:`sample` (a subclass's reading of one board) every ``interval_s`` seconds from a daemon thread
    named ``name``, from :meth:`_start` until :meth:`close`; the thread ends when the board stops answering (an
    ``NVMLError``: GPU lost, driver reloaded), which the next reading asked for by training raises. Its ``_lock``
    guards what :meth:`sample` keeps from the reads of training's thread."""

    def __init__(self, nvml: Any, handle: Any, interval_s: float, name: str):
        self.nvml, self.handle, self.interval_s = nvml, handle, interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        """A subclass calls this once its own state is set (and its first reading taken)."""
        self._thread.start()

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample()
            except self.nvml.NVMLError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.interval_s + 1)


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


def cuda_board(nvml: Any, index: int) -> Any:
    """NVML's handle of this process's ``cuda:<index>``, found by the device's UUID; LookupError where
    NVML has none with it (no guess by index: that could be another board)."""
    import torch

    uuid = str(torch.cuda.get_device_properties(index).uuid)  # hex without NVML's GPU-/MIG- prefix
    for prefix in ("GPU-", "MIG-"):
        try:
            return nvml.nvmlDeviceGetHandleByUUID(prefix + uuid)
        except nvml.NVMLError:  # NotFound: not a board of that kind
            pass
    raise LookupError(f"NVML finds no GPU with the UUID of cuda:{index} ({uuid})")


def on_nvidia(trainer: pl.Trainer) -> bool:
    """Whether the trainer runs on CUDA (the same answer in every process of a run)."""
    from lightning.pytorch.accelerators import CUDAAccelerator

    return isinstance(trainer.accelerator, CUDAAccelerator)


def open_nvml(trainer: pl.Trainer) -> tuple[Any, list[Any], Optional[str]]:
    """(pynvml, [NVML handle of the GPU this process trains on], None) or (None, [], why not).

    The one place where a run opens NVML: the energy meter and the GPU monitor both start here.
    ``nvmlInit`` counts its callers, so each of them opening it is harmless. Under DDP each process
    has its own GPU (``trainer.strategy.root_device``; ``trainer.device_ids`` lists every process's).
    """
    if not on_nvidia(trainer):
        return None, [], "the run is not on an NVIDIA GPU"
    try:
        import pynvml

        pynvml.nvmlInit()
    except ImportError:
        return None, [], "nvidia-ml-py is not installed"
    except Exception as exc:  # noqa: BLE001 - any NVML failure means: no reading, say why
        return None, [], f"NVML is not usable ({type(exc).__name__}: {exc})"
    try:
        return pynvml, [cuda_board(pynvml, trainer.strategy.root_device.index or 0)], None
    except LookupError as exc:
        return None, [], str(exc)


class SharedGpu(pl.Callback):
    """A sweep's trial whose GPU runs other trials at the same time (:func:`trainlab.search.gpu_slots.shared_gpus`):
    tells the run's callbacks that read the board (``gpu_shared(why)``: the energy meter, the GPU monitor)."""

    def __init__(self, why: str):
        self.why = why

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for callback in trainer.callbacks:
            if callable(getattr(callback, "gpu_shared", None)):
                callback.gpu_shared(self.why)
