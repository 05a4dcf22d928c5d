"""Tables as astronomy archives write them (the Gaia archive's VOTable, ECSV and FITS; gzipped as its
downloads come): read as the same catalogue's CSV is, their nulls missing, their units checked."""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_graph import catalogue_overrides
from trainlab.config.errors import UserError
from trainlab.data.files import read_frame
from trainlab.data.graph.catalogue import StarCatalogue
from trainlab.data.graph.synthetic import SyntheticGaia

astropy = pytest.importorskip("astropy")
from astropy import units as u  # noqa: E402
from astropy.table import MaskedColumn, Table  # noqa: E402

UNITS = {"ra": u.deg, "dec": u.deg, "parallax": u.mas, "pmra": u.mas / u.yr, "pmdec": u.mas / u.yr,
         "phot_g_mean_mag": u.mag, "bp_rp": u.mag}
FORMATS = {".vot": "votable", ".xml": "votable", ".ecsv": "ascii.ecsv", ".fits": "fits"}


def gaia_frame(stars: int = 300) -> pd.DataFrame:
    frame = SyntheticGaia(stars, seed=5).frame()
    frame["source_id"] = np.random.default_rng(0).integers(2**60, 2**62, len(frame))  # beyond 2^53, as DR3's
    frame.loc[::7, "bp_rp"] = np.nan
    return frame


def archive_table(frame: pd.DataFrame, units: dict = UNITS) -> Table:
    """The frame as the archive serves it: units on the columns, gaps as masked (null) values."""
    table = Table()
    for name in frame.columns:
        values = frame[name].to_numpy()
        values = values if pd.api.types.is_numeric_dtype(frame[name]) else values.astype(str)  # FITS: no objects
        gaps = pd.isna(frame[name]).to_numpy()
        column = MaskedColumn(np.where(gaps, 0.0, values) if gaps.any() else values, name=name, mask=gaps)
        column.unit = units.get(name)
        table.add_column(column)
    return table


def write(tmp_path: Path, table: Table, suffix: str) -> str:
    packed = suffix.endswith(".gz")
    base = suffix[:-3] if packed else suffix
    path = tmp_path / f"cone{base}"
    table.write(path, format=FORMATS[base], overwrite=True)
    if packed:
        with open(path, "rb") as plain, gzip.open(f"{path}.gz", "wb") as out:
            shutil.copyfileobj(plain, out)
        return f"{path}.gz"
    return str(path)


@pytest.mark.parametrize("suffix", [".vot", ".vot.gz", ".xml", ".ecsv", ".ecsv.gz", ".fits", ".fits.gz"])
def test_archive_formats_read_as_the_csv(tmp_path, suffix):
    frame = gaia_frame()
    csv = tmp_path / "cone.csv"
    frame.to_csv(csv, index=False)
    expected = StarCatalogue(str(csv), "label").load()
    table = StarCatalogue(write(tmp_path, archive_table(frame), suffix), "label").load()
    assert table.name == "cone"  # as cone.csv's (a gzipped one was 'cone.vot', 'cone.fits')
    assert table.id_name == "source_id" and np.array_equal(table.ids, expected.ids)  # every digit of 2^60..2^62
    assert table.class_names == expected.class_names and np.array_equal(table.labels, expected.labels)
    np.testing.assert_allclose(table.positions, expected.positions, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(table.features), np.isnan(expected.features))  # nulls are gaps
    np.testing.assert_allclose(table.features, expected.features, rtol=1e-12)


def test_units_a_file_states_are_checked_against_the_settings(tmp_path, caplog):
    frame = gaia_frame()
    radians = frame.assign(ra=np.radians(frame["ra"]), dec=np.radians(frame["dec"]))
    path = write(tmp_path, archive_table(radians, {**UNITS, "ra": u.rad, "dec": u.rad}), ".fits")
    with pytest.raises(UserError, match=r"gives column 'ra' in rad, but data.source.angle_units=deg reads it as deg; "
                                        r"set data.source.angle_units=rad"):
        StarCatalogue(path, "label").load()
    assert StarCatalogue(path, "label", angle_units="rad").load().positions.shape == (300, 3)
    # a parallax in arcsec, as the file states it, is converted: no setting reads another unit (it was refused,
    # 'write them in mas (multiply by 1000)', where predict.py converted the same file)
    arcsec = frame.assign(parallax=frame["parallax"] / 1000)
    path = write(tmp_path, archive_table(arcsec, {**UNITS, "parallax": u.arcsec}), ".vot")
    (tmp_path / "mas").mkdir()
    in_mas = write(tmp_path / "mas", archive_table(frame, UNITS), ".vot")
    with caplog.at_level(logging.INFO, logger="trainlab.data.graph.sky"):
        converted = StarCatalogue(path, "label").load()
    assert "column 'parallax' is in arcsec, converted to mas, the unit it is read in (x 1000)" in caplog.text
    np.testing.assert_allclose(converted.positions, StarCatalogue(in_mas, "label").load().positions, rtol=1e-9)


def test_array_columns_are_left_out_and_a_fits_without_a_table_is_refused(tmp_path, caplog):
    from astropy.io import fits

    table = archive_table(gaia_frame())
    table["xp_coefficients"] = np.zeros((len(table), 55))  # one vector per star, as Gaia's XP spectra
    with caplog.at_level("INFO"):
        frame = read_frame(write(tmp_path, table, ".vot"), "data.source.path")
    assert "xp_coefficients" not in frame.columns and "source_id" in frame.columns
    assert "column(s) ['xp_coefficients'] hold an array per row and are left out" in caplog.text
    image = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(image)
    with pytest.raises(UserError, match=r"^data.source.path: '.*image.fits' holds no table HDU \(images only\?\); "
                                        r"give a FITS file with the table"):
        read_frame(str(image), "data.source.path")


def test_a_votable_trains(compose_cfg, run_train, tmp_path):
    path = write(tmp_path, archive_table(gaia_frame(400)), ".vot")
    metrics = run_train(compose_cfg(catalogue_overrides(path, "debug=fdr")))
    assert {"val/accuracy", "test/f1_macro"} <= set(metrics)


@pytest.mark.parametrize("suffix", [".vot", ".fits", ".csv"])
def test_a_null_or_blank_label_is_no_class(tmp_path, suffix):
    # a VOTable or FITS null in the text column of labels reads back as '' (astropy keeps no mask there),
    # a CSV cell of spaces is blank: those stars trained as a class '' of their own before
    frame = gaia_frame()
    if suffix == ".csv":
        frame.loc[[4, 9], "label"] = "  "
        path = tmp_path / "cone.csv"
        frame.to_csv(path, index=False)
    else:
        table = archive_table(frame)
        gaps = np.isin(np.arange(len(frame)), [4, 9])
        table["label"] = MaskedColumn(frame["label"].to_numpy().astype(str), mask=gaps)  # nulls, as the archive's
        path = write(tmp_path, table, suffix)
    with pytest.raises(UserError, match=r"2 star\(s\) without a label in column 'label' \(first at row 4\); "
                                        r"where an empty label means .* label them, or drop them .*predict.py"):
        StarCatalogue(str(path), "label").load()
