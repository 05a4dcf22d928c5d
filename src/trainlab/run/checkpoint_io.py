"""Checkpoints written so that a kill during a save never leaves an unreadable file.

Lightning's own save writes into the system temp folder and moves the file into place at the end;
when that folder lies on another file system the move is a copy, and a kill mid-copy leaves a
truncated ``last.ckpt`` that a resumed run cannot load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from trainlab.run.durable import DiskFull, disk_full_cause


def _written_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to ``<name>.tmp-<pid>`` in the target's own folder, flushes it to disk, then renames.

    A rename within one folder is atomic on POSIX file systems: readers (and a resumed run) see the
    old complete file or the new complete file, never a part of one. A kill mid-save leaves at most a
    stray ``.tmp-*`` file, removed by the next save in that folder.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f"{target.name}.tmp-*"):
            stale.unlink(missing_ok=True)
        temporary = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        try:
            with open(temporary, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, target)
        except BaseException as exc:  # a kill (KeyboardInterrupt, SystemExit) too: no half file stays
            written = _written_bytes(temporary)
            temporary.unlink(missing_ok=True)
            cause = disk_full_cause(exc)
            if cause is not None:
                earlier = any(target.parent.glob("*.ckpt"))
                raise DiskFull.writing(target, cause, "checkpoint", written, kept=(
                    f"the earlier checkpoints in '{target.parent}' are intact" if earlier else "")) from None
            raise
