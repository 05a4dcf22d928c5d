"""``python train.py --help``: Hydra's help, without the groups that are not a user's choice.

Hydra lists every config group under ``$APP_CONFIG_GROUPS``, including ``hparams_search/space``,
which ``hparams_search=optuna`` picks by the model's name (choosing it by hand does nothing useful).
The header and footer are ours (conf/hydra/default.yaml ``help``).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable

# groups composed by other configs, never chosen on the command line
INTERNAL_GROUPS = ("hparams_search/space",)


def help_requested(argv: list[str]) -> bool:
    return "--help" in argv or "-h" in argv


def print_help(main: Callable[[], object]) -> None:
    """Run Hydra's ``--help`` and print it without the lines of :data:`INTERNAL_GROUPS`."""
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text):
            main()  # Hydra ends --help with sys.exit(0)
    finally:
        internal = tuple(f"{group}:" for group in INTERNAL_GROUPS)
        sys.stdout.write("".join(line for line in text.getvalue().splitlines(keepends=True)
                                 if not line.startswith(internal)))
