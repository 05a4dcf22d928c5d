"""Checkpoints written so that a kill during a save never leaves an unreadable file.

Lightning's own save writes into the system temp folder and moves the file into place at the end;
when that folder lies on another file system the move is a copy, and a kill mid-copy leaves a
truncated ``last.ckpt`` that a resumed run cannot load.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from trainlab.config.composition import command_line
from trainlab.config.errors import UserError

# "no space left", "quota exceeded", "file too large": the disk, not the program, is at fault
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFull(UserError):
    """A checkpoint could not be written for lack of space; earlier checkpoints are intact.

    Callbacks that would write more on the way out (CheckpointOnException) check for it and skip.
    """


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
            cause = _os_error(exc)
            if cause is not None and cause.errno in _DISK_ERRNOS:
                raise DiskFull(
                    f"the disk is full: writing checkpoint '{target}' stopped after {written / 1024:.0f} kB "
                    f"({os.strerror(cause.errno)}); the earlier checkpoints in '{target.parent}' are intact. "
                    f"Free some space, then resume: {command_line('train.py', [], ckpt_path=target.parent.parent)}"
                ) from None
            raise


def _os_error(exc: BaseException) -> Optional[OSError]:
    """The OSError behind ``exc``: torch.save wraps a failed write into a RuntimeError."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
