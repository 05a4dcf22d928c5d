"""Dates written with dots (01.04.1959, as German, Swiss, Nordic and Slavic exports write them) are read day-first,
logged: no locale writes its months first with dots. Quarterly or monthly dates, whose days are all 12 or less, were
refused as reading two ways ('set data.source.time_format='%d.%m.%Y' or '%m.%d.%Y''); slashes still are."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.data.timeseries.sources import TableFile


def quarterly(tmp_path, written: str):
    path = tmp_path / "bip.csv"
    days = pd.date_range("1959-01-01", periods=24, freq="QS")
    pd.DataFrame({"Datum": days.strftime(written), "BIP": np.arange(24.0)}).to_csv(path, index=False, sep=";")
    return path


@pytest.mark.parametrize("written", ["%d.%m.%Y", "%d.%m.%y", "%d.%m.%Y %H:%M"])
def test_dates_with_dots_are_read_day_first(tmp_path, caplog, written):
    with caplog.at_level(logging.INFO):
        table = TableFile(str(quarterly(tmp_path, written)), ["BIP"], time_column="Datum").load()
    assert table.season_length == 4 and len(table.targets) == 24
    assert "dates with dots read day-first" in caplog.text


def test_dates_with_slashes_that_read_both_ways_are_refused_still(tmp_path):
    with pytest.raises(UserError, match=r"read month-first and day-first give two different series"):
        TableFile(str(quarterly(tmp_path, "%d/%m/%Y")), ["BIP"], time_column="Datum").load()
