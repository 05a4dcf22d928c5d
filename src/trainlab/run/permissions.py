"""What lets this process's user read or write a file or folder it may not, said by who owns it: the one place
every refusal of a denied file takes its advice from, so that all of them name the user and say it alike.

``chmod u+r`` mends a file only for its owner: run by another user it changed nothing for the one refused. The
owner widens the group's bits when this user is in the file's group, else the others' bits (or hands over a
copy); a user who owns it types the chmod themselves."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path
from typing import Optional, Union

# what a user does to a file or a folder, and the mode bits that allow it: a folder is listed and entered with x
_BITS = {"read": ("r", "rx"), "write": ("w", "wx"), "use": ("rw", "rwx")}
_SAID = {"read": ("read it", "list it"), "write": ("write it", "write in it"), "use": ("use it", "use it")}


def owner_name(uid: int) -> str:
    """The login name of ``uid``, or ``uid <n>`` where the passwd database has none (a container's user)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    """The name of group ``gid``, or ``gid <n>`` where the group database has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def _denied_on_the_way(path: Path) -> Optional[Path]:
    """The first folder above ``path`` that this user may not enter (no x bit for them), or None."""
    for folder in reversed(path.absolute().parents):
        if folder.is_dir() and not os.access(folder, os.X_OK):
            return folder
    return None


def plain_advice(need: str = "read", where: str = "it") -> str:
    """The advice where the file is not known (an error that names none) or cannot be looked at."""
    from trainlab.run.console import user_name

    return f"let user '{user_name()}' {need} {where} (its owner can chmod or chown it)"


def let_user(path: Union[str, os.PathLike], need: str = "read") -> str:
    """What lets this process's user ``need`` ("read", "write" or "use": both) ``path``, by whom, in words to
    follow a refusal's semicolon: ``let user 'ann', its owner, read it: chmod u+r '<path>'`` where the user owns
    it; ``ask its owner 'bob' to let group 'lab' (user 'ann' is in it) read it: chmod g+r '<path>'`` where the
    user is in its group; else ``ask its owner 'bob' to let every user read it (chmod o+r '<path>') or to give
    user 'ann' a copy, or run as a user who may read it``. A folder on the way that this user may not enter is
    the one named (its x bit); a path that does not exist yet, the nearest folder above it that does (where it
    would be made)."""
    from trainlab.config.spelling import shell_path
    from trainlab.run.console import user_name  # console imports Hydra: not at import time of a refusal's module

    user, target, enter = user_name(), Path(path), False
    try:
        try:
            info = target.stat()
        except FileNotFoundError:  # to be made: the folder it would be made in is written
            target = next((p for p in target.absolute().parents if p.exists()), target)
            need, info = ("read" if need == "read" else "write"), target.stat()
        except PermissionError:  # a folder on the way that this user may not enter (its x bit)
            target, enter = _denied_on_the_way(target) or target, True
            info = target.stat()
    except OSError:  # not even its owner to be found: the plain advice
        return plain_advice(need)
    folder = stat.S_ISDIR(info.st_mode)
    bits, said = ("x", "enter it") if enter else (_BITS[need][folder], _SAID[need][folder])
    if info.st_uid == os.geteuid():
        return f"let user '{user}', its owner, {said}: chmod u+{bits} {shell_path(target)}"
    owner = owner_name(info.st_uid)
    if info.st_gid == os.getegid() or info.st_gid in os.getgroups():
        return (f"ask its owner '{owner}' to let group '{group_name(info.st_gid)}' (user '{user}' is in it) {said}: "
                f"chmod g+{bits} {shell_path(target)}")
    copy = f" or to give user '{user}' a copy" if need == "read" and not enter and not folder else ""
    return (f"ask its owner '{owner}' to let every user {said} (chmod o+{bits} {shell_path(target)}){copy}, or run "
            f"as a user who may {said}")
