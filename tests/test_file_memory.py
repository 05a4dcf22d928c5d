"""A table file too large for the memory left is refused in one line before it is read (it ended with
the OOM killer's bare "Killed" after minutes of reading); one that may not leave room for the run warns."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data import memory
from trainlab.data.files import read_frame


def _csv(tmp_path, rows: int = 2000):
    path = tmp_path / "load.csv"
    pd.DataFrame({"t": np.arange(rows), "load": np.random.default_rng(0).normal(size=rows)}).to_csv(path, index=False)
    return path


def test_a_file_larger_than_the_memory_left_is_refused_in_one_line(tmp_path, monkeypatch):
    path = _csv(tmp_path)
    monkeypatch.setattr(memory, "available_bytes", lambda: path.stat().st_size // 2)
    with pytest.raises(UserError, match=r"^data.source.path: 'load.csv' holds 0.0 GB of data, more than the 0.0 GB of "
                                        r"memory left on this machine, and a table is read whole; give a smaller file"):
        read_frame(str(path), "data.source.path")


def test_a_file_that_may_not_leave_room_for_the_run_warns_and_is_read(tmp_path, monkeypatch, caplog):
    path = _csv(tmp_path)
    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * path.stat().st_size)
    with caplog.at_level(logging.WARNING):
        assert len(read_frame(str(path), "data.source.path")) == 2000
    assert any("a run has needed 7x its data or more" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(memory, "available_bytes", lambda: 100 * path.stat().st_size)
    caplog.clear()
    read_frame(str(path), "data.source.path")
    assert not caplog.records


def test_packed_files_count_what_they_unpack_to(tmp_path):
    array = np.zeros((300, 7))
    np.save(tmp_path / "a.npy", array)
    assert memory.data_bytes(tmp_path / "a.npy") == array.nbytes
    csv = _csv(tmp_path)
    with zipfile.ZipFile(tmp_path / "load.csv.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, "load.csv")
    assert memory.data_bytes(tmp_path / "load.csv.zip") == csv.stat().st_size
    pd.read_csv(csv).to_parquet(tmp_path / "load.parquet")
    assert memory.data_bytes(tmp_path / "load.parquet") >= 2000 * 16
    from tests.workbooks import write_xlsx  # a workbook counted as its file's size, a fraction of its sheets'

    book = write_xlsx(tmp_path / "load.xlsx", {"S": [["t", "load"], *([i, i / 7] for i in range(2000))]})
    with zipfile.ZipFile(book) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    assert memory.data_bytes(book) == unpacked > 3 * book.stat().st_size


def test_the_memory_left_is_read_from_this_machine():
    left = memory.available_bytes()
    assert left is None or 0 < left < 2**50



@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip"])
def test_a_long_read_says_how_far_it_is_and_reads_what_pandas_reads(tmp_path, monkeypatch, caplog, suffix):
    """A CSV of several GB read for minutes after its one 'reading ...' line; now a line every 30 s."""
    from trainlab.data import csv_files

    frame = pd.DataFrame({"when": pd.date_range("2021-01-01", periods=3000, freq="h").astype(str),
                          "load": np.random.default_rng(1).normal(size=3000), "site": ["a", "b", "é"] * 1000})
    path = tmp_path / f"load{suffix}"
    frame.to_csv(path, index=False, encoding="utf-8-sig")  # with a byte-order mark, as spreadsheets write
    monkeypatch.setattr(csv_files, "PROGRESS_S", 0.0)
    with caplog.at_level(logging.INFO, logger="trainlab.data.csv_files"):
        read = read_frame(str(path), "data.source.path")
    pd.testing.assert_frame_equal(read, pd.read_csv(path, encoding="utf-8-sig"))
    assert list(read.columns) == ["when", "load", "site"]
    assert any(r.getMessage().startswith(f"reading 'load{suffix}': ") and "%" in r.getMessage()
               for r in caplog.records)


def test_a_gzipped_csv_counts_what_it_unpacks_to(tmp_path, monkeypatch):
    """A .csv.gz was counted at its packed size (a tenth of its table, or less): one whose table cannot fit
    went on to the read and the OOM killer."""
    import gzip

    csv = _csv(tmp_path, rows=20000)
    packed = tmp_path / "load.csv.gz"
    packed.write_bytes(gzip.compress(csv.read_bytes()))
    assert memory.data_bytes(packed) == csv.stat().st_size
    monkeypatch.setattr(memory, "available_bytes", lambda: csv.stat().st_size // 2)
    with pytest.raises(UserError, match=r"^data.source.path: 'load.csv.gz' holds"):
        read_frame(str(packed), "data.source.path")


def test_a_fits_table_counts_what_reading_it_takes_and_is_read_a_column_at_a_time(tmp_path, monkeypatch):
    # reading a 278 MB FITS table peaked at 3.5x the file (the table, its columns byte-swapped and pandas' block of
    # them at once; benchmarks/astro_table_memory.py), and the refusal counted the file's size only
    from astropy.table import MaskedColumn, Table

    path = tmp_path / "stars.fits"
    Table({"source_id": np.arange(2000, dtype=np.int64) + 2**62, "ra": np.linspace(0, 1, 2000),
           "dec": np.linspace(-1, 0, 2000),
           "rv": MaskedColumn(np.arange(2000, dtype=np.int32), mask=np.arange(2000) % 7 == 0),
           "label": np.where(np.arange(2000) % 2, "field", "hyades")}).write(path)
    frame = read_frame(str(path), "data.source.path")
    expected = Table.read(path).to_pandas()
    pd.testing.assert_frame_equal(frame, expected)  # as astropy's own conversion reads it
    assert frame._mgr.nblocks == 5  # one block per column: not copied into one block of the floats
    monkeypatch.setattr(memory, "available_bytes", lambda: int(1.5 * path.stat().st_size))
    with pytest.raises(UserError, match=r"^data.source.path: 'stars.fits' holds 0.0 GB of data, and reading a FITS "
                                        r"table takes 2x that \(0.0 GB\), more than the 0.0 GB of memory left"):
        read_frame(str(path), "data.source.path")
