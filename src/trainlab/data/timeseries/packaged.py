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

The statsmodels data sets are public domain (statsmodels ``datasets``); the TMY3 year is NREL's
public sample file shipped with pvlib (``pvlib/data/723170TYA.CSV``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.timeseries.table import SeriesTable


def _co2() -> np.ndarray:
    from statsmodels.datasets import co2

    return co2.load_pandas().data["co2"].to_numpy()


def _sunspots() -> np.ndarray:
    from statsmodels.datasets import sunspots

    return sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()


def _nile() -> np.ndarray:
    from statsmodels.datasets import nile

    return nile.load_pandas().data["volume"].to_numpy()


def _realgdp() -> np.ndarray:
    from statsmodels.datasets import macrodata

    return macrodata.load_pandas().data["realgdp"].to_numpy()


def _tmy3_temperature() -> np.ndarray:
    try:
        import pvlib
    except ImportError as exc:
        raise UserError("data.source.name=tmy3_temperature needs pvlib: pip install -r requirements.txt") from exc
    frame, _ = pvlib.iotools.read_tmy3(Path(pvlib.__file__).parent / "data" / "723170TYA.CSV", map_variables=True)
    return frame["temp_air"].to_numpy()


# name -> (loader, target name, season length or None)
SERIES: dict[str, tuple[Callable[[], np.ndarray], str, Optional[int]]] = {
    "co2": (_co2, "co2", 52),
    "sunspots": (_sunspots, "sunactivity", None),
    "nile": (_nile, "volume", None),
    "macrodata_realgdp": (_realgdp, "realgdp", 4),
    "tmy3_temperature": (_tmy3_temperature, "temp_air", 24),
}


class PackagedSeries:
    """One of the series in :data:`SERIES` as a univariate table (the past values are the inputs).

    Args:
        name: a key of SERIES.
    """

    def __init__(self, name: str):
        if name not in SERIES:
            raise UserError(f"data.source.name={name!r} is not one of {', '.join(SERIES)}")
        self.name = name

    def load(self) -> SeriesTable:
        loader, target, season = SERIES[self.name]
        values = loader().astype(np.float32)[:, None]
        return SeriesTable(np.zeros((len(values), 0), np.float32), values, [], [target], self.name, season)
