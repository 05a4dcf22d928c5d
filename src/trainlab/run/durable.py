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
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (one per process and thread: parallel writers do not meet), renamed
    over ``path`` when the block ends without error and removed when it does not."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: Union[str, os.PathLike], content: Union[str, bytes]) -> None:
    """Write ``path`` whole or not at all: a reader (or another process) never sees half a file."""
    path = Path(path)
    with replacing(path) as temporary:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            with temporary.open("w", newline="") as out:
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
    """Append ``record`` as one JSON line in a single write, after cutting a torn last line."""
    path = Path(path)
    if path.is_file():
        cut_torn_tail(path)
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_json_lines(path: Union[str, os.PathLike]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file. A last line that does not parse was cut by a kill mid-write:
    dropped with one warning. A damaged line before it is refused with one line naming the file."""
    path = Path(path)
    lines = [(n, line) for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if line.strip()]
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
        if not path.read_text().strip():
            raise UserError(f"'{path}' is empty (cut short); {remedy}")
        return load(path) if load is not None else yaml.safe_load(path.read_text())
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"'{path}' is not readable YAML ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                        f"{remedy}") from None


def read_json(path: Union[str, os.PathLike], remedy: str) -> Any:
    """A whole JSON file; one line naming it and ``remedy`` when it is not readable JSON (cut short)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"'{path}' is not readable JSON ({type(exc).__name__}: {str(exc)[:80]}); it was cut short "
                        f"or damaged: {remedy}") from None
