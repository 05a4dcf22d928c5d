"""Numbers written with their unit in every cell ('1120 m3', '12.5 kg', '45 %', '$1,200', '€ 3,50'), as a
spreadsheet's cells formatted with a unit, or a hand-kept log, export them: read as the numbers, the unit said once
(:mod:`trainlab.data.timeseries.values` calls :func:`numbers_with_unit` among the ways it reads a column); a column
in several units ('12 kg' beside '500 g') is named as such where it is refused (its numbers would not compare).

Codes of a number and letters ('3G', '4G', '5G': a network's generation; '2B', '4WD', '1BR') look the same and are
no amounts: :func:`codes_of` tells them apart (a whole number with its word glued on, no word a unit of more than
one letter, few distinct values), and they stay text, a category.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Callable, Optional

_CURRENCIES = "$€£¥"
# a number as the file may write it (grouped in thousands, a decimal comma or point), then the unit after it, or a
# currency's sign before it; the unit starts with no digit or separator, so '2021-01-01', '12:30', '1/2' and
# '1 Jan 2021' are none
_WORD = r"(?:[^\d\s]|(?<=[^\W\d_])\d)+"  # letters and signs, digits only after a letter: 'kg', 'm3', 'CO2', 'm³/s'
_WITH_UNIT = re.compile(rf"(?P<before>[{_CURRENCIES}]?)\s*(?P<number>[-+]?\d(?:[\d.,'\u00a0\u202f ]*\d)?)\s*"
                        rf"(?P<after>(?![.,:/+-]){_WORD}(?:\s+{_WORD})*)?")

# an ordinal's ending ('1st', '2nd', '3rd', '4th': a shift, a class, a floor) is no unit: such a column is a category
_ORDINALS = ("st", "nd", "rd", "th")


def _split(text: Any) -> Optional[tuple[str, str]]:
    """(the number as written, its unit) of one cell, or None where it is no number with a unit."""
    found = _WITH_UNIT.fullmatch(text)
    if found is None:
        return None
    unit = (found["before"] + (found["after"] or "")).strip()
    return (found["number"], unit) if unit and unit.lower() not in _ORDINALS else None


def units_of(column) -> Optional[list[str]]:
    """The units, in order of appearance, of a text column whose every value is a number with a unit; None for any
    other column (a value without one, a value that is no number)."""
    text = column.dropna().astype(str).str.strip()
    if text.empty:
        return None
    split = [_split(value) for value in text.unique()[:10_000]]
    if any(part is None for part in split):
        return None
    return list(dict.fromkeys(unit for _, unit in split))


# a code's word, glued to a whole number: letters, digits only after one, a '+' at the end ('G', 'WD', 'G+', 'BHK'),
# other words after it ('4G LTE')
_CODE_WORD = re.compile(r"[^\W\d_][^\W_]*\+*(?:\s+[^\W\d_]+\+*)*")
# units files write glued to their numbers that astropy does not parse (its units and the imperial ones it does):
# energy and charge in watt or ampere hours, parts per, rates, times written as words
_MORE_UNITS = frozenset({"Wh", "kWh", "MWh", "GWh", "TWh", "mWh", "Ah", "mAh", "kAh", "ppm", "ppb", "ppt", "rpm", "bpm",
                         "kbps", "Mbps", "Gbps", "in", "lbs", "sec", "secs", "mins", "hrs", "days", "wks", "yrs"})


@cache
def _known_unit(word: str) -> bool:
    """Whether ``word`` is a unit (astropy's, the imperial ones with them, or one of :data:`_MORE_UNITS`)."""
    if word in _MORE_UNITS:
        return True
    import astropy.units as u

    with u.imperial.enable():
        try:
            u.Unit(word, parse_strict="raise")
        except ValueError:  # astropy's refusal of a string that is no unit
            return False
    return True


# the kinds of quantity whose one-letter units files glue to amounts: '5s', '10s' (a duration), '2h', '3d', '500g',
# '2m', '1l', '12V', '60W'; the other letters astropy reads ('G' gauss, 'A' ampere, 'B' byte, 'K' kelvin, 'C'
# coulomb ...) name codes as often ('5G', '2B', '1A', '4K'), and 'a' (a year) and 'u' (an atomic mass) are a flat's
# or a form's letter ('12a') far more often than a unit
_LETTER_QUANTITIES = frozenset({"time", "length", "mass", "volume", "electrical potential", "power/radiant flux"})
_LETTER_CODES = frozenset({"a", "u"})


@cache
def _letter_unit(word: str) -> bool:
    """Whether a one-letter ``word`` glued to whole numbers is a unit (an amount: '5s', '10s') rather than a code's
    letter ('5G'): a letter astropy reads as a unit of one of :data:`_LETTER_QUANTITIES`."""
    if len(word) != 1 or word in _LETTER_CODES:
        return False
    import astropy.units as u

    try:
        unit = u.Unit(word, parse_strict="raise")
    except ValueError:  # astropy's refusal of a string that is no unit
        return False
    return str(unit.physical_type) in _LETTER_QUANTITIES


def codes_of(column) -> Optional[list[str]]:
    """The distinct values, in order of appearance, of a text column of codes of a number and letters ('3G', '4G',
    '5G'; '2B', '4WD', '1BR'), not amounts in a unit; None for any other column. Codes are told by three things:
    every value is a whole number with a word glued to it (no space, sign, decimals or grouping: '5 G', '2.5G', '-4G'
    are amounts), no word is a unit of more than one letter ('12kg', '8GB', '15kWh' are amounts; a letter alone, 'G',
    'A', 'B', names a unit and a code alike) nor a letter of a duration, length, mass, volume, voltage or power
    (:func:`_letter_unit`: '5s', '10s', '2h', '500g', '12V' are amounts), and the column holds no more distinct values than a category may have
    (trainlab.data.categories.MAX_CATEGORIES: '1s' to '300s' are amounts)."""
    from trainlab.data.categories import MAX_CATEGORIES

    text = column.dropna().astype(str).str.strip()
    distinct = list(text.unique()[:MAX_CATEGORIES + 1])
    if not distinct or len(distinct) > MAX_CATEGORIES:
        return None
    for value in distinct:
        split = _split(value)
        if split is None or not split[0].isdigit() or value != split[0] + split[1]:
            return None
        if not _CODE_WORD.fullmatch(split[1]) or (len(split[1]) > 1 and _known_unit(split[1])) \
                or _letter_unit(split[1]):
            return None
    return distinct


def numbers_with_unit(column, as_numbers: Callable[[Any], Any], codes: bool = True) -> Optional[tuple[Any, str, str]]:
    """(the column's numbers, its unit, its first value as written) for a text column whose every value is a number
    with one and the same unit, read by ``as_numbers`` (the file's own reading of numbers: its decimal mark,
    thousands separators); None for any other column. ``codes``: codes ('4G', '5G') are none (a category); False
    for a column a saved run read as numbers, as runs trained before the codes rule read '4G' (4, unit 'G')."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return None
    units = units_of(column)
    if units is None or len(units) != 1 or (codes and codes_of(column) is not None):  # '4G', '5G': a category
        return None
    text = column.astype(str).str.strip()
    # an empty cell stays empty (NaN in pandas' text columns): it was handed to the pattern and raised TypeError
    numbers = as_numbers(text.map(lambda value: (_split(value) or ("",))[0], na_action="ignore").where(column.notna()))
    if numbers is None or (numbers.isna() & column.notna()).any():
        return None
    return numbers, units[0], str(text[column.first_valid_index()])
