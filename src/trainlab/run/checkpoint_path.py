"""What a user typed as ``ckpt_path``: found and read.

A .ckpt file is taken as given; a run directory (or its checkpoints/ folder) gives the checkpoint
:meth:`trainlab.run.folder.RunFolder.checkpoint` picks; a relative path missing from the working folder
is looked for in the repository and in ``paths.log_dir``, so the refusal can name where it is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from trainlab.config.errors import UserError, unreadable, why_missing
from trainlab.config.spelling import typed_setting
from trainlab.run.folder import CHECKPOINTS, LAST, ON_EXCEPTION, RunFolder
from trainlab.run.root import repo_root


# ckpt_path values Lightning resolves within the run in progress; a train.py run's new folder has none
_LIGHTNING_NAMES = ("last", "best", "hpc", "registry")


def _in_the_repository(path: Path) -> Optional[Path]:
    """A relative ``path`` missing from the working folder that the repository holds (``outputs/...`` typed
    in another folder: runs go to the repository's outputs/ wherever train.py was started); else None."""
    if path.is_absolute():
        return None
    try:
        found = repo_root() / path
    except UserError:
        return None
    return found if found.exists() else None


def _in_the_log_dir(path: Path, log_dir: Optional[str]) -> Optional[Path]:
    """``outputs/train/runs/<run>`` typed where ``paths.log_dir`` puts the runs elsewhere: that folder's run, when it
    holds it; else None (it was told only that the path does not exist, and to give a run 'under outputs/')."""
    if log_dir is None or path.is_absolute() or not path.parts or path.parts[0] != "outputs":
        return None
    found = Path(log_dir).expanduser().joinpath(*path.parts[1:])
    return found if found.exists() else None


def resolve_checkpoint(path: str, prefer: str = "best", log_dir: Optional[str] = None) -> Path:
    """What the user typed as ``ckpt_path``: a .ckpt file as given, or a run directory's checkpoint
    (see :meth:`RunFolder.checkpoint`). ``log_dir``: ``paths.log_dir``, where a missing path is looked for too."""
    p = Path(path).expanduser()
    if p.is_dir() and p.name == CHECKPOINTS and not (p / CHECKPOINTS).is_dir():
        p = p.parent  # a run's checkpoints/ folder: the run
    if p.is_dir():
        return RunFolder(p).checkpoint(prefer, given=path)
    if not p.is_file() and str(path) in _LIGHTNING_NAMES:
        # resuming takes a run's last.ckpt, evaluate.py its best checkpoint (RunFolder.checkpoint)
        what, means = ("to go on from", f"its {LAST}") if prefer == "last" else ("to evaluate", "its best checkpoint")
        raise UserError(f"ckpt_path={path} is Lightning's name for a checkpoint of the run in progress, but every "
                        f"train.py run starts in a new folder; give the run {what}: ckpt_path=<run directory> "
                        f"(outputs/train/runs/<run>: {means}) or a .ckpt file")
    if not p.is_file():
        held = [("the repository has it", _in_the_repository(p)), ("paths.log_dir has it", _in_the_log_dir(p, log_dir))]
        owner, elsewhere = next(((owner, found) for owner, found in held if found is not None), (None, None))
        where = (f" in the working folder {Path.cwd()} (relative paths are read from there); {owner}: "
                 f"{typed_setting('ckpt_path', elsewhere)}" if elsewhere else why_missing(p, "ckpt_path"))
        runs = f"{Path(log_dir).expanduser()}/train/runs/" if log_dir is not None else "outputs/"
        raise UserError(f"ckpt_path: '{path}' does not exist{where}; give a .ckpt file or a run directory under "
                        f"{runs}")
    return p


def note_snapshot(path: Path, saved: dict) -> None:
    """One warning when the checkpoint evaluated is an on_exception.ckpt: weights from mid-epoch."""
    if path.name == ON_EXCEPTION:
        logging.getLogger(__name__).warning(
            "'%s' holds the weights of the moment training stopped (epoch %s, step %s), mid-epoch: evaluated as "
            "they are; the run's epoch checkpoints, where it has any, are what ckpt_path=<run> evaluates",
            path, saved.get("epoch", "?"), saved.get("global_step", "?"))


def _saved_by_torch(path: Path) -> bool:
    """Whether the file begins as torch.save writes: a zip archive (``PK``), or the pickle of its legacy format; an
    empty file (a save cut short at its start) counts as one."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return True  # the load's own error says what went wrong
    return not head or head.startswith(b"PK") or head[:1] == b"\x80"


def load_checkpoint(path: Path) -> dict:
    """torch.load with weights_only=True; a truncated or foreign file gets a clear message."""
    import pickle

    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    # bytes that are no checkpoint raise whatever the unpickler meets first (KeyError, ValueError ...)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, LookupError, ValueError, TypeError,
            AttributeError) as exc:
        # torch's own advice there (weights_only=False) would run any code the file holds: not repeated
        said = str(exc).split(" In PyTorch 2.6", 1)[0].strip().splitlines()  # EOFError on an empty file says nothing
        denied = unreadable(exc, path, "ckpt_path")
        if denied is not None:  # no damaged file: its permissions
            raise denied from None
        if not _saved_by_torch(path):  # a run's train.log, a config, an image: no checkpoint cut short
            raise UserError(f"ckpt_path: '{path}' is no checkpoint (torch saves a zip archive; this file is not one): "
                            "give the run folder (ckpt_path=<run dir>) or one of its checkpoints/*.ckpt") from None
        why = f"{type(exc).__name__}: {said[0][:200]}" if said else f"{type(exc).__name__}, {Path(path).stat().st_size} bytes"
        raise UserError(f"ckpt_path: '{path}' is not a readable checkpoint ({why}); was it cut short? pick "
                        "another .ckpt") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"ckpt_path: '{path}' holds no Lightning checkpoint (no state_dict)")
    return ckpt
