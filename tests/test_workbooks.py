"""Spreadsheet workbooks as data files (trainlab.data.workbooks): a sheet of an .xlsx read as the same CSV is, its sheet
picked by data.source.sheet, title rows above its table, date and time cells, and a damaged, renamed, locked or
password-protected workbook refused in one line. Each was refused before ("a spreadsheet's workbook is not read: save
its sheet as CSV"). The workbooks, .xlsx and .ods, are written by hand (tests/workbooks.py: neither openpyxl,
xlsxwriter nor odfpy is a dependency)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import deny_reading
from tests.workbooks import Formula, write_ods, write_xlsx
from trainlab.config.errors import UserError
from trainlab.data.files import read_frame
from trainlab.data.timeseries.sources import TableFile

DAYS = 90


def demand(days: int = DAYS, start: str = "2024-01-01") -> pd.DataFrame:
    """Daily demand with a day_type of text (a category), a temperature with one empty cell, and a date."""
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)
    temperature = np.sin(t / 9)
    temperature[days // 5] = np.nan
    return pd.DataFrame({"date": dates, "day_type": np.where(dates.day_of_week >= 5, "weekend", "weekday"),
                         "temperature": temperature, "demand": 10 + 3 * (dates.day_of_week >= 5) + np.sin(t)})


def rows_of(frame: pd.DataFrame) -> list[list]:
    """The frame as a sheet's rows: the header, then the cells (dates as date cells, NaN as no cell)."""
    def cell(value):
        if isinstance(value, pd.Timestamp):
            return value.date() if value == value.normalize() else value.to_pydatetime()
        return None if isinstance(value, float) and np.isnan(value) else value
    return [list(frame.columns), *([cell(v) for v in row] for row in frame.itertuples(index=False))]


def data_module(path: Path, **source):
    from trainlab.data.timeseries.module import TimeSeriesDataModule

    return TimeSeriesDataModule(TableFile(str(path), ["demand"], time_column="date", **source), window=7,
                                ets_baseline=False)


def test_a_one_sheet_workbook_reads_and_scales_as_the_same_csv(tmp_path):
    frame = demand()
    frame.assign(date=frame.date.dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "demand.csv", index=False)
    write_xlsx(tmp_path / "demand.xlsx", {"Sheet1": rows_of(frame)})
    csv, book = data_module(tmp_path / "demand.csv"), data_module(tmp_path / "demand.xlsx")
    csv.setup("fit")
    book.setup("fit")
    assert book.input_names == csv.input_names == ["temperature", "day_type=weekday", "day_type=weekend", "demand"]
    np.testing.assert_array_equal(book.table.features, csv.table.features)  # the empty cell interpolated alike
    np.testing.assert_array_equal(book.table.targets, csv.table.targets)
    assert book.table.frequency == csv.table.frequency == "D" and book.table.season_length == 7
    for key, value in csv.stats.items():
        np.testing.assert_array_equal(book.stats[key], value)
    assert book.fingerprint() == csv.fingerprint()  # what a checkpoint records, and a resume or evaluate compares
    assert book.table.name == "demand"


def test_an_opendocument_sheet_reads_as_the_same_xlsx_sheet(tmp_path):
    """LibreOffice's .ods, its table below a title row on its second sheet."""
    sheet = [["Demand"], [], *rows_of(demand(30))]
    write_xlsx(tmp_path / "d.xlsx", {"About": [["x"]], "Demand": sheet})
    write_ods(tmp_path / "d.ods", {"About": [["x"]], "Demand": sheet})
    ods, xlsx = (TableFile(str(tmp_path / name), ["demand"], time_column="date", sheet="Demand").load()
                 for name in ("d.ods", "d.xlsx"))
    np.testing.assert_array_equal(ods.targets, xlsx.targets)
    np.testing.assert_array_equal(ods.features, xlsx.features)
    assert ods.feature_names == xlsx.feature_names == ["temperature"] and ods.frequency == "D"
    assert set(ods.categories["day_type"]) == {"weekday", "weekend"}


def test_a_changed_workbook_differs_from_the_checkpoints_data_as_a_changed_csv_does(tmp_path):
    frame = demand()
    path = write_xlsx(tmp_path / "demand.xlsx", {"Sheet1": rows_of(frame)})
    data = data_module(path)
    data.setup("fit")
    state = data.state_dict()
    assert data_module(path).data_differences(state) == []
    frame.loc[5, "demand"] = 40.0
    write_xlsx(path, {"Sheet1": rows_of(frame)})
    assert any("training statistics" in d for d in data_module(path).data_differences(state))


def test_a_sheet_is_picked_by_name_or_position_and_the_first_of_several_is_said_once(tmp_path, caplog):
    early, late = demand(40), demand(40, start="2024-06-01")
    path = write_xlsx(tmp_path / "years.xlsx", {"2023": rows_of(early), "2024": rows_of(late)})
    with caplog.at_level(logging.INFO, logger="trainlab.data.workbooks"):
        first = read_frame(str(path), "data.source.path")
        read_frame(str(path), "data.source.path")
    said = [r.getMessage() for r in caplog.records if "sheet '2023' read" in r.getMessage()]
    assert len(said) == 1 and "the first of its 2 sheets ('2023', '2024'); data.source.sheet=<name" in said[0]
    assert first.date.iloc[0] == pd.Timestamp("2024-01-01")
    for sheet in ("2024", 1, 2024):  # 2024: a number on the command line, no position: the sheet of that name
        assert read_frame(str(path), "data.source.path", sheet).date.iloc[0] == pd.Timestamp("2024-06-01")
    table = TableFile(str(path), ["demand"], time_column="date", sheet="2024").load()
    assert len(table.targets) == 40 and table.times[0].written[0] == pd.Timestamp("2024-06-01")
    write_xlsx(path, {"lookup": [["code", "name"], [1, "a"]], "2024": rows_of(late)}, hidden=["lookup"])
    assert read_frame(str(path), "data.source.path").date.iloc[0] == pd.Timestamp("2024-06-01")  # as a user sees it


@pytest.mark.parametrize("sheet,message", [
    ("Sales 2024", r"data.source.sheet='Sales 2024' is no sheet of '.*book.xlsx'; did you mean 'Sales_2024'\? its "
                   r"sheets are 'Sales 2023', 'Sales_2024', 'Notes' \(a name, or a 0-based position\)"),
    (3, r"data.source.sheet=3: '.*book.xlsx' has 3 sheet\(s\), at positions 0 to 2 \('Sales 2023', 'Sales_2024', "
        r"'Notes'\); give a position among them"),
    ("Notes", r"'.*book.xlsx' sheet 'Notes' is empty; give the sheet that holds the table \(its sheets are "),
])
def test_a_sheet_the_workbook_lacks_or_an_empty_one_is_refused_with_its_sheets(tmp_path, sheet, message):
    path = write_xlsx(tmp_path / "book.xlsx", {"Sales 2023": rows_of(demand(20)), "Sales_2024": rows_of(demand(20)),
                                               "Notes": []})
    with pytest.raises(UserError, match=message):
        TableFile(str(path), ["demand"], time_column="date", sheet=sheet).load()


def test_a_sheet_given_for_a_csv_is_refused(tmp_path):
    demand(20).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(UserError, match=r"data.source.sheet=Sales is set, but data.source.path '.*d.csv' is no "
                                        r"workbook .* leave it out \(data.source.sheet=null"):
        TableFile(str(tmp_path / "d.csv"), ["demand"], sheet="Sales").load()


def test_title_rows_above_the_header_merged_cells_and_blank_columns_are_read_as_the_sheet_shows(tmp_path, caplog):
    """An exported report: a merged title, a line of when, a blank row, then the table with an empty spacer column
    without a name, and each store's name merged over its rows."""
    table = [["store", "date", None, "sales"]]
    for store in ("North", "South"):
        for day in range(20):
            table.append([store if day == 0 else None, dt.date(2024, 1, 1) + dt.timedelta(days=day), None,
                          float(day + (store == "South"))])
    sheet = [["Sales by store"], ["Exported 2024-02-01 by the shop system"], [], *table]
    path = write_xlsx(tmp_path / "report.xlsx", {"Report": sheet},
                      merged={"Report": ["A1:D1", "A5:A24", "A25:A44"]})
    with caplog.at_level(logging.INFO, logger="trainlab.data.workbooks"):
        frame = read_frame(str(path), "data.source.path")
    assert list(frame.columns) == ["store", "date", "sales"] and len(frame) == 40
    assert frame.store.tolist() == ["North"] * 20 + ["South"] * 20
    said = caplog.text
    assert "2 row(s) above the header (row 4) left out ('Sales by store' ...)" in said
    assert "38 cell(s) of merged ranges read as the value each range shows" in said
    loaded = TableFile(str(path), ["sales"], time_column="date", series_column="store").load()
    assert loaded.series_rows == (("North", 20), ("South", 20))
    sheet[6][2] = "note"  # a value in the column the header leaves unnamed
    write_xlsx(path, {"Report": sheet})
    with pytest.raises(UserError, match=r"sheet 'Report' has values in column C, which its header \(row 4\) leaves "
                                        r"unnamed \(first: 'note'\); name that column in the header, or delete them"):
        read_frame(str(path), "data.source.path")


def test_date_cells_times_of_day_fractions_and_serial_numbers_read_as_the_same_hours(tmp_path):
    hours = pd.date_range("2024-03-01", periods=72, freq="h")
    y = np.sin(np.arange(72) / 4)
    moments = [[t.to_pydatetime(), v] for t, v in zip(hours, y)]
    clocks = [[t.date(), t.time(), v] for t, v in zip(hours, y)]  # a date cell and a time-of-day cell
    fractions = [[t.date(), t.hour / 24, v] for t, v in zip(hours, y)]  # a time of day left unformatted
    serials = [[(t - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1), v] for t, v in zip(hours, y)]
    path = write_xlsx(tmp_path / "hours.xlsx", {"moments": [["when", "y"], *moments],
                                                "clocks": [["day", "time", "y"], *clocks],
                                                "fractions": [["day", "time", "y"], *fractions],
                                                "serials": [["when", "y"], *serials]})
    read = {"moments": TableFile(str(path), ["y"], time_column="when", sheet="moments"),
            "clocks": TableFile(str(path), ["y"], time_column=["day", "time"], sheet="clocks"),
            "fractions": TableFile(str(path), ["y"], time_column=["day", "time"], sheet="fractions"),
            "serials": TableFile(str(path), ["y"], time_column="when", time_format="excel", sheet="serials"),
            "zoned": TableFile(str(path), ["y"], time_column="when", sheet="moments", time_zone="Europe/Berlin")}
    for name, source in read.items():
        table = source.load()
        assert table.frequency == "h" and table.season_length == 24, name
        np.testing.assert_allclose(table.targets[:, 0], y, err_msg=name)
        times = pd.DatetimeIndex(table.times[0].times)
        expected = hours - pd.Timedelta(hours=1) if name == "zoned" else hours  # Berlin's winter clock is UTC+1
        assert (times == expected).all(), name


def test_a_formula_column_saved_without_its_values_is_said(tmp_path, caplog):
    frame = demand(20)
    sheet = rows_of(frame)
    sheet[0].append("doubled")
    for i, row in enumerate(sheet[1:], 2):
        row.append(Formula(f"D{i}*2"))  # written by a program that computes nothing: no cached value
    path = write_xlsx(tmp_path / "computed.xlsx", {"S": sheet})
    with caplog.at_level(logging.WARNING, logger="trainlab.data.workbooks"):
        frame = read_frame(str(path), "data.source.path")
    assert frame.doubled.isna().all()
    assert "column(s) ['doubled'] hold no value in any row; cells of formulas read empty" in caplog.text
    for i, row in enumerate(sheet[1:]):
        row[-1] = Formula(row[-1].text, cached=2 * row[3])  # as a spreadsheet saves them
    write_xlsx(path, {"S": sheet})
    np.testing.assert_allclose(read_frame(str(path), "data.source.path").doubled, 2 * frame.demand)


@pytest.mark.parametrize("write,message", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]),
     r"cannot be read as a .xlsx workbook \(.*\): it is damaged or was cut short .*; open it in a spreadsheet program "
     r"and save it again"),
    (lambda p: p.write_text("date,y\n2024-01-01,1\n"),
     r"holds text, not a .xlsx workbook \(a CSV file named .xlsx\?\); rename it to 'book.csv'"),
    (lambda p: p.write_text("<html><table><tr><td>1</td></tr></table></html>"), r"is a web page \(an HTML table"),
    (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\)"),
    (lambda p: p.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 500 + "EncryptionInfo".encode("utf-16-le")),
     r"is protected by a password, which this reader cannot open; open it in a spreadsheet program and save a copy "
     r"without the password"),
    (lambda p: p.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 500), r"is an Excel 97-2003 workbook named "
                                                                               r".xlsx; rename it to 'book.xls'"),
])
def test_a_damaged_renamed_or_protected_workbook_is_refused_in_one_line_naming_it(tmp_path, write, message):
    path = write_xlsx(tmp_path / "book.xlsx", {"S": rows_of(demand(10))})
    write(path)
    with pytest.raises(UserError, match=rf"^data.source.path: '.*book.xlsx' {message}"):
        read_frame(str(path), "data.source.path")


def test_a_workbook_open_in_a_spreadsheet_program_is_said_and_its_lock_file_named(tmp_path, monkeypatch, caplog):
    path = write_xlsx(tmp_path / "book.xlsx", {"S": rows_of(demand(10))})
    (tmp_path / "~$book.xlsx").write_bytes(b"\x05owner" + b"\0" * 160)  # as Excel keeps one beside an open workbook
    with caplog.at_level(logging.WARNING, logger="trainlab.data.workbooks"):
        assert len(read_frame(str(path), "data.source.path")) == 10
    assert "is open in a spreadsheet program (its lock file '~$book.xlsx' is beside it): what is read is the " \
           "workbook as last saved" in caplog.text
    with pytest.raises(UserError, match=r"'.*~\$book.xlsx' is the lock file a spreadsheet program keeps while "
                                        r"'book.xlsx' is open, no workbook; give '.*book.xlsx'"):
        read_frame(str(tmp_path / "~$book.xlsx"), "data.source.path")
    deny_reading(monkeypatch, path)  # Windows refuses to open a file Excel holds open
    with pytest.raises(UserError, match=r"'.*book.xlsx' is open in a spreadsheet program \(its lock file "
                                        r"'~\$book.xlsx' is beside it\), which keeps others from reading it; close it "
                                        r"there, or give a copy of it"):
        read_frame(str(path), "data.source.path")


def test_a_star_catalogue_reads_from_a_workbooks_sheet_as_from_its_csv(tmp_path, caplog):
    """Its source_id too: whole numbers, which a spreadsheet stores as floats (refused as identifiers that lose
    digits); Gaia's own, beyond 2^53, did lose them in the sheet: said."""
    from trainlab.data.graph.catalogue import StarCatalogue

    rng = np.random.default_rng(0)
    stars = pd.DataFrame({"source_id": 1000 + np.arange(40), "ra": rng.uniform(0, 360, 40),
                          "dec": rng.uniform(-60, 60, 40),
                          "parallax": rng.uniform(1, 5, 40), "g": rng.normal(15, 1, 40),
                          "member": np.where(np.arange(40) % 3, "field", "cluster")})
    stars.loc[4, "g"] = np.nan
    stars.to_csv(tmp_path / "stars.csv", index=False)
    write_xlsx(tmp_path / "stars.xlsx", {"About": [["a catalogue of 40 stars"]], "Stars": rows_of(stars)})
    read = {name: StarCatalogue(str(tmp_path / name), "member", ["g"], **extra).load()
            for name, extra in (("stars.csv", {}), ("stars.xlsx", {"sheet": "Stars"}))}
    csv, book = read["stars.csv"], read["stars.xlsx"]
    np.testing.assert_array_equal(book.positions, csv.positions)
    np.testing.assert_array_equal(book.features, csv.features)
    assert book.labels.tolist() == csv.labels.tolist() and book.class_names == csv.class_names == ["cluster", "field"]
    assert book.id_name == "source_id" and book.ids.tolist() == csv.ids.tolist() == list(range(1000, 1040))
    stars["source_id"] = 4295806720 * 10**8 + np.arange(40)  # Gaia DR3's size of identifier
    write_xlsx(tmp_path / "gaia.xlsx", {"Stars": rows_of(stars)})
    with caplog.at_level(logging.WARNING, logger="trainlab.data.workbooks"), \
            pytest.raises(UserError, match="lose digits"):
        StarCatalogue(str(tmp_path / "gaia.xlsx"), "member", ["g"]).load()
    assert "column 'source_id' holds whole numbers beyond 2^53 (429580672000000064), which a spreadsheet keeps to 15 " \
           "digits: identifiers lost their last digits in it; keep them as text cells" in caplog.text


def test_a_first_sheet_without_the_table_names_the_sheet_that_holds_it(tmp_path):
    """A workbook whose first sheet is a cover or notes: refused as 'has no data rows', or lacking the target,
    naming the file alone (the sheet read was said only in an INFO line above); the fix given reads the table."""
    from trainlab.data.graph.catalogue import StarCatalogue

    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=30).date, "sales": np.arange(30.0)})
    path = write_xlsx(tmp_path / "book.xlsx", {"Notes": [["made by hand"]], "Sales data": rows_of(frame)})
    with pytest.raises(UserError, match=r"'.*book.xlsx' has no data rows \(only a header, or nothing\); sheet 'Notes' "
                                        r"was read, of 'Notes', 'Sales data'; sheet 'Sales data' holds \['sales'\]: "
                                        r"'data.source.sheet=Sales\\ data'$"):
        TableFile(str(path), ["sales"], time_column="date").load()
    path = write_xlsx(tmp_path / "book.xlsx", {"About": [["who", "what"], ["me", "sales"]],
                                               "Sales data": rows_of(frame)})
    with pytest.raises(UserError, match=r"\['sales'\] not in '.*book.xlsx'; its columns are \['who', 'what'\]; sheet "
                                        r"'About' was read, of 'About', 'Sales data'; sheet 'Sales data' holds"):
        TableFile(str(path), ["sales"], time_column="date").load()
    with pytest.raises(UserError, match=r"\['sale'\] not in .*; sheet 'About' was read, of 'About', "
                                        r"'Sales data': data.source.sheet=<name, or 0-based position> reads another"):
        TableFile(str(path), ["sale"], time_column="date").load()
    assert TableFile(str(path), ["sales"], time_column="date", sheet="Sales data").load().targets[-1, 0] == 29.0
    stars = pd.DataFrame({"g": np.arange(12.0), "member": ["a", "b", "c"] * 4})
    path = write_xlsx(tmp_path / "stars.xlsx", {"About": [["who", "what"], ["me", "stars"]], "Stars": rows_of(stars)})
    with pytest.raises(UserError, match=r"label_column: 'member' not in .*; sheet 'Stars' holds \['member'\]: "
                                        r"data.source.sheet=Stars$"):
        StarCatalogue(str(path), "member", ["g"]).load()
