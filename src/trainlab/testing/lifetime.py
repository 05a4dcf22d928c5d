"""What ties a throwaway server (PostgreSQL, a one-node SLURM cluster) to the test process that started it, so
that a test run ended outright (``timeout``, SIGKILL, a closed terminal: no ``finally`` runs) leaves no server
running and, from the next start on, none of its files.

- :func:`die_with_parent`: for ``subprocess.Popen(preexec_fn=...)``; the server gets a signal when the process
  that started it ends, however it ends (Linux's ``PR_SET_PDEATHSIG``; nothing elsewhere). The server must be
  that process's own child, in the foreground: ``pg_ctl start`` daemonizes it, and it ran on for hours.
- :func:`owned_folder` makes the server's temp folder with its owner's process id inside;
  :func:`remove_abandoned` removes the folders whose owner has ended, which a killed run could not remove.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Optional

OWNER = "owner"  # in each folder: '<pid> <start time>' of the process that made it


def _libc_prctl() -> Optional[Callable[..., int]]:
    """libc's prctl, or None where there is none."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def prctl(option: int, value: int) -> None:
    """Linux's prctl for this process (a no-op where there is none)."""
    call = _libc_prctl()
    if call is not None:
        call(option, value, 0, 0, 0)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it ends. It runs after Popen's
    ``user=``, where root's Python may be unreadable: prctl is looked up here, in the parent."""
    call = _libc_prctl()

    def tie() -> None:
        if call is not None:
            call(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG

    return tie


def _started(pid: int) -> Optional[str]:
    """When process ``pid`` started (clock ticks since boot, from /proc), telling it from a later process given
    the same id; None where it is gone (or /proc is absent)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owned_folder(prefix: str) -> Path:
    """A new folder under the system's temp folder, recording this process as its owner."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER).write_text(f"{os.getpid()} {_started(os.getpid()) or ''}")
    return folder


def _owner_gone(folder: Path) -> bool:
    try:
        pid, _, started = (folder / OWNER).read_text().partition(" ")
        pid = int(pid)
    except (OSError, ValueError):  # no owner recorded (yet, or by an older trainlab): left alone
        return False
    now = _started(pid)
    if now is not None:
        return bool(started) and now != started  # alive, unless the id was given to a later process
    if Path("/proc").is_dir():
        return True
    try:  # no /proc: whether the id is in use at all
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_abandoned(prefix: str) -> list[Path]:
    """Remove the folders ``prefix*`` under the temp folder whose owner has ended; the ones removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        if folder.is_dir() and _owner_gone(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
