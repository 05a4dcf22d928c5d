"""The one way to find the repository: the checkout that holds conf/ and train.py, which Hydra composes
from and under which experiments/ and outputs/ lie (``repo_root``), and the claim train.py and
evaluate.py make on it for their process and its children (``claim_root``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)


ROOT_MARKS = ("conf/train.yaml", "train.py")  # what makes a folder the checkout


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` holds trainlab's conf/ and train.py."""
    return all((folder / mark).is_file() for mark in ROOT_MARKS)


def repo_root() -> Path:
    """The checkout that holds conf/ and train.py.

    ``TRAINLAB_ROOT`` when set (train.py and evaluate.py set it to their own folder, and child
    processes of a sweep inherit it), else the checkout this package was installed from (editable, or
    ``src`` on ``PYTHONPATH``), else the working folder when it is a checkout (``python -m
    trainlab.search.refine`` of a package installed without its checkout, run there). A folder that
    is none of these is refused in one line naming it: no file is looked for in the wrong place.
    """
    given = os.environ.get("TRAINLAB_ROOT")
    if given:
        root = Path(given).expanduser()
        if not is_checkout(root):
            raise UserError(f"TRAINLAB_ROOT={given} holds no trainlab checkout ({' and '.join(ROOT_MARKS)}); set it to "
                            "the folder of train.py, or unset it (export -n TRAINLAB_ROOT)")
        return root
    installed = Path(__file__).resolve().parents[3]
    for root in (installed, Path.cwd()):
        if is_checkout(root):
            return root
    marks = " and ".join(ROOT_MARKS)
    raise UserError(f"trainlab is installed in {Path(__file__).resolve().parents[1]} without its checkout ({marks}), "
                    f"and the working folder {Path.cwd()} is none either; run this in the checkout, or set "
                    "TRAINLAB_ROOT=<the folder of train.py>")


def claim_root(script: str) -> Path:
    """Make the folder of ``script`` (train.py, evaluate.py) the repository for this process and its
    children: Hydra composes that folder's conf/, so an inherited ``TRAINLAB_ROOT`` naming another
    folder (a stale export, another checkout) would mix two checkouts' experiments and outputs.
    Such a value is replaced with a warning, and so is said a trainlab package imported from elsewhere than
    the folder's src/ (another clone's code with this one's configs). Returns the folder: its conf/ is the script's config path,
    found through links (a train.py linked into ~/bin made Hydra look for ~/bin/conf)."""
    own = Path(script).resolve().parent
    inherited = os.environ.get("TRAINLAB_ROOT")
    if inherited and Path(inherited).expanduser().resolve() != own:
        log.warning("TRAINLAB_ROOT=%s is not the folder of %s; using %s (its conf/, experiments/ and outputs/; "
                    "paths.log_dir=<folder> puts runs elsewhere)", inherited, Path(script).name, own)
    os.environ["TRAINLAB_ROOT"] = str(own)
    code, own_code = Path(__file__).resolve().parents[1], own / "src" / "trainlab"
    if own_code.is_dir() and code != own_code.resolve():  # a venv installed from another clone, PYTHONPATH to it
        log.warning("trainlab is imported from %s, not from %s beside this %s, whose configs it runs with; put %s "
                    "on PYTHONPATH, or pip install -e %s", code, own_code, Path(script).name, own / "src", own)
    return own
