"""Sky positions to the 3-D points the neighbour graph is built on, and the checks of their units.

Neighbours are found in heliocentric Cartesian coordinates, so they are right across RA = 0/360 and
near the poles (where a degree of RA is a small angle) with no special case; a rotation of the sky
(galactic l, b in place of ra, dec) gives the same distances. What can go wrong is the units: angles
in radians or RA in hours read as degrees shrink the catalogue onto a patch of sky, and parallaxes in
arcseconds read as mas put every star at the floor's distance. Both are said, once, naming the key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

ANGLE_UNITS = ("deg", "rad", "hours")  # hours: RA in hours (0..24), Dec in degrees
TO_DEGREES = {"deg": (1.0, 1.0), "rad": (np.degrees(1.0), np.degrees(1.0)), "hours": (15.0, 1.0)}
HOURS_SPAN = 0.2  # RA span * cos(Dec) / Dec span below this, all RA in 0..24: RA in hours, likely (15x narrow)


def sky_to_cartesian(ra_deg: np.ndarray, dec_deg: np.ndarray, parallax_mas: np.ndarray,
                     parallax_floor: float) -> np.ndarray:
    """(stars, 3) heliocentric ICRS coordinates in pc; distance = 1000 / parallax.

    Noise makes some measured parallaxes tiny or negative (faint, distant stars); they are raised to
    ``parallax_floor`` mas first, which places those stars at 1000 / floor pc, far from everything.
    """
    distance = 1000.0 / np.maximum(parallax_mas.astype(np.float64), parallax_floor)
    ra, dec = np.radians(ra_deg.astype(np.float64)), np.radians(dec_deg.astype(np.float64))
    return np.stack([distance * np.cos(dec) * np.cos(ra), distance * np.cos(dec) * np.sin(ra),
                     distance * np.sin(dec)], axis=1)


def sky_angles(points: np.ndarray) -> np.ndarray:
    """(stars, 2) longitude and latitude in degrees of (stars, 3) Cartesian directions (the inverse of
    :func:`sky_to_cartesian` up to distance). Longitudes lie in [0, 360), or in [-180, 180) when the stars
    straddle 0/360 more tightly that way (a field across RA 0 stays one patch on a map)."""
    lon = np.degrees(np.arctan2(points[:, 1], points[:, 0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(points[:, 2] / np.linalg.norm(points, axis=1), -1.0, 1.0)))
    centred = (lon + 180.0) % 360.0 - 180.0
    if len(lon) and np.ptp(centred) < np.ptp(lon):
        lon = centred
    return np.stack([lon, lat], axis=1)


def check_angle_units(angle_units: str) -> None:
    if angle_units not in ANGLE_UNITS:
        raise UserError(f"data.source.angle_units={angle_units!r} is not one of {', '.join(ANGLE_UNITS)} (hours: "
                        "RA in hours, Dec in degrees)")


def _suspect_units(ra: np.ndarray, dec: np.ndarray) -> str | None:
    """What degrees that look like another unit look like ('rad', 'hours'), or None."""
    if len(ra) < 3:
        return None
    if np.abs(ra).max() <= 2 * np.pi and np.abs(dec).max() <= np.pi / 2:
        return "rad"
    dec_span = np.ptp(dec)
    if ra.min() >= 0 and ra.max() <= 24 and dec_span > 1:
        if np.ptp(ra) * np.cos(np.radians(np.median(dec))) < HOURS_SPAN * dec_span:
            return "hours"
    return None


def check_file_units(units: dict[str, str], columns: list[str], angle_units: str, path: str) -> None:
    """Refuse ra and dec whose unit, as the file states it (an ECSV, VOTable or FITS table:
    ``frame.attrs["units"]``), contradicts how data.source.angle_units reads them (a parallax in another unit
    than mas is converted, :func:`convert_file_units`: no setting says its unit). A CSV states none, and a
    unit astropy cannot parse or that is no angle is passed over."""
    if not any(column in units for column in columns):  # a CSV: nothing to check, and astropy's import is slow
        return
    import astropy.units as u

    wanted = [(TO_DEGREES[angle_units][0], u.deg), (TO_DEGREES[angle_units][1], u.deg), (1.0, u.mas)]
    for column, (scale, unit) in zip(columns, wanted):
        if column not in units:
            continue
        try:
            factor = u.Unit(units[column]).to(unit) / scale
        except (ValueError, TypeError, u.UnitsError):
            continue
        if abs(factor - 1) < 1e-6:
            continue
        if unit is u.mas:  # no setting reads parallaxes in another unit: convert_file_units converts them
            continue
        # the setting that reads the stated unit, told by what the unit is, not how it is spelt: a VOTable written
        # of a column in hourangle reads back as '15 deg', which was told to be rewritten in degrees
        said = next((name for name, (ra_scale, dec_scale) in TO_DEGREES.items()
                     if abs(u.Unit(units[column]).to(u.deg) / (ra_scale if column == columns[0] else dec_scale) - 1)
                     < 1e-6), None)
        fix = (f"set data.source.angle_units={said}" if said and said != angle_units and
               (said != "hours" or column == columns[0]) else f"write the column in {angle_units}")
        raise UserError(f"'{path}' gives column '{column}' in {units[column]}, but data.source.angle_units="
                        f"{angle_units} reads it as {'hours' if scale == 15.0 else angle_units}; {fix}")


def convert_file_units(frame, columns: list[str], angle_units: str, path: str) -> None:
    """Position columns whose unit, as the file states it, is another than they are read in (ra and dec in
    ``angle_units``, parallax in mas) converted to it, in ``frame``, in place, with a log line: a training
    catalogue's parallax in arcsec (it was refused: no setting reads another unit), and every position column
    of predict.py's catalogue, whose reading is its run's (a run trained in degrees given an ECSV with ra in
    hourangle was refused naming data.source.angle_units=hours, which predict.py keeps). Text columns and units
    astropy cannot parse are left to :func:`check_file_units` and the reader."""
    import pandas as pd

    units = frame.attrs.get("units", {})
    if not any(column in units for column in columns):
        return
    import astropy.units as u

    check_angle_units(angle_units)
    angle = {"deg": u.deg, "rad": u.rad, "hours": u.hourangle}[angle_units]
    for column, unit in zip(columns, [angle, u.deg if angle_units == "hours" else angle, u.mas]):
        if column not in units or column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        try:
            factor = u.Unit(units[column]).to(unit)
        except (ValueError, TypeError, u.UnitsError):
            continue
        if abs(factor - 1) > 1e-6:
            log.info("'%s': column '%s' is in %s, converted to %s, the unit it is read in (x %g)", path, column,
                     units[column], unit, factor)
            frame[column] = frame[column] * factor
            units[column] = unit.to_string()


# '12:02:30.87', '-06 40 57.8', '12h02m30.87s', '+02d26m49.3s', '-00°30′00″': sign, degrees or hours, minutes, seconds
SEXAGESIMAL = r"^\s*([+-]?)\s*(\d+)\s*[:hHdD°\s]\s*(\d+)\s*[:mM'′\s]\s*(\d+(?:\.\d*)?)\s*[sS\"″]?\s*$"


def read_sexagesimal(frame, columns: list[str], angle_units: str, path: str) -> None:
    """Turn ra and dec written as text in sexagesimal ('12:02:30.87', '-06 40 57.8') into numbers in
    ``angle_units``, in ``frame``, in place: RA as hours (its convention), Dec as degrees. A column with
    any other text is left alone (and refused as not numeric by the reader); one of sexagesimal text with a cell
    of other text ('12:34:xx', a decimal '150.1') is refused naming that cell (it was refused as 'not numeric' at
    its first row, a well-formed value); a missing-value mark ('--', 'n/a') is a missing value."""
    import pandas as pd

    from trainlab.data.timeseries.values import MISSING_MARKS

    check_angle_units(angle_units)
    for j, column in enumerate(columns[:2]):
        if column not in frame.columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        text = frame[column].astype(str).str.strip()
        given = (frame[column].notna() & ~text.str.lower().isin(MISSING_MARKS)).to_numpy()
        parts = text.str.extract(SEXAGESIMAL)
        matched = parts[1].notna().to_numpy() & given
        if not matched.any():
            continue
        odd = np.flatnonzero(given & ~matched)
        if odd.size:
            good, more = int(np.flatnonzero(matched)[0]), f" ({odd.size} such rows)" if odd.size > 1 else ""
            raise UserError(f"column '{column}' in '{path}' is sexagesimal text (row {good}: {text.iloc[good]!r}) but "
                            f"row {odd[0]} holds {text.iloc[odd[0]]!r}, which is not{more}: write it as the others are "
                            "('12:34:56.7', '12h34m56.7s'), or empty it (a star without a position is left out, or "
                            "refused under data.source.missing=error)")
        whole, minutes, seconds = (parts[i].astype(float).to_numpy() for i in (1, 2, 3))
        degrees = (np.where(parts[0] == "-", -1.0, 1.0) * (whole + minutes / 60 + seconds / 3600)
                   * (15.0 if j == 0 else 1.0))
        first = int(np.flatnonzero(given)[0])
        log.info("'%s': column '%s' is sexagesimal text, read as %s (e.g. %r = %.6f deg)", path, column,
                 "hours, minutes, seconds" if j == 0 else "degrees, arcminutes, arcseconds",
                 str(frame[column].iloc[first]).strip(), degrees[first])
        frame[column] = np.where(given, degrees / TO_DEGREES[angle_units][j], np.nan)


# the angles a sky position can have, in degrees: RA 0..360 (-180..180 as some maps write it, the same directions),
# Dec -90..90; what lies outside is another unit (degrees read as hours or radians), another column, or an error
SKY_RANGES = ((-180.0, 360.0, "outside 0..360 deg (or -180..180)"), (-90.0, 90.0, "beyond +-90 deg"))
SKY_UNITS = {"deg": ("deg", "deg"), "rad": ("rad", "rad"), "hours": ("hours", "deg")}  # ra's, dec's


def check_sky_ranges(coordinates: np.ndarray, columns: list[str], angle_units: str, path: str, units_kept: bool = False,
                     rows: Optional[Sequence[Any]] = None) -> None:
    """Refuse an ra or dec of (stars, 2 or 3) ``coordinates``, read in ``angle_units``, outside :data:`SKY_RANGES`,
    naming the column, how many, the first value and its row (``rows``: the stars' rows in the file) and the fix: an
    RA of 400 became a direction as any other, and degrees read as hours (x 15) or radians (x 57.3) scattered the
    catalogue over the sky without a word. Where the values fit degrees, data.source.angle_units=deg is the fix."""
    for j, (low, high, said) in enumerate(SKY_RANGES):
        values = coordinates[:, j]
        out = (values * TO_DEGREES[angle_units][j] < low) | (values * TO_DEGREES[angle_units][j] > high)
        if not out.any():
            continue
        first = int(np.flatnonzero(out)[0])
        unit = SKY_UNITS[angle_units][j]
        finite = values[np.isfinite(values)]
        if unit != "deg" and ((finite >= low) & (finite <= high)).all():  # degrees read as hours or radians
            undo = "degrees / 15" if unit == "hours" else "degrees x pi / 180"
            fix = (f"the run reads {columns[j]} in {unit}: write it so in the file ({undo}), or give an ECSV or "
                   "VOTable stating its unit (deg), which is converted" if units_kept else
                   f"they read as degrees: set data.source.angle_units=deg (now {angle_units})")
        elif units_kept:
            fix = (f"the run reads {columns} in that order, {columns[j]} in {unit}: correct those rows, or write "
                   f"the columns so in the file")
        else:
            fix = (f"data.source.position_columns is [ra, dec, parallax] in that order ({columns} now) and "
                   f"data.source.angle_units ({angle_units}) says their unit (ra in 0..360 deg, 0..24 hours or 0..2 pi "
                   "rad; dec in +-90 deg or +-pi / 2 rad): correct those rows, or those settings")
        where = f"row {rows[first] if rows is not None else first}"
        raise UserError(f"'{path}' has {int(out.sum())} star(s) with {columns[j]} {said} (e.g. {values[first]:g} in "
                        f"{unit}, {where}); {fix}")


def sky_positions(coordinates: np.ndarray, columns: list[str], angle_units: str, parallax_floor: float,
                  path: str, units_kept: bool = False, rows: Optional[Sequence[Any]] = None) -> np.ndarray:
    """(stars, 3) positions in pc from (stars, 3) ra, dec, parallax in ``angle_units`` and mas (``columns``:
    their names in the file, for messages; ``rows``: the stars' rows in it); from (stars, 2) ra, dec alone (a
    catalogue without distances: photometric surveys, galaxies), points on the unit sphere, whose nearest neighbours
    are the nearest on the sky. ``units_kept``: the settings are a run's, which its reader keeps (predict.py's
    ``catalogue=``), so a fix is made in the file, not in data.source.angle_units or data.source.position_columns."""
    check_angle_units(angle_units)
    ra_scale, dec_scale = TO_DEGREES[angle_units]
    check_sky_ranges(coordinates, columns, angle_units, path, units_kept, rows)
    ra, dec = coordinates[:, 0] * ra_scale, coordinates[:, 1] * dec_scale
    suspect = _suspect_units(coordinates[:, 0], coordinates[:, 1]) if angle_units == "deg" else None
    if suspect:
        what = ("every star's |ra| <= 2 pi and |dec| <= pi / 2" if suspect == "rad" else
                "ra within 0..24 spans a 5x narrower angle than dec")
        fix = (f"set data.source.angle_units={suspect}" if not units_kept else
               f"write them in degrees in the file, as the run reads them ({'x 57.29578' if suspect == 'rad' else 'ra x 15'}"
               f"), or give an ECSV or VOTable stating their unit ({'rad' if suspect == 'rad' else 'hourangle'}), "
               "which is converted")
        log.warning("'%s': %s, read as degrees: if they are %s, %s (else the catalogue shrinks onto a %s patch of "
                    "sky and the neighbours are wrong)", path, what, "radians" if suspect == "rad" else "RA hours",
                    fix, "6 x 3 deg" if suspect == "rad" else "15x narrower")
    if coordinates.shape[1] == 2:
        log.info("'%s': positions from %s alone, no distances: neighbours are the nearest on the sky", path, columns)
        return sky_to_cartesian(ra, dec, np.full(len(ra), 1000.0), parallax_floor)  # 1 mas: at 1 pc, a unit sphere
    parallax = coordinates[:, 2]
    floored = parallax < parallax_floor
    if floored.mean() > 0.5:
        log.warning("'%s': %d of %d parallaxes (%s) are below data.source.parallax_floor=%g mas and are placed at "
                    "%g pc, all at one distance; parallaxes must be in mas (in arcsec? multiply by 1000)", path,
                    int(floored.sum()), len(parallax), columns[2], parallax_floor, 1000 / parallax_floor)
    elif floored.any():
        log.info("'%s': %d of %d parallaxes below data.source.parallax_floor=%g mas (noisy, negative) placed at %g pc",
                 path, int(floored.sum()), len(parallax), parallax_floor, 1000 / parallax_floor)
    return sky_to_cartesian(ra, dec, parallax, parallax_floor)
