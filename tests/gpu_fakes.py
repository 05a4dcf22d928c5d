"""A machine's GPUs as CUDA and NVML each number them, for tests on a machine without one.

The rules come from NVIDIA's documentation, not from what the code under test assumes:
- NVML numbers every GPU of the machine (``nvmlDeviceGetHandleByIndex``) in PCI bus order, whatever
  ``CUDA_VISIBLE_DEVICES`` says, and finds a GPU or a MIG instance by its full UUID
  (``nvmlDeviceGetHandleByUUID``: ``GPU-...``, ``MIG-...``); an unknown one is NVML_ERROR_NOT_FOUND.
- CUDA enumerates the GPUs fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``. ``CUDA_VISIBLE_DEVICES``
  lists the visible ones in the order given, as indices, GPU UUIDs (a unique prefix is enough) or MIG
  UUIDs; the list ends at the first entry that names no device; empty: none. The process numbers the
  visible ones 0, 1, ... (``cuda:0`` is the first listed).
- A process enumerates one MIG instance at most (NVIDIA's MIG user guide, "CUDA Device Enumeration": "only
  enumeration of a single MIG instance is supported"): a list naming several gives it the first of them.
- torch gives each CUDA device's UUID without its prefix (``torch.cuda.get_device_properties(i).uuid``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

GB = 1024**3


class FakeNVML:
    """Just enough of pynvml: scripted energy counters (mJ) and power readings (mW) per device."""

    class NVMLError(Exception):
        pass

    NVML_DEVICE_MIG_ENABLE = 1

    def __init__(self, counters: dict | None = None, power_mw: dict | None = None, mig: dict | None = None):
        self.counters = {k: list(v) for k, v in (counters or {}).items()}  # device -> readings
        self.power_mw = power_mw or {}
        self.mig = mig or {}  # handle -> "instance" (a MIG device handle) or "mode" (a GPU in MIG mode)

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA Fake"

    def nvmlDeviceIsMigDeviceHandle(self, handle):
        return self.mig.get(handle) == "instance"

    def nvmlDeviceGetMigMode(self, handle):
        if self.mig.get(handle) == "instance":
            raise self.NVMLError("Invalid Argument")
        return [int(self.mig.get(handle) == "mode")] * 2

    def nvmlDeviceGetHandleByIndex(self, index: int):
        return f"idx{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str):
        return uuid

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if handle not in self.counters:
            raise self.NVMLError("Not Supported")  # a pre-Volta board
        readings = self.counters[handle]
        return readings.pop(0) if len(readings) > 1 else readings[0]

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle not in self.power_mw:
            raise self.NVMLError("Not Supported")  # some laptop boards
        value = self.power_mw[handle]
        return value() if callable(value) else value


@dataclass
class Board:
    uuid: str  # NVML's form: GPU-<hex> or MIG-<hex>
    name: str = "NVIDIA Fake"
    speed: int = 1  # CUDA's fastest-first order
    major: int = 8  # compute capability: native bf16 from 8.0 (Ampere)
    minor: int = 0
    memory_gb: float = 80.0  # GiB, as torch's total_memory counts


class FakeMachine:
    """``boards`` in PCI bus order (NVML's indices); ``migs``: MIG instances NVML finds by UUID only."""

    def __init__(self, boards: list[Board], migs: Optional[list[Board]] = None):
        self.boards, self.migs = boards, migs or []

    def _named(self, entry: str, order: list[Board]) -> Optional[Board]:
        if entry.isdigit():
            return order[int(entry)] if int(entry) < len(order) else None
        if entry.startswith(("GPU-", "MIG-")):
            matches = [b for b in [*self.boards, *self.migs] if b.uuid.startswith(entry)]
            return matches[0] if len(matches) == 1 else None
        return None

    def cuda_devices(self) -> list[Board]:
        """The boards a process sees as cuda:0, cuda:1, ..."""
        pci = os.environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST") == "PCI_BUS_ID"
        order = list(self.boards) if pci else sorted(self.boards, key=lambda b: -b.speed)
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return order
        seen: list[Board] = []
        for entry in visible.split(","):
            board = self._named(entry.strip(), order)
            if board is None:
                break
            seen.append(board)
        migs = [board for board in seen if board.uuid.startswith("MIG-")]
        return migs[:1] if migs else seen

    def install(self, monkeypatch) -> "MachineNVML":
        """torch.cuda answers for this machine; returns its NVML."""
        import torch

        def properties(index):
            board = self.cuda_devices()[index.index if hasattr(index, "index") else int(index)]
            return SimpleNamespace(uuid=board.uuid.split("-", 1)[1], name=board.name, major=board.major,
                                   minor=board.minor, total_memory=int(board.memory_gb * GB))

        monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(self.cuda_devices()))
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(self.cuda_devices()))
        monkeypatch.setattr(torch.cuda, "get_device_properties", properties)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        # torch makes bfloat16 tensors on any CUDA GPU, emulating bf16 before Ampere: is_bf16_supported()
        # (including_emulation=True by default) then says True
        monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda device: True)
        return MachineNVML(self)


class MachineNVML(FakeNVML):
    """FakeNVML whose handles are the boards' UUIDs, found as NVML finds them."""

    class NVMLError_NotFound(FakeNVML.NVMLError):
        pass

    def __init__(self, machine: FakeMachine, **readings):
        super().__init__(**readings)
        self.machine = machine

    def nvmlDeviceGetCount(self):
        return len(self.machine.boards)

    def nvmlDeviceGetHandleByIndex(self, index: int):
        return self.machine.boards[index].uuid

    def nvmlDeviceGetHandleByUUID(self, uuid):
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        if uuid not in [b.uuid for b in [*self.machine.boards, *self.machine.migs]]:
            raise self.NVMLError_NotFound("Not Found")
        return uuid

    def nvmlDeviceGetUUID(self, handle):
        return handle  # the handles are the boards' UUIDs

    def nvmlDeviceIsMigDeviceHandle(self, handle):
        return handle.startswith("MIG-")

    def nvmlDeviceGetName(self, handle):
        return next(b for b in [*self.machine.boards, *self.machine.migs] if b.uuid == handle).name.encode()


def cuda_trainer(*device_ids: int, rank: int = 0, strategy=None) -> SimpleNamespace:
    """What the callbacks read of a Lightning trainer whose processes train on CUDA devices ``device_ids``,
    seen from process ``rank`` (one node: its local rank too), which trains on ``cuda:<device_ids[rank]>``."""
    import torch
    from lightning.pytorch.accelerators import CUDAAccelerator

    strategy = strategy or SimpleNamespace()
    if not hasattr(strategy, "root_device"):
        strategy.root_device = torch.device("cuda", device_ids[rank])
    return SimpleNamespace(accelerator=CUDAAccelerator(), device_ids=list(device_ids), local_rank=rank,
                           global_rank=rank, world_size=len(device_ids), strategy=strategy)


class SummingStrategy:
    """A DDP strategy's ``reduce(..., "sum")`` as one process sees it: its own tensor plus what the other
    processes contribute, given in advance, one per call."""

    def __init__(self, *others: list[float]):
        import torch

        self.root_device = torch.device("cpu")
        self.others = [torch.tensor(o, dtype=torch.float64) for o in others]

    def reduce(self, tensor, group=None, reduce_op="mean"):
        assert reduce_op == "sum"
        return tensor + self.others.pop(0)
