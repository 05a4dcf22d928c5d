"""``python train.py --help`` (and evaluate.py's, predict.py's): Hydra's help, listing only the groups the
script lets a user choose.

Hydra lists every config group of the search path under ``$APP_CONFIG_GROUPS``: ``hparams_search/space``,
which ``hparams_search=optuna`` picks by the model's name (choosing it by hand does nothing useful), and, in
evaluate.py's and predict.py's help, ``model``, ``data``, ``experiment`` ... which those scripts refuse (their
model and data come from the run: ``model=cnn: evaluate.py chooses no model``). A group is listed when the
script's root config (``conf/<config_name>.yaml``) names it in its defaults list, the list Hydra matches a
``group=option`` against. The header and footer are ours (conf/hydra/default.yaml ``help``).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Callable
from typing import Optional

# groups composed by other configs, never chosen on the command line
INTERNAL_GROUPS = ("hparams_search/space",)
# where Hydra's help lists the groups, and where the composed config that follows them begins
GROUPS_HEADING = "== Configuration groups =="
CONFIG_HEADING = "== Config =="


def help_requested(argv: list[str]) -> bool:
    return "--help" in argv or "-h" in argv


def chosen_groups(config_name: Optional[str]) -> Optional[set[str]]:
    """The groups the root config ``conf/<config_name>.yaml`` names in its defaults list (``trainer``,
    ``hardware``, ``paths`` for ``eval``), or None where that file is not the repository's (``--config-name``
    of a user's own root config): then every group is listed."""
    from omegaconf import OmegaConf

    from trainlab.run.root import repo_root

    path = repo_root() / "conf" / f"{config_name}.yaml"
    if config_name is None or not path.is_file():
        return None
    groups = set()
    for entry in OmegaConf.to_container(OmegaConf.load(path)).get("defaults", []):
        if isinstance(entry, dict):
            groups.update(str(key).removeprefix("override ") for key in entry)
    return groups


def listed_groups_only(text: str, chosen: Optional[set[str]]) -> str:
    """Hydra's help ``text`` without the group lines of :data:`INTERNAL_GROUPS` and, when ``chosen`` is given,
    of the groups not in it; only the lines between the groups' heading and the config's are looked at (the
    config's top-level keys read ``trainer:`` too)."""
    kept, in_groups = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(GROUPS_HEADING):
            in_groups = True
        elif line.startswith(CONFIG_HEADING):
            in_groups = False
        group = re.match(r"([\w/]+): ", line) if in_groups else None
        if group and (group.group(1) in INTERNAL_GROUPS or chosen is not None and group.group(1) not in chosen):
            continue
        kept.append(line)
    return "".join(kept)


def print_help(main: Callable[[], object], config_name: Optional[str] = None) -> None:
    """Run Hydra's ``--help`` and print it listing only the groups the script takes (:func:`chosen_groups`)."""
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text):
            main()  # Hydra ends --help with sys.exit(0)
    finally:
        sys.stdout.write(listed_groups_only(text.getvalue(), chosen_groups(config_name)))
