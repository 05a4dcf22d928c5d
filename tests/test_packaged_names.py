"""data=packaged's data.source.name given as a user writes it (CO2, sunspot, macrodata, tmy3, El Nino's own option)
is refused with the name that works; the line listed the names alone."""

from __future__ import annotations

import re

import pytest

from trainlab.config.errors import UserError
from trainlab.data.timeseries.packaged import PackagedSeries


@pytest.mark.parametrize("given,fix", [
    ("CO2", "did you mean data.source.name=co2?"), ("sunspot", "did you mean data.source.name=sunspots?"),
    ("macrodata", "did you mean data.source.name=macrodata_realgdp?"),
    ("tmy3", "did you mean data.source.name=tmy3_temperature?"),
    ("elnino", "El Nino is an option of its own: data=elnino"),
])
def test_a_name_near_a_packaged_series_gets_the_one_that_works(given, fix):
    with pytest.raises(UserError, match=rf"is not one of co2, sunspots, .*tmy3_temperature; {re.escape(fix)}$"):
        PackagedSeries(given)


def test_a_name_near_none_gets_the_list_alone():
    with pytest.raises(UserError, match=r"is not one of co2, sunspots, nile, macrodata_realgdp, tmy3_temperature$"):
        PackagedSeries("airline")
