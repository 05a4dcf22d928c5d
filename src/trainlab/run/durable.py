"""Files that survive a hard kill (SIGKILL, the OOM killer) at any moment, and readers that name a file a
power loss cut short.

A kill runs no handler, so a file being written is left as far as it got. Three habits keep every
record readable afterwards:

- whole files (summaries, configs, reports, plots, copied checkpoints) are written to a temporary file in
  the same folder and renamed over the target (:func:`write_atomic`, :func:`save_figure`,
  :func:`copy_file`): a rename within one folder is atomic on POSIX file systems, so a reader sees the
  old file or the new one, never a part;
- line logs (``epochs.jsonl``) are appended one whole line per write (:func:`append_json_line`), and
  an append first cuts a torn last line a kill left (power loss can tear even one write);
- readers of those logs (:func:`read_json_lines`) drop a torn last line with one warning, and refuse a
  damaged line elsewhere, or a damaged whole file (:func:`read_json`, :func:`read_yaml`), with one line
  naming the file.

A kill mid-write leaves at most a stray ``.<name>.<pid>.<thread>.tmp``, which is never read. Nothing
here calls fsync (a sweep writes four files per trial; checkpoints do, :mod:`trainlab.run.checkpoint_io`):
after a power loss a file replaced whole is the old or the new one only where the file system writes a
file's data before a rename over it (ext4's default, auto_da_alloc); elsewhere it may be cut short, and
its reader says so in one line (the ETS cache is fitted again).

A disk that fills up (or a quota, or a file size limit, or a disk remounted read-only, or a folder or file
this user may no longer write) mid-write is no bug: every writer here removes its temporary file and raises
:class:`DiskFull`, one line naming the file and the reason, and the file it would have replaced stays as it
was. (The name stayed when read-only disks and permissions joined: callers and users know it; the message
says which it is.)
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

# "no space left", "quota exceeded", "file too large", "read-only file system" (a disk remounted
# read-only after an error, mid-run), "permission denied" (a folder whose permissions changed, a file
# another user owns in a shared folder): the disk or its owner, not the program, is at fault
PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}) | PERMISSION_ERRNOS


def disk_state(cause: OSError, writing: bool = True, path: Union[str, os.PathLike, None] = None) -> tuple[str, str]:
    """(what the disk is, what the user does about it) for one of DISK_ERRNOS; ``writing``: known to be a
    write (else a permission is said of any use); ``path``: the file being written, where the caller knows it
    and the error does not name it (a write through a file already open: a bare EACCES)."""
    if cause.errno == errno.EROFS:
        return "the disk became read-only", "make {where} writable again"
    if cause.errno in PERMISSION_ERRNOS:  # said of the file named before it, whatever disk it is on
        from trainlab.run.permissions import let_user, plain_advice

        named = cause.filename or path
        if named:  # by who owns it (trainlab.run.permissions)
            return "permission denied", let_user(named, "write" if writing else "use").replace("{", "{{")
        return "permission denied", plain_advice("write", "there again") if writing else plain_advice("use", "it again")
    if cause.errno == errno.EFBIG:  # no full disk: one file reached the largest size this process may write
        return ("a file-size limit stopped the write (the process's limit, ulimit -f / prlimit --fsize, or the "
                "file system's largest file)", "raise the file-size limit of the shell or job that starts it, if "
                "that is the limit (ulimit -f unlimited; a SLURM job or container sets its own); a file system's "
                "largest file (FAT32: 4 GiB) cannot be raised")
    if cause.errno == errno.EDQUOT:  # the disk may have room; this user's share of it has not
        return "the disk quota is used up", "free some of your quota on {where} (quota -s shows it)"
    return "the disk is full", "free some space on {where}"


PAGE_SLACK = 65536  # sqlite's largest page: the write that met the limit may have left the file up to one short


def database_state(database: Optional[Path]) -> tuple[str, str, str]:
    """(what the disk is, what the user does about it, the system's words) when sqlite says 'database or disk is
    full' and no errno tells why: a file-size limit (ulimit -f) that ``database`` (or its journal) has reached
    while its disk has room (it was called a full disk), else a full disk. ``database``: None when unknown."""
    import resource
    import shutil

    full = ("the disk is full", "free some space on {where}", os.strerror(errno.ENOSPC))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if database is None or limit == resource.RLIM_INFINITY:
        return full
    try:
        free = shutil.disk_usage(database.parent).free
        size = max((f.stat().st_size for f in (database, Path(f"{database}-journal"), Path(f"{database}-wal"))
                    if f.is_file()), default=0)
    except OSError:  # the folder gone, or not ours to look at: nothing known against a full disk
        return full
    if free <= PAGE_SLACK or size + PAGE_SLACK < limit:
        return full
    return (*disk_state(OSError(errno.EFBIG, os.strerror(errno.EFBIG))), os.strerror(errno.EFBIG))


def _chain(exc: Optional[BaseException]) -> Iterator[BaseException]:
    """``exc`` and what it was raised from or during, up to a ``raise ... from None`` (which says: not
    caused by what was being handled; a sweep's TrialFailed says so of the error its trial recorded)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        yield exc
        seen.add(id(exc))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def disk_full_cause(exc: Optional[BaseException]) -> Optional[OSError]:
    """The OSError of a full disk behind ``exc`` (torch.save wraps one into a RuntimeError), or None."""
    return next((e for e in _chain(exc) if isinstance(e, OSError) and e.errno in DISK_ERRNOS), None)


def full_database(exc: Optional[BaseException]) -> Optional[BaseException]:
    """The error of an SQLite database that its full disk stopped (``database or disk is full``: MLflow's
    ``mlflow.db``, an Optuna study; SQLAlchemy and Optuna wrap it), or None. A write the system refused
    (``disk I/O error``, SQLITE_IOERR_WRITE: a file size limit, a quota) counts too: sqlite says FULL only
    for ENOSPC, and a study under ``prlimit --fsize`` was tried five times and refused as 'cannot open'."""
    import sqlite3

    stopped = {sqlite3.SQLITE_FULL, getattr(sqlite3, "SQLITE_IOERR_WRITE", 778)}
    return next((e for e in _chain(exc)
                 if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None) in stopped), None)


class DiskFull(UserError):
    """A file could not be written for lack of space (or on a disk gone read-only, or without permission);
    what was written before is intact.

    The message names the file, then what to do: by default free space or write elsewhere, and run again;
    a caller that knows better (resume, evaluate the finished run) says so with :meth:`then`. Callbacks
    that would write more on the way out (CheckpointOnException) check for it and skip.

    Args:
        what: what failed, naming the file.
        step: what to do next.
    """

    STEP = "{Remedy}, or write elsewhere with paths.log_dir=<a folder on another disk>, and run it again"

    def __init__(self, what: str, step: str = STEP, reason: str = os.strerror(errno.ENOSPC),
                 remedy: str = "free some space on {where}", where: str = "that disk"):
        done = self.remedy_on(where, remedy)
        super().__init__(f"{what}. {step.format(remedy=done, Remedy=done[0].upper() + done[1:])}")
        # reason: the system's words (No space left on device); remedy: what frees the disk, {where} in it
        self.what, self.reason, self.remedy = what, reason, remedy

    def remedy_on(self, where: str, remedy: Optional[str] = None) -> str:
        """What frees the disk, said of ``where`` (``free some space on the run folder's disk``)."""
        return (remedy or self.remedy).format(where=where)

    @classmethod
    def writing(cls, path: Union[str, os.PathLike], cause: OSError, what: str = "",
                written: Optional[int] = None, kept: str = "") -> DiskFull:
        """``the disk is full: writing <what> '<path>' failed (<the system's words>)[; <kept>]``."""
        how = "failed" if written is None else f"stopped after {written / 1024:.0f} kB"
        (state, remedy), reason = disk_state(cause, path=path), os.strerror(cause.errno)
        return cls(f"{state}: writing {what + ' ' if what else ''}'{path}' {how} ({reason})"
                   f"{'; ' + kept if kept else ''}", reason=reason, remedy=remedy)

    @classmethod
    def of(cls, exc: BaseException, path: Union[str, os.PathLike, None] = None) -> Optional[DiskFull]:
        """``exc`` as a DiskFull when a full disk is behind it (a writer outside this module: TensorBoard,
        a logger, a library's own file), naming the file when the error does, else ``path``: the file the caller
        was writing, where it knows it; else None."""
        found = next((e for e in _chain(exc) if isinstance(e, DiskFull)), None)
        if found is not None:
            return found
        cause, database = disk_full_cause(exc), full_database(exc)
        if cause is not None and not cause.filename and path is not None:  # a bare errno: the caller's file
            return cls.writing(path, cause)
        if cause is not None and cause.filename and cause.errno in PERMISSION_ERRNOS:  # a read, or a write
            (state, remedy), reason = disk_state(cause, writing=False), os.strerror(cause.errno)
            return cls(f"{state}: '{cause.filename}' ({reason}, met by {_writer_of(cause)})", reason=reason,
                       remedy=remedy)
        if cause is not None and cause.filename:
            return cls.writing(cause.filename, cause)
        if database is not None:
            return cls.database(f"{database}, met by {_writer_of(exc)}", None, "an SQLite database")
        if cause is None:
            return None
        (state, remedy), reason = disk_state(cause, writing=False), os.strerror(cause.errno)
        return cls(f"{state} ({reason}, met by {_writer_of(cause)})", reason=reason, remedy=remedy)

    @classmethod
    def database(cls, error: Any, file: Optional[Path], what: str) -> DiskFull:
        """``<state>: <what> could not be written (<error>)`` for SQLite's 'database or disk is full' (an Optuna study,
        MLflow's mlflow.db), told by :func:`database_state` from ``file`` (None: not known) as a file-size limit
        where the file reached it on a disk with room, else a full disk."""
        state, remedy, reason = database_state(file)
        return cls(f"{state}: {what} could not be written ({error})", reason=reason, remedy=remedy)

    def then(self, step: str, where: str) -> DiskFull:
        """The same error with another next step: ``{remedy}`` / ``{Remedy}`` in it say what frees the disk,
        of ``where`` (the run folder's disk)."""
        return DiskFull(self.what, step, self.reason, self.remedy, where)


@contextmanager
def quiet_full_disk_threads() -> Iterator[None]:
    """A thread that a full disk stops (TensorBoard's event writer) says so in one line, not in Python's
    'Exception in thread' traceback of thirty; its owner meets the error again in the main thread (the
    writer raises it at its next call), where it becomes the run's one line. Other errors keep theirs."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        cause = disk_full_cause(args.exc_value)
        if cause is None:
            previous(args)
            return
        name = args.thread.name if args.thread is not None else "a thread"
        print(f"warning: {disk_state(cause)[0]}: {_writer_of(cause)}'s writer ({name}) stopped "
              f"({os.strerror(cause.errno)})", file=sys.stderr, flush=True)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


_DRIVERS = ("sqlalchemy", "sqlite3")  # what a database's user writes through: the user is named


def _writer_of(exc: BaseException) -> str:
    """The package whose code was writing when ``exc`` was raised (``tensorboard``, ``mlflow``): the package
    of the innermost frame of the chain that is not a database driver."""
    packages = []
    for raised in _chain(exc):
        tb = raised.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.startswith("<"):  # code generated at run time (SQLAlchemy's)
                tb = tb.tb_next
                continue
            parts = Path(tb.tb_frame.f_code.co_filename).parts
            inside = next((i for i, part in enumerate(parts) if part in ("site-packages", "dist-packages", "src")),
                          None)
            packages.append(parts[inside + 1] if inside is not None and inside + 1 < len(parts) - 1 else parts[-1])
            tb = tb.tb_next
    return next((p for p in reversed(packages) if p not in _DRIVERS), "a writer")


def _refuse_full_disk(path: Path, exc: BaseException) -> None:
    """Raise :class:`DiskFull` naming ``path`` when a full disk is behind ``exc``."""
    cause = disk_full_cause(exc)
    if cause is not None and not isinstance(exc, DiskFull):
        raise DiskFull.writing(path, cause) from None


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (one per process and thread: parallel writers do not meet), renamed
    over ``path`` when the block ends without error and removed when it does not (a full disk:
    :class:`DiskFull`, ``path`` as it was)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as exc:
        if os.path.lexists(temporary):  # on a read-only file system unlink fails even for a missing file
            temporary.unlink()
        _refuse_full_disk(path, exc)
        raise


def write_atomic(path: Union[str, os.PathLike], content: Union[str, bytes]) -> None:
    """Write ``path`` whole or not at all: a reader (or another process) never sees half a file."""
    path = Path(path)
    with replacing(path) as temporary:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            with temporary.open("w", newline="", encoding="utf-8") as out:  # not the locale's (LANG=C: ascii)
                out.write(content)


def write_json(path: Union[str, os.PathLike], data: Any) -> None:
    """``data`` as indented JSON, written atomically."""
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def copy_file(source: Union[str, os.PathLike], target: Union[str, os.PathLike]) -> None:
    """``shutil.copy2``, atomically: a kill mid-copy (a checkpoint is large) leaves no cut-short ``target``."""
    import shutil

    with replacing(Path(target)) as temporary:
        shutil.copy2(source, temporary)


def save_figure(figure: Any, path: Union[str, os.PathLike], **savefig: Any) -> None:
    """``figure.savefig(path)``, atomically (the format from ``path``'s suffix: the temporary name has another)."""
    path = Path(path)
    savefig.setdefault("format", path.suffix.lstrip(".") or "png")
    with replacing(path) as temporary:
        figure.savefig(temporary, **savefig)


def cut_torn_tail(path: Path) -> None:
    """A log whose last line has no newline was cut mid-write: drop that fragment (one warning), so the
    next line does not run into it."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(max(0, size - (1 << 20)))  # a line is far shorter than a MiB
        tail = f.read()
        keep = size - len(tail) + tail.rfind(b"\n") + 1
        f.truncate(keep)
    log.warning("%s ended in a line cut short (a kill mid-write): dropped its %d byte(s)", path, size - keep)


def append_json_line(path: Union[str, os.PathLike], record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line in a single write, after cutting a torn last line. A full disk
    is :class:`DiskFull`, the file as it was before: a disk that fills mid-line makes ``write`` return
    short (no error), so the rest is written on, and the part already written is cut again when that fails."""
    path = Path(path)
    if path.is_file():
        cut_torn_tail(path)
    line = memoryview((json.dumps(record) + "\n").encode())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            before = os.lseek(fd, 0, os.SEEK_END)
            try:
                while line:
                    line = line[os.write(fd, line):]
            except OSError:
                os.ftruncate(fd, before)
                raise
        finally:
            os.close(fd)
    except OSError as exc:
        _refuse_full_disk(path, exc)
        raise


def read_json_lines(path: Union[str, os.PathLike]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file. A last line that does not parse was cut by a kill mid-write:
    dropped with one warning. A damaged line before it is refused with one line naming the file."""
    path = Path(path)
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if line.strip()]
    records = []
    for i, (number, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                log.warning("%s: its last line (%d) was cut short, as a kill mid-write leaves it: skipped",
                            path, number)
                break
            raise UserError(f"'{path}' line {number} is no JSON record ({line[:60]!r}); the file was damaged: "
                            "remove that line, or the file, and run again") from None
    return records


def read_yaml(path: Union[str, os.PathLike], remedy: str, load: Optional[Callable[[Path], Any]] = None) -> Any:
    """A whole YAML file (``load``: how to read it; ``yaml.safe_load`` of its text by default); one line
    naming it and ``remedy`` when it does not parse (cut short: Hydra writes .hydra/ in place) or is empty
    (a power loss can leave a file replaced whole without its data; every file read here holds something)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # as Hydra and write_atomic write it, whatever the locale
        if not text.strip():
            raise UserError(f"'{path}' is empty (cut short); {remedy}")
        return load(path) if load is not None else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"'{path}' is not readable YAML ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                        f"{remedy}") from None


def read_json(path: Union[str, os.PathLike], remedy: str) -> Any:
    """A whole JSON file; one line naming it and ``remedy`` when it is not readable JSON (cut short)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"'{path}' is not readable JSON ({type(exc).__name__}: {str(exc)[:80]}); it was cut short "
                        f"or damaged: {remedy}") from None
