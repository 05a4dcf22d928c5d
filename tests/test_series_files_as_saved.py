"""A user's own series files as spreadsheets and other programs save them (trainlab.data.files,
trainlab.data.timeseries.sources): text encodings other than UTF-8, ... Each test writes the file as
that program does and reads it through the source a run uses."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from trainlab.config.errors import UserError
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
    else:  # read without a word before
        assert f"'{name}' starts with UTF-16's byte-order mark (Excel's \"Unicode Text\"): read as UTF-16" in caplog.text
    assert sum("read as" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("encoding, read_as", [("cp1252", "Windows-1252"), ("latin-1", "Latin-1")])
def test_a_csv_read_again_in_a_code_page_says_each_note_once(tmp_path, caplog, monkeypatch, encoding, read_as):
    """A byte that is no UTF-8 far into the file (past the lines read to sniff it) is met by pandas' read, after the
    notes on the file's head were said: they were said again by the read in Windows-1252 ('1 comment line(s) ...'
    and 'columns separated by ...' twice each), and a long read's progress restarted at 0% unnamed."""
    from trainlab.data import csv_files

    monkeypatch.setattr(csv_files, "PROGRESS_S", 0.0)
    path = tmp_path / "station.csv"
    hours = pd.date_range("2024-03-01", periods=4000, freq="h").strftime("%Y-%m-%d %H:%M")
    odd = "\x81" if encoding == "latin-1" else ""  # a byte Windows-1252 leaves undefined: read as Latin-1
    with open(path, "w", encoding=encoding) as f:  # as a program on Windows writes it
        f.write("# station Zurich\ntime;temp;note\n")
        f.writelines(f"{t};{i % 24},5;{'Föhn °' + odd if i == 3000 else ''}\n" for i, t in enumerate(hours))
        f.write(";;\n;;\n")
    with caplog.at_level(logging.INFO, logger="trainlab.data.csv_files"):
        table = TableFile(str(path), ["temp"], time_column="time").load()
    assert table.targets[3, 0] == 3.5 and list(table.categories["note"][3000:3001]) == ["Föhn °" + odd]
    said = [r.getMessage() for r in caplog.records if r.name == "trainlab.data.csv_files"]
    notes = [m for m in said if not m.startswith("reading ")]
    assert notes == ["'station.csv': 1 comment line(s) (#) above the header left out",
                     "'station.csv': columns separated by ';', decimal ','",
                     f"'station.csv' is not UTF-8 (byte 0xf6): read as {read_as}"
                     + (", as Excel saves a CSV on Windows" if encoding == "cp1252" else "")
                     + "; save it as UTF-8 if its text reads wrong",
                     "'station.csv': 2 empty row(s) at the end left out"]
    again = [m for m in said if m.startswith("reading ")][-1]
    assert again.startswith(f"reading 'station.csv' as {read_as}: "), said


@pytest.mark.parametrize("name, written, dialect", [
    ("plain.csv", {}, (",", ".", "utf-8")), ("european.csv", {"sep": ";", "decimal": ","}, (";", ",", "utf-8")),
    ("excel.csv", {"sep": ";", "decimal": ",", "encoding": "cp1252"}, (";", ",", "cp1252")),
    ("unicode.csv", {"sep": "\t", "encoding": "utf-16"}, ("\t", ".", "utf-16")),
    ("pipes.csv.gz", {"sep": "|", "decimal": ","}, ("|", ",", "utf-8")), ("table.parquet", None, None)])
def test_the_csvs_written_of_a_file_are_written_as_it_is(tmp_path, name, written, dialect):
    """forecast.csv and the predictions files were written with ',' and '.' whatever the file (a European ';' and
    '10,5'); now as it is written (csv_writing.as_csv), after a code page or UTF-16 with UTF-8's byte-order mark."""
    from trainlab.data.csv_writing import as_csv, csv_dialect

    frame = pd.DataFrame({"Zeit": pd.date_range("2024-03-01", periods=30, freq="h").strftime("%Y-%m-%d %H:%M"),
                          "Temperatur (°C)": np.arange(30) * 0.5})
    path = tmp_path / name
    if written is None:
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, **written)
    table = TableFile(str(path), ["Temperatur (°C)"], time_column="Zeit").load()
    assert table.written_as == dialect
    text = as_csv(pd.DataFrame({"Temperatur (°C)": [10.5]}), table.written_as)
    sep, decimal = (dialect or (",", "."))[:2]
    mark = "\ufeff" if dialect and dialect[2] != "utf-8" else ""
    assert text.splitlines() == [f"{mark}Temperatur (°C)", f"10{decimal}5"]
    assert csv_dialect(table.written_as) == {"csv_separator": sep, "csv_decimal": decimal,
                                             "csv_encoding": "utf-8-sig" if mark else "utf-8"}


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_numbers_grouped_by_commas_before_their_point_make_no_decimal_comma_file(tmp_path, sep):
    """A tab-separated export with quoted numbers grouped in thousands ('"6,619.0"', statsmodels' elec_equip index
    x 100) was taken for a file of decimal commas: its numbers read, but forecast.csv and the predictions files were
    written with decimal commas beside the file's points."""
    index = [6619.0, 6515.0, 6890.5, 7012.25] * 10
    lines = [f"Month{sep}Index"] + [f'{t:%b %Y}{sep}"{x:,.2f}"' for t, x in
                                     zip(pd.date_range("1995-01-01", periods=40, freq="MS"), index)]
    (tmp_path / "elec.csv").write_text("\n".join(lines) + "\n")
    table = TableFile(str(tmp_path / "elec.csv"), ["Index"], time_column="Month").load()
    assert table.written_as == (sep, ".", "utf-8")
    np.testing.assert_array_equal(table.targets[:4, 0], index[:4])


def test_a_header_in_a_code_page_names_its_columns_as_typed(tmp_path):
    frame = pd.DataFrame({"Jahr": range(1871, 1901), "Abfluss (m³)": np.arange(30.0)})
    path = _saved(tmp_path / "nil.csv", frame, "cp1252", sep=";")
    table = TableFile(path, ["Abfluss (m³)"], time_column="Jahr").load()
    assert table.target_names == ["Abfluss (m³)"] and table.targets[-1, 0] == 29.0


def test_numbers_with_their_unit_in_a_column_of_empty_cells_are_read_as_the_numbers(tmp_path):
    """A column empty but for a few cells of a number with its unit ('20 °C', '18,5 °C': a logger's remarks) ended
    the read with Python's TypeError 'expected string or bytes-like object, got 'float'' (an empty cell handed to the
    unit's pattern); its numbers are read, the empty cells missing."""
    notes = [""] * 40
    notes[10], notes[30] = "20 °C", "18,5 °C"
    frame = pd.DataFrame({"time": pd.date_range("2024-03-01", periods=40, freq="h").strftime("%Y-%m-%d %H:%M"),
                          "y": np.arange(40.0), "remark": notes})
    for path, kwargs in ((tmp_path / "log.csv", {"sep": ";", "decimal": ","}), (tmp_path / "log.tsv", {"sep": "\t"})):
        table = TableFile(_saved(path, frame.assign(remark=[n.replace(",", ".") if path.suffix == ".tsv" else n
                                                            for n in notes]), "utf-8", **kwargs), ["y"],
                          time_column="time").load()
        assert table.feature_names == ["remark"] and not table.categories
        np.testing.assert_array_equal(table.features[[10, 30], 0], [20.0, 18.5])
        assert np.isnan(table.features[:, 0]).sum() == 38


def test_numbers_written_with_their_unit_are_read_as_the_numbers(tmp_path, caplog):
    """'1120 m3' in every cell of the target, '45 %' and '$1,200' among the inputs: the target was refused as
    "a forecast of a category is classification", the inputs one-hot encoded as categories without a word."""
    volume = 1000.0 + np.arange(40) * 7.5
    frame = pd.DataFrame({"year": range(1871, 1911), "volume": [f"{v:g} m3" for v in volume],
                          "humidity": [f"{40 + i % 7} %" for i in range(40)],
                          "price": [f"${1000 + 25 * i:,}" for i in range(40)]})
    with caplog.at_level(logging.INFO):
        table = TableFile(_saved(tmp_path / "nile.csv", frame, "utf-8"), ["volume"], time_column="year").load()
    np.testing.assert_array_equal(table.targets[:, 0], volume)
    assert table.feature_names == ["humidity", "price"] and not table.categories
    np.testing.assert_array_equal(table.features[:3], [[40, 1000], [41, 1025], [42, 1050]])
    assert "column 'volume' in '" in caplog.text and "with the unit 'm3' (e.g. '1000 m3'): read as the numbers" in caplog.text
    # a file of decimal commas and points grouping thousands, separated by ';'
    frame = pd.DataFrame({"Datum": pd.date_range("2021-01-01", periods=40).strftime("%d.%m.%Y"),
                          "Verbrauch": [f"{1000 + i},5 kWh".replace("1", "1.", 1) for i in range(40)]})
    table = TableFile(_saved(tmp_path / "de.csv", frame, "utf-8", sep=";"), ["Verbrauch"], time_column="Datum").load()
    assert table.targets[0, 0] == 1000.5 and table.targets[-1, 0] == 1039.5


def test_numbers_in_several_units_are_refused_naming_the_units(tmp_path):
    frame = pd.DataFrame({"t": range(40), "weight": [f"{i} kg" if i % 2 else f"{500 + i} g" for i in range(40)],
                          "y": np.arange(40.0)})
    path = _saved(tmp_path / "w.csv", frame, "utf-8")
    with pytest.raises(UserError, match=r"column 'weight' in '.*w.csv' is not numeric \(time 0: '500 g'\); its numbers "
                                        r"are written in different units \('g', 'kg'\): write them in one unit"):
        TableFile(path, ["weight"], time_column="t").load()
    with pytest.raises(UserError, match=r"column 'weight' .* different units \('g', 'kg'\)"):
        TableFile(path, ["y"], time_column="t").load()  # among the inputs: it was one-hot encoded, 40 categories


def test_a_file_without_a_header_keeps_its_first_row_and_names_its_columns_by_position(tmp_path, caplog):
    """'1700,5.0' first (to_csv(header=False), a logger's export): that row was taken for the column names, lost as
    data, and the refusal of 'SUNACTIVITY' listed ['1700', '5.0'] with no word of the missing header."""
    from tests.workbooks import write_xlsx

    years, spots = np.arange(1700, 1740), np.arange(40) * 1.5
    path = tmp_path / "sun.csv"
    pd.DataFrame({"YEAR": years, "SUNACTIVITY": spots}).to_csv(path, index=False, header=False)
    with pytest.raises(UserError, match=r"\['SUNACTIVITY'\] not in '.*sun.csv', which has no header \(its first row "
                                        r"holds values, read as data\): its columns are named by position, \['0', "
                                        r"'1'\]; name them so, e.g. \"data.source.target_columns=\['1'\]\", or add a "
                                        r"header row to the file"):
        TableFile(str(path), ["SUNACTIVITY"], time_column="YEAR").load()
    with caplog.at_level(logging.INFO):
        table = TableFile(str(path), ["1"], time_column=0).load()  # as the pasted fix and time_column=0 give them
    np.testing.assert_array_equal(table.targets[:, 0], spots)  # 40 rows: the first one too
    assert "'sun.csv': its first row (1700, 0.0) holds values, not column names: read as data, the columns named 0, " \
           "1" in caplog.text
    days = pd.date_range("2021-01-01", periods=40).date
    book = write_xlsx(tmp_path / "sun.xlsx", {"S": [[d, float(v), "a" if i % 2 else "b"]
                                                    for i, (d, v) in enumerate(zip(days, spots))]})
    table = TableFile(str(book), ["1"], time_column="0").load()
    np.testing.assert_array_equal(table.targets[:, 0], spots)
    assert list(table.categories) == ["2"] and table.frequency == "D"
    # columns named by numbers that count up (sensors 1, 2, 3; years) are a header still
    (tmp_path / "sensors.csv").write_text("1,2,3\n" + "".join(f"{i}.5,{i},{i * 2}\n" for i in range(40)))
    assert TableFile(str(tmp_path / "sensors.csv"), ["3"]).load().targets[0, 0] == 0.0


def _pasted_fix(caplog, pattern: str) -> list[str]:
    """The setting a warning advises, as a shell splits it when pasted."""
    import shlex

    [line] = [r.getMessage() for r in caplog.records if pattern in r.getMessage()]
    return shlex.split(line.rsplit(": ", 1)[1])


def test_the_fix_for_a_constant_input_pastes_as_the_inputs_without_it(compose_cfg, tmp_path, caplog):
    """A file's constant column (a station's id) was named with 'leave them out of data.source.feature_columns',
    where that key is null by default: nothing to paste. The setting given now leaves it out, categories kept."""
    from trainlab.data.graph.catalogue import GAIA_FEATURES
    from trainlab.run.pipeline import build_data
    from tests.test_graph import catalogue_overrides
    from trainlab.data.graph.synthetic import SyntheticGaia

    rows = np.arange(300)
    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=300).strftime("%Y-%m-%d"), "station": 7.0,
                          "Temp (C)": np.sin(rows / 5), "site": np.where(rows % 2, "a", "b"), "y": np.cos(rows / 7)})
    path = _saved(tmp_path / "co2.csv", frame, "utf-8")
    base = ["data=file", f"data.source.path={path}", "data.source.target_columns=[y]", "data.source.time_column=date",
            "data.window=8", "data.ets_baseline=false"]
    with caplog.at_level(logging.WARNING):
        build_data(compose_cfg(base)).setup("fit")
    fix = _pasted_fix(caplog, "one value in every training row")
    assert fix == ["data.source.feature_columns=['Temp (C)',site]"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        data = build_data(compose_cfg([*base, *fix]))
        data.setup("fit")
    assert "one value in every training row" not in caplog.text and data.input_names[:1] == ["Temp (C)"]
    stars = SyntheticGaia(300, seed=5).frame().assign(survey=1.0)
    stars.to_csv(tmp_path / "stars.csv", index=False)
    overrides = catalogue_overrides(str(tmp_path / "stars.csv"), "data.source.position=sky",
                                    f"data.source.feature_columns=[{','.join([*GAIA_FEATURES, 'survey'])}]")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build_data(compose_cfg(overrides)).setup("fit")
    fix = _pasted_fix(caplog, "one value on every training star")
    assert fix == [f"data.source.feature_columns=[{','.join(GAIA_FEATURES)}]"]


def test_a_stray_text_among_numbers_grouped_in_thousands_is_named_as_the_one_value_to_correct(tmp_path):
    """'1.000,5' in every row but one 'k.A.' (German 'no entry'): the column was taken for text, the target refused
    as "a forecast of a category is classification" and, among the inputs, each of its 40 numbers one-hot encoded
    as a category without a word."""
    days = pd.date_range("2021-01-01", periods=40).strftime("%d.%m.%Y")
    grouped = ["k.A." if i == 3 else f"1.{i:03d},5" for i in range(40)]
    path = tmp_path / "umsatz.csv"
    pd.DataFrame({"Datum": days, "Umsatz": grouped, "y": np.arange(40.0)}).to_csv(path, index=False, sep=";")
    typo = (r"column 'Umsatz' in '.*umsatz.csv' is not numeric \(04.01.2021: 'k.A.'\); 1 of its 40 values is no "
            r"number \('k.A.'\): correct it in the file, or empty that cell")
    for target in ("Umsatz", "y"):
        with pytest.raises(UserError, match=typo):
            TableFile(str(path), [target], time_column="Datum").load()


def test_blank_rows_among_the_data_are_left_out_and_said_in_a_csv_as_in_a_workbook(tmp_path, caplog):
    """A spreadsheet's blank row between two stretches ('2021-01-11;10,5', ';', '2021-01-12;11,5'), saved as CSV with
    Windows line ends: refused as "has an empty value (row 11); every row needs its time", where the same sheet
    as .xlsx read (its blank row left out without a word)."""
    import datetime as dt

    from tests.workbooks import write_xlsx

    lines = "date;y\r\n" + "".join(f"2021-01-{i + 1:02d};{i},5\r\n" + (";\r\n" if i == 10 else "") for i in range(28))
    (tmp_path / "blank.csv").write_bytes(lines.encode())
    rows = [["date", "y"], *([dt.date(2021, 1, i + 1), i + 0.5] for i in range(11)), [None, None],
            *([dt.date(2021, 1, i + 1), i + 0.5] for i in range(11, 28))]
    write_xlsx(tmp_path / "blank.xlsx", {"S": rows})
    with caplog.at_level(logging.INFO):
        tables = [TableFile(str(tmp_path / name), ["y"], time_column="date").load()
                  for name in ("blank.csv", "blank.xlsx")]
    for table in tables:
        np.testing.assert_array_equal(table.targets[:, 0], np.arange(28) + 0.5)
    assert "'blank.csv': 1 empty row(s) among the data left out (the first after data row 11)" in caplog.text
    assert "sheet 'S': 1 empty row(s) among the data left out (the first: row 13)" in caplog.text


def test_column_0_of_a_file_named_by_position_is_a_name(tmp_path):
    """Column 0 (an NPY file's first, or a headerless file's) read as no column: time_column=0 with a time_format was
    refused as 'data.source.time_column is null', target_columns=0 as empty, and series_column=0 with a series as
    null."""
    path = tmp_path / "nile.csv"
    pd.DataFrame({"year": np.arange(1871, 1911), "volume": np.arange(40) * 10.0}).to_csv(path, index=False, header=False)
    table = TableFile(str(path), ["1"], time_column=0, time_format="number").load()
    np.testing.assert_array_equal(table.targets[:, 0], np.arange(40) * 10.0)
    array = tmp_path / "nile.npy"
    np.save(array, np.arange(40) * 10.0)
    assert TableFile(str(array), 0).load().target_names == ["0"]
    long = tmp_path / "long.csv"
    pd.DataFrame({"s": ["A"] * 20 + ["B"] * 20, "t": [*range(20), *range(20)], "y": np.arange(40.0)}).to_csv(
        long, index=False, header=False)
    assert len(TableFile(str(long), ["2"], time_column="1", series_column=0, series="A").load().targets) == 20
    for empty in ([], "", None):
        with pytest.raises(UserError, match="data.source.target_columns is empty"):
            TableFile(str(array), empty)


@pytest.mark.parametrize("separator,role", [(";", "target"), (";", "feature"), (",", "target"), (",", "feature")])
def test_a_column_mixing_decimal_points_and_commas_is_named_with_a_row_of_each(tmp_path, separator, role):
    """A column pasted together from two locales ('1.00' beside '1,25'): in a file separated by ';' it was refused
    as a target with 'a forecast of a category is classification' and taken as a category among the inputs; in a
    comma-separated one 'its numbers have decimal commas', though half were points. Now one line names the column,
    a row of each kind and the fix."""
    days = pd.date_range("2021-01-01", periods=40).strftime("%Y-%m-%d")
    values = [f"{1 + k / 4:.2f}".replace(".", "," if k % 2 else ".") for k in range(40)]
    quote = '"' if separator == "," else ""
    lines = [f"date{separator}load{separator}count"] + [f"{d}{separator}{quote}{v}{quote}{separator}{k}"
                                                         for k, (d, v) in enumerate(zip(days, values))]
    path = tmp_path / "pasted.csv"
    path.write_text("\n".join(lines) + "\n")
    target = ["load"] if role == "target" else ["count"]
    with pytest.raises(UserError) as caught:
        TableFile(str(path), target, time_column="date").load()
    mark, other = (",", ".") if separator == ";" else (".", ",")
    assert str(caught.value) == (
        f"column 'load' in '{path}' mixes decimal points (2021-01-01: '1.00') and decimal commas (2021-01-02: '1,25'); "
        f"write every number of it with the file's decimal {'comma' if mark == ',' else 'point'} (replace "
        f"{other!r} by {mark!r} in that column)")
