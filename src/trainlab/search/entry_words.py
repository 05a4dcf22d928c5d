"""The words of a ``search_space`` entry (its ``type`` and its keys), checked with a did-you-mean.

An entry is ``{type: float | int | categorical, low, high, step, log, choices}`` (upstream's format). A misspelt
type (``flaot``, ``categorial``) was told only the three types; a type in another library's words (``integer``,
Hydra's ``interval``, Optuna 2's ``loguniform``) was not told which of them it is; a misspelt key (``hgih``,
``choice``) was listed beside the keys with no hint; and a misspelt ``type`` key (``typ``) was reported as
``type=None``. The checks here run when the space is read, before the sweep folder is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trainlab.config.errors import UserError, nearest

# the keys of one entry, by its type
ENTRY_KEYS = {"float": ("type", "low", "high", "step", "log"), "int": ("type", "low", "high", "step", "log"),
              "categorical": ("type", "choices")}

# types written in another library's words, and what they are here
_OTHER_WORDS = {"integer": "int", "interval": "float", "range": "int", "choice": "categorical",
                "uniform": "float", "real": "float", "double": "float", "number": "float",
                "loguniform": "float with log: true", "log_uniform": "float with log: true",
                "discrete_uniform": "float with a step", "int_uniform": "int", "str": "categorical",
                "string": "categorical", "bool": "categorical", "enum": "categorical", "list": "categorical"}


def closest(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` most likely misspells: one with the same letters in another order first (``stpe`` is
    ``step``, where spelling alone finds ``type``), else the nearest spelling. The options of an entry are few and
    short, so a looser cutoff than :func:`nearest`'s default still finds ``hgih`` or ``integer`` without guessing."""
    options = list(options)
    same_letters = [o for o in options if sorted(o.casefold()) == sorted(word.casefold())]
    if same_letters:
        return same_letters[0]
    close = nearest(word, options, cutoff=0.5)
    return close[0] if close else None


def entry_type(where: str, spec: Mapping[str, Any]) -> str:
    """The entry's type, its keys checked against those the type takes; a refusal names the entry, the word and
    the nearest right word."""
    kinds = "float, int or categorical"
    if "type" not in spec:
        all_keys = {key for keys in ENTRY_KEYS.values() for key in keys}
        misspelt = [k for k in spec if k not in all_keys and closest(str(k), ["type"])]
        hint = f" ({misspelt[0]} is no key; did you mean type?)" if misspelt else ""
        raise UserError(f"{where}: the entry has no type{hint}; give type: {kinds}")
    kind = spec.get("type")
    if kind not in ENTRY_KEYS:
        word = str(kind)
        meant = _OTHER_WORDS.get(word.casefold()) or closest(word, ENTRY_KEYS)
        hint = f"did you mean {meant}? " if meant else ""
        raise UserError(f"{where}.type={kind!r} is not a type of a search_space entry; {hint}It takes {kinds}")
    unknown = [k for k in spec if k not in ENTRY_KEYS[kind]]
    if unknown:  # read by nothing: lg: true searched a linear scale, q (upstream's old step) no step
        word = str(unknown[0])
        meant = None if word == "q" else closest(word, ENTRY_KEYS[kind])
        hint = ("; give step instead of q (Optuna 3 dropped q)" if word == "q"
                else f"; did you mean {meant}?" if meant else "")
        more = f" (and {', '.join(map(str, unknown[1:]))})" if unknown[1:] else ""
        raise UserError(f"{where}: {word}{more} is not a key of {'an' if kind == 'int' else 'a'} {kind} entry, which "
                        f"takes {', '.join(ENTRY_KEYS[kind])}{hint}")
    return kind
