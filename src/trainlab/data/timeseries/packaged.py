"""Real univariate series that ship inside installed packages (nothing is downloaded), for the
forecasting benchmark and for trying the models on data with trends, seasons and gaps.

======================  ========  =====  ======  ==================================================
name                    step      rows   season  what it shows
======================  ========  =====  ======  ==================================================
co2                     week      2284   52      Mauna Loa CO2 (ppm): strong trend, yearly cycle, 59 gaps
sunspots                year      309    none    yearly sunspot numbers: an ~11-year cycle of varying length
nile                    year      100    none    Nile flow at Aswan: level shift, short
macrodata_realgdp       quarter   203    4       US real GDP: strong trend
tmy3_temperature        hour      8760   24      air temperature of a typical year (NREL TMY3, pvlib):
                                                 daily and yearly cycles
======================  ========  =====  ======  ==================================================

``data=elnino`` (:class:`ElNinoSST`, monthly El Niño sea-surface temperatures) is another statsmodels
series, with the month as inputs. The statsmodels data sets are public domain (statsmodels ``datasets``); the TMY3 year is NREL's
public sample file shipped with pvlib (``pvlib/data/723170TYA.CSV``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from trainlab.config.errors import UserError, nearest
from trainlab.data.timeseries.table import SeriesTable
from trainlab.data.timeseries.grids import Grid, date_grid, number_grid


def _co2() -> tuple[np.ndarray, Any]:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    return frame["co2"].to_numpy(), frame.index  # weeks ending on Saturdays


def _sunspots() -> tuple[np.ndarray, Any]:
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    return frame["SUNACTIVITY"].to_numpy(), frame["YEAR"].to_numpy().astype(np.int64)


def _nile() -> tuple[np.ndarray, Any]:
    from statsmodels.datasets import nile

    frame = nile.load_pandas().data
    return frame["volume"].to_numpy(), frame["year"].to_numpy().astype(np.int64)


def _realgdp() -> tuple[np.ndarray, Any]:
    import pandas as pd
    from statsmodels.datasets import macrodata

    frame = macrodata.load_pandas().data
    quarters = pd.PeriodIndex.from_fields(year=frame["year"].astype(int), quarter=frame["quarter"].astype(int),
                                          freq="Q")
    return frame["realgdp"].to_numpy(), quarters.to_timestamp()  # each quarter's first day


def _tmy3_temperature() -> tuple[np.ndarray, Any]:
    try:
        import pvlib
    except ImportError as exc:
        raise UserError("data.source.name=tmy3_temperature needs pvlib: pip install -r requirements.txt") from exc
    frame, _ = pvlib.iotools.read_tmy3(Path(pvlib.__file__).parent / "data" / "723170TYA.CSV", map_variables=True)
    return frame["temp_air"].to_numpy(), None  # a typical year: each month from another year, no time line


def grid_of(times: Any) -> Optional[Grid]:
    """The grid of a packaged series' times (datetimes, or whole years as numbers), as a file's time column of
    them reads (trainlab.data.timeseries.times): predict.py continues it, messages name rows by it."""
    import pandas as pd

    if times is None:
        return None
    if np.issubdtype(np.asarray(times).dtype, np.number):
        grid = number_grid(np.asarray(times))
        read, written = np.asarray(times), [str(t) for t in times]
    else:
        read = pd.Series(pd.DatetimeIndex(times).astype("datetime64[ns]"))
        grid, written = date_grid(read), list(read.dt.strftime("%Y-%m-%d"))
    return replace(grid, written=np.asarray(written, dtype=object), times=np.asarray(read))


# name -> (loader of its values and times, target name, season length or None)
SERIES: dict[str, tuple[Callable[[], tuple[np.ndarray, Any]], str, Optional[int]]] = {
    "co2": (_co2, "co2", 52),
    "sunspots": (_sunspots, "sunactivity", None),
    "nile": (_nile, "volume", None),
    "macrodata_realgdp": (_realgdp, "realgdp", 4),
    "tmy3_temperature": (_tmy3_temperature, "temp_air", 24),
}


class PackagedSeries:
    """One of the series in :data:`SERIES` as a univariate table (the past values are the inputs), with its
    times where it has a time line (every one but the TMY3 year).

    Args:
        name: a key of SERIES.
    """

    def __init__(self, name: str):
        if name not in SERIES:
            text = str(name).strip().casefold()
            meant = [key for key in SERIES if text and (text in key or key.startswith(text))] or \
                list(nearest(str(name), list(SERIES)))  # macrodata, tmy3, realgdp: a part of the name
            hint = (f"; did you mean data.source.name={meant[0]}?" if len(meant) == 1 else
                    "; El Nino is an option of its own: data=elnino" if "nino" in text else "")
            raise UserError(f"data.source.name={name!r} is not one of {', '.join(SERIES)}{hint}")
        self.name = name

    def load(self) -> SeriesTable:
        loader, target, season = SERIES[self.name]
        values, times = loader()
        values = values.astype(np.float32)[:, None]
        grid = grid_of(times)
        return SeriesTable(np.zeros((len(values), 0), np.float32), values, [], [target], self.name, season,
                           frequency=grid.frequency if grid else None, times=(grid,) if grid else None)


class ElNinoSST:
    """Monthly El Niño sea-surface temperature, 1950-2010 (732 values), shipped with statsmodels.

    Public domain (NOAA, via statsmodels' datasets). Features: the temperature and the month as
    sin/cos; target: the temperature ``horizon`` months ahead (the data module shifts it).
    """

    CALENDAR = ("month_sin", "month_cos")  # inputs known for any row, after the data too (predict.py feeds them)
    time_column = "month"  # forecast.csv's column of the months after the data (its first day: 2011-01-01)

    @staticmethod
    def calendar(rows: np.ndarray) -> np.ndarray:
        """(rows, 2): ``CALENDAR``'s columns of the rows ``rows`` (0: January 1950), the data's or later ones."""
        month = np.asarray(rows) % 12
        return np.stack([np.sin(2 * np.pi * month / 12), np.cos(2 * np.pi * month / 12)], axis=1)

    def load(self) -> SeriesTable:
        import pandas as pd
        from statsmodels.datasets import elnino  # imported here: statsmodels is slow to import

        frame = elnino.load_pandas().data
        months = frame.columns[1:]  # YEAR, JAN..DEC
        sst = frame[months].to_numpy(dtype=np.float64).reshape(-1)  # row-major: year by year
        features = np.concatenate([sst[:, None], self.calendar(np.arange(len(sst)))], axis=1)
        # each row's month, from January of the first year: predict.py continues them (forecast.csv's dates),
        # messages name rows by them
        grid = grid_of(pd.date_range(f"{int(frame.iloc[0, 0])}-01-01", periods=len(sst), freq="MS"))
        return SeriesTable(
            features.astype(np.float32), sst[:, None].astype(np.float32),
            ["sst", "month_sin", "month_cos"], ["sst"], "elnino", season_length=12, frequency="MS", times=(grid,),
        )
