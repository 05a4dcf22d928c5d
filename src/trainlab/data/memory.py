"""Whether a table file can be read into this machine's memory, said before the read starts.

A table is read whole (pandas): a file larger than the memory left on the machine (or in this
process's cgroup, as in a container or a SLURM job) ends with the kernel's OOM killer, a bare
``Killed`` after minutes of reading. It is refused in one line instead. Measured here
(``train.py ... trainer.max_steps=1``, peak RSS less that of the same run on the built-in data,
0.55-0.67 GB): a CSV of one long series (5 million rows) needed 7x its size, one of 20,000 series
10x, a star catalogue of a million stars 30x (its kNN graph and the whole-graph step); so a file
above a seventh of the memory left gets a warning that the run may not fit.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Optional

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

RUN_FACTOR = 7  # peak memory of a run over its file's size, the least seen (a long series' CSV)
FITS_READ_FACTOR = 2  # a FITS table's read holds ~2x its data (2.1x measured: benchmarks/astro_table_memory.py)


def _read_int(path: str) -> Optional[int]:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes() -> Optional[int]:
    """Memory this process can still take: the kernel's MemAvailable, or less where a cgroup (v2 or v1)
    limits it; None where neither can be read (not Linux)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for limit, used in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        cap, now = _read_int(limit), _read_int(used)  # "max" (no limit) reads as None
        if cap is not None and now is not None and cap < 2**60:
            found.append(max(cap - now, 0))
    return min(found) if found else None


def data_bytes(path: Path) -> int:
    """The bytes a file's table takes at least once read: its size, or what it unpacks to where the file
    says so (a .zip's member, a workbook's XML parts, a .gz's last 4 bytes, a Parquet file's uncompressed row groups, an NPY array)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        with open(path, "rb") as f:  # gzip's trailer: the unpacked size modulo 4 GiB, of its last member
            f.seek(-4, 2)
            unpacked = int.from_bytes(f.read(4), "little")
        return max(unpacked, path.stat().st_size)  # at least either: past 4 GiB the trailer has wrapped round
    # a workbook of today's formats is a zip of XML parts too: its sheets unpacked, several times its file's size
    if name.endswith((".zip", ".xlsx", ".xlsm", ".xlsb", ".ods")) and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if name.endswith(".npy"):
        import numpy as np

        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return path.stat().st_size


def check_fits(path: Path, key: str) -> None:
    """Refuse a file whose table cannot fit in the memory left (one line naming ``key``); warn when the
    run after the read may not fit (about RUN_FACTOR x the table)."""
    available = available_bytes()
    if available is None:
        return
    try:
        needed = data_bytes(path)
    except (OSError, ValueError, zipfile.BadZipFile):
        return  # unreadable: the read itself says why
    gb = 2**30
    name = path.name.lower()
    fits = name.removesuffix(".gz").endswith((".fits", ".fit", ".fts"))
    if needed * (FITS_READ_FACTOR if fits else 1) > available:
        read = f", and reading a FITS table takes {FITS_READ_FACTOR}x that ({needed * FITS_READ_FACTOR / gb:.1f} GB)" \
            if fits else ""
        raise UserError(f"{key}: '{path.name}' holds {needed / gb:.1f} GB of data{read}, more than the "
                        f"{available / gb:.1f} GB of memory left on this machine, and a table is read whole; give a "
                        "smaller file (fewer rows or columns: a time range, data.source.series), or run where there "
                        "is more memory")
    if needed * RUN_FACTOR > available:
        log.warning("%s: '%s' holds %.1f GB of data, and a run has needed %dx its data or more (%.0f GB); %.1f GB of "
                    "memory is left on this machine, so this run may run out of it", key, path.name, needed / gb,
                    RUN_FACTOR, needed * RUN_FACTOR / gb, available / gb)
