"""Star catalogues as archives and colleagues hand them over: numeric missing-value codes (-999, 99.99) among the
values, and the other habits of such tables that reach the graph family's reading of a file."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from trainlab.data.graph.catalogue import StarCatalogue
from trainlab.data.graph.synthetic import SyntheticGaia


def test_missing_value_codes_are_read_as_missing_values(tmp_path, caplog):
    """-999 colours and 99.99 magnitudes (a colleague's table's "no value") were read as numbers: 50 stars bluer than
    any star trained as such, and a parallax of -999 was raised to the floor (a star at 20 kpc), without a word. Now
    each code far outside its column's values is missing (imputed, or the star left out for a position), one warning
    per code; a value of nines within a column's range stays a value."""
    frame = SyntheticGaia(400, seed=3).frame()
    frame.loc[10:59, "bp_rp"] = -999.0
    frame.loc[100:119, "phot_g_mean_mag"] = 99.99
    frame.loc[200:204, "parallax"] = -9999
    frame.loc[300, "pmra"] = 9.9  # nines within pmra's range: a measurement
    path = tmp_path / "stars.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger="trainlab.data.missing_codes"):
        table = StarCatalogue(str(path), "label").load()
    colour, magnitude, pmra = (table.feature_names.index(c) for c in ("bp_rp", "phot_g_mean_mag", "pmra"))
    assert np.isnan(table.features[:, colour]).sum() == 50 and np.nanmin(table.features[:, colour]) > -5
    assert np.isnan(table.features[:, magnitude]).sum() == 20 and np.nanmax(table.features[:, magnitude]) < 30
    assert not np.isnan(table.features[:, pmra]).any() and (table.features[:, pmra] == 9.9).sum() == 1
    assert table.left_out == {"without a position": 5} and len(table.ids) == 395
    assert "column 'bp_rp' in '" in caplog.text and "holds -999 in 50 row(s) (first at row 10)" in caplog.text
    assert "holds 99.99 in 20 row(s) (first at row 100)" in caplog.text
    assert caplog.text.count("holds -9999 in 5 row(s) (first at row 200)") == 1  # a position and a feature: once
    assert "9.9 in" not in caplog.text


@pytest.mark.parametrize("code", [-999.0, 99.999, -99.0])
def test_a_code_in_a_column_of_few_values_is_judged_by_the_column_alone(tmp_path, code):
    """A code is told by its distance from the column's own values, whatever the code."""
    frame = SyntheticGaia(200, seed=4).frame()
    frame.loc[[5, 6], "bp_rp"] = code
    frame.to_csv(tmp_path / "stars.csv", index=False)
    table = StarCatalogue(str(tmp_path / "stars.csv"), "label").load()
    assert np.isnan(table.features[:, table.feature_names.index("bp_rp")]).sum() == 2


def test_a_code_in_a_float32_fits_column_is_read_as_missing(tmp_path):
    """A FITS table of single-precision magnitudes holds 99.99 as 99.98999786...: a code all the same."""
    from astropy.table import Table

    frame = SyntheticGaia(200, seed=6).frame()
    frame.loc[[7, 8, 9], "phot_g_mean_mag"] = 99.99
    table = Table.from_pandas(frame)
    table["phot_g_mean_mag"] = table["phot_g_mean_mag"].astype(np.float32)
    table.write(tmp_path / "stars.fits")
    loaded = StarCatalogue(str(tmp_path / "stars.fits"), "label").load()
    assert np.isnan(loaded.features[:, loaded.feature_names.index("phot_g_mean_mag")]).sum() == 3


@pytest.mark.parametrize("suffix", [".vot", ".ecsv"])
def test_ra_stated_in_hours_is_told_the_setting_whatever_the_unit_is_called(tmp_path, suffix):
    """A VOTable of RA in hourangle reads back with the unit '15 deg' and was told to 'write the column in deg', where
    data.source.angle_units=hours reads it as it is (an ECSV's 'hourangle' was told so)."""
    import astropy.units as u
    from astropy.table import Table

    from trainlab.config.errors import UserError

    frame = SyntheticGaia(100, seed=2).frame()
    table = Table.from_pandas(frame.assign(ra=frame["ra"] / 15))
    table["ra"].unit, table["dec"].unit, table["parallax"].unit = u.hourangle, u.deg, u.mas
    path = tmp_path / f"stars{suffix}"
    table.write(path, format="votable" if suffix == ".vot" else "ascii.ecsv")
    with pytest.raises(UserError, match=r"gives column 'ra' in \S+( deg)?, but data.source.angle_units=deg reads it as "
                                        r"deg; set data.source.angle_units=hours$"):
        StarCatalogue(str(path), "label").load()
    loaded = StarCatalogue(str(path), "label", angle_units="hours").load()
    assert len(loaded.ids) == 100


def test_an_empty_feature_column_is_refused_with_the_columns_to_paste(tmp_path):
    """A catalogue without proper motions was told to leave pmra out of data.source.feature_columns, a key that is
    the Gaia defaults unless given: the user had to write the other columns out. Now the line ends with them."""
    from trainlab.config.errors import UserError
    from trainlab.data.graph.module import StarGraphDataModule

    frame = SyntheticGaia(200, seed=7).frame()
    frame["pmra"] = np.nan
    frame["survey"] = np.where(frame.index % 2, "SDSS", "APOGEE")
    frame.to_csv(tmp_path / "stars.csv", index=False)
    source = StarCatalogue(str(tmp_path / "stars.csv"), "label",
                           ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "survey"])
    with pytest.raises(UserError, match=r"no training star of 'stars' has a value in \['pmra'\]; leave it out of "
                                        r"data.source.feature_columns: 'data.source.feature_columns="
                                        r"\[parallax,pmdec,phot_g_mean_mag,bp_rp,survey\]'$"):
        StarGraphDataModule(source, seed=1).setup()
