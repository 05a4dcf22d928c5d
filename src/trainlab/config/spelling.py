"""Values written as a command line reads them back: Hydra's override grammar, then the shell's quoting.

Every line this project prints for a user to paste (a resume, a sweep's best trial, a fix in a refusal)
and every override the sweeper hands a trial goes through :func:`grammar_value`, so that a value reads
back as the same value (a run folder under ``/home/José``, a column named ``Demand (MW)``). A message
names a value's type in the words of :data:`KIND_WORDS`.
"""

from __future__ import annotations

import re
import typing
from typing import Any

# what a message calls a value of each type: one value ("is not a whole number"), several (a list's items)
KIND_WORDS = {int: ("a whole number", "whole numbers"), float: ("a number", "numbers"),
              bool: ("true or false", "true or false values"), str: ("text", "text"), list: ("a list [..]", "lists"),
              dict: ("a mapping {key:value}", "mappings")}


def grammar_value(value: Any) -> str:
    """``value`` in Hydra's override grammar, so that Hydra reads back the same value: Hydra's own spelling
    (``Transformer.str``), except for text its unquoted spelling does not carry (letters outside ASCII,
    ``?``, ``#``, quotes: a sweep folder under ``/home/José`` failed every trial), which is quoted."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Transformer
    from hydra.errors import HydraException

    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{grammar_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(grammar_value(item) for item in value) + "]"
    plain = Transformer.str(value)
    if not isinstance(value, str):
        return plain
    try:
        if OverridesParser.create().parse_override(f"k={plain}").value() == value:
            return plain
    except HydraException:
        pass  # quoted below
    return single_quoted(value)


def single_quoted(text: str) -> str:
    """``text`` in single quotes as Hydra's grammar reads them: inside, only a quote, and backslashes before a
    quote or at the end, are escaped (``/d/q'uote.csv`` -> ``'/d/q\\'uote.csv'``)."""
    return "'" + re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, text).replace("'", "\\'") + "'"


def shell_word(text: str) -> str:
    """``text`` as one word of a POSIX shell, as a refusal shows a fix to paste: in double quotes where the shell
    reads nothing inside them (``"key='a b'"``, Hydra's quotes kept readable), else as :func:`shlex.quote` writes
    it. In double quotes a ``"``, ``$``, a backquote and ``!`` (bash's history) are read, and a backslash before
    them or at the end: a path holding one ("key='/d/dq"x.csv'") was cut there by the shell."""
    import shlex

    if re.search(r'["$`!]|\\([\\"$`]|$)', text) is None:
        return f'"{text}"'
    return shlex.quote(text)


def shell_path(path: Any) -> str:
    """``path`` as one word of a POSIX shell, in a command a message advises (``chmod u+r '<path>'``): as
    :func:`shlex.quote` writes it, in single quotes even where it needs none (the form the advice shows alike for
    every path); a quote in it (``/d/Ann's runs``) closes and reopens them (``'/d/Ann'"'"'s runs'``), where a path
    pasted inside plain quotes broke the command."""
    import shlex

    text = str(path)
    word = shlex.quote(text)
    return word if word != text else f"'{text}'"


def command_line(script: str, overrides: typing.Sequence[str], **settings: Any) -> str:
    """``python <script> <overrides> <key>=<value> ...`` to paste into a shell: each value in Hydra's grammar
    (a run folder under ``/home/José``), each word quoted where the shell needs it (a space in a path)."""
    import shlex

    return " ".join([shlex.join(["python", script, *overrides]),
                     *(typed_setting(key, value) for key, value in settings.items())])


def typed_setting(key: str, value: Any) -> str:
    """``key=value`` as a user types it on a command line (a ``ckpt_path=<run>`` a message advises): the value
    in Hydra's grammar, the word quoted for the shell where it needs it."""
    import shlex

    return shlex.quote(f"{key}={grammar_value(str(value))}")


def quoted_text(text: str) -> str:
    """``text`` as one text value in Hydra's grammar: as it is where Hydra reads it back so, else in single
    quotes (``'Demand (MW)'``, where Hydra's own escaped spelling is ``Demand\\ \\(MW\\)``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        if OverridesParser.create().parse_override(f"k={text}").value() == text:
            return text
    except HydraException:
        pass  # quoted below
    return single_quoted(text)
