"""A user's own series files as spreadsheets and other programs save them (trainlab.data.files,
trainlab.data.timeseries.sources): text encodings other than UTF-8, ... Each test writes the file as
that program does and reads it through the source a run uses."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from trainlab.data.timeseries.sources import TableFile


def _saved(path, frame: pd.DataFrame, encoding: str, **kwargs) -> str:
    frame.to_csv(path, index=False, encoding=encoding, **kwargs)
    return str(path)


@pytest.mark.parametrize("encoding,name", [("cp1252", "export.csv"), ("latin-1", "export.csv.gz"),
                                           ("utf-16", "unicode.csv")])
def test_a_csv_saved_in_a_windows_code_page_or_utf16_reads_as_its_utf8_copy(tmp_path, caplog, encoding, name):
    """Excel on Windows saves "CSV" in the code page (Windows-1252: ° ³ é ü, here a ü in row 80); the file was refused with Python's
    "'utf-8' codec can't decode byte 0xb0 in position 20". A byte beyond the lines read to sniff the separator
    (a town's name in row 80) is read too."""
    frame = pd.DataFrame({"Datum": pd.date_range("2021-01-01", periods=80).strftime("%d.%m.%Y"),
                          "Temperatur": np.arange(80) * 0.5, "Ort": ["Koln"] * 79 + ["Zürich"]})
    utf8 = _saved(tmp_path / "utf8.csv", frame, "utf-8", sep=";", decimal=",")
    other = _saved(tmp_path / name, frame, encoding, sep=";", decimal=",")
    with caplog.at_level(logging.INFO):
        tables = [TableFile(path, ["Temperatur"], time_column="Datum").load() for path in (utf8, other)]
    np.testing.assert_array_equal(tables[0].targets, tables[1].targets)
    assert list(tables[1].categories["Ort"][-2:]) == ["Koln", "Zürich"]
    if encoding != "utf-16":
        assert "is not UTF-8 (byte 0xfc): read as " in caplog.text


def test_a_header_in_a_code_page_names_its_columns_as_typed(tmp_path):
    frame = pd.DataFrame({"Jahr": range(1871, 1901), "Abfluss (m³)": np.arange(30.0)})
    path = _saved(tmp_path / "nil.csv", frame, "cp1252", sep=";")
    table = TableFile(path, ["Abfluss (m³)"], time_column="Jahr").load()
    assert table.target_names == ["Abfluss (m³)"] and table.targets[-1, 0] == 29.0
