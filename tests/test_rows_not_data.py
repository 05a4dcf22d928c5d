"""Rows of a table that are no data. A line of units under the header (`date,realgdp` over `,bn USD 2005`, as agencies and loggers export a series):
left out, logged, in a CSV and a workbook's sheet alike. Read as data, it gave the time column an empty first value
('has an empty value (row 0); every row needs its time') or made each column text ('1 of its 204 values is no
number ('bn USD 2005'): correct it in the file'). A summary row below the data (Total, Average) is refused
naming it as such."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest

from tests.workbooks import write_xlsx
from trainlab.config.errors import UserError
from trainlab.data.timeseries.sources import TableFile

VALUES = 2700.0 + 10 * np.arange(24.0)
DATES = pd.date_range("1959-01-01", periods=24, freq="QS")


@pytest.mark.parametrize("units,time_column", [(",bn USD 2005,%", "date"), ("quarter,bn USD 2005,%", "date"),
                                              ("bn USD 2005,%", None)])
def test_a_csv_s_line_of_units_is_left_out(tmp_path, caplog, units, time_column):
    path = tmp_path / "macro.csv"
    frame = pd.DataFrame({"date": DATES.strftime("%Y-%m-%d"), "realgdp": VALUES, "infl": VALUES / 1000})
    if time_column is None:
        frame = frame.drop(columns="date")
    header, *rows = frame.to_csv(index=False).splitlines()
    path.write_text("\n".join([header, units, *rows]) + "\n")
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["realgdp"], time_column=time_column).load()
    assert np.array_equal(table.targets[:, 0], VALUES) and table.feature_names == ["infl"]
    assert f"its line of units under the header left out ('{units}')" in caplog.text


def test_a_sheet_s_row_of_units_is_left_out(tmp_path, caplog):
    path = tmp_path / "macro.xlsx"
    rows = [["date", "realgdp"], [None, "bn USD 2005"],
            *[[dt.datetime(d.year, d.month, d.day), v] for d, v in zip(DATES, VALUES)]]
    write_xlsx(path, {"GDP": rows})
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["realgdp"], time_column="date").load()
    assert np.array_equal(table.targets[:, 0], VALUES)
    assert "its row of units under the header (row 2) left out (bn USD 2005)" in caplog.text


def test_a_first_row_of_data_with_a_word_among_its_numbers_is_data(tmp_path):
    """A category or a missing-value word in the first row, beside values, keeps it a row of data."""
    path = tmp_path / "x.csv"
    path.write_text("date,y,x,day\n,n/a,n/a,holiday\n" + "".join(
        f"2020-01-{d:02d},{d},{d},weekday\n" for d in range(2, 30)))
    with pytest.raises(UserError, match=r"has an empty value \(row 0\); every row needs its time"):
        TableFile(str(path), ["y"], time_column="date").load()
    path.write_text(path.read_text().replace(",n/a,n/a,holiday", "2020-01-01,1,n/a,holiday"))
    table = TableFile(str(path), ["y"], time_column="date").load()
    assert len(table.targets) == 29 and table.targets[0, 0] == 1 and np.isnan(table.features[0, 0])


@pytest.mark.parametrize("word", ["Total", "Grand total", "Average", "Summe"])
@pytest.mark.parametrize("times", [DATES.strftime("%Y-%m-%d"), np.arange(1959, 1983)])
def test_a_summary_row_below_the_data_is_named_as_such(tmp_path, word, times):
    """It was 'neither numbers nor dates (row 24: 'Total'); fix that row, set data.source.time_format, ...': a
    format reads no total."""
    path = tmp_path / "macro.csv"
    frame = pd.DataFrame({"date": times, "realgdp": VALUES})
    pd.concat([frame, pd.DataFrame({"date": [word], "realgdp": [VALUES.sum()]})]).to_csv(path, index=False)
    with pytest.raises(UserError, match=rf"row 24 \('{word}'\) is a summary of the rows above .*: delete that row "
                                        r"from the file"):
        TableFile(str(path), ["realgdp"], time_column="date").load()


def test_a_total_row_under_the_data_without_a_time_is_named_as_rows_under_the_data(tmp_path):
    """A spreadsheet's total row under statsmodels' copper data, its time column (the last) empty, was refused as
    'has an empty value (row 25); every row needs its time', leaving the user to find what that row was."""
    from statsmodels.datasets import copper

    frame = copper.load_pandas().data.assign(YEAR=lambda f: (1950 + f.TIME).astype(int))
    frame = frame[["WORLDCONSUMPTION", "COPPERPRICE", "YEAR"]]
    total = f"{frame.COPPERPRICE.sum():.1f}".replace(".", ",")
    (tmp_path / "copper.csv").write_text(frame.to_csv(sep=";", decimal=",", index=False) + f"Total;{total};\n")
    with pytest.raises(UserError, match=r"has an empty value \(row 25\); every row needs its time: the last 1 row\(s\) "
                                        r"have none, rows under the data \(a total, an average, a note\)\? delete them"):
        TableFile(str(tmp_path / "copper.csv"), ["COPPERPRICE"], time_column="YEAR").load()

