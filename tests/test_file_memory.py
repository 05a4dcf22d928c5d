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


def test_the_memory_left_is_read_from_this_machine():
    left = memory.available_bytes()
    assert left is None or 0 < left < 2**50

