"""Count the reads of tensor values into Python during training steps (host-device syncs on a GPU).

On a GPU every read of a device tensor's value (``loss.item()``, ``bool(t)``, ``float(t)``, ...)
makes the CPU wait until the GPU has finished all queued work: the next step cannot be queued
meanwhile. ``torch.cuda.set_sync_debug_mode`` reports such waits, but only on a GPU. On a CPU the
same places can be found by intercepting every way a tensor value reaches Python; that is what
:class:`HostReadCounter` does, per training batch, so tests and ``benchmarks/gpu_check.py`` can
check that steady-state steps read nothing.

Operators whose output size depends on values (boolean-mask indexing, ``nonzero``, ``unique``)
wait for the GPU too, inside C++; a dispatch mode counts them as well.

Three kinds of reads are not counted because they touch host tensors in a GPU run as well:
the optimizers' step counters (torch keeps ``state["step"]`` on the CPU unless ``capturable`` or
``fused``), whatever the DataLoader does while it assembles a batch, and the LightningModule's
``on_before_batch_transfer`` hook (Lightning calls it before the batch is moved to the device).
Reads that a function makes only on a CPU (:data:`CPU_ONLY_READS`) are not counted either.

Validation batches are counted in windows of their own (``per_val_batch``): a read per validation
batch does not slow training steps, but it stops the GPU's queue once per batch during validation.
"""

from __future__ import annotations

import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import lightning.pytorch as pl
import torch
from torch.utils._python_dispatch import TorchDispatchMode

# every way a tensor's value reaches Python (copies to host included: .cpu() and .numpy())
READ_METHODS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "cpu", "numpy")
# operators whose output size depends on the values: on a GPU the host waits for the count
DATA_DEPENDENT_OPS = ("nonzero", "masked_select", "_unique2", "unique_dim", "unique_consecutive")


class _DataDependentOps(TorchDispatchMode):
    """Reports operators that need a value on the host to size their output (boolean-mask indexing,
    ``nonzero``, ``unique``, ``repeat_interleave`` without ``output_size``): syncs no Python method shows."""

    def __init__(self, on_read: Callable[[str, torch.Tensor], None]):
        super().__init__()
        self.on_read = on_read

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in DATA_DEPENDENT_OPS or (name == "repeat_interleave" and not (kwargs or {}).get("output_size")
                                          and isinstance(args[0], torch.Tensor) and len(args) == 1):
            self.on_read(f"aten.{name}", args[0])
        elif name == "index" and any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]):
            self.on_read("aten.index with a boolean mask", args[0])
        return func(*args, **(kwargs or {}))


def _caller(frames: list[traceback.FrameSummary]) -> str:
    """The innermost frame outside this module: where the read came from, as file:line function."""
    for frame in reversed(frames):
        if not frame.filename.endswith("host_reads.py"):
            parts = Path(frame.filename).parts
            return f"{'/'.join(parts[-3:])}:{frame.lineno} {frame.name}"
    return "?"


@contextmanager
def intercept_reads(on_read: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Call ``on_read(method, tensor)`` before every value read of a tensor inside the block.

    Python-level reads are caught by wrapping the Tensor methods; operators whose output size
    depends on tensor values by a dispatch mode (torch's own private-but-stable hook for this,
    ``torch.utils._python_dispatch``: nothing public sees operators below autograd).
    """
    originals = {name: getattr(torch.Tensor, name) for name in READ_METHODS}

    def wrap(name: str, original: Callable) -> Callable:
        def read(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            on_read(name, self)
            return original(self, *args, **kwargs)
        return read

    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, wrap(name, original))
        with _DataDependentOps(on_read):
            yield
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


# functions that read a value only when their tensor is on the CPU (on a GPU they take a path without a
# read): torchmetrics' logits-or-probabilities test uses ``torch.all`` on a CPU and ``torch.where``
# on a GPU, precisely to avoid the synchronisation there
CPU_ONLY_READS = frozenset({"normalize_logits_if_needed"})


class HostReadCounter(pl.Callback):
    """Counts tensor value reads per training batch, from one batch's start to the next one's.

    The window of batch ``i`` covers its step, its callbacks, logging and progress-bar work, and
    the fetching of batch ``i + 1``; the last batch of an epoch ends at the epoch's end (epoch-end
    work is not a per-step cost). ``per_batch`` maps ``(epoch, batch_idx)`` to a Counter of
    ``"method at caller"``; :meth:`steady_state` keeps the batches that should read nothing.
    """

    def __init__(self) -> None:
        self.per_batch: dict[tuple[int, int], Counter] = {}
        self.per_val_batch: dict[tuple[int, int], Counter] = {}  # (epoch, batch) of validation
        self.log_every_n_steps = 1
        self._current: Optional[Counter] = None
        self._host_ids: set[int] = set()
        self._block: Any = None

    # -- what counts -------------------------------------------------------------------------
    def _record(self, method: str, tensor: torch.Tensor) -> None:
        if self._current is None or id(tensor) in self._host_ids:
            return
        frames = traceback.extract_stack(limit=40)
        if any("torch/utils/data/" in f.filename or f.name == "on_before_batch_transfer" for f in frames):
            return  # the DataLoader and this hook work on the batch while it is still on the host
        if any(f.name in CPU_ONLY_READS for f in frames):
            return
        self._current[f"{method} at {_caller(frames)}"] += 1

    def _refresh_host_ids(self, trainer: pl.Trainer) -> None:
        self._host_ids = {id(state["step"]) for opt in trainer.optimizers for state in opt.state.values()
                          if isinstance(state.get("step"), torch.Tensor) and state["step"].device.type == "cpu"}

    # -- the window of each batch ------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.log_every_n_steps = trainer.log_every_n_steps
        self._block = intercept_reads(self._record)
        self._block.__enter__()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._refresh_host_ids(trainer)
        self._current = self.per_batch.setdefault((trainer.current_epoch, batch_idx), Counter())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._current = None

    def on_validation_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                                  batch_idx: int, dataloader_idx: int = 0) -> None:
        """Validation batches get windows of their own (inside the last training batch's window, which
        is not a steady-state one): from one validation batch's start to the next one's."""
        if self._block is not None:  # not the sanity check, which runs before on_train_start
            self._current = self.per_val_batch.setdefault((trainer.current_epoch, batch_idx), Counter())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._block is not None:
            self._current = None  # the epoch's metrics are computed (and read) after this

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._stop()

    def _stop(self) -> None:
        self._current = None
        if self._block is not None:
            self._block.__exit__(None, None, None)
            self._block = None

    # -- results -----------------------------------------------------------------------------
    def steady_batches(self) -> list[tuple[int, int]]:
        """The steady-state batches: not the run's first, not a logging step (Lightning's: every
        ``log_every_n_steps`` batches counted from 1 over the run), not an epoch's last (whose
        window holds validation and epoch-end work)."""
        last: dict[int, int] = {}
        for epoch, batch in self.per_batch:
            last[epoch] = max(last.get(epoch, -1), batch)
        every = self.log_every_n_steps
        return [(e, b) for i, (e, b) in enumerate(sorted(self.per_batch), 1)
                if (e, b) != (0, 0) and not (every > 0 and i % every == 0) and b != last[e]]

    def steady_validation_batches(self) -> list[tuple[int, int]]:
        """Validation batches but each epoch's last (whose window reaches the epoch's end)."""
        last: dict[int, int] = {}
        for epoch, batch in self.per_val_batch:
            last[epoch] = max(last.get(epoch, -1), batch)
        return [(e, b) for e, b in sorted(self.per_val_batch) if b != last[e]]

    def steady_validation(self) -> dict[tuple[int, int], dict[str, int]]:
        """Reads in steady-state validation batches, batches without reads left out: {} is the goal."""
        return {key: dict(self.per_val_batch[key]) for key in self.steady_validation_batches()
                if self.per_val_batch[key]}

    def steady_state(self) -> dict[tuple[int, int], dict[str, int]]:
        """Reads in steady-state batches, batches without reads left out: {} is the goal."""
        return {key: dict(self.per_batch[key]) for key in self.steady_batches() if self.per_batch[key]}
